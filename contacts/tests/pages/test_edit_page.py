"""The edit page over HTTP, against a real LiveDesk sandbox where an edit is pushed."""

from __future__ import annotations

import re

import pytest
from django.test import Client
from django.urls import reverse

from contacts import services
from contacts.models import Contact, ContactEdit
from contacts.tests.factories import (
    contact_synced,
    edit_form_data,
    edit_post,
    page_text,
    patch_bodies,
)

pytestmark = pytest.mark.django_db


# --- Editing ------------------------------------------------------------------------------------


def test_edit_page_shows_the_four_sections(sandbox, agent_client):
    contact = contact_synced(sandbox=sandbox, name="Ann")

    text = page_text(agent_client.get(reverse("contacts:edit", args=[contact.remote_id])))

    for heading in ("Core", "Additional attributes", "Social profiles", "Custom attributes"):
        assert f">{heading}</legend>" in text
    assert 'name="custom-TOTAL_FORMS" value="0"' in text  # rows are added on demand
    assert 'name="base_values"' in text


def test_saving_an_edit_pushes_a_patch_and_shows_it_in_the_history(sandbox, agent_client):
    contact = contact_synced(sandbox=sandbox, name="Ann", email="ann@example.com")

    response = edit_post(agent_client, contact, name="Ann Smith", city="Chiang Mai")

    assert patch_bodies(sandbox) == [
        {"name": "Ann Smith", "additional_attributes": {"city": "Chiang Mai"}}
    ]
    assert response.redirect_chain[-1][0] == contact.get_absolute_url()
    text = page_text(response)
    assert "Saved: LiveDesk accepted the changes to Ann Smith." in text
    assert "agent (Agent page) changed Name: Ann → Ann Smith; City: (empty) → Chiang Mai" in text
    assert "Delivered to LiveDesk: 200 in " in text
    edit = ContactEdit.objects.get()
    assert edit.state == ContactEdit.State.SUCCEEDED
    assert edit.source == ContactEdit.Source.AGENT
    assert edit.editor_username == "agent"
    contact.refresh_from_db()
    assert contact.name == "Ann Smith"


def test_saving_without_changes_sends_nothing(sandbox, agent_client):
    contact = contact_synced(sandbox=sandbox, name="Ann", custom_attributes={"seats": 3})

    response = edit_post(agent_client, contact)

    assert patch_bodies(sandbox) == []
    assert not ContactEdit.objects.exists()
    assert "No changes to save: nothing was sent to LiveDesk." in page_text(response)


def test_removing_a_custom_attribute_sends_null(sandbox, agent_client):
    contact = contact_synced(sandbox=sandbox, name="Ann", custom_attributes={"plan": "gold"})

    edit_post(agent_client, contact, **{"custom-0-remove": True})

    assert patch_bodies(sandbox) == [{"custom_attributes": {"plan": None}}]


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        ({"email": "ann@"}, "email", "Enter a valid email address."),
        ({"phone_number": "081 234"}, "phone_number", "or start with + and the country code"),
        ({"country_code": "XX"}, "country_code", "ISO 3166 country code"),
        ({"thumbnail": "javascript:alert(1)"}, "thumbnail", "http:// or https://"),
        (
            {"custom-0-key": "Bad Key", "custom-0-value": "x"},
            "custom-0-key",
            "lower-case letters",
        ),
    ],
)
def test_bad_input_is_explained_and_kept(sandbox, agent_client, changes, field, message):
    contact = contact_synced(sandbox=sandbox, name="Ann")

    response = edit_post(agent_client, contact, **changes)

    assert response.redirect_chain == []
    assert patch_bodies(sandbox) == []
    text = page_text(response)
    assert message in text
    kept = response.context["form"]
    if field.startswith("custom-"):
        assert kept.custom_rows.forms[0]["key"].value() == changes[field]
    else:
        assert kept[field].value() == changes[field]


def test_livedesk_rejection_is_shown_on_the_field_with_the_input_kept(sandbox, agent_client):
    sandbox.store.create_contact(name="Bob", email="bob@example.com")
    contact = contact_synced(sandbox=sandbox, name="Ann", email="ann@example.com")

    response = edit_post(agent_client, contact, email="bob@example.com", city="Phuket")

    assert response.redirect_chain == []
    form = response.context["form"]
    assert form.errors["email"] == ["LiveDesk: Email has already been taken"]
    assert form["email"].value() == "bob@example.com"
    assert form["city"].value() == "Phuket"
    assert "LiveDesk rejected the changes" in page_text(response)
    edit = ContactEdit.objects.get()
    assert (edit.state, edit.http_status) == (ContactEdit.State.FAILED, 422)


def test_transient_failure_keeps_the_edit_and_shows_it_on_the_contact(
    sandbox, agent_client, no_client_retries
):
    contact = contact_synced(sandbox=sandbox, name="Ann")
    sandbox.faults.methods = "PATCH"
    sandbox.faults.fail_next = 1
    sandbox.faults.failure_status = 503

    response = edit_post(agent_client, contact, name="Ann Smith")

    assert response.redirect_chain[-1][0] == contact.get_absolute_url()
    text = page_text(response)
    # One state, on the edit's card: what LiveDesk answered and when it is tried again.
    assert re.search(
        r"Not yet in LiveDesk: LiveDesk answered 503 at [^;<]+; next try in \d+ s", text
    )
    assert "It will be sent again automatically." not in text
    assert "Retry now" in text and "Edit and resend" in text and "Discard" in text
    edit = ContactEdit.objects.get()
    assert edit.state == ContactEdit.State.FAILED
    assert edit.failure_kind == ContactEdit.FailureKind.TRANSIENT


def test_edit_of_a_contact_deleted_in_livedesk_fails_and_is_kept(sandbox, agent_client):
    contact = contact_synced(sandbox=sandbox, name="Ann")
    sandbox.store.delete_contact(contact.remote_id)

    response = edit_post(agent_client, contact, name="Ann Smith")

    assert response.redirect_chain[-1][0] == contact.get_absolute_url()
    text = page_text(response)
    assert "LiveDesk did not accept the edit" in text
    assert "LiveDesk no longer lists this contact" in text
    assert "HTTP 404" in text
    assert ContactEdit.objects.get().failure_kind == ContactEdit.FailureKind.PERMANENT


def test_hanging_livedesk_keeps_the_edit_as_failed(sandbox, agent_client, settings):
    contact = contact_synced(sandbox=sandbox, name="Ann")
    settings.LIVEDESK_RETRIES = 0
    settings.LIVEDESK_TIMEOUT = (1.0, 0.3)
    sandbox.faults.methods = "PATCH"
    sandbox.faults.hang_next = 1
    sandbox.faults.hang_seconds = 3

    response = edit_post(agent_client, contact, name="Ann Smith")

    assert "Not yet in LiveDesk: LiveDesk did not answer in time at" in page_text(response)
    assert ContactEdit.objects.get().state == ContactEdit.State.FAILED


def test_retry_now_delivers_a_failed_edit(sandbox, agent_client, no_client_retries):
    contact = contact_synced(sandbox=sandbox, name="Ann")
    sandbox.faults.methods = "PATCH"
    sandbox.faults.fail_next = 1
    edit_post(agent_client, contact, name="Ann Smith")
    edit = ContactEdit.objects.get()

    response = agent_client.post(reverse("contacts:edit_retry", args=[edit.pk]), follow=True)

    edit.refresh_from_db()
    assert edit.state == ContactEdit.State.SUCCEEDED
    assert edit.attempts == 2
    assert "Sent again: LiveDesk accepted the edit." in page_text(response)
    assert "This edit did not reach LiveDesk" not in page_text(response)
    assert sandbox.store.get_contact(contact.remote_id)["name"] == "Ann Smith"


def test_discard_gives_up_a_failed_edit_and_keeps_it_in_the_history(
    sandbox, agent_client, no_client_retries
):
    contact = contact_synced(sandbox=sandbox, name="Ann")
    sandbox.faults.methods = "PATCH"
    sandbox.faults.fail_next = 1
    edit_post(agent_client, contact, name="Ann Smith")
    edit = ContactEdit.objects.get()

    response = agent_client.post(reverse("contacts:edit_discard", args=[edit.pk]), follow=True)

    edit.refresh_from_db()
    contact.refresh_from_db()
    assert edit.state == ContactEdit.State.DISCARDED
    assert contact.push_state == Contact.PushState.IN_SYNC
    text = page_text(response)
    assert "Edit discarded" in text
    assert "Discarded by agent" in text
    assert len(patch_bodies(sandbox)) == 1


def test_retry_and_discard_need_post(sandbox, agent_client, no_client_retries):
    contact = contact_synced(sandbox=sandbox, name="Ann")
    sandbox.faults.methods = "PATCH"
    sandbox.faults.fail_next = 1
    edit_post(agent_client, contact, name="Ann Smith")
    edit = ContactEdit.objects.get()

    assert agent_client.get(reverse("contacts:edit_retry", args=[edit.pk])).status_code == 405
    assert agent_client.get(reverse("contacts:edit_discard", args=[edit.pk])).status_code == 405


def test_edit_page_reopens_an_unfinished_edit(sandbox, agent_client, no_client_retries):
    contact = contact_synced(sandbox=sandbox, name="Ann", custom_attributes={"plan": "gold"})
    sandbox.faults.methods = "PATCH"
    sandbox.faults.fail_next = 1
    edit_post(agent_client, contact, name="Ann Smith", **{"custom-0-remove": True})
    edit = ContactEdit.objects.get()

    response = agent_client.get(
        reverse("contacts:edit", args=[contact.remote_id]) + f"?edit={edit.pk}"
    )

    form = response.context["form"]
    assert form["name"].value() == "Ann Smith"
    assert [row.initial.get("key") for row in form.custom_rows.forms] == []
    assert "has not reached LiveDesk" in page_text(response)


def test_resending_an_unfinished_edit_supersedes_it(sandbox, agent_client, no_client_retries):
    contact = contact_synced(sandbox=sandbox, name="Ann")
    sandbox.faults.methods = "PATCH"
    sandbox.faults.fail_next = 1
    edit_post(agent_client, contact, name="Ann Smith")
    failed = ContactEdit.objects.get()

    response = edit_post(agent_client, contact, query=f"?edit={failed.pk}", city="Phuket")

    failed.refresh_from_db()
    assert failed.state == ContactEdit.State.SUPERSEDED
    assert patch_bodies(sandbox)[-1] == {
        "name": "Ann Smith",
        "additional_attributes": {"city": "Phuket"},
    }
    assert "Saved" in page_text(response)


def test_resending_a_held_edit_replaces_it_and_the_history_says_where_it_went(
    sandbox, agent_client
):
    contact = contact_synced(sandbox=sandbox, name="Ann", email="ann@example.com")
    sandbox.store.create_contact(name="Bob", email="bob@example.com")
    edit_post(agent_client, contact, email="bob@example.com")
    held = ContactEdit.objects.get()
    assert held.failure_kind == ContactEdit.FailureKind.PERMANENT

    edit_post(agent_client, contact, query=f"?edit={held.pk}", email="ann@acme.example")

    held.refresh_from_db()
    resent = ContactEdit.objects.exclude(pk=held.pk).get()
    assert (held.state, held.carried_into) == (ContactEdit.State.SUPERSEDED, resent)
    assert resent.state == ContactEdit.State.SUCCEEDED
    history = page_text(agent_client.get(contact.get_absolute_url()))
    assert f"Carried into edit #{resent.pk} by agent" in history


def test_a_plain_edit_shows_livedesks_values_not_another_agents_unfinished_edit(
    sandbox, agent_client, no_client_retries
):
    contact = contact_synced(sandbox=sandbox, name="Ann")
    sandbox.faults.methods = "PATCH"
    sandbox.faults.fail_next = 1
    edit_post(agent_client, contact, name="Ann Smith")

    response = agent_client.get(reverse("contacts:edit", args=[contact.remote_id]))

    assert response.context["form"]["name"].value() == "Ann"
    assert response.context["unfinished_count"] == 1


def test_conflict_shows_their_value_and_yours(sandbox, agent_client):
    contact = contact_synced(sandbox=sandbox, name="Ann", email="ann@example.com")
    url = reverse("contacts:edit", args=[contact.remote_id])
    opened = agent_client.get(url).context["form"]
    sandbox.store.update_contact(contact.remote_id, {"name": "Ann Theirs"})
    services.contacts_sync()

    response = agent_client.post(url, edit_form_data(opened, name="Ann Yours"))

    assert response.status_code == 200
    assert patch_bodies(sandbox) == []
    text = page_text(response)
    assert "Nothing was sent to LiveDesk. Waiting for you: Name" in text
    assert "Changed by someone else to “Ann Theirs” after you opened the form" in text
    assert "Your value “Ann Yours” was not sent" in text
    assert response.context["form"]["name"].value() == "Ann Yours"
    assert [c.field for c in response.context["conflicts"]] == ["name"]


def test_reloading_after_a_conflict_keeps_your_changes_on_the_current_values(sandbox, agent_client):
    contact = contact_synced(sandbox=sandbox, name="Ann", email="ann@example.com")
    url = reverse("contacts:edit", args=[contact.remote_id])
    opened = agent_client.get(url).context["form"]
    sandbox.store.update_contact(
        contact.remote_id, {"name": "Ann Theirs", "email": "ann.new@example.com"}
    )
    services.contacts_sync()
    data = edit_form_data(opened, name="Ann Yours", city="Phuket")

    reloaded = agent_client.post(url, {**data, "reload": "1"})
    form = reloaded.context["form"]
    saved = agent_client.post(url, edit_form_data(form), follow=True)

    assert form["name"].value() == "Ann Yours"
    assert form["city"].value() == "Phuket"
    assert form["email"].value() == "ann.new@example.com"
    assert patch_bodies(sandbox) == [
        {"name": "Ann Yours", "additional_attributes": {"city": "Phuket"}}
    ]
    assert "Saved" in page_text(saved)


def test_edit_form_enforces_csrf(sandbox, agent):
    contact = contact_synced(sandbox=sandbox, name="Ann")
    client = Client(enforce_csrf_checks=True)
    client.force_login(agent)
    url = reverse("contacts:edit", args=[contact.remote_id])
    data = edit_form_data(client.get(url).context["form"], name="Ann Smith")

    refused = client.post(url, data)
    accepted = client.post(url, {**data, "csrfmiddlewaretoken": client.cookies["csrftoken"].value})

    assert refused.status_code == 403
    assert accepted.status_code == 302
    assert patch_bodies(sandbox) == [{"name": "Ann Smith"}]
