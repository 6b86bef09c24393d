"""Reading an uploaded spreadsheet, CSV or XLSX, as rows of text cells, within limits.

A cell reads as the export writes it (the quote before a would-be formula taken off, a typed
number, boolean or date as its text); a cell a spreadsheet computes is a `Formula`, never a
value. A file that cannot be read, or is too large, raises `SpreadsheetRefused` with the words
for the agent: never anything else.
"""

from __future__ import annotations

import csv
import io
import logging
import zipfile
from dataclasses import dataclass
from datetime import date, datetime, time

import openpyxl
from django.core.files.uploadedfile import UploadedFile
from django.template.defaultfilters import filesizeformat
from django.utils.translation import gettext

from contacts.exports import cell_unquoted

logger = logging.getLogger(__name__)

IMPORT_MAX_BYTES = 10 * 1024 * 1024
IMPORT_MAX_ROWS = 10_000
IMPORT_MAX_COLUMNS = 200
# An XLSX file is a zip: what it unpacks to is bounded too (a zip bomb is small packed).
XLSX_MAX_UNPACKED_BYTES = 200 * 1024 * 1024
# Blank rows scanned past the last row read before a sheet is called too long.
SCAN_MAX_ROWS = 10 * IMPORT_MAX_ROWS
ZIP_MAGIC = b"PK\x03\x04"
OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
UTF16_BOMS = (b"\xff\xfe", b"\xfe\xff")
DELIMITERS = (",", ";", "\t")


class SpreadsheetRefused(Exception):
    """The whole file cannot be imported; `message` tells the agent why."""

    def __init__(self, message: str):
        self.message = message
        super().__init__(message)


@dataclass(frozen=True)
class Formula:
    """A cell a spreadsheet computes: its formula, never read as a value."""

    text: str


Cell = str | Formula


@dataclass
class Sheet:
    file_format: str
    headers: list[str]
    # (row number as the spreadsheet shows it, the row's cells), blank rows left out.
    rows: list[tuple[int, list[Cell]]]


def _too_many_rows() -> SpreadsheetRefused:
    return SpreadsheetRefused(
        gettext(
            "The file has more than %(limit)d rows: import at most %(limit)d at once, "
            "splitting the file into smaller ones."
        )
        % {"limit": IMPORT_MAX_ROWS}
    )


def _not_a_spreadsheet() -> SpreadsheetRefused:
    return SpreadsheetRefused(
        gettext("This file is neither a CSV file nor an Excel workbook (.xlsx): nothing was read.")
    )


def sheet_read(upload: UploadedFile) -> Sheet:
    """The upload's first sheet: its column names and non-blank rows, or SpreadsheetRefused."""
    if upload.size is not None and upload.size > IMPORT_MAX_BYTES:
        raise _too_big(upload.size)
    upload.seek(0)
    content = upload.read(IMPORT_MAX_BYTES + 1)
    if len(content) > IMPORT_MAX_BYTES:
        raise _too_big(len(content))
    if not content.strip():
        raise SpreadsheetRefused(gettext("The file is empty."))
    if content.startswith(ZIP_MAGIC):
        sheet = _xlsx_read(content)
    elif content.startswith(OLE_MAGIC):
        raise SpreadsheetRefused(
            gettext(
                "Old Excel files (.xls) cannot be read: save it as an Excel workbook (.xlsx) "
                "or as CSV UTF-8."
            )
        )
    else:
        sheet = _csv_read(content)
    if not sheet.rows:
        raise SpreadsheetRefused(
            gettext("The file has no rows under its first row of column names.")
        )
    return sheet


def _too_big(size: int) -> SpreadsheetRefused:
    return SpreadsheetRefused(
        gettext(
            "The file is %(size)s: import at most %(limit)s at once, splitting the file into "
            "smaller ones."
        )
        % {"size": filesizeformat(size), "limit": filesizeformat(IMPORT_MAX_BYTES)}
    )


def _csv_read(content: bytes) -> Sheet:
    not_utf8 = SpreadsheetRefused(
        gettext(
            "This file is not UTF-8 text. In your spreadsheet, save it as “CSV UTF-8” or "
            "as an Excel workbook (.xlsx)."
        )
    )
    if content.startswith(UTF16_BOMS):
        raise not_utf8
    # Text has no NUL byte: a file that has one is something else (an image, a PDF...).
    if b"\x00" in content:
        raise _not_a_spreadsheet()
    try:
        text = content.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise not_utf8 from error
    first_line = text.split("\n", 1)[0]
    delimiter = max(DELIMITERS, key=first_line.count)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    headers: list[str] = []
    rows: list[tuple[int, list[Cell]]] = []
    try:
        for number, record in enumerate(reader, start=1):
            if number == 1:
                headers = [header.strip() for header in record]
                width_check(len(headers))
            elif any(cell.strip() for cell in record):
                if len(rows) == IMPORT_MAX_ROWS:
                    raise _too_many_rows()
                rows.append((number, [_csv_cell(cell) for cell in record]))
    except csv.Error as error:
        raise SpreadsheetRefused(
            gettext(
                "Row %(row)d could not be read as CSV (a cell may be longer than %(limit)d "
                "characters, or a quote is not closed)."
            )
            % {"row": reader.line_num, "limit": csv.field_size_limit()}
        ) from error
    return Sheet("csv", headers, rows)


def _csv_cell(text: str) -> Cell:
    # The export quotes every text a spreadsheet would compute: a bare "=" is a formula.
    if text.startswith("="):
        return Formula(text)
    return cell_unquoted(text)


def width_check(width: int) -> None:
    if width > IMPORT_MAX_COLUMNS:
        raise SpreadsheetRefused(
            gettext(
                "The file has more than %(limit)d columns: import a file in the columns of "
                "this app's export."
            )
            % {"limit": IMPORT_MAX_COLUMNS}
        )


def _xlsx_read(content: bytes) -> Sheet:
    try:
        with zipfile.ZipFile(io.BytesIO(content)) as archive:
            unpacked = sum(info.file_size for info in archive.infolist())
    except (zipfile.BadZipFile, ValueError, OSError) as error:
        raise _not_a_spreadsheet() from error
    if unpacked > XLSX_MAX_UNPACKED_BYTES:
        raise SpreadsheetRefused(
            gettext("The workbook unpacks to more than %(limit)s: import it in smaller files.")
            % {"limit": filesizeformat(XLSX_MAX_UNPACKED_BYTES)}
        )
    try:
        workbook = openpyxl.load_workbook(io.BytesIO(content), read_only=True, data_only=False)
    except Exception as error:  # a hostile or broken zip fails in many ways
        logger.info("An imported workbook could not be opened: %r", error)
        raise SpreadsheetRefused(
            gettext(
                "This Excel workbook could not be read: open it in your spreadsheet and save "
                "it again as .xlsx, or as CSV UTF-8."
            )
        ) from error
    try:
        return _xlsx_sheet(workbook)
    except SpreadsheetRefused:
        raise
    except Exception as error:
        logger.info("An imported workbook could not be read: %r", error)
        raise SpreadsheetRefused(
            gettext(
                "This Excel workbook could not be read: open it in your spreadsheet and save "
                "it again as .xlsx, or as CSV UTF-8."
            )
        ) from error
    finally:
        workbook.close()


def _xlsx_sheet(workbook) -> Sheet:
    """The first sheet, read row by row: a sheet's declared size is never trusted."""
    if not workbook.worksheets:
        raise _not_a_spreadsheet()
    worksheet = workbook.worksheets[0]
    header_cells = next(
        worksheet.iter_rows(min_row=1, max_row=1, max_col=IMPORT_MAX_COLUMNS + 1), ()
    )
    headers = [cell_text_of(_xlsx_cell(cell)).strip() for cell in header_cells]
    while headers and not headers[-1]:
        headers.pop()
    width_check(len(headers))
    if not headers:
        raise SpreadsheetRefused(gettext("The file's first row names no columns."))
    rows: list[tuple[int, list[Cell]]] = []
    for number, cells in enumerate(worksheet.iter_rows(min_row=2, max_col=len(headers)), start=2):
        values = [_xlsx_cell(cell) for cell in cells]
        if any(isinstance(value, Formula) or value.strip() for value in values):
            if len(rows) == IMPORT_MAX_ROWS:
                raise _too_many_rows()
            rows.append((number, values))
        elif number - (rows[-1][0] if rows else 1) > SCAN_MAX_ROWS:
            raise _too_many_rows()
    return Sheet("xlsx", headers, rows)


def _xlsx_cell(cell) -> Cell:
    """A typed cell as the text the export would have written."""
    if getattr(cell, "data_type", None) == "f":
        return Formula(str(cell.value))
    value = cell.value
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e15:
        return str(int(value))
    if isinstance(value, datetime):
        return value.date().isoformat() if value.time() == time() else value.isoformat()
    if isinstance(value, date | time):
        return value.isoformat()
    if isinstance(value, str):
        return cell_unquoted(value)
    return str(value)


def cell_text_of(cell: Cell) -> str:
    return cell.text if isinstance(cell, Formula) else cell
