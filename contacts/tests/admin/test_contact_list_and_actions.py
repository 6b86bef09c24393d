"""The admin's contact list against a real LiveDesk sandbox: search, filters and actions."""

from __future__ import annotations

import csv
import io

import pytest

from contacts.models import Contact, ContactEdit
from contacts.tests.factories import (
    CONTACTS_URL,
    contact_synced,
    edit_failed_transiently,
    messages_of,
    patch_bodies,
)

pytestmark = pytest.mark.django_db


# --- Factories and helpers ---------------------------------------------------------------------


def action_post(client, action: str, contacts: list[Contact]):
    return client.post(
        CONTACTS_URL,
        {"action": action, "_selected_action": [c.pk for c in contacts], "index": 0},
        follow=True,
    )


# --- The contact list: search and filters ----------------------------------------------------


def test_contact_search_matches_inside_names_ignoring_case_and_emails(sandbox, admin_client):
    ann = contact_synced(sandbox=sandbox, name="Ann Lee", email="ann@example.com")
    anna = contact_synced(sandbox=sandbox, name="anna Smith", email="a.smith@example.com")
    joanne = contact_synced(sandbox=sandbox, name="Joanne Ann", email="jo@example.com")
    contact_synced(sandbox=sandbox, name="Bob", email="bob@example.com")

    by_name = admin_client.get(CONTACTS_URL, {"q": "ANN"}).context["cl"].result_list
    by_email = admin_client.get(CONTACTS_URL, {"q": "Ann@Example.com"}).context["cl"].result_list
    by_id = admin_client.get(CONTACTS_URL, {"q": str(anna.remote_id)}).context["cl"].result_list

    assert set(by_name) == {ann, anna, joanne}
    assert list(by_email) == [ann]
    assert list(by_id) == [anna]


def test_contact_country_and_gone_filters_narrow_the_list(sandbox, admin_client):
    thai = contact_synced(
        sandbox=sandbox, name="Ann", additional_attributes={"country": "Thailand"}
    )
    contact_synced(sandbox=sandbox, name="Bob", additional_attributes={"country": "Japan"})
    Contact.objects.filter(pk=thai.pk).update(gone_at="2024-01-01T00:00:00Z")

    by_country = admin_client.get(CONTACTS_URL, {"country": "Thailand"}).context["cl"]
    gone = admin_client.get(CONTACTS_URL, {"gone": "yes"}).context["cl"]

    assert list(by_country.result_list) == [thai]
    assert list(gone.result_list) == [thai]
    [country_filter] = [spec for spec in by_country.filter_specs if spec.title == "country"]
    choices = [choice["display"] for choice in country_filter.choices(by_country)]
    assert choices == ["All", "Japan", "Thailand"]


# --- Actions ----------------------------------------------------------------------------------


def test_refresh_action_brings_in_the_changed_remote_value(sandbox, admin_client):
    contact = contact_synced(sandbox=sandbox, name="Ann Lee")
    sandbox.store.update_contact(contact.remote_id, {"name": "Ann Remote"})

    response = action_post(admin_client, "refresh_from_livedesk", [contact])

    contact.refresh_from_db()
    assert contact.name == "Ann Remote"
    assert messages_of(response) == [("success", "1 contact updated from LiveDesk: Ann Remote.")]


def test_refresh_action_flags_a_contact_gone_from_livedesk(sandbox, admin_client):
    kept = contact_synced(sandbox=sandbox, name="Ann Lee")
    deleted = contact_synced(sandbox=sandbox, name="Bob Gone")
    sandbox.store.delete_contact(deleted.remote_id)

    response = action_post(admin_client, "refresh_from_livedesk", [kept, deleted])

    deleted.refresh_from_db()
    kept.refresh_from_db()
    assert deleted.is_gone and not kept.is_gone
    assert messages_of(response) == [
        ("success", "1 contact already up to date: Ann Lee."),
        ("warning", "1 contact is gone from LiveDesk and was flagged: Bob Gone."),
    ]


def test_retry_action_delivers_a_failed_edit(sandbox, admin_client, admin_user):
    contact = contact_synced(sandbox=sandbox, name="Ann Lee")
    idle = contact_synced(sandbox=sandbox, name="Bob Idle")
    edit = edit_failed_transiently(
        sandbox=sandbox, contact=contact, editor=admin_user, changes={"name": "Ann Retried"}
    )

    response = action_post(admin_client, "retry_failed_pushes", [contact, idle])

    edit.refresh_from_db()
    assert edit.state == ContactEdit.State.SUCCEEDED
    assert sandbox.store.get_contact(contact.remote_id)["name"] == "Ann Retried"
    assert messages_of(response) == [
        ("success", "1 failed edit delivered to LiveDesk: Ann Lee."),
        ("warning", "1 contact has no failed edit to retry: Bob Idle."),
    ]


@pytest.mark.parametrize(
    ("action", "blocked"), [("block_contacts", True), ("unblock_contacts", False)]
)
def test_block_actions_patch_blocked_and_record_one_edit_each(
    sandbox, admin_client, admin_user, action, blocked
):
    ann = contact_synced(sandbox=sandbox, name="Ann Lee", blocked=not blocked)
    bob = contact_synced(sandbox=sandbox, name="Bob Lee", blocked=not blocked)

    response = action_post(admin_client, action, [ann, bob])

    assert patch_bodies(sandbox) == [{"blocked": blocked}, {"blocked": blocked}]
    edits = ContactEdit.objects.order_by("contact__name")
    assert [(e.contact, e.source, e.editor, e.state) for e in edits] == [
        (contact, ContactEdit.Source.ADMIN_ACTION, admin_user, ContactEdit.State.SUCCEEDED)
        for contact in (ann, bob)
    ]
    assert Contact.objects.filter(blocked=blocked).count() == 2
    verb = "blocked" if blocked else "unblocked"
    assert messages_of(response) == [
        ("success", f"2 contacts {verb} in LiveDesk: Ann Lee, Bob Lee.")
    ]


def test_block_action_reports_a_failure_per_contact(sandbox, admin_client):
    contact = contact_synced(sandbox=sandbox, name="Ann Lee")
    sandbox.store.delete_contact(contact.remote_id)

    response = action_post(admin_client, "block_contacts", [contact])

    [(level, text)] = messages_of(response)
    assert level == "error"
    assert text.startswith("1 contact could not be changed: Ann Lee (")


def test_export_csv_streams_the_selected_contacts(sandbox, admin_client):
    ann = contact_synced(
        sandbox=sandbox,
        name="Ann Lee",
        email="ann@example.com",
        identifier="cus-1",
        additional_attributes={"company_name": "Acme", "city": "Bangkok", "country_code": "TH"},
    )
    contact_synced(sandbox=sandbox, name="Not Selected")

    response = action_post(admin_client, "export_csv", [ann])

    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"].startswith('attachment; filename="contacts-')
    rows = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert rows[0] == [
        "remote_id",
        "name",
        "email",
        "phone",
        "identifier",
        "thumbnail",
        "blocked",
        "availability",
        "description",
        "company",
        "telegram",
        "city",
        "country",
        "country_code",
        "facebook",
        "github",
        "instagram",
        "linkedin",
        "twitter",
        "push_state",
        "last_synced",
    ]
    row = dict(zip(rows[0], rows[1], strict=True))
    assert row == {
        **dict.fromkeys(rows[0], ""),
        "remote_id": str(ann.remote_id),
        "name": "Ann Lee",
        "email": "ann@example.com",
        "identifier": "cus-1",
        "blocked": "false",
        "availability": "offline",
        "company": "Acme",
        "city": "Bangkok",
        "country_code": "TH",
        "push_state": "in_sync",
        "last_synced": row["last_synced"],
    }
    assert row["last_synced"].startswith(str(ann.synced_at.year))
    assert len(rows) == 2


def test_export_csv_defuses_spreadsheet_formulas(sandbox, admin_client):
    contact = contact_synced(
        sandbox=sandbox,
        name='=HYPERLINK("http://evil.example","x")',
        phone_number="+66812345678",
        identifier="@SUM(A1)",
        additional_attributes={"company_name": "-2+3", "city": "Bangkok=1"},
    )

    response = action_post(admin_client, "export_csv", [contact])

    [row] = list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert row["name"] == '\'=HYPERLINK("http://evil.example","x")'
    assert row["phone"] == "'+66812345678"
    assert row["identifier"] == "'@SUM(A1)"
    assert row["company"] == "'-2+3"
    assert row["city"] == "Bangkok=1"


def test_actions_refuse_more_contacts_than_one_request_should_call_livedesk_for(
    sandbox, admin_client, monkeypatch
):
    monkeypatch.setattr("contacts.admin.actions.ACTION_LIMIT", 1)
    contacts = [contact_synced(sandbox=sandbox, name=name) for name in ("Ann", "Bob")]

    response = action_post(admin_client, "block_contacts", contacts)

    assert messages_of(response)[0][0] == "error"
    assert patch_bodies(sandbox) == []
