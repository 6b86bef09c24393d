"""Hostile or broken answers from LiveDesk: each fails one call or one contact, cleanly.

Redirects, another contact's id, deep nesting, NaN and Infinity, NUL characters, ids out of
range, huge answers and huge contacts, through scripted servers over a real socket.
"""

from __future__ import annotations

import json

import pytest

from contacts.livedesk import (
    LiveDeskError,
    LiveDeskProtocolError,
    LiveDeskRedirected,
    LiveDeskUnavailable,
    LiveDeskValidationError,
)
from contacts.tests.client.checks import assert_storable
from contacts.tests.factories import CONTACTS_PATH, json_answer, remote_item

MIB = 1024 * 1024


def text_answer(text: str, status: int = 200, **headers) -> tuple:
    """A scripted answer whose JSON is written by hand (NaN, deep nesting...)."""
    return status, "application/json", text.encode(), headers


def page_text(*items: str) -> str:
    """A list answer's JSON around the contacts' own JSON texts."""
    return f'{{"meta": {{"count": {len(items)}}}, "payload": [{", ".join(items)}]}}'


def one_text(item: str) -> str:
    return '{"payload": ' + item + "}"


def item_text(remote_id, **fields) -> str:
    return json.dumps(remote_item(remote_id, **fields))


# --- Redirects -------------------------------------------------------------------------------


@pytest.mark.parametrize("status", [301, 302, 303, 307, 308])
def test_a_redirect_on_patch_is_an_error_and_is_never_followed(scripted, status):
    server = scripted(
        json_answer({}, status=status),  # Location set below, once the port is known
        json_answer({"payload": remote_item(5, name="Applied?")}),
    )
    elsewhere = f"{server.base_url}/login?next=/api"
    server.answers[0] = (*server.answers[0], {"Location": elsewhere})

    with pytest.raises(LiveDeskRedirected) as caught:
        server.client().contact_update(5, {"name": "New"})

    error = caught.value
    assert isinstance(error, LiveDeskError) and not error.transient
    assert error.status == status
    assert f"HTTP {status}" in error.message
    assert elsewhere in error.message
    assert "LIVEDESK_BASE_URL" in error.message
    assert server.requests == [("PATCH", f"{CONTACTS_PATH}/5?include_contact_inboxes=true")]


def test_a_redirect_on_get_is_not_followed_either(scripted):
    server = scripted(
        text_answer("", status=302, Location="https://proxy.example.com/sso"),
        json_answer({"payload": [remote_item(1)]}),
    )

    with pytest.raises(LiveDeskRedirected, match="https://proxy.example.com/sso"):
        server.client().contacts_list()

    assert len(server.requests) == 1


# --- Another contact's answer ----------------------------------------------------------------


def test_get_answered_with_another_contacts_id_is_a_protocol_error(scripted):
    server = scripted(json_answer({"payload": remote_item(6, name="Someone else")}))

    with pytest.raises(LiveDeskProtocolError, match="#6 when asked for contact #5"):
        server.client().contact_get(5)


def test_update_answered_with_another_contacts_id_is_a_protocol_error(scripted):
    server = scripted(json_answer({"payload": remote_item("6", name="Someone else")}))

    with pytest.raises(LiveDeskProtocolError, match="#6 when asked for contact #5") as caught:
        server.client().contact_update(5, {"name": "Mine"})

    assert caught.value.status == 200
    assert_storable(caught.value.body)


# --- Deep nesting ----------------------------------------------------------------------------


def test_json_nested_beyond_what_python_reads_fails_the_call_cleanly(scripted):
    depth = 100_000
    server = scripted(text_answer(one_text("[" * depth + "]" * depth)))

    with pytest.raises(LiveDeskProtocolError, match="nested too deeply") as caught:
        server.client().contact_get(1)

    assert caught.value.status == 200
    assert len(caught.value.body) <= 2000


def test_a_contact_nested_deeper_than_64_levels_is_rejected_alone(scripted):
    deep = '{"id": 2, "custom_attributes": {"tree": %s}}' % ("[" * 70 + "]" * 70)
    server = scripted(text_answer(page_text(item_text(1), deep, item_text(3))))

    page = server.client().contacts_list()

    assert [contact.remote_id for contact in page.contacts] == [1, 3]
    [(preview, reason)] = page.rejected
    assert reason == "LiveDesk sent contact #2 nested deeper than 64 levels."
    assert_storable(preview)


def test_a_contact_64_levels_deep_is_kept(scripted):
    # The contact, custom_attributes, then 62 lists: 64 levels.
    nested = '{"id": 2, "custom_attributes": {"tree": %s}}' % ("[" * 62 + "]" * 62)
    server = scripted(text_answer(one_text(nested)))

    assert server.client().contact_get(2).remote_id == 2


# --- NaN and Infinity ------------------------------------------------------------------------


@pytest.mark.parametrize("constant", ["NaN", "Infinity", "-Infinity", "1e400", "-1e999"])
def test_a_contact_with_nan_or_infinity_is_rejected_and_the_others_kept(scripted, constant):
    hostile = '{"id": 2, "custom_attributes": {"score": ' + constant + "}}"
    server = scripted(text_answer(page_text(item_text(1), hostile, item_text(3))))

    page = server.client().contacts_list()

    assert [contact.remote_id for contact in page.contacts] == [1, 3]
    [(preview, reason)] = page.rejected
    assert reason == f"LiveDesk sent contact #2 with {constant}, which this app does not accept."
    assert_storable(preview)


def test_nan_in_one_contact_fails_get_with_a_protocol_error(scripted):
    server = scripted(text_answer(one_text('{"id": 4, "name": NaN}')))

    with pytest.raises(LiveDeskProtocolError, match="contact #4 with NaN"):
        server.client().contact_get(4)


def test_nan_in_the_meta_of_a_page_is_taken_as_no_count(scripted):
    server = scripted(text_answer('{"meta": {"count": NaN}, "payload": [' + item_text(1) + "]}"))

    page = server.client().contacts_list()

    assert page.count is None
    assert [contact.remote_id for contact in page.contacts] == [1]


# --- NUL characters and lone surrogates ------------------------------------------------------


def test_nul_characters_and_lone_surrogates_become_replacement_characters(scripted):
    hostile = (
        '{"id": 7, "name": "Nok\\u0000 Srisuk", "email": "nok@example.com\\u0000",'
        ' "additional_attributes": {"city\\u0000": "Bang\\ud800kok"},'
        ' "custom_attributes": {"tags": ["a\\u0000b", {"k\\u0000": "\\udfff"}]}}'
    )
    server = scripted(text_answer(page_text(hostile)))

    [contact] = server.client().contacts_list().contacts

    assert contact.name == "Nok\ufffd Srisuk"
    assert contact.email == "nok@example.com\ufffd"
    assert contact.additional_attributes == {"city\ufffd": "Bang\ufffdkok"}
    assert contact.custom_attributes == {"tags": ["a\ufffdb", {"k\ufffd": "\ufffd"}]}
    assert_storable(contact.payload)


def test_a_surrogate_pair_escaped_in_json_is_kept_as_its_character(scripted):
    server = scripted(text_answer(one_text('{"id": 7, "name": "Nok \\ud83d\\ude00"}')))

    assert server.client().contact_get(7).name == "Nok \N{GRINNING FACE}"


# --- Ids -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "remote_id",
    [10**30, 2**63, 0, -5, 1.5, 12.0, "12abc", "1_000", "\u0661\u0662", "", True, None, [1]],
)
def test_a_contact_whose_id_is_out_of_range_or_not_an_integer_is_rejected(scripted, remote_id):
    server = scripted(json_answer({"payload": [remote_item(1), remote_item(remote_id)]}))

    page = server.client().contacts_list()

    assert [contact.remote_id for contact in page.contacts] == [1]
    assert page.rejected[0][1] == "LiveDesk sent a contact without a valid id."


@pytest.mark.parametrize("remote_id", [1, 2**63 - 1, " 42 ", "007"])
def test_ids_from_1_to_the_largest_bigint_are_kept(scripted, remote_id):
    server = scripted(json_answer({"payload": [remote_item(remote_id)]}))

    [contact] = server.client().contacts_list().contacts

    assert contact.remote_id == int(str(remote_id).strip())


# --- Huge answers and huge contacts ----------------------------------------------------------


@pytest.mark.parametrize("content_length", ["declared", "not declared"])
def test_an_answer_over_the_size_bound_is_not_read(scripted, settings, content_length):
    settings.LIVEDESK_MAX_RESPONSE_BYTES = 4096
    body = json.dumps({"payload": [remote_item(n) for n in range(1, 200)]}).encode()
    headers = {} if content_length == "declared" else {"Content-Length": None}
    server = scripted((200, "application/json", body, headers))

    with pytest.raises(LiveDeskProtocolError, match="answer larger than 4096 bytes") as caught:
        server.client().contacts_list()

    assert caught.value.status == 200


def test_the_default_bound_is_10_mib(scripted):
    body = json.dumps({"payload": [remote_item(1, notes="x" * (10 * MIB))]}).encode()
    server = scripted((200, "application/json", body, {"Content-Length": None}))

    with pytest.raises(LiveDeskProtocolError, match="answer larger than 10 MiB"):
        server.client().contacts_list()


def test_a_contact_with_a_text_over_1_mib_is_rejected_and_the_others_kept(scripted):
    huge = remote_item(2, custom_attributes={"notes": "x" * (MIB + 1)})
    server = scripted(json_answer({"payload": [remote_item(1), huge, remote_item(3)]}))

    page = server.client().contacts_list()

    assert [contact.remote_id for contact in page.contacts] == [1, 3]
    [(preview, reason)] = page.rejected
    assert reason == "LiveDesk sent contact #2 with a text over 1 MiB."
    assert len(json.dumps(preview)) < 10_000


def test_a_contact_over_2_mib_of_json_is_rejected(scripted):
    texts = {f"part{n}": "y" * (MIB - 10) for n in range(3)}
    server = scripted(json_answer({"payload": remote_item(2, custom_attributes=texts)}))

    with pytest.raises(LiveDeskProtocolError, match="contact #2 larger than 2 MiB of JSON"):
        server.client().contact_get(2)


# --- Error answers ---------------------------------------------------------------------------


def test_a_422_with_nul_and_a_huge_message_gives_a_storable_bounded_message(scripted):
    body = {"message": "Email \x00 is bad, " * 5000, "attributes": ["email"] * 10_000}
    server = scripted(json_answer(body, status=422))

    with pytest.raises(LiveDeskValidationError) as caught:
        server.client().contact_update(5, {"email": "x"})

    error = caught.value
    assert "\x00" not in error.message and len(error.message) <= 2000
    assert list(error.field_errors) == ["email"]
    assert_storable(error.body)


@pytest.mark.parametrize("status", [403, 500])
def test_an_error_answer_with_nan_keeps_its_text_instead(scripted, status):
    server = scripted(text_answer('{"error": NaN, "detail": "\\u0000"}', status=status))

    with pytest.raises(LiveDeskError) as caught:
        server.client().contacts_list()

    assert caught.value.status == status
    assert caught.value.body == '{"error": NaN, "detail": "\\u0000"}'
    assert_storable(caught.value.body)


def test_an_error_answer_over_the_size_bound_is_still_the_error_its_status_says(scripted, settings):
    settings.LIVEDESK_MAX_RESPONSE_BYTES = 4096
    server = scripted((503, "text/html", b"<html>" + b"busy " * 10_000, {"Content-Length": None}))

    with pytest.raises(LiveDeskUnavailable) as caught:
        server.client(retries=0).contacts_list()

    assert caught.value.status == 503
    assert caught.value.body.startswith("<html>busy busy")
    assert len(caught.value.body) <= 2000
