"""Searching inside names, emails, phones, identifiers and companies, in Thai and English.

Runs on both engines: PostgreSQL answers from its pg_trgm indexes, SQLite from the FTS5
trigram table its triggers keep in step (migration 0012).
"""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from django.db import connection

from contacts import selectors, services
from contacts.models import Contact
from contacts.tests.factories import contact_make, contact_synced, edit_submit
from contacts.tests.pages.test_selectors import names, query_plan
from contacts.tests.services.test_webhooks import changed_in_sandbox, deliver

pytestmark = pytest.mark.django_db


@pytest.fixture
def people():
    contact_make(
        remote_id=1,
        name="Anchalee Naksawat",
        email="anchalee.n@siam.example",
        phone_number="+66812345678",
        company_name="Chiang Mai Rice",
    )
    contact_make(remote_id=2, name="วิไล ศรีสุข", email="wilai@example.co.th", country_code="TH")
    contact_make(
        remote_id=3,
        name="Tom Baker",
        email="tom@bakery.example",
        phone_number="+14155550123",
        identifier="CRM-5678-X",
    )
    contact_make(remote_id=4, name="ศรีสุดา มณี", email="srisuda@example.co.th")


@pytest.mark.parametrize(
    ("q", "expected"),
    [
        ("Naksawat", ["Anchalee Naksawat"]),
        ("aksaw", ["Anchalee Naksawat"]),
        ("NAKSAWAT", ["Anchalee Naksawat"]),
        ("ศรีสุข", ["วิไล ศรีสุข"]),
        ("ศรีสุ", ["วิไล ศรีสุข", "ศรีสุดา มณี"]),
        ("สุดา", ["ศรีสุดา มณี"]),
        ("5678", ["Anchalee Naksawat", "Tom Baker"]),
        ("234 5678", ["Anchalee Naksawat"]),
        ("81-234-56", ["Anchalee Naksawat"]),
        ("(415) 555", ["Tom Baker"]),
        ("siam.ex", ["Anchalee Naksawat"]),
        ("akery", ["Tom Baker"]),
        ("rice", ["Anchalee Naksawat"]),
        ("m-5678-x", ["Tom Baker"]),
    ],
)
def test_finds_inside_names_emails_phones_identifiers_and_companies(people, q, expected):
    assert names(selectors.contact_list(q=q)) == expected


@pytest.mark.parametrize(
    ("q", "expected"),
    [
        ("An", ["Anchalee Naksawat"]),
        ("ศร", ["ศรีสุดา มณี"]),
        ("ak", []),
    ],
)
def test_fewer_than_three_characters_match_by_prefix(people, q, expected):
    assert names(selectors.contact_list(q=q)) == expected


def test_best_matches_come_first_exact_then_prefix_then_word_then_inside():
    for remote_id, name in enumerate(["Ashlee Smith", "Ann Lee", "Leela Wong", "Lee"], start=1):
        contact_make(remote_id=remote_id, name=name)
    contact_make(remote_id=5, name="Zed", email="lee@example.com")

    ranked = selectors.contact_list(q="lee", sort="relevance")

    assert [(contact.name, contact.search_rank) for contact in ranked] == [
        ("Lee", 0),
        ("Leela Wong", 1),
        ("Zed", 1),
        ("Ann Lee", 2),
        ("Ashlee Smith", 3),
    ]


def test_the_list_shows_best_matches_first_across_pages(agent_client):
    for number in range(1, 61):
        contact_make(remote_id=number, name=f"Ashlee {number:02}")
    contact_make(remote_id=99, name="Zoe Lee")

    first = agent_client.get("/contacts/", {"q": "lee"})
    page = first.context["page"]
    second = agent_client.get("/contacts/", {"q": "lee", "after": page.next_cursor})

    assert first.context["sort"] == "relevance"
    assert [c.name for c in page.object_list][:2] == ["Zoe Lee", "Ashlee 01"]
    shown = [c.name for c in page.object_list + second.context["page"].object_list]
    assert len(shown) == 61 == len(set(shown))


def test_substring_search_reads_the_search_index_not_every_row(people):
    if connection.vendor == "postgresql":
        # On a table of four rows a walk of any index wins: allow only index conditions, so the
        # plan shows which indexes the search can use (the bench times them on 1M rows).
        with connection.cursor() as cursor:
            cursor.execute("SET LOCAL enable_indexscan = off")
    plan = query_plan(selectors.contact_list(q="aksaw", sort="relevance"))

    if connection.vendor == "postgresql":
        assert "contact_text_trgm_idx" in plan and "contact_phone_trgm_idx" not in plan
        assert "Seq Scan" not in plan
        phone_plan = query_plan(selectors.contact_list(q="5678", sort="relevance"))
        assert "contact_phone_trgm_idx" in phone_plan
    else:
        assert "VIRTUAL TABLE INDEX" in plan and "SCAN contacts_contact " not in plan + " "


def test_sqlite_keeps_its_search_table_in_step_with_triggers():
    if connection.vendor != "sqlite":
        pytest.skip("PostgreSQL's indexes need no triggers")
    with connection.cursor() as cursor:
        cursor.execute("SELECT name FROM sqlite_master WHERE type = 'trigger' ORDER BY name")
        triggers = {row[0] for row in cursor.fetchall()}
    assert {
        "contacts_contact_search_delete",
        "contacts_contact_search_insert",
        "contacts_contact_search_update",
    } <= triggers


# --- Kept in step -------------------------------------------------------------------------------


def test_the_index_follows_sync_edit_webhook_and_removal(sandbox, client, settings):
    settings.LIVEDESK_WEBHOOK_SECRET = "test-webhook-secret-3f9a"
    settings.LIVEDESK_WEBHOOK_MAX_SKEW_SECONDS = 300
    anchalee = contact_synced(sandbox=sandbox, name="Anchalee Naksawat", email="a@example.com")
    assert names(selectors.contact_list(q="aksaw")) == ["Anchalee Naksawat"]

    agent = get_user_model().objects.create_user("searcher")
    edit_submit(contact=anchalee, editor=agent, changes={"name": "Anchalee Rattanakosin"})
    assert Contact.objects.get(pk=anchalee.pk).name == "Anchalee Rattanakosin"
    assert names(selectors.contact_list(q="aksaw")) == []
    assert names(selectors.contact_list(q="tanako")) == ["Anchalee Rattanakosin"]

    anchalee.refresh_from_db()
    event = changed_in_sandbox(sandbox, anchalee, {"email": "anchalee@naksawat-clinic.example"})
    assert deliver(client, event).status_code == 200
    assert names(selectors.contact_list(q="clinic")) == ["Anchalee Rattanakosin"]

    sandbox.store.create_contact(name="Pim Thongchai", phone_number="+66899990000")
    services.contacts_sync()
    assert names(selectors.contact_list(q="99990")) == ["Pim Thongchai"]

    Contact.objects.filter(name="Pim Thongchai").delete()
    assert names(selectors.contact_list(q="99990")) == []
    assert names(selectors.contact_list(q="tanako")) == ["Anchalee Rattanakosin"]


# --- Hostile queries ----------------------------------------------------------------------------

HOSTILE = [
    "%",
    "%%%",
    "_",
    "a_b",
    "'",
    '"',
    '"unbalanced',
    "''; DROP TABLE contacts_contact; --",
    "1 OR 1=1",
    "name : x",
    "{name email} : x",
    "NEAR(a b)",
    "a* OR b",
    "NOT AND OR",
    "^x$",
    "\\",
    "x" * 10_000,
    "ศรี" * 3_000,
    "\x00abc",
]


@pytest.mark.parametrize("q", HOSTILE, ids=range(len(HOSTILE)))
def test_hostile_queries_match_literally_and_never_fail(people, q):
    assert names(selectors.contact_list(q=q, sort="relevance")) == []


@pytest.mark.parametrize("q", HOSTILE, ids=range(len(HOSTILE)))
def test_hostile_queries_answer_the_agent_list_and_the_admin_normally(
    people, agent_client, admin_client, q
):
    agent = agent_client.get("/contacts/", {"q": q})
    admin = admin_client.get("/admin/contacts/contact/", {"q": q})

    # A NUL is refused before any view (contacts.middleware): a 400 saying why.
    expected = 400 if "\x00" in q else 200
    assert (agent.status_code, admin.status_code) == (expected, expected)


def test_a_blank_search_lists_everyone(people):
    assert len(names(selectors.contact_list(q="   ", sort="relevance"))) == 4


def test_literal_wildcards_are_found_as_written():
    contact_make(remote_id=1, name="Ann", company_name="100% Organic")
    contact_make(remote_id=2, name="Bob", company_name="100 Organic")
    contact_make(remote_id=3, name="Cat", email="c_t@example.com")
    contact_make(remote_id=4, name="Dan", email="cat@example.com")

    assert names(selectors.contact_list(q="0% O")) == ["Ann"]
    assert names(selectors.contact_list(q="c_t")) == ["Cat"]
    assert names(selectors.contact_list(q='"o')) == []


def test_the_admin_searches_inside_too(people, admin_client):
    response = admin_client.get("/admin/contacts/contact/", {"q": "aksaw"})

    assert [c.name for c in response.context["cl"].result_list] == ["Anchalee Naksawat"]
