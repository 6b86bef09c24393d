"""The periodic sweep of the outbox: the only backstop of a push that died mid-call or never
started, so that no push enqueues a task on its happy path."""

from __future__ import annotations

import time
from io import StringIO

import django_tasks
import pytest
from django.core.management import call_command
from django_tasks import TaskResultStatus
from django_tasks_db.models import DBTaskResult

from contacts import services
from contacts.livedesk import LiveDeskClient
from contacts.models import ContactEdit
from contacts.services.sweep import edits_sweep_schedule
from contacts.services.sync import contacts_sync_task
from contacts.tests.factories import contact_synced, edit_submission, patch_bodies

# db_worker installs its own signal handlers: the retry task's tests give pytest its own back.
from contacts.tests.services.test_tasks import signal_handlers_restored  # noqa: F401

pytestmark = pytest.mark.django_db

SWEEP_TASK = "contacts.services.sweep.edits_sweep_task"
PUSH_TASK = "contacts.services.push.edit_push_task"


@pytest.fixture
def killed_mid_call(monkeypatch):
    """Make the next PATCH kill its process (nothing after it runs, its lease stays)."""

    def contact_update_killed(self, remote_id, changes):
        raise SystemExit("the process was killed mid-call")

    monkeypatch.setattr(LiveDeskClient, "contact_update", contact_update_killed)
    return monkeypatch


def test_a_push_killed_mid_call_is_taken_up_by_the_sweep_after_its_lease_without_a_task(
    sandbox,
    agent,
    no_client_retries,
    killed_mid_call,
    settings,
    django_capture_on_commit_callbacks,
):
    settings.LIVEDESK_PUSH_LEASE_SECONDS = 1
    contact = contact_synced(sandbox=sandbox, name="Ann")
    with pytest.raises(SystemExit), django_capture_on_commit_callbacks(execute=True) as callbacks:
        edit_submission(contact=contact, editor=agent, changes={"name": "Ann Lee"})
    killed_mid_call.undo()
    assert callbacks == []
    edit = ContactEdit.objects.get()
    assert edit.state == ContactEdit.State.PENDING and edit.in_flight_until is not None
    assert django_tasks.default_task_backend.results == []  # nothing but the sweep to take it

    assert services.edits_sweep_task.call().startswith("0 pushed")  # leased: maybe in flight
    time.sleep(1.1)
    outcome = services.edits_sweep_task.call()

    edit.refresh_from_db()
    assert outcome.startswith("1 pushed: 1 delivered")
    assert edit.state == ContactEdit.State.SUCCEEDED and edit.attempts == 2
    assert sandbox.store.get_contact(contact.remote_id)["name"] == "Ann Lee"
    paths = [result.task.module_path for result in django_tasks.default_task_backend.results]
    assert paths == [SWEEP_TASK, SWEEP_TASK]  # each sweep scheduled the next, nothing else


@pytest.fixture
def database_queue(settings):
    settings.TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend"}}


def tasks_waiting(path: str) -> list[DBTaskResult]:
    return list(DBTaskResult.objects.filter(task_path=path, status=TaskResultStatus.READY))


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("signal_handlers_restored")
def test_the_worker_sweeps_on_its_own_and_delivers_a_push_killed_mid_call(
    sandbox, agent, no_client_retries, killed_mid_call, settings
):
    settings.TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend"}}
    settings.LIVEDESK_PUSH_LEASE_SECONDS = 1
    settings.LIVEDESK_PUSH_SWEEP_SECONDS = 2
    contact = contact_synced(sandbox=sandbox, name="Ann")
    with pytest.raises(SystemExit):
        edit_submission(contact=contact, editor=agent, changes={"name": "Ann Lee"})
    killed_mid_call.undo()
    call_command("push_pending", stdout=StringIO())  # as `make run` does: starts the sweeps
    [sweep] = tasks_waiting(SWEEP_TASK)
    assert ContactEdit.objects.get().state == ContactEdit.State.PENDING  # still leased

    time.sleep(2.1)
    call_command(
        "db_worker", batch=True, reload=False, startup_delay=False, interval=0, verbosity=0
    )

    sweep.refresh_from_db()
    edit = ContactEdit.objects.get()
    assert sweep.status == TaskResultStatus.SUCCESSFUL
    assert sweep.return_value.startswith("1 pushed: 1 delivered")
    assert edit.state == ContactEdit.State.SUCCEEDED
    assert patch_bodies(sandbox) == [{"name": "Ann Lee"}]
    [following] = tasks_waiting(SWEEP_TASK)
    assert following.run_after > sweep.run_after
    assert not DBTaskResult.objects.filter(task_path=PUSH_TASK).exists()


def test_scheduling_twice_leaves_one_sweep_waiting(database_queue):
    first = edits_sweep_schedule()
    second = edits_sweep_schedule()

    [waiting] = tasks_waiting(SWEEP_TASK)
    assert first == second == waiting.run_after


def test_each_scheduled_sync_starts_the_sweeps_again_if_their_chain_broke(
    sandbox, database_queue, settings
):
    settings.LIVEDESK_SYNC_INTERVAL_SECONDS = 3600

    contacts_sync_task.call()
    contacts_sync_task.call()

    assert len(tasks_waiting(SWEEP_TASK)) == 1


def test_an_interval_of_zero_schedules_no_sweep(database_queue, settings):
    settings.LIVEDESK_PUSH_SWEEP_SECONDS = 0

    assert edits_sweep_schedule() is None
    call_command("push_pending", stdout=StringIO())

    assert tasks_waiting(SWEEP_TASK) == []
