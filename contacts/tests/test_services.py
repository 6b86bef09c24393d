"""The edit service against a real LiveDesk sandbox: bodies, outbox, outcomes, conflicts."""

from __future__ import annotations

import base64
import json
import threading
from datetime import timedelta

import django_tasks
import pytest
from django.db import connection, connections
from django.utils import timezone

from contacts import fields, services
from contacts.livedesk import LiveDeskClient
from contacts.models import Contact, ContactEdit
from contacts.services import edit_push_task
from contacts.tests.conftest import SANDBOX_KEY, SANDBOX_SECRET
from contacts.tests.factories import (
    contact_synced,
    edit_failed_transiently,
    edit_submission,
    edit_submit,
    patch_bodies,
    user_make,
)

pytestmark = pytest.mark.django_db


# --- Factories and helpers ---------------------------------------------------------------------


def retries_enqueued() -> list:
    """Retry tasks enqueued, leaving out the safety net each new edit schedules."""
    return [
        result for result in django_tasks.default_task_backend.results if not _is_safety_net(result)
    ]


def _is_safety_net(result) -> bool:
    [edit_id] = result.args
    edit = ContactEdit.objects.get(pk=edit_id)
    return result.task.run_after == edit.created_at + services.ORPHANED_PENDING_AFTER


@pytest.fixture
def agent():
    return user_make(username="agent")


# --- Minimal PATCH bodies ----------------------------------------------------------------------


def test_changing_the_name_sends_only_the_name(sandbox, agent):
    contact = contact_synced(
        sandbox=sandbox, name="Ann Lee", email="ann@example.com", phone_number="+66812345678"
    )

    edit = edit_submit(contact=contact, editor=agent, changes={"name": "Ann Smith"})

    assert patch_bodies(sandbox) == [{"name": "Ann Smith"}]
    assert edit.request_body == {"name": "Ann Smith"}


def test_changing_one_additional_attribute_sends_only_that_key(sandbox, agent):
    contact = contact_synced(
        sandbox=sandbox,
        name="Ann",
        additional_attributes={"city": "Bangkok", "company_name": "Acme", "source_id": "web"},
    )

    edit = edit_submit(
        contact=contact, editor=agent, changes={"additional_attributes.city": "Chiang Mai"}
    )

    assert patch_bodies(sandbox) == [{"additional_attributes": {"city": "Chiang Mai"}}]
    assert edit.request_body == {"additional_attributes": {"city": "Chiang Mai"}}
    contact.refresh_from_db()
    assert contact.additional_attributes == {
        "city": "Chiang Mai",
        "company_name": "Acme",
        "source_id": "web",
    }


def test_changing_one_social_network_sends_all_five_and_keeps_extra_networks(sandbox, agent):
    contact = contact_synced(
        sandbox=sandbox,
        name="Ann",
        additional_attributes={
            "social_profiles": {"github": "ann-old", "twitter": "ann_tw", "mastodon": "@ann"}
        },
    )

    edit = edit_submit(contact=contact, editor=agent, changes={"social_profiles.github": "ann-new"})

    expected = {
        "additional_attributes": {
            "social_profiles": {
                "facebook": "",
                "github": "ann-new",
                "instagram": "",
                "linkedin": "",
                "twitter": "ann_tw",
                "mastodon": "@ann",
            }
        }
    }
    assert patch_bodies(sandbox) == [expected]
    assert edit.request_body == expected
    contact.refresh_from_db()
    assert contact.social_profiles["twitter"] == "ann_tw"
    assert contact.social_profiles["mastodon"] == "@ann"


def test_changing_one_custom_attribute_sends_only_that_key(sandbox, agent):
    contact = contact_synced(
        sandbox=sandbox, name="Ann", custom_attributes={"plan": "gold", "seats": 5, "vip": True}
    )

    edit = edit_submit(contact=contact, editor=agent, changes={"custom_attributes.seats": 7})

    assert patch_bodies(sandbox) == [{"custom_attributes": {"seats": 7}}]
    assert edit.request_body == {"custom_attributes": {"seats": 7}}
    contact.refresh_from_db()
    assert contact.custom_attributes == {"plan": "gold", "seats": 7, "vip": True}


def test_removed_custom_attribute_is_sent_as_null_then_shown_as_absent(sandbox, agent):
    contact = contact_synced(
        sandbox=sandbox, name="Ann", custom_attributes={"plan": "gold", "seats": 5}
    )

    edit = edit_submit(contact=contact, editor=agent, removed=("custom_attributes.plan",))

    assert patch_bodies(sandbox) == [{"custom_attributes": {"plan": None}}]
    assert edit.request_body == {"custom_attributes": {"plan": None}}
    contact.refresh_from_db()
    assert contact.custom_attributes == {"plan": None, "seats": 5}
    assert contact.visible_custom_attributes == {"seats": 5}
    assert "custom_attributes.plan" not in fields.contact_values(contact)


def test_thumbnail_is_sent_as_avatar_url(sandbox, agent):
    contact = contact_synced(sandbox=sandbox, name="Ann")
    url = "https://cdn.example.com/avatars/ann.png"

    edit = edit_submit(contact=contact, editor=agent, changes={"thumbnail": url})

    assert patch_bodies(sandbox) == [{"avatar_url": url}]
    assert edit.request_body == {"avatar_url": url}
    contact.refresh_from_db()
    assert contact.thumbnail == url


def test_blocked_is_sent_as_a_bool(sandbox, agent):
    contact = contact_synced(sandbox=sandbox, name="Ann")

    edit = edit_submit(contact=contact, editor=agent, changes={"blocked": True})

    assert patch_bodies(sandbox) == [{"blocked": True}]
    assert edit.request_body["blocked"] is True
    contact.refresh_from_db()
    assert contact.blocked is True


def test_saving_without_changes_sends_nothing_and_records_nothing(sandbox, agent):
    contact = contact_synced(
        sandbox=sandbox, name="Ann", custom_attributes={"plan": "gold"}, blocked=False
    )

    edit = edit_submit(contact=contact, editor=agent)

    assert edit is None
    assert patch_bodies(sandbox) == []
    assert not ContactEdit.objects.exists()


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
    assert contact.remote_payload == edit.response_body["payload"] == server_truth
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
        }
    ]
    assert edit.editor == agent
    assert edit.editor_username == "agent"
    assert edit.source == ContactEdit.Source.AGENT
    assert edit.base_version == base_version


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
    sandbox.faults.fail_next = 3

    edit = edit_submit(contact=contact, editor=agent, changes={"name": "Ann Smith"})
    services.edit_retry(edit=edit)
    edit = services.edit_retry(edit=edit)

    edit.refresh_from_db()
    assert edit.attempts == 3
    assert edit.state == ContactEdit.State.FAILED
    assert len(patch_bodies(sandbox)) == 3


# --- Retries -----------------------------------------------------------------------------------


@pytest.fixture
def no_client_retries(settings):
    settings.LIVEDESK_RETRIES = 0


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


def test_every_new_edit_schedules_a_safety_net_push_for_if_its_process_stops(
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

    [safety_net] = django_tasks.default_task_backend.results
    assert list(safety_net.args) == [edit.pk]
    assert safety_net.task.run_after == edit.created_at + services.ORPHANED_PENDING_AFTER
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


def test_edit_discarded_while_its_push_was_in_flight_stays_discarded(
    sandbox, agent, no_client_retries, monkeypatch, django_capture_on_commit_callbacks
):
    contact = contact_synced(sandbox=sandbox, name="Ann")
    sandbox.faults.fail_next = 1
    real_contact_update = LiveDeskClient.contact_update

    def contact_update_while_discarded(self, remote_id, changes):
        services.edit_discard(edit=ContactEdit.objects.get(), user=agent)
        return real_contact_update(self, remote_id, changes)

    monkeypatch.setattr(LiveDeskClient, "contact_update", contact_update_while_discarded)

    with django_capture_on_commit_callbacks(execute=True):
        edit = edit_submit(contact=contact, editor=agent, changes={"name": "Ann Smith"})

    edit.refresh_from_db()
    contact.refresh_from_db()
    assert edit.state == ContactEdit.State.DISCARDED
    assert edit.http_status == 503
    assert edit.next_attempt_at is None
    assert retries_enqueued() == []
    assert contact.push_state == Contact.PushState.IN_SYNC


# --- Conflicts (optimistic locking) ------------------------------------------------------------


def test_remote_change_to_the_same_field_is_a_conflict_and_sends_nothing(sandbox, agent):
    contact = contact_synced(sandbox=sandbox, name="Ann", email="ann@example.com")
    opened, opened_version = fields.contact_values(contact), contact.version
    sandbox.store.update_contact(contact.remote_id, {"name": "Ann Theirs"})
    services.contacts_sync()

    submission = edit_submission(
        contact=contact,
        editor=agent,
        changes={"name": "Ann Yours"},
        base_values=opened,
        base_version=opened_version,
    )

    assert submission.outcome == services.EditOutcome.CONFLICT
    assert submission.conflicts == [
        services.FieldConflict(
            field="name", label="Name", base="Ann", theirs="Ann Theirs", yours="Ann Yours"
        )
    ]
    assert patch_bodies(sandbox) == []
    assert not ContactEdit.objects.exists()
    assert sandbox.store.get_contact(contact.remote_id)["name"] == "Ann Theirs"


def test_another_agents_edit_to_the_same_field_is_a_conflict(sandbox, agent):
    contact = contact_synced(sandbox=sandbox, name="Ann", custom_attributes={"plan": "gold"})
    opened, opened_version = fields.contact_values(contact), contact.version
    edit_submit(
        contact=contact,
        editor=user_make(username="colleague"),
        changes={"custom_attributes.plan": "silver"},
    )

    submission = edit_submission(
        contact=contact,
        editor=agent,
        removed=("custom_attributes.plan",),
        base_values=opened,
        base_version=opened_version,
    )

    [field_conflict] = submission.conflicts
    assert (field_conflict.field, field_conflict.base, field_conflict.theirs) == (
        "custom_attributes.plan",
        "gold",
        "silver",
    )
    assert field_conflict.yours is None
    assert patch_bodies(sandbox) == [{"custom_attributes": {"plan": "silver"}}]


def test_change_to_a_different_field_goes_through_without_undoing_the_other(sandbox, agent):
    contact = contact_synced(sandbox=sandbox, name="Ann", additional_attributes={"city": "Bangkok"})
    opened, opened_version = fields.contact_values(contact), contact.version
    sandbox.store.update_contact(contact.remote_id, {"additional_attributes": {"city": "Phuket"}})
    services.contacts_sync()

    edit = edit_submit(
        contact=contact,
        editor=agent,
        changes={"name": "Ann Smith"},
        base_values=opened,
        base_version=opened_version,
    )

    assert patch_bodies(sandbox) == [{"name": "Ann Smith"}]
    assert edit.state == ContactEdit.State.SUCCEEDED
    contact.refresh_from_db()
    assert (contact.name, contact.city) == ("Ann Smith", "Phuket")


def test_social_profile_change_keeps_a_concurrent_change_to_another_network(sandbox, agent):
    contact = contact_synced(
        sandbox=sandbox,
        name="Ann",
        additional_attributes={"social_profiles": {"github": "ann", "twitter": "ann_old"}},
    )
    opened, opened_version = fields.contact_values(contact), contact.version
    edit_submit(
        contact=contact,
        editor=user_make(username="colleague"),
        changes={"social_profiles.twitter": "ann_new"},
    )

    edit_submit(
        contact=contact,
        editor=agent,
        changes={"social_profiles.github": "ann-lee"},
        base_values=opened,
        base_version=opened_version,
    )

    sent_profiles = patch_bodies(sandbox)[-1]["additional_attributes"]["social_profiles"]
    assert (sent_profiles["github"], sent_profiles["twitter"]) == ("ann-lee", "ann_new")
    contact.refresh_from_db()
    assert contact.social_profiles["twitter"] == "ann_new"


def test_same_value_on_both_sides_is_not_a_conflict(sandbox, agent):
    contact = contact_synced(sandbox=sandbox, name="Ann", additional_attributes={"city": "Bangkok"})
    opened, opened_version = fields.contact_values(contact), contact.version
    sandbox.store.update_contact(contact.remote_id, {"name": "Ann Smith"})
    services.contacts_sync()

    edit = edit_submit(
        contact=contact,
        editor=agent,
        changes={"name": "Ann Smith", "additional_attributes.city": "Phuket"},
        base_values=opened,
        base_version=opened_version,
    )

    assert edit.state == ContactEdit.State.SUCCEEDED
    assert patch_bodies(sandbox) == [{"additional_attributes": {"city": "Phuket"}}]
    assert edit.changed_fields == ["additional_attributes.city"]


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


# --- Admin action: block or unblock ------------------------------------------------------------


def test_blocking_contacts_pushes_one_recorded_edit_each(sandbox, agent):
    sandbox.store.create_contact(name="Ann")
    sandbox.store.create_contact(name="Bob")
    services.contacts_sync()

    outcomes = services.contacts_set_blocked(
        contacts=Contact.objects.order_by("remote_id"), blocked=True, editor=agent
    )

    assert [submission.outcome for _contact, submission in outcomes] == [
        services.EditOutcome.SAVED
    ] * 2
    assert patch_bodies(sandbox) == [{"blocked": True}, {"blocked": True}]
    edits = ContactEdit.objects.order_by("contact__remote_id")
    assert [(edit.source, edit.request_body) for edit in edits] == [
        (ContactEdit.Source.ADMIN_ACTION, {"blocked": True})
    ] * 2
    assert list(Contact.objects.values_list("blocked", flat=True)) == [True, True]


def test_blocking_an_already_blocked_contact_records_nothing(sandbox, agent):
    contact = contact_synced(sandbox=sandbox, name="Ann", blocked=True)

    [(_contact, submission)] = services.contacts_set_blocked(
        contacts=[contact], blocked=True, editor=agent
    )

    assert submission.outcome == services.EditOutcome.NO_CHANGE
    assert submission.edit is None
    assert patch_bodies(sandbox) == []
    assert not ContactEdit.objects.exists()


def test_a_history_row_reads_as_who_changed_which_fields_of_whom(sandbox, agent):
    contact = contact_synced(sandbox=sandbox, name="Ann")

    edit = edit_submit(
        contact=contact,
        editor=agent,
        changes={"additional_attributes.city": "Khon Kaen", "social_profiles.github": "ann"},
    )

    assert str(edit) == "agent changed City, GitHub of Ann (succeeded)"
