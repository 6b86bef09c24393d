"""A loopback HTTP fake of the LiveDesk contacts API, with faults to order.

API calls live under /api/v2/accounts/contacts and need Basic auth. The
unauthenticated control endpoints under /_sandbox/ set faults, show the
requests received and change contacts as another LiveDesk user would.
"""

import base64
import binascii
import dataclasses
import hmac
import json
import random
import re
import sys
import threading
import traceback
from dataclasses import dataclass
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from .store import DEFAULT_PAGE_SIZE, ContactNotFound, SandboxStore, ValidationFailed

CONTACTS_PATH = "/api/v2/accounts/contacts"
CONTACT_PATH = re.compile(r"/api/v2/accounts/contacts/(\d+)")
CONTROL_CONTACT_PATH = re.compile(r"/_sandbox/contacts/(\d+)")
RECORDED_REQUESTS = 200

NOT_FOUND = {"error": "Resource could not be found"}
UNAUTHORIZED = {"error": "Invalid Access Token"}
GATEWAY_PAGE = (
    "<html>\r\n<head><title>{status} {phrase}</title></head>\r\n<body>\r\n"
    "<center><h1>{status} {phrase}</h1></center>\r\n<hr><center>nginx</center>\r\n"
    "</body>\r\n</html>\r\n"
)


@dataclass
class Faults:
    """What goes wrong with API calls; counters count down as calls consume them."""

    latency_ms: int = 0
    failure_rate: float = 0.0
    failure_status: int = 503
    fail_next: int = 0
    rate_limit_next: int = 0
    retry_after: int = 1
    hang_next: int = 0
    hang_seconds: float = 30.0
    quirks: bool = False

    @classmethod
    def from_dict(cls, settings: dict) -> "Faults":
        """Faults from a JSON object; missing keys take defaults, bad ones raise ValueError."""
        if not isinstance(settings, dict):
            raise ValueError("faults must be a JSON object")
        known = {field.name: field for field in dataclasses.fields(cls)}
        unknown = sorted(set(settings) - set(known))
        if unknown:
            raise ValueError(f"unknown fault keys: {', '.join(unknown)}")
        for key, value in settings.items():
            wanted = known[key].type
            if wanted is bool:
                valid = isinstance(value, bool)
            elif wanted is int:
                valid = isinstance(value, int) and not isinstance(value, bool) and value >= 0
            else:
                valid = (
                    isinstance(value, int | float) and not isinstance(value, bool) and value >= 0
                )
            if not valid:
                raise ValueError(f"{key} must be a non-negative {wanted.__name__}")
        faults = cls(**settings)
        if faults.failure_rate > 1:
            raise ValueError("failure_rate must be between 0 and 1")
        if not 400 <= faults.failure_status <= 599:
            raise ValueError("failure_status must be an HTTP error status (400-599)")
        return faults

    def as_dict(self) -> dict:
        return dataclasses.asdict(self)


@dataclass
class _Answer:
    status: int
    body: Any = None
    headers: tuple[tuple[str, str], ...] = ()
    close: bool = False


class SandboxServer:
    """Serves a SandboxStore over HTTP; binds in __init__, serves after start()."""

    def __init__(
        self,
        *,
        store: SandboxStore,
        host: str = "127.0.0.1",
        port: int = 0,
        api_key: str = "sandbox-demo-key",
        api_secret: str = "sandbox-demo-secret",
        faults: Faults | None = None,
        verbose: bool = False,
    ):
        self.store = store
        self.faults = faults if faults is not None else Faults()
        self.requests: list[dict] = []
        self.verbose = verbose
        self._credentials = f"{api_key}:{api_secret}".encode()
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._random = random.Random()
        self._thread: threading.Thread | None = None
        self._serving = False
        self._httpd = _HTTPServer((host, port), _Handler)
        self._httpd.sandbox = self

    @property
    def base_url(self) -> str:
        host, port = self._httpd.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> "SandboxServer":
        """Serve in a daemon thread."""
        self._thread = threading.Thread(
            target=self.serve_forever, name="livedesk-sandbox", daemon=True
        )
        self._thread.start()
        return self

    def serve_forever(self) -> None:
        """Serve in this thread until stop() is called from another (or KeyboardInterrupt)."""
        self._serving = True
        try:
            self._httpd.serve_forever(poll_interval=0.05)
        finally:
            self._serving = False

    def stop(self) -> None:
        """Stop serving, wake hanging calls and release the port."""
        self._stopping.set()
        if self._serving:
            self._httpd.shutdown()
        self._httpd.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self) -> "SandboxServer":
        return self.start()

    def __exit__(self, *exc_info) -> None:
        self.stop()

    # Faults and recording, shared by the handler threads.

    def reset_faults(self) -> Faults:
        with self._lock:
            self.faults = Faults()
            return self.faults

    def replace_faults(self, faults: Faults) -> Faults:
        with self._lock:
            self.faults = faults
            return faults

    def record(self, method: str, path: str, query: dict, body: Any) -> None:
        with self._lock:
            self.requests.append({"method": method, "path": path, "query": query, "body": body})
            del self.requests[:-RECORDED_REQUESTS]

    def recorded(self) -> list[dict]:
        with self._lock:
            return list(self.requests)

    def clear_recorded(self) -> None:
        with self._lock:
            self.requests.clear()

    def take_faults(self) -> tuple[float, float, _Answer | None, bool]:
        """Consume this call's share of the faults: (delay, hang, failure answer, quirks)."""
        with self._lock:
            faults = self.faults
            delay = max(faults.latency_ms, 0) / 1000
            hang = 0.0
            if faults.hang_next > 0:
                faults.hang_next -= 1
                hang = faults.hang_seconds
            failure = None
            if faults.rate_limit_next > 0:
                faults.rate_limit_next -= 1
                failure = _failure(HTTPStatus.TOO_MANY_REQUESTS, retry_after=faults.retry_after)
            elif faults.fail_next > 0:
                faults.fail_next -= 1
                failure = _failure(faults.failure_status, retry_after=faults.retry_after)
            elif faults.failure_rate > 0 and self._random.random() < faults.failure_rate:
                failure = _failure(faults.failure_status, retry_after=faults.retry_after)
            return delay, hang, failure, faults.quirks

    def authorized(self, header: str | None) -> bool:
        scheme, _, encoded = (header or "").partition(" ")
        if scheme.lower() != "basic":
            return False
        try:
            credentials = base64.b64decode(encoded.strip(), validate=True)
        except (binascii.Error, ValueError):
            return False
        return hmac.compare_digest(credentials, self._credentials)

    def sleep(self, seconds: float) -> bool:
        """Sleep unless the server stops first; True when it stopped."""
        return seconds > 0 and self._stopping.wait(seconds)


def _failure(status: int, *, retry_after: int) -> _Answer:
    if status == HTTPStatus.TOO_MANY_REQUESTS:
        # As Rack::Attack answers: plain text, and when to come back.
        return _Answer(status, "Retry later\n", (("Retry-After", str(retry_after)),))
    phrase = _phrase(status)
    if status in (HTTPStatus.BAD_GATEWAY, HTTPStatus.GATEWAY_TIMEOUT):
        return _Answer(status, GATEWAY_PAGE.format(status=status, phrase=phrase))
    return _Answer(status, {"error": phrase})


def _phrase(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Error"


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


def _quirky(contact: dict) -> dict:
    """The documented type quirks: string ids, booleans and timestamps, last_name as a list."""
    contact = dict(contact)
    contact["id"] = str(contact["id"])
    contact["blocked"] = "true" if contact["blocked"] else "false"
    for key in ("created_at", "last_activity_at"):
        if contact[key] is not None:
            contact[key] = str(contact[key])
    contact["last_name"] = [contact["last_name"]] if contact["last_name"] else []
    return contact


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    # The default backlog of 5 resets connections when a client opens many at once.
    request_queue_size = 128


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "LiveDeskSandbox/1.0"

    @property
    def sandbox(self) -> SandboxServer:
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
            answer = _Answer(HTTPStatus.INTERNAL_SERVER_ERROR, {"error": "Internal Server Error"})
        if answer is not None:
            self._send(answer)

    def _read_body(self) -> bytes:
        length = _int(self.headers.get("Content-Length"), 0)
        return self.rfile.read(length) if length > 0 else b""

    def _send(self, answer: _Answer) -> None:
        if isinstance(answer.body, str):
            payload = answer.body.encode()
            content_type = (
                "text/html; charset=utf-8"
                if answer.body.startswith("<html")
                else "text/plain; charset=utf-8"
            )
        elif answer.body is None:
            payload, content_type = b"", None
        else:
            payload = json.dumps(answer.body, ensure_ascii=False).encode()
            content_type = "application/json; charset=utf-8"
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
    def _json(raw_body: bytes) -> tuple[Any, _Answer | None]:
        if not raw_body.strip():
            return {}, None
        try:
            body = json.loads(raw_body)
        except (UnicodeDecodeError, json.JSONDecodeError) as error:
            return None, _Answer(HTTPStatus.BAD_REQUEST, {"error": f"Invalid JSON body: {error}"})
        if not isinstance(body, dict):
            return None, _Answer(HTTPStatus.BAD_REQUEST, {"error": "Body must be a JSON object"})
        return body, None

    # The LiveDesk API

    def _api(self, path: str, query: dict, raw_body: bytes) -> _Answer | None:
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
        delay, hang, failure, quirks = sandbox.take_faults()
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
            return _Answer(HTTPStatus.NOT_FOUND, NOT_FOUND)
        if not sandbox.authorized(self.headers.get("Authorization")):
            return _Answer(HTTPStatus.UNAUTHORIZED, UNAUTHORIZED)
        body, error = self._json(raw_body)
        if error is not None:
            return error
        contact_id = int(match.group(1)) if match else None
        return handler(contact_id=contact_id, query=query, body=body, quirks=quirks)

    def _list(self, *, query, quirks, **_) -> _Answer:
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
            contacts = [_quirky(contact) for contact in contacts]
        meta = {"count": count, "current_page": str(page) if quirks else page}
        return _Answer(HTTPStatus.OK, {"meta": meta, "payload": contacts})

    def _show(self, *, contact_id, query, quirks, **_) -> _Answer:
        contact = self.sandbox.store.get_contact(
            contact_id, include_contact_inboxes=_flag(query, "include_contact_inboxes", True)
        )
        if contact is None:
            return _Answer(HTTPStatus.NOT_FOUND, NOT_FOUND)
        return _Answer(HTTPStatus.OK, {"payload": _quirky(contact) if quirks else contact})

    def _create(self, *, body, quirks, **_) -> _Answer:
        try:
            created = self.sandbox.store.create_from_api(body)
        except ValidationFailed as failure:
            return _Answer(HTTPStatus.UNPROCESSABLE_ENTITY, failure.as_body())
        if quirks:
            created["contact"] = _quirky(created["contact"])
        return _Answer(HTTPStatus.OK, {"payload": created})

    def _update(self, *, contact_id, query, body, quirks, **_) -> _Answer:
        try:
            contact = self.sandbox.store.update_contact(
                contact_id,
                body,
                include_contact_inboxes=_flag(query, "include_contact_inboxes", False),
            )
        except ContactNotFound:
            return _Answer(HTTPStatus.NOT_FOUND, NOT_FOUND)
        except ValidationFailed as failure:
            return _Answer(HTTPStatus.UNPROCESSABLE_ENTITY, failure.as_body())
        return _Answer(HTTPStatus.OK, {"payload": _quirky(contact) if quirks else contact})

    # Control endpoints: no auth, no faults, not recorded.

    def _control(self, path: str, query: dict, raw_body: bytes) -> _Answer:
        sandbox, method = self.sandbox, self.command
        if path == "/_sandbox/faults":
            if method == "GET":
                return _Answer(HTTPStatus.OK, sandbox.faults.as_dict())
            if method == "DELETE":
                return _Answer(HTTPStatus.OK, sandbox.reset_faults().as_dict())
            if method == "PUT":
                body, error = self._json(raw_body)
                if error is not None:
                    return error
                try:
                    faults = Faults.from_dict(body)
                except ValueError as problem:
                    return _Answer(HTTPStatus.BAD_REQUEST, {"error": str(problem)})
                return _Answer(HTTPStatus.OK, sandbox.replace_faults(faults).as_dict())
        elif path == "/_sandbox/requests":
            if method == "GET":
                return _Answer(HTTPStatus.OK, sandbox.recorded())
            if method == "DELETE":
                sandbox.clear_recorded()
                return _Answer(HTTPStatus.OK, [])
        elif match := CONTROL_CONTACT_PATH.fullmatch(path):
            contact_id = int(match.group(1))
            include_inboxes = _flag(query, "include_contact_inboxes", False)
            if method == "GET":
                contact = sandbox.store.get_contact(
                    contact_id, include_contact_inboxes=include_inboxes
                )
                if contact is not None:
                    return _Answer(HTTPStatus.OK, {"payload": contact})
            elif method == "DELETE":
                if sandbox.store.delete_contact(contact_id):
                    return _Answer(HTTPStatus.OK, {"deleted": contact_id})
            elif method == "PATCH":
                body, error = self._json(raw_body)
                if error is not None:
                    return error
                try:
                    contact = sandbox.store.update_contact(
                        contact_id, body, include_contact_inboxes=include_inboxes
                    )
                except ValidationFailed as failure:
                    return _Answer(HTTPStatus.UNPROCESSABLE_ENTITY, failure.as_body())
                except ContactNotFound:
                    pass
                else:
                    return _Answer(HTTPStatus.OK, {"payload": contact})
        return _Answer(HTTPStatus.NOT_FOUND, NOT_FOUND)
