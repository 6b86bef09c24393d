"""A batch's edits delivered by the worker at the batch rate, against the sandbox on loopback:
the rate kept, a 429's Retry-After honoured by every batch, a worker killed midway resumed by
the sweep with every edit sent once, one push in flight per contact, and progress counted from
the edits' states."""

from __future__ import annotations

import threading
import time
from datetime import timedelta
from io import StringIO

import django_tasks
import pytest
from django.core.management import call_command
from django.db import connection
from django.utils import timezone
from django_tasks import TaskResultStatus
from django_tasks_db.models import DBTaskResult

from contacts import services
from contacts.fields import contact_values
from contacts.livedesk import LiveDeskClient
from contacts.models import Contact, ContactEdit, EditBatch
from contacts.selectors import BatchProgress, batch_progress
from contacts.services import batch_delivery
from contacts.services.batch_delivery import (
    batch_delivery_run,
    batch_delivery_start,
    batch_delivery_task,
    next_run_at,
)
from contacts.tests.factories import (
    api_requests,
    batch_edits_make,
    edit_recorded_unsent,
    retries_enqueued,
)

# db_worker installs its own signal handlers: the worker's tests give pytest its own back.
from contacts.tests.services.test_tasks import signal_handlers_restored  # noqa: F401

pytestmark = pytest.mark.django_db

DELIVERY_TASK = "contacts.services.batch_delivery.batch_delivery_task"
SWEEP_TASK = "contacts.services.sweep.edits_sweep_task"
PUSH_TASK = "contacts.services.push.edit_push_task"


@pytest.fixture
def fast(settings):
    """A high rate, so that tests not about the rate do not wait for it."""
    settings.LIVEDESK_BULK_RATE = 200.0


def contacts_synced(sandbox, count: int) -> list[Contact]:
    """`count` contacts created in the sandbox and synced once, in creation order."""
    for n in range(count):
        sandbox.store.create_contact(name=f"Contact {n}", email=f"c{n}@example.com")
    services.contacts_sync()
    return list(Contact.objects.order_by("remote_id"))


def company_batch(agent, contacts: list[Contact], company: str = "Acme"):
    """A confirmed bulk edit setting each contact's company."""
    return batch_edits_make(
        by=agent,
        changes={contact: {"additional_attributes.company_name": company} for contact in contacts},
    )


def patches(sandbox) -> list[dict]:
    return api_requests(sandbox, "PATCH")


def patched_ids(sandbox) -> list[int]:
    return [int(request["path"].rsplit("/", 1)[1]) for request in patches(sandbox)]


def delivered_until_finished(batch: EditBatch, *, within: float = 20.0) -> list:
    """Run the delivery as the worker does, each run when the last one asked for the next,
    until nothing of the batch is on its way; answers the runs."""
    runs = []
    deadline = time.monotonic() + within
    while not batch_progress(batch).finished:
        assert time.monotonic() < deadline, batch_progress(batch)
        runs.append(batch_delivery_run(seconds=5))
        run_after = next_run_at(now=timezone.now(), held_back=not runs[-1].out_of_time)
        if run_after is not None:
            time.sleep(max((run_after - timezone.now()).total_seconds(), 0))
    return runs


# --- Delivery ------------------------------------------------------------------------------------


def test_every_edit_is_delivered_once_oldest_batch_first_by_edit_id(sandbox, agent, fast):
    contacts = contacts_synced(sandbox, 5)
    older, _ = company_batch(agent, contacts[3:], "Older")
    newer, _ = company_batch(agent, contacts[:3], "Newer")

    run = batch_delivery_run()

    assert (run.delivered, run.failed, run.calls) == (5, 0, 10)
    remote_ids = [contact.remote_id for contact in contacts]
    assert patched_ids(sandbox) == remote_ids[3:] + remote_ids[:3]
    for contact, company in zip(contacts, ["Newer"] * 3 + ["Older"] * 2, strict=True):
        stored = sandbox.store.get_contact(contact.remote_id)
        assert stored["additional_attributes"]["company_name"] == company
    assert batch_progress(older) == BatchProgress(delivered=2)
    assert batch_progress(newer) == BatchProgress(delivered=3)
    assert Contact.objects.filter(push_state=Contact.PushState.IN_SYNC).count() == 5


def test_delivery_keeps_to_the_configured_rate(sandbox, agent, settings):
    settings.LIVEDESK_BULK_RATE = 20.0
    batch, _ = company_batch(agent, contacts_synced(sandbox, 8))
    sandbox.clear_recorded()

    batch_delivery_run()

    calls = api_requests(sandbox)
    assert len(calls) == 16
    # Pushes two calls apart at 20 calls a second: the 8th push starts 7 x 0.1 s after the first.
    # A lower bound only (a slow machine is slower, never faster), less 20 ms: the first call's
    # arrival also carries its connection's setup. Unpaced, the 16 calls took 0.02 s.
    elapsed = calls[-1]["at"] - calls[0]["at"]
    assert elapsed >= (len(calls) - 2) / settings.LIVEDESK_BULK_RATE - 0.02
    assert batch_progress(batch).delivered == 8


def test_a_429_with_retry_after_pauses_all_delivery_and_loses_nothing(sandbox, agent, settings):
    settings.LIVEDESK_BULK_RATE = 100.0
    settings.LIVEDESK_PUSH_BACKOFF_SECONDS = 1
    contacts = contacts_synced(sandbox, 6)
    batch, edits = company_batch(agent, contacts)
    sandbox.clear_recorded()
    sandbox.faults.methods = "PATCH"
    sandbox.faults.rate_limit_next = 1
    sandbox.faults.retry_after = 2

    runs = delivered_until_finished(batch)

    calls = api_requests(sandbox)
    refused = next(n for n, call in enumerate(calls) if call["method"] == "PATCH")
    # The 429 answered the first PATCH: no call of any edit went out for its Retry-After.
    assert calls[refused + 1]["at"] - calls[refused]["at"] >= 2.0
    assert runs[0].rate_limited == 1 and runs[0].paused_seconds == 2.0
    # Nothing lost: the refused edit went again, every contact holds its value once.
    remote_ids = [contact.remote_id for contact in contacts]
    assert sorted(patched_ids(sandbox)) == sorted([*remote_ids, remote_ids[0]])
    for contact in contacts:
        stored = sandbox.store.get_contact(contact.remote_id)
        assert stored["additional_attributes"]["company_name"] == "Acme"
    edits[0].refresh_from_db()
    assert (edits[0].state, edits[0].attempts) == (ContactEdit.State.SUCCEEDED, 2)
    assert batch_progress(batch) == BatchProgress(delivered=6)


def test_a_run_that_meets_a_pause_longer_than_itself_asks_for_the_next_after_it(
    sandbox, agent, settings, fast
):
    settings.LIVEDESK_PUSH_BACKOFF_SECONDS = 1
    batch, edits = company_batch(agent, contacts_synced(sandbox, 3))
    sandbox.faults.methods = "PATCH"
    sandbox.faults.rate_limit_next = 1
    sandbox.faults.retry_after = 30
    before = timezone.now()

    run = batch_delivery_run(seconds=1)

    assert (run.rate_limited, run.delivered, run.out_of_time) == (1, 0, True)
    assert len(patches(sandbox)) == 1
    # The refused edit's retry, and every other edit, wait for the Retry-After.
    edits[0].refresh_from_db()
    assert (edits[0].next_attempt_at - before).total_seconds() >= 30
    assert (next_run_at(now=timezone.now()) - before).total_seconds() >= 30
    assert batch_delivery_run(seconds=1).calls == 0  # a new run keeps the pause too
    assert batch_progress(batch) == BatchProgress(waiting=3)


def test_a_transient_failure_is_retried_by_the_delivery_not_by_a_retry_task(
    sandbox, agent, settings, fast, django_capture_on_commit_callbacks
):
    settings.LIVEDESK_PUSH_BACKOFF_SECONDS = 1
    batch, [edit] = company_batch(agent, contacts_synced(sandbox, 1))
    sandbox.faults.methods = "PATCH"
    sandbox.faults.fail_next = 1

    with django_capture_on_commit_callbacks(execute=True):
        first = batch_delivery_run()

    edit.refresh_from_db()
    assert (first.failed, edit.state, edit.failure_kind) == (1, "failed", "transient")
    assert retries_enqueued() == []
    assert batch_progress(batch) == BatchProgress(waiting=1)
    delivered_until_finished(batch)
    assert batch_progress(batch) == BatchProgress(delivered=1)
    assert len(patches(sandbox)) == 2


# --- Out of the generic outbox's way -------------------------------------------------------------


def test_the_generic_sweep_and_retry_task_leave_batch_edits_to_the_batch_delivery(
    sandbox, agent, fast
):
    batch, edits = company_batch(agent, contacts_synced(sandbox, 3))
    far = timezone.now() + timedelta(days=1)

    assert services.edits_push_due(now=far).attempted == 0
    assert services.edit_push_task.call(edits[0].pk) == "not due"
    services.edits_sweep_task.call()

    assert patches(sandbox) == []
    assert batch_progress(batch) == BatchProgress(waiting=3)
    # The sweep asked for the batch's delivery: its backstop.
    paths = [result.task.module_path for result in django_tasks.default_task_backend.results]
    assert DELIVERY_TASK in paths
    assert PUSH_TASK not in paths


def test_a_batch_edit_waits_for_a_push_of_its_contact_in_flight_then_goes_after_it(
    sandbox, agent, fast, django_capture_on_commit_callbacks
):
    contacts = contacts_synced(sandbox, 2)
    ann = contacts[0]
    opened = contact_values(ann)
    in_flight = services.contact_edit_record(
        contact=ann,
        editor=agent,
        values={**opened, "name": "Ann Agent"},
        base_values=opened,
        base_version=ann.version,
        source=ContactEdit.Source.AGENT,
        leased=True,
    )
    assert in_flight.in_flight_until is not None
    batch, [ann_edit, _] = company_batch(agent, [Contact.objects.get(pk=ann.pk), contacts[1]])

    held = batch_delivery_run()

    assert held.delivered == 1 and held.held > 0
    assert patched_ids(sandbox) == [contacts[1].remote_id]  # nothing sent for Ann meanwhile
    with django_capture_on_commit_callbacks(execute=True):
        services.edit_push(edit_id=in_flight.pk, leased=in_flight)
    assert retries_enqueued() == []  # the batch's edit is not handed to a retry task
    then = batch_delivery_run()

    assert then.delivered == 1
    assert patched_ids(sandbox) == [contacts[1].remote_id, ann.remote_id, ann.remote_id]
    ann_patches = [call["body"] for call in patches(sandbox) if str(ann.remote_id) in call["path"]]
    assert ann_patches[0] == {"name": "Ann Agent"}
    assert ann_patches[1]["additional_attributes"]["company_name"] == "Acme"
    assert batch_progress(batch) == BatchProgress(delivered=2)


@pytest.mark.django_db(transaction=True)
@pytest.mark.skipif(connection.vendor != "postgresql", reason="SQLite deployments run one worker")
def test_a_second_run_sends_nothing_while_one_is_delivering(sandbox, agent, settings):
    settings.LIVEDESK_BULK_RATE = 10.0
    batch, _ = company_batch(agent, contacts_synced(sandbox, 5))
    first: list = []

    def deliver() -> None:
        try:
            first.append(batch_delivery_run())
        finally:
            connection.close()

    running = threading.Thread(target=deliver)
    running.start()
    deadline = time.monotonic() + 5
    while not api_requests(sandbox, "PATCH") and time.monotonic() < deadline:
        time.sleep(0.01)

    second = batch_delivery_run()
    running.join()

    assert second.elsewhere and second.calls == 0
    assert first[0].delivered == 5
    assert sorted(patched_ids(sandbox)) == sorted(set(patched_ids(sandbox)))


# --- A worker killed midway ----------------------------------------------------------------------


@pytest.fixture
def killed_after(monkeypatch):
    """Make the PATCH after `count` others kill its process before it is sent (the edit stays
    leased, in flight, as a killed worker leaves it)."""

    def kill_after(count: int):
        real = LiveDeskClient.contact_update
        sent = []

        def contact_update(self, remote_id, changes):
            if len(sent) == count:
                raise SystemExit("the worker was killed")
            sent.append(remote_id)
            return real(self, remote_id, changes)

        monkeypatch.setattr(LiveDeskClient, "contact_update", contact_update)
        return monkeypatch

    return kill_after


def test_a_batch_survives_a_worker_killed_midway_and_every_edit_arrives_once(
    sandbox, agent, settings, fast, killed_after
):
    settings.LIVEDESK_PUSH_LEASE_SECONDS = 1
    contacts = contacts_synced(sandbox, 6)
    batch, edits = company_batch(agent, contacts)
    killed = killed_after(3)

    with pytest.raises(SystemExit):
        batch_delivery_task.call()
    killed.undo()

    left = ContactEdit.objects.get(pk=edits[3].pk)
    assert left.state == ContactEdit.State.PENDING and left.in_flight_until is not None
    reloaded = EditBatch.objects.get(pk=batch.pk)
    assert batch_progress(reloaded) == BatchProgress(delivered=3, waiting=3)
    assert django_tasks.default_task_backend.results == []  # the run died before the next

    time.sleep(1.1)  # the killed push's lease runs out
    assert services.edits_sweep_task.call().startswith("0 pushed")  # not the sweep's to push
    [resumed] = [
        result
        for result in django_tasks.default_task_backend.results
        if result.task.module_path == DELIVERY_TASK
    ]
    assert resumed.task.run_after <= timezone.now()
    assert batch_delivery_task.call().startswith("3 delivered")

    remote_ids = [contact.remote_id for contact in contacts]
    assert patched_ids(sandbox) == remote_ids  # each once, in order
    assert batch_progress(EditBatch.objects.get(pk=batch.pk)) == BatchProgress(delivered=6)
    assert Contact.objects.exclude(push_state=Contact.PushState.IN_SYNC).count() == 0


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("signal_handlers_restored")
def test_the_worker_resumes_a_batch_after_a_restart_through_the_sweep(
    sandbox, agent, settings, fast, killed_after
):
    settings.TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend"}}
    settings.LIVEDESK_PUSH_LEASE_SECONDS = 1
    settings.LIVEDESK_PUSH_SWEEP_SECONDS = 2
    contacts = contacts_synced(sandbox, 5)
    batch, _ = company_batch(agent, contacts)
    killed = killed_after(2)
    with pytest.raises(SystemExit):
        batch_delivery_task.call()
    killed.undo()
    call_command("push_pending", stdout=StringIO())  # the restarted worker's sweeps

    time.sleep(2.1)
    call_command(
        "db_worker", batch=True, reload=False, startup_delay=False, interval=0, verbosity=0
    )

    [run] = DBTaskResult.objects.filter(task_path=DELIVERY_TASK)
    assert run.status == TaskResultStatus.SUCCESSFUL
    assert run.return_value.startswith("3 delivered")
    assert patched_ids(sandbox) == [contact.remote_id for contact in contacts]
    assert batch_progress(batch) == BatchProgress(delivered=5)
    # Nothing left: no run of the delivery waits.
    assert not DBTaskResult.objects.filter(
        task_path=DELIVERY_TASK, status=TaskResultStatus.READY
    ).exists()


# --- Scheduling ----------------------------------------------------------------------------------


@pytest.fixture
def database_queue(settings):
    settings.TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend"}}


def runs_waiting() -> list[DBTaskResult]:
    return list(DBTaskResult.objects.filter(task_path=DELIVERY_TASK, status="READY"))


def test_start_leaves_one_run_waiting_due_now_and_brings_a_later_one_forward(
    sandbox, agent, database_queue
):
    later = timezone.now() + timedelta(minutes=5)
    batch_delivery.batch_delivery_schedule(run_after=later)
    company_batch(agent, contacts_synced(sandbox, 2))

    batch_delivery_start()
    batch_delivery_start()

    [waiting] = runs_waiting()
    assert waiting.run_after <= timezone.now()


def test_start_schedules_nothing_when_no_batch_edit_is_queued(database_queue):
    batch_delivery_start()

    assert runs_waiting() == []


def test_a_run_that_leaves_nothing_schedules_no_next_one(sandbox, agent, database_queue, fast):
    batch, _ = company_batch(agent, contacts_synced(sandbox, 2))

    assert batch_delivery_task.call().startswith("2 delivered")

    assert runs_waiting() == []


def test_a_run_out_of_time_schedules_the_next_at_once(
    sandbox, agent, database_queue, settings, monkeypatch
):
    settings.LIVEDESK_BULK_RATE = 10.0
    monkeypatch.setattr(batch_delivery, "RUN_SECONDS", 0.25)
    batch, _ = company_batch(agent, contacts_synced(sandbox, 6))

    outcome = batch_delivery_task.call()

    progress = batch_progress(batch)
    assert 0 < progress.delivered < 6, outcome
    # The next run goes on at once: at the rate's next slot after the last push.
    [waiting] = runs_waiting()
    assert waiting.run_after <= timezone.now() + timedelta(seconds=2 / settings.LIVEDESK_BULK_RATE)


# --- Progress ------------------------------------------------------------------------------------


def test_progress_counts_each_way_an_edit_can_end(sandbox, agent, settings, fast):
    settings.LIVEDESK_PUSH_BACKOFF_SECONDS = 60
    contacts = contacts_synced(sandbox, 6)
    transient, delivered, conflict, refused, carried, discarded = contacts
    batch, edits = batch_edits_make(
        by=agent,
        changes={
            transient: {"name": "Set"},
            delivered: {"name": "Set"},
            conflict: {"name": "Set"},
            refused: {"email": "c1@example.com"},  # taken by another contact: 422
            carried: {"name": "Set"},
            discarded: {"name": "Set"},
        },
    )
    sandbox.store.update_contact(conflict.remote_id, {"name": "Changed in LiveDesk"})
    edit_recorded_unsent(
        contact=Contact.objects.get(pk=carried.pk), editor=agent, changes={"email": "new@x.example"}
    )
    services.edit_discard(edit=edits[5], user=agent)
    sandbox.faults.methods = "PATCH"
    sandbox.faults.fail_next = 1  # the first PATCH: the transient one's

    batch_delivery_run()

    expected = BatchProgress(delivered=1, waiting=1, conflicts=1, failed=1, carried=1, discarded=1)
    progress = batch_progress(EditBatch.objects.get(pk=batch.pk))
    assert progress == expected
    assert (progress.total, progress.finished) == (6, False)
    states = dict(ContactEdit.objects.filter(batch=batch).values_list("pk", "state"))
    assert [states[edit.pk] for edit in edits] == [
        "failed",
        "succeeded",
        "failed",
        "failed",
        "superseded",
        "discarded",
    ]


def test_a_transient_failure_with_no_retry_left_counts_as_failed(sandbox, agent, settings, fast):
    settings.LIVEDESK_PUSH_MAX_ATTEMPTS = 1
    batch, _ = company_batch(agent, contacts_synced(sandbox, 1))
    sandbox.faults.methods = "PATCH"
    sandbox.faults.fail_next = 1

    batch_delivery_run()

    progress = batch_progress(batch)
    assert progress == BatchProgress(failed=1)
    assert progress.finished


def test_progress_is_one_query(agent, django_assert_num_queries):
    batch = EditBatch.objects.create(
        kind=EditBatch.Kind.BULK_EDIT, state=EditBatch.State.CONFIRMED, created_by=agent
    )

    with django_assert_num_queries(1):
        assert batch_progress(batch) == BatchProgress()
