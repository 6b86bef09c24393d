"""The admin's contact list filtered by the agent list's day ranges and custom-attribute
conditions: same parameters, same selector, and its bulk edit carries them."""

from __future__ import annotations

from datetime import datetime
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from contacts.models import Contact, CustomAttributeDefinition
from contacts.tests.factories import (
    CONTACTS_URL,
    LEAD_PERMISSIONS,
    client_for,
    page_text,
    user_make,
)

pytestmark = pytest.mark.django_db

Kinds = CustomAttributeDefinition.AttributeType


@pytest.fixture
def scored():
    CustomAttributeDefinition.objects.create(
        key="score", label="Score", attribute_type=Kinds.NUMBER
    )
    CustomAttributeDefinition.objects.create(key="vip", label="VIP", attribute_type=Kinds.CHECKBOX)
    day = timezone.make_aware(datetime(2024, 3, 5, 9))
    for remote_id, attributes in enumerate(
        [{"score": 9}, {"score": 10, "vip": True}, {"score": "11"}, {"score": 12, "vip": False}],
        start=1,
    ):
        Contact.objects.create(
            remote_id=remote_id,
            name=f"C{remote_id}",
            custom_attributes=attributes,
            created_at=day if remote_id < 4 else None,
            last_activity_at=day,
        )


def result_ids(response) -> list[int]:
    assert response.status_code == 200
    return sorted(contact.remote_id for contact in response.context["cl"].result_list)


def test_the_changelist_filters_by_a_custom_attribute_condition(scored, admin_client):
    response = admin_client.get(CONTACTS_URL, {"attr": "score", "op": "gt", "value": "9.5"})

    assert result_ids(response) == [2, 4]


def test_the_changelist_applies_repeated_conditions_and_day_ranges(scored, admin_client):
    query = urlencode(
        [
            ("attr", "score"),
            ("op", "gt"),
            ("value", "9"),
            ("attr", "vip"),
            ("op", "present"),
            ("value", ""),
            ("created_from", "2024-03-05"),
            ("created_to", "2024-03-05"),
        ]
    )

    assert result_ids(admin_client.get(f"{CONTACTS_URL}?{query}")) == [2]
    assert result_ids(admin_client.get(CONTACTS_URL, {"active_to": "2024-03-04"})) == []
    assert result_ids(admin_client.get(CONTACTS_URL, {"active_from": "2024-03-05"})) == [1, 2, 3, 4]


def test_the_sidebar_form_shows_the_conditions_with_labels(scored, admin_client):
    html = admin_client.get(
        CONTACTS_URL, {"attr": "vip", "op": "yes", "value": ""}
    ).content.decode()

    assert '<option value="vip" data-type="checkbox" selected>VIP</option>' in html
    for name in ("created_from", "created_to", "active_from", "active_to"):
        assert f'<label for="admin_{name}">' in html
    for part in ("attr", "op", "value"):
        assert f'<label for="admin_{part}_0">' in html
        assert f'<label for="admin_{part}_1">' in html


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ({"attr": "score", "op": "gt", "value": "many"}, "“Score” compares with a number"),
        ({"attr": "score", "op": "yes", "value": ""}, "“Score” cannot be filtered with “is yes”."),
        ({"attr": "gone", "op": "eq", "value": "x"}, "Choose a custom attribute"),
        ({"created_from": "yesterday"}, "Enter a valid date."),
    ],
)
def test_a_bad_value_is_said_in_the_sidebar_not_an_error_page(scored, admin_client, query, message):
    response = admin_client.get(CONTACTS_URL, query)

    assert result_ids(response) == [1, 2, 3, 4]
    assert message in page_text(response)


@pytest.mark.parametrize("value", ["%", "_", "'", '"', "') OR 1=1 --", "x" * 10_000])
def test_hostile_values_answer_normally(scored, admin_client, value):
    for query in (
        {"attr": "score", "op": "eq", "value": value},
        {"attr": value, "op": value, "value": value},
        {"created_from": value, "active_to": value},
    ):
        assert admin_client.get(CONTACTS_URL, query).status_code == 200


def test_bulk_edit_over_all_matching_carries_the_conditions_and_days(scored):
    lead = user_make(username="lead", perms=LEAD_PERMISSIONS)
    lead.is_staff = True
    lead.save()
    client = client_for(lead)
    query = "?attr=score&op=gt&value=9&created_from=2024-03-01"

    response = client.post(
        CONTACTS_URL + query,
        {"action": "bulk_edit", "index": 0, "_selected_action": [1], "select_across": "1"},
    )

    assert response.status_code == 302
    assert urlsplit(response.url).path == reverse("contacts:bulk_edit")
    assert parse_qs(urlsplit(response.url).query, keep_blank_values=True) == {
        "created_from": ["2024-03-01"],
        "attr": ["score"],
        "op": ["gt"],
        "value": ["9"],
        "all": ["1"],
    }
    bulk_page = client.get(response.url)
    assert sorted(c.remote_id for c in bulk_page.context["selection"].contacts()) == [2]


def test_a_condition_costs_the_admin_no_query_beyond_a_column_filter(admin_client, scored):
    admin_client.get(CONTACTS_URL)  # the session and the country choices stored
    with CaptureQueriesContext(connection) as by_column:
        admin_client.get(CONTACTS_URL, {"blocked__exact": "1"})
    with CaptureQueriesContext(connection) as by_condition:
        admin_client.get(CONTACTS_URL, {"attr": "score", "op": "gt", "value": "9"})

    assert len(by_condition) <= len(by_column)
