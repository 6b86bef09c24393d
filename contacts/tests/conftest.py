"""Shared fixtures: a real LiveDesk sandbox on a loopback socket, and small factories."""

from __future__ import annotations

from unittest import mock

import pytest
from django.db.backends.postgresql import operations as postgresql_operations
from django.db.backends.sqlite3 import base as sqlite_backend
from django.test import Client
from django.utils import translation

from contacts.audit_chain import AUDIT_TABLE, SQLITE_TRIGGERS
from contacts.sandbox.server import Faults, SandboxServer
from contacts.sandbox.store import SandboxStore
from contacts.tests.factories import client_for, user_make

SANDBOX_KEY = "test-key"
SANDBOX_SECRET = "test-secret-do-not-leak"


@pytest.fixture(scope="session", autouse=True)
def _audit_log_flushable():
    """Tests that commit are cleaned up by Django's flush, which empties every table: SQLite's
    with DELETE, PostgreSQL's with TRUNCATE, both refused by the audit log's triggers. The
    flush sets them aside for itself and puts them back after. (SQLite's backend module is
    imported, not its `operations`: that one alone is a circular import when SQLite's backend
    was not loaded yet.)"""
    sqlite_flush = sqlite_backend.DatabaseOperations.sql_flush
    postgresql_flush = postgresql_operations.DatabaseOperations.sql_flush

    def sqlite_sql_flush(self, style, tables, **kwargs):
        statements = sqlite_flush(self, style, tables, **kwargs)
        if AUDIT_TABLE not in tables:
            return statements
        drops = [f"DROP TRIGGER IF EXISTS {name};" for name in SQLITE_TRIGGERS]
        return [*drops, *statements, *(f"{sql};" for sql in SQLITE_TRIGGERS.values())]

    def postgresql_sql_flush(self, style, tables, **kwargs):
        statements = postgresql_flush(self, style, tables, **kwargs)
        if AUDIT_TABLE not in tables:
            return statements
        table = self.quote_name(AUDIT_TABLE)
        return [
            f"ALTER TABLE {table} DISABLE TRIGGER USER;",
            *statements,
            f"ALTER TABLE {table} ENABLE TRIGGER USER;",
        ]

    with (
        mock.patch.object(sqlite_backend.DatabaseOperations, "sql_flush", sqlite_sql_flush),
        mock.patch.object(
            postgresql_operations.DatabaseOperations, "sql_flush", postgresql_sql_flush
        ),
    ):
        yield


@pytest.fixture(autouse=True)
def _tasks_recorded_not_run(settings):
    """Tasks are recorded by django-tasks' dummy backend; tests run retries explicitly."""
    settings.TASKS = {"default": {"BACKEND": "django_tasks.backends.dummy.DummyBackend"}}


@pytest.fixture(autouse=True)
def _english_by_default():
    """A request in Thai leaves Thai active in the thread; each test starts in English."""
    translation.activate("en")
    yield
    translation.deactivate()


@pytest.fixture
def sandbox_store(tmp_path) -> SandboxStore:
    return SandboxStore(tmp_path / "sandbox.sqlite3")


@pytest.fixture
def sandbox(sandbox_store, settings):
    """A LiveDesk sandbox serving on a free loopback port; the app's settings point at it."""
    server = SandboxServer(
        store=sandbox_store,
        host="127.0.0.1",
        port=0,
        api_key=SANDBOX_KEY,
        api_secret=SANDBOX_SECRET,
        faults=Faults(),
    )
    server.start()
    settings.LIVEDESK_BASE_URL = server.base_url
    settings.LIVEDESK_API_KEY = SANDBOX_KEY
    settings.LIVEDESK_API_SECRET = SANDBOX_SECRET
    settings.LIVEDESK_TIMEOUT = (1.0, 1.0)
    settings.LIVEDESK_BACKOFF_FACTOR = 0.01
    settings.LIVEDESK_RETRY_AFTER_CAP = 1.0
    yield server
    server.stop()


@pytest.fixture
def agent():
    return user_make()


@pytest.fixture
def agent_client(agent) -> Client:
    return client_for(agent)


@pytest.fixture
def no_client_retries(settings):
    settings.LIVEDESK_RETRIES = 0


@pytest.fixture(scope="session")
def django_db_modify_db_settings(django_db_modify_db_settings_parallel_suffix, tmp_path_factory):
    """On SQLite, test in a file as the app runs (WAL, immediate transactions), not in memory:
    tests with concurrent writers then meet SQLite's real write lock."""
    from django.conf import settings

    database = settings.DATABASES["default"]
    if database["ENGINE"] == "django.db.backends.sqlite3":
        database.setdefault("TEST", {})["NAME"] = str(
            tmp_path_factory.mktemp("database") / "test.sqlite3"
        )
