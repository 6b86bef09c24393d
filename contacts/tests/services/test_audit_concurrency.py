"""Writers appending to the audit log at once make one chain: each append takes the chain's lock
(PostgreSQL: an advisory lock; SQLite: the write lock its IMMEDIATE transactions take at BEGIN)
before it reads the head. Each thread has its own database connection."""

from __future__ import annotations

import contextlib
import threading
from collections import Counter

import pytest
from django.db import DatabaseError, IntegrityError, OperationalError, connection

from contacts import services
from contacts.fields import contact_values
from contacts.models import AuditEvent, Contact, ContactEdit
from contacts.services import audit
from contacts.tests.factories import (
    audit_chain_checked,
    audit_events,
    edit_submit,
    user_make,
)

pytestmark = pytest.mark.django_db(transaction=True)

Kind = audit.EventKind
WRITERS = 8
ROUNDS = 3


def threads_run(target, count: int) -> list[str]:
    """Run `target(n)` in `count` threads at once; answer the errors they raised."""
    errors: list[str] = []

    def run(n: int) -> None:
        try:
            target(n)
        except Exception as error:  # noqa: BLE001 (reported to the test)
            errors.append(repr(error))
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(n,)) for n in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return errors


def test_writers_appending_recording_and_pushing_at_once_keep_one_chain(sandbox):
    remote_ids = [sandbox.store.create_contact(name=f"Contact {n}")["id"] for n in range(WRITERS)]
    services.contacts_sync()
    agents = [user_make(username=f"agent{n}") for n in range(WRITERS)]
    start = threading.Barrier(WRITERS)

    def write(n: int) -> None:
        start.wait()
        for round_ in range(ROUNDS):
            audit.events_append([audit.Event("test.event", {"writer": n, "round": round_})])
            contact = Contact.objects.get(remote_id=remote_ids[n])
            edit = edit_submit(
                contact=contact,
                editor=agents[n],
                changes={f"custom_attributes.round_{round_}": f"{n}.{round_}"},
            )
            assert edit.state == ContactEdit.State.SUCCEEDED, edit.error_message

    assert threads_run(write, WRITERS) == []

    events = audit_events()
    appended = WRITERS * ROUNDS * 3  # per round: a plain event, an edit recorded, delivered
    assert Counter(event.kind for event in events) == {
        "test.event": WRITERS * ROUNDS,
        Kind.EDIT_RECORDED: WRITERS * ROUNDS,
        Kind.EDIT_DELIVERED: WRITERS * ROUNDS,
    }
    report = audit_chain_checked()
    assert (report.ok, report.count, report.head) == (True, appended, events[-1].hash)
    assert [event.seq for event in events] == list(range(1, appended + 1))
    assert len({event.prev_hash for event in events}) == appended  # no fork
    # The writers did interleave: one chain, not eight runs one after the other.
    writers_in_order = [event.values["writer"] for event in events if event.kind == "test.event"]
    assert writers_in_order != sorted(writers_in_order)


def test_writers_recording_edits_of_different_contacts_at_once_keep_one_chain():
    contacts = [
        Contact.objects.create(remote_id=700_000 + n, name=f"Contact {n}") for n in range(WRITERS)
    ]
    agents = [user_make(username=f"agent{n}") for n in range(WRITERS)]
    start = threading.Barrier(WRITERS)

    def record(n: int) -> None:
        start.wait()
        for round_ in range(ROUNDS):
            contact = Contact.objects.get(pk=contacts[n].pk)
            opened = contact_values(contact)
            services.contact_edit_record(
                contact=contact,
                editor=agents[n],
                values={**opened, f"custom_attributes.round_{round_}": f"{n}.{round_}"},
                base_values=opened,
                base_version=contact.version,
                source=ContactEdit.Source.AGENT,
            )

    assert threads_run(record, WRITERS) == []

    # Each newer edit of a contact carries its waiting one: recorded, and the other superseded.
    recorded, superseded = WRITERS * ROUNDS, WRITERS * (ROUNDS - 1)
    assert Counter(event.kind for event in audit_events()) == {
        Kind.EDIT_RECORDED: recorded,
        Kind.EDIT_SUPERSEDED: superseded,
    }
    report = audit_chain_checked()
    assert (report.ok, report.count) == (True, recorded + superseded)
    assert ContactEdit.objects.count() == recorded


# --- Without the chain's lock -------------------------------------------------------------------


def lock_removed(monkeypatch) -> None:
    """Appends no longer serialised: PostgreSQL without its advisory lock; SQLite with DEFERRED
    transactions, which take the write lock only at their first write (connections opened
    from now on)."""
    if connection.vendor == "postgresql":
        monkeypatch.setattr(audit, "chain_lock", lambda: None)
    else:
        monkeypatch.setitem(connection.settings_dict["OPTIONS"], "transaction_mode", "DEFERRED")


@pytest.mark.parametrize("lock", ["held", "removed"])
def test_two_appends_that_read_the_head_together_need_the_chain_lock(monkeypatch, lock):
    """Both appends are held after reading the head until the other has read it too (or a
    second has passed: with the lock, the other cannot read it before this one commits)."""
    if lock == "removed":
        lock_removed(monkeypatch)
    both_read = threading.Barrier(2, timeout=1)
    event_hash = audit.event_hash

    def hash_once_both_read(**event):
        with contextlib.suppress(threading.BrokenBarrierError):
            both_read.wait()
        return event_hash(**event)

    monkeypatch.setattr(audit, "event_hash", hash_once_both_read)
    refused: list[DatabaseError] = []

    def append(n: int) -> None:
        try:
            audit.events_append([audit.Event("test.event", {"writer": n})])
        except DatabaseError as error:
            refused.append(error)

    assert threads_run(append, 2) == []

    report = audit_chain_checked()
    if lock == "held":
        assert (refused, report.ok, report.count) == ([], True, 2)
    else:
        # Both read the same head and wrote the same number: the second is refused, by the
        # key on PostgreSQL, by SQLite's stale-snapshot check. Never a fork.
        [error] = refused
        if connection.vendor == "postgresql":
            assert isinstance(error, IntegrityError) and "Key (seq)=(1)" in str(error)
        else:
            assert isinstance(error, OperationalError) and "database is locked" in str(error)
        assert (report.ok, report.count) == (True, 1)
    assert AuditEvent.objects.count() == report.count
