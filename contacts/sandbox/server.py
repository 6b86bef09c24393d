"""A loopback HTTP fake of the LiveDesk contacts API, with faults to order.

API calls live under /api/v2/accounts/contacts and need Basic auth. The
unauthenticated control endpoints under /_sandbox/ set faults, show the
requests received and change contacts as another LiveDesk user would.
SandboxServer owns the socket, the faults, the recorded requests and the
outgoing webhooks (webhooks.WebhookSender); handler.Handler routes each request.
"""

import base64
import binascii
import hmac
import random
import threading
import time
from http.server import ThreadingHTTPServer
from typing import Any

from .answer import Answer
from .faults import Faults
from .handler import Handler
from .store import SandboxStore
from .webhooks import DEFAULT_TIMEOUT, WebhookSender

RECORDED_REQUESTS = 200


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
        webhook_url: str = "",
        webhook_secret: str = "",
        webhook_timeout: float = DEFAULT_TIMEOUT,
    ):
        self.store = store
        # Contact events POSTed to webhook_url after each change made through the API.
        self.webhooks: WebhookSender | None = None
        self.faults = faults if faults is not None else Faults()
        self.requests: list[dict] = []
        self.verbose = verbose
        self._credentials = f"{api_key}:{api_secret}".encode()
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._random = random.Random()
        self._thread: threading.Thread | None = None
        self._serving = False
        self._httpd = _HTTPServer((host, port), Handler)
        self._httpd.sandbox = self
        try:
            self.configure_webhooks(url=webhook_url, secret=webhook_secret, timeout=webhook_timeout)
        except ValueError:
            self._httpd.server_close()
            raise

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
        if self.webhooks is not None:
            self.webhooks.stop()

    def __enter__(self) -> "SandboxServer":
        return self.start()

    def __exit__(self, *exc_info) -> None:
        self.stop()

    # Webhooks

    def configure_webhooks(
        self, *, url: str, secret: str = "", timeout: float = DEFAULT_TIMEOUT
    ) -> WebhookSender | None:
        """Send contact events to `url` (signed with `secret` when given); no URL: stop."""
        previous, self.webhooks = self.webhooks, None
        if previous is not None:
            previous.stop()
        if url:
            self.webhooks = WebhookSender(url=url, secret=secret, timeout=timeout)
        return self.webhooks

    def notify(self, body: dict | None) -> None:
        """Queue a contact event for the webhook, if one is configured; never waits."""
        sender = self.webhooks
        if sender is not None and body is not None:
            sender.send(body)

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
            self.requests.append(
                {"method": method, "path": path, "query": query, "body": body, "at": time.time()}
            )
            del self.requests[:-RECORDED_REQUESTS]

    def recorded(self) -> list[dict]:
        with self._lock:
            return list(self.requests)

    def clear_recorded(self) -> None:
        with self._lock:
            self.requests.clear()

    def take_faults(self, method: str = "") -> tuple[float, float, Answer | None, bool]:
        """Consume this call's share of the faults: (delay, hang, failure answer, quirks)."""
        with self._lock:
            return self.faults.take(self._random, method)

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


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    # The default backlog of 5 resets connections when a client opens many at once.
    request_queue_size = 128
