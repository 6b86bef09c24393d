"""The admin's part in batches: the contact list's "Bulk edit" action hands its selection to the
agent's bulk edit page, batches are shown view-only with their progress, and an edit's page
reverts it."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest
from django.urls import reverse

from contacts import services
from contacts.models import Contact, ContactEdit, EditBatch
from contacts.tests.factories import (
    CONTACTS_URL,
    LEAD_PERMISSIONS,
    batch_delivered,
    client_for,
    contact_synced,
    contacts_synced,
    edit_submit,
    messages_of,
    page_text,
    user_make,
)

pytestmark = pytest.mark.django_db

CITY = "additional_attributes.city"


def staff_client(*, perms: tuple[str, ...], username: str = "staff"):
    user = user_make(username=username, perms=perms)
    user.is_staff = True
    user.save()
    return client_for(user)


@pytest.fixture
def lead_admin():
    return staff_client(perms=(*LEAD_PERMISSIONS, "view_editbatch"), username="lead")


def action_post(client, query: str = "", *, contacts=(), select_across: bool = False):
    data = {"action": "bulk_edit", "index": 0, "_selected_action": [c.pk for c in contacts]}
    if select_across:
        data["select_across"] = "1"
    return client.post(f"{CONTACTS_URL}{query}", data)


def redirect_query(response) -> dict[str, list[str]]:
    assert response.status_code == 302
    url = urlsplit(response.url)
    assert url.path == reverse("contacts:bulk_edit")
    return parse_qs(url.query)


# --- The "Bulk edit" action ----------------------------------------------------------------------


def test_bulk_edit_action_sends_the_ticked_contacts(lead_admin):
    ann = Contact.objects.create(remote_id=11, name="Ann")
    bob = Contact.objects.create(remote_id=12, name="Bob")
    Contact.objects.create(remote_id=13, name="Cid")

    response = action_post(lead_admin, contacts=[ann, bob])

    assert redirect_query(response) == {"contact": ["11", "12"]}


def test_bulk_edit_action_over_all_matching_sends_the_changelists_filters(lead_admin):
    for number in range(60):
        Contact.objects.create(
            remote_id=100 + number,
            name=f"T {number:02d}",
            country="Thailand",
            blocked=number % 2 == 0,
        )
    Contact.objects.create(remote_id=999, name="T Japan", country="Japan", blocked=True)
    query = "?country=Thailand&blocked__exact=1&q=T"
    in_admin = lead_admin.get(CONTACTS_URL + query).context["cl"]

    response = action_post(
        lead_admin, query, contacts=[Contact.objects.first()], select_across=True
    )
    bulk_page = lead_admin.get(response.url)

    assert redirect_query(response) == {
        "q": ["T"],
        "blocked": ["yes"],
        "country": ["Thailand"],
        "all": ["1"],
    }
    assert in_admin.result_count == 30
    assert bulk_page.context["selected_count"] == 30
    assert set(bulk_page.context["selection"].contacts()) == set(in_admin.queryset)


def test_bulk_edit_action_is_offered_only_with_the_bulk_permission(lead_admin):
    Contact.objects.create(remote_id=11, name="Ann")
    agent_admin = staff_client(perms=("view_contact", "change_contact"))

    lead_actions = lead_admin.get(CONTACTS_URL).context["action_form"].fields["action"].choices
    agent_actions = agent_admin.get(CONTACTS_URL).context["action_form"].fields["action"].choices

    assert "bulk_edit" in dict(lead_actions)
    assert "bulk_edit" not in dict(agent_actions)


# --- Batches, view-only --------------------------------------------------------------------------


@pytest.fixture
def confirmed_batch(sandbox):
    lead = user_make(username="batcher", perms=LEAD_PERMISSIONS)
    contacts = contacts_synced(sandbox, 2, additional_attributes={"city": "Bangkok"})
    draft = services.batch_draft_bulk_edit(
        by=lead,
        operations=[services.BulkOperation(key=CITY, action="set", value="Nara")],
        contacts=Contact.objects.filter(pk__in=[c.pk for c in contacts]),
        selection={"filters": {}, "remote_ids": [c.remote_id for c in contacts]},
    )
    return services.batch_confirm(batch=draft, by=lead)


def test_batch_admin_shows_progress_and_links_the_progress_page(lead_admin, confirmed_batch):
    services.edit_push(edit_id=confirmed_batch.edits.order_by("pk").first().pk)
    change_url = reverse("admin:contacts_editbatch_change", args=[confirmed_batch.pk])

    listed = lead_admin.get(reverse("admin:contacts_editbatch_changelist"))
    page = page_text(lead_admin.get(change_url))

    assert list(listed.context["cl"].result_list) == [confirmed_batch]
    assert "1 delivered, 1 waiting</td>" in page_text(listed)
    assert "1 delivered, 1 waiting, 0 failed, 0 conflicts" in page
    assert "(being sent)" in page
    assert f'href="{confirmed_batch.get_absolute_url()}"' in page


def test_batch_admin_is_view_only(admin_client, confirmed_batch):
    change_url = reverse("admin:contacts_editbatch_change", args=[confirmed_batch.pk])

    response = admin_client.post(change_url, {"description": "changed"})

    assert response.status_code == 403
    assert admin_client.get(reverse("admin:contacts_editbatch_add")).status_code == 403
    confirmed_batch.refresh_from_db()
    assert confirmed_batch.description != "changed"


# --- Revert on an edit's page --------------------------------------------------------------------


def test_edit_page_reverts_an_edit_that_reached_livedesk(sandbox, admin_client, admin_user):
    contact = contact_synced(sandbox=sandbox, name="Ann", additional_attributes={"city": "Bangkok"})
    edit = edit_submit(contact=contact, editor=admin_user, changes={CITY: "Nara"})
    edit_url = reverse("admin:contacts_contactedit_change", args=[edit.pk])
    revert_url = reverse("admin:contacts_contactedit_revert", args=[edit.pk])

    shown = page_text(admin_client.get(edit_url))
    response = admin_client.post(revert_url, follow=True)

    assert f'action="{revert_url}"' in shown
    assert response.redirect_chain[-1][0] == edit_url
    assert ("success", "Reverted: LiveDesk has the values this edit replaced again.") in (
        messages_of(response)
    )
    revert = ContactEdit.objects.get(reverts=edit)
    assert revert.source == ContactEdit.Source.REVERT
    remote = sandbox.store.get_contact(contact.remote_id)
    assert remote["additional_attributes"]["city"] == "Bangkok"


def test_edit_page_offers_no_revert_without_the_change_permission(sandbox, admin_user):
    contact = contact_synced(sandbox=sandbox, name="Ann")
    edit = edit_submit(contact=contact, editor=admin_user, changes={"name": "Ann Lee"})
    viewer = staff_client(perms=("view_contact", "view_contactedit"), username="viewer")
    revert_url = reverse("admin:contacts_contactedit_revert", args=[edit.pk])

    shown = page_text(viewer.get(reverse("admin:contacts_contactedit_change", args=[edit.pk])))

    assert revert_url not in shown
    assert viewer.post(revert_url).status_code == 403
    assert not ContactEdit.objects.filter(reverts=edit).exists()


def test_batches_delivered_leave_the_batch_admin_finished(lead_admin, confirmed_batch):
    batch_delivered(confirmed_batch)

    page = page_text(
        lead_admin.get(reverse("admin:contacts_editbatch_change", args=[confirmed_batch.pk]))
    )

    assert "2 delivered, 0 waiting" in page
    assert "(finished)" in page
    assert EditBatch.objects.count() == 1
