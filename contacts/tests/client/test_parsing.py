"""The LiveDesk client's tolerant parsers, and quirky answers parsed to plain values."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from contacts.livedesk import (
    LiveDeskProtocolError,
    parse_contact,
    parse_timestamp,
    parse_validation_errors,
)
from contacts.tests.factories import sandbox_contact_make

# --- Tolerant parsing -------------------------------------------------------------------------


def test_quirky_answers_are_parsed_to_plain_values(sandbox, client):
    created = sandbox_contact_make(
        sandbox.store,
        name="Somsri Wongsawat",
        blocked=True,
        created_at=1_700_000_000,
        last_activity_at=1_700_000_100,
    )
    sandbox.faults.quirks = True

    page = client.contacts_list()
    one = client.contact_get(created["id"])

    assert page.current_page == 1
    for contact in (page.contacts[0], one):
        assert contact.payload["id"] == str(created["id"])
        assert contact.remote_id == created["id"]
        assert contact.blocked is True
        assert contact.last_name == "Wongsawat"
        assert contact.created_at == datetime.fromtimestamp(1_700_000_000, tz=UTC)
        assert contact.last_activity_at == datetime.fromtimestamp(1_700_000_100, tz=UTC)


def test_parse_contact_turns_nulls_into_empty_values():
    contact = parse_contact(
        {
            "id": 5,
            "name": None,
            "email": None,
            "blocked": None,
            "availability_status": None,
            "additional_attributes": None,
            "custom_attributes": None,
            "contact_inboxes": None,
            "created_at": None,
            "last_activity_at": None,
        }
    )

    assert (contact.name, contact.email, contact.last_name) == ("", "", "")
    assert contact.blocked is False
    assert contact.availability_status == "offline"
    assert (contact.additional_attributes, contact.custom_attributes) == ({}, {})
    assert contact.contact_inboxes is None
    assert contact.created_at is None and contact.last_activity_at is None


def test_parse_contact_accepts_the_documented_odd_types():
    payload = {
        "id": " 318001 ",
        "blocked": "FALSE",
        "last_name": ["Na", "Ayutthaya"],
        "availability_status": "on holiday",
        "additional_attributes": "not an object",
        "custom_attributes": ["not", "an", "object"],
        "contact_inboxes": {"not": "a list"},
        "created_at": "1700000000",
    }

    contact = parse_contact(payload)

    assert contact.remote_id == 318001
    assert contact.blocked is False
    assert contact.last_name == "Na Ayutthaya"
    assert contact.availability_status == "offline"
    assert contact.additional_attributes == {} and contact.custom_attributes == {}
    assert contact.contact_inboxes is None
    assert contact.created_at == datetime(2023, 11, 14, 22, 13, 20, tzinfo=UTC)
    assert contact.payload == payload


@pytest.mark.parametrize("payload", [None, [], "318001", {}, {"id": None}, {"id": "abc"}])
def test_parse_contact_refuses_a_contact_without_a_usable_id(payload):
    with pytest.raises(LiveDeskProtocolError):
        parse_contact(payload)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (1_700_000_000, datetime(2023, 11, 14, 22, 13, 20, tzinfo=UTC)),
        ("1700000000", datetime(2023, 11, 14, 22, 13, 20, tzinfo=UTC)),
        (" 1700000000.5 ", datetime(2023, 11, 14, 22, 13, 20, 500000, tzinfo=UTC)),
        ("2024-02-29T10:00:00Z", datetime(2024, 2, 29, 10, tzinfo=UTC)),
        ("2024-02-29T10:00:00", datetime(2024, 2, 29, 10, tzinfo=UTC)),
        (None, None),
        ("", None),
        (True, None),
        ("yesterday", None),
        ("nan", None),
        (1e30, None),
        ({"seconds": 1}, None),
    ],
)
def test_parse_timestamp_gives_an_aware_utc_datetime_or_none(value, expected):
    parsed = parse_timestamp(value)

    assert parsed == expected
    assert parsed is None or parsed.tzinfo is not None


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (None, {}),
        ("Unprocessable", {}),
        ({"message": None, "attributes": None}, {}),
        ({"message": "Bad", "attributes": 5}, {}),
        (
            {"message": "Email Invalid email", "attributes": "email"},
            {"email": ["Email Invalid email"]},
        ),
        (
            {"message": ["Email has already been taken"], "attributes": ["email", None, 3]},
            {"email": ["Email has already been taken"]},
        ),
        (
            {"message": "Something is off", "attributes": ["custom_attributes"]},
            {"custom_attributes": ["Something is off"]},
        ),
        (
            {
                "message": "Phone number has already been taken, Identifier has already been taken",
                "attributes": ["phone_number", "identifier"],
            },
            {
                "phone_number": ["Phone number has already been taken"],
                "identifier": ["Identifier has already been taken"],
            },
        ),
    ],
)
def test_parse_validation_errors_gives_messages_per_field_for_any_body(body, expected):
    message, field_errors = parse_validation_errors(body)

    assert field_errors == expected
    assert isinstance(message, str) and message
