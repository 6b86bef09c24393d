"""Audit events in words: the sentence of each kind of event, told from the events that the
services really write as edits are pushed to a LiveDesk sandbox, seen changed in it or made to
custom attribute definitions."""

from __future__ import annotations

import importlib
import re
from datetime import timedelta

import pytest
from django.utils import formats, timezone, translation

from contacts import audit_story, selectors, services
from contacts.audit_chain import data_text
from contacts.models import AuditEvent, ContactEdit, CustomAttributeDefinition
from contacts.services.audit import EventKind
from contacts.services.definitions import definition_save, definitions_delete
from contacts.tests.factories import (
    contact_synced,
    edit_failed_transiently,
    edit_submit,
    user_make,
)

pytestmark = pytest.mark.django_db

TOOK = r" in \d+ ms"


def sentences(edit: ContactEdit) -> list[str]:
    """The edit's events in words, oldest first."""
    events = selectors.edits_audit_events(edit_ids=[edit.pk])[edit.pk]
    return [line.sentence for line in audit_story.story_lines(events)]


def when(moment) -> str:
    return formats.date_format(timezone.localtime(moment), "SHORT_DATETIME_FORMAT")


@pytest.fixture
def ann(sandbox, no_client_retries):
    return contact_synced(
        sandbox=sandbox,
        name="Ann",
        email="ann@example.com",
        additional_attributes={"city": "Bangkok"},
    )


def test_every_kind_of_event_has_its_sentence():
    assert {str(kind) for kind in EventKind} - set(audit_story.SENTENCES) == set()


def test_a_delivered_edit_says_who_changed_what_from_where_and_the_answer(sandbox, agent, ann):
    edit = edit_submit(
        contact=ann,
        editor=agent,
        changes={"name": "Ann Smith", "additional_attributes.city": "Chiang Mai"},
    )

    recorded, delivered = sentences(edit)

    assert (
        recorded == "agent (Agent page) changed Name: Ann → Ann Smith; City: Bangkok → Chiang Mai"
    )
    assert re.fullmatch(rf"Delivered to LiveDesk: 200{TOOK} \(attempt 1\)", delivered)


def test_a_line_carries_the_events_number_time_actor_and_the_start_of_its_hash(agent, ann):
    edit = edit_submit(contact=ann, editor=agent, changes={"name": "Ann Smith"})
    event = AuditEvent.objects.filter(edit_id=edit.pk).order_by("seq").first()

    line = audit_story.event_line(event)

    assert (line.seq, line.at, line.actor, line.edit_id) == (
        event.seq,
        event.at,
        "agent",
        edit.pk,
    )
    assert line.short_hash == event.hash[:12] and len(line.short_hash) == 12
    assert not line.migrated


def test_a_failed_attempt_says_livedesks_status_and_when_it_is_tried_again(sandbox, agent, ann):
    edit = edit_failed_transiently(
        sandbox=sandbox, contact=ann, editor=agent, changes={"name": "Ann Smith"}
    )

    failed = sentences(edit)[-1]

    assert re.fullmatch(
        rf"Attempt 1 failed: LiveDesk answered 503{TOOK}; next try at "
        + re.escape(when(edit.next_attempt_at)),
        failed,
    )


def test_a_failed_read_says_the_attempt_stopped_before_sending(sandbox, agent, ann):
    sandbox.faults.methods = "GET"
    sandbox.faults.fail_next = 1

    edit = edit_submit(contact=ann, editor=agent, changes={"name": "Ann Smith"})

    assert re.fullmatch(
        rf"Attempt 1 failed before sending: LiveDesk answered 503 to the read{TOOK}; "
        "next try at .+",
        sentences(edit)[-1],
    )


def test_a_rejected_edit_says_it_waits_for_an_agent(sandbox, agent, ann):
    sandbox.store.create_contact(name="Bob", email="bob@example.com")

    edit = edit_submit(contact=ann, editor=agent, changes={"email": "bob@example.com"})

    assert re.fullmatch(
        rf"Attempt 1 failed: LiveDesk answered 422{TOOK}; it waits for an agent",
        sentences(edit)[-1],
    )


def test_an_unanswered_call_gives_the_clients_reason(sandbox, agent, ann):
    sandbox.faults.methods = "PATCH"
    sandbox.faults.hang_next = 1
    sandbox.faults.hang_seconds = 1.5

    edit = edit_submit(contact=ann, editor=agent, changes={"name": "Ann Smith"})

    edit.refresh_from_db()
    failed = sentences(edit)[-1]
    assert failed.startswith(f"Attempt 1 failed: {edit.error_message.rstrip('.')}; next try at ")
    assert "answered" not in failed


def test_a_conflict_names_the_fields_livedesk_changed_meanwhile(sandbox, agent, ann):
    edit = edit_failed_transiently(
        sandbox=sandbox, contact=ann, editor=agent, changes={"name": "Ann Smith"}
    )
    sandbox.store.update_contact(ann.remote_id, {"name": "Ann (from LiveDesk)"})

    services.edits_push_due(now=timezone.now() + timedelta(hours=1))

    assert sentences(edit)[-1] == "Not sent: LiveDesk changed Name meanwhile"


def test_a_discarded_edit_says_who_discarded_it(sandbox, agent, ann):
    edit = edit_failed_transiently(
        sandbox=sandbox, contact=ann, editor=agent, changes={"name": "Ann Smith"}
    )

    services.edit_discard(edit=edit, user=user_make(username="bob"))

    assert sentences(edit)[-1] == "Discarded by bob"


def test_a_carried_edit_says_where_it_went_and_the_newer_one_what_it_carries(sandbox, agent, ann):
    queued = edit_failed_transiently(
        sandbox=sandbox, contact=ann, editor=agent, changes={"name": "Ann Smith"}
    )

    newer = edit_submit(contact=ann, editor=agent, changes={"additional_attributes.city": "Krabi"})

    assert sentences(queued)[-1] == f"Carried into edit #{newer.pk} by agent"
    assert sentences(newer)[0] == (
        "agent (Agent page) changed Name: Ann → Ann Smith; City: Bangkok → Krabi "
        f"(carries the values of edit #{queued.pk})"
    )


def test_an_outside_change_says_how_it_was_seen_and_what_changed(sandbox, ann):
    sandbox.store.update_contact(ann.remote_id, {"email": "ann@outside.example"})

    services.contact_refresh(contact=ann)

    seen = ContactEdit.objects.get(source=ContactEdit.Source.LIVEDESK)
    assert sentences(seen) == [
        "Changed in LiveDesk (seen via a refresh): Email: ann@example.com → ann@outside.example"
    ]


def test_definition_changes_say_which_definition_who_and_what(admin_user):
    definition = CustomAttributeDefinition(key="tier", label="Tier")
    definition_save(definition=definition, by=admin_user)
    definition.label, definition.description = "Customer tier", "Gold or silver"
    definition_save(definition=definition, by=admin_user)
    definitions_delete(definitions=[definition], by=admin_user)

    events = AuditEvent.objects.filter(kind__startswith="definition.").order_by("seq")

    assert [line.sentence for line in audit_story.story_lines(events)] == [
        "Definition “tier” created by admin",
        "Definition “tier” changed by admin: label, description",
        "Definition “tier” deleted by admin",
    ]


def test_field_labels_are_in_the_readers_language_not_the_events(agent, ann):
    edit = edit_submit(contact=ann, editor=agent, changes={"additional_attributes.city": "Krabi"})

    with translation.override("th"):
        recorded = sentences(edit)[0]

    assert "เมือง" in recorded  # City, translated when read; the event keeps "City"
    assert "City" not in recorded


def test_an_edits_story_leaves_out_the_event_that_opened_it(agent, ann):
    edit = edit_submit(contact=ann, editor=agent, changes={"name": "Ann Smith"})
    events = selectors.edits_audit_events(edit_ids=[edit.pk])[edit.pk]

    story = audit_story.edit_story(events)

    assert [line.kind for line in story] == [EventKind.EDIT_DELIVERED]


def test_history_migrated_from_before_the_audit_log_is_told_and_marked():
    migration = importlib.import_module("contacts.migrations.0009_audit_log")
    now = timezone.now()
    delivered_row = {
        "id": 7,
        "contact__remote_id": 318001,
        "source": "admin",
        "seen_via": "",
        "changes": [{"field": "name", "before": "Ann", "after": "Ann Smith"}],
        "base_version": 1,
        "editor_username": "somsri",
        "request_body": {"name": "Ann Smith"},
        "state": "succeeded",
        "failure_kind": "",
        "attempts": 2,
        "last_attempt_at": now,
        "livedesk_before": {"name": "Ann"},
        "http_status": 200,
        "response_body": {"payload": {"name": "Ann Smith"}},
        "error_message": "",
        "finished_at": now,
        "finished_by__username": None,
        "carried_into_id": None,
        "created_at": now,
    }
    events = [
        AuditEvent(
            seq=seq,
            at=at,
            kind=event["kind"],
            contact_remote_id=event["contact"],
            edit_id=event["edit"],
            actor=event["actor"],
            data=data_text(event["data"]),
            prev_hash="0" * 64,
            hash=f"{seq:064x}",
        )
        for seq, (at, event) in enumerate(migration._history_events([delivered_row]), start=1)
    ]

    lines = audit_story.story_lines(events)

    assert [line.sentence for line in lines] == [
        "somsri (Admin) changed Name: Ann → Ann Smith",
        "Delivered to LiveDesk: 200 (attempt 2)",
    ]
    assert all(line.migrated for line in lines)


def test_an_event_of_a_kind_without_a_sentence_is_still_shown_by_its_kind():
    event = AuditEvent(seq=1, at=timezone.now(), kind="batch.started", data="{}", hash="f" * 64)

    assert audit_story.event_line(event).sentence == "Event batch.started"
