"""Sync with pages fetched several at once: nothing lost, nothing twice, failures kept apart;
and the upgrade to a digest of the mirror's columns."""

from __future__ import annotations

import json
from collections import Counter
from datetime import timedelta

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.utils import timezone

from contacts import services
from contacts.livedesk import LiveDeskClient, parse_contact
from contacts.models import Contact
from contacts.services.mirror import JSON_FIELDS, mirror_columns, mirror_digest, mirror_values
from contacts.tests.factories import (
    contact_synced,
    edit_failed_transiently,
    sandbox_contact_make,
)

pytestmark = pytest.mark.django_db


def sandbox_ids(store) -> list[int]:
    ids, page = [], 1
    while True:
        _count, contacts = store.list_contacts(page=page, page_size=100)
        if not contacts:
            return ids
        ids += [contact["id"] for contact in contacts]
        page += 1


def list_pages_asked(sandbox) -> Counter:
    pages = (
        request["query"].get("page")
        for request in sandbox.recorded()
        if request["method"] == "GET" and request["path"] == "/api/v2/accounts/contacts"
    )
    return Counter(page[0] if isinstance(page, list) else page for page in pages)


def after_first_page(action):
    done = []

    def on_page(_summary) -> None:
        if not done:
            done.append(True)
            action()

    return on_page


def test_pages_fetched_four_at_once_mirror_every_contact_exactly_once(sandbox):
    sandbox.store.seed(1_234)
    expected = sandbox_ids(sandbox.store)
    sandbox.clear_recorded()

    summary = services.contacts_sync(page_size=7, concurrency=4)

    assert summary.completed
    assert (summary.created, summary.total, summary.failed) == (1_234, 1_234, 0)
    mirrored = list(Contact.objects.values_list("remote_id", flat=True))
    assert len(mirrored) == len(set(mirrored)) == 1_234
    assert sorted(mirrored) == sorted(expected)
    asked = list_pages_asked(sandbox)
    # The sandbox keeps the last 200 requests: those pages were each asked for once.
    assert asked and set(asked.values()) == {1}


def test_a_429_with_retry_after_mid_sync_is_waited_out_and_the_sync_completes(sandbox):
    sandbox.store.seed(300)

    def rate_limit() -> None:
        sandbox.faults.rate_limit_next = 3
        sandbox.faults.retry_after = 1

    summary = services.contacts_sync(
        page_size=10, concurrency=4, on_page=after_first_page(rate_limit)
    )

    assert sandbox.faults.rate_limit_next == 0
    assert summary.completed and summary.created == 300
    assert Contact.objects.count() == 300


def test_an_interrupted_concurrent_sync_keeps_what_it_wrote_and_a_rerun_completes(sandbox):
    sandbox.store.seed(500)

    def fail_from_now_on() -> None:
        sandbox.faults.fail_next = 1_000

    with pytest.raises(services.SyncInterrupted) as interrupted:
        services.contacts_sync(
            page_size=10, concurrency=4, on_page=after_first_page(fail_from_now_on)
        )

    written = interrupted.value.summary.created
    assert written >= 10
    assert Contact.objects.count() == written
    assert not Contact.objects.filter(gone_at__isnull=False).exists()

    sandbox.reset_faults()
    summary = services.contacts_sync(page_size=10, concurrency=4)

    assert summary.completed
    assert (summary.created, summary.unchanged, summary.gone) == (500 - written, written, 0)
    mirrored = list(Contact.objects.values_list("remote_id", flat=True))
    assert sorted(mirrored) == sorted(sandbox_ids(sandbox.store))
    assert set(Contact.objects.values_list("version", flat=True)) == {1}


def test_one_page_at_a_time_mirrors_the_same_contacts(sandbox):
    sandbox.store.seed(95)

    summary = services.contacts_sync(page_size=10, concurrency=1)

    assert summary.created == 95
    assert sorted(Contact.objects.values_list("remote_id", flat=True)) == sorted(
        sandbox_ids(sandbox.store)
    )


@pytest.mark.django_db(transaction=True)
def test_the_digest_migration_keeps_an_unchanged_contact_unchanged(sandbox):
    before, after = ("contacts", "0006_push_counts"), ("contacts", "0007_mirror_digest")
    created = sandbox_contact_make(
        sandbox.store,
        name="Malee Boonma",
        email="malee@example.com",
        additional_attributes={"city": "Chiang Mai", "country": "Thailand"},
        custom_attributes={"plan": "pro", "score": 1.5},
    )
    payload = sandbox.store.get_contact(created["id"], include_contact_inboxes=True)
    columns = mirror_values(parse_contact(payload))
    del columns["mirror_digest"]
    executor = MigrationExecutor(connection)
    try:
        executor.migrate([before])
        old_contact = executor.loader.project_state([before]).apps.get_model("contacts", "Contact")
        old_contact.objects.create(
            remote_id=created["id"],
            version=3,
            synced_at=timezone.now() - timedelta(days=1),
            remote_payload=payload,
            **columns,
        )
        executor = MigrationExecutor(connection)
        executor.migrate([after])
    finally:
        executor = MigrationExecutor(connection)
        executor.migrate(executor.loader.graph.leaf_nodes())

    summary = services.contacts_sync()

    assert (summary.unchanged, summary.updated, summary.created) == (1, 0, 0)
    assert Contact.objects.get(remote_id=created["id"]).version == 3


def test_livedesk_ignoring_the_page_asked_for_stops_a_concurrent_sync(sandbox, monkeypatch):
    sandbox.store.seed(30)
    contacts_list = LiveDeskClient.contacts_list

    def first_page_always(self, *, page, **options):
        return contacts_list(self, page=1, **options)

    monkeypatch.setattr(LiveDeskClient, "contacts_list", first_page_always)

    with pytest.raises(services.SyncInterrupted, match="same page of contacts twice"):
        services.contacts_sync(page_size=10, concurrency=4)

    assert Contact.objects.count() == 10


def test_a_sync_keeps_the_push_state_of_a_contact_with_an_edit_waiting(sandbox, agent):
    """The sync's upsert replaces the mirrored columns only: a contact's unfinished edits, and
    the push state they give it, are its edits' business."""
    contact = contact_synced(sandbox=sandbox, name="Anchalee Naksawat")
    edit_failed_transiently(
        sandbox=sandbox, contact=contact, editor=agent, changes={"email": "anchalee@example.com"}
    )
    sandbox.store.update_contact(contact.remote_id, {"name": "Anchalee N."})

    summary = services.contacts_sync()

    contact.refresh_from_db()
    assert summary.updated == 1
    assert contact.name == "Anchalee N."
    assert (contact.push_state, contact.pending_edits, contact.failed_edits) == (
        Contact.PushState.FAILED,
        0,
        1,
    )


@pytest.mark.parametrize(
    "payload",
    [
        {"id": 1},
        {"id": 2, "name": "มาลี", "contact_inboxes": None, "created_at": 1700000000},
        {
            "id": 3,
            "name": ["Malee", None, "Boonma"],
            "additional_attributes": {"city": "เชียงใหม่", "z": [1, 2.5, None], "a": {"b": True}},
            "custom_attributes": {"plan": "pro", "note": '😀 "q"'},
            "contact_inboxes": [{"source_id": "x", "inbox": {"id": 1, "name": "Web"}}],
            "created_at": "2024-02-29T12:00:00+07:00",
            "last_activity_at": 1700000000.5,
        },
        {"id": 4, "additional_attributes": "not an object", "custom_attributes": [1]},
        {"id": 5, "custom_attributes": {"note": "a\x00b"}},  # cleaned: no texts from the check
        {"id": 6, "custom_attributes": {"z": 1, "note": "\\u0000"}},  # checked the long way
    ],
)
def test_the_digest_put_together_from_the_stored_texts_is_mirror_digest(payload):
    remote = parse_contact(payload)

    values, texts = mirror_columns(remote)

    assert values["mirror_digest"] == mirror_digest(values)
    assert {name: json.loads(texts[name]) for name in JSON_FIELDS} == {
        name: values[name] for name in JSON_FIELDS
    }


def test_a_synced_contact_reads_back_as_parsed_with_the_digest_of_its_row(sandbox):
    created = sandbox_contact_make(
        sandbox.store,
        name="Malee Boonma",
        additional_attributes={"city": "Chiang Mai", "country": "ไทย"},
        custom_attributes={"plan": "pro", "score": 1.5, "tags": ["a", "b"]},
    )
    payload = sandbox.store.get_contact(created["id"], include_contact_inboxes=True)

    services.contacts_sync()

    contact = Contact.objects.get(remote_id=created["id"])
    expected = mirror_values(parse_contact(payload))
    assert {name: getattr(contact, name) for name in expected} == expected
    assert contact.mirror_digest == mirror_digest(
        {name: getattr(contact, name) for name in expected}
    )
