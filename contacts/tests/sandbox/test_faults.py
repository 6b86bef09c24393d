"""The sandbox's faults: failures, rate limits, hangs, latency and quirks, and their endpoint."""

import json
import socket
import time
import urllib.error
import urllib.request

import pytest

from contacts.sandbox.server import Faults
from contacts.tests.factories import (
    CONTACTS_PATH,
    sandbox_call,
    sandbox_contact_make,
    sandbox_patch,
)

# Faults


def test_fail_next_fails_exactly_that_many_calls_with_json_503(server):
    server.faults.fail_next = 2
    assert sandbox_call(server, "GET", CONTACTS_PATH)[::2] == (
        503,
        {"error": "Service Unavailable"},
    )
    assert sandbox_call(server, "GET", CONTACTS_PATH)[0] == 503
    assert sandbox_call(server, "GET", CONTACTS_PATH)[0] == 200


def test_a_failed_patch_changes_nothing(server, store):
    contact = sandbox_contact_make(store, name="Before")
    server.faults.fail_next = 1
    assert sandbox_patch(server, contact, {"name": "After"})[0] == 503
    assert store.get_contact(contact["id"])["name"] == "Before"


def test_502_answers_an_html_page_not_json(server):
    server.faults.fail_next = 1
    server.faults.failure_status = 502
    status, headers, body = sandbox_call(server, "GET", CONTACTS_PATH)
    assert status == 502
    assert headers["Content-Type"].startswith("text/html")
    assert body.startswith("<html>")
    with pytest.raises(json.JSONDecodeError):
        json.loads(body)


def test_rate_limit_next_answers_429_with_retry_after(server):
    server.faults.rate_limit_next = 1
    server.faults.retry_after = 3
    status, headers, _ = sandbox_call(server, "GET", CONTACTS_PATH)
    assert (status, headers["Retry-After"]) == (429, "3")
    assert sandbox_call(server, "GET", CONTACTS_PATH)[0] == 200


def test_hang_next_outlasts_the_clients_read_timeout_once(server):
    server.faults.hang_next = 1
    server.faults.hang_seconds = 1.0
    with pytest.raises((TimeoutError, socket.timeout, urllib.error.URLError)):
        sandbox_call(server, "GET", CONTACTS_PATH, timeout=0.2)
    assert sandbox_call(server, "GET", CONTACTS_PATH, timeout=2)[0] == 200


def test_latency_delays_every_api_call(server):
    server.faults.latency_ms = 150
    started = time.monotonic()
    assert sandbox_call(server, "GET", CONTACTS_PATH)[0] == 200
    assert time.monotonic() - started >= 0.15


def test_failure_rate_one_fails_every_call_with_the_failure_status(server):
    server.faults.failure_rate = 1.0
    server.faults.failure_status = 500
    for _ in range(3):
        assert sandbox_call(server, "GET", CONTACTS_PATH)[::2] == (
            500,
            {"error": "Internal Server Error"},
        )


def test_a_failure_rate_of_429_answers_with_retry_after(server):
    server.faults.failure_rate = 1.0
    server.faults.failure_status = 429
    server.faults.retry_after = 2
    status, headers, _ = sandbox_call(server, "GET", CONTACTS_PATH)
    assert (status, headers["Retry-After"]) == (429, "2")


def test_the_command_has_one_flag_per_fault():
    from contacts.management.commands.livedesk_sandbox import Command

    parser = Command().create_parser("manage.py", "livedesk_sandbox")
    options = vars(
        parser.parse_args(
            [
                "--hang-next",
                "2",
                "--hang-seconds",
                "5",
                "--rate-limit-next",
                "1",
                "--retry-after",
                "4",
                "--fail-next",
                "3",
                "--failure-rate",
                "0.5",
                "--failure-status",
                "502",
                "--latency-ms",
                "20",
                "--quirks",
            ]
        )
    )
    faults = Faults.from_dict({name: options[name] for name in Faults().as_dict()})

    assert faults == Faults(
        latency_ms=20,
        failure_rate=0.5,
        failure_status=502,
        fail_next=3,
        rate_limit_next=1,
        retry_after=4,
        hang_next=2,
        hang_seconds=5.0,
        quirks=True,
    )


def test_quirks_answer_the_documented_loose_types(server, store):
    contact = sandbox_contact_make(store, name="Somchai Srisuk", last_activity_at=1_765_441_908)
    server.faults.quirks = True
    _, _, listed = sandbox_call(server, "GET", CONTACTS_PATH)
    quirky = listed["payload"][0]
    assert listed["meta"]["current_page"] == "1"
    assert quirky["id"] == str(contact["id"])
    assert quirky["blocked"] == "false"
    assert quirky["created_at"] == str(contact["created_at"])
    assert quirky["last_activity_at"] == "1765441908"
    assert quirky["last_name"] == ["Srisuk"]
    assert sandbox_patch(server, contact, {"blocked": True})[2]["payload"]["blocked"] == "true"


def test_faults_never_apply_to_control_endpoints(server):
    server.faults.fail_next = 5
    server.faults.rate_limit_next = 5
    assert sandbox_call(server, "GET", "/_sandbox/faults", auth=False)[0] == 200
    assert sandbox_call(server, "GET", "/_sandbox/requests", auth=False)[0] == 200
    assert server.faults.fail_next == 5


def test_faults_endpoint_reads_replaces_and_resets_the_settings(server):
    status, _, current = sandbox_call(server, "GET", "/_sandbox/faults", auth=False)
    assert (status, current) == (200, Faults().as_dict())
    status, _, replaced = sandbox_call(
        server, "PUT", "/_sandbox/faults", {"fail_next": 1, "quirks": True}, auth=False
    )
    assert status == 200
    assert replaced == {**Faults().as_dict(), "fail_next": 1, "quirks": True}
    assert (server.faults.fail_next, server.faults.quirks) == (1, True)
    assert sandbox_call(server, "PUT", "/_sandbox/faults", {"latency_ms": 0}, auth=False)[2] == (
        Faults().as_dict()
    )
    server.faults.fail_next = 3
    assert sandbox_call(server, "DELETE", "/_sandbox/faults", auth=False)[2] == Faults().as_dict()
    assert server.faults == Faults()


def test_faults_endpoint_rejects_unknown_keys_and_bad_values(server):
    for body in ({"explode": True}, {"failure_rate": 2}, {"fail_next": "1"}, [1]):
        status, _, answer = sandbox_call(server, "PUT", "/_sandbox/faults", body, auth=False)
        assert status == 400, body
        assert "error" in answer
