"""The batch pages: bulk edit from the list, its preview (which sends nothing), confirm, a
batch's progress and undo, the batches, import and export, and the revert of one edit; across
the sandbox on loopback."""

from __future__ import annotations

import csv
import io
import json

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from contacts import services
from contacts.models import Contact, ContactEdit, CustomAttributeDefinition, EditBatch
from contacts.tests.factories import (
    api_requests,
    batch_delivered,
    client_for,
    contact_synced,
    contacts_synced,
    edit_submit,
    page_text,
    patch_bodies,
    user_make,
)

pytestmark = pytest.mark.django_db

CITY = "additional_attributes.city"
COMPANY = "additional_attributes.company_name"
COUNTRY_CODE = "additional_attributes.country_code"
BULK_EDIT_URL = reverse("contacts:bulk_edit")


def operations_data(*operations: tuple[str, str, str], rows: int = 4) -> dict[str, str]:
    """The bulk edit form as a browser posts it: (key, action, value) per filled row."""
    data = {
        "operation-TOTAL_FORMS": str(rows),
        "operation-INITIAL_FORMS": "0",
        "operation-MIN_NUM_FORMS": "0",
        "operation-MAX_NUM_FORMS": str(rows),
    }
    for index in range(rows):
        key, action, value = operations[index] if index < len(operations) else ("", "set", "")
        data |= {
            f"operation-{index}-key": key,
            f"operation-{index}-action": action,
            f"operation-{index}-value": value,
        }
    return data


def bulk_post(client, selection: dict, *operations: tuple[str, str, str], **kwargs):
    return client.post(BULK_EDIT_URL, {**selection, **operations_data(*operations)}, **kwargs)


def ticked(*contacts: Contact) -> dict[str, list[str]]:
    return {"contact": [str(contact.remote_id) for contact in contacts]}


def draft_of(response) -> EditBatch:
    assert response.status_code == 302, page_text(response)[:2000]
    batch = EditBatch.objects.get()
    assert response.url == reverse("contacts:batch_preview", args=[batch.pk])
    return batch


def list_rows(response) -> list[str]:
    return [contact.name for contact in response.context["page"].object_list]


# --- Who sees and reaches what -------------------------------------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        BULK_EDIT_URL,
        reverse("contacts:import"),
        reverse("contacts:batches"),
        reverse("contacts:batch", args=[1]),
        reverse("contacts:batch_progress", args=[1]),
        reverse("contacts:batch_preview", args=[1]),
        reverse("contacts:export"),
    ],
)
def test_anonymous_visitor_is_sent_to_the_login_page(client, url):
    response = client.get(url)

    assert response.status_code == 302
    assert response.url.startswith(reverse("login"))


@pytest.fixture
def draft(lead):
    return EditBatch.objects.create(
        kind=EditBatch.Kind.BULK_EDIT,
        created_by=lead,
        created_by_username="lead",
        operations=[{"key": CITY, "action": "set", "value": "Nara"}],
        selection={"filters": {}, "remote_ids": [1]},
    )


@pytest.mark.parametrize(
    ("method", "name", "batch_arg"),
    [
        ("get", "contacts:bulk_edit", False),
        ("post", "contacts:bulk_edit", False),
        ("get", "contacts:import", False),
        ("post", "contacts:import", False),
        ("get", "contacts:batch_preview", True),
        ("post", "contacts:batch_confirm", True),
        ("post", "contacts:batch_undo", True),
    ],
)
def test_agent_without_the_bulk_permission_is_refused(agent_client, draft, method, name, batch_arg):
    url = reverse(name, args=[draft.pk] if batch_arg else [])

    response = getattr(agent_client, method)(f"{url}?all=1")

    assert response.status_code == 403
    draft.refresh_from_db()
    assert draft.state == EditBatch.State.DRAFT
    assert not ContactEdit.objects.exists()


def test_agent_without_the_bulk_permission_sees_no_bulk_controls_but_can_export(agent_client):
    Contact.objects.create(remote_id=1, name="Ann")

    page = page_text(agent_client.get(reverse("contacts:list")))

    assert 'name="contact"' not in page
    assert 'id="bulk-selection"' not in page
    assert "Bulk edit" not in page
    assert reverse("contacts:import") not in page
    assert reverse("contacts:export") in page


def test_lead_sees_ticks_select_all_matching_bulk_edit_and_import(lead_client):
    Contact.objects.create(remote_id=1, name="Ann")
    Contact.objects.create(remote_id=2, name="Bob")

    page = page_text(lead_client.get(reverse("contacts:list"), {"q": "Ann"}))

    assert page.count('name="contact"') == 1
    assert 'value="1" form="bulk-selection" aria-label="Select Ann"' in page
    assert 'id="select-all-matching"' in page
    assert "Select all matching contacts (1)" in page
    assert '<input type="hidden" name="q" value="Ann">' in page
    assert f'action="{BULK_EDIT_URL}"' in page
    assert reverse("contacts:import") in page


# --- Bulk edit, its preview and confirm ----------------------------------------------------------


def test_bulk_edit_page_names_the_selection_and_offers_every_editable_field(lead_client):
    ann = Contact.objects.create(remote_id=1, name="Ann")
    bob = Contact.objects.create(remote_id=2, name="Bob")

    response = lead_client.get(BULK_EDIT_URL, ticked(ann, bob))

    page = page_text(response)
    assert response.status_code == 200
    assert "2 contacts ticked on the list." in page
    assert f'<option value="{COMPANY}">Company name</option>' in page
    assert '<option value="social_profiles.github">GitHub</option>' in page
    assert 'value="availability_status"' not in page  # set by LiveDesk alone
    assert '<input type="hidden" name="contact" value="1">' in page


def test_bulk_edit_without_a_selection_goes_back_to_the_list(lead_client):
    response = lead_client.get(BULK_EDIT_URL, follow=True)

    assert response.redirect_chain[-1][0] == reverse("contacts:list")
    assert "Tick the contacts to change" in page_text(response)


def test_preview_sends_nothing_and_records_no_edit(sandbox, lead_client):
    contacts = contacts_synced(sandbox, 3, additional_attributes={"city": "Bangkok"})
    sandbox.clear_recorded()

    batch = draft_of(bulk_post(lead_client, ticked(*contacts), (CITY, "set", "Chiang Mai")))
    preview = lead_client.get(reverse("contacts:batch_preview", args=[batch.pk]))

    page = page_text(preview)
    assert preview.status_code == 200
    assert batch.state == EditBatch.State.DRAFT
    assert (batch.selected_count, batch.changed_count, batch.unchanged_count) == (3, 3, 0)
    assert 'id="count-changed" data-count="changed">3<' in page
    assert page.count('class="change-after">Chiang Mai<') == 3
    assert page.count('class="change-before">Bangkok<') == 3
    assert "Confirm: change 3 contacts" in page
    assert not ContactEdit.objects.exists()
    assert api_requests(sandbox) == []


def test_preview_counts_contacts_already_so(sandbox, lead_client):
    bangkok = contacts_synced(sandbox, 2, additional_attributes={"city": "Bangkok"})
    nara = contacts_synced(sandbox, 1, prefix="N", additional_attributes={"city": "Nara"})

    batch = draft_of(bulk_post(lead_client, ticked(*bangkok, *nara), (CITY, "set", "Nara")))
    page = page_text(lead_client.get(reverse("contacts:batch_preview", args=[batch.pk])))

    assert 'data-count="changed">2<' in page
    assert 'data-count="unchanged">1<' in page
    assert 'data-count="selected">3<' in page


def test_an_invalid_value_is_refused_with_the_edit_forms_message(sandbox, lead_client):
    contacts = contacts_synced(sandbox, 2)

    response = bulk_post(lead_client, ticked(*contacts), (COUNTRY_CODE, "set", "XX"))

    page = page_text(response)
    assert response.status_code == 200
    assert 'id="error-summary"' in page and "autofocus" in page
    assert "Enter a two-letter ISO 3166 country code" in page
    assert 'href="#id_operation-0-value"' in page
    assert 'id="id_operation-0-value_error"' in page
    assert 'aria-invalid="true"' in page
    assert not EditBatch.objects.exists()


def test_a_custom_attribute_is_set_as_its_definition_types_it(sandbox, lead_client):
    CustomAttributeDefinition.objects.create(
        key="plan", label="Plan", attribute_type="list", list_options=["basic", "pro"]
    )
    contacts = contacts_synced(sandbox, 2, custom_attributes={"plan": "basic"})

    opened = page_text(lead_client.get(BULK_EDIT_URL, ticked(*contacts)))
    refused = bulk_post(lead_client, ticked(*contacts), ("custom_attributes.plan", "set", "gold"))
    batch = draft_of(
        bulk_post(lead_client, ticked(*contacts), ("custom_attributes.plan", "set", "pro"))
    )

    assert '<option value="custom_attributes.plan">Plan</option>' in opened
    assert "one of: basic, pro" in opened
    assert "Select a valid choice" in page_text(refused)
    assert batch.operations == [{"key": "custom_attributes.plan", "action": "set", "value": "pro"}]
    assert batch.changed_count == 2


@pytest.mark.parametrize(
    ("operations", "message"),
    [
        ((), "Choose at least one field to change."),
        (((CITY, "set", "   "),), "Enter the value to set, or choose Clear."),
        ((("", "set", "Nara"),), "Choose the field this value is for."),
        (((CITY, "set", "Nara"), (CITY, "clear", "")), "This field has another operation"),
    ],
)
def test_an_incomplete_form_says_what_is_missing(lead_client, operations, message):
    ann = Contact.objects.create(remote_id=1, name="Ann")

    response = bulk_post(lead_client, ticked(ann), *operations)

    assert response.status_code == 200
    assert message in page_text(response)
    assert not EditBatch.objects.exists()


def test_bulk_set_over_all_matching_changes_exactly_those_contacts_on_every_page(
    sandbox, lead_client
):
    thai = contacts_synced(sandbox, 55, prefix="T", additional_attributes={"country": "Thailand"})
    others = contacts_synced(sandbox, 3, prefix="S", additional_attributes={"country": "Singapore"})
    listed = lead_client.get(reverse("contacts:list"), {"country": "Thailand"})
    assert len(list_rows(listed)) == 50  # the list shows one page of the 55
    assert "Select all matching contacts (55)" in page_text(listed)

    batch = draft_of(
        bulk_post(lead_client, {"country": "Thailand", "all": "1"}, (COMPANY, "set", "Acme"))
    )
    confirmed = lead_client.post(reverse("contacts:batch_confirm", args=[batch.pk]))
    batch.refresh_from_db()
    results = batch_delivered(batch)

    assert confirmed.url == batch.get_absolute_url()
    assert batch.state == EditBatch.State.CONFIRMED
    assert batch.selection["remote_ids"] is None
    assert batch.selection["filters"]["country"] == "Thailand"
    assert [result.outcome for result in results] == [services.Push.DELIVERED] * 55
    assert patch_bodies(sandbox) == [{"additional_attributes": {"company_name": "Acme"}}] * 55
    changed = {
        sandbox.store.get_contact(contact.remote_id)["additional_attributes"].get("company_name")
        for contact in thai
    }
    untouched = {
        sandbox.store.get_contact(contact.remote_id)["additional_attributes"].get("company_name")
        for contact in others
    }
    assert changed == {"Acme"}
    assert "Acme" not in untouched


def test_confirm_records_one_edit_per_changed_contact_once(sandbox, lead_client):
    contacts = contacts_synced(sandbox, 3)
    batch = draft_of(bulk_post(lead_client, ticked(*contacts), (COMPANY, "set", "Acme")))
    confirm_url = reverse("contacts:batch_confirm", args=[batch.pk])

    first = lead_client.post(confirm_url, follow=True)
    second = lead_client.post(confirm_url, follow=True)

    assert ContactEdit.objects.filter(batch=batch, source=ContactEdit.Source.BULK).count() == 3
    assert "Confirmed: 3 contacts will be changed." in page_text(first)
    assert "already confirmed" in page_text(second)
    assert ContactEdit.objects.count() == 3


def test_preview_of_nothing_to_change_offers_no_confirm(sandbox, lead_client):
    contacts = contacts_synced(sandbox, 2, additional_attributes={"city": "Nara"})

    batch = draft_of(bulk_post(lead_client, ticked(*contacts), (CITY, "set", "Nara")))
    page = page_text(lead_client.get(reverse("contacts:batch_preview", args=[batch.pk])))

    assert "Nothing would change" in page
    assert reverse("contacts:batch_confirm", args=[batch.pk]) not in page


def test_cancel_goes_back_to_the_list_with_its_filters(sandbox, lead_client):
    contacts_synced(sandbox, 2, additional_attributes={"country": "Thailand"})

    batch = draft_of(
        bulk_post(lead_client, {"country": "Thailand", "all": "1"}, (CITY, "set", "Nara"))
    )
    page = page_text(lead_client.get(reverse("contacts:batch_preview", args=[batch.pk])))

    assert f'href="{reverse("contacts:list")}?country=Thailand' in page


# --- Progress, the batches, undo -----------------------------------------------------------------


@pytest.fixture
def confirmed_batch(sandbox, lead, lead_client):
    contacts = contacts_synced(sandbox, 3, additional_attributes={"city": "Bangkok"})
    batch = draft_of(bulk_post(lead_client, ticked(*contacts), (CITY, "set", "Nara")))
    return services.batch_confirm(batch=batch, by=lead)


def progress_of(client, batch) -> dict:
    response = client.get(reverse("contacts:batch_progress", args=[batch.pk]))
    assert response.status_code == 200
    assert response["Cache-Control"] == "no-store"
    return json.loads(response.content)


def test_progress_counts_deliveries_as_they_happen(confirmed_batch, agent_client):
    before = progress_of(agent_client, confirmed_batch)
    services.edit_push(edit_id=confirmed_batch.edits.order_by("pk").first().pk)
    midway = progress_of(agent_client, confirmed_batch)
    batch_delivered(confirmed_batch)
    after = progress_of(agent_client, confirmed_batch)

    assert (before["delivered"], before["waiting"], before["finished"]) == (0, 3, False)
    assert (midway["delivered"], midway["waiting"], midway["done"]) == (1, 2, 1)
    assert (after["delivered"], after["waiting"], after["finished"]) == (3, 0, True)


def test_progress_page_shows_counts_who_and_what_and_polls_until_finished(
    confirmed_batch, lead_client
):
    page = page_text(lead_client.get(confirmed_batch.get_absolute_url()))

    assert f"Batch #{confirmed_batch.pk}: Bulk edit" in page
    assert "Confirmed by lead" in page
    assert 'data-count="waiting">3<' in page
    assert 'data-count="delivered">0<' in page
    assert 'data-finished="false"' in page
    assert reverse("contacts:batch_progress", args=[confirmed_batch.pk]) in page
    assert "batch_progress.js" in page
    assert "Reload for the latest counts" in page
    assert "City" in page and "Nara" in page
    assert "data-undo-form hidden" in page


def test_a_finished_batch_offers_its_undo(confirmed_batch, lead_client):
    batch_delivered(confirmed_batch)

    page = page_text(lead_client.get(confirmed_batch.get_absolute_url()))

    assert 'data-finished="true"' in page
    assert 'data-count="delivered">3<' in page
    assert "data-undo-form>" in page
    assert "Undo this batch" in page


def test_an_agent_follows_a_batch_without_its_undo(confirmed_batch, agent_client):
    batch_delivered(confirmed_batch)

    response = agent_client.get(confirmed_batch.get_absolute_url())

    assert response.status_code == 200
    assert "Undo this batch" not in page_text(response)


def test_a_draft_is_not_a_batch_for_an_agent(draft, agent_client, lead_client):
    assert agent_client.get(draft.get_absolute_url()).status_code == 404
    assert agent_client.get(reverse("contacts:batch_progress", args=[draft.pk])).status_code == 404
    assert lead_client.get(draft.get_absolute_url()).url == reverse(
        "contacts:batch_preview", args=[draft.pk]
    )


def test_batches_list_shows_confirmed_batches_only(confirmed_batch, draft, lead_client):
    response = lead_client.get(reverse("contacts:batches"))

    assert list(response.context["page"].object_list) == [confirmed_batch]
    assert confirmed_batch.get_absolute_url() in page_text(response)


def test_undo_restores_and_lists_a_key_changed_since(sandbox, confirmed_batch, lead_client):
    batch_delivered(confirmed_batch)
    changed_since = confirmed_batch.edits.order_by("pk").first().contact
    sandbox.store.update_contact(
        changed_since.remote_id, {"additional_attributes": {"city": "Osaka"}}
    )
    services.contacts_sync()
    sandbox.clear_recorded()

    response = lead_client.post(reverse("contacts:batch_undo", args=[confirmed_batch.pk]))
    undo = EditBatch.objects.get(undoes=confirmed_batch)
    preview = page_text(lead_client.get(response.url))
    lead_client.post(reverse("contacts:batch_confirm", args=[undo.pk]))
    undo.refresh_from_db()
    batch_delivered(undo)

    assert response.url == reverse("contacts:batch_preview", args=[undo.pk])
    assert (undo.kind, undo.changed_count, undo.conflict_count) == ("undo", 2, 1)
    assert "1 value changed since: left alone" in preview
    assert f"#{changed_since.remote_id}" in preview and "Osaka" in preview
    assert patch_bodies(sandbox) == [{"additional_attributes": {"city": "Bangkok"}}] * 2
    cities = [
        sandbox.store.get_contact(edit.contact.remote_id)["additional_attributes"]["city"]
        for edit in confirmed_batch.edits.order_by("pk")
    ]
    assert cities == ["Osaka", "Bangkok", "Bangkok"]
    assert "This batch undoes" in page_text(lead_client.get(undo.get_absolute_url()))


def test_undo_waits_while_the_batch_is_being_sent(confirmed_batch, lead_client):
    response = lead_client.post(
        reverse("contacts:batch_undo", args=[confirmed_batch.pk]), follow=True
    )

    assert "still being sent" in page_text(response)
    assert not EditBatch.objects.filter(undoes=confirmed_batch).exists()


# --- Import and export ---------------------------------------------------------------------------


def exported(client, **filters) -> list[dict[str, str]]:
    response = client.get(reverse("contacts:export"), filters)
    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    text = b"".join(response.streaming_content).decode()
    return list(csv.DictReader(io.StringIO(text)))


def csv_upload(rows: list[dict[str, str]], name: str = "contacts.csv") -> SimpleUploadedFile:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(rows[0]))
    writer.writeheader()
    writer.writerows(rows)
    return SimpleUploadedFile(name, out.getvalue().encode(), content_type="text/csv")


def test_export_has_the_lists_search_and_filters_in_the_columns_the_import_reads(
    sandbox, agent_client
):
    contacts_synced(sandbox, 2, prefix="T", additional_attributes={"country": "Thailand"})
    contacts_synced(sandbox, 1, prefix="S", additional_attributes={"country": "Singapore"})

    rows = exported(agent_client, country="Thailand")

    assert [row["name"] for row in rows] == ["T 000", "T 001"]
    assert {"remote_id", "name", "email", "company", "city", "country_code"} <= set(rows[0])


def test_a_csv_round_trip_with_one_bad_row_sends_exactly_the_changed_cells(sandbox, lead_client):
    contacts = contacts_synced(sandbox, 3, additional_attributes={"city": "Bangkok"})
    rows = exported(lead_client)
    rows[0]["city"] = "Chiang Mai"
    rows[1]["company"] = "Acme"
    rows[2]["country_code"] = "XX"
    sandbox.clear_recorded()

    preview = lead_client.post(reverse("contacts:import"), {"spreadsheet": csv_upload(rows)})

    page = page_text(preview)
    batch = EditBatch.objects.get()
    assert preview.status_code == 200
    assert batch.kind == EditBatch.Kind.IMPORT and batch.state == EditBatch.State.DRAFT
    assert "1 row has errors: nothing of it is sent" in page
    assert "Enter a two-letter ISO 3166 country code" in page
    assert 'class="change-after">Chiang Mai<' in page
    assert 'class="change-after">Acme<' in page
    assert "Confirm: change 2 contacts" in page
    assert api_requests(sandbox) == []

    lead_client.post(reverse("contacts:batch_confirm", args=[batch.pk]))
    batch.refresh_from_db()
    batch_delivered(batch)

    assert sorted(patch_bodies(sandbox), key=str) == [
        {"additional_attributes": {"city": "Chiang Mai"}},
        {"additional_attributes": {"company_name": "Acme"}},
    ]
    third = sandbox.store.get_contact(contacts[2].remote_id)
    assert third["additional_attributes"].get("country_code", "") == ""


def test_a_file_that_cannot_be_read_is_said_on_the_import_page(lead_client):
    upload = SimpleUploadedFile("contacts.csv", b"", content_type="text/csv")

    response = lead_client.post(reverse("contacts:import"), {"spreadsheet": upload})

    page = page_text(response)
    assert response.status_code == 200
    assert 'id="error-summary"' in page
    assert "Nothing was imported" in page
    assert not EditBatch.objects.exists()


# --- Revert one edit -----------------------------------------------------------------------------


def test_history_offers_revert_to_who_may_change(sandbox, agent, agent_client):
    contact = contact_synced(sandbox=sandbox, name="Ann")
    edit = edit_submit(contact=contact, editor=agent, changes={"name": "Ann Lee"})
    viewer = client_for(user_make(username="viewer", perms=("view_contact",)))
    revert_url = reverse("contacts:edit_revert", args=[edit.pk])

    assert revert_url in page_text(agent_client.get(reverse("contacts:history")))
    assert revert_url in page_text(agent_client.get(contact.get_absolute_url()))
    assert revert_url not in page_text(viewer.get(reverse("contacts:history")))
    assert viewer.post(revert_url).status_code == 403


def test_revert_from_the_history_restores_the_values_the_edit_replaced(
    sandbox, agent, agent_client
):
    contact = contact_synced(sandbox=sandbox, name="Ann", additional_attributes={"city": "Bangkok"})
    edit = edit_submit(contact=contact, editor=agent, changes={CITY: "Nara", "name": "Ann Lee"})
    history = reverse("contacts:history")

    response = agent_client.post(
        reverse("contacts:edit_revert", args=[edit.pk]), {"next": history}, follow=True
    )

    revert = ContactEdit.objects.get(reverts=edit)
    assert response.redirect_chain[-1][0] == history
    assert "Reverted" in page_text(response)
    assert revert.source == ContactEdit.Source.REVERT
    assert revert.state == ContactEdit.State.SUCCEEDED
    remote = sandbox.store.get_contact(contact.remote_id)
    assert (remote["name"], remote["additional_attributes"]["city"]) == ("Ann", "Bangkok")


def test_revert_leaves_a_field_changed_since_and_says_so(sandbox, agent, agent_client):
    contact = contact_synced(sandbox=sandbox, name="Ann", additional_attributes={"city": "Bangkok"})
    edit = edit_submit(contact=contact, editor=agent, changes={CITY: "Nara", "name": "Ann Lee"})
    contact.refresh_from_db()
    edit_submit(contact=contact, editor=agent, changes={"name": "Ann Smith"})

    response = agent_client.post(reverse("contacts:edit_revert", args=[edit.pk]), follow=True)

    page = page_text(response)
    assert "Left as they are, changed again since this edit: Name." in page
    remote = sandbox.store.get_contact(contact.remote_id)
    assert (remote["name"], remote["additional_attributes"]["city"]) == ("Ann Smith", "Bangkok")


def test_revert_of_an_edit_that_never_arrived_sends_nothing(sandbox, agent, agent_client):
    contact = contact_synced(sandbox=sandbox, name="Ann")
    sandbox.faults.methods = "PATCH"
    sandbox.faults.fail_next = 1
    sandbox.faults.failure_status = 422
    edit = edit_submit(contact=contact, editor=agent, changes={"name": "Ann Lee"})
    sandbox.reset_faults()
    sandbox.clear_recorded()

    response = agent_client.post(reverse("contacts:edit_revert", args=[edit.pk]), follow=True)

    assert "Only an edit that reached LiveDesk can be reverted" in page_text(response)
    assert api_requests(sandbox, "PATCH") == []


def test_revert_does_not_redirect_off_site(sandbox, agent, agent_client):
    contact = contact_synced(sandbox=sandbox, name="Ann")
    edit = edit_submit(contact=contact, editor=agent, changes={"name": "Ann Lee"})

    response = agent_client.post(
        reverse("contacts:edit_revert", args=[edit.pk]), {"next": "https://evil.example/"}
    )

    assert response.url == contact.get_absolute_url()
