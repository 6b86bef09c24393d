"""SQLite storage for the LiveDesk sandbox: contacts, their labels and inboxes.

Plain stdlib (sqlite3), one connection guarded by a lock, so the threaded
server can share one store. Writes are checked by validation.clean, list calls
are built by query, and rows are shown as payload.contact_payload shapes them.
"""

import sqlite3
import threading
import time
import uuid
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from random import Random
from typing import Any

from .payload import contact_payload
from .query import DEFAULT_PAGE_SIZE, limit_offset, order_clause, where_clause
from .schema import CONTACT_COLUMNS, FIRST_CONTACT_ID, INDEXES, TABLES, contact_row, search_text
from .seed import EMAIL_INBOX_ID, INBOXES, ContactGenerator
from .validation import WRITABLE_FIELDS, Errors, clean

STORE_ONLY_FIELDS = (
    "inbox_id",
    "source_id",
    "labels",
    "availability_status",
    "thumbnail",
    "created_at",
    "last_activity_at",
)
AVAILABILITY_STATUSES = ("online", "offline", "busy")

# Above this many new rows, seeding drops the indexes and builds them again afterwards.
BULK_SEED = 5_000


class ContactNotFound(LookupError):
    """No contact has that id."""


class SandboxStore:
    """The sandbox's contacts, persisted in their own SQLite file."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.RLock()
        self._db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        self._db.row_factory = sqlite3.Row
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.execute("PRAGMA cache_size=-65536")
        # executescript commits on its own, so the idempotent DDL runs outside a transaction.
        self._db.executescript(TABLES)
        for statement in INDEXES.values():
            self._db.execute(statement.replace(" INDEX ", " INDEX IF NOT EXISTS ", 1))
        with self._lock, self._transaction():
            self._db.execute(
                "INSERT INTO sqlite_sequence (name, seq) SELECT 'contacts', ? "
                "WHERE NOT EXISTS (SELECT 1 FROM sqlite_sequence WHERE name = 'contacts')",
                (FIRST_CONTACT_ID - 1,),
            )
            self._db.executemany(
                "INSERT OR IGNORE INTO inboxes (id, name, channel_type) VALUES (?, ?, ?)", INBOXES
            )

    def close(self) -> None:
        with self._lock:
            self._db.close()

    @contextmanager
    def _transaction(self) -> Iterator[None]:
        self._db.execute("BEGIN IMMEDIATE")
        try:
            yield
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        self._db.execute("COMMIT")

    # Reads

    def count(self) -> int:
        with self._lock:
            return self._db.execute("SELECT COUNT(*) FROM contacts").fetchone()[0]

    def get_contact(self, contact_id: int, *, include_contact_inboxes: bool = True) -> dict | None:
        with self._lock:
            row = self._db.execute("SELECT * FROM contacts WHERE id = ?", (contact_id,)).fetchone()
            if row is None:
                return None
            return self._payloads([row], include_contact_inboxes)[0]

    def list_contacts(
        self,
        *,
        q: str | None = None,
        labels: Iterable[str] = (),
        sort: str | None = None,
        direction: str | None = None,
        page: int = 1,
        page_size: int = DEFAULT_PAGE_SIZE,
        include_contact_inboxes: bool = True,
    ) -> tuple[int, list[dict]]:
        """One page of contacts and the count over all pages, as the list call answers."""
        where_sql, params = where_clause(q, labels)
        order_sql = order_clause(sort, direction)
        limit, offset = limit_offset(page, page_size)
        with self._lock:
            total = self._db.execute(f"SELECT COUNT(*) FROM contacts {where_sql}", params)
            total = total.fetchone()[0]
            ids = [
                row[0]
                for row in self._db.execute(
                    f"SELECT id FROM contacts {where_sql} ORDER BY {order_sql} LIMIT ? OFFSET ?",
                    [*params, limit, offset],
                )
            ]
            if not ids:
                return total, []
            marks = ", ".join("?" * len(ids))
            rows = self._db.execute(f"SELECT * FROM contacts WHERE id IN ({marks})", ids)
            by_id = {row["id"]: row for row in rows}
            return total, self._payloads([by_id[i] for i in ids], include_contact_inboxes)

    def _payloads(self, rows: list[sqlite3.Row], include_contact_inboxes: bool) -> list[dict]:
        contact_inboxes: dict[int, list[dict]] = {}
        if include_contact_inboxes:
            ids = [row["id"] for row in rows]
            marks = ", ".join("?" * len(ids))
            for link in self._db.execute(
                "SELECT ci.contact_id, ci.source_id, i.id, i.name, i.channel_type "
                "FROM contact_inboxes ci JOIN inboxes i ON i.id = ci.inbox_id "
                f"WHERE ci.contact_id IN ({marks}) ORDER BY ci.contact_id, i.id",
                ids,
            ):
                contact_inboxes.setdefault(link[0], []).append(
                    {
                        "source_id": link[1],
                        "inbox": {"id": link[2], "name": link[3], "channel_type": link[4]},
                    }
                )
        return [
            contact_payload(
                row, contact_inboxes.get(row["id"], []) if include_contact_inboxes else None
            )
            for row in rows
        ]

    # Writes

    def update_contact(
        self, contact_id: int, body: dict, *, include_contact_inboxes: bool = False
    ) -> dict:
        """Apply a PATCH body: shallow attribute merge, normalise, validate all or nothing."""
        with self._lock, self._transaction():
            row = self._db.execute("SELECT * FROM contacts WHERE id = ?", (contact_id,)).fetchone()
            if row is None:
                raise ContactNotFound(contact_id)
            values = clean(body, current=row, taken=self._taken)
            if values:
                assignments = ", ".join(f"{column} = ?" for column in values)
                self._db.execute(
                    f"UPDATE contacts SET {assignments} WHERE id = ?",
                    [*values.values(), contact_id],
                )
            return self.get_contact(contact_id, include_contact_inboxes=include_contact_inboxes)

    def create_contact(self, **fields: Any) -> dict:
        """Create a contact (for tests and demos); inbox_id, labels and timestamps are optional."""
        unknown = set(fields) - set(WRITABLE_FIELDS) - set(STORE_ONLY_FIELDS)
        if unknown:
            raise TypeError(f"create_contact() got unexpected fields: {sorted(unknown)}")
        with self._lock, self._transaction():
            return self._create(fields, require_inbox=False)["contact"]

    def create_from_api(self, body: dict) -> dict:
        """Create a contact as POST /contacts does; answers {"contact", "contact_inbox"}."""
        fields = {key: body[key] for key in (*WRITABLE_FIELDS, "inbox_id") if key in body}
        with self._lock, self._transaction():
            return self._create(fields, require_inbox=True)

    def _create(self, fields: dict, *, require_inbox: bool) -> dict:
        errors = Errors()
        inbox_id = fields.get("inbox_id")
        inbox = None
        if inbox_id in (None, ""):
            if require_inbox:
                errors.add("inbox_id", "Inbox can't be blank")
        else:
            inbox = self._inbox(inbox_id)
            if inbox is None:
                errors.add("inbox_id", "Inbox is invalid")
        values = clean(
            {key: fields[key] for key in WRITABLE_FIELDS if key in fields},
            current=None,
            taken=self._taken,
            errors=errors,
        )
        now = int(time.time())
        values.setdefault("name", "")
        values.setdefault("additional_attributes", "{}")
        values.setdefault("custom_attributes", "{}")
        for key in ("thumbnail", "availability_status", "created_at", "last_activity_at"):
            if key in fields:
                values[key] = fields[key]
        values.setdefault("created_at", now)
        values.setdefault("thumbnail", "")
        values.setdefault("availability_status", "offline")
        if values["availability_status"] not in AVAILABILITY_STATUSES:
            raise ValueError(f"availability_status must be one of {AVAILABILITY_STATUSES}")
        values["search_text"] = search_text(
            values["name"],
            values.get("email"),
            values.get("phone_number"),
            values.get("identifier"),
        )
        columns = ", ".join(values)
        cursor = self._db.execute(
            f"INSERT INTO contacts ({columns}) VALUES ({', '.join('?' * len(values))})",
            list(values.values()),
        )
        contact_id = cursor.lastrowid
        self._db.executemany(
            "INSERT OR IGNORE INTO contact_labels (contact_id, label) VALUES (?, ?)",
            [(contact_id, label) for label in fields.get("labels", ())],
        )
        contact_inbox = None
        if inbox is not None:
            source_id = fields.get("source_id") or (
                values.get("email")
                if inbox["id"] == EMAIL_INBOX_ID and values.get("email")
                else str(uuid.uuid4())
            )
            self._db.execute(
                "INSERT INTO contact_inboxes (contact_id, inbox_id, source_id) VALUES (?, ?, ?)",
                (contact_id, inbox["id"], source_id),
            )
            contact_inbox = {"source_id": source_id, "inbox": inbox}
        return {
            "contact": self.get_contact(contact_id, include_contact_inboxes=True),
            "contact_inbox": contact_inbox,
        }

    def _inbox(self, inbox_id: Any) -> dict | None:
        if isinstance(inbox_id, bool):
            return None
        if isinstance(inbox_id, str) and inbox_id.strip().isdigit():
            inbox_id = int(inbox_id)
        if not isinstance(inbox_id, int):
            return None
        row = self._db.execute(
            "SELECT id, name, channel_type FROM inboxes WHERE id = ?", (inbox_id,)
        ).fetchone()
        return dict(row) if row else None

    def _taken(self, column: str, value: str, own_id: int) -> bool:
        row = self._db.execute(
            f"SELECT 1 FROM contacts WHERE {column} = ? AND id != ? LIMIT 1", (value, own_id)
        ).fetchone()
        return row is not None

    def delete_contact(self, contact_id: int) -> bool:
        """Remove a contact as if deleted in LiveDesk; False when there was none."""
        with self._lock, self._transaction():
            self._db.execute("DELETE FROM contact_labels WHERE contact_id = ?", (contact_id,))
            self._db.execute("DELETE FROM contact_inboxes WHERE contact_id = ?", (contact_id,))
            return self._db.execute("DELETE FROM contacts WHERE id = ?", (contact_id,)).rowcount > 0

    def reset(self) -> None:
        """Remove every contact and restart the ids."""
        with self._lock, self._transaction():
            for table in ("contact_labels", "contact_inboxes", "contacts"):
                self._db.execute(f"DELETE FROM {table}")
            self._db.execute(
                "UPDATE sqlite_sequence SET seq = ? WHERE name = 'contacts'",
                (FIRST_CONTACT_ID - 1,),
            )

    def seed(self, count: int, random_seed: int = 7) -> int:
        """Add count deterministic demo contacts in one transaction; returns how many."""
        with self._lock, self._transaction():
            taken = self._db.execute("SELECT email, phone_number, identifier FROM contacts")
            emails, phones, identifiers = set(), set(), set()
            for email, phone, identifier in taken:
                emails.add(email)
                phones.add(phone)
                identifiers.add(identifier)
            generator = ContactGenerator(
                Random(random_seed),
                taken_emails=emails,
                taken_phones=phones,
                taken_identifiers=identifiers,
            )
            next_id = (
                1
                + self._db.execute(
                    "SELECT max(coalesce((SELECT max(id) FROM contacts), 0), "
                    "(SELECT seq FROM sqlite_sequence WHERE name = 'contacts'))"
                ).fetchone()[0]
            )
            contacts, labels, contact_inboxes = [], [], []
            for contact_id in range(next_id, next_id + count):
                seeded = generator.make()
                contacts.append(contact_row(contact_id, seeded))
                labels.extend((contact_id, label) for label in seeded.labels)
                contact_inboxes.extend(
                    (contact_id, inbox_id, source_id) for inbox_id, source_id in seeded.inboxes
                )
            bulk = count >= BULK_SEED
            if bulk:
                for index in INDEXES:
                    self._db.execute(f"DROP INDEX {index}")
            self._db.executemany(
                f"INSERT INTO contacts (id, {', '.join(CONTACT_COLUMNS)}) "
                f"VALUES ({', '.join('?' * (len(CONTACT_COLUMNS) + 1))})",
                contacts,
            )
            self._db.executemany("INSERT INTO contact_labels VALUES (?, ?)", labels)
            self._db.executemany("INSERT INTO contact_inboxes VALUES (?, ?, ?)", contact_inboxes)
            if bulk:
                for statement in INDEXES.values():
                    self._db.execute(statement)
        if bulk:
            # One big transaction leaves a WAL as large as the data; give the space back.
            with self._lock:
                self._db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        return count
