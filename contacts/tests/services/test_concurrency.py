"""Several writers at once: queued edits carried, never dropped; one push in flight per contact,
in the order recorded; no value overwritten unseen; a push killed mid-call delivered later."""

from __future__ import annotations

import threading
import time
from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from contacts import services
from contacts.fields import contact_values
from contacts.livedesk import LiveDeskClient
from contacts.models import Contact, ContactEdit
from contacts.tests.factories import (
    contact_synced,
    edit_failed_transiently,
    edit_submission,
    patch_bodies,
    user_make,
)

pytestmark = pytest.mark.django_db


def test_a_queued_edit_is_carried_into_the_next_one_and_delivered_with_it(sandbox, agent):
    contact = contact_synced(sandbox=sandbox, name="Ann", additional_attributes={"city": "Krabi"})
    colleague = user_make(username="colleague")
    queued = edit_failed_transiently(
        sandbox=sandbox,
        contact=contact,
        editor=colleague,
        changes={"additional_attributes.city": "Phuket"},
    )

    submission = edit_submission(contact=contact, editor=agent, changes={"name": "Ann Lee"})

    queued.refresh_from_db()
    assert submission.outcome == services.EditOutcome.SAVED
    assert queued.state == ContactEdit.State.SUPERSEDED
    assert queued.carried_into == submission.edit
    rows = {row["field"]: row for row in submission.edit.changes}
    assert rows["additional_attributes.city"]["carried_from"] == queued.pk
    assert rows["additional_attributes.city"]["carried_from_editor"] == "colleague"
    assert "carried_from" not in rows["name"]
    stored = sandbox.store.get_contact(contact.remote_id)
    assert (stored["name"], stored["additional_attributes"]["city"]) == ("Ann Lee", "Phuket")


def test_changing_a_field_whose_queued_value_the_agent_never_saw_is_a_conflict(sandbox, agent):
    contact = contact_synced(sandbox=sandbox, name="Ann")
    opened = contact_values(contact)
    edit_failed_transiently(
        sandbox=sandbox, contact=contact, editor=user_make(username="b"), changes={"name": "Bea"}
    )

    submission = edit_submission(
        contact=contact,
        editor=agent,
        changes={"name": "Cat"},
        base_values=opened,
        base_version=contact.version,
    )

    assert submission.outcome == services.EditOutcome.CONFLICT
    [conflict] = submission.conflicts
    assert (conflict.base, conflict.theirs, conflict.yours) == ("Ann", "Bea", "Cat")
    assert ContactEdit.objects.filter(state=ContactEdit.State.FAILED).count() == 1


def test_an_agent_shown_the_queued_value_may_change_it(sandbox, agent):
    contact = contact_synced(sandbox=sandbox, name="Ann")
    queued = edit_failed_transiently(
        sandbox=sandbox, contact=contact, editor=user_make(username="b"), changes={"name": "Bea"}
    )
    base = contact_values(contact)

    submission = services.contact_edit_submit(
        contact=contact,
        editor=agent,
        values={**base, "name": "Cat"},
        base_values=base,
        opened_values={**base, "name": "Bea"},
        base_version=contact.version,
    )

    queued.refresh_from_db()
    assert submission.outcome == services.EditOutcome.SAVED
    assert queued.state == ContactEdit.State.SUPERSEDED
    assert sandbox.store.get_contact(contact.remote_id)["name"] == "Cat"


def test_a_second_edit_waits_while_the_first_is_in_flight_then_goes_in_order(
    sandbox, agent, no_client_retries, monkeypatch, settings
):
    settings.LIVEDESK_SAVE_BUDGET_SECONDS = 0.3
    contact = contact_synced(sandbox=sandbox, name="Ann", email="ann@example.com")
    seen_while_in_flight = []
    real_contact_update = LiveDeskClient.contact_update

    def contact_update_meanwhile_another_agent_saves(self, remote_id, changes):
        if not seen_while_in_flight:
            seen_while_in_flight.append(
                edit_submission(
                    contact=Contact.objects.get(pk=contact.pk),
                    editor=user_make(username="colleague"),
                    changes={"email": "ann@acme.example"},
                )
            )
        return real_contact_update(self, remote_id, changes)

    monkeypatch.setattr(
        LiveDeskClient, "contact_update", contact_update_meanwhile_another_agent_saves
    )

    first = edit_submission(contact=contact, editor=agent, changes={"name": "Ann Lee"})

    [second] = seen_while_in_flight
    assert first.outcome == services.EditOutcome.SAVED
    assert second.outcome == services.EditOutcome.QUEUED and second.waiting
    assert patch_bodies(sandbox) == [{"name": "Ann Lee"}]

    summary = services.edits_push_due(now=second.edit.next_attempt_at)

    assert summary.succeeded == 1
    assert patch_bodies(sandbox) == [{"name": "Ann Lee"}, {"email": "ann@acme.example"}]
    stored = sandbox.store.get_contact(contact.remote_id)
    assert (stored["name"], stored["email"]) == ("Ann Lee", "ann@acme.example")


def test_a_push_killed_mid_call_is_due_again_once_its_lease_runs_out(
    sandbox, agent, no_client_retries, monkeypatch, settings
):
    settings.LIVEDESK_PUSH_LEASE_SECONDS = 1
    contact = contact_synced(sandbox=sandbox, name="Ann")

    def contact_update_killed(self, remote_id, changes):
        raise SystemExit("the process was killed mid-call")

    monkeypatch.setattr(LiveDeskClient, "contact_update", contact_update_killed)
    with pytest.raises(SystemExit):
        edit_submission(contact=contact, editor=agent, changes={"name": "Ann Lee"})
    monkeypatch.undo()
    edit = ContactEdit.objects.get()
    assert edit.state == ContactEdit.State.PENDING and edit.in_flight_until is not None

    assert services.edits_push_due().attempted == 0  # still leased: maybe still in flight
    time.sleep(1.1)
    summary = services.edits_push_due()

    edit.refresh_from_db()
    assert summary.succeeded == 1
    assert edit.state == ContactEdit.State.SUCCEEDED and edit.attempts == 2
    assert sandbox.store.get_contact(contact.remote_id)["name"] == "Ann Lee"


def test_an_answer_older_than_the_mirror_never_replaces_it(sandbox, agent, monkeypatch):
    contact = contact_synced(sandbox=sandbox, name="Ann")
    real_contact_get = LiveDeskClient.contact_get

    def contact_get_answered_after_an_edit_landed(self, remote_id):
        old = real_contact_get(self, remote_id)
        edit_submission(contact=contact, editor=agent, changes={"name": "Ann Lee"})
        return old

    monkeypatch.setattr(LiveDeskClient, "contact_get", contact_get_answered_after_an_edit_landed)

    result = services.contact_refresh(contact=contact)

    assert result.outcome == services.Refreshed.UNCHANGED
    assert Contact.objects.get(pk=contact.pk).name == "Ann Lee"


def test_a_sweep_goes_on_past_an_edit_whose_push_breaks(sandbox, agent, monkeypatch):
    ann = contact_synced(sandbox=sandbox, name="Ann")
    bob = contact_synced(sandbox=sandbox, name="Bob")
    for contact, name in ((ann, "Ann Lee"), (bob, "Bob Lee")):
        edit_failed_transiently(
            sandbox=sandbox, contact=contact, editor=agent, changes={"name": name}
        )
    real_contact_update = LiveDeskClient.contact_update

    def contact_update_breaking_for_ann(self, remote_id, changes):
        if remote_id == ann.remote_id:
            raise RuntimeError("a bug met on one edit")
        return real_contact_update(self, remote_id, changes)

    monkeypatch.setattr(LiveDeskClient, "contact_update", contact_update_breaking_for_ann)
    later = max(ContactEdit.objects.values_list("next_attempt_at", flat=True))

    summary = services.edits_push_due(now=later)

    assert (summary.attempted, summary.succeeded, summary.failed) == (2, 1, 1)
    assert sandbox.store.get_contact(bob.remote_id)["name"] == "Bob Lee"


def test_a_finished_edit_cannot_be_saved_back_to_unfinished(sandbox, agent):
    contact = contact_synced(sandbox=sandbox, name="Ann")
    edit = edit_submission(contact=contact, editor=agent, changes={"name": "Ann Lee"}).edit

    edit.state = ContactEdit.State.FAILED
    with pytest.raises(PermissionError, match="succeeded edit cannot become failed"):
        edit.save(update_fields=["state"])

    edit.refresh_from_db()
    assert edit.state == ContactEdit.State.SUCCEEDED


def test_a_save_rate_limited_for_long_is_queued_within_the_agents_wait(sandbox, agent, settings):
    settings.LIVEDESK_SAVE_BUDGET_SECONDS = 1.0
    contact = contact_synced(sandbox=sandbox, name="Ann")
    sandbox.faults.methods = "PATCH"
    sandbox.faults.rate_limit_next = 10
    sandbox.faults.retry_after = 30

    started = time.monotonic()
    submission = edit_submission(contact=contact, editor=agent, changes={"name": "Ann Lee"})
    waited = time.monotonic() - started

    assert waited < 3
    assert submission.outcome == services.EditOutcome.QUEUED
    edit = submission.edit
    assert edit.http_status == 429
    assert (edit.next_attempt_at - edit.last_attempt_at).total_seconds() >= 29


@pytest.mark.django_db(transaction=True)
def test_agents_saving_the_same_contact_at_once_lose_nothing_and_never_deadlock(sandbox, settings):
    """Eight agents, each saving a different field of one contact at the same moment."""
    settings.LIVEDESK_SAVE_BUDGET_SECONDS = 10
    contact = contact_synced(sandbox=sandbox, name="Ann")
    agents = [user_make(username=f"agent{n}") for n in range(8)]
    keys = [f"custom_attributes.field_{n}" for n in range(8)]
    opened = contact_values(contact)
    outcomes, errors = [], []
    start = threading.Barrier(len(agents))

    def save(agent, key):
        try:
            start.wait()
            outcomes.append(
                edit_submission(
                    contact=contact,
                    editor=agent,
                    changes={key: agent.username},
                    base_values=opened,
                    base_version=contact.version,
                ).outcome
            )
        except Exception as error:  # noqa: BLE001 (reported below)
            errors.append(repr(error))
        finally:
            connection.close()

    threads = [threading.Thread(target=save, args=pair) for pair in zip(agents, keys, strict=True)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    assert outcomes.count(services.EditOutcome.SAVED) + outcomes.count(
        services.EditOutcome.QUEUED
    ) == len(agents)
    services.edits_push_due(now=timezone.now() + timedelta(minutes=3))
    custom = sandbox.store.get_contact(contact.remote_id)["custom_attributes"]
    assert {key.removeprefix("custom_attributes."): value for key, value in custom.items()} == {
        key.removeprefix("custom_attributes."): agent.username
        for agent, key in zip(agents, keys, strict=True)
    }
    assert not ContactEdit.objects.filter(state__in=ContactEdit.UNFINISHED_STATES).exists()


def test_a_push_without_an_answer_holds_the_contact_until_it_may_have_landed(
    sandbox, agent, settings
):
    """A PATCH that timed out may still be applied by LiveDesk: nothing newer goes out first."""
    settings.LIVEDESK_TIMEOUT = (1.0, 0.4)
    settings.LIVEDESK_UNKNOWN_OUTCOME_GRACE_SECONDS = 2
    settings.LIVEDESK_SAVE_BUDGET_SECONDS = 0.5
    contact = contact_synced(sandbox=sandbox, name="Ann", additional_attributes={"city": "Krabi"})
    sandbox.faults.methods = "PATCH"
    sandbox.faults.hang_next = 1
    sandbox.faults.hang_seconds = 1.2

    first = edit_submission(contact=contact, editor=agent, changes={"name": "Ann Lee"})
    second = edit_submission(
        contact=contact,
        editor=user_make(username="colleague"),
        changes={"additional_attributes.city": "Phuket"},
    )

    assert first.outcome == services.EditOutcome.QUEUED
    assert first.edit.in_flight_until is not None  # held: LiveDesk may still apply it
    assert second.outcome == services.EditOutcome.QUEUED and second.waiting
    assert len(patch_bodies(sandbox)) == 1  # the client did not send the unanswered PATCH again
    time.sleep(2.1)

    services.edits_push_due(now=timezone.now() + timedelta(minutes=3))

    assert patch_bodies(sandbox) == [
        {"name": "Ann Lee"},
        {"name": "Ann Lee"},
        {"additional_attributes": {"city": "Phuket"}},
    ]
    stored = sandbox.store.get_contact(contact.remote_id)
    assert (stored["name"], stored["additional_attributes"]["city"]) == ("Ann Lee", "Phuket")
