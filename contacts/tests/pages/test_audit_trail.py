"""The pages read the story from the audit log: a contact's trail of events on its page, and
each edit's attempts and ending on the edit history, against a real LiveDesk sandbox."""

from __future__ import annotations

import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from contacts import services
from contacts.models import AuditEvent, ContactEdit
from contacts.tests.factories import (
    contact_synced,
    edit_failed_transiently,
    edit_post,
    edit_submit,
    page_text,
    user_make,
)

pytestmark = pytest.mark.django_db

TOOK = r" in \d+ ms"


def history_section(response) -> str:
    """The contact page's History section, as rendered."""
    text = page_text(response)
    start = text.index('aria-labelledby="history-heading"')
    return text[start : text.index("</section>", start)]


def event_item(section: str, event: AuditEvent) -> str:
    """The list item of one event in the contact page's trail."""
    start = section.index(f'<li class="list-group-item small" id="event-{event.seq}">')
    return section[start : section.index("</li>", start)]


@pytest.fixture
def ann(sandbox, no_client_retries):
    return contact_synced(
        sandbox=sandbox,
        name="Ann",
        email="ann@example.com",
        additional_attributes={"city": "Krabi"},
    )


# --- The contact page --------------------------------------------------------------------------


def test_the_contact_page_tells_an_edits_recording_and_delivery_newest_first(
    sandbox, agent_client, ann
):
    response = edit_post(agent_client, ann, name="Ann Smith", city="Phuket")

    section = history_section(response)
    recorded, delivered = AuditEvent.objects.filter(contact_remote_id=ann.remote_id).order_by("seq")
    recorded_item, delivered_item = event_item(section, recorded), event_item(section, delivered)
    assert section.index(delivered_item) < section.index(recorded_item)
    assert "agent (Agent page) changed Name: Ann → Ann Smith; City: Krabi → Phuket" in recorded_item
    assert re.search(rf"Delivered to LiveDesk: 200{TOOK} \(attempt 1\)", delivered_item)
    edit = ContactEdit.objects.get()
    for event, item in ((recorded, recorded_item), (delivered, delivered_item)):
        assert f"Edit #{edit.pk} · event #{event.seq} · hash <code>{event.hash[:12]}</code>" in item


def test_the_contact_page_tells_a_change_made_in_livedesk(sandbox, agent_client, ann):
    sandbox.store.update_contact(ann.remote_id, {"additional_attributes": {"city": "Trang"}})
    services.contact_refresh(contact=ann)

    section = history_section(agent_client.get(ann.get_absolute_url()))

    assert "Changed in LiveDesk (seen via a refresh): City: Krabi → Trang" in section


def test_the_contact_page_shows_its_newest_fifty_events_and_the_link_to_all_edits(
    sandbox, agent, agent_client, ann
):
    for number in range(26):  # 52 events: each edit recorded, then delivered
        edit_submit(contact=ann, editor=agent, changes={"name": f"Ann {number}"})
    events = list(AuditEvent.objects.filter(contact_remote_id=ann.remote_id).order_by("-seq"))

    section = history_section(agent_client.get(ann.get_absolute_url()))

    shown = [int(seq) for seq in re.findall(r'id="event-(\d+)"', section)]
    assert shown == [event.seq for event in events[:50]]
    assert f'href="{reverse("contacts:history")}?contact={ann.remote_id}"' in section


def test_the_contact_page_without_events_says_so(agent_client, ann):
    section = history_section(agent_client.get(ann.get_absolute_url()))

    assert "Nothing recorded yet." in section


def test_the_contact_page_links_to_its_events_download(agent_client, ann):
    section = history_section(agent_client.get(ann.get_absolute_url()))

    url = reverse("contacts:audit_download", args=[ann.remote_id])
    assert f'<a href="{url}" download>Download its audit events (JSONL)</a>' in section


# --- The edit history ---------------------------------------------------------------------------


def test_the_history_row_tells_each_attempts_status_and_how_the_edit_ended(
    sandbox, agent, agent_client, ann
):
    edit = edit_failed_transiently(
        sandbox=sandbox, contact=ann, editor=agent, changes={"name": "Ann Smith"}
    )
    services.edit_retry(edit=edit)

    response = agent_client.get(reverse("contacts:history"))

    [row] = response.context["page"].object_list
    assert [line.kind for line in row.story] == ["edit.attempt_failed", "edit.delivered"]
    text = page_text(response)
    assert re.search(rf"Attempt 1 failed: LiveDesk answered 503{TOOK}; next try at ", text)
    assert re.search(rf"Delivered to LiveDesk: 200{TOOK} \(attempt 2\)", text)
    assert "changed Name" not in text  # the row's changes column tells the change once


def endings_after_a_delivery(sandbox, agent, contact, number: int) -> None:
    """Four more history rows for a contact: an edit carried into a newer one, the newer one,
    an edit discarded, and a change seen in LiveDesk. Each edit opens the contact as it is."""
    contact.refresh_from_db()
    edit_failed_transiently(
        sandbox=sandbox, contact=contact, editor=agent, changes={"email": f"{number}@x.example"}
    )
    contact.refresh_from_db()
    edit_submit(contact=contact, editor=agent, changes={"phone_number": f"+6681234567{number}"})
    contact.refresh_from_db()
    held = edit_failed_transiently(
        sandbox=sandbox, contact=contact, editor=agent, changes={"name": "Held"}
    )
    services.edit_discard(edit=held, user=user_make(username=f"lead{number}"))
    sandbox.store.update_contact(contact.remote_id, {"identifier": f"CRM-{number}"})
    services.contact_refresh(contact=contact)


def test_the_history_pages_queries_do_not_grow_with_its_rows(
    sandbox, agent, agent_client, no_client_retries, django_assert_max_num_queries
):
    first = contact_synced(sandbox=sandbox, name="Contact 0")
    edit_submit(contact=first, editor=agent, changes={"name": "Contact 0b"})
    with CaptureQueriesContext(connection) as one_row:
        assert len(agent_client.get(reverse("contacts:history")).context["page"]) == 1

    endings_after_a_delivery(sandbox, agent, first, 0)
    for number in range(1, 4):
        contact = contact_synced(sandbox=sandbox, name=f"Contact {number}")
        edit_submit(contact=contact, editor=agent, changes={"name": f"Contact {number}b"})
        endings_after_a_delivery(sandbox, agent, contact, number)

    with django_assert_max_num_queries(len(one_row)):
        response = agent_client.get(reverse("contacts:history"))
    rows = response.context["page"].object_list
    assert len(rows) == 20
    assert {row.state for row in rows} == {"succeeded", "superseded", "discarded"}
    assert {line.kind for row in rows for line in row.story} == {
        "edit.delivered",
        "edit.attempt_failed",
        "edit.superseded",
        "edit.discarded",
    }
