"""The edit history page over HTTP, against a real LiveDesk sandbox where edits are pushed."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from contacts.models import ContactEdit
from contacts.tests.factories import (
    HOSTILE,
    client_for,
    contact_synced,
    edit_post,
    page_text,
    user_make,
)

pytestmark = pytest.mark.django_db


# --- History ------------------------------------------------------------------------------------


@pytest.fixture
def history(sandbox, agent, no_client_retries):
    ann = contact_synced(sandbox=sandbox, name="Ann", email="ann@example.com")
    bob = contact_synced(sandbox=sandbox, name="Bob", email="bob@example.com")
    colleague = user_make(username="colleague")
    edit_post(client_for(agent), ann, name="Ann Smith")
    sandbox.faults.fail_next = 1
    edit_post(client_for(colleague), bob, name="Bob Stone")
    return ann, bob


def history_rows(client: Client, **params: str) -> list[tuple[str, str]]:
    response = client.get(reverse("contacts:history"), params)
    assert response.status_code == 200
    return [(e.editor_username, e.contact.name) for e in response.context["page"].object_list]


def test_history_lists_every_edit_newest_first(agent_client, history):
    assert history_rows(agent_client) == [("colleague", "Bob"), ("agent", "Ann Smith")]


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"agent": "colleague"}, [("colleague", "Bob")]),
        ({"contact": "ann"}, [("agent", "Ann Smith")]),
        ({"state": "failed"}, [("colleague", "Bob")]),
        ({"state": "succeeded", "agent": "colleague"}, []),
    ],
)
def test_history_filters(agent_client, history, params, expected):
    assert history_rows(agent_client, **params) == expected


def test_history_filters_by_remote_id_and_dates(agent_client, history):
    ann, _bob = history
    today = timezone.localdate()

    assert history_rows(agent_client, contact=str(ann.remote_id)) == [("agent", "Ann Smith")]
    assert len(history_rows(agent_client, date_from=str(today), date_to=str(today))) == 2
    assert history_rows(agent_client, date_to=str(today - timedelta(days=1))) == []
    assert history_rows(agent_client, date_from=str(today + timedelta(days=1))) == []


def test_history_row_shows_the_change_the_outcome_and_the_exchange(agent_client, history):
    text = page_text(agent_client.get(reverse("contacts:history"), {"agent": "agent"}))

    assert "Ann" in text and "Ann Smith" in text
    assert re.search(r"Delivered to LiveDesk: 200 in \d+ ms \(attempt 1\)", text)
    assert "<summary" in text and "Request and response" in text
    assert "&quot;name&quot;: &quot;Ann Smith&quot;" in text


def test_history_escapes_hostile_json(sandbox, agent_client):
    contact = contact_synced(sandbox=sandbox, name="Ann")

    edit_post(agent_client, contact, name=HOSTILE)

    text = page_text(agent_client.get(reverse("contacts:history")))
    assert HOSTILE not in text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in text


def test_history_is_read_only(agent_client, history):
    edit = ContactEdit.objects.first()

    response = agent_client.post(reverse("contacts:history"), {"delete": edit.pk})

    assert response.status_code == 405
    assert ContactEdit.objects.count() == 2
