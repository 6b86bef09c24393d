"""Fixtures of the LiveDesk client's tests: a client of the sandbox, and scripted servers."""

from __future__ import annotations

import pytest

from contacts.livedesk import LiveDeskClient
from contacts.tests.client.scripted import scripted_servers


@pytest.fixture
def client(sandbox) -> LiveDeskClient:
    with LiveDeskClient() as client:
        yield client


@pytest.fixture
def scripted(settings):
    """`scripted(answer, ...)`: a scripted LiveDesk server (see `scripted.py`)."""
    settings.LIVEDESK_BACKOFF_FACTOR = 0.01
    with scripted_servers() as start:
        yield start
