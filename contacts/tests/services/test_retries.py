"""Retries of failed pushes, the safety net for orphaned edits, and discarding or superseding."""

from __future__ import annotations

from datetime import timedelta

import django_tasks
import pytest
from django.utils import timezone

from contacts import fields, services
from contacts.livedesk import LiveDeskClient
from contacts.models import Contact, ContactEdit
from contacts.tests.factories import (
    contact_synced,
    edit_failed_transiently,
    edit_submit,
    patch_bodies,
    retries_enqueued,
    user_make,
)

pytestmark = pytest.mark.django_db


# --- Retries -----------------------------------------------------------------------------------


def test_due_transient_failure_is_delivered_once_livedesk_is_healthy(
    sandbox, agent, no_client_retries
):
    contact = contact_synced(sandbox=sandbox, name="Ann")
    edit = edit_failed_transiently(
        sandbox=sandbox, contact=contact, editor=agent, changes={"name": "Ann Smith"}
    )

    summary = services.edits_push_due(now=edit.next_attempt_at)

    assert (summary.attempted, summary.succeeded, summary.failed) == (1, 1, 0)
    edit.refresh_from_db()
    contact.refresh_from_db()
    assert edit.state == ContactEdit.State.SUCCEEDED
    assert edit.attempts == 2
    assert edit.next_attempt_at is None
    assert contact.name == "Ann Smith"
    assert contact.push_state == Contact.PushState.IN_SYNC
    assert patch_bodies(sandbox) == [{"name": "Ann Smith"}, {"name": "Ann Smith"}]


def test_transient_failure_not_yet_due_is_skipped(sandbox, agent, no_client_retries):
    contact = contact_synced(sandbox=sandbox, name="Ann")
    edit = edit_failed_transiently(
        sandbox=sandbox, contact=contact, editor=agent, changes={"name": "Ann Smith"}
    )

    summary = services.edits_push_due(now=edit.next_attempt_at - timedelta(seconds=1))

    assert summary.attempted == 0
    edit.refresh_from_db()
    assert edit.state == ContactEdit.State.FAILED
    assert edit.attempts == 1
    assert len(patch_bodies(sandbox)) == 1


def test_retries_stop_after_the_maximum_attempts(
    sandbox, agent, settings, no_client_retries, django_capture_on_commit_callbacks
):
    settings.LIVEDESK_PUSH_MAX_ATTEMPTS = 2
    contact = contact_synced(sandbox=sandbox, name="Ann")
    sandbox.faults.methods = "PATCH"
    sandbox.faults.fail_next = 10

    with django_capture_on_commit_callbacks(execute=True):
        edit = edit_submit(contact=contact, editor=agent, changes={"name": "Ann Smith"})
        edit.refresh_from_db()
        services.edits_push_due(now=edit.next_attempt_at)

    edit.refresh_from_db()
    assert edit.attempts == 2
    assert edit.state == ContactEdit.State.FAILED
    assert edit.failure_kind == ContactEdit.FailureKind.TRANSIENT
    assert edit.next_attempt_at is None
    assert len(retries_enqueued()) == 1
    assert services.edits_push_due(now=timezone.now() + timedelta(days=30)).attempted == 0
    assert len(patch_bodies(sandbox)) == 2


def test_a_new_edit_enqueues_no_task_and_is_due_for_the_sweep_if_its_process_stops(
    sandbox, agent, django_capture_on_commit_callbacks
):
    contact = contact_synced(sandbox=sandbox, name="Ann")

    with django_capture_on_commit_callbacks(execute=True):
        edit = services.contact_edit_record(
            contact=contact,
            editor=agent,
            values={**fields.contact_values(contact), "name": "Ann Lee"},
            base_values=fields.contact_values(contact),
            base_version=contact.version,
            source=ContactEdit.Source.AGENT,
        )

    assert django_tasks.default_task_backend.results == []
    assert edit.next_attempt_at == edit.created_at + services.ORPHANED_PENDING_AFTER
    assert services.edit_push_if_due(edit_id=edit.pk) is None
    later = edit.created_at + services.ORPHANED_PENDING_AFTER
    assert services.edit_push_if_due(edit_id=edit.pk, now=later).state == "succeeded"
    assert services.edit_push_if_due(edit_id=edit.pk, now=later) is None
    assert patch_bodies(sandbox) == [{"name": "Ann Lee"}]


def test_orphaned_pending_edit_is_picked_up(sandbox, agent):
    contact = contact_synced(sandbox=sandbox, name="Ann")
    values = fields.contact_values(contact)
    edit = services.contact_edit_record(
        contact=contact,
        editor=agent,
        values={**values, "name": "Ann Smith"},
        base_values=values,
        base_version=contact.version,
        source=ContactEdit.Source.AGENT,
    )

    assert services.edits_push_due().attempted == 0
    summary = services.edits_push_due(
        now=edit.created_at + services.ORPHANED_PENDING_AFTER + timedelta(seconds=1)
    )

    assert summary.succeeded == 1
    edit.refresh_from_db()
    contact.refresh_from_db()
    assert edit.state == ContactEdit.State.SUCCEEDED
    assert contact.name == "Ann Smith"
    assert patch_bodies(sandbox) == [{"name": "Ann Smith"}]


def test_backoff_doubles_with_each_attempt_and_is_capped(
    sandbox, agent, settings, no_client_retries
):
    settings.LIVEDESK_PUSH_BACKOFF_SECONDS = 10
    settings.LIVEDESK_PUSH_BACKOFF_MAX_SECONDS = 25
    contact = contact_synced(sandbox=sandbox, name="Ann")
    sandbox.faults.methods = "PATCH"
    sandbox.faults.fail_next = 3

    edit = edit_submit(contact=contact, editor=agent, changes={"name": "Ann Smith"})
    waits = []
    for _attempt in range(3):
        edit.refresh_from_db()
        waits.append((edit.next_attempt_at - edit.last_attempt_at).total_seconds())
        services.edit_retry(edit=edit)

    assert [round(wait) for wait in waits] == [10, 20, 25]


def test_retry_after_sets_the_next_attempt(sandbox, agent, no_client_retries):
    contact = contact_synced(sandbox=sandbox, name="Ann")
    sandbox.faults.methods = "PATCH"
    sandbox.faults.rate_limit_next = 1
    sandbox.faults.retry_after = 120

    edit = edit_submit(contact=contact, editor=agent, changes={"name": "Ann Smith"})

    edit.refresh_from_db()
    assert edit.http_status == 429
    assert round((edit.next_attempt_at - edit.last_attempt_at).total_seconds()) == 120


# --- Discard and supersede ---------------------------------------------------------------------


def test_discarding_a_failed_edit_records_who_and_puts_the_contact_back_in_sync(sandbox, agent):
    sandbox.store.create_contact(name="Bob", email="bob@example.com")
    contact = contact_synced(sandbox=sandbox, name="Ann", email="ann@example.com")
    edit = edit_submit(contact=contact, editor=agent, changes={"email": "bob@example.com"})
    supervisor = user_make(username="supervisor")

    discarded = services.edit_discard(edit=edit, user=supervisor)

    discarded.refresh_from_db()
    contact.refresh_from_db()
    assert discarded.state == ContactEdit.State.DISCARDED
    assert discarded.finished_by == supervisor
    assert discarded.finished_at is not None
    assert discarded.next_attempt_at is None
    assert discarded.request_body == {"email": "bob@example.com"}
    assert contact.push_state == Contact.PushState.IN_SYNC


def test_discarded_transient_failure_is_never_retried(sandbox, agent, no_client_retries):
    contact = contact_synced(sandbox=sandbox, name="Ann")
    edit = edit_failed_transiently(
        sandbox=sandbox, contact=contact, editor=agent, changes={"name": "Ann Smith"}
    )

    services.edit_discard(edit=edit, user=agent)

    assert services.edits_push_due(now=timezone.now() + timedelta(days=1)).attempted == 0
    assert len(patch_bodies(sandbox)) == 1


def test_newer_edit_supersedes_unfinished_ones(sandbox, agent, no_client_retries):
    contact = contact_synced(sandbox=sandbox, name="Ann", email="ann@example.com")
    older = edit_failed_transiently(
        sandbox=sandbox, contact=contact, editor=agent, changes={"name": "Ann Smith"}
    )
    colleague = user_make(username="colleague")

    newer = edit_submit(contact=contact, editor=colleague, changes={"email": "ann@acme.example"})

    older.refresh_from_db()
    contact.refresh_from_db()
    assert older.state == ContactEdit.State.SUPERSEDED
    assert older.finished_by == colleague
    assert older.next_attempt_at is None
    assert newer.state == ContactEdit.State.SUCCEEDED
    assert contact.push_state == Contact.PushState.IN_SYNC
    assert services.edits_push_due(now=timezone.now() + timedelta(days=1)).attempted == 0


def test_an_edit_cannot_be_discarded_while_its_push_is_in_flight(
    sandbox, agent, no_client_retries, monkeypatch, django_capture_on_commit_callbacks
):
    contact = contact_synced(sandbox=sandbox, name="Ann")
    sandbox.faults.methods = "PATCH"
    sandbox.faults.fail_next = 1
    real_contact_update = LiveDeskClient.contact_update
    refused = []

    def contact_update_while_discarding(self, remote_id, changes):
        try:
            services.edit_discard(edit=ContactEdit.objects.get(), user=agent)
        except services.EditInFlight:
            refused.append(True)
        return real_contact_update(self, remote_id, changes)

    monkeypatch.setattr(LiveDeskClient, "contact_update", contact_update_while_discarding)

    with django_capture_on_commit_callbacks(execute=True):
        edit = edit_submit(contact=contact, editor=agent, changes={"name": "Ann Smith"})

    edit.refresh_from_db()
    assert refused == [True]
    assert edit.state == ContactEdit.State.FAILED
    assert edit.http_status == 503
    assert edit.in_flight_until is None
    assert edit.next_attempt_at is not None

    discarded = services.edit_discard(edit=edit, user=agent)

    contact.refresh_from_db()
    assert discarded.state == ContactEdit.State.DISCARDED
    assert contact.push_state == Contact.PushState.IN_SYNC
