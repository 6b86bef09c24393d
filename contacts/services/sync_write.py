"""Writing a sync's pages into the mirror: in page order, by the one thread that touches the
database, one upsert statement per page, the pages that arrive together in one transaction."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from functools import cache
from typing import Any

from django.db import connection, transaction
from django.db.models import F, Value
from django.db.models.functions import Greatest

from contacts.fields import contact_values
from contacts.livedesk import ContactPage, LiveDeskError, RemoteContact
from contacts.models import Contact, ContactEdit
from contacts.services.mirror import MIRROR_FIELDS, mirror_values, outside_change_row
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
    """

    def __init__(self, *, summary: SyncSummary, on_page: Callable[[SyncSummary], None] | None):
        self.summary = summary
        self.on_page = on_page
        self.transaction: transaction.Atomic | None = None
        self.transaction_contacts = 0
        self.transaction_started = 0.0

    def __enter__(self) -> PageWriter:
        return self

    def __exit__(self, error_type, error, traceback) -> None:
        database_failed = error is not None and not isinstance(error, LiveDeskError)
        self.commit(error_type, error, traceback) if database_failed else self.commit()

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


def page_values(page: ContactPage) -> list[dict[str, Any]]:
    """The mirror's values of each contact of a page (see mirror_values), made as it is fetched."""
    return [mirror_values(remote) for remote in page.contacts]


def page_write(
    remotes: list[RemoteContact],
    *,
    summary: SyncSummary,
    as_of: datetime,
    values: list[dict[str, Any]] | None = None,
) -> None:
    """Write one page of LiveDesk's contacts, as of when it was asked for, in one upsert.

    Runs inside the caller's transaction. A contact whose digest is unchanged only has its
    `synced_at` moved on; one whose mirror holds a newer state (a push answered after this page
    was asked for) keeps it.
    """
    if not remotes:
        return
    if values is None:
        values = [mirror_values(remote) for remote in remotes]
    by_id = {
        remote.remote_id: remote_values
        for remote, remote_values in zip(remotes, values, strict=True)
    }
    stored = {
        remote_id: (digest, version, synced_at)
        for remote_id, digest, version, synced_at in Contact.objects.select_for_update()
        .filter(remote_id__in=by_id)
        .values_list("remote_id", "mirror_digest", "version", "synced_at")
    }
    upserts: list[dict] = []
    unchanged_ids = []
    for remote_id, values in by_id.items():
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
        if previous is None:
            summary.created += 1
        else:
            summary.updated += 1
    outside_changes = _outside_changes(
        [values for values in upserts if values["remote_id"] in stored], as_of=as_of
    )
    contacts_upsert(upserts)
    ContactEdit.objects.bulk_create(outside_changes)
    if unchanged_ids:
        Contact.objects.filter(remote_id__in=unchanged_ids).update(
            synced_at=Greatest(F("synced_at"), Value(as_of)), gone_at=None
        )
    summary.unchanged += len(unchanged_ids)


def contacts_upsert(rows: list[dict]) -> None:
    """Insert these mirror rows, or replace the mirrored columns of those already there: one
    statement, run for every row (`executemany`).

    The ORM's bulk_create prepares every value of every field through its field; here only the
    values that need it (JSON, dates) are adapted, straight by the database's operations.
    """
    if not rows:
        return
    if connection.vendor == "postgresql":
        _contacts_upsert_copied(rows)
        return
    adapters = _column_adapters()
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


def _contacts_upsert_copied(rows: list[dict]) -> None:
    """PostgreSQL: the rows are COPYed into a temporary table, then upserted from it by one
    INSERT ... SELECT: a few statements a page, not a round trip a row."""
    quote = connection.ops.quote_name
    columns = ", ".join(map(quote, _upsert_columns()))
    json_columns = {
        index
        for index, name in enumerate(UPSERT_COLUMNS)
        if Contact._meta.get_field(name).get_internal_type() == "JSONField"
    }
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


def _column_adapters() -> list[Callable | None]:
    """For each upsert column, how its value is adapted for this database, or None: as is."""
    operations = connection.ops
    adapters: dict[str, Callable] = {
        "JSONField": lambda value: operations.adapt_json_value(value, None),
        "DateTimeField": operations.adapt_datetimefield_value,
    }
    return [
        adapters.get(Contact._meta.get_field(name).get_internal_type()) for name in UPSERT_COLUMNS
    ]


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
            rows.append(row)
    return rows
