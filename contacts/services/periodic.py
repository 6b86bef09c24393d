"""Periodic work run by the worker as a chain of tasks: exactly one of each kind waiting.

Each run schedules the next before it works (see the scheduled sync and the outbox's sweep), so
a run that breaks, or a worker killed mid-run, does not end its chain.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from django.db import connection, transaction
from django.db.models import QuerySet
from django.utils import timezone
from django_tasks import TaskResultStatus
from django_tasks_db.models import DBTaskResult

if TYPE_CHECKING:
    from django_tasks.base import Task


@dataclass(frozen=True)
class Scheduled:
    """The run waiting in the worker's queue, and whether this call put it there."""

    run_after: datetime
    enqueued: bool


def periodic_task_schedule(task: Task, *, interval: float, lock_key: int) -> Scheduled | None:
    """Make sure the worker has exactly one run of `task` waiting: enqueue one `interval`
    seconds from now unless one already waits. None when the task is off (an interval of 0).

    The check and the enqueue are one transaction, serialised with any other scheduler of the
    task: SQLite's transactions are IMMEDIATE (one writer at a time); PostgreSQL takes the
    advisory lock `lock_key` (a fixed number of the task's own).
    """
    if interval <= 0:
        return None
    with transaction.atomic():
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_xact_lock(%s)", [lock_key])
        waiting = _waiting(task)
        if waiting is not None:
            return Scheduled(run_after=waiting, enqueued=False)
        run_after = timezone.now() + timedelta(seconds=interval)
        task.using(run_after=run_after).enqueue()
    return Scheduled(run_after=run_after, enqueued=True)


def task_schedule_by(task: Task, *, run_after: datetime, lock_key: int) -> Scheduled:
    """Make sure the worker has one run of `task` waiting, to run no later than `run_after`:
    enqueue one then unless one waits; a waiting run due later is brought forward to then.
    Serialised like `periodic_task_schedule`, with the same `lock_key` for the task."""
    with transaction.atomic():
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_xact_lock(%s)", [lock_key])
        waiting = _waiting_runs(task).values_list("pk", "run_after").first()
        if waiting is None:
            task.using(run_after=run_after).enqueue()
            return Scheduled(run_after=run_after, enqueued=True)
        pk, waiting_after = waiting
        if waiting_after <= run_after:
            return Scheduled(run_after=waiting_after, enqueued=False)
        DBTaskResult.objects.filter(pk=pk, status=TaskResultStatus.READY).update(
            run_after=run_after
        )
    return Scheduled(run_after=run_after, enqueued=False)


def _waiting(task: Task) -> datetime | None:
    """When the run of `task` already waiting in the database queue runs, if one waits.

    Only the database backend keeps a queue to look in; with another backend (the tests'
    dummy one) nothing is found and a run is enqueued.
    """
    return _waiting_runs(task).values_list("run_after", flat=True).first()


def _waiting_runs(task: Task) -> QuerySet[DBTaskResult]:
    return DBTaskResult.objects.filter(
        task_path=task.module_path, backend_name=task.backend, status=TaskResultStatus.READY
    ).order_by("run_after")
