"""The audit log's hash chain: how an event is serialised and hashed, and how a chain is checked.

An event is the JSON object of its eight keys, serialised canonically:

    {"actor": ..., "at": ..., "contact": ..., "data": {...}, "edit": ..., "kind": ...,
     "prev": ..., "seq": ...}

- keys sorted (at every depth), no whitespace (separators "," and ":"), UTF-8, non-ASCII
  characters written as themselves (``json.dumps(..., sort_keys=True, separators=(",", ":"),
  ensure_ascii=False)``);
- ``seq``: the event's place in the chain, 1, 2, 3... with no gap;
- ``at``: when it was recorded, UTC, ``YYYY-MM-DDTHH:MM:SS.ffffffZ`` (always six digits);
- ``contact``: the LiveDesk id of the contact it is about, or null; ``edit``: the id of the
  outbox edit it is about, or null; ``actor``: the username of who did it, "" for the app itself
  (sync, webhook, worker);
- ``prev``: the hash of the event before it, 64 zeros for the first.

Its hash is the SHA-256 of those bytes, in lower-case hex. This module is the format's one
definition: the app writes and verifies with it, and README's stand-alone snippet re-computes it
from an export with the standard library alone.
"""

from __future__ import annotations

import functools
import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

GENESIS = "0" * 64
KEYS = ("actor", "at", "contact", "data", "edit", "kind", "prev", "seq")


def data_text(data: dict[str, Any]) -> str:
    """An event's data as stored: canonical JSON (see the module's docstring)."""
    return json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)


def at_text(value: datetime | str) -> str:
    """A time as the chain writes it: UTC, microseconds always. Takes a datetime, or the text
    SQLite keeps (``2026-11-24 11:14:54.123456``, its fraction left out when zero)."""
    if isinstance(value, str):
        text = value.replace(" ", "T", 1)
        if len(text) == 19:
            text += ".000000"
        return text[:26] + "Z"
    if value.tzinfo is not None:
        value = value.astimezone(UTC)
    return value.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


# Actors and kinds are few: each is quoted once, not once an event (a chain's check is mostly
# this serialisation and the hash).
@functools.lru_cache(maxsize=1024)
def _text(value: str) -> str:
    return json.dumps(value, ensure_ascii=False)


def _number(value: int | None) -> str:
    return "null" if value is None else str(int(value))


def event_bytes(
    *,
    seq: int,
    at: str,
    kind: str,
    contact: int | None,
    edit: int | None,
    actor: str,
    data: str,
    prev: str,
) -> bytes:
    """The canonical serialisation of one event, `data` already canonical text: the same bytes
    as ``json.dumps`` of the whole object with sorted keys, without parsing `data` again."""
    return (
        f'{{"actor":{_text(actor)},"at":"{at}","contact":{_number(contact)},"data":{data},'
        f'"edit":{_number(edit)},"kind":{_text(kind)},"prev":"{prev}","seq":{int(seq)}}}'
    ).encode()


def event_hash(**event: Any) -> str:
    return hashlib.sha256(event_bytes(**event)).hexdigest()


@dataclass(frozen=True)
class ChainReport:
    """What a check of the chain found: all of it sound, or its first broken link."""

    count: int
    head: str
    broken_seq: int | None = None
    expected: str = ""
    found: str = ""
    problem: str = ""

    @property
    def ok(self) -> bool:
        return self.broken_seq is None


# A stored event as the check reads it, in this order.
ROW_COLUMNS = (
    "seq",
    "at",
    "kind",
    "contact_remote_id",
    "edit_id",
    "actor",
    "data",
    "prev_hash",
    "hash",
)


def chain_check(rows: Iterable[tuple], *, start: tuple[int, str] = (0, GENESIS)) -> ChainReport:
    """Check stored events, in `seq` order (rows of ROW_COLUMNS), from `start` (the sequence
    number and hash before the first row). Stops at the first broken link: a gap or a repeat in
    the numbering, a `prev_hash` that is not the hash before it, or a `hash` that is not the
    hash of the row's content."""
    seq_before, head = start
    count = 0
    sha256 = hashlib.sha256
    for seq, at, kind, contact, edit, actor, data, prev, stored in rows:
        if seq != seq_before + 1:
            return ChainReport(
                count, head, seq, str(seq_before + 1), str(seq), "sequence number out of order"
            )
        if prev != head:
            return ChainReport(count, head, seq, head, prev, "previous hash does not match")
        computed = sha256(
            event_bytes(
                seq=seq,
                at=at_text(at),
                kind=kind,
                contact=contact,
                edit=edit,
                actor=actor,
                data=data,
                prev=prev,
            )
        ).hexdigest()
        if computed != stored:
            return ChainReport(
                count, head, seq, computed, stored, "content does not match its hash"
            )
        seq_before, head = seq, stored
        count += 1
    return ChainReport(count, head)


# SQLite has no stored procedures: the same refusal as PostgreSQL's triggers (installed there by
# django-pgtrigger), as two triggers created by the migration.
AUDIT_TABLE = "contacts_auditevent"
SQLITE_TRIGGERS = {
    f"{AUDIT_TABLE}_no_{operation.lower()}": (
        f"CREATE TRIGGER IF NOT EXISTS {AUDIT_TABLE}_no_{operation.lower()} "
        f"BEFORE {operation} ON {AUDIT_TABLE} "
        f"BEGIN SELECT RAISE(ABORT, 'The audit log is append-only: {operation} refused'); END"
    )
    for operation in ("UPDATE", "DELETE")
}


def sqlite_triggers_create(cursor) -> None:
    for sql in SQLITE_TRIGGERS.values():
        cursor.execute(sql)


def sqlite_triggers_drop(cursor) -> None:
    for name in SQLITE_TRIGGERS:
        cursor.execute(f"DROP TRIGGER IF EXISTS {name}")
