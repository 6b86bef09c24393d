"""Import a spreadsheet of contacts (CSV or XLSX, in the export's columns) as a draft batch.

Each row is matched to a contact by its LiveDesk id, identifier or email. Its cells are checked
by the contact edit form itself, opened on the contact and posted with the cells the row
changes: the same checks and messages as an agent's edit. A cell that reads as the export would
write it now changes nothing; a row with any error changes nothing at all. Nothing is recorded
in the outbox here: confirming the draft does that (services.batches.batch_confirm).
"""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from django.contrib.auth.models import AbstractBaseUser
from django.core.files.uploadedfile import UploadedFile
from django.db.models.functions import Upper
from django.forms.forms import NON_FIELD_ERRORS
from django.utils.translation import gettext

from contacts.exports import (
    REMOTE_ID_COLUMN,
    ExportColumn,
    cell_text,
    csv_columns,
    custom_attribute_value,
)
from contacts.fields import CUSTOM_PREFIX, Kind, field_label, fields_by_key, values_diff
from contacts.forms import ContactEditForm
from contacts.forms.contact_edit import CUSTOM_FIELD_PREFIX
from contacts.models import Contact, CustomAttributeDefinition, EditBatch
from contacts.services.batches import batch_draft_rows
from contacts.services.spreadsheets import (
    Cell,
    Formula,
    SpreadsheetRefused,
    cell_text_of,
    sheet_read,
)

# Row errors and unmatched rows kept with a draft batch, for its page.
LISTED_MAX = 1000
LOOKUP_CHUNK = 500
FORMULA_SHOWN = 40
# A LiveDesk id as written in a cell: ASCII digits, within the ids' BigIntegerField.
ID_DIGITS = re.compile(r"[0-9]{1,18}")
TRUE_WORDS = frozenset({"true", "yes", "1", "on"})
FALSE_WORDS = frozenset({"false", "no", "0", "off", ""})
CHECKBOX = CustomAttributeDefinition.AttributeType.CHECKBOX


class MatchedBy(StrEnum):
    """The column that found a row's contact."""

    REMOTE_ID = "remote_id"
    IDENTIFIER = "identifier"
    EMAIL = "email"


@dataclass(frozen=True)
class CellChange:
    key: str
    label: str
    column: str
    before: Any
    after: Any


@dataclass(frozen=True)
class ImportRow:
    """A row that changes its contact: only the cells that differ from the contact now."""

    row: int
    contact: Contact
    matched_by: MatchedBy
    changes: list[CellChange]

    def values_set(self) -> dict[str, Any]:
        """The values to set, by value key (None removes a custom attribute)."""
        return {change.key: change.after for change in self.changes}

    def values_before(self) -> dict[str, Any]:
        """The values the changed keys had when the file was read."""
        return {change.key: change.before for change in self.changes}


@dataclass(frozen=True)
class RowError:
    row: int
    column: str
    message: str


@dataclass(frozen=True)
class UnmatchedRow:
    """A row no contact has: the values it was looked up by, by column."""

    row: int
    looked_up: dict[str, str]


@dataclass
class ImportPreview:
    """What a file would change: per row its changed cells, its errors, or that it matched none."""

    file_name: str
    file_format: str = ""
    # Why the whole file was refused; then nothing else is filled in.
    problem: str = ""
    row_count: int = 0
    rows: list[ImportRow] = field(default_factory=list)
    unchanged: int = 0
    errors: list[RowError] = field(default_factory=list)
    unmatched: list[UnmatchedRow] = field(default_factory=list)
    ignored_columns: list[str] = field(default_factory=list)

    @property
    def batch_rows(self) -> list[dict[str, Any]]:
        """The rows of a draft batch, as batches.batch_draft_rows takes them: each key is set
        only while LiveDesk is still expected to hold the value the preview showed."""
        return [
            {"contact": row.contact.pk, "set": row.values_set(), "expect": row.values_before()}
            for row in self.rows
        ]

    @property
    def description(self) -> str:
        return gettext("Import of %(file)s") % {"file": self.file_name[:200]}

    def errors_by_row(self) -> list[tuple[int, list[str]]]:
        """Each row with errors and its messages, "column: message" where a column is named."""
        by_row: dict[int, list[str]] = defaultdict(list)
        for error in self.errors:
            text = f"{error.column}: {error.message}" if error.column else error.message
            by_row[error.row].append(text)
        return sorted(by_row.items())

    def selection(self) -> dict[str, Any]:
        """What a draft batch keeps of the file: its name, counts, the rows it could not use."""
        return {
            "file": self.file_name,
            "format": self.file_format,
            "rows": self.row_count,
            "changed": len(self.rows),
            "unchanged": self.unchanged,
            "matched_by": dict(Counter(str(row.matched_by) for row in self.rows)),
            "error_count": len(self.errors),
            "errors": [
                {"row": e.row, "column": e.column, "message": e.message}
                for e in self.errors[:LISTED_MAX]
            ],
            "unmatched_count": len(self.unmatched),
            "unmatched": [
                {"row": u.row, "looked_up": u.looked_up} for u in self.unmatched[:LISTED_MAX]
            ],
            "ignored_columns": self.ignored_columns,
        }


@dataclass(frozen=True)
class ImportResult:
    preview: ImportPreview
    # The draft import batch, or None when the file changes nothing (or was refused).
    batch: EditBatch | None


def batch_draft_import(*, by: AbstractBaseUser, upload: UploadedFile) -> ImportResult:
    """Read an uploaded spreadsheet and keep the rows that change contacts as a draft batch."""
    preview = import_preview(upload=upload)
    batch = _draft_batch(by=by, preview=preview) if preview.rows else None
    return ImportResult(preview=preview, batch=batch)


def _draft_batch(*, by: AbstractBaseUser, preview: ImportPreview) -> EditBatch:
    """The draft of the rows that change their contact (those already so are counted in its
    selection), counted against the mirror and the values on their way."""
    return batch_draft_rows(
        by=by,
        kind=EditBatch.Kind.IMPORT,
        description=preview.description,
        rows=preview.batch_rows,
        selection=preview.selection(),
    )


def import_preview(*, upload: UploadedFile) -> ImportPreview:
    """What the file would change, row by row; a file that cannot be read says why."""
    preview = ImportPreview(file_name=upload.name or "")
    try:
        sheet = sheet_read(upload)
        preview.file_format = sheet.file_format
        definitions = list(CustomAttributeDefinition.objects.all())
        plan = _ColumnPlan.of(sheet.headers, definitions)
    except SpreadsheetRefused as refused:
        preview.problem = refused.message
        return preview
    preview.ignored_columns = plan.ignored
    rows = [(number, plan.row_cells(cells)) for number, cells in sheet.rows]
    preview.row_count = len(rows)
    matches = _rows_matched(rows, preview=preview)
    for number, cells, contact, matched_by in matches:
        errors, changes = _row_checked(cells, contact=contact, plan=plan, definitions=definitions)
        if errors:
            preview.errors.extend(RowError(number, column, message) for column, message in errors)
        elif changes:
            preview.rows.append(ImportRow(number, contact, matched_by, changes))
        else:
            preview.unchanged += 1
    preview.errors.sort(key=lambda error: error.row)
    return preview


# --- Columns ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class EditColumn:
    """A column whose cells set one value of the contact."""

    header: str
    key: str
    value_of: Any
    # The edit form's field for it; empty for a custom attribute without a definition (a free
    # row of the form).
    form_name: str = ""
    boolean: bool = False


@dataclass
class _ColumnPlan:
    headers: list[str]
    edits: list[EditColumn]
    ignored: list[str]

    @classmethod
    def of(cls, headers: list[str], definitions: list[CustomAttributeDefinition]) -> _ColumnPlan:
        seen: set[str] = set()
        for header in headers:
            if header and header in seen:
                raise SpreadsheetRefused(
                    gettext("The column %(column)s appears twice in the first row.")
                    % {"column": header}
                )
            seen.add(header)
        if not seen & set(_match_columns().values()):
            raise SpreadsheetRefused(
                gettext(
                    "The first row must name the columns as this app's export does, with "
                    "%(columns)s to find each contact."
                )
                % {"columns": ", ".join(_match_columns().values())}
            )
        exported = {column.header: column for column in csv_columns(definitions)}
        checkboxes = {d.key for d in definitions if d.attribute_type == CHECKBOX}
        edits, ignored = [], []
        for header in headers:
            column = exported.get(header)
            if column is not None and column.key:
                edits.append(_edit_column(column, checkboxes))
            elif column is None and header.startswith(CUSTOM_PREFIX):
                edits.append(
                    EditColumn(
                        header, header, custom_attribute_value(header.removeprefix(CUSTOM_PREFIX))
                    )
                )
            elif column is None and header:
                ignored.append(header)
        return cls(headers, edits, ignored)

    def row_cells(self, cells: list[Cell]) -> dict[str, Cell]:
        """The row's cells by column name; a cell past the named columns is kept under ""."""
        named = {header: cell for header, cell in zip(self.headers, cells, strict=False) if header}
        extra = [cell for cell in cells[len(self.headers) :] if cell_text_of(cell).strip()]
        if extra:
            named[""] = cell_text_of(extra[0])
        return named


def _match_columns() -> dict[MatchedBy, str]:
    """The columns a row's contact is looked up by, in the order they are tried."""
    registry = fields_by_key()
    return {
        MatchedBy.REMOTE_ID: REMOTE_ID_COLUMN,
        MatchedBy.IDENTIFIER: registry["identifier"].export_name,
        MatchedBy.EMAIL: registry["email"].export_name,
    }


def _edit_column(column: ExportColumn, checkboxes: set[str]) -> EditColumn:
    if column.key.startswith(CUSTOM_PREFIX):
        key = column.key.removeprefix(CUSTOM_PREFIX)
        return EditColumn(
            column.header,
            column.key,
            column.value_of,
            form_name=CUSTOM_FIELD_PREFIX + key,
            boolean=key in checkboxes,
        )
    registry_field = fields_by_key()[column.key]
    return EditColumn(
        column.header,
        column.key,
        column.value_of,
        form_name=registry_field.form_name,
        boolean=registry_field.kind == Kind.BOOLEAN,
    )


# --- Matching rows to contacts ---------------------------------------------------------------


def _rows_matched(
    rows: list[tuple[int, dict[str, Cell]]], *, preview: ImportPreview
) -> list[tuple[int, dict[str, Cell], Contact, MatchedBy]]:
    """Each row with its contact; rows matching none, or not one, are told in `preview`."""
    columns = _match_columns()
    lookups: dict[MatchedBy, set] = defaultdict(set)
    wanted: list[tuple[int, dict[str, Cell], dict[MatchedBy, Any]]] = []
    for number, cells in rows:
        keys, error = _row_keys(cells)
        if error is not None:
            preview.errors.append(RowError(number, *error))
            continue
        for matched_by, value in keys.items():
            lookups[matched_by].add(value)
        wanted.append((number, cells, keys))
    found = _contacts_found(lookups)
    matched: list[tuple[int, dict[str, Cell], Contact, MatchedBy]] = []
    for number, cells, keys in wanted:
        contact, matched_by, message = _row_contact(keys, found)
        if message:
            preview.errors.append(RowError(number, columns[matched_by], message))
        elif contact is None:
            looked_up = {
                columns[by]: cell_text_of(cells.get(columns[by], "")).strip() for by in keys
            }
            preview.unmatched.append(UnmatchedRow(number, looked_up))
        else:
            matched.append((number, cells, contact, matched_by))
    return _one_row_per_contact(matched, preview=preview)


def _row_keys(cells: dict[str, Cell]) -> tuple[dict[MatchedBy, Any], tuple[str, str] | None]:
    """The values a row's contact is looked up by, or an error (column, message)."""
    columns = _match_columns()
    keys: dict[MatchedBy, Any] = {}
    for matched_by, column in columns.items():
        cell = cells.get(column, "")
        if isinstance(cell, Formula):
            return {}, (column, _formula_message(cell))
        text = cell.strip()
        if not text:
            continue
        if matched_by == MatchedBy.REMOTE_ID:
            if not ID_DIGITS.fullmatch(text):
                return {}, (column, gettext("Enter a LiveDesk id: a whole number."))
            keys[matched_by] = int(text)
        elif matched_by == MatchedBy.EMAIL:
            keys[matched_by] = text.upper()
        else:
            keys[matched_by] = text
    if not keys:
        message = gettext("This row has no %(columns)s to find its contact by.") % {
            "columns": ", ".join(columns.values())
        }
        return {}, ("", message)
    return keys, None


def _contacts_found(lookups: dict[MatchedBy, set]) -> dict[MatchedBy, dict[Any, list[Contact]]]:
    """The contacts having each looked-up id, identifier or email (upper-cased), by value."""
    found: dict[MatchedBy, dict[Any, list[Contact]]] = {by: defaultdict(list) for by in MatchedBy}
    lookup_columns = {
        MatchedBy.REMOTE_ID: "remote_id",
        MatchedBy.IDENTIFIER: "identifier",
        MatchedBy.EMAIL: "email_upper",
    }
    contacts = Contact.objects.annotate(email_upper=Upper("email"))
    for matched_by, values in lookups.items():
        column = lookup_columns[matched_by]
        ordered = sorted(values)
        for start in range(0, len(ordered), LOOKUP_CHUNK):
            chunk = ordered[start : start + LOOKUP_CHUNK]
            for contact in contacts.filter(**{f"{column}__in": chunk}):
                found[matched_by][getattr(contact, column)].append(contact)
    return found


def _row_contact(
    keys: dict[MatchedBy, Any], found: dict[MatchedBy, dict[Any, list[Contact]]]
) -> tuple[Contact | None, MatchedBy, str]:
    """The row's contact by the first column it has that finds one: (contact, by, error)."""
    for matched_by, value in keys.items():
        contacts = found[matched_by].get(value, [])
        if len(contacts) > 1:
            return (
                None,
                matched_by,
                gettext(
                    "%(count)d contacts have this %(column)s: add the remote_id of the one "
                    "to change."
                )
                % {"count": len(contacts), "column": _match_columns()[matched_by]},
            )
        if contacts:
            return contacts[0], matched_by, ""
        if matched_by == MatchedBy.REMOTE_ID:
            break
    return None, next(iter(keys)), ""


def _one_row_per_contact(matched, *, preview: ImportPreview):
    """Rows naming a contact another row names too are refused, all of them: which to keep is
    the agent's to say."""
    rows_of: dict[int, list[int]] = defaultdict(list)
    for number, _cells, contact, _by in matched:
        rows_of[contact.pk].append(number)
    kept = []
    for number, cells, contact, matched_by in matched:
        others = [other for other in rows_of[contact.pk] if other != number]
        if others:
            preview.errors.append(
                RowError(
                    number,
                    "",
                    gettext("This contact is in rows %(rows)s: give each contact one row.")
                    % {"rows": ", ".join(str(row) for row in rows_of[contact.pk])},
                )
            )
        elif contact.is_gone:
            preview.errors.append(
                RowError(
                    number, "", gettext("This contact is gone from LiveDesk: it cannot be changed.")
                )
            )
        else:
            kept.append((number, cells, contact, matched_by))
    return kept


# --- Checking a row with the edit form -------------------------------------------------------


def _formula_message(cell: Formula) -> str:
    shown = cell.text if len(cell.text) <= FORMULA_SHOWN else cell.text[:FORMULA_SHOWN] + "…"
    return gettext(
        "This cell holds a formula (%(formula)s): enter the value itself. A text starting "
        "with = is written '= (with a quote first)."
    ) % {"formula": shown}


def _cell_bool(text: str) -> bool | None:
    word = text.strip().lower()
    if word in TRUE_WORDS:
        return True
    if word in FALSE_WORDS:
        return False
    return None


def _current_bool(value: Any) -> bool:
    """A boolean value as the form shows it (LiveDesk may hold a checkbox's value as text)."""
    if isinstance(value, str):
        return bool(_cell_bool(value))
    return bool(value)


def _row_checked(
    cells: dict[str, Cell],
    *,
    contact: Contact,
    plan: _ColumnPlan,
    definitions: list[CustomAttributeDefinition],
) -> tuple[list[tuple[str, str]], list[CellChange]]:
    """The row's errors (column, message), or the changes it makes to its contact."""
    errors: list[tuple[str, str]] = []
    if "" in cells:
        errors.append(("", gettext("This row has more cells than the first row names columns.")))
    changed: dict[EditColumn, str | bool] = {}
    for column in plan.edits:
        cell = cells.get(column.header, "")
        if isinstance(cell, Formula):
            errors.append((column.header, _formula_message(cell)))
            continue
        current = column.value_of(contact)
        if column.boolean:
            checked = _cell_bool(cell)
            if checked is None:
                errors.append((column.header, gettext("Enter true or false.")))
            elif checked != _current_bool(current):
                changed[column] = checked
        elif cell != cell_text(current):
            changed[column] = cell
    if errors or not changed:
        return errors, []
    form, columns_of = _form_posted(contact=contact, changed=changed, definitions=definitions)
    if not form.is_valid():
        return _form_errors(form, columns_of), []
    before = form.base_values
    headers = {column.key: column.header for column in plan.edits}
    changes = [
        CellChange(key, field_label(key), headers.get(key, key), old, new)
        for key, (old, new) in values_diff(before, form.edit_values()).items()
    ]
    return [], changes


def _form_posted(
    *,
    contact: Contact,
    changed: dict[EditColumn, str | bool],
    definitions: list[CustomAttributeDefinition],
) -> tuple[ContactEditForm, dict[str, str]]:
    """The edit form as if opened on the contact and posted with the row's changed cells;
    with the column of each form field (or custom row) set."""
    opened = ContactEditForm(contact=contact, definitions=definitions)
    data = opened.data_as_opened()
    rows = opened.custom_rows
    row_of_key = {row.initial.get("key"): index for index, row in enumerate(rows.forms)}
    total_name = rows.management_form["TOTAL_FORMS"].html_name
    columns_of: dict[str, str] = {}
    for column, cell in changed.items():
        if column.form_name:
            name = opened.add_prefix(column.form_name)
            columns_of[column.form_name] = column.header
            if isinstance(cell, bool):
                data.pop(name, None)
                if cell:
                    data[name] = "on"
            else:
                data[name] = cell
            continue
        key = column.key.removeprefix(CUSTOM_PREFIX)
        index = row_of_key.get(key)
        if index is None:
            index = int(data[total_name])
            data[total_name] = str(index + 1)
            data[f"{rows.prefix}-{index}-key"] = key
        columns_of[f"{rows.prefix}-{index}"] = column.header
        if cell.strip():
            data[f"{rows.prefix}-{index}-value"] = cell
        else:
            data[f"{rows.prefix}-{index}-remove"] = "on"
    return ContactEditForm(data, contact=contact, definitions=definitions), columns_of


def _form_errors(form: ContactEditForm, columns_of: dict[str, str]) -> list[tuple[str, str]]:
    """The form's messages by column; the custom rows' summary gives way to their own."""
    errors: list[tuple[str, str]] = []
    for name, field_errors in form.errors.as_data().items():
        for error in field_errors:
            if name == NON_FIELD_ERRORS and error.code == "custom_rows":
                continue
            column = columns_of.get(name, "" if name == NON_FIELD_ERRORS else str(name))
            errors.extend((column, message) for message in error.messages)
    rows = form.custom_rows
    for index, row in enumerate(rows.forms):
        column = columns_of.get(f"{rows.prefix}-{index}", "")
        for messages in row.errors.values():
            errors.extend((column, message) for message in messages)
    errors.extend(("", message) for message in rows.non_form_errors())
    return errors
