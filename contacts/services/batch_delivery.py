"""A batch's edits delivered by the worker at `LIVEDESK_BULK_RATE` calls a second.

A confirmed batch (bulk edit, import, undo) is one ordinary outbox edit per contact, pushed by
the same `push.edit_push` as an agent's edit, so one push in flight per contact and the read
before write hold for them too. Only their pace differs: the generic sweep and retries leave
them out (`push.edits_due`), and runs of `batch_delivery_task` push them, oldest batch first,
by edit id, spaced so that LiveDesk sees at most the rate (a push is two calls: the read and the
PATCH). A 429 pauses every batch's delivery for its Retry-After; the edit it met stays failed
transiently and goes again after the pause, like any retry.

The worker keeps one run waiting or running while batch edits remain: a run delivers for up to
`RUN_SECONDS`, then schedules the next for when the next edit is due (or the pause ends).
`batch_delivery_start` asks for a run at once (a batch's confirm, on commit); the outbox's
periodic sweep calls it too, so a worker killed mid-run resumes the batch: the edit it left in
flight is due again once its lease runs out, as in the rest of the outbox.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import connection
from django.db.models import Max, Min, Q, QuerySet
from django.utils import timezone
from django_tasks import task

from contacts.livedesk import LiveDeskClient, LiveDeskRateLimited
from contacts.models import ContactEdit, EditBatch
from contacts.services.periodic import task_schedule_by
from contacts.services.push import Push, edit_push

logger = logging.getLogger(__name__)

# How long one run delivers before it schedules the next: short, because the worker runs one
# task at a time, and retries and sweeps of agents' edits wait behind a run.
RUN_SECONDS = 15.0
# When a run ends with edits due but none it could push (each waits behind another edit of its
# contact, or that contact's push is in flight), the next run looks again this much later.
BLOCKED_RECHECK_SECONDS = 5.0
# Edits read from the database at a time; more than a run pushes at the usual rates.
CHUNK = 200
# What one push costs LiveDesk: the read before the write, and the PATCH.
CALLS_PER_PUSH = 2
# The PostgreSQL advisory locks of the delivery (any fixed numbers): the scheduler of the next
# run, and the run itself (a session lock: released when its process dies).
SCHEDULE_LOCK_KEY = 318_2026
RUN_LOCK_KEY = 318_2027
State = ContactEdit.State
FailureKind = ContactEdit.FailureKind


def batch_edits_queued() -> QuerySet[ContactEdit]:
    """Confirmed batches' edits still on their way to LiveDesk without an agent: pending, or
    failed transiently with a retry to come (in flight ones included)."""
    return ContactEdit.objects.filter(
        Q(state=State.PENDING)
        | Q(state=State.FAILED, failure_kind=FailureKind.TRANSIENT, next_attempt_at__isnull=False),
        batch__state=EditBatch.State.CONFIRMED,
    )


def batch_edits_due(*, now: datetime) -> QuerySet[ContactEdit]:
    """The queued batch edits whose time has come and that are not in flight (or whose lease
    ran out: the process pushing them was killed)."""
    return batch_edits_queued().filter(
        Q(in_flight_until__isnull=True) | Q(in_flight_until__lte=now), next_attempt_at__lte=now
    )


def rate_limited_until(*, now: datetime) -> datetime | None:
    """Until when LiveDesk asked batch delivery to wait: a batch edit met a 429 and its retry,
    not before the Retry-After, is still to come. None when no such pause holds."""
    return (
        batch_edits_queued()
        .filter(state=State.FAILED, http_status=429, next_attempt_at__gt=now)
        .aggregate(until=Max("next_attempt_at"))["until"]
    )


@dataclass
class DeliveryRun:
    """What one run of the batch delivery did."""

    delivered: int = 0
    failed: int = 0
    conflicts: int = 0
    # Pushes not sent (an edit may be held in several passes): an earlier edit of the contact
    # goes first, or its push is in flight.
    held: int = 0
    calls: int = 0
    rate_limited: int = 0
    paused_seconds: float = 0.0
    # The run stopped at its time limit with edits still due.
    out_of_time: bool = False
    # When the next push may go, if later than the run's end: the rate's next slot, or the end
    # of a pause a 429 asked for.
    next_push_at: datetime | None = None
    # Another run was delivering: this one sent nothing.
    elsewhere: bool = False

    def __str__(self) -> str:
        if self.elsewhere:
            return "another run is delivering"
        return (
            f"{self.delivered} delivered, {self.failed} failed, {self.conflicts} conflicts, "
            f"{self.held} held, {self.calls} calls, {self.rate_limited} rate limited "
            f"({self.paused_seconds:.1f} s paused)"
        )


class Pace:
    """When the next push may start: pushes spaced by their calls at `rate` calls a second,
    never bunched after a slow one, and no push before a pause LiveDesk asked for ends."""

    def __init__(self, *, rate: float):
        if rate <= 0:
            raise ImproperlyConfigured("LIVEDESK_BULK_RATE must be more than 0 calls a second.")
        self.rate = rate
        self.next_at = time.monotonic()

    def wait(self, *, deadline: float) -> bool:
        """Sleep until the next push may start; False (no sleep) when that is past `deadline`."""
        if self.next_at > deadline:
            return False
        delay = self.next_at - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        return True

    def spent(self, calls: int, *, started: float) -> None:
        self.next_at = max(self.next_at, started) + calls / self.rate

    def pause(self, seconds: float) -> None:
        self.next_at = max(self.next_at, time.monotonic() + seconds)

    def wall_time(self) -> datetime:
        return timezone.now() + timedelta(seconds=max(self.next_at - time.monotonic(), 0))


def batch_delivery_run(
    *, seconds: float | None = None, client: LiveDeskClient | None = None
) -> DeliveryRun:
    """Push the due batch edits, oldest batch first, by edit id, at most `LIVEDESK_BULK_RATE`
    calls a second, for up to `seconds` (`RUN_SECONDS`); passes over them again while pushes
    go out."""
    seconds = RUN_SECONDS if seconds is None else seconds
    run = DeliveryRun()
    with _run_lock() as held:
        if not held:
            run.elsewhere = True
            return run
        deadline = time.monotonic() + seconds
        pace = Pace(rate=settings.LIVEDESK_BULK_RATE)
        paused_until = rate_limited_until(now=timezone.now())
        if paused_until is not None:
            pace.pause((paused_until - timezone.now()).total_seconds())
        if client is not None:
            _passes(run, pace=pace, deadline=deadline, client=client)
        else:
            # No client retries: each call counts at the rate; a failed push is retried later.
            with LiveDeskClient(retries=0) as own:
                _passes(run, pace=pace, deadline=deadline, client=own)
        if pace.next_at > time.monotonic():
            run.next_push_at = pace.wall_time()
    return run


def _passes(run: DeliveryRun, *, pace: Pace, deadline: float, client: LiveDeskClient) -> None:
    """Go over the due edits in order, again from the start after a pass that sent something
    (retries come due, edits held behind others are freed), until none is left or time is."""
    after: tuple[int, int] | None = None
    sent_this_pass = False
    while True:
        due = batch_edits_due(now=timezone.now())
        if after is not None:
            due = due.filter(Q(batch_id__gt=after[0]) | Q(batch_id=after[0], pk__gt=after[1]))
        chunk = list(due.order_by("batch_id", "pk").values_list("batch_id", "pk")[:CHUNK])
        if not chunk:
            if not sent_this_pass:
                return
            after, sent_this_pass = None, False
            continue
        for batch_id, edit_id in chunk:
            if not pace.wait(deadline=deadline):
                run.out_of_time = True
                return
            after = (batch_id, edit_id)
            sent_this_pass |= _push_one(run, edit_id=edit_id, pace=pace, client=client)


def _push_one(run: DeliveryRun, *, edit_id: int, pace: Pace, client: LiveDeskClient) -> bool:
    """Push one edit and count it; answers whether calls were made."""
    started = time.monotonic()
    try:
        result = edit_push(edit_id=edit_id, client=client)
    except Exception:
        logger.exception("Push of batch edit %s broke; the delivery goes on", edit_id)
        run.failed += 1
        pace.spent(CALLS_PER_PUSH, started=started)
        return True
    if result.outcome == Push.FINISHED:
        return False
    if result.outcome in (Push.WAITING, Push.BUSY):
        run.held += 1
        return False
    # A conflict is found by the read alone; a failure may have come at the read or the PATCH.
    calls = 1 if result.outcome == Push.CONFLICT else CALLS_PER_PUSH
    run.calls += calls
    pace.spent(calls, started=started)
    if result.outcome == Push.DELIVERED:
        run.delivered += 1
    elif result.outcome == Push.CONFLICT:
        run.conflicts += 1
    else:
        run.failed += 1
    if isinstance(result.error, LiveDeskRateLimited):
        wait = result.error.retry_after
        if wait is None:
            wait = float(settings.LIVEDESK_PUSH_BACKOFF_SECONDS)
        logger.warning("LiveDesk answered 429: batch delivery pauses %.1f s", wait)
        run.rate_limited += 1
        run.paused_seconds += wait
        pace.pause(wait)
    return True


@contextmanager
def _run_lock() -> Iterator[bool]:
    """Whether this run may deliver: on PostgreSQL, no other run holds the run's session lock
    (a worker that dies drops it with its connection). SQLite deployments run one worker."""
    if connection.vendor != "postgresql":
        yield True
        return
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_try_advisory_lock(%s)", [RUN_LOCK_KEY])
        held = cursor.fetchone()[0]
    try:
        yield held
    finally:
        if held:
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_unlock(%s)", [RUN_LOCK_KEY])


def next_run_at(*, now: datetime, held_back: bool = False) -> datetime | None:
    """When the next run should start: when the next queued batch edit is due, not before a
    429's pause ends; None when no batch edit is queued. `held_back`: a run just found the due
    edits held behind others, so the next looks again a little later, not at once."""
    earliest = batch_edits_queued().aggregate(earliest=Min("next_attempt_at"))["earliest"]
    if earliest is None:
        return None
    at = max(earliest, now)
    if held_back and earliest <= now:
        at = now + timedelta(seconds=BLOCKED_RECHECK_SECONDS)
    paused_until = rate_limited_until(now=now)
    return at if paused_until is None else max(at, paused_until)


def batch_delivery_schedule(*, run_after: datetime) -> datetime:
    """Make sure one run waits in the worker's queue, starting no later than `run_after`."""
    scheduled = task_schedule_by(
        batch_delivery_task, run_after=run_after, lock_key=SCHEDULE_LOCK_KEY
    )
    return scheduled.run_after


def batch_delivery_start() -> None:
    """Make sure a run delivers the queued batch edits as soon as they are due (a batch just
    confirmed: at once). Safe to call any time; a failure is logged, never raised."""
    try:
        run_after = next_run_at(now=timezone.now())
        if run_after is not None:
            batch_delivery_schedule(run_after=run_after)
    except Exception:
        logger.exception("Could not schedule the delivery of batch edits")


@task()
def batch_delivery_task() -> str:
    """The worker's delivery of batch edits: one run, then the next scheduled if edits remain
    (a run killed midway is resumed by the outbox's sweep, see `batch_delivery_start`)."""
    run = batch_delivery_run()
    if run.elsewhere:
        return str(run)
    now = timezone.now()
    run_after = next_run_at(now=now, held_back=not run.out_of_time)
    if run_after is not None:
        if run.next_push_at is not None:
            run_after = max(run_after, run.next_push_at)
        batch_delivery_schedule(run_after=run_after)
    return str(run)
