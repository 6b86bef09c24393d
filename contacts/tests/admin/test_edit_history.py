"""The admin's edit history against a real LiveDesk sandbox: view only."""

from __future__ import annotations

import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from contacts import services
from contacts.models import AuditEvent, ContactEdit
from contacts.tests.factories import (
    EDITS_URL,
    admin_edit_post,
    contact_synced,
    edit_failed_transiently,
)

pytestmark = pytest.mark.django_db


# --- Factories and helpers ---------------------------------------------------------------------


def edit_url(edit: ContactEdit, view: str = "change") -> str:
    return reverse(f"admin:contacts_contactedit_{view}", args=[edit.pk])


# --- The edit history: view only -------------------------------------------------------------


def test_edit_history_refuses_add_change_and_delete_to_a_superuser(
    sandbox, admin_client, admin_user
):
    contact = contact_synced(sandbox=sandbox, name="Ann Lee")
    edit = edit_failed_transiently(
        sandbox=sandbox, contact=contact, editor=admin_user, changes={"name": "Ann B"}
    )

    add = admin_client.get(reverse("admin:contacts_contactedit_add"))
    change = admin_client.post(edit_url(edit), {"state": "succeeded", "attempts": "9"})
    delete_page = admin_client.get(edit_url(edit, "delete"))
    delete = admin_client.post(edit_url(edit, "delete"), {"post": "yes"})

    assert (add.status_code, change.status_code) == (403, 403)
    assert (delete_page.status_code, delete.status_code) == (403, 403)
    edit.refresh_from_db()
    assert (edit.state, edit.attempts) == (ContactEdit.State.FAILED, 1)


def test_edit_history_list_offers_no_actions_and_no_add(sandbox, admin_client, admin_user):
    contact = contact_synced(sandbox=sandbox, name="Ann Lee")
    edit_failed_transiently(
        sandbox=sandbox, contact=contact, editor=admin_user, changes={"name": "Ann B"}
    )

    response = admin_client.get(EDITS_URL)

    assert response.status_code == 200
    assert response.context["action_form"] is None
    assert reverse("admin:contacts_contactedit_add") not in response.content.decode()


def test_edit_history_detail_shows_the_change_request_and_response_formatted(sandbox, admin_client):
    contact = contact_synced(sandbox=sandbox, name="Ann Lee")
    admin_edit_post(admin_client, contact, name="<b>Ann</b>")
    edit = ContactEdit.objects.get()

    page = admin_client.get(edit_url(edit)).content.decode()

    assert '<th scope="row">Name</th><td>Ann Lee</td><td>&lt;b&gt;Ann&lt;/b&gt;</td>' in page
    assert (
        '<pre class="json-body">{\n  &quot;name&quot;: &quot;&lt;b&gt;Ann&lt;/b&gt;&quot;\n}</pre>'
        in page
    )
    assert '<pre class="json-body">{\n  &quot;payload&quot;: {\n' in page
    assert "<b>Ann</b>" not in page


def test_edit_history_detail_lists_the_edits_audit_events_read_in_one_query(
    sandbox, admin_client, admin_user, no_client_retries
):
    contact = contact_synced(sandbox=sandbox, name="Ann Lee")
    edit = edit_failed_transiently(
        sandbox=sandbox, contact=contact, editor=admin_user, changes={"name": "Ann B"}
    )
    services.edit_retry(edit=edit)

    with CaptureQueriesContext(connection) as queries:
        page = admin_client.get(edit_url(edit)).content.decode()

    assert len([query for query in queries if "contacts_auditevent" in query["sql"]]) == 1
    events = list(AuditEvent.objects.filter(edit_id=edit.pk).order_by("seq"))
    assert [event.kind for event in events] == [
        "edit.recorded",
        "edit.attempt_failed",
        "edit.delivered",
    ]
    rows = re.findall(r"<tr><td>(\d+)</td><td>[^<]+</td><td><code>([a-z_.]+)</code></td>", page)
    assert rows == [(str(event.seq), event.kind) for event in events]
    for event in events:
        assert f'<code title="{event.hash}">{event.hash[:12]}</code>' in page
    assert "admin (Agent page) changed Name: Ann Lee → Ann B" in page
    assert "Attempt 1 failed: LiveDesk answered 503" in page
    assert re.search(r"Delivered to LiveDesk: 200 in \d+ ms \(attempt 2\)", page)


def test_edit_history_search_by_remote_id_and_filter_by_contact(sandbox, admin_client, admin_user):
    ann = contact_synced(sandbox=sandbox, name="Ann Lee")
    bob = contact_synced(sandbox=sandbox, name="Bob Lee")
    ann_edit = edit_failed_transiently(
        sandbox=sandbox, contact=ann, editor=admin_user, changes={"name": "Ann B"}
    )
    edit_failed_transiently(
        sandbox=sandbox, contact=bob, editor=admin_user, changes={"name": "Bob B"}
    )

    by_id = admin_client.get(EDITS_URL, {"q": str(ann.remote_id)})
    by_contact = admin_client.get(EDITS_URL, {"contact__id__exact": ann.pk})
    by_state = admin_client.get(EDITS_URL, {"state__exact": "succeeded"})

    assert list(by_id.context["cl"].result_list) == [ann_edit]
    assert list(by_contact.context["cl"].result_list) == [ann_edit]
    assert list(by_state.context["cl"].result_list) == []


def test_contact_history_button_opens_its_filtered_edit_history(sandbox, admin_client):
    contact = contact_synced(sandbox=sandbox, name="Ann Lee")

    response = admin_client.get(reverse("admin:contacts_contact_history", args=[contact.pk]))

    assert response.status_code == 302
    assert response["Location"] == f"{EDITS_URL}?contact__id__exact={contact.pk}"
    assert admin_client.get(response["Location"]).context["subtitle"] == "Edits of Ann Lee"
