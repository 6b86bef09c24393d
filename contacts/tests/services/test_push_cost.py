"""What a push costs the database, pinned: statements and commits on the happy path; and the
contact's push state, kept from counts on its row by every transition, never recounted."""

from __future__ import annotations

import importlib
from collections import Counter
from contextlib import contextmanager
from types import SimpleNamespace

import pytest
from django.apps import apps
from django.db import DEFAULT_DB_ALIAS, connection, connections
from django.test.utils import CaptureQueriesContext

from contacts import services
from contacts.fields import contact_values
from contacts.models import Contact, ContactEdit
from contacts.tests.factories import contact_synced, edit_submission

pytestmark = pytest.mark.django_db

PushState = Contact.PushState
State = ContactEdit.State
TRANSACTION_CONTROL = ("BEGIN", "COMMIT", "ROLLBACK", "SAVEPOINT", "RELEASE SAVEPOINT")


@contextmanager
def database_work(monkeypatch):
    """The statements run (transaction control left out: engines differ in showing it) and the
    transactions committed within the block."""
    connection = connections[DEFAULT_DB_ALIAS]
    work = SimpleNamespace(statements=[], commits=0)
    commit = connection.commit

    def commit_counted():
        work.commits += 1
        commit()

    monkeypatch.setattr(connection, "commit", commit_counted)
    with CaptureQueriesContext(connection) as captured:
        yield work
    monkeypatch.undo()
    work.statements = [
        query["sql"]
        for query in captured.captured_queries
        if not query["sql"].upper().startswith(TRANSACTION_CONTROL)
    ]


def edit_recorded(*, contact: Contact, editor, **changes) -> ContactEdit:
    contact.refresh_from_db()
    values = contact_values(contact)
    return services.contact_edit_record(
        contact=contact,
        editor=editor,
        values={**values, **changes},
        base_values=values,
        base_version=contact.version,
        source=ContactEdit.Source.AGENT,
    )


@pytest.mark.django_db(transaction=True)
def test_a_happy_path_push_is_six_statements_in_two_commits(sandbox, agent, monkeypatch):
    """Six statements of its own, and the audit log's append after each transaction's fact."""
    contact = contact_synced(sandbox=sandbox, name="Ann")
    with database_work(monkeypatch) as recording:
        edit = edit_recorded(contact=contact, editor=agent, name="Ann Lee")

    with database_work(monkeypatch) as push:
        result = services.edit_push(edit_id=edit.pk)

    assert result.outcome == services.Push.DELIVERED
    # The contact read again by the test's helper, then lock, insert, counts; the event.
    assert (len(recording.statements), recording.commits) == (4 + audit_append(), 1)
    # Claim: lock the contact, read its unfinished edits, lease. Outcome: lock the contact,
    # the edit's outcome, the mirror with the push state; the attempt's event.
    assert (len(push.statements), push.commits) == (6 + audit_append(), 2), "\n".join(
        push.statements
    )
    assert contact_push_state_checked(contact) == PushState.IN_SYNC


@pytest.mark.django_db(transaction=True)
def test_a_saved_edit_is_six_statements_in_two_commits_and_enqueues_nothing(
    sandbox, agent, monkeypatch
):
    import django_tasks

    contact = contact_synced(sandbox=sandbox, name="Ann")

    with database_work(monkeypatch) as saved:
        submission = edit_submission(contact=contact, editor=agent, changes={"name": "Ann Lee"})

    assert submission.outcome == services.EditOutcome.SAVED
    # Recorded already leased (lock, insert, counts), then the push's outcome (as above), each
    # with its event.
    assert (len(saved.statements), saved.commits) == (6 + 2 * audit_append(), 2), "\n".join(
        saved.statements
    )
    assert django_tasks.default_task_backend.results == []


def audit_append() -> int:
    """An append to the audit log: read the chain's head, insert; PostgreSQL locks it first."""
    return 3 if connection.vendor == "postgresql" else 2


def contact_push_state_checked(contact: Contact) -> str:
    """The contact's push state, after checking its counts against its edits' rows."""
    contact.refresh_from_db()
    rows = Counter(contact.edits.values_list("state", flat=True))
    assert (contact.pending_edits, contact.failed_edits) == (
        rows[State.PENDING],
        rows[State.FAILED],
    )
    if rows[State.FAILED]:
        assert contact.push_state == PushState.FAILED
    elif rows[State.PENDING]:
        assert contact.push_state == PushState.PENDING
    else:
        assert contact.push_state == PushState.IN_SYNC
    return contact.push_state


def test_pending_then_delivered(sandbox, agent):
    contact = contact_synced(sandbox=sandbox, name="Ann")

    edit = edit_recorded(contact=contact, editor=agent, name="Ann Lee")
    assert contact_push_state_checked(contact) == PushState.PENDING
    services.edit_push(edit_id=edit.pk)

    assert ContactEdit.objects.get(pk=edit.pk).state == State.SUCCEEDED
    assert contact_push_state_checked(contact) == PushState.IN_SYNC


def test_failed_then_discarded(sandbox, agent):
    contact = contact_synced(sandbox=sandbox, name="Ann")
    other = contact_synced(sandbox=sandbox, name="Bob", email="bob@example.com")

    edit = edit_submission(contact=contact, editor=agent, changes={"email": other.email}).edit
    assert edit.state == State.FAILED
    assert contact_push_state_checked(contact) == PushState.FAILED
    services.edit_discard(edit=edit, user=agent)

    assert ContactEdit.objects.get(pk=edit.pk).state == State.DISCARDED
    assert contact_push_state_checked(contact) == PushState.IN_SYNC


def test_conflict_then_discarded(sandbox, agent):
    contact = contact_synced(sandbox=sandbox, name="Ann")
    edit = edit_recorded(contact=contact, editor=agent, name="Ann Lee")
    sandbox.store.update_contact(contact.remote_id, {"name": "Ann Theirs"})

    assert services.edit_push(edit_id=edit.pk).outcome == services.Push.CONFLICT
    assert contact_push_state_checked(contact) == PushState.FAILED
    services.edit_discard(edit=ContactEdit.objects.get(pk=edit.pk), user=agent)

    assert contact_push_state_checked(contact) == PushState.IN_SYNC


def test_transient_failure_then_superseded_by_a_newer_edit_then_delivered(sandbox, agent):
    contact = contact_synced(sandbox=sandbox, name="Ann")
    sandbox.faults.methods = "PATCH"
    sandbox.faults.fail_next = 20
    sandbox.faults.failure_status = 503
    first = edit_submission(contact=contact, editor=agent, changes={"name": "Ann Lee"}).edit
    sandbox.reset_faults()
    assert first.state == State.FAILED
    assert contact_push_state_checked(contact) == PushState.FAILED

    second = edit_recorded(contact=contact, editor=agent, email="ann@example.com")
    assert ContactEdit.objects.get(pk=first.pk).state == State.SUPERSEDED
    assert contact_push_state_checked(contact) == PushState.PENDING
    services.edit_push(edit_id=second.pk)

    assert ContactEdit.objects.get(pk=second.pk).state == State.SUCCEEDED
    assert contact_push_state_checked(contact) == PushState.IN_SYNC


def test_several_edits_of_one_contact_each_counted(sandbox, agent):
    contact = contact_synced(sandbox=sandbox, name="Ann")
    other = contact_synced(sandbox=sandbox, name="Bob", email="bob@example.com")
    refused = edit_submission(contact=contact, editor=agent, changes={"email": other.email}).edit
    assert contact_push_state_checked(contact) == PushState.FAILED

    queued = edit_recorded(contact=contact, editor=agent, name="Ann Lee")
    assert contact_push_state_checked(contact) == PushState.FAILED  # failed outranks pending
    later = edit_recorded(contact=contact, editor=agent, **{"additional_attributes.city": "Phuket"})
    assert ContactEdit.objects.get(pk=queued.pk).state == State.SUPERSEDED
    assert contact_push_state_checked(contact) == PushState.FAILED
    services.edit_push(edit_id=later.pk)
    assert contact_push_state_checked(contact) == PushState.FAILED  # the refused edit remains
    services.edit_discard(edit=refused, user=agent)

    assert contact_push_state_checked(contact) == PushState.IN_SYNC
    assert sandbox.store.get_contact(contact.remote_id)["name"] == "Ann Lee"


def test_the_migration_counts_the_edits_already_recorded(sandbox, agent):
    contact = contact_synced(sandbox=sandbox, name="Ann")
    edit_recorded(contact=contact, editor=agent, name="Ann Lee")
    Contact.objects.filter(pk=contact.pk).update(
        pending_edits=0, failed_edits=0, push_state=PushState.IN_SYNC
    )
    migration = importlib.import_module("contacts.migrations.0006_push_counts")

    migration.counts_fill(apps, None)

    assert contact_push_state_checked(contact) == PushState.PENDING


@pytest.mark.django_db(transaction=True)
def test_a_push_writes_only_the_contact_columns_that_changed(sandbox, agent, monkeypatch):
    contact = contact_synced(sandbox=sandbox, name="Ann", email="ann@example.com")
    edit = edit_recorded(contact=contact, editor=agent, name="Ann Lee")

    with database_work(monkeypatch) as push:
        services.edit_push(edit_id=edit.pk)

    contact_update = next(
        sql for sql in push.statements if sql.startswith('UPDATE "contacts_contact"')
    )
    assigned = contact_update.split(" SET ", 1)[1].split(" WHERE ", 1)[0]
    for written in ("name", "synced_at", "version", "push_state"):
        assert f'"{written}" = ' in assigned
    for untouched in ("email", "custom_attributes", "contact_inboxes", "remote_id"):
        assert f'"{untouched}" = ' not in assigned
    contact.refresh_from_db()
    assert (contact.name, contact.email) == ("Ann Lee", "ann@example.com")


def test_a_value_livedesk_changed_only_in_type_is_written(sandbox, agent):
    """1 == 1.0 == True in Python: a push must still write LiveDesk's true over a stored 1."""
    contact = contact_synced(sandbox=sandbox, name="Ann", custom_attributes={"vip": True})
    Contact.objects.filter(pk=contact.pk).update(custom_attributes={"vip": 1})
    edit = edit_recorded(contact=contact, editor=agent, name="Ann Lee")

    services.edit_push(edit_id=edit.pk)

    contact.refresh_from_db()
    assert contact.custom_attributes["vip"] is True
