"""A write sent without an answer may have been applied: the client never sends it again."""

from __future__ import annotations

import pytest

from contacts.livedesk import LiveDeskClient, LiveDeskUnavailable
from contacts.tests.factories import api_requests, sandbox_contact_make

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("status", [502, 504])
def test_a_patch_answered_by_a_gateway_giving_up_is_not_sent_again(sandbox, client, status):
    contact = sandbox_contact_make(sandbox.store, name="Ann")
    sandbox.faults.fail_next = 1
    sandbox.faults.failure_status = status

    with pytest.raises(LiveDeskUnavailable) as failed:
        client.contact_update(contact["id"], {"name": "Ann Lee"})

    assert failed.value.outcome_unknown
    assert len(api_requests(sandbox, "PATCH")) == 1


def test_a_get_answered_by_a_gateway_giving_up_is_retried(sandbox, client):
    contact = sandbox_contact_make(sandbox.store, name="Ann")
    sandbox.faults.fail_next = 1
    sandbox.faults.failure_status = 502

    assert client.contact_get(contact["id"]).name == "Ann"
    assert len(api_requests(sandbox, "GET")) == 2


def test_a_patch_whose_answer_timed_out_is_not_sent_again(sandbox, settings):
    settings.LIVEDESK_TIMEOUT = (1.0, 0.3)
    contact = sandbox_contact_make(sandbox.store, name="Ann")
    sandbox.faults.hang_next = 1
    sandbox.faults.hang_seconds = 1.0

    with LiveDeskClient() as client, pytest.raises(LiveDeskUnavailable) as failed:
        client.contact_update(contact["id"], {"name": "Ann Lee"})

    assert failed.value.outcome_unknown
    assert len(api_requests(sandbox, "PATCH")) == 1


def test_a_refused_connection_is_known_not_sent(settings):
    settings.LIVEDESK_BASE_URL = "http://127.0.0.1:9"
    settings.LIVEDESK_RETRIES = 0

    with LiveDeskClient() as client, pytest.raises(LiveDeskUnavailable) as failed:
        client.contact_update(1, {"name": "Ann Lee"})

    assert not failed.value.outcome_unknown
