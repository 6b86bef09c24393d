"""SQLite storage for the LiveDesk sandbox: contacts, their labels and inboxes.

Plain stdlib (sqlite3), one connection guarded by a lock, so the threaded
server can share one store. The rules for writes (merge, normalisation,
validation) are those LiveDesk inherits from Chatwoot.
"""

import json
import re
import sqlite3
import threading
import time
import uuid
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from random import Random
from typing import Any

from .seed import EMAIL_INBOX_ID, INBOXES, ContactGenerator

# Remote ids start high, as in a real account, so a client that confuses them
# with its own small primary keys fails fast.
FIRST_CONTACT_ID = 318_001

DEFAULT_PAGE_SIZE = 15
MAX_PAGE_SIZE = 100
SORT_COLUMNS = {
    "email": "email",
    "name": "name COLLATE NOCASE",
    "phone_number": "phone_number",
    "last_activity_at": "last_activity_at",
    "created_at": "created_at",
    "company": "company COLLATE NOCASE",
    "city": "city COLLATE NOCASE",
    "country": "country COLLATE NOCASE",
}
DEFAULT_SORT = ("last_activity_at", "desc")

# Devise.email_regexp and the phone format Chatwoot validates with (anchored here).
EMAIL_PATTERN = re.compile(r"[^@\s]+@[^@\s]+")
PHONE_PATTERN = re.compile(r"\+[1-9]\d{1,14}")

STRING_FIELDS = ("name", "email", "phone_number", "identifier", "avatar_url")
WRITABLE_FIELDS = (*STRING_FIELDS, "blocked", "additional_attributes", "custom_attributes")
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

TABLES = """
CREATE TABLE IF NOT EXISTS inboxes (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL,
    channel_type TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS contacts (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    name TEXT,
    email TEXT,
    phone_number TEXT,
    identifier TEXT,
    thumbnail TEXT NOT NULL DEFAULT '',
    availability_status TEXT NOT NULL DEFAULT 'offline',
    blocked INTEGER NOT NULL DEFAULT 0,
    additional_attributes TEXT NOT NULL DEFAULT '{}',
    custom_attributes TEXT NOT NULL DEFAULT '{}',
    company TEXT,
    city TEXT,
    country TEXT,
    search_text TEXT NOT NULL DEFAULT '',
    created_at INTEGER NOT NULL,
    last_activity_at INTEGER
);
CREATE TABLE IF NOT EXISTS contact_labels (
    contact_id INTEGER NOT NULL,
    label TEXT NOT NULL,
    PRIMARY KEY (contact_id, label)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS contact_inboxes (
    contact_id INTEGER NOT NULL,
    inbox_id INTEGER NOT NULL,
    source_id TEXT NOT NULL,
    PRIMARY KEY (contact_id, inbox_id)
) WITHOUT ROWID;
"""
# SQLite lets many NULLs share a UNIQUE index, as blank email, phone and identifier do.
INDEXES = {
    "contacts_email": "CREATE UNIQUE INDEX contacts_email ON contacts (email)",
    "contacts_phone_number": "CREATE UNIQUE INDEX contacts_phone_number ON contacts (phone_number)",
    "contacts_identifier": "CREATE UNIQUE INDEX contacts_identifier ON contacts (identifier)",
    "contacts_name": "CREATE INDEX contacts_name ON contacts (name COLLATE NOCASE)",
    "contacts_company": "CREATE INDEX contacts_company ON contacts (company COLLATE NOCASE)",
    "contacts_city": "CREATE INDEX contacts_city ON contacts (city COLLATE NOCASE)",
    "contacts_country": "CREATE INDEX contacts_country ON contacts (country COLLATE NOCASE)",
    "contacts_created_at": "CREATE INDEX contacts_created_at ON contacts (created_at)",
    "contacts_last_activity_at": (
        "CREATE INDEX contacts_last_activity_at ON contacts (last_activity_at)"
    ),
    "contact_labels_label": (
        "CREATE INDEX contact_labels_label ON contact_labels (label, contact_id)"
    ),
}
# Above this many new rows, seeding drops the indexes and builds them again afterwards.
BULK_SEED = 5_000

CONTACT_COLUMNS = (
    "name",
    "email",
    "phone_number",
    "identifier",
    "thumbnail",
    "availability_status",
    "blocked",
    "additional_attributes",
    "custom_attributes",
    "company",
    "city",
    "country",
    "search_text",
    "created_at",
    "last_activity_at",
)


class ValidationFailed(Exception):
    """A write the server answers with 422: a readable message and the fields at fault."""

    def __init__(self, message: str, attributes: list[str]):
        super().__init__(message)
        self.message = message
        self.attributes = attributes

    def as_body(self) -> dict:
        return {"message": self.message, "attributes": self.attributes}


class ContactNotFound(LookupError):
    """No contact has that id."""


class _Errors:
    """Collects Rails-style full messages in order, like ActiveModel::Errors."""

    def __init__(self):
        self.messages: list[str] = []
        self.attributes: list[str] = []

    def add(self, attribute: str, message: str) -> None:
        self.messages.append(message)
        if attribute not in self.attributes:
            self.attributes.append(attribute)

    def raise_if_any(self) -> None:
        if self.messages:
            raise ValidationFailed(", ".join(self.messages), self.attributes)


def split_name(name: str | None) -> tuple[str, str]:
    """First word and the rest, as LiveDesk derives first_name and last_name."""
    parts = (name or "").split(maxsplit=1)
    return (parts[0] if parts else "", parts[1] if len(parts) > 1 else "")


def _search_text(name, email, phone_number, identifier) -> str:
    return "\x1f".join(value.lower() for value in (name, email, phone_number, identifier) if value)


def _attribute_columns(additional_attributes: dict) -> tuple[str | None, ...]:
    def text(key):
        value = additional_attributes.get(key)
        return value if value is None or isinstance(value, str) else json.dumps(value)

    return text("company_name"), text("city"), text("country")


def _parse_bool(value: Any) -> bool | None:
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    if isinstance(value, str) and value.strip().lower() in ("true", "false", "1", "0"):
        return value.strip().lower() in ("true", "1")
    return None


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

    def inboxes(self) -> list[dict]:
        with self._lock:
            rows = self._db.execute("SELECT id, name, channel_type FROM inboxes ORDER BY id")
            return [dict(row) for row in rows]

    def get_contact(self, contact_id: int, *, include_contact_inboxes: bool = True) -> dict | None:
        with self._lock:
            row = self._db.execute("SELECT * FROM contacts WHERE id = ?", (contact_id,)).fetchone()
            if row is None:
                return None
            return self._payloads([row], include_contact_inboxes)[0]

    def labels_of(self, contact_id: int) -> list[str]:
        with self._lock:
            rows = self._db.execute(
                "SELECT label FROM contact_labels WHERE contact_id = ? ORDER BY label",
                (contact_id,),
            )
            return [row[0] for row in rows]

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
        where, params = [], []
        if q and q.strip():
            where.append("instr(search_text, ?) > 0")
            params.append(q.strip().lower())
        labels = sorted(set(labels))
        if labels:
            marks = ", ".join("?" * len(labels))
            where.append(f"id IN (SELECT contact_id FROM contact_labels WHERE label IN ({marks}))")
            params.extend(labels)
        where_sql = f"WHERE {' AND '.join(where)}" if where else ""

        if sort and sort.startswith("-") and direction is None:
            sort, direction = sort[1:], "desc"
        if sort not in SORT_COLUMNS:
            sort, direction = DEFAULT_SORT if direction is None else (DEFAULT_SORT[0], direction)
        direction = "DESC" if (direction or "asc").lower() == "desc" else "ASC"
        column = SORT_COLUMNS[sort]
        bare = column.split()[0]
        # NULLS LAST in both directions, as Chatwoot orders; id keeps pages stable.
        order_sql = f"{bare} IS NULL, {column} {direction}, id {direction}"

        page = max(page, 1)
        page_size = min(max(page_size, 1), MAX_PAGE_SIZE)
        with self._lock:
            total = self._db.execute(f"SELECT COUNT(*) FROM contacts {where_sql}", params)
            total = total.fetchone()[0]
            ids = [
                row[0]
                for row in self._db.execute(
                    f"SELECT id FROM contacts {where_sql} ORDER BY {order_sql} LIMIT ? OFFSET ?",
                    [*params, page_size, (page - 1) * page_size],
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
        payloads = []
        for row in rows:
            first_name, last_name = split_name(row["name"])
            contact = {
                "additional_attributes": json.loads(row["additional_attributes"]),
                "availability_status": row["availability_status"],
                "email": row["email"],
                "id": row["id"],
                "name": row["name"],
                "first_name": first_name,
                "last_name": last_name,
                "phone_number": row["phone_number"],
                "blocked": bool(row["blocked"]),
                "identifier": row["identifier"],
                "thumbnail": row["thumbnail"],
                "custom_attributes": json.loads(row["custom_attributes"]),
                "last_activity_at": row["last_activity_at"],
                "created_at": row["created_at"],
            }
            if include_contact_inboxes:
                contact["contact_inboxes"] = contact_inboxes.get(row["id"], [])
            payloads.append(contact)
        return payloads

    # Writes

    def update_contact(
        self, contact_id: int, body: dict, *, include_contact_inboxes: bool = False
    ) -> dict:
        """Apply a PATCH body: shallow attribute merge, normalise, validate all or nothing."""
        with self._lock, self._transaction():
            row = self._db.execute("SELECT * FROM contacts WHERE id = ?", (contact_id,)).fetchone()
            if row is None:
                raise ContactNotFound(contact_id)
            values = self._clean(body, current=row)
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
        errors = _Errors()
        inbox_id = fields.get("inbox_id")
        inbox = None
        if inbox_id in (None, ""):
            if require_inbox:
                errors.add("inbox_id", "Inbox can't be blank")
        else:
            inbox = self._inbox(inbox_id)
            if inbox is None:
                errors.add("inbox_id", "Inbox is invalid")
        values = self._clean(
            {key: fields[key] for key in WRITABLE_FIELDS if key in fields},
            current=None,
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
        values["search_text"] = _search_text(
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

    def _clean(
        self, body: dict, *, current: sqlite3.Row | None, errors: _Errors | None = None
    ) -> dict[str, Any]:
        """Column values for the writable keys of body; raises ValidationFailed."""
        errors = errors or _Errors()
        own_id = current["id"] if current is not None else -1
        values: dict[str, Any] = {}

        for field in STRING_FIELDS:
            if field in body and body[field] is not None and not isinstance(body[field], str):
                errors.add(field, f"{field.replace('_', ' ').capitalize()} is invalid")

        if "name" in body and isinstance(body["name"], str | None):
            values["name"] = body["name"]

        if "email" in body and isinstance(body["email"], str | None):
            email = body["email"].lower() if body["email"] and body["email"].strip() else None
            if email is not None:
                if self._taken("email", email, own_id):
                    errors.add("email", "Email has already been taken")
                if not EMAIL_PATTERN.fullmatch(email):
                    errors.add("email", "Email Invalid email")
            values["email"] = email

        if "identifier" in body and isinstance(body["identifier"], str | None):
            identifier = body["identifier"]
            identifier = identifier if identifier and identifier.strip() else None
            if identifier is not None and self._taken("identifier", identifier, own_id):
                errors.add("identifier", "Identifier has already been taken")
            values["identifier"] = identifier

        if "phone_number" in body and isinstance(body["phone_number"], str | None):
            phone = body["phone_number"]
            phone = phone if phone and phone.strip() else None
            if phone is not None:
                if self._taken("phone_number", phone, own_id):
                    errors.add("phone_number", "Phone number has already been taken")
                if not PHONE_PATTERN.fullmatch(phone):
                    errors.add("phone_number", "Phone number should be in e164 format")
            values["phone_number"] = phone

        if "blocked" in body and body["blocked"] is not None:
            blocked = _parse_bool(body["blocked"])
            if blocked is None:
                errors.add("blocked", "Blocked is invalid")
            else:
                values["blocked"] = int(blocked)

        if "avatar_url" in body and isinstance(body["avatar_url"], str | None):
            values["thumbnail"] = (body["avatar_url"] or "").strip()

        for field in ("additional_attributes", "custom_attributes"):
            sent = body.get(field)
            if sent is None:
                continue
            if not isinstance(sent, dict):
                errors.add(field, f"{field.replace('_', ' ').capitalize()} is invalid")
                continue
            stored = json.loads(current[field]) if current is not None else {}
            merged = {**stored, **sent}
            values[field] = json.dumps(merged, ensure_ascii=False)
            if field == "additional_attributes":
                values.update(
                    zip(("company", "city", "country"), _attribute_columns(merged), strict=True)
                )

        errors.raise_if_any()
        if current is not None and {"name", "email", "phone_number", "identifier"} & set(values):
            merged_row = dict(zip(current.keys(), current, strict=True)) | values
            values["search_text"] = _search_text(
                merged_row["name"],
                merged_row["email"],
                merged_row["phone_number"],
                merged_row["identifier"],
            )
        return values

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
                attributes = seeded.additional_attributes
                contacts.append(
                    (
                        contact_id,
                        seeded.name,
                        seeded.email,
                        seeded.phone_number,
                        seeded.identifier,
                        seeded.thumbnail,
                        seeded.availability_status,
                        int(seeded.blocked),
                        json.dumps(attributes, ensure_ascii=False),
                        json.dumps(seeded.custom_attributes, ensure_ascii=False),
                        *_attribute_columns(attributes),
                        _search_text(
                            seeded.name, seeded.email, seeded.phone_number, seeded.identifier
                        ),
                        seeded.created_at,
                        seeded.last_activity_at,
                    )
                )
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
