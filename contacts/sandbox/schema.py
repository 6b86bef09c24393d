"""The sandbox's SQLite schema, and the columns a contact's own fields derive."""

import json

from .seed import SeedContact

# Remote ids start high, as in a real account, so a client that confuses them
# with its own small primary keys fails fast.
FIRST_CONTACT_ID = 318_001

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


def contact_row(contact_id: int, seeded: SeedContact) -> tuple:
    """The id and the CONTACT_COLUMNS values, in that order, of a seeded contact."""
    attributes = seeded.additional_attributes
    return (
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
        *attribute_columns(attributes),
        search_text(seeded.name, seeded.email, seeded.phone_number, seeded.identifier),
        seeded.created_at,
        seeded.last_activity_at,
    )


def search_text(name, email, phone_number, identifier) -> str:
    """What the q search matches: the lower-cased name, email, phone and identifier."""
    return "\x1f".join(value.lower() for value in (name, email, phone_number, identifier) if value)


def attribute_columns(additional_attributes: dict) -> tuple[str | None, ...]:
    """The company, city and country columns, copied out of additional_attributes."""

    def text(key):
        value = additional_attributes.get(key)
        return value if value is None or isinstance(value, str) else json.dumps(value)

    return text("company_name"), text("city"), text("country")
