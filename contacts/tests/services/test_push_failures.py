"""Pushes LiveDesk refuses or cannot take: permanent and transient failures."""

from __future__ import annotations

from datetime import timedelta

import pytest

from contacts import services
from contacts.models import Contact, ContactEdit
from contacts.services import edit_push_task
from contacts.tests.factories import contact_synced, edit_submit, patch_bodies, retries_enqueued

pytestmark = pytest.mark.django_db


# --- Failures ----------------------------------------------------------------------------------


def test_rejected_values_fail_permanently_and_leave_the_mirror(
    sandbox, agent, django_capture_on_commit_callbacks
):
    sandbox.store.create_contact(name="Bob", email="bob@example.com")
    contact = contact_synced(sandbox=sandbox, name="Ann", email="ann@example.com")
    version_before = contact.version

    with django_capture_on_commit_callbacks(execute=True):
        edit = edit_submit(contact=contact, editor=agent, changes={"email": "BOB@example.com"})

    edit.refresh_from_db()
    contact.refresh_from_db()
    assert edit.state == ContactEdit.State.FAILED
    assert edit.failure_kind == ContactEdit.FailureKind.PERMANENT
    assert edit.http_status == 422
    assert edit.response_body == {
        "message": "Email has already been taken",
        "attributes": ["email"],
    }
    assert edit.error_message == "Email has already been taken"
    assert edit.next_attempt_at is None
    assert retries_enqueued() == []
    assert contact.email == "ann@example.com"
    assert contact.version == version_before
    assert contact.push_state == Contact.PushState.FAILED


def test_push_to_a_contact_deleted_in_livedesk_fails_permanently_and_flags_it_gone(
    sandbox, agent, django_capture_on_commit_callbacks
):
    contact = contact_synced(sandbox=sandbox, name="Ann")
    sandbox.store.delete_contact(contact.remote_id)

    with django_capture_on_commit_callbacks(execute=True):
        edit = edit_submit(contact=contact, editor=agent, changes={"name": "Ann Smith"})

    edit.refresh_from_db()
    contact.refresh_from_db()
    assert edit.state == ContactEdit.State.FAILED
    assert edit.failure_kind == ContactEdit.FailureKind.PERMANENT
    assert edit.http_status == 404
    assert edit.next_attempt_at is None
    assert retries_enqueued() == []
    assert contact.is_gone
    assert contact.name == "Ann"
    assert contact.push_state == Contact.PushState.FAILED


def test_refused_credentials_fail_permanently(
    sandbox, agent, settings, django_capture_on_commit_callbacks
):
    contact = contact_synced(sandbox=sandbox, name="Ann")
    settings.LIVEDESK_API_SECRET = "not-the-secret"

    with django_capture_on_commit_callbacks(execute=True):
        edit = edit_submit(contact=contact, editor=agent, changes={"name": "Ann Smith"})

    edit.refresh_from_db()
    assert edit.state == ContactEdit.State.FAILED
    assert edit.failure_kind == ContactEdit.FailureKind.PERMANENT
    assert edit.http_status == 401
    assert edit.response_body == {"error": "Invalid Access Token"}
    assert edit.next_attempt_at is None
    assert retries_enqueued() == []
    assert sandbox.store.get_contact(contact.remote_id)["name"] == "Ann"


def assert_failed_transiently(edit: ContactEdit, *, attempts: int = 1) -> None:
    """The edit waits for a retry: transient, a next attempt after backoff, a task enqueued."""
    edit.refresh_from_db()
    assert edit.state == ContactEdit.State.FAILED
    assert edit.failure_kind == ContactEdit.FailureKind.TRANSIENT
    assert edit.attempts == attempts
    assert edit.next_attempt_at >= edit.last_attempt_at + timedelta(seconds=10)
    assert edit.contact.push_state == Contact.PushState.FAILED
    [retry] = retries_enqueued()
    assert retry.task.func is edit_push_task.func
    assert list(retry.args) == [edit.pk]
    assert retry.task.run_after == edit.next_attempt_at


def test_rate_limit_beyond_retries_fails_transiently_and_schedules_a_retry(
    sandbox, agent, settings, django_capture_on_commit_callbacks
):
    contact = contact_synced(sandbox=sandbox, name="Ann")
    settings.LIVEDESK_RETRIES = 1
    sandbox.faults.methods = "PATCH"
    sandbox.faults.rate_limit_next = 2
    sandbox.faults.retry_after = 0

    with django_capture_on_commit_callbacks(execute=True):
        edit = edit_submit(contact=contact, editor=agent, changes={"name": "Ann Smith"})

    assert len(patch_bodies(sandbox)) == 2
    assert edit.http_status == 429
    assert_failed_transiently(edit)
    assert sandbox.store.get_contact(contact.remote_id)["name"] == "Ann"


def test_unavailable_server_beyond_retries_fails_transiently_and_schedules_a_retry(
    sandbox, agent, settings, django_capture_on_commit_callbacks
):
    contact = contact_synced(sandbox=sandbox, name="Ann")
    settings.LIVEDESK_RETRIES = 1
    sandbox.faults.methods = "PATCH"
    sandbox.faults.fail_next = 2
    sandbox.faults.failure_status = 503

    with django_capture_on_commit_callbacks(execute=True):
        edit = edit_submit(contact=contact, editor=agent, changes={"name": "Ann Smith"})

    assert len(patch_bodies(sandbox)) == 2
    assert edit.http_status == 503
    assert_failed_transiently(edit)


def test_hanging_server_fails_transiently_and_schedules_a_retry(
    sandbox, agent, settings, django_capture_on_commit_callbacks
):
    contact = contact_synced(sandbox=sandbox, name="Ann")
    settings.LIVEDESK_RETRIES = 0
    settings.LIVEDESK_TIMEOUT = (1.0, 0.5)
    sandbox.faults.methods = "PATCH"
    sandbox.faults.hang_next = 1
    sandbox.faults.hang_seconds = 5

    with django_capture_on_commit_callbacks(execute=True):
        edit = edit_submit(contact=contact, editor=agent, changes={"name": "Ann Smith"})

    assert len(patch_bodies(sandbox)) == 1
    assert edit.http_status is None
    assert edit.error_message
    assert_failed_transiently(edit)


def test_each_push_of_a_failing_edit_counts_an_attempt(sandbox, agent, settings):
    contact = contact_synced(sandbox=sandbox, name="Ann")
    settings.LIVEDESK_RETRIES = 0
    sandbox.faults.methods = "PATCH"
    sandbox.faults.fail_next = 3

    edit = edit_submit(contact=contact, editor=agent, changes={"name": "Ann Smith"})
    services.edit_retry(edit=edit)
    edit = services.edit_retry(edit=edit).edit

    edit.refresh_from_db()
    assert edit.attempts == 3
    assert edit.state == ContactEdit.State.FAILED
    assert len(patch_bodies(sandbox)) == 3
