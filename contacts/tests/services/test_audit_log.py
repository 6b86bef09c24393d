"""The audit log (issue #10), proven through the app's real flows against the sandbox: each fact
is written with its event, in the fact's own transaction; the database refuses to change or
delete an event; the upgrade turns existing edit history into the chain's first events."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from django.conf import settings as django_settings
from django.db import DatabaseError, IntegrityError, ProgrammingError, connection, transaction
from django.db.migrations.executor import MigrationExecutor
from django.urls import reverse
from django.utils import timezone

from contacts import services
from contacts.audit_chain import GENESIS, ROW_COLUMNS, at_text
from contacts.fields import contact_values
from contacts.models import AuditEvent, Contact, ContactEdit, CustomAttributeDefinition
from contacts.sandbox.webhooks import contact_updated_event
from contacts.services import audit
from contacts.tests.factories import (
    CONTACTS_PATH,
    api_requests,
    audit_chain_checked,
    audit_events,
    contact_synced,
    edit_failed_transiently,
    edit_recorded_unsent,
    edit_submission,
    edit_submit,
    patch_bodies,
    user_make,
)

pytestmark = pytest.mark.django_db

Kind = audit.EventKind
State = ContactEdit.State


def kinds(events: list[AuditEvent]) -> list[str]:
    return [event.kind for event in events]


def changes_of(event: AuditEvent) -> dict[str, tuple]:
    return {row["field"]: (row["before"], row["after"]) for row in event.values["changes"]}


# --- Every kind of event, written with its fact ------------------------------------------------


def test_an_agents_edit_is_recorded_with_who_the_source_the_changes_and_the_body_to_send(
    sandbox, agent
):
    contact = contact_synced(sandbox=sandbox, name="Ann", email="ann@example.com")

    edit = edit_submit(
        contact=contact, editor=agent, changes={"name": "Ann Lee", "email": "ann@acme.example"}
    )

    recorded, delivered = audit_events(edit_id=edit.pk)
    assert (recorded.kind, delivered.kind) == (Kind.EDIT_RECORDED, Kind.EDIT_DELIVERED)
    assert (recorded.actor, recorded.contact_remote_id) == ("agent", contact.remote_id)
    assert changes_of(recorded) == {
        "name": ("Ann", "Ann Lee"),
        "email": ("ann@example.com", "ann@acme.example"),
    }
    assert recorded.values == {
        "source": "agent",
        "base_version": contact.version,
        "changes": edit.changes,
        "request_body": {"name": "Ann Lee", "email": "ann@acme.example"},
        "carries": [],
    }
    assert audit_chain_checked().ok


def test_a_delivery_is_recorded_with_the_read_the_exact_patch_and_livedesks_answer(sandbox, agent):
    contact = contact_synced(sandbox=sandbox, name="Ann")
    sandbox.faults.latency_ms = 40  # every call takes at least this long
    sandbox.clear_recorded()

    edit = edit_submit(contact=contact, editor=agent, changes={"name": "Ann Lee"})

    _recorded, delivered = audit_events(edit_id=edit.pk)
    data = delivered.values
    path = f"{CONTACTS_PATH}/{contact.remote_id}"
    [read] = api_requests(sandbox, "GET")
    [patch] = api_requests(sandbox, "PATCH")
    assert read["path"] == patch["path"] == path
    assert (data["read"]["method"], data["read"]["path"]) == ("GET", path)
    assert (data["read"]["body"]["id"], data["read"]["body"]["name"]) == (contact.remote_id, "Ann")
    assert data["request"] == {
        "method": "PATCH",
        "path": path,
        "body": patch["body"],
        "ms": data["request"]["ms"],
    }
    assert patch["body"] == {"name": "Ann Lee"}
    assert data["read"]["ms"] >= 40 and data["request"]["ms"] >= 40
    assert data["response"]["status"] == 200
    assert data["response"]["body"]["name"] == "Ann Lee"
    assert (data["error"], data["attempt"], data["state"]) == (None, 1, "succeeded")
    assert data["next_attempt_at"] is None


FAULTS = {
    "503 on the PATCH": ({"methods": "PATCH", "fail_next": 1, "failure_status": 503}, 503, True),
    "timeout on the PATCH": ({"methods": "PATCH", "hang_next": 1, "hang_seconds": 5}, None, True),
    "503 on the read": ({"methods": "GET", "fail_next": 1, "failure_status": 503}, 503, False),
}


@pytest.mark.parametrize("fault", FAULTS)
def test_a_failed_attempt_is_recorded_with_its_error_and_when_it_is_tried_next(
    sandbox, agent, settings, no_client_retries, fault
):
    faults, status, patched = FAULTS[fault]
    settings.LIVEDESK_TIMEOUT = (1.0, 0.3)
    contact = contact_synced(sandbox=sandbox, name="Ann")
    for name, value in faults.items():
        setattr(sandbox.faults, name, value)

    edit = edit_submit(contact=contact, editor=agent, changes={"name": "Ann Lee"})

    edit.refresh_from_db()
    assert kinds(audit_events(edit_id=edit.pk)) == [Kind.EDIT_RECORDED, Kind.EDIT_ATTEMPT_FAILED]
    data = audit_events(edit_id=edit.pk)[-1].values
    assert data["error"]["status"] == status
    assert data["error"]["message"] == edit.error_message != ""
    assert (data["state"], data["failure_kind"]) == ("failed", "transient")
    assert edit.next_attempt_at is not None
    assert data["next_attempt_at"] == at_text(edit.next_attempt_at)
    assert data["response"] is None
    if patched:
        assert data["request"]["body"] == {"name": "Ann Lee"}
        assert data["read"]["body"]["name"] == "Ann"
    else:
        assert data["request"] is None and patch_bodies(sandbox) == []
        assert data["read"]["body"] is None


def test_each_attempt_is_an_event_of_its_own(sandbox, agent, no_client_retries):
    contact = contact_synced(sandbox=sandbox, name="Ann")
    sandbox.faults.methods = "PATCH"
    sandbox.faults.fail_next = 1
    edit = edit_submit(contact=contact, editor=agent, changes={"name": "Ann Lee"})

    services.edits_push_due(now=timezone.now() + timedelta(hours=1))

    events = audit_events(edit_id=edit.pk)
    assert kinds(events) == [Kind.EDIT_RECORDED, Kind.EDIT_ATTEMPT_FAILED, Kind.EDIT_DELIVERED]
    assert [event.values.get("attempt") for event in events] == [None, 1, 2]
    assert audit_chain_checked().ok


def test_a_rejection_is_recorded_with_livedesks_status_and_answer(sandbox, agent):
    sandbox.store.create_contact(name="Bob", email="bob@example.com")
    contact = contact_synced(sandbox=sandbox, name="Ann", email="ann@example.com")

    edit = edit_submit(contact=contact, editor=agent, changes={"email": "BOB@example.com"})

    _recorded, rejected = audit_events(edit_id=edit.pk)
    data = rejected.values
    assert rejected.kind == Kind.EDIT_ATTEMPT_FAILED
    assert data["error"] == {
        "status": 422,
        "message": "Email has already been taken",
        "body": {"message": "Email has already been taken", "attributes": ["email"]},
    }
    assert data["request"]["body"] == {"email": "BOB@example.com"}
    assert (data["state"], data["failure_kind"], data["next_attempt_at"]) == (
        "failed",
        "permanent",
        None,
    )


def test_a_conflict_is_recorded_with_the_read_that_found_it_and_nothing_sent(sandbox, agent):
    contact = contact_synced(sandbox=sandbox, name="Ann")
    edit = edit_recorded_unsent(contact=contact, editor=agent, changes={"name": "Ann Lee"})
    sandbox.store.update_contact(contact.remote_id, {"name": "Ann (LiveDesk)"})

    result = services.edit_push(edit_id=edit.pk)

    assert result.outcome == services.Push.CONFLICT
    recorded, seen, conflict = audit_events(contact_remote_id=contact.remote_id)
    assert kinds([recorded, seen, conflict]) == [
        Kind.EDIT_RECORDED,
        Kind.OUTSIDE_CHANGE,
        Kind.EDIT_CONFLICT,
    ]
    assert conflict.edit_id == edit.pk
    data = conflict.values
    assert data["conflicts"] == ["name"]
    assert data["read"]["body"]["name"] == "Ann (LiveDesk)"
    assert data["request"] is None and patch_bodies(sandbox) == []
    assert (data["state"], data["failure_kind"]) == ("failed", "conflict")
    assert (seen.values["seen_via"], changes_of(seen)) == (
        "push",
        {"name": ("Ann", "Ann (LiveDesk)")},
    )


def test_a_discard_is_recorded_with_who_gave_the_edit_up(sandbox, agent):
    contact = contact_synced(sandbox=sandbox, name="Ann")
    edit = edit_failed_transiently(
        sandbox=sandbox, contact=contact, editor=agent, changes={"name": "Ann Lee"}
    )

    services.edit_discard(edit=edit, user=user_make(username="lead"))

    events = audit_events(edit_id=edit.pk)
    assert kinds(events) == [Kind.EDIT_RECORDED, Kind.EDIT_ATTEMPT_FAILED, Kind.EDIT_DISCARDED]
    assert (events[-1].actor, events[-1].values) == ("lead", {"reason": ""})


def test_a_conflict_shown_to_the_agent_is_recorded_then_discarded_with_the_reason(sandbox, agent):
    contact = contact_synced(sandbox=sandbox, name="Ann")
    opened_version = contact.version
    sandbox.store.update_contact(contact.remote_id, {"name": "Ann (LiveDesk)"})

    submission = edit_submission(
        contact=contact, editor=agent, changes={"name": "Ann Lee"}, base_version=opened_version
    )

    assert submission.outcome == services.EditOutcome.CONFLICT
    events = audit_events(edit_id=submission.edit.pk)
    assert kinds(events) == [Kind.EDIT_RECORDED, Kind.EDIT_CONFLICT, Kind.EDIT_DISCARDED]
    assert events[-1].actor == "agent"
    assert events[-1].values["reason"].startswith("LiveDesk changed Name just before it was sent")


def test_an_edit_carried_into_a_newer_one_is_recorded_as_superseded_by_it(sandbox, agent):
    contact = contact_synced(sandbox=sandbox, name="Ann", additional_attributes={"city": "Krabi"})
    queued = edit_failed_transiently(
        sandbox=sandbox,
        contact=contact,
        editor=user_make(username="colleague"),
        changes={"additional_attributes.city": "Phuket"},
    )

    newer = edit_submit(contact=contact, editor=agent, changes={"name": "Ann Lee"})

    queued_events = audit_events(edit_id=queued.pk)
    assert kinds(queued_events) == [
        Kind.EDIT_RECORDED,
        Kind.EDIT_ATTEMPT_FAILED,
        Kind.EDIT_SUPERSEDED,
    ]
    superseded = queued_events[-1]
    assert (superseded.actor, superseded.values) == ("agent", {"carried_into": newer.pk})
    recorded, delivered = audit_events(edit_id=newer.pk)
    assert recorded.values["carries"] == [queued.pk]
    assert recorded.seq + 1 == superseded.seq  # written together, in one transaction
    sent = delivered.values["request"]["body"]
    assert (sent["name"], sent["additional_attributes"]["city"]) == ("Ann Lee", "Phuket")


def test_a_reopened_edit_resent_is_recorded_as_superseded_by_its_replacement(sandbox, agent):
    contact = contact_synced(sandbox=sandbox, name="Ann")
    failed = edit_failed_transiently(
        sandbox=sandbox, contact=contact, editor=agent, changes={"name": "Ann Le"}
    )
    opened = {**contact_values(contact), "name": "Ann Le"}

    resent = services.contact_edit_record(
        contact=contact,
        editor=agent,
        values={**opened, "name": "Ann Lee"},
        base_values=contact_values(contact),
        opened_values=opened,
        base_version=contact.version,
        replaces=failed,
        source=ContactEdit.Source.AGENT,
    )

    superseded = audit_events(edit_id=failed.pk)[-1]
    assert (superseded.kind, superseded.values) == (
        Kind.EDIT_SUPERSEDED,
        {"carried_into": resent.pk},
    )
    assert audit_events(edit_id=resent.pk)[0].values["carries"] == [failed.pk]


WEBHOOK_SECRET = "test-webhook-secret-audit"


def _seen_by_sync(**_) -> None:
    services.contacts_sync()


def _seen_by_refresh(*, contact, **_) -> None:
    services.contact_refresh(contact=contact)


def _seen_by_webhook(*, client, settings, event, **_) -> None:
    settings.LIVEDESK_WEBHOOK_SECRET = WEBHOOK_SECRET
    settings.LIVEDESK_WEBHOOK_MAX_SKEW_SECONDS = 300
    response = client.post(
        f"/webhooks/livedesk/?token={WEBHOOK_SECRET}",
        data=json.dumps(event),
        content_type="application/json",
    )
    assert response.json()["status"] == "applied"


def _seen_by_the_read_before_a_push(*, contact, agent, **_) -> None:
    edit = edit_submit(contact=contact, editor=agent, changes={"email": "ann@acme.example"})
    assert edit.state == State.SUCCEEDED


SEEN_VIA = {
    ContactEdit.SeenVia.SYNC: _seen_by_sync,
    ContactEdit.SeenVia.REFRESH: _seen_by_refresh,
    ContactEdit.SeenVia.WEBHOOK: _seen_by_webhook,
    ContactEdit.SeenVia.PUSH: _seen_by_the_read_before_a_push,
}


@pytest.mark.parametrize("seen_via", SEEN_VIA)
def test_an_outside_change_is_recorded_with_how_it_was_seen(
    sandbox, agent, client, settings, seen_via
):
    contact = contact_synced(sandbox=sandbox, name="Ann", email="ann@example.com")
    version = contact.version
    before = sandbox.store.get_contact(contact.remote_id, include_contact_inboxes=False)
    after = sandbox.store.update_contact(contact.remote_id, {"name": "Ann (LiveDesk)"})

    SEEN_VIA[seen_via](
        contact=contact,
        agent=agent,
        client=client,
        settings=settings,
        event=contact_updated_event(before, after),
    )

    [seen] = audit_events(kind=Kind.OUTSIDE_CHANGE)
    row = ContactEdit.objects.get(source=ContactEdit.Source.LIVEDESK)
    assert (seen.contact_remote_id, seen.edit_id, seen.actor) == (contact.remote_id, row.pk, "")
    # The mirror's version that first held the change, however it was seen.
    assert seen.values == {"seen_via": seen_via, "changes": row.changes, "version": version + 1}
    assert row.base_version == version + 1
    assert changes_of(seen) == {"name": ("Ann", "Ann (LiveDesk)")}
    assert audit_chain_checked().ok


DEFINITION_ADD_URL = reverse("admin:contacts_customattributedefinition_add")
DEFINITIONS_URL = reverse("admin:contacts_customattributedefinition_changelist")


def definition_form(**fields) -> dict:
    return {
        "key": "plan",
        "label": "Plan",
        "attribute_type": "list",
        "list_options": "free\npro",
        "regex_pattern": "",
        "regex_hint": "",
        "description": "",
        "position": "0",
        **fields,
    }


def plan_defined() -> CustomAttributeDefinition:
    return CustomAttributeDefinition.objects.create(
        key="plan", label="Plan", attribute_type="list", list_options=["free", "pro"]
    )


def test_a_definition_created_in_the_admin_is_recorded_with_its_values(admin_client, admin_user):
    response = admin_client.post(DEFINITION_ADD_URL, definition_form())

    assert response.status_code == 302
    [saved] = audit_events()
    assert (saved.kind, saved.actor, saved.contact_remote_id, saved.edit_id) == (
        Kind.DEFINITION_SAVED,
        admin_user.get_username(),
        None,
        None,
    )
    assert saved.values == {
        "key": "plan",
        "created": True,
        "changes": {
            "key": [None, "plan"],
            "label": [None, "Plan"],
            "attribute_type": [None, "list"],
            "list_options": [None, ["free", "pro"]],
            "regex_pattern": [None, ""],
            "regex_hint": [None, ""],
            "description": [None, ""],
            "position": [None, 0],
        },
    }


def test_a_definition_changed_in_the_admin_is_recorded_with_the_fields_that_changed(
    admin_client,
):
    definition = plan_defined()
    change_url = reverse("admin:contacts_customattributedefinition_change", args=[definition.pk])

    response = admin_client.post(
        change_url, definition_form(label="Plan level", list_options="free\npro\nteam")
    )

    assert response.status_code == 302
    [saved] = audit_events()
    assert (saved.kind, saved.actor) == (Kind.DEFINITION_SAVED, "admin")
    assert saved.values == {
        "key": "plan",
        "created": False,
        "changes": {
            "label": ["Plan", "Plan level"],
            "list_options": [["free", "pro"], ["free", "pro", "team"]],
        },
    }


def test_a_definitions_order_changed_in_the_admins_list_is_recorded(admin_client):
    definition = plan_defined()

    response = admin_client.post(
        DEFINITIONS_URL,
        {
            "form-TOTAL_FORMS": "1",
            "form-INITIAL_FORMS": "1",
            "form-0-id": str(definition.pk),
            "form-0-position": "5",
            "_save": "Save",
        },
    )

    assert response.status_code == 302
    [saved] = audit_events()
    assert saved.values == {"key": "plan", "created": False, "changes": {"position": [0, 5]}}


def test_a_definition_deleted_in_the_admin_is_recorded_with_what_it_was(admin_client):
    definition = plan_defined()
    delete_url = reverse("admin:contacts_customattributedefinition_delete", args=[definition.pk])

    response = admin_client.post(delete_url, {"post": "yes"})

    assert response.status_code == 302
    assert not CustomAttributeDefinition.objects.exists()
    [deleted] = audit_events()
    assert (deleted.kind, deleted.actor) == (Kind.DEFINITION_DELETED, "admin")
    assert deleted.values == {
        "key": "plan",
        "values": {
            "key": "plan",
            "label": "Plan",
            "attribute_type": "list",
            "list_options": ["free", "pro"],
            "regex_pattern": "",
            "regex_hint": "",
            "description": "",
            "position": 0,
        },
    }


def test_definitions_deleted_together_from_the_admins_list_are_each_recorded(admin_client):
    plan = plan_defined()
    tier = CustomAttributeDefinition.objects.create(key="tier", label="Tier")

    response = admin_client.post(
        DEFINITIONS_URL,
        {"action": "delete_selected", "_selected_action": [plan.pk, tier.pk], "post": "yes"},
    )

    assert response.status_code == 302
    assert not CustomAttributeDefinition.objects.exists()
    deleted = audit_events()
    assert kinds(deleted) == [Kind.DEFINITION_DELETED] * 2
    assert sorted(event.values["key"] for event in deleted) == ["plan", "tier"]


# --- One transaction: the fact and its event, or neither ----------------------------------------


def fail_after_the_event(monkeypatch, kind: str) -> list[AuditEvent]:
    """From now on `events_append` writes its events, then, once it has written one of `kind`,
    the transaction they are in fails. Answers the events it wrote (all rolled back)."""
    append = audit.events_append
    written: list[AuditEvent] = []

    def append_then_fail(events):
        rows = append(events)
        assert AuditEvent.objects.filter(seq__in=[row.seq for row in rows]).count() == len(rows)
        written.extend(rows)
        if kind in kinds(rows):
            raise RuntimeError("the transaction failed after the event was written")
        return rows

    monkeypatch.setattr(audit, "events_append", append_then_fail)
    return written


def refuse_events(monkeypatch) -> None:
    """From now on `events_append` fails before it writes an event."""

    def refuse(**_event):
        raise RuntimeError("the event could not be written")

    monkeypatch.setattr(audit, "event_hash", refuse)


def test_an_edit_whose_transaction_fails_after_its_event_leaves_neither(
    sandbox, agent, monkeypatch
):
    contact = contact_synced(sandbox=sandbox, name="Ann")
    written = fail_after_the_event(monkeypatch, Kind.EDIT_RECORDED)

    with pytest.raises(RuntimeError):
        edit_recorded_unsent(contact=contact, editor=agent, changes={"name": "Ann Lee"})

    assert kinds(written) == [Kind.EDIT_RECORDED]
    assert not ContactEdit.objects.exists()
    assert not AuditEvent.objects.exists()
    assert Contact.objects.get(pk=contact.pk).push_state == Contact.PushState.IN_SYNC


def _delivered(sandbox, contact) -> None:
    pass


def _failed(sandbox, contact) -> None:
    sandbox.faults.methods = "PATCH"
    sandbox.faults.fail_next = 1


def _conflicting(sandbox, contact) -> None:
    sandbox.store.update_contact(contact.remote_id, {"name": "Ann (LiveDesk)"})


PUSH_OUTCOMES = {
    Kind.EDIT_DELIVERED: _delivered,
    Kind.EDIT_ATTEMPT_FAILED: _failed,
    Kind.EDIT_CONFLICT: _conflicting,
}


def assert_push_outcome_not_written(edit: ContactEdit, contact: Contact) -> None:
    """The edit as its push's claim left it (leased, attempt 1); the mirror as it was; the log
    holds only the edit's recording."""
    edit.refresh_from_db()
    assert (edit.state, edit.attempts, edit.http_status, edit.error_message) == (
        State.PENDING,
        1,
        None,
        "",
    )
    assert not ContactEdit.objects.filter(source=ContactEdit.Source.LIVEDESK).exists()
    stored = Contact.objects.get(pk=contact.pk)
    assert (stored.name, stored.version, stored.push_state) == (
        "Ann",
        contact.version,
        Contact.PushState.PENDING,
    )
    assert kinds(audit_events()) == [Kind.EDIT_RECORDED]


@pytest.mark.parametrize("outcome", PUSH_OUTCOMES)
def test_a_push_outcome_whose_transaction_fails_after_its_event_leaves_neither(
    sandbox, agent, no_client_retries, monkeypatch, outcome
):
    contact = contact_synced(sandbox=sandbox, name="Ann")
    edit = edit_recorded_unsent(contact=contact, editor=agent, changes={"name": "Ann Lee"})
    PUSH_OUTCOMES[outcome](sandbox, contact)
    written = fail_after_the_event(monkeypatch, outcome)

    with pytest.raises(RuntimeError):
        services.edit_push(edit_id=edit.pk)

    assert kinds(written)[-1] == outcome
    assert_push_outcome_not_written(edit, contact)


def test_an_edit_whose_event_cannot_be_written_is_not_recorded(sandbox, agent, monkeypatch):
    contact = contact_synced(sandbox=sandbox, name="Ann")
    refuse_events(monkeypatch)

    with pytest.raises(RuntimeError):
        edit_recorded_unsent(contact=contact, editor=agent, changes={"name": "Ann Lee"})

    assert not ContactEdit.objects.exists()
    contact.refresh_from_db()
    assert (contact.pending_edits, contact.push_state) == (0, Contact.PushState.IN_SYNC)


@pytest.mark.parametrize("outcome", PUSH_OUTCOMES)
def test_a_push_outcome_whose_event_cannot_be_written_leaves_the_edit_as_it_was(
    sandbox, agent, no_client_retries, monkeypatch, outcome
):
    contact = contact_synced(sandbox=sandbox, name="Ann")
    edit = edit_recorded_unsent(contact=contact, editor=agent, changes={"name": "Ann Lee"})
    PUSH_OUTCOMES[outcome](sandbox, contact)
    refuse_events(monkeypatch)

    with pytest.raises(RuntimeError):
        services.edit_push(edit_id=edit.pk)

    assert_push_outcome_not_written(edit, contact)


def test_a_discard_whose_event_cannot_be_written_leaves_the_edit_failed(
    sandbox, agent, monkeypatch
):
    contact = contact_synced(sandbox=sandbox, name="Ann")
    edit = edit_failed_transiently(
        sandbox=sandbox, contact=contact, editor=agent, changes={"name": "Ann Lee"}
    )
    refuse_events(monkeypatch)

    with pytest.raises(RuntimeError):
        services.edit_discard(edit=edit, user=agent)

    edit.refresh_from_db()
    assert edit.state == State.FAILED
    assert Contact.objects.get(pk=contact.pk).push_state == Contact.PushState.FAILED


def test_an_outside_change_whose_event_cannot_be_written_leaves_the_mirror_as_it_was(
    sandbox, monkeypatch
):
    contact = contact_synced(sandbox=sandbox, name="Ann")
    sandbox.store.update_contact(contact.remote_id, {"name": "Ann (LiveDesk)"})
    refuse_events(monkeypatch)

    with pytest.raises(RuntimeError):
        services.contact_refresh(contact=contact)

    assert not ContactEdit.objects.exists()
    stored = Contact.objects.get(pk=contact.pk)
    assert (stored.name, stored.version) == ("Ann", contact.version)


def test_a_definition_whose_event_cannot_be_written_is_not_saved(admin_client, monkeypatch):
    refuse_events(monkeypatch)

    with pytest.raises(RuntimeError):
        admin_client.post(DEFINITION_ADD_URL, definition_form())

    assert not CustomAttributeDefinition.objects.exists()


# --- The database refuses to change or delete an event ------------------------------------------


@pytest.fixture
def logged() -> list[AuditEvent]:
    return audit.events_append(
        [audit.Event("test.event", {"n": n}, actor="ann") for n in (1, 2, 3)]
    )


def stored_rows() -> list[tuple]:
    return list(AuditEvent.objects.order_by("seq").values_list(*ROW_COLUMNS))


def assert_refused_by_the_database(refused: pytest.ExceptionInfo, operation: str) -> None:
    """The error each engine's trigger raises: SQLite's RAISE(ABORT) is a constraint failure;
    PostgreSQL's RAISE EXCEPTION (SQLSTATE P0001), a programming error to psycopg."""
    if connection.vendor == "postgresql":
        assert refused.type is ProgrammingError
        assert f"Cannot {operation.lower()} rows from contacts_auditevent table" in str(
            refused.value
        )
    else:
        assert refused.type is IntegrityError
        assert f"The audit log is append-only: {operation} refused" in str(refused.value)


SQL = {
    "UPDATE one event": (
        "UPDATE",
        "UPDATE contacts_auditevent SET actor = 'mallory' WHERE seq = 2",
    ),
    "UPDATE every event": ("UPDATE", "UPDATE contacts_auditevent SET data = '{}'"),
    "DELETE one event": ("DELETE", "DELETE FROM contacts_auditevent WHERE seq = 3"),
    "DELETE every event": ("DELETE", "DELETE FROM contacts_auditevent"),
}


@pytest.mark.parametrize("statement", SQL)
def test_the_database_refuses_raw_sql_that_changes_or_deletes_events(logged, statement):
    operation, sql = SQL[statement]
    before = stored_rows()

    with pytest.raises(DatabaseError) as refused, transaction.atomic(), connection.cursor() as db:
        db.execute(sql)

    assert_refused_by_the_database(refused, operation)
    assert stored_rows() == before
    assert audit_chain_checked().count == 3


def test_postgresql_refuses_to_truncate_the_log(logged):
    if connection.vendor != "postgresql":
        pytest.skip("SQLite has no TRUNCATE: its DELETE without WHERE is refused (above)")

    with (
        pytest.raises(DatabaseError, match="Cannot truncate"),
        transaction.atomic(),
        connection.cursor() as db,
    ):
        db.execute("TRUNCATE contacts_auditevent")

    assert AuditEvent.objects.count() == 3


def _update_through_the_base_manager() -> None:
    AuditEvent._base_manager.filter(seq=2).update(actor="mallory")


def _delete_through_the_base_manager() -> None:
    AuditEvent._base_manager.filter(seq=2).delete()


BYPASSES = {
    "UPDATE": _update_through_the_base_manager,
    "DELETE": _delete_through_the_base_manager,
}


@pytest.mark.parametrize("operation", BYPASSES)
def test_the_database_refuses_the_orm_past_the_models_guard(logged, operation):
    before = stored_rows()

    with pytest.raises(DatabaseError) as refused, transaction.atomic():
        BYPASSES[operation]()

    assert_refused_by_the_database(refused, operation)
    assert stored_rows() == before


def test_a_new_object_saved_over_an_event_is_refused(logged):
    stored = AuditEvent.objects.get(seq=2)
    forged = {name: getattr(stored, name) for name in ROW_COLUMNS if name != "actor"}
    before = stored_rows()

    # Django saves an object whose key is set with an UPDATE first: the trigger refuses it.
    with pytest.raises(DatabaseError) as refused, transaction.atomic():
        AuditEvent(**forged, actor="mallory").save()

    assert_refused_by_the_database(refused, "UPDATE")
    assert stored_rows() == before


def _queryset_update() -> None:
    AuditEvent.objects.filter(seq=2).update(actor="mallory")


def _queryset_delete() -> None:
    AuditEvent.objects.filter(seq=2).delete()


def _instance_save() -> None:
    event = AuditEvent.objects.get(seq=2)
    event.actor = "mallory"
    event.save()


def _instance_delete() -> None:
    AuditEvent.objects.get(seq=2).delete()


ORM_WRITES = {
    "queryset update": _queryset_update,
    "queryset delete": _queryset_delete,
    "instance save": _instance_save,
    "instance delete": _instance_delete,
}


@pytest.mark.parametrize("write", ORM_WRITES)
def test_the_models_refuse_to_change_or_delete_an_event(logged, write):
    before = stored_rows()

    with pytest.raises(PermissionError, match="The audit log is append-only"):
        ORM_WRITES[write]()

    assert stored_rows() == before


# --- The upgrade: existing edit history becomes the chain's first events ------------------------


@pytest.mark.django_db(transaction=True)
def test_the_upgrade_turns_existing_edit_history_into_chained_events_in_order():
    before, after = ("contacts", "0008_list_facets"), ("contacts", "0009_audit_log")
    start = timezone.now() - timedelta(days=3)

    def at(minutes: int):
        return start + timedelta(minutes=minutes)

    executor = MigrationExecutor(connection)
    try:
        executor.migrate([before])
        apps = executor.loader.project_state([before]).apps
        old_contact = apps.get_model("contacts", "Contact")
        old_edit = apps.get_model("contacts", "ContactEdit")
        old_user = apps.get_model(django_settings.AUTH_USER_MODEL)
        lead = old_user.objects.create(username="lead")
        ann = old_contact.objects.create(remote_id=501, name="Ann Lee")
        bob = old_contact.objects.create(remote_id=502, name="Bob")

        def edit(contact, minutes: int, **fields):
            change = {"field": "name", "label": "Name", "before": "A", "after": f"B{minutes}"}
            values = {
                "editor_username": "agent",
                "source": "agent",
                "request_body": {"name": change["after"]},
                **fields,
            }
            return old_edit.objects.create(
                contact=contact, base_version=1, changes=[change], created_at=at(minutes), **values
            )

        # Made out of time order: the events follow the time each was recorded.
        pending = edit(ann, 50)
        delivered = edit(
            ann,
            10,
            state="succeeded",
            attempts=1,
            last_attempt_at=at(11),
            http_status=200,
            response_body={"payload": {"id": 501, "name": "B10"}},
            livedesk_before={"id": 501, "name": "A"},
            finished_at=at(11),
        )
        failing = edit(
            bob,
            20,
            state="failed",
            failure_kind="transient",
            attempts=2,
            last_attempt_at=at(22),
            http_status=503,
            error_message="LiveDesk is unavailable",
        )
        conflicted = edit(
            bob,
            30,
            state="failed",
            failure_kind="conflict",
            attempts=1,
            last_attempt_at=at(31),
            error_message="Changed by someone else",
        )
        discarded = edit(bob, 40, state="discarded", finished_at=at(41), finished_by=lead)
        carried = edit(
            ann, 45, state="superseded", carried_into=pending, finished_at=at(50), finished_by=lead
        )
        seen = edit(
            ann,
            5,
            editor_username="LiveDesk",
            source="livedesk",
            seen_via="sync",
            request_body={},
            state="succeeded",
        )
        executor = MigrationExecutor(connection)
        executor.migrate([after])
    finally:
        executor = MigrationExecutor(connection)
        executor.migrate(executor.loader.graph.leaf_nodes())

    expected = [
        (seen.pk, Kind.OUTSIDE_CHANGE, ""),
        (delivered.pk, Kind.EDIT_RECORDED, "agent"),
        (delivered.pk, Kind.EDIT_DELIVERED, ""),
        (failing.pk, Kind.EDIT_RECORDED, "agent"),
        (failing.pk, Kind.EDIT_ATTEMPT_FAILED, ""),
        (conflicted.pk, Kind.EDIT_RECORDED, "agent"),
        (conflicted.pk, Kind.EDIT_CONFLICT, ""),
        (discarded.pk, Kind.EDIT_RECORDED, "agent"),
        (discarded.pk, Kind.EDIT_DISCARDED, "lead"),
        (carried.pk, Kind.EDIT_RECORDED, "agent"),
        (carried.pk, Kind.EDIT_SUPERSEDED, "lead"),
        (pending.pk, Kind.EDIT_RECORDED, "agent"),
    ]
    events = audit_events()
    assert [(event.edit_id, event.kind, event.actor) for event in events] == expected
    assert [event.seq for event in events] == list(range(1, len(expected) + 1))
    report = audit_chain_checked()
    assert (report.ok, report.count, report.head) == (True, len(expected), events[-1].hash)
    assert events[0].prev_hash == GENESIS
    by_kind = {(event.edit_id, event.kind): event for event in events}
    recorded = by_kind[(delivered.pk, Kind.EDIT_RECORDED)]
    assert recorded.values["changes"] == delivered.changes
    assert recorded.contact_remote_id == 501
    assert by_kind[(delivered.pk, Kind.EDIT_DELIVERED)].values["response"]["status"] == 200
    assert by_kind[(carried.pk, Kind.EDIT_SUPERSEDED)].values["carried_into"] == pending.pk
    assert all(event.values["migrated"] for event in events)

    # The first event written after the upgrade goes on from the migrated head.
    [appended] = audit.events_append([audit.Event("test.event")])
    assert (appended.seq, appended.prev_hash) == (len(expected) + 1, events[-1].hash)
    assert audit_chain_checked().ok
