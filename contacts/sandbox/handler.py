"""Routing for the sandbox's HTTP server: the LiveDesk contacts API and the control endpoints.

API calls live under /api/v2/accounts/contacts and need Basic auth; they are recorded
and take their share of the faults. The control endpoints under /_sandbox/ are not.
"""

import json
import re
import sys
import traceback
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, urlsplit

from .answer import Answer
from .faults import Faults, quirky
from .query import DEFAULT_PAGE_SIZE
from .store import ContactNotFound
from .validation import ValidationFailed
from .webhooks import contact_created_event, contact_updated_event

if TYPE_CHECKING:
    from .server import SandboxServer

CONTACTS_PATH = "/api/v2/accounts/contacts"
CONTACT_PATH = re.compile(r"/api/v2/accounts/contacts/(\d+)")
CONTROL_CONTACT_PATH = re.compile(r"/_sandbox/contacts/(\d+)")

NOT_FOUND = {"error": "Resource could not be found"}
UNAUTHORIZED = {"error": "Invalid Access Token"}


def _flag(query: dict, name: str, default: bool) -> bool:
    value = _first(query, name)
    if value is None:
        return default
    return value.strip().lower() not in ("false", "0", "no", "off", "")


def _first(query: dict, name: str) -> str | None:
    values = query.get(name)
    return values[0] if values else None


def _int(value: str | None, default: int) -> int:
    try:
        return int(value) if value is not None else default
    except ValueError:
        return default


class Handler(BaseHTTPRequestHandler):
    """Answers one connection's requests: the LiveDesk API, or the /_sandbox/ controls."""

    protocol_version = "HTTP/1.1"
    server_version = "LiveDeskSandbox/1.0"
    # Headers and body go out in separate writes: without this, the client waits out a
    # delayed ACK (about 40 ms) on every call.
    disable_nagle_algorithm = True

    @property
    def sandbox(self) -> "SandboxServer":
        return self.server.sandbox

    def do_GET(self):
        self._dispatch()

    def do_POST(self):
        self._dispatch()

    def do_PUT(self):
        self._dispatch()

    def do_PATCH(self):
        self._dispatch()

    def do_DELETE(self):
        self._dispatch()

    def log_message(self, format, *args):
        # Request lines carry no credentials; headers are never logged.
        if self.sandbox.verbose:
            sys.stderr.write(f"[sandbox] {format % args}\n")

    def _dispatch(self) -> None:
        parts = urlsplit(self.path)
        path = parts.path.rstrip("/") or "/"
        query = parse_qs(parts.query, keep_blank_values=True)
        raw_body = self._read_body()
        try:
            if path == "/_sandbox" or path.startswith("/_sandbox/"):
                answer = self._control(path, query, raw_body)
            else:
                answer = self._api(path, query, raw_body)
        except Exception:
            traceback.print_exc()
            answer = Answer(HTTPStatus.INTERNAL_SERVER_ERROR, {"error": "Internal Server Error"})
        if answer is not None:
            self._send(answer)

    def _read_body(self) -> bytes:
        length = _int(self.headers.get("Content-Length"), 0)
        return self.rfile.read(length) if length > 0 else b""

    def _send(self, answer: Answer) -> None:
        payload, content_type = answer.encoded()
        try:
            self.send_response(answer.status)
            for name, value in answer.headers:
                self.send_header(name, value)
            if content_type:
                self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(payload)))
            if answer.close:
                self.send_header("Connection", "close")
                self.close_connection = True
            self.end_headers()
            self.wfile.write(payload)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True

    @staticmethod
    def _json(raw_body: bytes) -> tuple[Any, Answer | None]:
        if not raw_body.strip():
            return {}, None
        try:
            body = json.loads(raw_body)
        except (UnicodeDecodeError, json.JSONDecodeError) as error:
            return None, Answer(HTTPStatus.BAD_REQUEST, {"error": f"Invalid JSON body: {error}"})
        if not isinstance(body, dict):
            return None, Answer(HTTPStatus.BAD_REQUEST, {"error": "Body must be a JSON object"})
        return body, None

    # The LiveDesk API

    def _api(self, path: str, query: dict, raw_body: bytes) -> Answer | None:
        sandbox = self.sandbox
        try:
            recorded_body = json.loads(raw_body) if raw_body.strip() else None
        except (UnicodeDecodeError, json.JSONDecodeError):
            recorded_body = None
        sandbox.record(
            self.command,
            path,
            {key: values[0] if len(values) == 1 else values for key, values in query.items()},
            recorded_body,
        )
        delay, hang, failure, quirks = sandbox.take_faults(self.command)
        if sandbox.sleep(delay) or sandbox.sleep(hang):
            self.close_connection = True
            return None
        if failure is not None:
            return failure

        match = CONTACT_PATH.fullmatch(path)
        if path == CONTACTS_PATH:
            handler = {"GET": self._list, "POST": self._create}.get(self.command)
        elif match:
            handler = {"GET": self._show, "PATCH": self._update}.get(self.command)
        else:
            handler = None
        if handler is None:
            return Answer(HTTPStatus.NOT_FOUND, NOT_FOUND)
        if not sandbox.authorized(self.headers.get("Authorization")):
            return Answer(HTTPStatus.UNAUTHORIZED, UNAUTHORIZED)
        body, error = self._json(raw_body)
        if error is not None:
            return error
        contact_id = int(match.group(1)) if match else None
        return handler(contact_id=contact_id, query=query, body=body, quirks=quirks)

    def _list(self, *, query, quirks, **_) -> Answer:
        labels = [
            label.strip()
            for key in ("labels", "labels[]")
            for value in query.get(key, ())
            for label in value.split(",")
            if label.strip()
        ]
        page = max(_int(_first(query, "page"), 1), 1)
        count, contacts = self.sandbox.store.list_contacts(
            q=_first(query, "q"),
            labels=labels,
            sort=_first(query, "sort"),
            direction=_first(query, "direction"),
            page=page,
            page_size=_int(_first(query, "page_size"), DEFAULT_PAGE_SIZE),
            include_contact_inboxes=_flag(query, "include_contact_inboxes", True),
        )
        if quirks:
            contacts = [quirky(contact) for contact in contacts]
        meta = {"count": count, "current_page": str(page) if quirks else page}
        return Answer(HTTPStatus.OK, {"meta": meta, "payload": contacts})

    def _show(self, *, contact_id, query, quirks, **_) -> Answer:
        contact = self.sandbox.store.get_contact(
            contact_id, include_contact_inboxes=_flag(query, "include_contact_inboxes", True)
        )
        if contact is None:
            return Answer(HTTPStatus.NOT_FOUND, NOT_FOUND)
        return Answer(HTTPStatus.OK, {"payload": quirky(contact) if quirks else contact})

    def _create(self, *, body, quirks, **_) -> Answer:
        try:
            created = self.sandbox.store.create_from_api(body)
        except ValidationFailed as failure:
            return Answer(HTTPStatus.UNPROCESSABLE_ENTITY, failure.as_body())
        self.sandbox.notify(contact_created_event(created["contact"]))
        if quirks:
            created["contact"] = quirky(created["contact"])
        return Answer(HTTPStatus.OK, {"payload": created})

    def _update(self, *, contact_id, query, body, quirks, **_) -> Answer:
        try:
            contact = self._update_and_notify(
                contact_id, body, _flag(query, "include_contact_inboxes", False)
            )
        except ContactNotFound:
            return Answer(HTTPStatus.NOT_FOUND, NOT_FOUND)
        except ValidationFailed as failure:
            return Answer(HTTPStatus.UNPROCESSABLE_ENTITY, failure.as_body())
        return Answer(HTTPStatus.OK, {"payload": quirky(contact) if quirks else contact})

    def _update_and_notify(self, contact_id: int, body: dict, include_inboxes: bool) -> dict:
        """Apply a PATCH and send the webhook's `contact_updated` when anything changed."""
        store = self.sandbox.store
        before = store.get_contact(contact_id, include_contact_inboxes=False)
        contact = store.update_contact(contact_id, body, include_contact_inboxes=include_inboxes)
        if before is not None:
            self.sandbox.notify(contact_updated_event(before, contact))
        return contact

    # Control endpoints: no auth, no faults, not recorded.

    def _control(self, path: str, query: dict, raw_body: bytes) -> Answer:
        sandbox, method = self.sandbox, self.command
        if path == "/_sandbox/faults":
            if method == "GET":
                return Answer(HTTPStatus.OK, sandbox.faults.as_dict())
            if method == "DELETE":
                return Answer(HTTPStatus.OK, sandbox.reset_faults().as_dict())
            if method == "PUT":
                body, error = self._json(raw_body)
                if error is not None:
                    return error
                try:
                    faults = Faults.from_dict(body)
                except ValueError as problem:
                    return Answer(HTTPStatus.BAD_REQUEST, {"error": str(problem)})
                return Answer(HTTPStatus.OK, sandbox.replace_faults(faults).as_dict())
        elif path == "/_sandbox/requests":
            if method == "GET":
                return Answer(HTTPStatus.OK, sandbox.recorded())
            if method == "DELETE":
                sandbox.clear_recorded()
                return Answer(HTTPStatus.OK, [])
        elif match := CONTROL_CONTACT_PATH.fullmatch(path):
            contact_id = int(match.group(1))
            include_inboxes = _flag(query, "include_contact_inboxes", False)
            if method == "GET":
                contact = sandbox.store.get_contact(
                    contact_id, include_contact_inboxes=include_inboxes
                )
                if contact is not None:
                    return Answer(HTTPStatus.OK, {"payload": contact})
            elif method == "DELETE":
                if sandbox.store.delete_contact(contact_id):
                    return Answer(HTTPStatus.OK, {"deleted": contact_id})
            elif method == "PATCH":
                body, error = self._json(raw_body)
                if error is not None:
                    return error
                try:
                    # As another LiveDesk user's change: the webhook tells about it too.
                    contact = self._update_and_notify(contact_id, body, include_inboxes)
                except ValidationFailed as failure:
                    return Answer(HTTPStatus.UNPROCESSABLE_ENTITY, failure.as_body())
                except ContactNotFound:
                    pass
                else:
                    return Answer(HTTPStatus.OK, {"payload": contact})
        return Answer(HTTPStatus.NOT_FOUND, NOT_FOUND)
