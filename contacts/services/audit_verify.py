"""Verification of the audit log's chain: by `manage.py verify_audit`, the admin's "Verify now"
and the worker, every `LIVEDESK_AUDIT_VERIFY_SECONDS` (a chain of tasks like the outbox's sweep,
started by `manage.py schedule_sync` and again by each scheduled sync if it was ever broken).

The check streams the chain from its first event in keyset chunks of raw rows, each checked by
`contacts.audit_chain.chain_check` from the last sound event of the chunk before: memory stays
flat and each row costs its hash and little more.
"""

from __future__ import annotations

import logging
import time
from dataclasses import replace
from datetime import datetime

from django.conf import settings
from django_tasks import task

from contacts import audit_reads
from contacts.audit_chain import GENESIS, ChainReport, chain_check
from contacts.models import AuditCheck
from contacts.services.periodic import periodic_task_schedule

logger = logging.getLogger(__name__)

# The PostgreSQL advisory lock that serialises schedulers of the next verification.
VERIFY_SCHEDULE_LOCK_KEY = 7_310_442_011
# AuditCheck's text columns hold this much.
_TEXT_MAX = 255


def audit_chain_verify(*, record: bool = True) -> ChainReport:
    """Check the whole chain; save the result as an AuditCheck (unless `record` is False) and
    log an error naming the first broken event."""
    started = time.perf_counter()
    report = _chain_checked()
    seconds = time.perf_counter() - started
    if record:
        AuditCheck.objects.create(
            ok=report.ok,
            count=report.count,
            head=report.head,
            broken_seq=report.broken_seq,
            problem=report.problem[:_TEXT_MAX],
            expected=report.expected[:_TEXT_MAX],
            found=report.found[:_TEXT_MAX],
            seconds=seconds,
        )
    if not report.ok:
        logger.error("The audit log's chain is %s", chain_report_text(report))
    return report


def _chain_checked() -> ChainReport:
    count, start = 0, (0, GENESIS)
    for rows in audit_reads.event_chunks():
        report = chain_check(rows, start=start)
        count += report.count
        if not report.ok:
            return replace(report, count=count)
        start = (rows[-1][0], report.head)
    return ChainReport(count, start[1])


def chain_report_text(report: ChainReport) -> str:
    """A check's result in one line: `OK: N events, head H` or where and how it broke."""
    if report.ok:
        return f"OK: {report.count} events, head {report.head}"
    return (
        f"BROKEN at event #{report.broken_seq}: {report.problem}; expected {report.expected}, "
        f"found {report.found} ({report.count} sound event{'' if report.count == 1 else 's'} "
        "before it)"
    )


def audit_verify_schedule() -> datetime | None:
    """Make sure the worker has exactly one verification waiting (see periodic): one
    `LIVEDESK_AUDIT_VERIFY_SECONDS` from now unless one already waits. Answers when the waiting
    one runs; None when scheduled verifications are off (an interval of 0)."""
    scheduled = periodic_task_schedule(
        audit_verify_task,
        interval=settings.LIVEDESK_AUDIT_VERIFY_SECONDS,
        lock_key=VERIFY_SCHEDULE_LOCK_KEY,
    )
    return None if scheduled is None else scheduled.run_after


def audit_verify_chain_start() -> None:
    """Start the chain of verifications unless it runs; a failure is logged, never raised."""
    try:
        audit_verify_schedule()
    except Exception:
        logger.exception("Could not schedule the next verification of the audit log")


@task()
def audit_verify_task() -> str:
    """The worker's verification of the audit log, every `LIVEDESK_AUDIT_VERIFY_SECONDS`: the
    next one is scheduled first, so that one that breaks does not end the chain."""
    audit_verify_chain_start()
    return chain_report_text(audit_chain_verify())
