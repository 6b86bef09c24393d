"""Phones as people type and read them (#14): a national number is saved as E.164, a saved one
is shown formatted wherever it appears, and a national number finds its contact."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import translation

from contacts import selectors
from contacts.admin.html import changes_html
from contacts.display import change_words, phone_display
from contacts.forms.field_types import region_name
from contacts.tests.factories import (
    CONTACTS_URL,
    contact_filled,
    contact_make,
    contact_synced,
    edit_post,
    page_text,
    patch_bodies,
    submitted,
)
from contacts.tests.pages.test_selectors import names, query_plan

pytestmark = pytest.mark.django_db


# --- Display -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("stored", "shown"),
    [
        ("+66812345678", "+66 81 234 5678"),
        ("+6621234567", "+66 2 123 4567"),
        ("+14155550123", "+1 415-555-0123"),
        # Not valid E.164: written elsewhere, or before the form checked numbers.
        ("+1555", "+1555"),
        ("0812345678", "0812345678"),
        ("+66 81 junk", "+66 81 junk"),
        ("", ""),
        (None, ""),
    ],
)
def test_phone_display_formats_valid_numbers_and_shows_others_as_stored(stored, shown):
    assert phone_display(stored) == shown


def test_a_phone_change_is_shown_formatted_and_other_changes_as_they_are():
    assert change_words("phone_number", "+66812345678") == "+66 81 234 5678"
    assert change_words("phone_number", None) == "(absent)"
    assert change_words("identifier", "+66812345678") == "+66812345678"


def test_region_name_is_in_the_active_language():
    assert region_name("TH") == "Thailand"
    with translation.override("th"):
        assert region_name("TH") == "ประเทศไทย"
    assert region_name("AQ") == "AQ"  # no phone numbers, hence no name in phonenumbers


def test_invalid_phone_message_names_the_region_in_thai_on_thai_pages():
    contact = contact_filled()

    with translation.override("th"):
        form = submitted(contact, phone_number="081 234")
        assert not form.is_valid()
        assert "ประเทศไทย (TH)" in form.errors["phone_number"][0]


# --- Pages -------------------------------------------------------------------------------------


def test_contact_page_shows_the_phone_formatted(agent_client):
    contact = contact_filled(phone_number="+66812345678")

    text = page_text(agent_client.get(contact.get_absolute_url()))

    assert "+66 81 234 5678" in text
    assert "+66812345678" not in text


def test_contact_page_shows_an_invalid_stored_phone_as_stored(agent_client):
    contact = contact_filled(phone_number="+1555")

    assert "+1555" in page_text(agent_client.get(contact.get_absolute_url()))


def test_agent_list_rows_show_phones_formatted(agent_client):
    contact_make(remote_id=1, name="Ann", phone_number="+66812345678")
    contact_make(remote_id=2, name="Bob", phone_number="+1555")

    text = page_text(agent_client.get(reverse("contacts:list")))

    assert '<span class="font-monospace small">+66 81 234 5678</span>' in text
    assert '<span class="font-monospace small">+1555</span>' in text


def test_admin_list_shows_phones_formatted(admin_client):
    contact_make(remote_id=1, name="Ann", phone_number="+66812345678")
    contact_make(remote_id=2, name="Bob", phone_number="+1555")

    text = page_text(admin_client.get(CONTACTS_URL))

    assert '<td class="field-phone_number">+66 81 234 5678</td>' in text
    assert '<td class="field-phone_number">+1555</td>' in text


def test_the_list_formats_phones_without_extra_queries(agent_client):
    for remote_id in range(1, 51):
        contact_make(remote_id=remote_id, name=f"A {remote_id:02}", phone_number="+66812345678")
        contact_make(remote_id=100 + remote_id, name=f"B {remote_id:02}", phone_number="")
    agent_client.get(reverse("contacts:list"))  # the session and caches warmed

    queries = {}
    for prefix in ("A", "B"):
        with CaptureQueriesContext(connection) as captured:
            response = agent_client.get(reverse("contacts:list"), {"q": prefix})
        assert len(response.context["page"].object_list) == 50
        queries[prefix] = len(captured)

    assert queries["A"] == queries["B"]


def test_an_agent_types_a_national_number_and_the_history_shows_it_formatted(sandbox, agent_client):
    contact = contact_synced(
        sandbox=sandbox,
        name="Nok",
        phone_number="+66898765432",
        additional_attributes={"country_code": "TH"},
    )
    sandbox.clear_recorded()

    response = edit_post(agent_client, contact, phone_number="081 234 5678")

    assert patch_bodies(sandbox) == [{"phone_number": "+66812345678"}]
    text = page_text(response)
    assert "+66 81 234 5678" in text
    history = page_text(agent_client.get(reverse("contacts:history")))
    assert '<span class="change-before">+66 89 876 5432</span>' in history
    assert '<span class="change-after">+66 81 234 5678</span>' in history


def test_admin_history_shows_phone_changes_formatted():
    html = changes_html(
        [
            {"field": "phone_number", "before": "+66898765432", "after": "+66812345678"},
            {"field": "identifier", "before": "", "after": "+66812345678"},
        ]
    )

    assert "<td>+66 89 876 5432</td><td>+66 81 234 5678</td>" in html
    assert "<td>+66812345678</td>" in html


# --- Search ------------------------------------------------------------------------------------


@pytest.fixture
def phoned():
    contact_make(remote_id=1, name="Ann", phone_number="+66812345678", country_code="TH")
    contact_make(remote_id=2, name="Bob", phone_number="+6621234567", country_code="TH")
    contact_make(remote_id=3, name="Cy", phone_number="+442079460018", country_code="GB")


@pytest.mark.parametrize(
    ("q", "expected"),
    [
        ("081 234 5678", ["Ann"]),
        ("0812345678", ["Ann"]),
        ("02-123-4567", ["Bob"]),
        ("+66 81 234 5678", ["Ann"]),
        ("812 34", ["Ann"]),  # digits inside, as before
        ("234", ["Ann", "Bob"]),
    ],
)
def test_search_finds_a_phone_typed_in_the_default_regions_national_format(phoned, q, expected):
    assert names(selectors.contact_list(q=q)) == expected


def test_search_reads_national_numbers_in_the_configured_region(phoned, settings):
    assert names(selectors.contact_list(q="020 7946 0018")) == []

    settings.LIVEDESK_DEFAULT_PHONE_REGION = "GB"

    assert names(selectors.contact_list(q="020 7946 0018")) == ["Cy"]
    assert names(selectors.contact_list(q="081 234 5678")) == []


def test_a_national_number_search_reads_the_search_index_not_every_row(phoned):
    if connection.vendor == "postgresql":
        # On a table of three rows a walk of any index wins: allow only index conditions.
        with connection.cursor() as cursor:
            cursor.execute("SET LOCAL enable_indexscan = off")
    plan = query_plan(selectors.contact_list(q="081 234 5678", sort="relevance"))

    if connection.vendor == "postgresql":
        assert "contact_phone_trgm_idx" in plan
        assert "Seq Scan" not in plan
    else:
        assert "VIRTUAL TABLE INDEX" in plan and "SCAN contacts_contact " not in plan + " "
