"""The worker's sync of the whole mirror: it runs every LIVEDESK_SYNC_INTERVAL_SECONDS, always
with exactly one next run waiting, and `manage.py schedule_sync` starts the chain."""

from __future__ import annotations

import logging
from datetime import timedelta
from io import StringIO

import django_tasks
import pytest
from django.core.management import call_command
from django.utils import timezone
from django_tasks import TaskResultStatus
from django_tasks_db.models import DBTaskResult

from contacts.models import Contact
from contacts.services.sync import contacts_sync_schedule, contacts_sync_task

# db_worker installs its own signal handlers: the retry task's tests give pytest its own back.
from contacts.tests.services.test_tasks import signal_handlers_restored  # noqa: F401

pytestmark = pytest.mark.django_db

SYNC_TASK = "contacts.services.sync.contacts_sync_task"
HOUR = timedelta(hours=1)


@pytest.fixture(autouse=True)
def _hourly(settings):
    settings.LIVEDESK_SYNC_INTERVAL_SECONDS = 3600
    # The sync also starts the outbox's sweeps (see test_sweep) and the audit log's
    # verifications (see test_audit_verify): left out of these tests.
    settings.LIVEDESK_PUSH_SWEEP_SECONDS = 0
    settings.LIVEDESK_AUDIT_VERIFY_SECONDS = 0


@pytest.fixture
def database_queue(settings):
    settings.TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend"}}


def syncs_waiting() -> list[DBTaskResult]:
    return list(DBTaskResult.objects.filter(task_path=SYNC_TASK, status=TaskResultStatus.READY))


def test_the_task_syncs_the_mirror_and_enqueues_its_next_run_an_interval_later(sandbox):
    remote = sandbox.store.create_contact(name="Ann")
    before = timezone.now()

    outcome = contacts_sync_task.call()

    after = timezone.now()
    assert Contact.objects.get(remote_id=remote["id"]).name == "Ann"
    assert outcome.startswith("1 created")
    [following] = django_tasks.default_task_backend.results
    assert following.task.module_path == SYNC_TASK
    assert before + HOUR <= following.task.run_after <= after + HOUR


def test_a_failed_sync_is_logged_and_still_reschedules(sandbox, no_client_retries, caplog):
    sandbox.faults.fail_next = 1
    sandbox.faults.failure_status = 503
    sandbox.store.create_contact(name="Ann")

    with caplog.at_level(logging.WARNING, logger="contacts"):
        outcome = contacts_sync_task.call()

    assert outcome.startswith("interrupted")
    assert not Contact.objects.exists()
    assert "Scheduled sync stopped" in caplog.text
    [following] = django_tasks.default_task_backend.results
    assert following.task.module_path == SYNC_TASK


def test_an_interval_of_zero_schedules_nothing(sandbox, settings):
    settings.LIVEDESK_SYNC_INTERVAL_SECONDS = 0
    sandbox.store.create_contact(name="Ann")

    contacts_sync_task.call()

    assert Contact.objects.count() == 1
    assert contacts_sync_schedule() is None
    assert django_tasks.default_task_backend.results == []


def test_schedule_sync_twice_leaves_one_sync_waiting(database_queue):
    first, second = StringIO(), StringIO()
    before = timezone.now()

    call_command("schedule_sync", stdout=first)
    call_command("schedule_sync", stdout=second)

    [waiting] = syncs_waiting()
    assert before + HOUR <= waiting.run_after <= timezone.now() + HOUR
    assert "Next sync of the mirror" in first.getvalue()
    assert "already scheduled" not in first.getvalue()
    assert "already scheduled" in second.getvalue()


def test_schedule_sync_says_when_scheduled_syncs_are_off(database_queue, settings):
    settings.LIVEDESK_SYNC_INTERVAL_SECONDS = 0
    out = StringIO()

    call_command("schedule_sync", stdout=out)

    assert syncs_waiting() == []
    assert "off" in out.getvalue()


def test_a_run_with_a_sync_already_waiting_enqueues_no_other(sandbox, database_queue):
    scheduled = contacts_sync_schedule()

    contacts_sync_task.call()

    assert [waiting.run_after for waiting in syncs_waiting()] == [scheduled.run_after]


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("signal_handlers_restored")
def test_the_worker_runs_a_due_sync_and_leaves_exactly_one_next_run_waiting(
    sandbox, database_queue
):
    remote = sandbox.store.create_contact(name="Ann")
    contacts_sync_schedule()
    DBTaskResult.objects.update(run_after=timezone.now() - timedelta(seconds=1))

    call_command(
        "db_worker", batch=True, reload=False, startup_delay=False, interval=0, verbosity=0
    )

    assert Contact.objects.get(remote_id=remote["id"]).name == "Ann"
    ran = DBTaskResult.objects.get(task_path=SYNC_TASK, status=TaskResultStatus.SUCCESSFUL)
    assert ran.return_value.startswith("1 created")
    [following] = syncs_waiting()
    assert abs(following.run_after - ran.started_at - HOUR) < timedelta(seconds=5)
