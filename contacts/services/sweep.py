"""The worker's sweep of the outbox: every edit due is pushed, oldest first.

Nothing is enqueued for the happy path's backstops (an edit whose own request never pushed it,
a push whose process died mid-call and left its lease to run out): the sweep finds them. It
runs every `LIVEDESK_PUSH_SWEEP_SECONDS` as a chain of tasks, each scheduling the next before it
sweeps (like the scheduled sync); `manage.py push_pending` and each scheduled sync start the
chain again if it was ever broken. Batches' edits are not the sweep's: each sweep asks their
delivery to run if some are queued (see batch_delivery), its backstop after a worker restart.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime

from django.conf import settings
from django.utils import timezone
from django_tasks import task

from contacts.livedesk import LiveDeskClient
from contacts.services.batch_delivery import batch_delivery_start
from contacts.services.periodic import periodic_task_schedule
from contacts.services.push import Push, edit_push, edits_due

logger = logging.getLogger(__name__)

# The PostgreSQL advisory lock that serialises schedulers of the next sweep (any fixed number).
SWEEP_SCHEDULE_LOCK_KEY = 318_2025


@dataclass
class PushSummary:
    attempted: int = 0
    succeeded: int = 0
    failed: int = 0


def edits_push_due(
    *, now: datetime | None = None, client: LiveDeskClient | None = None
) -> PushSummary:
    """Push once every edit due for delivery, oldest first; one failing edit stops no other."""
    summary = PushSummary()
    client = client or LiveDeskClient()
    due = edits_due(now=now or timezone.now())
    for edit_id in due.order_by("created_at", "id").values_list("pk", flat=True):
        try:
            result = edit_push(edit_id=edit_id, client=client)
        except Exception:
            logger.exception("Push of edit %s broke; the sweep goes on", edit_id)
            summary.attempted += 1
            summary.failed += 1
            continue
        if result.outcome in (Push.DELIVERED, Push.FAILED, Push.CONFLICT):
            summary.attempted += 1
            if result.outcome == Push.DELIVERED:
                summary.succeeded += 1
            else:
                summary.failed += 1
    return summary


def edits_sweep_schedule() -> datetime | None:
    """Make sure the worker has exactly one sweep waiting (see periodic): one
    `LIVEDESK_PUSH_SWEEP_SECONDS` from now unless one already waits. Answers when the waiting
    sweep runs; None when sweeps are off (an interval of 0)."""
    scheduled = periodic_task_schedule(
        edits_sweep_task,
        interval=settings.LIVEDESK_PUSH_SWEEP_SECONDS,
        lock_key=SWEEP_SCHEDULE_LOCK_KEY,
    )
    return None if scheduled is None else scheduled.run_after


def edits_sweep_chain_start() -> None:
    """Start the chain of sweeps unless it runs; a failure is logged, never raised."""
    try:
        edits_sweep_schedule()
    except Exception:
        logger.exception("Could not schedule the next sweep of the outbox")


@task()
def edits_sweep_task() -> str:
    """The worker's sweep of the outbox, every `LIVEDESK_PUSH_SWEEP_SECONDS`: the next one is
    scheduled first, so that a sweep that breaks, or a worker killed mid-sweep, does not end
    the chain; a batch delivery killed midway starts again."""
    edits_sweep_chain_start()
    batch_delivery_start()
    summary = edits_push_due()
    return f"{summary.attempted} pushed: {summary.succeeded} delivered, {summary.failed} failed"
