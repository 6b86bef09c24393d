"""Fixtures of the sandbox's own tests: a store, and a server with its own credentials."""

from __future__ import annotations

import pytest

from contacts.sandbox.server import SandboxServer
from contacts.sandbox.store import SandboxStore
from contacts.tests.factories import API_KEY, API_SECRET


@pytest.fixture
def store(tmp_path):
    store = SandboxStore(tmp_path / "sandbox.sqlite3")
    yield store
    store.close()


@pytest.fixture
def server(store):
    server = SandboxServer(
        store=store, host="127.0.0.1", port=0, api_key=API_KEY, api_secret=API_SECRET
    )
    server.start()
    yield server
    server.stop()
