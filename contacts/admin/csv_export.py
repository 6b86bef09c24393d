"""The contacts' CSV export: one column per registry field, streamed from the database."""

from __future__ import annotations

import csv
from collections.abc import Callable, Iterator
from typing import Any

from django.db.models import QuerySet

from contacts.display import export_text
from contacts.fields import Section, contact_fields, section_fields
from contacts.models import Contact

# A spreadsheet runs a cell starting with one of these as a formula (CSV injection).
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")
CHUNK_SIZE = 2000


class CsvEcho:
    """A file-like object whose write() hands back the line, so csv.writer can stream."""

    def write(self, value: str) -> str:
        return value


def csv_cell(value: Any) -> str:
    """A value as a safe cell: text that a spreadsheet would run as a formula gets a quote."""
    text = export_text(value)
    return "'" + text if text.startswith(FORMULA_PREFIXES) else text


def csv_columns() -> list[tuple[str, Callable[[Contact], Any]]]:
    """(header, value of a contact) per column. Headers are a data format: never translated."""
    return [
        ("remote_id", lambda contact: contact.remote_id),
        *((field.export_name, field.value_of) for field in contact_fields()),
        ("push_state", lambda contact: contact.push_state),
        ("last_synced", lambda contact: contact.synced_at),
    ]


def contacts_csv_lines(queryset: QuerySet[Contact]) -> Iterator[str]:
    """The CSV export, line by line, read from the database in chunks."""
    writer = csv.writer(CsvEcho())
    columns = csv_columns()
    yield writer.writerow([header for header, _value in columns])
    core = [field.attribute for field in section_fields(Section.CORE)]
    rows = queryset.order_by("remote_id").only(
        "remote_id", *core, "additional_attributes", "push_state", "synced_at"
    )
    for contact in rows.iterator(chunk_size=CHUNK_SIZE):
        yield writer.writerow([csv_cell(value(contact)) for _header, value in columns])
