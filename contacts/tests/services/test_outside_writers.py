"""LiveDesk is not the only writer: its changes are read before every push, kept, and shown."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from contacts import services
from contacts.fields import contact_values
from contacts.livedesk import LiveDeskClient, parse_contact
from contacts.models import Contact, ContactEdit
from contacts.tests.factories import (
    contact_synced,
    edit_failed_transiently,
    edit_submission,
    patch_bodies,
)

pytestmark = pytest.mark.django_db

Source, SeenVia = ContactEdit.Source, ContactEdit.SeenVia


def test_a_field_changed_in_livedesk_since_the_form_opened_is_shown_not_overwritten(sandbox, agent):
    contact = contact_synced(sandbox=sandbox, name="Ann", email="ann@example.com")
    opened = contact_values(contact)
    sandbox.store.update_contact(contact.remote_id, {"name": "Ann (from LiveDesk)"})

    submission = edit_submission(
        contact=contact,
        editor=agent,
        changes={"name": "Ann Lee", "email": "ann@acme.example"},
        base_values=opened,
        base_version=contact.version,
    )

    assert submission.outcome == services.EditOutcome.CONFLICT
    [conflict] = submission.conflicts
    assert (conflict.field, conflict.base, conflict.theirs, conflict.yours) == (
        "name",
        "Ann",
        "Ann (from LiveDesk)",
        "Ann Lee",
    )
    assert patch_bodies(sandbox) == []
    assert sandbox.store.get_contact(contact.remote_id)["name"] == "Ann (from LiveDesk)"
    mine = ContactEdit.objects.get(source=Source.AGENT)
    assert mine.state == ContactEdit.State.DISCARDED and "Name" in mine.error_message
    seen = ContactEdit.objects.get(source=Source.LIVEDESK)
    assert seen.seen_via == SeenVia.PUSH
    assert [(c["field"], c["before"], c["after"]) for c in seen.changes] == [
        ("name", "Ann", "Ann (from LiveDesk)")
    ]


def test_a_retry_after_an_outside_change_waits_for_the_agent_instead_of_overwriting(sandbox, agent):
    contact = contact_synced(sandbox=sandbox, name="Ann")
    edit = edit_failed_transiently(
        sandbox=sandbox, contact=contact, editor=agent, changes={"name": "Ann Lee"}
    )
    sent = len(patch_bodies(sandbox))
    sandbox.store.update_contact(contact.remote_id, {"name": "Ann (from LiveDesk)"})

    summary = services.edits_push_due(now=timezone.now() + timedelta(hours=1))

    edit.refresh_from_db()
    assert summary.failed == 1
    assert (edit.state, edit.failure_kind) == (
        ContactEdit.State.FAILED,
        ContactEdit.FailureKind.CONFLICT,
    )
    assert edit.next_attempt_at is None
    assert len(patch_bodies(sandbox)) == sent
    assert sandbox.store.get_contact(contact.remote_id)["name"] == "Ann (from LiveDesk)"


def test_an_outside_change_found_by_a_refresh_is_in_the_history(sandbox):
    contact = contact_synced(sandbox=sandbox, name="Ann", additional_attributes={"city": "Krabi"})
    sandbox.store.update_contact(contact.remote_id, {"additional_attributes": {"city": "Phuket"}})

    services.contact_refresh(contact=contact)

    [seen] = ContactEdit.objects.all()
    assert (seen.source, seen.seen_via, seen.state) == (
        Source.LIVEDESK,
        SeenVia.REFRESH,
        ContactEdit.State.SUCCEEDED,
    )
    assert seen.changes == [
        {
            "field": "additional_attributes.city",
            "label": "City",
            "before": "Krabi",
            "after": "Phuket",
        }
    ]
    assert seen.request_body == {}
    assert str(seen) == "LiveDesk changed City of Ann (succeeded)"


def test_a_change_to_noise_fields_only_updates_the_mirror_without_history(sandbox, monkeypatch):
    contact = contact_synced(sandbox=sandbox, name="Ann")
    real_contact_get = LiveDeskClient.contact_get

    def contact_get_active_later(self, remote_id):
        answer = real_contact_get(self, remote_id)
        payload = {
            **answer.payload,
            "last_activity_at": 1_900_000_000,
            "availability_status": "online",
        }
        return parse_contact(payload)

    monkeypatch.setattr(LiveDeskClient, "contact_get", contact_get_active_later)

    services.contact_refresh(contact=contact)

    assert not ContactEdit.objects.exists()
    refreshed = Contact.objects.get(pk=contact.pk)
    assert (refreshed.last_activity_at.year, refreshed.availability_status) == (2030, "online")


def test_a_sync_records_each_outside_change_once(sandbox):
    contact = contact_synced(sandbox=sandbox, name="Ann")
    sandbox.store.update_contact(contact.remote_id, {"name": "Ann Lee"})

    services.contacts_sync()
    services.contacts_sync()

    [seen] = ContactEdit.objects.all()
    assert (seen.source, seen.seen_via) == (Source.LIVEDESK, SeenVia.SYNC)
    assert seen.changes[0]["after"] == "Ann Lee"
