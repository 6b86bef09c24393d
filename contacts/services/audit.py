"""The audit log: every fact of the outbox, LiveDesk's outside changes and the custom attribute
definitions, appended as a hash-chained event in the transaction of the fact itself.

`ContactEdit` stays the outbox (its state changes as a push goes); its history is told here, in
events that never change. Appending takes the chain's lock (PostgreSQL: an advisory lock held to
the commit; SQLite: the write lock every transaction here takes at BEGIN), reads the head and
writes the events after it, so concurrent writers make one line, never a fork. Callers append
last in their transaction, after their row locks: the chain's lock is always the last taken.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from django.db import connection, transaction
from django.utils import timezone

from contacts.audit_chain import GENESIS, ROW_COLUMNS, at_text, data_text, event_hash
from contacts.models import AuditEvent, ContactEdit, EditBatch

TABLE = AuditEvent._meta.db_table
# Events an INSERT writes at most: 9 parameters each, well under SQLite's 32,766 a statement.
INSERT_BATCH = 1_000
# From this many events on (a batch's), PostgreSQL takes them by COPY: binding thousands of
# parameters to INSERTs was most of such an append's time there.
COPY_FROM_EVENTS = 100

# The PostgreSQL advisory lock that serialises appends (a fixed number of the chain's own).
CHAIN_LOCK_KEY = 7_310_442_010


class EventKind(StrEnum):
    """What an audit event records."""

    EDIT_RECORDED = "edit.recorded"  # an edit written to the outbox: who, what, the body to send
    EDIT_DELIVERED = "edit.delivered"  # an attempt LiveDesk accepted
    EDIT_ATTEMPT_FAILED = "edit.attempt_failed"  # an attempt that failed (retried or not)
    EDIT_CONFLICT = "edit.conflict"  # not sent: LiveDesk changed one of its fields meanwhile
    EDIT_DISCARDED = "edit.discarded"  # given up by an agent, never sent
    EDIT_SUPERSEDED = "edit.superseded"  # its values carried into a newer edit, sent there
    OUTSIDE_CHANGE = "contact.outside_change"  # LiveDesk changed the contact outside this app
    DEFINITION_SAVED = "definition.saved"  # a custom attribute definition created or changed
    DEFINITION_DELETED = "definition.deleted"
    # A batch (bulk edit, import, undo of a batch) confirmed: its edits each have edit.recorded.
    BATCH_CONFIRMED = "batch.confirmed"


@dataclass(frozen=True)
class Event:
    """An event to append: its chain number, time and hashes are given by `events_append`."""

    kind: str
    data: dict[str, Any] = field(default_factory=dict)
    contact: int | None = None  # the contact's LiveDesk id
    edit: int | None = None
    actor: str = ""


def chain_lock() -> None:
    """Hold the chain until the transaction ends: PostgreSQL's advisory lock. SQLite's
    transactions here begin IMMEDIATE (settings): they hold its one write lock already."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [CHAIN_LOCK_KEY])


def events_append(events: Iterable[Event]) -> list[AuditEvent]:
    """Append events to the chain, in the caller's transaction (one is opened otherwise)."""
    events = list(events)
    if not events:
        return []
    with transaction.atomic(savepoint=False):
        chain_lock()
        with connection.cursor() as cursor:
            cursor.execute(f"SELECT seq, hash FROM {TABLE} ORDER BY seq DESC LIMIT 1")
            seq, prev = cursor.fetchone() or (0, GENESIS)
        now = timezone.now()
        at = at_text(now)
        rows = []
        for event in events:
            seq += 1
            data = data_text(event.data)
            digest = event_hash(
                seq=seq,
                at=at,
                kind=str(event.kind),
                contact=event.contact,
                edit=event.edit,
                actor=event.actor,
                data=data,
                prev=prev,
            )
            rows.append(
                AuditEvent(
                    seq=seq,
                    at=now,
                    kind=str(event.kind),
                    contact_remote_id=event.contact,
                    edit_id=event.edit,
                    actor=event.actor,
                    data=data,
                    prev_hash=prev,
                    hash=digest,
                )
            )
            prev = digest
        _events_insert(rows)
        return rows


def _events_insert(events: list[AuditEvent]) -> None:
    """Insert new events, up to INSERT_BATCH a statement, or by COPY on PostgreSQL for many.
    Raw SQL here and for the head, not the ORM: an append is on every push's path, where the
    ORM's work cost more than the statements (`make bench-audit`)."""
    adapt = connection.ops.adapt_datetimefield_value
    row = f"({', '.join(['%s'] * len(ROW_COLUMNS))})"
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql" and len(events) >= COPY_FROM_EVENTS:
            with cursor.cursor.copy(f"COPY {TABLE} ({', '.join(ROW_COLUMNS)}) FROM STDIN") as copy:
                for event in events:
                    copy.write_row([getattr(event, column) for column in ROW_COLUMNS])
            _events_saved(events)
            return
        for start in range(0, len(events), INSERT_BATCH):
            batch = events[start : start + INSERT_BATCH]
            cursor.execute(
                f"INSERT INTO {TABLE} ({', '.join(ROW_COLUMNS)}) VALUES "
                + ", ".join([row] * len(batch)),
                [
                    adapt(event.at) if column == "at" else getattr(event, column)
                    for event in batch
                    for column in ROW_COLUMNS
                ],
            )
    _events_saved(events)


def _events_saved(events: list[AuditEvent]) -> None:
    for event in events:
        event._state.adding, event._state.db = False, connection.alias


def _edit_event(edit: ContactEdit, kind: EventKind, *, actor: str = "", **data: Any) -> Event:
    return Event(kind, data, contact=edit.contact.remote_id, edit=edit.pk, actor=actor)


def edit_recorded(edit: ContactEdit, *, carried: Iterable[ContactEdit] = ()) -> list[Event]:
    """An edit written to the outbox, and the earlier edits whose values it carries."""
    carried = list(carried)
    by = edit.editor_username
    # The batch it is part of, the edit it reverts: said only when there is one.
    ties = {"batch": edit.batch_id, "reverts": edit.reverts_id}
    events = [
        _edit_event(
            edit,
            EventKind.EDIT_RECORDED,
            actor=by,
            source=edit.source,
            base_version=edit.base_version,
            changes=edit.changes,
            request_body=edit.request_body,
            carries=[other.pk for other in carried],
            **{name: value for name, value in ties.items() if value is not None},
        )
    ]
    events += [
        _edit_event(other, EventKind.EDIT_SUPERSEDED, actor=by, carried_into=edit.pk)
        for other in carried
    ]
    return events


def batch_confirmed(batch: EditBatch, *, by: str) -> Event:
    """A batch confirmed by `by`: what it does, to which contacts, how many it changes (its
    edits are recorded each with their own event), and the batch it undoes."""
    return Event(
        EventKind.BATCH_CONFIRMED,
        {
            "batch": batch.pk,
            "kind": batch.kind,
            "description": batch.description,
            "operations": batch.operations,
            "selection": batch.selection,
            "selected": batch.selected_count,
            "changed": batch.changed_count,
            "unchanged": batch.unchanged_count,
            "conflicts": batch.conflict_count,
            "undoes": batch.undoes_id,
        },
        actor=by,
    )


def edit_attempted(
    edit: ContactEdit,
    *,
    read: dict[str, Any] | None,
    request: dict[str, Any] | None,
    response: dict[str, Any] | None = None,
    error: dict[str, Any] | None = None,
    conflicts: list[str] | None = None,
) -> Event:
    """One attempt of a push, as it went: the read before it, the PATCH sent (None when the
    attempt stopped before it) and LiveDesk's answer or the error; then the edit's state."""
    if conflicts is not None:
        kind = EventKind.EDIT_CONFLICT
    elif error is None:
        kind = EventKind.EDIT_DELIVERED
    else:
        kind = EventKind.EDIT_ATTEMPT_FAILED
    data: dict[str, Any] = {
        "attempt": edit.attempts,
        "read": read,
        "request": request,
        "response": response,
        "error": error,
        "state": edit.state,
        "failure_kind": edit.failure_kind,
        "next_attempt_at": at_text(edit.next_attempt_at) if edit.next_attempt_at else None,
    }
    if conflicts is not None:
        data["conflicts"] = conflicts
    return _edit_event(edit, kind, **data)


def edit_discarded(edit: ContactEdit, *, by: str, reason: str = "") -> Event:
    return _edit_event(edit, EventKind.EDIT_DISCARDED, actor=by, reason=reason)


def outside_changes_seen(rows: Iterable[ContactEdit]) -> list[Event]:
    """LiveDesk's outside changes, as recorded in the contacts' history (see mirror)."""
    return [
        Event(
            EventKind.OUTSIDE_CHANGE,
            {"seen_via": row.seen_via, "changes": row.changes, "version": row.base_version},
            contact=row.contact.remote_id,
            edit=row.pk,
            actor="",
        )
        for row in rows
    ]
