"""Writing a sync's pages into the mirror: in page order, by the one thread that touches the
database, one upsert statement per page, the pages that arrive together in one transaction."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cache
from typing import Any

from django.db import connection, transaction
from django.db.models import F, Value
from django.db.models.functions import Greatest

from contacts.fields import contact_values
from contacts.livedesk import ContactPage, LiveDeskError, RemoteContact
from contacts.models import Contact, ContactEdit
from contacts.services import audit
from contacts.services.mirror import MIRROR_FIELDS, mirror_columns, outside_change_row
from contacts.services.sync_pages import FetchedPage

# A sync commits after this many contacts or this many seconds of pages, whichever comes first.
TRANSACTION_CONTACTS = 2_000
TRANSACTION_SECONDS = 1.0
# PostgreSQL: where a page's rows are COPYed before the upsert (one per connection).
STAGING_TABLE = "sync_contact_rows"
# Written by the upsert, in this order. A new contact gets all of them; on a conflict the
# first ones (the key, and the push state its edits keep) stay as they are.
INSERTED_ONLY = ("remote_id", "push_state", "pending_edits", "failed_edits")
UPSERT_COLUMNS = (*INSERTED_ONLY, *MIRROR_FIELDS, "version", "synced_at", "gone_at")
# A contact's mirror columns, and its JSON columns as canonical JSON text (see mirror_columns).
Columns = tuple[dict[str, Any], dict[str, str]]


@dataclass
class SyncSummary:
    total: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    failed: int = 0
    gone: int = 0
    completed: bool = False
    errors: list[str] = field(default_factory=list)

    @property
    def seen(self) -> int:
        return self.created + self.updated + self.unchanged + self.failed


class PageWriter:
    """Writes fetched pages as they come, in a transaction left open while the next page is
    already there: a commit covers what arrived together, up to TRANSACTION_CONTACTS contacts
    or TRANSACTION_SECONDS. A commit per page would cost more than writing the page when pages
    pour in; a transaction never waits on LiveDesk, so SQLite's one write lock is not held
    from other writers (agents' edits, webhooks) while the network is slow.

    Use as a context manager: leaving it commits what was written, or rolls back the pages of
    the open transaction when the database failed.

    Its commits do not wait for the disk (SQLite in WAL mode: `synchronous=NORMAL`;
    PostgreSQL: `synchronous_commit` off; on this connection while it writes). The
    database stays consistent; a power cut may only lose the last commits, which hold nothing
    but LiveDesk's contacts as read and the outside changes they showed: the mirror goes back
    with them, so the next sync reads those contacts again and sees the same changes. A commit
    a page would otherwise cost a flush to disk a page, about as long as writing the page.
    """

    def __init__(self, *, summary: SyncSummary, on_page: Callable[[SyncSummary], None] | None):
        self.summary = summary
        self.on_page = on_page
        self.transaction: transaction.Atomic | None = None
        self.transaction_contacts = 0
        self.transaction_started = 0.0
        self.put_back = ""  # the statement that puts the connection's flushing back

    def __enter__(self) -> PageWriter:
        self.put_back = _commits_unflushed()
        return self

    def __exit__(self, error_type, error, traceback) -> None:
        database_failed = error is not None and not isinstance(error, LiveDeskError)
        try:
            self.commit(error_type, error, traceback) if database_failed else self.commit()
        finally:
            if self.put_back and not connection.needs_rollback:
                with connection.cursor() as cursor:
                    cursor.execute(self.put_back)

    def add(self, fetched: FetchedPage) -> None:
        if self.transaction is None:
            self.transaction = transaction.atomic()
            self.transaction.__enter__()
            self.transaction_contacts = 0
            self.transaction_started = time.monotonic()
        page_write(
            fetched.page.contacts,
            summary=self.summary,
            as_of=fetched.requested_at,
            values=fetched.prepared,
        )
        for payload, reason in fetched.page.rejected:
            self.summary.failed += 1
            self.summary.errors.append(f"{reason} ({str(payload)[:200]})")
        self.summary.total = max(fetched.page.count or 0, self.summary.seen)
        self.transaction_contacts += fetched.received
        if (
            not fetched.next_ready
            or self.transaction_contacts >= TRANSACTION_CONTACTS
            or time.monotonic() - self.transaction_started >= TRANSACTION_SECONDS
        ):
            self.commit()
        if self.on_page:
            self.on_page(self.summary)

    def commit(self, *exc_info) -> None:
        """Commit the open transaction (roll it back with an exception's `exc_info`)."""
        if self.transaction is None:
            return
        atomic, self.transaction = self.transaction, None
        atomic.__exit__(*(exc_info or (None, None, None)))


def _commits_unflushed() -> str:
    """Let this connection's commits return before they are flushed to disk (see PageWriter);
    answer the statement that puts it back, or "" when nothing was changed.

    SQLite only in WAL mode (where `synchronous=NORMAL` stays consistent after a crash) and
    outside a transaction (SQLite refuses the change inside one).
    """
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("SET synchronous_commit TO off")
            return "RESET synchronous_commit"
        if connection.vendor != "sqlite" or connection.in_atomic_block:
            return ""
        cursor.execute("PRAGMA journal_mode")
        if cursor.fetchone()[0].lower() != "wal":
            return ""
        cursor.execute("PRAGMA synchronous")
        previous = int(cursor.fetchone()[0])
        cursor.execute("PRAGMA synchronous = NORMAL")
    return f"PRAGMA synchronous = {previous:d}"


def page_values(page: ContactPage) -> list[Columns]:
    """The mirror's columns of each contact of a page (see mirror_columns), made as it is
    fetched."""
    return [mirror_columns(remote) for remote in page.contacts]


def page_write(
    remotes: list[RemoteContact],
    *,
    summary: SyncSummary,
    as_of: datetime,
    values: list[Columns] | None = None,
) -> None:
    """Write one page of LiveDesk's contacts, as of when it was asked for, in one upsert.

    Runs inside the caller's transaction. A contact whose digest is unchanged only has its
    `synced_at` moved on; one whose mirror holds a newer state (a push answered after this page
    was asked for) keeps it.
    """
    if not remotes:
        return
    if values is None:
        values = [mirror_columns(remote) for remote in remotes]
    by_id = {remote.remote_id: columns for remote, columns in zip(remotes, values, strict=True)}
    stored = {
        remote_id: (digest, version, synced_at)
        for remote_id, digest, version, synced_at in Contact.objects.select_for_update()
        .filter(remote_id__in=by_id)
        .values_list("remote_id", "mirror_digest", "version", "synced_at")
    }
    upserts: list[dict] = []
    json_texts: list[dict[str, str]] = []
    unchanged_ids = []
    for remote_id, (values, texts) in by_id.items():
        previous = stored.get(remote_id)
        if previous is not None and (previous[0] == values["mirror_digest"] or previous[2] > as_of):
            unchanged_ids.append(remote_id)
            continue
        values.update(
            remote_id=remote_id,
            push_state=Contact.PushState.IN_SYNC,
            pending_edits=0,
            failed_edits=0,
            version=1 if previous is None else previous[1] + 1,
            synced_at=as_of,
            gone_at=None,
        )
        upserts.append(values)
        json_texts.append(texts)
        if previous is None:
            summary.created += 1
        else:
            summary.updated += 1
    outside_changes = _outside_changes(
        [values for values in upserts if values["remote_id"] in stored], as_of=as_of
    )
    contacts_upsert(upserts, json_texts=json_texts)
    ContactEdit.objects.bulk_create(outside_changes)
    if unchanged_ids:
        Contact.objects.filter(remote_id__in=unchanged_ids).update(
            synced_at=Greatest(F("synced_at"), Value(as_of)), gone_at=None
        )
    audit.events_append(audit.outside_changes_seen(outside_changes))
    summary.unchanged += len(unchanged_ids)


def contacts_upsert(rows: list[dict], *, json_texts: list[dict[str, str]] | None = None) -> None:
    """Insert these mirror rows, or replace the mirrored columns of those already there: one
    statement, run for every row (`executemany`).

    The ORM's bulk_create prepares every value of every field through its field; here only the
    values that need it (JSON, dates) are adapted, straight by the database's operations, and
    with `json_texts` (each row's JSON columns as canonical JSON text) JSON is not serialised
    again.
    """
    if not rows:
        return
    if json_texts is not None:
        rows = [{**row, **texts} for row, texts in zip(rows, json_texts, strict=True)]
    if connection.vendor == "postgresql":
        _contacts_upsert_copied(rows, json_as_text=json_texts is not None)
        return
    adapters = _column_adapters(json_as_text=json_texts is not None)
    params = [
        tuple(
            adapt(row[column]) if adapt else row[column]
            for column, adapt in zip(UPSERT_COLUMNS, adapters, strict=True)
        )
        for row in rows
    ]
    placeholders = ", ".join(["%s"] * len(UPSERT_COLUMNS))
    with connection.cursor() as cursor:
        cursor.executemany(_upsert_sql(f"VALUES ({placeholders})"), params)


def _contacts_upsert_copied(rows: list[dict], *, json_as_text: bool) -> None:
    """PostgreSQL: the rows are COPYed into a temporary table, then upserted from it by one
    INSERT ... SELECT: a few statements a page, not a round trip a row."""
    quote = connection.ops.quote_name
    columns = ", ".join(map(quote, _upsert_columns()))
    json_columns = set() if json_as_text else _json_column_indexes()
    with connection.cursor() as cursor:
        # One round trip: the table made on this connection's first page, emptied on the next.
        cursor.execute(
            f"CREATE TEMPORARY TABLE IF NOT EXISTS {STAGING_TABLE} ON COMMIT DELETE ROWS AS "
            f"SELECT {columns} FROM {quote(Contact._meta.db_table)} WITH NO DATA; "
            f"TRUNCATE {STAGING_TABLE}"
        )
        with cursor.cursor.copy(f"COPY {STAGING_TABLE} ({columns}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(
                    [
                        json.dumps(row[name]) if index in json_columns else row[name]
                        for index, name in enumerate(UPSERT_COLUMNS)
                    ]
                )
        cursor.execute(_upsert_sql(f"SELECT {columns} FROM {STAGING_TABLE}"))


def _json_column_indexes() -> set[int]:
    return {
        index
        for index, name in enumerate(UPSERT_COLUMNS)
        if Contact._meta.get_field(name).get_internal_type() == "JSONField"
    }


def _upsert_columns() -> list[str]:
    return [Contact._meta.get_field(name).column for name in UPSERT_COLUMNS]


@cache
def _upsert_sql(source: str) -> str:
    """The upsert of the rows `source` gives (VALUES or a SELECT)."""
    quote = connection.ops.quote_name
    columns = _upsert_columns()
    replaced = ", ".join(
        f"{quote(column)} = EXCLUDED.{quote(column)}" for column in columns[len(INSERTED_ONLY) :]
    )
    return (
        f"INSERT INTO {quote(Contact._meta.db_table)} ({', '.join(map(quote, columns))}) "
        f"{source} ON CONFLICT ({quote(columns[0])}) DO UPDATE SET {replaced}"
    )


def _column_adapters(*, json_as_text: bool) -> list[Callable | None]:
    """For each upsert column, how its value is adapted for this database, or None: as is
    (JSON columns too when `json_as_text`: their values are JSON text already)."""
    operations = connection.ops
    adapters: dict[str, Callable] = {"DateTimeField": _datetime_adapter()}
    if not json_as_text:
        adapters["JSONField"] = lambda value: operations.adapt_json_value(value, None)
    return [
        adapters.get(Contact._meta.get_field(name).get_internal_type()) for name in UPSERT_COLUMNS
    ]


def _datetime_adapter() -> Callable:
    """The database's adaptation of a time, taking a short cut for the common case: a UTC time
    into a connection in UTC is its naive text (what make_naive then str() give)."""
    adapt = connection.ops.adapt_datetimefield_value
    if connection.vendor != "sqlite" or connection.timezone != UTC:
        return adapt

    def adapt_utc(value: datetime | None) -> str | None:
        if value is not None and value.tzinfo is UTC:
            return str(value.replace(tzinfo=None))
        return adapt(value)

    return adapt_utc


def _outside_changes(updated: list[dict], *, as_of: datetime) -> list[ContactEdit]:
    """The history rows of what LiveDesk changed in these contacts (new state, unsaved) since
    the mirror last saw them."""
    if not updated:
        return []
    stored = Contact.objects.in_bulk(
        [values["remote_id"] for values in updated], field_name="remote_id"
    )
    rows = []
    for values in updated:
        previous = stored[values["remote_id"]]
        row = outside_change_row(
            contact=previous,
            before=contact_values(previous),
            after=contact_values(Contact(**values)),
            seen_via=ContactEdit.SeenVia.SYNC,
            now=as_of,
        )
        if row is not None:
            # The version that holds the change (as a refresh, a webhook or a push's read
            # record it), not the stored row's before it.
            row.base_version = values["version"]
            rows.append(row)
    return rows
