"""The sandbox's outgoing webhooks: Chatwoot-style contact events, signed, sent in the background.

A change made through the sandbox's API (create, PATCH) or its control PATCH is POSTed to the
configured URL as `contact_created` or `contact_updated`: the contact's fields at the top level
(as Chatwoot's `Contact#webhook_data`: no first or last name, availability, timestamps or
`blocked`), plus `event`, `account` and, for an update, `changed_attributes`. With a secret the
delivery is signed as recent Chatwoot versions are reported to sign it:

    X-Chatwoot-Signature: sha256=<hex HMAC-SHA256(secret, "<timestamp>.<raw body>")>
    X-Chatwoot-Timestamp: <Unix seconds>
    X-Chatwoot-Delivery:  <a UUID>

One background thread sends the events in the order of the changes, each with a timeout; a
failed delivery is logged to stderr and dropped, like Chatwoot's. The API call that made the
change never waits for it or fails because of it.
"""

import hashlib
import hmac
import json
import queue
import sys
import threading
import time
import urllib.error
import urllib.request
import uuid
from typing import Any
from urllib.parse import urlsplit, urlunsplit

DEFAULT_TIMEOUT = 5.0
# Events waiting to be sent at most; past it new ones are dropped (and logged).
QUEUE_LIMIT = 1000
# Deliveries remembered in `sent`, newest last.
REMEMBERED = 200
ACCOUNT = {"id": 1, "name": "LiveDesk Sandbox"}
# The contact's fields in a contact event, as Chatwoot's Contact#webhook_data sends them.
WEBHOOK_FIELDS = (
    "additional_attributes",
    "custom_attributes",
    "email",
    "id",
    "identifier",
    "name",
    "phone_number",
    "thumbnail",
)
# Fields compared for `changed_attributes` (the derived first and last name are left out).
TRACKED_FIELDS = (*WEBHOOK_FIELDS, "blocked", "availability_status", "last_activity_at")


def contact_created_event(contact: dict) -> dict:
    """The body of a `contact_created` event for a contact as the API shows it."""
    return {**_webhook_data(contact), "event": "contact_created"}


def contact_updated_event(before: dict, after: dict) -> dict | None:
    """The body of a `contact_updated` event, or None when nothing changed."""
    changed = [
        {key: {"previous_value": before.get(key), "current_value": after.get(key)}}
        for key in TRACKED_FIELDS
        if before.get(key) != after.get(key)
    ]
    if not changed:
        return None
    return {**_webhook_data(after), "event": "contact_updated", "changed_attributes": changed}


def _webhook_data(contact: dict) -> dict:
    data = {key: contact.get(key) for key in WEBHOOK_FIELDS}
    data["avatar"] = contact.get("thumbnail") or ""
    data["account"] = dict(ACCOUNT)
    return data


def signature(secret: str, timestamp: str, body: bytes) -> str:
    """`sha256=` and the hex HMAC-SHA256 of "<timestamp>.<body>" with `secret`."""
    digest = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return "sha256=" + digest.hexdigest()


def url_for_logs(url: str) -> str:
    """`url` without its query and credentials: a token in the URL is a secret."""
    parts = urlsplit(url)
    host = parts.netloc.rpartition("@")[2]
    return urlunsplit((parts.scheme, host, parts.path, "", "")) + ("?..." if parts.query else "")


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    """A webhook is delivered to its URL or not at all: a redirect is a failed delivery."""

    def redirect_request(self, *args, **kwargs):
        return None


class WebhookSender:
    """Sends events to one URL from one background thread, in order, never raising."""

    def __init__(self, *, url: str, secret: str = "", timeout: float = DEFAULT_TIMEOUT):
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError("the webhook URL must be an http:// or https:// address")
        self.url = url
        self.secret = secret
        self.timeout = timeout
        # (event name, contact id, delivery id, HTTP status or None, error or "")
        self.sent: list[tuple[str, Any, str, int | None, str]] = []
        self._queue: queue.Queue = queue.Queue(maxsize=QUEUE_LIMIT)
        self._condition = threading.Condition()
        self._unfinished = 0
        # No proxies (a loopback sandbox) and no redirects.
        self._opener = urllib.request.build_opener(urllib.request.ProxyHandler({}), _NoRedirects)
        self._thread = threading.Thread(
            target=self._run, name="livedesk-sandbox-webhooks", daemon=True
        )
        self._thread.start()

    def send(self, body: dict) -> None:
        """Queue one event for delivery; returns at once."""
        with self._condition:
            self._unfinished += 1
        try:
            self._queue.put_nowait(body)
        except queue.Full:
            self._done()
            _log(f"webhook {body.get('event')} for contact #{body.get('id')} dropped: queue full")

    def drain(self, timeout: float = 10.0) -> bool:
        """Wait until every queued event was sent or given up; False on timeout."""
        deadline = time.monotonic() + timeout
        with self._condition:
            while self._unfinished:
                remaining = deadline - time.monotonic()
                if remaining <= 0 or not self._condition.wait(remaining):
                    return not self._unfinished
        return True

    def stop(self, timeout: float = 1.0) -> None:
        """Stop the thread after the event being sent; events still queued are dropped."""
        while True:
            try:
                self._queue.get_nowait()
            except queue.Empty:
                break
            self._done()
        try:
            self._queue.put(None, timeout=timeout)
        except queue.Full:
            return
        self._thread.join(timeout=timeout)

    def _done(self) -> None:
        with self._condition:
            self._unfinished -= 1
            self._condition.notify_all()

    def _run(self) -> None:
        while True:
            body = self._queue.get()
            if body is None:
                return
            try:
                self._deliver(body)
            except Exception as error:  # never let one event stop the thread
                _log(f"webhook {body.get('event')} failed: {type(error).__name__}: {error}")
            finally:
                self._done()

    def _deliver(self, body: dict) -> None:
        raw = json.dumps(body, ensure_ascii=False).encode()
        delivery = str(uuid.uuid4())
        headers = {
            "Content-Type": "application/json",
            "User-Agent": "LiveDeskSandbox-Webhooks/1.0",
            "X-Chatwoot-Delivery": delivery,
        }
        if self.secret:
            timestamp = str(int(time.time()))
            headers["X-Chatwoot-Timestamp"] = timestamp
            headers["X-Chatwoot-Signature"] = signature(self.secret, timestamp, raw)
        request = urllib.request.Request(self.url, data=raw, method="POST", headers=headers)
        event, contact_id = body.get("event"), body.get("id")
        status, error = None, ""
        try:
            with self._opener.open(request, timeout=self.timeout) as response:
                response.read(64 * 1024)
                status = response.status
        except urllib.error.HTTPError as failure:
            status, error = failure.code, f"HTTP {failure.code}"
            failure.close()
        except (OSError, ValueError) as failure:  # refused, reset, timeout, bad URL
            error = f"{type(failure).__name__}: {failure}"
        self._remember((event, contact_id, delivery, status, error))
        if error:
            _log(
                f"webhook {event} for contact #{contact_id} to {url_for_logs(self.url)} "
                f"not delivered ({error}); dropped"
            )

    def _remember(self, delivery: tuple) -> None:
        with self._condition:
            self.sent.append(delivery)
            del self.sent[:-REMEMBERED]

    def deliveries(self) -> list[tuple[str, Any, str, int | None, str]]:
        with self._condition:
            return list(self.sent)


def _log(message: str) -> None:
    sys.stderr.write(f"[sandbox] {message}\n")
    sys.stderr.flush()
