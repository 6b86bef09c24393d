"""The edit service's outbox: committed before the call, the outcome recorded, the history
append-only, no secrets in it."""

from __future__ import annotations

import base64
import json
import threading

import pytest
from django.db import connection, connections

from contacts.livedesk import LiveDeskClient, parse_contact
from contacts.models import Contact, ContactEdit
from contacts.services.mirror import mirror_values
from contacts.tests.conftest import SANDBOX_KEY, SANDBOX_SECRET
from contacts.tests.factories import contact_synced, edit_submit, patch_bodies

pytestmark = pytest.mark.django_db


# --- Outbox first ------------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_edit_is_committed_as_pending_before_the_http_call(sandbox, agent, monkeypatch):
    contact = contact_synced(sandbox=sandbox, name="Ann")
    seen_during_call = {}
    real_contact_update = LiveDeskClient.contact_update

    def state_from_another_connection() -> None:
        # A fresh connection only sees committed rows.
        try:
            seen_during_call["states"] = list(ContactEdit.objects.values_list("state", flat=True))
            seen_during_call["push_state"] = Contact.objects.get(pk=contact.pk).push_state
        finally:
            connections.close_all()

    def contact_update_observed(self, remote_id, changes):
        seen_during_call["in_transaction"] = connection.in_atomic_block
        reader = threading.Thread(target=state_from_another_connection)
        reader.start()
        reader.join()
        return real_contact_update(self, remote_id, changes)

    monkeypatch.setattr(LiveDeskClient, "contact_update", contact_update_observed)

    edit = edit_submit(contact=contact, editor=agent, changes={"name": "Ann Smith"})

    assert seen_during_call == {
        "in_transaction": False,
        "states": [ContactEdit.State.PENDING],
        "push_state": Contact.PushState.PENDING,
    }
    assert edit.state == ContactEdit.State.SUCCEEDED


# --- Success -----------------------------------------------------------------------------------


def test_successful_push_stores_the_servers_answer_in_the_mirror(sandbox, agent):
    contact = contact_synced(sandbox=sandbox, name="Ann", email="ann@example.com")
    version_before = contact.version

    edit = edit_submit(contact=contact, editor=agent, changes={"email": "Ann.Lee@Example.COM"})

    contact.refresh_from_db()
    server_truth = sandbox.store.get_contact(contact.remote_id, include_contact_inboxes=True)
    assert patch_bodies(sandbox) == [{"email": "Ann.Lee@Example.COM"}]
    assert contact.email == "ann.lee@example.com"
    assert edit.response_body["payload"] == server_truth
    assert contact.mirror_digest == mirror_values(parse_contact(server_truth))["mirror_digest"]
    assert contact.version == version_before + 1
    assert contact.push_state == Contact.PushState.IN_SYNC


def test_successful_push_records_the_outcome_on_the_edit(sandbox, agent):
    contact = contact_synced(sandbox=sandbox, name="Ann", email="ann@example.com")
    base_version = contact.version

    edit = edit_submit(contact=contact, editor=agent, changes={"email": "Ann.Lee@Example.COM"})

    edit.refresh_from_db()
    assert edit.state == ContactEdit.State.SUCCEEDED
    assert edit.http_status == 200
    assert edit.response_body["payload"]["email"] == "ann.lee@example.com"
    assert edit.attempts == 1
    assert edit.failure_kind == ""
    assert edit.error_message == ""
    assert edit.finished_at is not None
    assert edit.next_attempt_at is None
    assert edit.changes == [
        {
            "field": "email",
            "label": "Email",
            "before": "ann@example.com",
            "after": "Ann.Lee@Example.COM",
            "base": "ann@example.com",
        }
    ]
    assert edit.editor == agent
    assert edit.editor_username == "agent"
    assert edit.source == ContactEdit.Source.AGENT
    assert edit.base_version == base_version


# --- The history is append-only ----------------------------------------------------------------


@pytest.fixture
def edit_succeeded(sandbox, agent) -> ContactEdit:
    contact = contact_synced(sandbox=sandbox, name="Ann")
    return edit_submit(contact=contact, editor=agent, changes={"name": "Ann Smith"})


def test_an_edit_row_cannot_be_deleted(edit_succeeded):
    with pytest.raises(PermissionError):
        edit_succeeded.delete()

    assert ContactEdit.objects.filter(pk=edit_succeeded.pk).exists()


def test_edit_rows_cannot_be_deleted_or_updated_in_bulk(edit_succeeded):
    with pytest.raises(PermissionError):
        ContactEdit.objects.all().delete()
    with pytest.raises(PermissionError):
        ContactEdit.objects.filter(pk=edit_succeeded.pk).update(state=ContactEdit.State.PENDING)

    edit_succeeded.refresh_from_db()
    assert edit_succeeded.state == ContactEdit.State.SUCCEEDED


def test_a_recorded_request_body_cannot_be_changed(edit_succeeded):
    edit_succeeded.request_body = {"name": "Someone Else"}

    with pytest.raises(PermissionError):
        edit_succeeded.save()
    with pytest.raises(PermissionError):
        edit_succeeded.save(update_fields=["request_body"])
    with pytest.raises(PermissionError):
        edit_succeeded.save(update_fields=["state", "request_body"])

    edit_succeeded.refresh_from_db()
    assert edit_succeeded.request_body == {"name": "Ann Smith"}


# --- Secrets -----------------------------------------------------------------------------------


def test_api_secret_is_stored_in_no_edit_field(sandbox, agent, settings):
    contact = contact_synced(sandbox=sandbox, name="Ann")
    settings.LIVEDESK_API_KEY = "revoked-key"
    refused = edit_submit(contact=contact, editor=agent, changes={"name": "Ann Smith"})
    settings.LIVEDESK_API_KEY = SANDBOX_KEY
    delivered = edit_submit(contact=contact, editor=agent, changes={"name": "Ann Lee"})

    assert (refused.http_status, delivered.http_status) == (401, 200)
    history = json.dumps(list(ContactEdit.objects.values()), default=str)
    basic_tokens = [
        base64.b64encode(f"{key}:{SANDBOX_SECRET}".encode()).decode()
        for key in (SANDBOX_KEY, "revoked-key")
    ]
    for secret in [SANDBOX_SECRET, *basic_tokens]:
        assert secret not in history
