"""Hostile answers from LiveDesk through the services: a sync, a push or a refresh fails one
contact or one edit cleanly, keeps the rest, and stores only what the database takes.

Run on SQLite and on PostgreSQL (DATABASE_URL), which refuses NUL, NaN and lone surrogates.
"""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from django.utils import timezone

from contacts import services
from contacts.models import Contact, ContactEdit
from contacts.tests.client.checks import assert_storable
from contacts.tests.client.scripted import scripted_servers
from contacts.tests.factories import (
    contact_make,
    edit_submit,
    json_answer,
    remote_item,
    sandbox_contact_make,
)

pytestmark = pytest.mark.django_db

MIB = 1024 * 1024
State, FailureKind = ContactEdit.State, ContactEdit.FailureKind


@pytest.fixture
def livedesk(settings):
    """`livedesk(answer, ...)`: a scripted LiveDesk server the app's settings point at."""
    settings.LIVEDESK_TIMEOUT = (1.0, 1.0)
    settings.LIVEDESK_RETRIES = 0
    with scripted_servers() as scripted:

        def start(*answers: tuple):
            server = scripted(*answers)
            settings.LIVEDESK_BASE_URL = server.base_url
            return server

        yield start


def text_answer(text: str, status: int = 200, **headers) -> tuple:
    return status, "application/json", text.encode(), headers


def page_answer(*items: str) -> tuple:
    """One list page, every contact written as JSON text by hand."""
    return text_answer(f'{{"meta": {{"count": {len(items)}}}, "payload": [{",".join(items)}]}}')


def item(remote_id, **fields) -> str:
    return json.dumps(remote_item(remote_id, **fields))


def assert_mirror_storable() -> None:
    for row in Contact.objects.values():
        assert_storable({key: value for key, value in row.items() if isinstance(value, str)})
        assert_storable(
            [row["additional_attributes"], row["custom_attributes"], row["contact_inboxes"]]
        )


# --- Sync ------------------------------------------------------------------------------------


def test_sync_stores_a_contact_with_nul_characters_as_replacement_characters(sandbox):
    created = sandbox_contact_make(
        sandbox.store,
        name="Nok\x00 Srisuk",
        additional_attributes={"city": "Bang\x00kok", "note\x00": "a\x00b"},
        custom_attributes={"tags\x00": ["x\x00"]},
    )

    first = services.contacts_sync()
    again = services.contacts_sync()

    assert (first.created, first.failed, again.unchanged) == (1, 0, 1)
    contact = Contact.objects.get(remote_id=created["id"])
    assert contact.name == "Nok\ufffd Srisuk"
    assert contact.city == "Bang\ufffdkok"
    assert contact.additional_attributes["note\ufffd"] == "a\ufffdb"
    assert contact.custom_attributes == {"tags\ufffd": ["x\ufffd"]}
    assert contact.version == 1
    assert_mirror_storable()


def test_a_sync_page_with_nan_in_one_contact_keeps_the_others(livedesk):
    livedesk(
        page_answer(item(1), '{"id": 2, "custom_attributes": {"score": NaN}}', item(3)),
    )

    summary = services.contacts_sync()

    assert summary.completed
    assert (summary.created, summary.failed) == (2, 1)
    assert summary.errors == [
        "LiveDesk sent contact #2 with NaN, which this app does not accept. "
        "({'id': 2, 'custom_attributes': {'score': 'NaN'}})"
    ]
    assert sorted(Contact.objects.values_list("remote_id", flat=True)) == [1, 3]


def test_a_sync_page_of_hostile_contacts_stores_only_the_sound_ones(livedesk):
    hostile = [
        item(10**30),
        item(0),
        item(-4),
        item(1.5),
        item("12abc"),
        item(20, custom_attributes={"notes": "x" * (MIB + 1)}),
        item(21, custom_attributes={f"n{n}": "y" * (MIB - 8) for n in range(3)}),
        '{"id": 22, "additional_attributes": {"tree": %s}}' % ("[" * 80 + "]" * 80),
        '{"id": 23, "name": -Infinity}',
        '{"id": 24, "blocked": 1%s}' % ("0" * 4300),
    ]
    sound = [
        item(2**63 - 1, name="Largest"),
        '{"id": 30, "name": "Nul\\u0000 and \\udc00 lone"}',
        item(31, created_at=10**20, last_activity_at="9999-12-31T23:59:59-05:00"),
    ]
    livedesk(page_answer(*hostile, *sound))

    summary = services.contacts_sync()

    assert summary.completed
    assert (summary.created, summary.failed) == (3, len(hostile))
    assert sorted(Contact.objects.values_list("remote_id", flat=True)) == [30, 31, 2**63 - 1]
    assert Contact.objects.get(remote_id=30).name == "Nul\ufffd and \ufffd lone"
    assert Contact.objects.get(remote_id=31).created_at is None
    assert all(len(line) < 1000 for line in summary.errors)
    assert_mirror_storable()


def test_json_too_deep_to_read_interrupts_the_sync_with_a_named_error(livedesk):
    livedesk(text_answer('{"payload": %s}' % ("[" * 100_000 + "]" * 100_000)))

    with pytest.raises(services.SyncInterrupted, match="nested too deeply"):
        services.contacts_sync()


def test_refresh_answered_with_nan_fails_and_leaves_the_mirror(livedesk):
    contact = contact_make(remote_id=5, name="Ann")
    livedesk(text_answer('{"payload": {"id": 5, "name": NaN}}'))

    result = services.contact_refresh(contact=contact)

    assert result.outcome == services.Refreshed.FAILED
    assert "NaN" in result.error_message
    contact.refresh_from_db()
    assert contact.name == "Ann"


# --- Push ------------------------------------------------------------------------------------


def pushed(contact: Contact, agent, **changes) -> ContactEdit:
    edit = edit_submit(contact=contact, editor=agent, changes=changes)
    edit.refresh_from_db()
    return edit


def test_a_redirected_push_fails_permanently_and_nothing_follows_it(livedesk, agent):
    contact = contact_make(remote_id=5, name="Ann")
    server = livedesk(
        json_answer({"payload": remote_item(5, name="Ann")}),  # the read before the write
        (*json_answer({}, status=302), {"Location": "https://sso.example.com/login"}),
        json_answer({"payload": remote_item(5, name="Ann Smith")}),
    )

    edit = pushed(contact, agent, name="Ann Smith")

    assert (edit.state, edit.failure_kind, edit.http_status) == (
        State.FAILED,
        FailureKind.PERMANENT,
        302,
    )
    assert "https://sso.example.com/login" in edit.error_message
    assert "LIVEDESK_BASE_URL" in edit.error_message
    assert [method for method, _ in server.requests] == ["GET", "PATCH"]
    contact.refresh_from_db()
    assert contact.name == "Ann"


def test_a_push_answered_with_another_contact_fails_and_changes_neither(livedesk, agent):
    contact = contact_make(remote_id=5, name="Ann")
    other = contact_make(remote_id=6, name="Bob")
    livedesk(json_answer({"payload": remote_item(6, name="Ann Smith")}))

    edit = pushed(contact, agent, name="Ann Smith")

    assert (edit.state, edit.failure_kind) == (State.FAILED, FailureKind.PERMANENT)
    assert "contact #6 when asked for contact #5" in edit.error_message
    assert_storable(edit.response_body)
    assert Contact.objects.get(pk=contact.pk).name == "Ann"
    assert Contact.objects.get(pk=other.pk).name == "Bob"


def test_a_push_answered_with_nul_characters_is_delivered_and_stored(livedesk, agent):
    contact = contact_make(remote_id=5, name="Ann")
    livedesk(
        json_answer({"payload": remote_item(5, name="Ann")}),  # the read before the write
        text_answer('{"payload": {"id": 5, "name": "Ann\\u0000 Smith"}}'),
    )

    edit = pushed(contact, agent, name="Ann Smith")

    assert edit.state == State.SUCCEEDED
    assert edit.response_body == {"payload": {"id": 5, "name": "Ann\ufffd Smith"}}
    assert Contact.objects.get(pk=contact.pk).name == "Ann\ufffd Smith"


def test_a_rejection_with_nul_and_nan_is_stored_readable(livedesk, agent):
    contact = contact_make(remote_id=5, name="Ann")
    livedesk(text_answer('{"message": "Name is\\u0000 bad", "attributes": ["name"]}', 422))

    edit = pushed(contact, agent, name="Ann Smith")

    assert (edit.state, edit.failure_kind) == (State.FAILED, FailureKind.PERMANENT)
    assert edit.error_message == "Name is\ufffd bad"
    assert edit.response_body == {"message": "Name is\ufffd bad", "attributes": ["name"]}


def test_a_push_rate_limited_for_ever_is_retried_within_the_cap(livedesk, agent, settings):
    settings.LIVEDESK_RETRY_AFTER_MAX = 600
    contact = contact_make(remote_id=5, name="Ann")
    livedesk((*json_answer({}, status=429), {"Retry-After": str(10**17)}))

    before = timezone.now()
    edit = pushed(contact, agent, name="Ann Smith")

    assert (edit.state, edit.failure_kind) == (State.FAILED, FailureKind.TRANSIENT)
    assert before + timedelta(seconds=590) <= edit.next_attempt_at
    assert edit.next_attempt_at <= timezone.now() + timedelta(seconds=600)


def test_a_push_answered_with_too_large_a_body_fails_and_is_stored(livedesk, agent, settings):
    settings.LIVEDESK_MAX_RESPONSE_BYTES = 2048
    contact = contact_make(remote_id=5, name="Ann")
    livedesk(json_answer({"payload": remote_item(5, notes="z" * 4096)}))

    edit = pushed(contact, agent, name="Ann Smith")

    assert (edit.state, edit.failure_kind) == (State.FAILED, FailureKind.PERMANENT)
    assert "answer larger than 2048 bytes" in edit.error_message
    assert Contact.objects.get(pk=contact.pk).name == "Ann"
