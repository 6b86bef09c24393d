"""The contacts' export: one column per registry field and defined custom attribute, streamed
from the database as CSV. Its columns are also what an import reads back (services.batch_import),
so a file exported here, edited in a spreadsheet, can be imported unchanged in format."""

from __future__ import annotations

import csv
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from django.db.models import QuerySet

from contacts.display import export_text
from contacts.fields import CUSTOM_PREFIX, Section, contact_fields, section_fields
from contacts.models import Contact, CustomAttributeDefinition

# A spreadsheet runs a cell starting with one of these as a formula (CSV injection).
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")
# The quote put before such a cell; a text starting with it is quoted too, so that reading a
# cell back (`cell_unquoted`) takes off exactly the quote the export added.
QUOTE = "'"
CHUNK_SIZE = 2000
REMOTE_ID_COLUMN = "remote_id"


@dataclass(frozen=True)
class ExportColumn:
    header: str
    value_of: Callable[[Contact], Any]
    # The value key an import sets through this column; empty for a column only read.
    key: str = ""


class CsvEcho:
    """A file-like object whose write() hands back the line, so csv.writer can stream."""

    def write(self, value: str) -> str:
        return value


def cell_text(value: Any) -> str:
    """A value as the export writes it, before any quote."""
    return export_text(value)


def csv_cell(value: Any) -> str:
    """A value as a safe cell: text that a spreadsheet would run as a formula gets a quote."""
    text = cell_text(value)
    return QUOTE + text if text.startswith((*FORMULA_PREFIXES, QUOTE)) else text


def cell_unquoted(text: str) -> str:
    """A cell's text without the quote `csv_cell` put before it, if it has one."""
    if text.startswith(QUOTE) and text[1:].startswith((*FORMULA_PREFIXES, QUOTE)):
        return text[1:]
    return text


def custom_attribute_header(key: str) -> str:
    return CUSTOM_PREFIX + key


def custom_attribute_value(key: str) -> Callable[[Contact], Any]:
    """A custom attribute's value of a contact (None when it has none)."""
    return lambda contact: contact.visible_custom_attributes.get(key)


def csv_columns(definitions: list[CustomAttributeDefinition] | None = None) -> list[ExportColumn]:
    """The export's columns. Headers are a data format: never translated."""
    if definitions is None:
        definitions = list(CustomAttributeDefinition.objects.all())
    return [
        ExportColumn(REMOTE_ID_COLUMN, lambda contact: contact.remote_id),
        *(
            ExportColumn(field.export_name, field.value_of, field.key if field.editable else "")
            for field in contact_fields()
        ),
        *(
            ExportColumn(
                custom_attribute_header(definition.key),
                custom_attribute_value(definition.key),
                CUSTOM_PREFIX + definition.key,
            )
            for definition in definitions
        ),
        ExportColumn("push_state", lambda contact: contact.push_state),
        ExportColumn("last_synced", lambda contact: contact.synced_at),
    ]


def contacts_csv_lines(queryset: QuerySet[Contact]) -> Iterator[str]:
    """The CSV export, line by line, read from the database in chunks."""
    writer = csv.writer(CsvEcho())
    columns = csv_columns()
    yield writer.writerow([column.header for column in columns])
    core = [field.attribute for field in section_fields(Section.CORE)]
    read = ["remote_id", *core, "additional_attributes", "push_state", "synced_at"]
    if any(column.key.startswith(CUSTOM_PREFIX) for column in columns):
        read.append("custom_attributes")
    rows = queryset.order_by("remote_id").only(*read)
    for contact in rows.iterator(chunk_size=CHUNK_SIZE):
        yield writer.writerow([csv_cell(column.value_of(contact)) for column in columns])
