"""The history page's source filter: agent page, admin, admin action, or LiveDesk (a change
made outside this app, with how it was seen)."""

from __future__ import annotations

import pytest
from django.urls import reverse

from contacts import services
from contacts.models import ContactEdit
from contacts.tests.factories import contact_synced, edit_post, page_text

pytestmark = pytest.mark.django_db

Source = ContactEdit.Source


@pytest.fixture
def agent_and_outside_edits(sandbox, agent_client, no_client_retries):
    """Ann renamed on the agent page, then her email changed in LiveDesk and seen by a refresh."""
    ann = contact_synced(sandbox=sandbox, name="Ann", email="ann@example.com")
    edit_post(agent_client, ann, name="Ann Smith")
    sandbox.store.update_contact(ann.remote_id, {"email": "ann@outside.example"})
    services.contact_refresh(contact=ann)
    return ann


def history(client, **params: str):
    response = client.get(reverse("contacts:history"), params)
    assert response.status_code == 200
    return response


def sources_listed(response) -> list[str]:
    return [edit.source for edit in response.context["page"].object_list]


def test_an_outside_change_is_listed_as_livedesk_with_how_it_was_seen(
    agent_client, agent_and_outside_edits
):
    response = history(agent_client)

    outside, by_agent = response.context["page"].object_list
    assert (outside.source, outside.seen_via) == (Source.LIVEDESK, ContactEdit.SeenVia.REFRESH)
    assert outside.changed_fields == ["email"]
    assert by_agent.source == Source.AGENT
    assert "LiveDesk · seen via a refresh" in page_text(response)


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("livedesk", [Source.LIVEDESK]),
        ("agent", [Source.AGENT]),
        ("admin", []),
        ("", [Source.LIVEDESK, Source.AGENT]),
        ("no-such-source", [Source.LIVEDESK, Source.AGENT]),
    ],
)
def test_the_source_filter_narrows_the_history(
    agent_client, agent_and_outside_edits, source, expected
):
    assert sources_listed(history(agent_client, source=source)) == expected


def test_the_source_filter_offers_every_source(agent_client):
    text = page_text(history(agent_client))

    for value, label in Source.choices:
        assert f'<option value="{value}">{label}</option>' in text
