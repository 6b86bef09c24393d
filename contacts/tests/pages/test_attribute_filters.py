"""The contact list's typed filters on custom attributes and its date ranges (selectors)."""

from __future__ import annotations

from datetime import date, datetime

import pytest
from django.utils import timezone

from contacts import selectors
from contacts.attribute_filters import InvalidCondition, condition_value
from contacts.models import Contact, CustomAttributeDefinition
from contacts.selectors import AttributeCondition
from contacts.tests.factories import contact_make

pytestmark = pytest.mark.django_db

Kinds = CustomAttributeDefinition.AttributeType

# What each contact holds, by attribute key: the right JSON type, the wrong one, null, nothing.
STORED = {
    1: {
        "plan": "Gold",
        "score": 9,
        "amount": 10.5,
        "rate": 50,
        "signed": "2024-03-05",
        "news": True,
        "site": "https://a.example",
        "tier": "Premium",
    },
    2: {
        "plan": "gold plus",
        "score": 10,
        "amount": 99.99,
        "rate": 12.5,
        "signed": "2024-03-06T10:00:00Z",
        "news": False,
        "site": "https://b.example",
        "tier": ["Basic", "Premium"],
    },
    3: {
        "plan": 42,
        "score": "11",
        "amount": "abc",
        "rate": "12%",
        "signed": "next week",
        "news": "true",
        "site": 7,
        "tier": 3,
    },
    4: {
        "plan": None,
        "score": None,
        "amount": None,
        "rate": None,
        "signed": None,
        "news": None,
        "site": None,
        "tier": None,
    },
    5: {},
    6: {"plan": "", "score": [1, 2], "signed": {"day": "2024-03-05"}, "tier": "Basic"},
    7: {"plan": "50% off_now", "site": "a_b%c"},
}
TYPES = {
    "plan": Kinds.TEXT,
    "score": Kinds.NUMBER,
    "amount": Kinds.CURRENCY,
    "rate": Kinds.PERCENT,
    "signed": Kinds.DATE,
    "news": Kinds.CHECKBOX,
    "site": Kinds.LINK,
    "tier": Kinds.LIST,
}


@pytest.fixture
def stored():
    for key, kind in TYPES.items():
        CustomAttributeDefinition.objects.create(
            key=key, label=key.title(), attribute_type=kind, list_options=["Basic", "Premium"]
        )
    for remote_id, attributes in STORED.items():
        contact_make(remote_id=remote_id, name=f"C{remote_id}", custom_attributes=attributes)


def matching(*conditions: tuple[str, str, str]) -> list[int]:
    contacts = selectors.contact_list(
        attributes=[AttributeCondition(key, op, value) for key, op, value in conditions]
    )
    return sorted(contacts.values_list("remote_id", flat=True))


@pytest.mark.parametrize(
    ("condition", "expected"),
    [
        # Text: equals in any case, contains in any case; a number stored is not text.
        (("plan", "eq", "GOLD"), [1]),
        (("plan", "eq", "42"), []),
        (("plan", "contains", "old"), [1, 2]),
        (("plan", "contains", "%"), [7]),
        (("plan", "contains", "_"), [7]),
        (("plan", "contains", "0% OFF"), [7]),
        (("plan", "eq", "50% OFF_NOW"), [7]),
        (("plan", "eq", "50_ off%now"), []),
        (("plan", "present", ""), [1, 2, 3, 7]),
        (("plan", "absent", ""), [4, 5, 6]),
        # Numbers compare as numbers (9 < 10), never the strings stored in their place.
        (("score", "gt", "9"), [2]),
        (("score", "lt", "10"), [1]),
        (("score", "eq", "9.0"), [1]),
        (("score", "gt", "-1e3"), [1, 2]),
        (("score", "present", ""), [1, 2, 3, 6]),
        (("score", "absent", ""), [4, 5, 7]),
        (("amount", "gt", "10.49"), [1, 2]),
        (("amount", "lt", "10.5"), []),
        (("amount", "eq", "99.99"), [2]),
        (("rate", "gt", "12"), [1, 2]),
        (("rate", "eq", "12.5"), [2]),
        (("rate", "lt", "13"), [2]),
        # Dates compare as YYYY-MM-DD, a time after the day ignored; other text never matches.
        (("signed", "eq", "2024-03-05"), [1]),
        (("signed", "after", "2024-03-05"), [2]),
        (("signed", "before", "2024-03-06"), [1]),
        (("signed", "before", "9999-12-31"), [1, 2]),
        (("signed", "absent", ""), [4, 5, 7]),
        # Checkboxes: a JSON boolean only ("true" as text is not one).
        (("news", "yes", ""), [1]),
        (("news", "no", "ignored"), [2]),
        (("news", "present", ""), [1, 2, 3]),
        # Links compare exactly.
        (("site", "eq", "https://a.example"), [1]),
        (("site", "eq", "HTTPS://A.EXAMPLE"), []),
        (("site", "eq", "7"), []),
        (("site", "eq", "a_b%c"), [7]),
        (("site", "eq", "aXb%c"), []),
        # Lists: equals the option; contains inside the text or an element of a list.
        (("tier", "eq", "Premium"), [1]),
        (("tier", "eq", "Basic"), [6]),
        (("tier", "contains", "Premium"), [1, 2]),
        (("tier", "contains", "basic"), [2, 6]),
        (("tier", "contains", "3"), []),
        (("tier", "present", ""), [1, 2, 3, 6]),
    ],
)
def test_each_operator_matches_its_type_only(stored, condition, expected):
    assert matching(condition) == expected


def test_conditions_all_apply(stored):
    assert matching(("plan", "contains", "gold"), ("score", "gt", "9")) == [2]


@pytest.mark.parametrize(
    "condition",
    [
        ("score", "contains", "1"),  # an operator of another type
        ("score", "gt", "abc"),
        ("score", "gt", "NaN"),
        ("score", "gt", "1e400"),
        ("signed", "after", "05/03/2024"),
        ("signed", "after", "2024-02-30"),
        ("plan", "eq", "  "),
        ("plan", "drop table", "x"),
        ("nope", "eq", "x"),  # no definition
    ],
)
def test_a_condition_that_cannot_apply_is_ignored(stored, condition):
    assert matching(condition) == [1, 2, 3, 4, 5, 6, 7]


def test_an_invalid_condition_says_why():
    definition = CustomAttributeDefinition(key="score", label="Score", attribute_type=Kinds.NUMBER)

    with pytest.raises(InvalidCondition, match="number"):
        condition_value(AttributeCondition("score", "gt", "ten"), definition)


def test_stored_conditions_apply_as_dicts(stored):
    contacts = selectors.contact_list(attributes=[{"key": "score", "op": "lt", "value": "10"}])

    assert [contact.remote_id for contact in contacts] == [1]


def test_hostile_values_match_nothing_and_raise_nothing(stored):
    for value in ("%%", "__", "'; --", '"', "\\", "x" * 10_000, "ศรี", "a'b"):
        assert matching(("plan", "contains", value)) == []
        assert matching(("plan", "eq", value)) == []
        assert matching(("tier", "contains", value)) == []


def at(day: str, hour: int = 0, minute: int = 0) -> datetime:
    return timezone.make_aware(
        datetime.combine(date.fromisoformat(day), datetime.min.time())
    ).replace(hour=hour, minute=minute)


@pytest.fixture
def dated():
    """Contacts created and last active around 2024-03-05 in the site's time zone."""
    contact_make(remote_id=1, created_at=at("2024-03-04", 23, 59), last_activity_at=None)
    contact_make(remote_id=2, created_at=at("2024-03-05", 0, 0), last_activity_at=at("2024-03-05"))
    contact_make(
        remote_id=3, created_at=at("2024-03-07", 23, 59), last_activity_at=at("2024-03-07", 23, 59)
    )
    contact_make(remote_id=4, created_at=at("2024-03-08"), last_activity_at=at("2024-03-08"))
    contact_make(remote_id=5, created_at=None)


def remote_ids(**filters) -> list[int]:
    return sorted(selectors.contact_list(**filters).values_list("remote_id", flat=True))


def test_date_ranges_include_both_days(dated):
    assert remote_ids(created_from=date(2024, 3, 5), created_to=date(2024, 3, 7)) == [2, 3]
    assert remote_ids(active_from=date(2024, 3, 5), active_to=date(2024, 3, 7)) == [2, 3]


def test_a_date_range_may_be_open_at_either_end(dated):
    assert remote_ids(created_from=date(2024, 3, 7)) == [3, 4]
    assert remote_ids(created_to=date(2024, 3, 4)) == [1]
    assert remote_ids(active_to=date(2024, 3, 5)) == [2]


def test_date_ranges_read_iso_text_as_a_batch_stores_them(dated):
    assert remote_ids(created_from="2024-03-05", created_to="2024-03-05") == [2]
    assert remote_ids(created_from="not a day") == [1, 2, 3, 4, 5]


def test_the_calendars_edges_raise_nothing(dated):
    assert remote_ids(created_from=date.min, created_to=date.max) == [1, 2, 3, 4]
    assert remote_ids(created_from=date(1, 1, 2), active_to=date(9999, 12, 30)) == [2, 3, 4]


def test_unfiltered_lists_every_contact(stored):
    assert Contact.objects.count() == len(matching())
