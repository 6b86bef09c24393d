"""Indexes for searching inside a contact's name, email, phone, identifier and company.

PostgreSQL: pg_trgm GIN indexes on the expressions the search compares, so `LIKE '%term%'`
reads the posting lists of the term's trigrams instead of every row: one on the upper-cased
text columns joined by a separator no search holds (contacts.selectors.SearchedText: one index
scan, where one per column made the planner prefer reading the table), one on the phone.

SQLite: an FTS5 table with the `trigram` tokenizer (SQLite 3.34+), holding the same columns
and reading the rest from contacts_contact (external content). Triggers keep it in step with
every INSERT, UPDATE and DELETE of contacts, whoever makes them (sync, edits, webhooks,
bulk_create). A later migration that remakes contacts_contact on SQLite (Django copies the
table to alter it) drops these triggers: contacts.tests.services.test_search checks they exist
after every migration, so such a migration must create them again (SQLITE_TRIGGERS).
"""

from django.db import migrations

SEARCH_TABLE = "contacts_contact_search"
COLUMNS = ("name", "email", "phone_number", "identifier", "company_name")

POSTGRES_INDEXES = {
    "contact_text_trgm_idx": (
        "UPPER(name || CHR(31) || email || CHR(31) || identifier || CHR(31) || company_name) "
        "gin_trgm_ops"
    ),
    "contact_phone_trgm_idx": "phone_number gin_trgm_ops",
}

_columns = ", ".join(COLUMNS)
_new = ", ".join(f"new.{column}" for column in COLUMNS)
_old = ", ".join(f"old.{column}" for column in COLUMNS)
SQLITE_TRIGGERS = (
    f"""CREATE TRIGGER contacts_contact_search_insert AFTER INSERT ON contacts_contact BEGIN
        INSERT INTO {SEARCH_TABLE} (rowid, {_columns}) VALUES (new.id, {_new});
    END""",
    f"""CREATE TRIGGER contacts_contact_search_delete AFTER DELETE ON contacts_contact BEGIN
        INSERT INTO {SEARCH_TABLE} ({SEARCH_TABLE}, rowid, {_columns})
        VALUES ('delete', old.id, {_old});
    END""",
    f"""CREATE TRIGGER contacts_contact_search_update AFTER UPDATE OF {_columns}
        ON contacts_contact BEGIN
        INSERT INTO {SEARCH_TABLE} ({SEARCH_TABLE}, rowid, {_columns})
        VALUES ('delete', old.id, {_old});
        INSERT INTO {SEARCH_TABLE} (rowid, {_columns}) VALUES (new.id, {_new});
    END""",
)
SQLITE_TRIGGER_NAMES = (
    "contacts_contact_search_insert",
    "contacts_contact_search_delete",
    "contacts_contact_search_update",
)


def search_indexes_create(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    if vendor == "postgresql":
        # Left in place when unmigrating: other schemas may use it.
        schema_editor.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
        for name, expression in POSTGRES_INDEXES.items():
            schema_editor.execute(
                f"CREATE INDEX IF NOT EXISTS {name} ON contacts_contact USING gin ({expression})"
            )
    elif vendor == "sqlite":
        schema_editor.execute(
            f"CREATE VIRTUAL TABLE {SEARCH_TABLE} USING fts5({_columns}, "
            "content='contacts_contact', content_rowid='id', tokenize='trigram')"
        )
        for sql in SQLITE_TRIGGERS:
            schema_editor.execute(sql)
        schema_editor.execute(f"INSERT INTO {SEARCH_TABLE} ({SEARCH_TABLE}) VALUES ('rebuild')")


def search_indexes_remove(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    if vendor == "postgresql":
        for name in POSTGRES_INDEXES:
            schema_editor.execute(f"DROP INDEX IF EXISTS {name}")
    elif vendor == "sqlite":
        for name in SQLITE_TRIGGER_NAMES:
            schema_editor.execute(f"DROP TRIGGER IF EXISTS {name}")
        schema_editor.execute(f"DROP TABLE IF EXISTS {SEARCH_TABLE}")


class Migration(migrations.Migration):
    dependencies = [("contacts", "0011_segments")]

    operations = [
        migrations.RunPython(search_indexes_create, search_indexes_remove),
    ]
