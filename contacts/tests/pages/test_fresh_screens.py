"""A contact's page and edit form refresh it from LiveDesk first when the mirror's copy is old,
and show the mirror's copy, saying as of when, when LiveDesk does not answer in time."""

from __future__ import annotations

import time
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from contacts.models import Contact, ContactEdit
from contacts.templatetags.when import when
from contacts.tests.factories import api_requests, contact_synced, page_text

pytestmark = pytest.mark.django_db

UNREACHABLE = "LiveDesk could not be reached: shown as of"
# The contact's page names what happened: LiveDesk's answer, or no answer in time.
ANSWERED_503 = "LiveDesk answered 503: shown as of"
TIMED_OUT = "LiveDesk did not answer in time: shown as of"
SHOWN_AS_OF = ": shown as of"
GONE = "LiveDesk no longer lists this contact"


@pytest.fixture
def ann(sandbox) -> Contact:
    return contact_synced(sandbox=sandbox, name="Ann", email="ann@example.com")


def copy_aged(contact: Contact, *, seconds: int = 3600) -> Contact:
    """The mirror's copy of the contact, made `seconds` old."""
    Contact.objects.filter(pk=contact.pk).update(
        synced_at=timezone.now() - timedelta(seconds=seconds)
    )
    contact.refresh_from_db()
    return contact


def contact_page(client, contact: Contact, name: str = "contacts:detail"):
    response = client.get(reverse(name, args=[contact.remote_id]))
    assert response.status_code == 200
    return response


def shown_as_of(contact: Contact, cause: str = UNREACHABLE) -> str:
    return f"{cause} {when(contact.synced_at)}"


def test_an_old_copy_is_refreshed_before_the_page_shows_it(sandbox, agent_client, ann):
    sandbox.store.update_contact(ann.remote_id, {"name": "Ann Outside"})
    copy_aged(ann)

    text = page_text(contact_page(agent_client, ann))

    assert "Ann Outside" in text
    assert SHOWN_AS_OF not in text
    ann.refresh_from_db()
    assert ann.name == "Ann Outside"
    assert timezone.now() - ann.synced_at < timedelta(seconds=10)
    [seen] = ann.edits.all()
    assert (seen.source, seen.seen_via) == (
        ContactEdit.Source.LIVEDESK,
        ContactEdit.SeenVia.REFRESH,
    )


def test_a_fresh_copy_is_shown_without_asking_livedesk(sandbox, agent_client, ann):
    sandbox.store.update_contact(ann.remote_id, {"name": "Ann Outside"})
    asked_before = len(api_requests(sandbox, "GET"))

    text = page_text(contact_page(agent_client, ann))

    assert "Ann Outside" not in text
    assert SHOWN_AS_OF not in text
    assert len(api_requests(sandbox, "GET")) == asked_before


def test_fresh_seconds_zero_refreshes_at_every_look(sandbox, agent_client, ann, settings):
    settings.LIVEDESK_FRESH_SECONDS = 0
    sandbox.store.update_contact(ann.remote_id, {"name": "Ann Outside"})

    assert "Ann Outside" in page_text(contact_page(agent_client, ann))


def test_a_hanging_livedesk_leaves_the_page_fast_with_the_mirror_as_of_its_time(
    sandbox, agent_client, ann
):
    sandbox.store.update_contact(ann.remote_id, {"name": "Ann Outside"})
    copy_aged(ann)
    sandbox.faults.hang_next = 1
    sandbox.faults.hang_seconds = 5

    started = time.monotonic()
    text = page_text(contact_page(agent_client, ann))
    elapsed = time.monotonic() - started

    assert elapsed < 3.5  # LIVEDESK_FRESH_TIMEOUT_SECONDS (2) and the page, well under the hang
    assert shown_as_of(ann, TIMED_OUT) in text
    assert "Ann Outside" not in text
    assert Contact.objects.get(pk=ann.pk).synced_at == ann.synced_at


def test_a_failing_livedesk_is_not_asked_twice_and_the_page_says_as_of_when(
    sandbox, agent_client, ann
):
    copy_aged(ann)
    sandbox.faults.fail_next = 1
    sandbox.faults.failure_status = 503

    text = page_text(contact_page(agent_client, ann))

    assert shown_as_of(ann, ANSWERED_503) in text
    assert len(api_requests(sandbox, "GET")) == 2  # the sync's list, then one refresh


def test_a_contact_deleted_in_livedesk_is_shown_gone(sandbox, agent_client, ann):
    sandbox.store.delete_contact(ann.remote_id)
    copy_aged(ann)

    text = page_text(contact_page(agent_client, ann))

    assert GONE in text
    assert SHOWN_AS_OF not in text
    assert Contact.objects.get(pk=ann.pk).is_gone


def test_the_edit_form_opens_with_livedesk_s_current_values(sandbox, agent_client, ann):
    sandbox.store.update_contact(ann.remote_id, {"name": "Ann Outside"})
    copy_aged(ann)

    response = contact_page(agent_client, ann, "contacts:edit")

    form = response.context["form"]
    assert form["name"].value() == "Ann Outside"
    assert int(form["base_version"].value()) == Contact.objects.get(pk=ann.pk).version
    assert SHOWN_AS_OF not in page_text(response)


def test_the_edit_form_opens_with_the_mirror_as_of_its_time_when_livedesk_hangs(
    sandbox, agent_client, ann, settings
):
    settings.LIVEDESK_FRESH_TIMEOUT_SECONDS = 0.5
    sandbox.store.update_contact(ann.remote_id, {"name": "Ann Outside"})
    copy_aged(ann)
    sandbox.faults.hang_next = 1
    sandbox.faults.hang_seconds = 5

    response = contact_page(agent_client, ann, "contacts:edit")

    assert response.context["form"]["name"].value() == "Ann"
    assert shown_as_of(ann) in page_text(response)
