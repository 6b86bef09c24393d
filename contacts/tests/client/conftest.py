"""Fixtures of the LiveDesk client's tests: a client of the sandbox, and scripted servers."""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from contacts.livedesk import LiveDeskClient


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
