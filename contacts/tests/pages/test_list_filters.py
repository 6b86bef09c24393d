"""The agent list's day ranges and custom-attribute conditions: the page, bulk edit's "all
matching" selection and the export carry them; bad values are said, never a 500."""

from __future__ import annotations

import csv
import io
import json
import re
from datetime import datetime

import pytest
from django.http import QueryDict
from django.urls import reverse
from django.utils import timezone
from django.utils.http import urlencode

from contacts import selectors
from contacts.forms import ContactFilterForm
from contacts.forms.filters import filter_params
from contacts.models import Contact, CustomAttributeDefinition, EditBatch
from contacts.tests.factories import (
    batch_delivered,
    contact_make,
    contacts_synced,
    page_text,
    patch_bodies,
)

pytestmark = pytest.mark.django_db

Kinds = CustomAttributeDefinition.AttributeType
LIST_URL = reverse("contacts:list")
BULK_EDIT_URL = reverse("contacts:bulk_edit")
CITY = "additional_attributes.city"


def names(response) -> list[str]:
    return [contact.name for contact in response.context["page"].object_list]


def condition(attr: str, op: str, value: str = "") -> dict[str, str]:
    return {"attr": attr, "op": op, "value": value}


@pytest.fixture
def scored():
    CustomAttributeDefinition.objects.create(
        key="score", label="Score", attribute_type=Kinds.NUMBER
    )
    CustomAttributeDefinition.objects.create(
        key="plan", label="Plan", attribute_type=Kinds.LIST, list_options=["Gold", "Silver"]
    )
    day = timezone.make_aware(datetime(2024, 3, 5, 12))
    contact_make(remote_id=1, name="Nine", custom_attributes={"score": 9}, created_at=day)
    contact_make(
        remote_id=2, name="Ten", custom_attributes={"score": 10, "plan": "Gold"}, created_at=day
    )
    contact_make(remote_id=3, name="Text", custom_attributes={"score": "11"}, created_at=day)
    contact_make(remote_id=4, name="Later", custom_attributes={"score": 12}, created_at=None)


def test_the_list_shows_the_contacts_a_custom_attribute_condition_matches(scored, agent_client):
    response = agent_client.get(LIST_URL, condition("score", "gt", "9"))

    assert response.status_code == 200
    assert names(response) == ["Later", "Ten"]


def test_repeated_conditions_and_a_day_range_all_apply(scored, agent_client):
    query = {
        "attr": ["score", "plan"],
        "op": ["gt", "eq"],
        "value": ["9", "Gold"],
        "created_from": "2024-03-05",
        "created_to": "2024-03-05",
    }

    assert names(agent_client.get(LIST_URL, query)) == ["Ten"]
    assert names(agent_client.get(LIST_URL, {"created_to": "2024-03-04"})) == []


def test_the_form_shows_the_conditions_again_and_one_blank_row_labelled(scored, agent_client):
    html = agent_client.get(LIST_URL, condition("score", "lt", "10")).content.decode()

    assert '<option value="score" data-type="number" selected>Score</option>' in html
    assert re.search(r'<option value="lt"[^>]*selected>less than</option>', html)
    assert 'id="value-0" value="10"' in html
    assert 'id="value-1" value=""' in html  # the row to add another
    for row in (0, 1):
        for part in ("attr", "op", "value"):
            assert f'for="{part}-{row}"' in html
    for name in ("created_from", "created_to", "active_from", "active_to"):
        assert f'<input type="date" name="{name}"' in html
        assert f'for="id_{name}"' in html


@pytest.mark.parametrize(
    ("query", "message"),
    [
        (condition("score", "gt", "ten"), "“Score” compares with a number, such as 42 or 9.5."),
        (condition("score", "contains", "1"), "“Score” cannot be filtered with “contains”."),
        (condition("nope", "eq", "1"), "Choose a custom attribute for this condition."),
        (condition("score", "gt", ""), "Enter the value to compare “Score” with."),
        ({"created_from": "2024-03-05", "created_to": "2024-03-04"}, "on or after the first"),
        ({"active_from": "31/12/2024"}, "Enter a valid date."),
    ],
)
def test_a_bad_filter_is_said_beside_it_and_ignored(scored, agent_client, query, message):
    response = agent_client.get(LIST_URL, query)

    assert response.status_code == 200
    assert message in page_text(response)
    assert len(names(response)) >= 3


@pytest.mark.parametrize(
    "value", ["%", "_", "'", '"', "'; DROP TABLE contacts_contact; --", "x" * 10_000, "ศรีสุข"]
)
@pytest.mark.parametrize("op", ["eq", "contains", "gt", "before", "present"])
def test_hostile_values_answer_normally(scored, agent_client, value, op):
    for query in (
        condition("plan", op, value),
        condition("score", op, value),
        condition(value, op, value),
        {"attr": "plan", "op": value, "value": value},
        {"created_from": value, "active_to": value},
    ):
        response = agent_client.get(LIST_URL, query)
        assert response.status_code == 200
        export = agent_client.get(reverse("contacts:export"), query)
        assert export.status_code == 200
        b"".join(export.streaming_content)


def test_many_conditions_are_capped_with_a_message(scored, agent_client):
    query = {"attr": ["score"] * 12, "op": ["gt"] * 12, "value": ["1"] * 12}

    response = agent_client.get(LIST_URL, query)

    assert response.status_code == 200
    assert "At most 10 conditions on custom attributes apply." in page_text(response)


def test_the_forms_filters_round_trip_through_json_and_the_lists_query(scored):
    query = QueryDict(
        "q=Te&created_from=2024-03-05&created_to=2024-12-31"
        "&attr=score&op=gt&value=9&attr=plan&op=present&value="
    )

    filters = ContactFilterForm(query).filters()
    stored = json.loads(json.dumps(filters))
    again = ContactFilterForm(QueryDict(urlencode(filter_params(stored)))).filters()

    assert stored["created_from"] == "2024-03-05"
    assert stored["attributes"] == [
        {"key": "score", "op": "gt", "value": "9"},
        {"key": "plan", "op": "present", "value": ""},
    ]
    assert again == filters
    assert [c.name for c in selectors.contact_list(**stored)] == ["Ten"]


# --- Bulk edit's "all matching" and the export ----------------------------------------------------


@pytest.fixture
def tiered(sandbox):
    CustomAttributeDefinition.objects.create(key="tier", label="Tier", attribute_type=Kinds.NUMBER)
    high = contacts_synced(sandbox, 3, prefix="High", custom_attributes={"tier": 3})
    low = contacts_synced(sandbox, 2, prefix="Low", custom_attributes={"tier": 1})
    odd = contacts_synced(sandbox, 1, prefix="Odd", custom_attributes={"tier": "3"})
    return high, low + odd


def test_the_lists_bulk_selection_carries_the_conditions_and_days(tiered, lead_client):
    query = {**condition("tier", "gt", "2"), "created_from": "2000-01-01"}

    html = lead_client.get(LIST_URL, query).content.decode()
    selection = html[
        html.index('id="bulk-selection"') : html.index("</form>", html.index('id="bulk-selection"'))
    ]

    hidden = re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)">', selection)
    assert ("created_from", "2000-01-01") in hidden
    assert [pair for pair in hidden if pair[0] in ("attr", "op", "value")] == [
        ("attr", "tier"),
        ("op", "gt"),
        ("value", "2"),
    ]


def test_bulk_edit_all_matching_a_condition_changes_exactly_those_contacts(
    sandbox, tiered, lead_client
):
    high, others = tiered
    selection = {**condition("tier", "gt", "2"), "all": "1"}
    page = lead_client.get(BULK_EDIT_URL, selection)
    assert page.context["selected_count"] == 3

    posted = lead_client.post(
        BULK_EDIT_URL,
        {
            **selection,
            "operation-TOTAL_FORMS": "1",
            "operation-INITIAL_FORMS": "0",
            "operation-MIN_NUM_FORMS": "0",
            "operation-MAX_NUM_FORMS": "1",
            "operation-0-key": CITY,
            "operation-0-action": "set",
            "operation-0-value": "Nara",
        },
    )
    batch = EditBatch.objects.get()
    assert posted.url == reverse("contacts:batch_preview", args=[batch.pk])
    assert batch.selection["filters"]["attributes"] == [{"key": "tier", "op": "gt", "value": "2"}]
    cancel = lead_client.get(posted.url).content.decode()
    assert f'href="{LIST_URL}?sort=name&amp;attr=tier&amp;op=gt&amp;value=2"' in cancel

    lead_client.post(reverse("contacts:batch_confirm", args=[batch.pk]))
    batch.refresh_from_db()
    batch_delivered(batch)

    assert patch_bodies(sandbox) == [{"additional_attributes": {"city": "Nara"}}] * 3
    assert {
        sandbox.store.get_contact(c.remote_id)["additional_attributes"].get("city") for c in high
    } == {"Nara"}
    assert "Nara" not in {
        sandbox.store.get_contact(c.remote_id)["additional_attributes"].get("city") for c in others
    }


def test_bulk_edit_refuses_a_condition_that_cannot_apply(tiered, lead_client):
    response = lead_client.get(BULK_EDIT_URL, {**condition("tier", "gt", "many"), "all": "1"})

    assert response.status_code == 302
    assert response.url == LIST_URL
    assert not EditBatch.objects.exists()
    followed = lead_client.get(response.url)
    assert "“Tier” compares with a number" in page_text(followed)


def test_the_export_has_the_contacts_a_condition_matches(tiered, agent_client):
    response = agent_client.get(reverse("contacts:export"), condition("tier", "lt", "2"))

    assert response.status_code == 200
    rows = list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert [row["name"] for row in rows] == ["Low 000", "Low 001"]


def test_the_export_link_keeps_the_conditions(tiered, agent_client):
    html = agent_client.get(LIST_URL, condition("tier", "lt", "2")).content.decode()

    assert f"{reverse('contacts:export')}?attr=tier&amp;op=lt&amp;value=2" in html
    assert Contact.objects.count() == 6
