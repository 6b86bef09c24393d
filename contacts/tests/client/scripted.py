"""A scripted LiveDesk: a stdlib HTTP server answering each request with the next scripted answer.

An answer is (status, content type, body bytes), optionally with a dict of headers; a header
"Content-Length" set to None sends none, so the body ends when the connection closes. The last
answer is repeated. Every request is kept in `requests` as (method, path).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from contacts.livedesk import LiveDeskClient


class ScriptedServer:
    def __init__(self, answers: list[tuple[Any, ...]]):
        self.answers = list(answers)
        self.requests: list[tuple[str, str]] = []
        script = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def answer(self):
                self.rfile.read(int(self.headers.get("Content-Length") or 0))
                script.requests.append((self.command, self.path))
                status, content_type, body, *more = (
                    script.answers.pop(0) if len(script.answers) > 1 else script.answers[0]
                )
                headers = {"Content-Length": str(len(body)), **(more[0] if more else {})}
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                for name, value in headers.items():
                    if value is not None:
                        self.send_header(name, value)
                if headers["Content-Length"] is None:
                    self.close_connection = True
                self.end_headers()
                self.wfile.write(body)

            do_GET = do_PATCH = do_POST = do_PUT = do_DELETE = answer

            def log_message(self, format, *args):
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.thread = threading.Thread(
            target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self.thread.start()

    @property
    def paths(self) -> list[str]:
        return [path for _, path in self.requests]

    @property
    def base_url(self) -> str:
        host, port = self.httpd.server_address[:2]
        return f"http://{host}:{port}"

    def client(self, **options: Any) -> LiveDeskClient:
        options = {"api_key": "key", "api_secret": "secret", "timeout": (1.0, 1.0), **options}
        return LiveDeskClient(base_url=self.base_url, **options)

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@contextmanager
def scripted_servers() -> Iterator[Callable[..., ScriptedServer]]:
    """`start(answer, ...)` starts a scripted server; all are stopped on leaving."""
    servers: list[ScriptedServer] = []

    def start(*answers: tuple) -> ScriptedServer:
        server = ScriptedServer(list(answers))
        servers.append(server)
        return server

    try:
        yield start
    finally:
        for server in servers:
            server.stop()
