"""Read queries: the contact list's search, filters and order; edits for the pages."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model
from django.db import connection
from django.utils import timezone

from contacts import fields, selectors
from contacts.models import AuditEvent, Contact, ContactEdit
from contacts.services import audit
from contacts.tests.factories import contact_make

pytestmark = pytest.mark.django_db


# --- Factories ----------------------------------------------------------------------------------


def edit_make(
    *,
    contact: Contact,
    editor_username: str = "agent",
    state: str = ContactEdit.State.SUCCEEDED,
    changes: list[dict] | None = None,
    created_at=None,
) -> ContactEdit:
    """An edit row as the service records it (no push)."""
    editor, _ = get_user_model().objects.get_or_create(username=editor_username)
    changes = changes or [{"field": "name", "label": "Name", "before": "A", "after": "B"}]
    return ContactEdit.objects.create(
        contact=contact,
        editor=editor,
        editor_username=editor_username,
        source=ContactEdit.Source.AGENT,
        base_version=contact.version,
        changes=changes,
        request_body={change["field"]: change["after"] for change in changes},
        state=state,
        created_at=created_at or timezone.now(),
    )


def names(contacts) -> list[str]:
    return [contact.name for contact in contacts]


# --- Contact list: search -----------------------------------------------------------------------


@pytest.fixture
def searchable():
    contact_make(
        remote_id=1,
        name="Somchai Jaidee",
        email="somchai.j@example.co.th",
        phone_number="+66812345678",
        company_name="Siam Foods",
    )
    contact_make(remote_id=2, name="สมชาย ใจดี", email="jaidee@mail.com", identifier="CRM-100")
    contact_make(remote_id=3, name="Ann Lee", email="ann@acme.com", company_name="Acme_Ltd")
    contact_make(remote_id=4, name="Axme Lee", email="axme@example.com", company_name="AcmeXLtd")


@pytest.mark.parametrize(
    ("q", "expected"),
    [
        ("som", ["Somchai Jaidee"]),
        ("SOMCHAI J", ["Somchai Jaidee"]),
        ("สม", ["สมชาย ใจดี"]),
        ("jaidee@", ["สมชาย ใจดี"]),
        ("siam", ["Somchai Jaidee"]),
        ("+66 81-234-5678", ["Somchai Jaidee"]),
        ("CRM-100", ["สมชาย ใจดี"]),
        ("crm-100", ["สมชาย ใจดี"]),
        ("jaidee", ["Somchai Jaidee", "สมชาย ใจดี"]),
        ("ใจดี", ["สมชาย ใจดี"]),
        ("chai", ["Somchai Jaidee"]),
        ("5678", ["Somchai Jaidee"]),
        ("234-56", ["Somchai Jaidee"]),
        ("me.c", ["Ann Lee"]),
        ("so", ["Somchai Jaidee"]),
        ("ai", []),
        ("acme_", ["Ann Lee"]),
        ("a%", []),
        ("  ann  ", ["Ann Lee"]),
    ],
)
def test_search_matches_inside_from_three_characters_and_by_prefix_below(searchable, q, expected):
    assert names(selectors.contact_list(q=q)) == expected


def query_plan(queryset) -> str:
    """The database's plan for the first page of `queryset`, as one line of text."""
    sql, params = queryset[:50].query.sql_with_params()
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            # A table of a few rows is cheaper to scan: ask which indexes the plan *can* use.
            cursor.execute("SET LOCAL enable_seqscan = off")
            cursor.execute(f"EXPLAIN {sql}", params)
            return " | ".join(row[0] for row in cursor.fetchall())
        cursor.execute(f"EXPLAIN QUERY PLAN {sql}", params)
        return " | ".join(str(row[-1]) for row in cursor.fetchall())


def test_search_and_default_order_use_indexes(searchable):
    default = query_plan(selectors.contact_list())
    search = query_plan(selectors.contact_list(q="so"))
    phone = query_plan(selectors.contact_list(q="66"))
    by_company = query_plan(selectors.contact_list(sort="-company"))

    by_country = query_plan(selectors.contact_list(sort="-country"))

    assert "contact_name_idx" in default and not sorted_whole(default)
    for index in ("name_upper", "email_upper", "company_upper", "identifier"):
        assert f"contact_{index}_idx" in search
    assert "contact_phone_idx" in phone
    assert "contact_company_idx" in by_company and not sorted_whole(by_company)
    assert "contact_country_name_idx" in by_country and not sorted_whole(by_country)


def sorted_whole(plan: str) -> bool:
    """Whether the plan sorts the rows itself rather than reading them in order off an index
    (PostgreSQL's incremental sort, of rows already in index order, only breaks ties)."""
    return "TEMP B-TREE" in plan or re.search(r"(?<!Incremental )Sort  \(", plan) is not None


# --- Contact list: filters and order ------------------------------------------------------------


@pytest.fixture
def filterable():
    now = timezone.now()
    contact_make(remote_id=1, name="Ann", country="Thailand", last_activity_at=now)
    contact_make(
        remote_id=2,
        name="Bob",
        country="Japan",
        blocked=True,
        availability_status="busy",
        last_activity_at=now - timedelta(days=2),
    )
    contact_make(
        remote_id=3,
        name="Cid",
        country="Thailand",
        gone_at=now,
        push_state=Contact.PushState.PENDING,
        last_activity_at=None,
    )


@pytest.mark.parametrize(
    ("filters", "expected"),
    [
        ({}, ["Ann", "Bob", "Cid"]),
        ({"blocked": True}, ["Bob"]),
        ({"blocked": False}, ["Ann", "Cid"]),
        ({"availability": "busy"}, ["Bob"]),
        ({"country": "Thailand"}, ["Ann", "Cid"]),
        ({"push_state": "pending"}, ["Cid"]),
        ({"gone": True}, ["Cid"]),
        ({"gone": False, "country": "Thailand"}, ["Ann"]),
    ],
)
def test_filters(filterable, filters, expected):
    assert names(selectors.contact_list(**filters)) == expected


@pytest.mark.parametrize(
    ("sort", "expected"),
    [
        ("name", ["Ann", "Bob", "Cid"]),
        ("-name", ["Cid", "Bob", "Ann"]),
        ("-country", ["Cid", "Ann", "Bob"]),
        ("-last_activity", ["Ann", "Bob", "Cid"]),
        ("last_activity", ["Bob", "Ann", "Cid"]),
        ("unknown", ["Ann", "Bob", "Cid"]),
    ],
)
def test_sort_orders_with_missing_activity_last(filterable, sort, expected):
    assert names(selectors.contact_list(sort=sort)) == expected


def test_list_leaves_the_json_payloads_in_the_database(filterable):
    contact = selectors.contact_list().first()

    assert {"additional_attributes", "custom_attributes", "contact_inboxes"} <= (
        contact.get_deferred_fields()
    )


def test_countries_are_listed_once_in_order(filterable):
    contact_make(remote_id=9, name="Nobody")

    assert selectors.contact_countries() == ["Japan", "Thailand"]


# --- Edits --------------------------------------------------------------------------------------


def test_unfinished_edits_are_pending_and_failed_ones():
    contact = contact_make(remote_id=1, name="Ann")
    edit_make(contact=contact, state=ContactEdit.State.SUCCEEDED)
    failed = edit_make(contact=contact, state=ContactEdit.State.FAILED)
    pending = edit_make(contact=contact, state=ContactEdit.State.PENDING)

    assert list(selectors.contact_unfinished_edits(contact=contact)) == [pending, failed]


def test_open_edit_is_only_the_unfinished_edit_of_this_contact_asked_for():
    contact = contact_make(remote_id=1, name="Ann")
    other = contact_make(remote_id=2, name="Bob")
    older = edit_make(contact=contact, state=ContactEdit.State.FAILED)
    newer = edit_make(contact=contact, state=ContactEdit.State.FAILED)
    done = edit_make(contact=contact, state=ContactEdit.State.SUCCEEDED)
    elsewhere = edit_make(contact=other, state=ContactEdit.State.FAILED)

    assert selectors.contact_open_edit(contact=contact, edit_id=str(older.pk)) == older
    assert selectors.contact_open_edit(contact=contact, edit_id=newer.pk) == newer
    assert selectors.contact_open_edit(contact=contact, edit_id=None) is None
    assert selectors.contact_open_edit(contact=contact, edit_id=done.pk) is None
    assert selectors.contact_open_edit(contact=contact, edit_id=elsewhere.pk) is None
    assert selectors.contact_open_edit(contact=contact, edit_id="x") is None


def test_prefill_puts_the_edits_values_over_the_mirror():
    contact = contact_make(
        remote_id=1, name="Ann", city="Bangkok", custom_attributes={"plan": "gold", "seats": 3}
    )
    edit = edit_make(
        contact=contact,
        changes=[
            {"field": "name", "label": "Name", "before": "Ann", "after": "Ann Smith"},
            {"field": "custom_attributes.plan", "label": "plan", "before": "gold", "after": None},
        ],
    )

    values = selectors.edit_prefill_values(edit=edit)

    expected = {**fields.contact_values(contact), "name": "Ann Smith"}
    del expected["custom_attributes.plan"]
    assert values == expected
    assert values["custom_attributes.seats"] == 3


def events_appended(*about: tuple[int, int]) -> list[AuditEvent]:
    """One audit event per (contact's LiveDesk id, edit id), appended in this order."""
    return audit.events_append(
        audit.Event(audit.EventKind.EDIT_DELIVERED, {}, contact=contact, edit=edit)
        for contact, edit in about
    )


def test_contact_audit_events_are_the_contacts_newest_first_and_limited():
    ann = contact_make(remote_id=1, name="Ann")
    events = events_appended((1, 10), (2, 20), (1, 10), (1, 11), (2, 20), (1, 11))

    newest = selectors.contact_audit_events(contact=ann, limit=3)

    assert [event.seq for event in newest] == [events[5].seq, events[3].seq, events[2].seq]


def test_edits_audit_events_are_each_edits_in_chain_order_read_in_one_query(
    django_assert_num_queries,
):
    events = events_appended((1, 10), (2, 20), (1, 10), (1, 11), (2, 20))

    with django_assert_num_queries(1):
        stories = selectors.edits_audit_events(edit_ids=[10, 20, 99])

    assert {edit_id: [event.seq for event in story] for edit_id, story in stories.items()} == {
        10: [events[0].seq, events[2].seq],
        20: [events[1].seq, events[4].seq],
        99: [],
    }


def test_edits_audit_events_of_no_edits_asks_nothing(django_assert_num_queries):
    with django_assert_num_queries(0):
        assert selectors.edits_audit_events(edit_ids=[]) == {}


@pytest.fixture
def edits():
    ann = contact_make(remote_id=318001, name="Ann Lee")
    bob = contact_make(remote_id=318002, name="Bob Stone")
    now = timezone.now()
    return {
        "old": edit_make(contact=ann, editor_username="somsri", created_at=now - timedelta(days=3)),
        "ann": edit_make(contact=ann, editor_username="agent", created_at=now),
        "bob": edit_make(
            contact=bob, editor_username="agent", state=ContactEdit.State.FAILED, created_at=now
        ),
    }


@pytest.mark.parametrize(
    ("filters", "expected"),
    [
        ({}, ["bob", "ann", "old"]),
        ({"agent": "SOMSRI"}, ["old"]),
        ({"contact": "318002"}, ["bob"]),
        ({"contact": "#318002"}, ["bob"]),
        ({"contact": "lee"}, ["ann", "old"]),
        ({"state": "failed"}, ["bob"]),
        ({"agent": "agent", "contact": "ann"}, ["ann"]),
    ],
)
def test_edit_history_filters(edits, filters, expected):
    by_pk = {edit.pk: name for name, edit in edits.items()}

    assert [by_pk[edit.pk] for edit in selectors.edit_history(**filters)] == expected


def test_edit_history_date_range_includes_both_days(edits):
    today = timezone.localdate()

    assert selectors.edit_history(date_from=today, date_to=today).count() == 2
    assert selectors.edit_history(date_to=today - timedelta(days=3)).count() == 1
    assert selectors.edit_history(date_from=today + timedelta(days=1)).count() == 0
