"""The LiveDesk client's failures: credentials, not found, validation, rate limits, 5xx, hangs."""

from __future__ import annotations

import base64
import logging
import socket
import time

import pytest

from contacts.livedesk import (
    LiveDeskAuthenticationError,
    LiveDeskClient,
    LiveDeskError,
    LiveDeskNotFound,
    LiveDeskProtocolError,
    LiveDeskRateLimited,
    LiveDeskUnavailable,
    LiveDeskValidationError,
)
from contacts.tests.conftest import SANDBOX_KEY, SANDBOX_SECRET
from contacts.tests.factories import api_requests, json_answer, sandbox_contact_make

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
    created = sandbox_contact_make(sandbox.store, name="Arunee Promma", email="arunee@example.com")

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
    sandbox_contact_make(sandbox.store, name="First", email="taken@example.com")
    second = sandbox_contact_make(sandbox.store, name="Second", email="second@example.com")

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
    created = sandbox_contact_make(sandbox.store, name="Nok")
    sandbox.faults.rate_limit_next = 1
    sandbox.faults.retry_after = 1

    started = time.monotonic()
    contact = client.contact_get(created["id"])

    assert time.monotonic() - started >= 0.9
    assert contact.remote_id == created["id"]
    assert len(api_requests(sandbox)) == 2


def test_patch_after_a_503_is_retried_and_applied_once(sandbox, client):
    created = sandbox_contact_make(sandbox.store, name="Ploy")
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
