"""Importing a spreadsheet as a draft batch: the app's own export read back (CSV and XLSX), rows
matched, checked by the edit form, only changed cells kept; hostile files answered in words."""

from __future__ import annotations

import csv
import io
import zipfile

import openpyxl
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from contacts import selectors
from contacts.exports import contacts_csv_lines
from contacts.models import Contact, ContactEdit, CustomAttributeDefinition, EditBatch
from contacts.services import spreadsheets
from contacts.services.batch_import import MatchedBy, batch_draft_import, import_preview
from contacts.tests.factories import contact_filled, contact_synced, patch_bodies

pytestmark = pytest.mark.django_db(transaction=True)

Kinds = CustomAttributeDefinition.AttributeType


@pytest.fixture
def definitions():
    """Defined custom attributes of three kinds: the export gets a column for each."""
    return [
        CustomAttributeDefinition.objects.create(key="tier", label="Tier", position=1),
        CustomAttributeDefinition.objects.create(
            key="seats", label="Seats", attribute_type=Kinds.NUMBER, position=2
        ),
        CustomAttributeDefinition.objects.create(
            key="vip", label="VIP", attribute_type=Kinds.CHECKBOX, position=3
        ),
    ]


@pytest.fixture
def synced(sandbox, definitions) -> list[Contact]:
    """Three contacts synced from the sandbox, with values the export must quote or type."""
    ann = contact_synced(
        sandbox=sandbox,
        name="Ann Lee",
        email="ann@example.com",
        phone_number="+66812345678",
        identifier="cus-1",
        blocked=True,
        additional_attributes={"company_name": "Acme", "city": "Bangkok", "country_code": "TH"},
        custom_attributes={"tier": "gold", "seats": 12, "vip": True},
    )
    bob = contact_synced(
        sandbox=sandbox,
        name="=Bob",
        email="bob@example.com",
        identifier="@bob",
        additional_attributes={"company_name": "-Minus Co", "description": "two\nlines"},
    )
    cy = contact_synced(sandbox=sandbox, name="Cy", email="cy@example.com")
    return [ann, bob, cy]


def exported(queryset=None) -> tuple[list[str], list[dict[str, str]]]:
    """The app's CSV export of `queryset` (every contact by default): headers and rows."""
    text = "".join(contacts_csv_lines(queryset if queryset is not None else Contact.objects.all()))
    reader = csv.DictReader(io.StringIO(text, newline=""))
    return list(reader.fieldnames or []), list(reader)


def csv_upload(headers: list[str], rows: list[dict[str, str]], name="contacts.csv"):
    buffer = io.StringIO(newline="")
    writer = csv.DictWriter(buffer, fieldnames=headers)
    writer.writeheader()
    writer.writerows(rows)
    return SimpleUploadedFile(name, buffer.getvalue().encode())


def xlsx_upload(headers: list[str], rows: list[list], name="contacts.xlsx"):
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    sheet.append(headers)
    for row in rows:
        sheet.append(row)
    buffer = io.BytesIO()
    workbook.save(buffer)
    return SimpleUploadedFile(name, buffer.getvalue())


def as_spreadsheet_types(header: str, text: str):
    """A cell as a spreadsheet opening the CSV types it: numbers, TRUE/FALSE, quoted text."""
    if text in ("true", "false"):
        return text == "true"
    if text.isdigit() and header != "phone":
        return int(text)
    return text or None


def by_remote_id(rows: list[dict[str, str]], contact: Contact) -> dict[str, str]:
    return next(row for row in rows if row["remote_id"] == str(contact.remote_id))


def changes_of(preview) -> dict[int, dict[str, tuple]]:
    return {
        row.contact.remote_id: {change.key: (change.before, change.after) for change in row.changes}
        for row in preview.rows
    }


def test_csv_round_trip_changing_two_cells_keeps_exactly_those_two_keys(sandbox, synced, agent):
    ann, bob, cy = synced
    headers, rows = exported()
    assert [h for h in headers if h.startswith("custom_attributes.")] == [
        "custom_attributes.tier",
        "custom_attributes.seats",
        "custom_attributes.vip",
    ]
    assert by_remote_id(rows, bob)["name"] == "'=Bob"
    by_remote_id(rows, ann)["company"] = "Acme Holdings"
    by_remote_id(rows, ann)["custom_attributes.tier"] = "platinum"
    requests_before = len(sandbox.recorded())

    result = batch_draft_import(by=agent, upload=csv_upload(headers, rows))

    preview = result.preview
    assert (preview.problem, preview.errors, preview.unmatched, preview.ignored_columns) == (
        "",
        [],
        [],
        [],
    )
    assert preview.row_count == 3
    assert changes_of(preview) == {
        ann.remote_id: {
            "additional_attributes.company_name": ("Acme", "Acme Holdings"),
            "custom_attributes.tier": ("gold", "platinum"),
        }
    }
    assert [(row.row, row.matched_by) for row in preview.rows] == [
        (rows.index(by_remote_id(rows, ann)) + 2, MatchedBy.REMOTE_ID)
    ]
    assert preview.unchanged == 2
    batch = result.batch
    assert batch.kind == EditBatch.Kind.IMPORT
    assert batch.state == EditBatch.State.DRAFT
    assert batch.rows == [
        {
            "contact": ann.pk,
            "set": {
                "additional_attributes.company_name": "Acme Holdings",
                "custom_attributes.tier": "platinum",
            },
            "expect": {
                "additional_attributes.company_name": "Acme",
                "custom_attributes.tier": "gold",
            },
        }
    ]
    assert batch.changed_count == 1
    assert (batch.selection["file"], batch.selection["unchanged"]) == ("contacts.csv", 2)
    assert not ContactEdit.objects.exists()
    assert len(sandbox.recorded()) == requests_before


def test_a_confirmed_csv_round_trip_sends_exactly_the_two_changed_keys(sandbox, synced, agent):
    batches = pytest.importorskip("contacts.services.batches", reason="batch-core not merged")
    from contacts.services.push import edit_push

    ann = synced[0]
    headers, rows = exported()
    by_remote_id(rows, ann)["company"] = "Acme Holdings"
    by_remote_id(rows, ann)["custom_attributes.tier"] = "platinum"
    batch = batch_draft_import(by=agent, upload=csv_upload(headers, rows)).batch

    batches.batch_confirm(batch=batch, by=agent)
    for edit in ContactEdit.objects.filter(batch=batch):
        edit_push(edit_id=edit.pk)

    [body] = patch_bodies(sandbox)
    assert body == {
        "additional_attributes": {"company_name": "Acme Holdings"},
        "custom_attributes": {"tier": "platinum"},
    }


def test_xlsx_round_trip_reads_typed_cells_back_and_keeps_the_two_changed(sandbox, synced, agent):
    ann, bob, cy = synced
    headers, rows = exported()
    cells = [[as_spreadsheet_types(h, row[h]) for h in headers] for row in rows]
    ann_cells = cells[rows.index(by_remote_id(rows, ann))]
    assert ann_cells[headers.index("custom_attributes.seats")] == 12
    assert ann_cells[headers.index("blocked")] is True
    ann_cells[headers.index("city")] = "Chiang Mai"
    ann_cells[headers.index("custom_attributes.seats")] = 15

    result = batch_draft_import(by=agent, upload=xlsx_upload(headers, cells))

    assert (result.preview.problem, result.preview.errors) == ("", [])
    assert result.preview.file_format == "xlsx"
    assert changes_of(result.preview) == {
        ann.remote_id: {
            "additional_attributes.city": ("Bangkok", "Chiang Mai"),
            "custom_attributes.seats": (12, 15),
        }
    }
    assert result.batch.rows == [
        {
            "contact": ann.pk,
            "set": {"additional_attributes.city": "Chiang Mai", "custom_attributes.seats": 15},
            "expect": {"additional_attributes.city": "Bangkok", "custom_attributes.seats": 12},
        }
    ]


def test_a_bad_row_is_reported_with_the_edit_forms_message_and_the_others_kept(definitions, agent):
    ann = contact_filled(remote_id=1, name="Ann", email="ann@example.com")
    bob = contact_filled(remote_id=2, name="Bob", email="bob@example.com", phone_number="")
    cy = contact_filled(remote_id=3, name="Cy", email="cy@example.com", phone_number="")
    headers, rows = exported()
    by_remote_id(rows, ann)["name"] = "Ann Changed"
    by_remote_id(rows, bob)["phone"] = "081 234"
    by_remote_id(rows, bob)["custom_attributes.seats"] = "many"
    by_remote_id(rows, cy)["name"] = "New"
    rows.insert(2, {**by_remote_id(rows, ann), "remote_id": "", "city": "Paris"})

    result = batch_draft_import(by=agent, upload=csv_upload(headers, rows))

    preview = result.preview
    assert [(e.row, e.column, e.message) for e in preview.errors] == [
        (2, "", "This contact is in rows 2, 4: give each contact one row."),
        (
            3,
            "phone",
            "Enter a valid phone number for Thailand (TH), or start with + and the country code.",
        ),
        (3, "custom_attributes.seats", "Enter a number."),
        (4, "", "This contact is in rows 2, 4: give each contact one row."),
    ]
    assert changes_of(preview) == {3: {"name": ("Cy", "New")}}
    assert result.batch.rows == [
        {"contact": cy.pk, "set": {"name": "New"}, "expect": {"name": "Cy"}}
    ]
    assert result.batch.selection["error_count"] == 4


def test_an_invalid_cell_refuses_its_whole_row(agent):
    ann = contact_filled(remote_id=1, name="Ann", email="ann@example.com")
    contact_filled(remote_id=2, name="Bob", email="bob@example.com")
    headers, rows = exported()
    by_remote_id(rows, ann)["email"] = "not an email"
    by_remote_id(rows, ann)["name"] = "Ann Changed"

    result = batch_draft_import(by=agent, upload=csv_upload(headers, rows))

    assert [(e.row, e.column, e.message) for e in result.preview.errors] == [
        (2, "email", "Enter a valid email address.")
    ]
    assert result.preview.rows == []
    assert result.batch is None


def test_national_phone_numbers_are_read_in_the_rows_country(agent):
    ann = contact_filled(remote_id=1, name="Ann", email="ann@example.com", phone_number="")
    bob = contact_filled(remote_id=2, name="Bob", email="bob@example.com", phone_number="")
    headers, rows = exported()
    by_remote_id(rows, ann)["phone"] = "081 234 5678"  # Ann's country code is TH
    by_remote_id(rows, bob)["phone"] = "(415) 555-0123"
    by_remote_id(rows, bob)["country_code"] = "US"

    preview = import_preview(upload=csv_upload(headers, rows))

    assert preview.errors == []
    assert changes_of(preview) == {
        1: {"phone_number": ("", "+66812345678")},
        2: {
            "phone_number": ("", "+14155550123"),
            "additional_attributes.country_code": ("TH", "US"),
        },
    }


def test_rows_are_matched_by_id_identifier_or_email_and_the_unmatched_listed(agent):
    contact_filled(remote_id=1, name="Ann", email="ann@example.com", identifier="cus-1")
    contact_filled(remote_id=2, name="Bob", email="bob@example.com", phone_number="")
    headers = ["remote_id", "identifier", "email", "name"]
    rows = [
        {"remote_id": "", "identifier": "cus-1", "email": "ann@example.com", "name": "Ann 2"},
        {"remote_id": "", "identifier": "", "email": "BOB@example.com", "name": "Bob by email"},
        {"remote_id": "99", "identifier": "cus-1", "email": "", "name": "Nobody"},
        {"remote_id": "", "identifier": "cus-404", "email": "no@example.com", "name": "Nobody"},
        {"remote_id": "x1", "identifier": "", "email": "", "name": "Bad id"},
        {"remote_id": "", "identifier": "", "email": "", "name": "No key"},
    ]

    preview = import_preview(upload=csv_upload(headers, rows))

    assert [(row.row, row.contact.remote_id, row.matched_by) for row in preview.rows] == [
        (2, 1, MatchedBy.IDENTIFIER),
        (3, 2, MatchedBy.EMAIL),
    ]
    assert changes_of(preview) == {
        1: {"name": ("Ann", "Ann 2")},
        2: {"name": ("Bob", "Bob by email")},
    }
    assert [(u.row, u.looked_up) for u in preview.unmatched] == [
        (4, {"remote_id": "99", "identifier": "cus-1"}),
        (5, {"identifier": "cus-404", "email": "no@example.com"}),
    ]
    assert [(e.row, e.column, e.message) for e in preview.errors] == [
        (6, "remote_id", "Enter a LiveDesk id: a whole number."),
        (7, "", "This row has no remote_id, identifier, email to find its contact by."),
    ]


def test_an_identifier_two_contacts_share_asks_for_the_id(agent):
    contact_filled(remote_id=1, name="Ann", identifier="dup")
    contact_filled(remote_id=2, name="Bob", identifier="dup", email="bob@example.com")

    preview = import_preview(
        upload=csv_upload(["identifier", "name"], [{"identifier": "dup", "name": "X"}])
    )

    assert [(e.row, e.column, e.message) for e in preview.errors] == [
        (
            2,
            "identifier",
            "2 contacts have this identifier: add the remote_id of the one to change.",
        )
    ]


def test_export_of_a_filtered_list_is_in_the_columns_the_import_reads(definitions, agent):
    contact_filled(remote_id=1, name="Ann")
    contact_filled(
        remote_id=2,
        name="Bob",
        email="bob@example.com",
        additional_attributes={"country": "France", "company_name": "Bob SA"},
    )
    contact_filled(remote_id=3, name="Cy", email="cy@example.com", custom_attributes={"seats": 3})

    headers, rows = exported(selectors.contact_list(country="Thailand"))

    assert [row["remote_id"] for row in rows] == ["1", "3"]
    assert by_remote_id(rows, Contact.objects.get(remote_id=3))["custom_attributes.seats"] == "3"
    preview = import_preview(upload=csv_upload(headers, rows))
    assert (preview.problem, preview.errors, preview.ignored_columns) == ("", [], [])
    assert (preview.rows, preview.unchanged) == ([], 2)


def test_cells_read_as_the_export_wrote_them_change_nothing(agent):
    contact_filled(
        remote_id=1,
        name="'quoted",
        identifier="+66",
        blocked=True,
        additional_attributes={"company_name": "=1+1", "description": 'say "hi"\r\nbye'},
    )
    headers, rows = exported()
    assert rows[0]["name"] == "''quoted"
    rows[0]["blocked"] = "TRUE"

    preview = import_preview(upload=csv_upload(headers, rows))

    assert (preview.errors, preview.rows, preview.unchanged) == ([], [], 1)


def test_clearing_a_custom_attribute_cell_removes_it_and_a_new_key_column_adds_one(
    definitions, agent
):
    ann = contact_filled(remote_id=1, custom_attributes={"tier": "gold", "note": "x"})
    headers, rows = exported()
    rows[0]["custom_attributes.tier"] = ""
    rows[0]["custom_attributes.vip"] = "yes"
    headers.append("custom_attributes.region")
    rows[0]["custom_attributes.region"] = "north"

    preview = import_preview(upload=csv_upload(headers, rows))

    assert preview.errors == []
    assert changes_of(preview) == {
        ann.remote_id: {
            "custom_attributes.tier": ("gold", None),
            "custom_attributes.vip": (None, True),
            "custom_attributes.region": (None, "north"),
        }
    }


def test_a_boolean_cell_must_say_true_or_false(agent):
    contact_filled(remote_id=1)
    headers, rows = exported()
    rows[0]["blocked"] = "maybe"

    preview = import_preview(upload=csv_upload(headers, rows))

    assert [(e.column, e.message) for e in preview.errors] == [("blocked", "Enter true or false.")]


def test_formula_cells_are_refused_in_csv_and_xlsx(agent):
    contact_filled(remote_id=1, name="Ann")
    contact_filled(remote_id=2, name="Bob", email="bob@example.com")
    csv_preview = import_preview(
        upload=csv_upload(
            ["remote_id", "name", "company"],
            [
                {"remote_id": "1", "name": "Ann", "company": '=HYPERLINK("http://x","y")'},
                {"remote_id": "2", "name": "Bob 2", "company": "Acme"},
            ],
        )
    )
    xlsx_preview = import_preview(
        upload=xlsx_upload(
            ["remote_id", "name", "company"], [[1, "Ann", "=1+1"], [2, "Bob 2", "Acme"]]
        )
    )

    for preview in (csv_preview, xlsx_preview):
        [error] = preview.errors
        assert (error.row, error.column) == (2, "company")
        assert error.message.startswith("This cell holds a formula (=")
        assert changes_of(preview) == {2: {"name": ("Bob", "Bob 2")}}


def zip_bytes(files: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, content in files.items():
            archive.writestr(name, content)
    return buffer.getvalue()


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("photo.png", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "neither a CSV file nor an Excel"),
        ("latin.csv", "remote_id,name\n1,Zoë\n".encode("latin-1"), "is not UTF-8 text"),
        ("utf16.csv", "remote_id,name\n1,Zoë\n".encode("utf-16"), "is not UTF-8 text"),
        ("nul.csv", b"remote_id,name\n1,a\x00b\n", "neither a CSV file nor an Excel"),
        ("old.xls", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 100, "Old Excel files"),
        ("fake.xlsx", b"PK\x03\x04not really a zip", "neither a CSV file nor an Excel"),
        ("other.xlsx", zip_bytes({"hello.txt": b"hi"}), "could not be read"),
        ("empty.csv", b"  \n", "The file is empty."),
        ("header.csv", b"remote_id,name\n", "no rows under its first row"),
        ("nokey.csv", b"name,city\nAnn,Paris\n", "with remote_id, identifier, email to find"),
        ("twice.csv", b"remote_id,name,name\n1,a,b\n", "The column name appears twice"),
        ("huge.csv", b"remote_id,name\n1," + b"x" * 200_000 + b"\n", "could not be read as CSV"),
        ("quote.csv", b'remote_id,name\n1,"' + b"x" * 200_000, "could not be read as CSV"),
    ],
)
def test_hostile_files_are_answered_with_a_message(agent, name, content, message):
    result = batch_draft_import(by=agent, upload=SimpleUploadedFile(name, content))

    assert message in result.preview.problem
    assert result.batch is None
    assert not EditBatch.objects.exists()


def test_size_limits_say_what_they_are(agent, monkeypatch):
    monkeypatch.setattr(spreadsheets, "IMPORT_MAX_BYTES", 100)
    too_big = import_preview(upload=SimpleUploadedFile("big.csv", b"remote_id\n" + b"1\n" * 60))
    monkeypatch.setattr(spreadsheets, "IMPORT_MAX_BYTES", 10_000)
    monkeypatch.setattr(spreadsheets, "IMPORT_MAX_ROWS", 2)
    csv_rows = import_preview(upload=SimpleUploadedFile("rows.csv", b"remote_id\n1\n2\n3\n"))
    xlsx_rows = import_preview(upload=xlsx_upload(["remote_id"], [[1], [2], [3]]))
    monkeypatch.setattr(spreadsheets, "IMPORT_MAX_COLUMNS", 2)
    wide = import_preview(upload=SimpleUploadedFile("wide.csv", b"remote_id,name,city\n1,a,b\n"))

    assert too_big.problem == (
        "The file is 130\xa0bytes: import at most 100\xa0bytes at once, splitting the file "
        "into smaller ones."
    )
    rows_message = (
        "The file has more than 2 rows: import at most 2 at once, splitting the file into "
        "smaller ones."
    )
    assert (csv_rows.problem, xlsx_rows.problem) == (rows_message, rows_message)
    assert wide.problem.startswith("The file has more than 2 columns")


def test_a_workbook_that_unpacks_too_large_is_refused_unread(agent, monkeypatch):
    monkeypatch.setattr(spreadsheets, "XLSX_MAX_UNPACKED_BYTES", 1000)
    bomb = zip_bytes({"xl/worksheets/sheet1.xml": b" " * 100_000})

    preview = import_preview(upload=SimpleUploadedFile("bomb.xlsx", bomb))

    assert preview.problem.startswith("The workbook unpacks to more than 1000\xa0bytes")


def test_a_semicolon_separated_csv_is_read(agent):
    contact_filled(remote_id=1, name="Ann")

    preview = import_preview(
        upload=SimpleUploadedFile("excel-eu.csv", "remote_id;name\n1;Ann Lée\n".encode())
    )

    assert changes_of(preview) == {1: {"name": ("Ann", "Ann Lée")}}


def test_unknown_columns_are_ignored_and_said(agent):
    contact_filled(remote_id=1, name="Ann")

    preview = import_preview(
        upload=csv_upload(
            ["remote_id", "name", "notes", "push_state"],
            [{"remote_id": "1", "name": "Ann", "notes": "call back", "push_state": "x"}],
        )
    )

    assert (preview.ignored_columns, preview.rows, preview.unchanged) == (["notes"], [], 1)


def test_a_gone_contact_is_not_changed(agent):
    from django.utils import timezone

    contact_filled(remote_id=1, name="Ann", gone_at=timezone.now())

    preview = import_preview(
        upload=csv_upload(["remote_id", "name"], [{"remote_id": "1", "name": "Ann 2"}])
    )

    assert [e.message for e in preview.errors] == [
        "This contact is gone from LiveDesk: it cannot be changed."
    ]


def test_a_huge_cell_gets_the_edit_forms_length_message(agent):
    contact_filled(remote_id=1, name="Ann")

    preview = import_preview(upload=xlsx_upload(["remote_id", "name"], [[1, "x" * 30_000]]))

    assert [(e.row, e.column, e.message) for e in preview.errors] == [
        (2, "name", "Ensure this value has at most 255 characters (it has 30000).")
    ]
