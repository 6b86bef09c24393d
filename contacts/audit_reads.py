"""Reads of the audit log: the chain in order, a chunk of rows at a time (memory stays flat at any
length), its head and latest check, and its export as JSON lines or CSV.

Rows are read by raw SQL (no model instances; `at` as the text the chain hashes): they are tuples
of `ROW_COLUMNS`, as `contacts.audit_chain.chain_check` takes them. An exported event is the
object the chain hashes (see contacts.audit_chain) with its stored "hash" beside it, so an
auditor can re-compute each hash and, from a whole export, each link.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable, Iterator
from datetime import datetime

from django.db import connection

from contacts.audit_chain import ROW_COLUMNS, at_text, event_bytes
from contacts.models import AuditCheck, AuditEvent

# Rows read at once: large enough that a statement's cost is spread thin, small enough that
# a chunk of events with their request and response bodies stays a few megabytes.
CHUNK_SIZE = 5000

_TABLE = AuditEvent._meta.db_table
# `at` read as text in the chain's form (see audit_chain.at_text), which costs the database
# little and saves each row a datetime made and formatted again in Python.
_AT_TEXT = {
    "sqlite": "CAST(at AS TEXT)",
    "postgresql": """to_char(at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')""",
}


def _select() -> str:
    at = _AT_TEXT.get(connection.vendor, "at")
    columns = (at if column == "at" else column for column in ROW_COLUMNS)
    return f"SELECT {', '.join(columns)} FROM {_TABLE}"


# The export's columns: the keys the chain hashes and the stored hash.
EXPORT_COLUMNS = ("seq", "at", "kind", "contact", "edit", "actor", "data", "prev", "hash")


def event_chunks(
    *, since: datetime | None = None, contact: int | None = None, size: int | None = None
) -> Iterator[list[tuple]]:
    """The stored events in `seq` order, `size` rows at a time (CHUNK_SIZE by default; keyset
    chunks on the primary key): all of them, or those recorded from `since` on, or those of one
    contact."""
    size = size or CHUNK_SIZE
    conditions, params = ["seq > %s"], []
    if contact is not None:
        conditions.append("contact_remote_id = %s")
        params.append(contact)
    after = 0
    if since is not None:
        since_value = connection.ops.adapt_datetimefield_value(since)
        conditions.append("at >= %s")
        params.append(since_value)
        after = _seq_before(since_value)
    sql = f"{_select()} WHERE {' AND '.join(conditions)} ORDER BY seq LIMIT {int(size)}"
    while True:
        with connection.cursor() as cursor:
            cursor.execute(sql, [after, *params])
            rows = cursor.fetchall()
        if not rows:
            return
        yield rows
        if len(rows) < size:
            return
        after = rows[-1][0]


def _seq_before(since) -> int:
    """The number before the first event recorded from `since` on (found on the time's index),
    so that a recent export does not walk the chain from its start."""
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT MIN(seq) FROM {_TABLE} WHERE at >= %s", [since])
        (first,) = cursor.fetchone()
    return 0 if first is None else first - 1


def chain_head() -> tuple[int, str] | None:
    """The newest event's number and hash; None while the log is empty."""
    return AuditEvent.objects.order_by("-seq").values_list("seq", "hash").first()


def latest_check() -> AuditCheck | None:
    return AuditCheck.objects.order_by("-checked_at", "-id").first()


def event_json(row: tuple) -> str:
    """One stored event as a JSON object: the canonical text the chain hashes, its stored hash
    added as a last key."""
    seq, at, kind, contact, edit, actor, data, prev, stored = row
    hashed = event_bytes(
        seq=seq,
        at=at_text(at),
        kind=kind,
        contact=contact,
        edit=edit,
        actor=actor,
        data=data,
        prev=prev,
    ).decode()
    return f'{hashed[:-1]},"hash":"{stored}"}}'


def jsonl_lines(chunks: Iterable[list[tuple]]) -> Iterator[str]:
    """JSON lines, one event a line; a chunk of rows joined into one piece of text."""
    for rows in chunks:
        yield "".join(f"{event_json(row)}\n" for row in rows)


class _Lines:
    """A file for csv.writer that hands back what was written to it."""

    def write(self, text: str) -> str:
        return text


def csv_lines(chunks: Iterable[list[tuple]]) -> Iterator[str]:
    """CSV with a header row: the export's columns, `data` as its canonical JSON text, an
    absent contact or edit as an empty cell."""
    writer = csv.writer(_Lines())
    yield writer.writerow(EXPORT_COLUMNS)
    for rows in chunks:
        yield "".join(
            writer.writerow(
                (seq, at_text(at), kind, _cell(contact), _cell(edit), actor, data, prev, stored)
            )
            for seq, at, kind, contact, edit, actor, data, prev, stored in rows
        )


def _cell(number: int | None) -> str | int:
    return "" if number is None else number
