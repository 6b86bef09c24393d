"""The sandbox's webhooks: a change made through its API is POSTed, signed, in the background;
and, once, the whole way: sandbox API -> webhook -> the app's mirror and history."""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import re
import socket
import subprocess
import sys
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import SimpleNamespace

import pytest
from django.core.management import CommandError, call_command

from contacts.livedesk import LiveDeskClient
from contacts.models import Contact, ContactEdit, WebhookDelivery
from contacts.tests.factories import (
    API_KEY,
    API_SECRET,
    CONTACTS_PATH,
    contact_synced,
    sandbox_call,
    sandbox_contact_make,
    sandbox_patch,
)

SECRET = "sandbox-webhook-test-secret"


class Receiver:
    """A loopback HTTP server that keeps every POST: (path, headers, body)."""

    def __init__(self, *, status: int = 200, delay: float = 0.0):
        self.status, self.delay = status, delay
        self.requests: list[tuple[str, dict, bytes]] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                receiver.requests.append((self.path, dict(self.headers), body))
                time.sleep(receiver.delay)
                self.send_response(receiver.status)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"{}")

            def log_message(self, format, *args):
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        threading.Thread(
            target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        ).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}/hook/"

    def events(self) -> list[dict]:
        return [json.loads(body) for _, _, body in self.requests]

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def receiver():
    receiver = Receiver()
    yield receiver
    receiver.stop()


@pytest.fixture
def hooked(server, receiver):
    """The sandbox server sending signed webhooks to `receiver`."""
    server.configure_webhooks(url=receiver.url, secret=SECRET, timeout=2.0)
    return server


def delivered(server) -> None:
    assert server.webhooks.drain(timeout=10)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


# --- What is sent ----------------------------------------------------------------------------


def test_a_patch_through_the_api_sends_a_signed_contact_updated(hooked, receiver, store):
    contact = sandbox_contact_make(store, name="Somchai Srisuk", email="somchai@example.com")

    status, _, _ = sandbox_patch(hooked, contact, {"name": "Somchai S", "blocked": True})
    delivered(hooked)

    assert status == 200
    [(path, headers, raw)] = receiver.requests
    assert path == "/hook/"
    assert headers["Content-Type"] == "application/json"
    timestamp = headers["X-Chatwoot-Timestamp"]
    assert abs(int(timestamp) - time.time()) < 10
    expected = hmac.new(SECRET.encode(), f"{timestamp}.".encode() + raw, hashlib.sha256)
    assert headers["X-Chatwoot-Signature"] == "sha256=" + expected.hexdigest()
    uuid.UUID(headers["X-Chatwoot-Delivery"])
    event = json.loads(raw)
    assert event["event"] == "contact_updated"
    assert (event["id"], event["name"], event["email"]) == (
        contact["id"],
        "Somchai S",
        "somchai@example.com",
    )
    # Chatwoot's Contact#webhook_data: no blocked, names split or timestamps at the top level.
    assert {"blocked", "first_name", "created_at", "availability_status"}.isdisjoint(event)
    assert event["account"] == {"id": 1, "name": "LiveDesk Sandbox"}
    assert event["changed_attributes"] == [
        {"name": {"previous_value": "Somchai Srisuk", "current_value": "Somchai S"}},
        {"blocked": {"previous_value": False, "current_value": True}},
    ]


def test_a_contact_created_through_the_api_sends_contact_created(hooked, receiver):
    status, _, body = sandbox_call(
        hooked,
        "POST",
        CONTACTS_PATH,
        {"name": "Nok Kaew", "email": "nok@example.com", "inbox_id": 1},
    )
    delivered(hooked)

    assert status == 200
    [event] = receiver.events()
    assert event["event"] == "contact_created"
    assert (event["id"], event["name"]) == (body["payload"]["contact"]["id"], "Nok Kaew")
    assert "changed_attributes" not in event


def test_a_change_through_the_control_endpoint_is_sent_too(hooked, receiver, store):
    contact = sandbox_contact_make(store)

    status, _, _ = sandbox_call(
        hooked,
        "PATCH",
        f"/_sandbox/contacts/{contact['id']}",
        {"email": "x@example.com"},
        auth=False,
    )
    delivered(hooked)

    assert status == 200
    assert [event["email"] for event in receiver.events()] == ["x@example.com"]


def test_no_event_for_a_change_straight_in_the_store_none_changed_or_refused(
    hooked, receiver, store
):
    contact = sandbox_contact_make(store, email="same@example.com")
    store.update_contact(contact["id"], {"name": "Changed In The Store"})

    unchanged, _, _ = sandbox_patch(hooked, contact, {"email": "same@example.com"})
    refused, _, _ = sandbox_patch(hooked, contact, {"email": "not an email"})
    missing, _, _ = sandbox_call(hooked, "PATCH", f"{CONTACTS_PATH}/999999999", {"name": "x"})
    delivered(hooked)

    assert (unchanged, refused, missing) == (200, 422, 404)
    assert receiver.requests == []


def test_events_are_sent_in_the_order_of_the_changes(hooked, receiver, store):
    contact = sandbox_contact_make(store)

    for n in range(5):
        sandbox_patch(hooked, contact, {"name": f"Name {n}"})
    delivered(hooked)

    assert [event["name"] for event in receiver.events()] == [f"Name {n}" for n in range(5)]
    assert len({headers["X-Chatwoot-Delivery"] for _, headers, _ in receiver.requests}) == 5


def test_without_a_secret_events_are_unsigned_and_a_token_in_the_url_is_kept(
    server, receiver, store
):
    server.configure_webhooks(url=receiver.url + "?token=t0ken")
    contact = sandbox_contact_make(store)

    sandbox_patch(server, contact, {"name": "Unsigned"})
    delivered(server)

    [(path, headers, _)] = receiver.requests
    assert path == "/hook/?token=t0ken"
    assert "X-Chatwoot-Signature" not in headers and "X-Chatwoot-Timestamp" not in headers
    assert "X-Chatwoot-Delivery" in headers


# --- Failures never reach the API call --------------------------------------------------------


def test_an_unreachable_url_is_logged_and_dropped_and_the_call_succeeds(server, store, capsys):
    server.configure_webhooks(
        url=f"http://127.0.0.1:{free_port()}/hook/?token=do-not-log-me", secret=SECRET
    )
    contact = sandbox_contact_make(store)

    status, _, _ = sandbox_patch(server, contact, {"name": "Still Saved"})
    delivered(server)

    assert status == 200
    assert store.get_contact(contact["id"])["name"] == "Still Saved"
    logged = capsys.readouterr().err
    assert f"webhook contact_updated for contact #{contact['id']}" in logged
    assert "not delivered" in logged and "dropped" in logged
    assert "do-not-log-me" not in logged and SECRET not in logged
    [(_, _, _, status_code, error)] = server.webhooks.deliveries()
    assert status_code is None and error


def test_a_slow_receiver_never_holds_up_the_call(server, store, capsys):
    slow = Receiver(delay=3.0)
    try:
        server.configure_webhooks(url=slow.url, secret=SECRET, timeout=0.3)
        contact = sandbox_contact_make(store)

        started = time.monotonic()
        status, _, _ = sandbox_patch(server, contact, {"name": "Fast Answer"})
        took = time.monotonic() - started
        delivered(server)
    finally:
        slow.stop()

    assert status == 200 and took < 1.0
    assert "timed out" in capsys.readouterr().err


def test_a_refusal_by_the_receiver_is_logged_with_its_status(server, store, capsys):
    refusing = Receiver(status=401)
    try:
        server.configure_webhooks(url=refusing.url, secret=SECRET)
        sandbox_patch(server, sandbox_contact_make(store), {"name": "Refused"})
        delivered(server)
    finally:
        refusing.stop()

    assert "not delivered (HTTP 401)" in capsys.readouterr().err


# --- The command's flags ---------------------------------------------------------------------


def test_the_command_rejects_a_webhook_url_that_is_not_http(tmp_path):
    with pytest.raises(CommandError, match="--webhook-url"):
        call_command(
            "livedesk_sandbox",
            "--port",
            "0",
            "--store",
            str(tmp_path / "s.sqlite3"),
            "--webhook-url",
            "ftp://127.0.0.1/hook",
        )


def test_the_command_sends_events_signed_with_the_settings_secret(tmp_path, receiver):
    root = Path(__file__).resolve().parents[3]
    command = [
        sys.executable,
        str(root / "manage.py"),
        "livedesk_sandbox",
        "--port",
        "0",
        "--seed",
        "3",
        "--store",
        str(tmp_path / "command.sqlite3"),
        "--api-key",
        API_KEY,
        "--api-secret",
        API_SECRET,
        "--webhook-url",
        receiver.url,
    ]
    environment = {**os.environ, "PYTHONUNBUFFERED": "1", "LIVEDESK_WEBHOOK_SECRET": SECRET}
    process = subprocess.Popen(
        command,
        cwd=root,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=environment,
    )
    try:
        started = process.stdout.readline()
        announced = process.stdout.readline()
        base_url = re.search(r"http://[\d.]+:\d+", started).group(0)
        sandbox = SimpleNamespace(base_url=base_url)
        _, _, page = sandbox_call(sandbox, "GET", CONTACTS_PATH)
        status, _, _ = sandbox_patch(sandbox, page["payload"][0], {"name": "From The Command"})
        deadline = time.monotonic() + 10
        while not receiver.requests and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        process.terminate()
        process.wait(timeout=10)

    assert status == 200
    assert announced.strip() == f"Contact events go to {receiver.url} (signed)"
    assert SECRET not in started + announced
    [(_, headers, raw)] = receiver.requests
    timestamp = headers["X-Chatwoot-Timestamp"]
    expected = hmac.new(SECRET.encode(), f"{timestamp}.".encode() + raw, hashlib.sha256)
    assert headers["X-Chatwoot-Signature"] == "sha256=" + expected.hexdigest()
    assert json.loads(raw)["name"] == "From The Command"


# --- The whole way: the sandbox's API, its webhook, the app -------------------------------------


@pytest.mark.django_db(transaction=True)
def test_a_change_made_through_the_sandbox_api_reaches_the_mirror_by_webhook(
    sandbox, live_server, settings
):
    settings.LIVEDESK_WEBHOOK_SECRET = SECRET
    contact = contact_synced(
        sandbox=sandbox,
        name="Ann Lee",
        email="ann@example.com",
        additional_attributes={"city": "Bangkok"},
    )
    sandbox.configure_webhooks(url=f"{live_server.url}/webhooks/livedesk/", secret=SECRET)

    with LiveDeskClient() as client:  # as LiveDesk's dashboard or a bot would, over its API
        client.contact_update(
            contact.remote_id, {"name": "Ann Dashboard", "additional_attributes": {"city": "Krabi"}}
        )
    assert sandbox.webhooks.drain(timeout=10)

    [(event, remote_id, delivery_id, status, error)] = sandbox.webhooks.deliveries()
    assert (event, remote_id, status, error) == ("contact_updated", contact.remote_id, 200, "")
    mirror = Contact.objects.get(pk=contact.pk)
    assert (mirror.name, mirror.city, mirror.version) == ("Ann Dashboard", "Krabi", 2)
    [row] = ContactEdit.objects.filter(contact=contact)
    assert (row.source, row.seen_via, row.editor_username) == (
        ContactEdit.Source.LIVEDESK,
        ContactEdit.SeenVia.WEBHOOK,
        "LiveDesk",
    )
    assert {change["field"] for change in row.changes} == {"name", "additional_attributes.city"}
    [delivery] = WebhookDelivery.objects.all()
    assert (delivery.delivery_id, delivery.outcome) == (delivery_id, "applied")
