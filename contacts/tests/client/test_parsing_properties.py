"""Property tests: whatever JSON LiveDesk sends, the parsers answer storable values or a
LiveDeskProtocolError, never another exception."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from contacts.livedesk import (
    LiveDeskError,
    LiveDeskProtocolError,
    RemoteContact,
    parse_contact,
    parse_timestamp,
    parse_validation_errors,
)
from contacts.livedesk.answers import answer_body
from contacts.livedesk.json_safety import MIB, json_clean, json_decode, object_clean_texts
from contacts.livedesk.parsing import MAX_REMOTE_ID, parse_page
from contacts.tests.client.checks import assert_storable, depth_of

fuzz = settings(
    max_examples=200,
    deadline=None,
    database=None,  # no .hypothesis folder in the checkout
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.large_base_example],
)

# Text as JSON allows it: any code point, NUL and lone surrogates included.
texts = st.text(st.characters(exclude_categories=()), max_size=12) | st.sampled_from(
    ["\x00", "a\x00b", "\ud800", "x\udfffy", "\ud83d\ude00", " 12 ", "12abc", "1_000", "NaN"]
)
numbers = (
    st.integers()
    | st.sampled_from([0, -1, 2**63 - 1, 2**63, 10**30, -(10**30)])
    | st.builds(pow, st.just(10), st.just(5000))  # too long for str()
    | st.floats()
)
scalars = st.none() | st.booleans() | numbers | texts


def nested(depth: int, leaf=0):
    """`leaf` inside `depth` lists and objects, alternating."""
    for level in range(depth):
        leaf = [leaf] if level % 2 else {"k": leaf}
    return leaf


json_values = st.recursive(
    scalars,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(texts, children, max_size=4),
    max_leaves=20,
) | st.integers(min_value=50, max_value=300).map(nested)

ids = st.integers(min_value=-5, max_value=2**64) | st.sampled_from(
    [1, 2**63 - 1, 2**63, 10**30, " 42 ", "007", "1.5", 1.5, "12abc", True, None]
)
contact_fields = [
    "name", "first_name", "last_name", "email", "phone_number", "identifier", "thumbnail",
    "availability_status", "blocked", "additional_attributes", "custom_attributes",
    "contact_inboxes", "created_at", "last_activity_at",
]  # fmt: skip
contacts_like = st.fixed_dictionaries(
    {"id": ids}, optional=dict.fromkeys(contact_fields, json_values)
)
items = contacts_like | json_values


def json_bytes(value) -> bytes:
    """`value` as JSON, NaN and Infinity written as Python writes them."""
    try:
        return json.dumps(value).encode()
    except ValueError:  # an int too long for str(): send a number as long
        return b"1" + b"0" * 5000


def assert_contact_sound(contact: RemoteContact) -> None:
    assert 1 <= contact.remote_id <= MAX_REMOTE_ID
    assert_storable(contact.payload)
    assert depth_of(contact.payload) <= 64
    texts_of_contact = [
        contact.name,
        contact.first_name,
        contact.last_name,
        contact.email,
        contact.phone_number,
        contact.identifier,
        contact.thumbnail,
        contact.availability_status,
    ]
    assert_storable(texts_of_contact)
    assert_storable([contact.additional_attributes, contact.custom_attributes])
    assert_storable(contact.contact_inboxes)
    for moment in (contact.created_at, contact.last_activity_at):
        assert moment is None or moment.tzinfo is not None


@fuzz
@given(items)
def test_parse_contact_answers_a_sound_contact_or_a_protocol_error(payload):
    try:
        contact = parse_contact(payload)
    except LiveDeskProtocolError as error:
        assert_storable([error.message, error.body])
    else:
        assert_contact_sound(contact)


@fuzz
@given(
    st.fixed_dictionaries({"payload": st.lists(items, max_size=5)}, optional={"meta": json_values})
    | json_values
)
def test_parse_page_keeps_sound_contacts_and_sets_the_others_apart(body):
    try:
        page = parse_page(body, page=1, status=200)
    except LiveDeskProtocolError as error:
        assert_storable([error.message, error.body])
        return
    assert len(page.contacts) + len(page.rejected) == len(body["payload"])
    for contact in page.contacts:
        assert_contact_sound(contact)
    assert_storable(page.rejected)
    assert page.count is None or page.count >= 0


@fuzz
@given(st.fixed_dictionaries({}, optional={"message": json_values, "attributes": json_values}))
def test_parse_validation_errors_answers_a_storable_message_for_any_body(body):
    message, field_errors = parse_validation_errors(body)

    assert isinstance(message, str) and message and len(message) <= 2000
    assert_storable([message, field_errors])
    assert all(isinstance(messages, list) and messages for messages in field_errors.values())


@fuzz
@given(json_values)
def test_parse_timestamp_answers_an_aware_datetime_or_none(value):
    parsed = parse_timestamp(value)

    assert parsed is None or (
        parsed.tzinfo is not None
        and datetime(1900, 1, 1, tzinfo=UTC) <= parsed < datetime(9000, 1, 1, tzinfo=UTC)
    )


@fuzz
@given(
    st.sampled_from([200, 201, 301, 302, 401, 403, 404, 422, 429, 500, 503]),
    st.builds(json_bytes, json_values) | st.binary(max_size=64),
    st.dictionaries(st.sampled_from(["Location", "Retry-After"]), texts),
)
def test_any_answer_is_a_body_or_a_named_error_that_can_be_stored(status, raw, headers):
    try:
        answer_body(status, headers, raw, method="GET", path="/x", retry_after_max=3600)
    except LiveDeskError as error:
        assert_storable([error.message, error.body])
        retry_after = getattr(error, "retry_after", None)
        assert retry_after is None or 0 <= retry_after <= 3600


@fuzz
@given(contacts_like)
def test_the_quick_check_passes_only_a_contact_json_clean_would_leave_as_it_is(payload):
    texts = object_clean_texts(payload, max_string=MIB, max_total=2 * MIB)
    if texts is None:
        return
    assert json_clean(payload, max_string=MIB, max_total=2 * MIB, what="contact") == payload
    assert texts.keys() == {key for key, value in payload.items() if isinstance(value, dict | list)}
    for key, text in texts.items():
        assert json.loads(text) == payload[key]
        assert text == json.dumps(
            payload[key], sort_keys=True, separators=(",", ":"), ensure_ascii=False
        )


def test_the_quick_check_sends_what_needs_cleaning_or_refusing_to_json_clean():
    refused_number = json_decode(b"NaN")
    for payload in [
        {"id": 1, "name": "a\x00b"},
        {"id": 1, "name": "\ud800"},
        {"id": 1, "custom_attributes": {"note": "a\x00b"}},
        {"id": 1, "custom_attributes": {"k\ud800": 1}},
        {"id": 1, "custom_attributes": {"score": refused_number}},
        {"id": 1, "blocked": refused_number},
        {"id": 1, "blocked": float("inf")},
        {"id": 1, "custom_attributes": nested(64)},
        {"id": 1, "name": "x" * (MIB + 1)},
        {1: "not a text key"},
    ]:
        assert object_clean_texts(payload, max_string=MIB, max_total=2 * MIB) is None, payload
    assert object_clean_texts(
        {"id": 1, "custom_attributes": nested(63)}, max_string=MIB, max_total=2 * MIB
    ) == {"custom_attributes": json.dumps(nested(63), separators=(",", ":"))}
