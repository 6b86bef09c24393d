"""The LiveDesk client against the sandbox over a real socket, and its tolerant parsers."""

from __future__ import annotations

import base64
import json
import logging
import socket
import threading
import time
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from contacts.livedesk import (
    ContactUpdateAnswer,
    LiveDeskAuthenticationError,
    LiveDeskClient,
    LiveDeskError,
    LiveDeskNotFound,
    LiveDeskProtocolError,
    LiveDeskRateLimited,
    LiveDeskUnavailable,
    LiveDeskValidationError,
    parse_contact,
    parse_timestamp,
    parse_validation_errors,
)
from contacts.tests.conftest import SANDBOX_KEY, SANDBOX_SECRET

CONTACTS_PATH = "/api/v2/accounts/contacts"


def contact_make(store, *, name: str = "Somchai Srisuk", **fields) -> dict:
    """A contact created straight in the sandbox's store."""
    return store.create_contact(name=name, **fields)


def api_requests(sandbox, method: str | None = None) -> list[dict]:
    return [
        request
        for request in sandbox.recorded()
        if request["path"].startswith(CONTACTS_PATH) and method in (None, request["method"])
    ]


@pytest.fixture
def client(sandbox) -> LiveDeskClient:
    with LiveDeskClient() as client:
        yield client


class ScriptedServer:
    """A stdlib HTTP server answering each request with the next scripted (status, type, body)."""

    def __init__(self, answers: list[tuple[int, str, bytes]]):
        self.answers = list(answers)
        self.paths: list[str] = []
        script = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self):
                script.paths.append(self.path)
                status, content_type, body = (
                    script.answers.pop(0) if len(script.answers) > 1 else script.answers[0]
                )
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            do_PATCH = do_GET

            def log_message(self, format, *args):
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.thread = threading.Thread(
            target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self.thread.start()

    @property
    def base_url(self) -> str:
        host, port = self.httpd.server_address[:2]
        return f"http://{host}:{port}"

    def client(self) -> LiveDeskClient:
        return LiveDeskClient(
            base_url=self.base_url, api_key="key", api_secret="secret", timeout=(1.0, 1.0)
        )

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def scripted(settings):
    settings.LIVEDESK_BACKOFF_FACTOR = 0.01
    servers = []

    def start(*answers: tuple[int, str, bytes]) -> ScriptedServer:
        server = ScriptedServer(list(answers))
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.stop()


def json_answer(body, status: int = 200) -> tuple[int, str, bytes]:
    return status, "application/json", json.dumps(body).encode()


def remote_item(remote_id, **fields) -> dict:
    return {"id": remote_id, "name": f"Contact {remote_id}", **fields}


# --- Listing ----------------------------------------------------------------------------------


def test_list_answers_one_page_of_fifteen_and_the_total_count(sandbox, client):
    for number in range(20):
        contact_make(sandbox.store, name=f"Contact {number:02}")

    first = client.contacts_list(page=1)
    second = client.contacts_list(page=2)

    assert (len(first.contacts), first.count, first.current_page) == (15, 20, 1)
    assert (len(second.contacts), second.count, second.current_page) == (5, 20, 2)
    assert not {c.remote_id for c in first.contacts} & {c.remote_id for c in second.contacts}


def test_list_sends_page_size_and_the_sandbox_honours_it(sandbox, client):
    for number in range(12):
        contact_make(sandbox.store, name=f"Contact {number:02}")

    page = client.contacts_list(page_size=5)

    assert len(page.contacts) == 5
    assert api_requests(sandbox)[-1]["query"]["page_size"] == "5"


def test_list_searches_name_email_phone_and_identifier_with_q(sandbox, client):
    somchai = contact_make(sandbox.store, name="Somchai Srisuk", email="somchai@example.co.th")
    by_phone = contact_make(sandbox.store, name="Malee Boonma", phone_number="+66812345678")
    contact_make(sandbox.store, name="Oliver Smith", email="oliver@example.com")

    assert [c.remote_id for c in client.contacts_list(q="somchai").contacts] == [somchai["id"]]
    assert [c.remote_id for c in client.contacts_list(q="812345").contacts] == [by_phone["id"]]
    assert api_requests(sandbox)[-1]["query"]["q"] == "812345"


def test_list_sorts_by_the_field_and_direction_asked(sandbox, client):
    for name in ("Banana", "Apple", "Cherry"):
        contact_make(sandbox.store, name=name)

    descending = client.contacts_list(sort="name", direction="desc")
    ascending = client.contacts_list(sort="name", direction="asc")

    assert [c.name for c in descending.contacts] == ["Cherry", "Banana", "Apple"]
    assert [c.name for c in ascending.contacts] == ["Apple", "Banana", "Cherry"]
    query = api_requests(sandbox)[-1]["query"]
    assert (query["sort"], query["direction"]) == ("name", "asc")


def test_list_filters_by_any_of_the_labels(sandbox, client):
    vip = contact_make(sandbox.store, name="Vip", labels=["vip"])
    lead = contact_make(sandbox.store, name="Lead", labels=["lead", "bangkok"])
    contact_make(sandbox.store, name="Plain", labels=["newsletter"])

    page = client.contacts_list(labels=["vip", "lead"])

    assert sorted(c.remote_id for c in page.contacts) == sorted([vip["id"], lead["id"]])
    assert page.count == 2


def test_list_refuses_an_unknown_sort_without_calling_livedesk(sandbox, client):
    with pytest.raises(ValueError, match="cannot sort"):
        client.contacts_list(sort="favourite_colour")

    assert api_requests(sandbox) == []


def test_contacts_iter_walks_every_page_in_creation_order(sandbox, client):
    created = [
        contact_make(sandbox.store, name=f"Contact {n}", created_at=1_700_000_000 + n)
        for n in range(23)
    ]

    pages = list(client.contacts_iter(page_size=10))

    assert [len(page.contacts) for page in pages] == [10, 10, 3]
    assert [c.remote_id for page in pages for c in page.contacts] == [c["id"] for c in created]
    assert [r["query"]["page"] for r in api_requests(sandbox)] == ["1", "2", "3"]
    assert {(r["query"]["sort"], r["query"]["direction"]) for r in api_requests(sandbox)} == {
        ("created_at", "asc")
    }


def test_contacts_iter_without_a_count_stops_at_the_first_short_page(scripted):
    server = scripted(
        json_answer({"payload": [remote_item(1), remote_item(2)]}),
        json_answer({"payload": [remote_item(3)]}),
        json_answer({"payload": [remote_item(99)]}),
    )

    pages = list(server.client().contacts_iter(page_size=2))

    assert [c.remote_id for page in pages for c in page.contacts] == [1, 2, 3]
    assert pages[0].count is None
    assert len(server.paths) == 2


def test_contacts_iter_refuses_a_server_that_repeats_the_same_page(scripted):
    server = scripted(json_answer({"payload": [remote_item(1), remote_item(2)]}))

    with pytest.raises(LiveDeskProtocolError, match="same page"):
        list(server.client().contacts_iter(page_size=2))


def test_list_keeps_contacts_it_cannot_parse_apart_as_rejected(scripted):
    server = scripted(
        json_answer({"meta": {"count": 2}, "payload": [remote_item(7), {"name": "no id"}]})
    )

    page = server.client().contacts_list()

    assert [c.remote_id for c in page.contacts] == [7]
    assert page.rejected == [({"name": "no id"}, "LiveDesk sent a contact without a valid id.")]


# --- One contact ------------------------------------------------------------------------------


def test_contact_get_returns_the_contact_with_its_inboxes(sandbox, client):
    created = contact_make(
        sandbox.store, name="Malee Boonma", email="malee@example.com", inbox_id=3, labels=["vip"]
    )

    contact = client.contact_get(created["id"])

    assert contact.remote_id == created["id"]
    assert (contact.name, contact.first_name, contact.last_name) == (
        "Malee Boonma",
        "Malee",
        "Boonma",
    )
    assert contact.contact_inboxes == [
        {
            "source_id": "malee@example.com",
            "inbox": {"id": 3, "name": "Email support", "channel_type": "Channel::Email"},
        }
    ]
    assert api_requests(sandbox)[-1]["query"]["include_contact_inboxes"] == "true"


def test_contact_update_sends_the_body_as_given_and_asks_for_inboxes(sandbox, client):
    created = contact_make(
        sandbox.store,
        name="Wichai Kaewmanee",
        inbox_id=2,
        additional_attributes={"city": "Chiang Mai", "source_id": "crm"},
        custom_attributes={"plan": "free"},
    )
    body = {
        "name": "Wichai K.",
        "additional_attributes": {"city": "Bangkok"},
        "custom_attributes": {"plan": "pro", "old_key": None},
    }

    answer = client.contact_update(created["id"], body)

    contact = answer.contact
    patch = api_requests(sandbox, "PATCH")[-1]
    assert patch["body"] == body
    assert patch["path"] == f"{CONTACTS_PATH}/{created['id']}"
    assert patch["query"]["include_contact_inboxes"] == "true"
    assert contact.name == "Wichai K."
    assert contact.additional_attributes == {"city": "Bangkok", "source_id": "crm"}
    assert contact.custom_attributes == {"plan": "pro", "old_key": None}
    assert [link["inbox"]["id"] for link in contact.contact_inboxes] == [2]
    assert answer.status == 200
    assert not hasattr(client, "last_status")


def test_contact_update_answers_the_2xx_status_livedesk_sent_with_the_contact(scripted):
    server = scripted(json_answer({"payload": remote_item(41, name="Kitti")}, status=202))

    answer = server.client().contact_update(41, {"name": "Kitti"})

    assert isinstance(answer, ContactUpdateAnswer)
    assert answer.status == 202
    assert (answer.contact.remote_id, answer.contact.name) == (41, "Kitti")
    assert server.paths == ["/api/v2/accounts/contacts/41?include_contact_inboxes=true"]
    with pytest.raises(AttributeError):
        answer.status = 200


def test_contact_update_answer_without_a_payload_object_is_a_protocol_error(scripted):
    server = scripted(json_answer({"payload": [remote_item(41)]}))

    with pytest.raises(LiveDeskProtocolError, match="payload"):
        server.client().contact_update(41, {"name": "Kitti"})


def test_list_page_carries_the_status_it_came_with(scripted):
    server = scripted(json_answer({"meta": {"count": 1}, "payload": [remote_item(5)]}, 203))

    page = server.client().contacts_list()

    assert (page.status, page.count, [c.remote_id for c in page.contacts]) == (203, 1, [5])


# --- Failures ---------------------------------------------------------------------------------


def test_wrong_secret_is_an_authentication_error_that_never_shows_the_secret(sandbox, caplog):
    caplog.set_level(logging.DEBUG)
    caplog.set_level(logging.DEBUG, logger="contacts")
    wrong_secret = "wrong-secret-7f3a9c"
    client = LiveDeskClient(api_secret=wrong_secret)

    with pytest.raises(LiveDeskAuthenticationError) as caught:
        client.contacts_list()
    LiveDeskClient().contacts_list()

    error = caught.value
    assert error.status == 401
    assert "LIVEDESK_API_KEY" in error.message and "LIVEDESK_API_SECRET" in error.message
    assert caplog.records, "the client and urllib3 log at DEBUG"
    for secret in (wrong_secret, SANDBOX_SECRET):
        encoded = base64.b64encode(f"{SANDBOX_KEY}:{secret}".encode()).decode()
        for text in (str(error), repr(error), repr(error.body), repr(client), caplog.text):
            assert secret not in text
            assert encoded not in text


def test_wrong_key_is_an_authentication_error(sandbox):
    with pytest.raises(LiveDeskAuthenticationError) as caught:
        LiveDeskClient(api_key="someone-else").contact_get(1)

    assert caught.value.status == 401
    assert caught.value.body == {"error": "Invalid Access Token"}
    assert not caught.value.transient


def test_missing_contact_is_not_found_on_get_and_on_update(sandbox, client):
    with pytest.raises(LiveDeskNotFound) as on_get:
        client.contact_get(999_999)
    with pytest.raises(LiveDeskNotFound) as on_update:
        client.contact_update(999_999, {"name": "x"})

    assert on_get.value.status == on_update.value.status == 404
    assert "deleted" in on_get.value.message


def test_invalid_email_and_phone_are_one_validation_error_with_a_message_per_field(sandbox, client):
    created = contact_make(sandbox.store, name="Arunee Promma", email="arunee@example.com")

    with pytest.raises(LiveDeskValidationError) as caught:
        client.contact_update(created["id"], {"email": "not-an-email", "phone_number": "0812345"})

    error = caught.value
    assert error.status == 422
    assert error.field_errors == {
        "email": ["Email Invalid email"],
        "phone_number": ["Phone number should be in e164 format"],
    }
    assert error.message == "Email Invalid email, Phone number should be in e164 format"
    assert sandbox.store.get_contact(created["id"])["email"] == "arunee@example.com"


def test_taken_email_is_a_validation_error_on_email_only(sandbox, client):
    contact_make(sandbox.store, name="First", email="taken@example.com")
    second = contact_make(sandbox.store, name="Second", email="second@example.com")

    with pytest.raises(LiveDeskValidationError) as caught:
        client.contact_update(second["id"], {"email": "TAKEN@example.com"})

    assert caught.value.field_errors == {"email": ["Email has already been taken"]}


def test_rate_limit_beyond_the_retries_is_rate_limited(sandbox, client, settings):
    sandbox.faults.rate_limit_next = 10
    sandbox.faults.retry_after = 0

    with pytest.raises(LiveDeskRateLimited) as caught:
        client.contacts_list()

    assert caught.value.status == 429
    assert caught.value.transient
    assert caught.value.retry_after == 0
    assert "try again" in caught.value.message
    assert len(api_requests(sandbox)) == settings.LIVEDESK_RETRIES + 1


def test_rate_limit_is_retried_after_the_wait_livedesk_asks_for(sandbox, client):
    created = contact_make(sandbox.store, name="Nok")
    sandbox.faults.rate_limit_next = 1
    sandbox.faults.retry_after = 1

    started = time.monotonic()
    contact = client.contact_get(created["id"])

    assert time.monotonic() - started >= 0.9
    assert contact.remote_id == created["id"]
    assert len(api_requests(sandbox)) == 2


def test_patch_after_a_503_is_retried_and_applied_once(sandbox, client):
    created = contact_make(sandbox.store, name="Ploy")
    sandbox.faults.fail_next = 1
    sandbox.faults.failure_status = 503

    answer = client.contact_update(created["id"], {"name": "Ploy Srisuk"})

    assert answer.contact.name == "Ploy Srisuk"
    assert len(api_requests(sandbox, "PATCH")) == 2
    assert answer.status == 200
    assert sandbox.store.get_contact(created["id"])["name"] == "Ploy Srisuk"


def test_5xx_beyond_the_retries_is_unavailable(sandbox, client):
    sandbox.faults.fail_next = 10
    sandbox.faults.failure_status = 503

    with pytest.raises(LiveDeskUnavailable) as caught:
        client.contacts_list()

    assert caught.value.status == 503
    assert caught.value.transient
    assert "503" in caught.value.message


def test_gateway_page_that_is_not_json_is_unavailable_with_its_text_kept(sandbox, client):
    sandbox.faults.fail_next = 10
    sandbox.faults.failure_status = 502

    with pytest.raises(LiveDeskUnavailable) as caught:
        client.contacts_list()

    assert caught.value.status == 502
    assert "502 Bad Gateway" in caught.value.body


def test_hang_longer_than_the_read_timeout_is_unavailable(sandbox):
    sandbox.faults.hang_next = 5
    sandbox.faults.hang_seconds = 5
    client = LiveDeskClient(timeout=(0.5, 0.2))

    started = time.monotonic()
    with pytest.raises(LiveDeskUnavailable) as caught:
        client.contacts_list()

    assert time.monotonic() - started < 2
    assert caught.value.status is None
    assert "did not answer" in caught.value.message
    assert "0.2 seconds" in caught.value.message


def test_refused_connection_is_unavailable(settings):
    settings.LIVEDESK_BACKOFF_FACTOR = 0.01
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    client = LiveDeskClient(base_url=f"http://127.0.0.1:{port}", timeout=(0.5, 0.5))

    with pytest.raises(LiveDeskUnavailable) as caught:
        client.contacts_list()

    assert caught.value.status is None
    assert f"http://127.0.0.1:{port}" in caught.value.message
    assert "LIVEDESK_BASE_URL" in caught.value.message


def test_2xx_that_is_not_json_is_a_protocol_error(scripted):
    server = scripted((200, "text/html", b"<html>Welcome to nginx</html>"))

    with pytest.raises(LiveDeskProtocolError) as caught:
        server.client().contacts_list()

    assert caught.value.status == 200
    assert "not JSON" in caught.value.message
    assert caught.value.body == "<html>Welcome to nginx</html>"


@pytest.mark.parametrize("body", [[], {"data": []}, {"payload": {"id": 1}}, "ok"])
def test_list_answer_of_another_shape_is_a_protocol_error(scripted, body):
    server = scripted(json_answer(body))

    with pytest.raises(LiveDeskProtocolError, match="payload"):
        server.client().contacts_list()


def test_unexpected_4xx_is_a_livedesk_error_with_its_status_and_message(scripted):
    server = scripted(json_answer({"error": "Account suspended"}, status=403))

    with pytest.raises(LiveDeskError) as caught:
        server.client().contacts_list()

    assert type(caught.value) is LiveDeskError
    assert caught.value.status == 403
    assert "Account suspended" in caught.value.message


# --- Tolerant parsing -------------------------------------------------------------------------


def test_quirky_answers_are_parsed_to_plain_values(sandbox, client):
    created = contact_make(
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
    assert contact.payload is payload


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
