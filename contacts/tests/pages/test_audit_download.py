"""An agent's download of one contact's audit events, with their hashes (JSON lines)."""

from __future__ import annotations

import json

import pytest
from django.urls import reverse

from contacts.audit_chain import event_hash
from contacts.models import AuditEvent
from contacts.tests.factories import (
    chain_written_by_the_app,
    client_for,
    contact_make,
    user_make,
)

pytestmark = pytest.mark.django_db


def download_url(remote_id: int) -> str:
    return reverse("contacts:audit_download", args=[remote_id])


def test_an_agent_downloads_the_contacts_events_each_with_a_hash_that_checks(
    sandbox, agent, agent_client
):
    ann, _bob = chain_written_by_the_app(sandbox=sandbox, agent=agent)

    response = agent_client.get(download_url(ann.remote_id))

    assert response.status_code == 200
    assert response.streaming
    assert response["Content-Type"] == "application/jsonl; charset=utf-8"
    assert response["Content-Disposition"] == (
        f'attachment; filename="contact-{ann.remote_id}-audit.jsonl"'
    )
    events = [json.loads(line) for line in b"".join(response.streaming_content).splitlines()]
    assert [event["seq"] for event in events] == list(
        AuditEvent.objects.filter(contact_remote_id=ann.remote_id)
        .order_by("seq")
        .values_list("seq", flat=True)
    )
    assert {event["contact"] for event in events} == {ann.remote_id}
    assert {"edit.recorded", "edit.delivered", "edit.attempt_failed"} <= {
        event["kind"] for event in events
    }
    for event in events:
        stored = event.pop("hash")
        data = json.dumps(event["data"], sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        assert event_hash(**{**event, "data": data}) == stored


def test_a_contact_without_events_downloads_an_empty_file(agent_client):
    contact_make(remote_id=318001, name="Ann")

    response = agent_client.get(download_url(318001))

    assert response.status_code == 200
    assert b"".join(response.streaming_content) == b""


def test_an_unknown_contact_is_not_found(agent_client):
    assert agent_client.get(download_url(318999)).status_code == 404


def test_a_user_without_view_permission_is_refused():
    contact_make(remote_id=318001, name="Ann")
    client = client_for(user_make(username="outsider", perms=()))

    assert client.get(download_url(318001)).status_code == 403


def test_an_anonymous_visitor_is_sent_to_the_login_page(client):
    url = download_url(318001)

    response = client.get(url)

    assert response.status_code == 302
    assert response.url == f"{reverse('login')}?next={url}"
