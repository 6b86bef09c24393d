"""Pulling LiveDesk's contacts into the mirror: the whole account, or chosen contacts; a
contact about to be shown whose copy is old; and the worker's sync, every few hours."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from contextlib import closing
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django_tasks import task

from contacts.livedesk import (
    LiveDeskClient,
    LiveDeskError,
    LiveDeskNotFound,
    LiveDeskProtocolError,
)
from contacts.models import Contact, ContactEdit
from contacts.services.audit_verify import audit_verify_chain_start
from contacts.services.facets import contact_countries_refresh
from contacts.services.mirror import (
    mirror_apply,
)
from contacts.services.periodic import Scheduled, periodic_task_schedule
from contacts.services.sweep import edits_sweep_chain_start
from contacts.services.sync_pages import pages_at_once, pages_in_turn
from contacts.services.sync_write import PageWriter, SyncSummary, page_values, page_write

logger = logging.getLogger(__name__)

# More contacts than this missing from a complete sync are flagged gone without asking for each.
GONE_CHECK_LIMIT = 200
# The PostgreSQL advisory lock that serialises schedulers of the next sync (any fixed number).
SYNC_SCHEDULE_LOCK_KEY = 318_2024


class SyncInterrupted(Exception):
    """LiveDesk failed mid-sync; the pages already read are kept (see `summary`)."""

    def __init__(self, message: str, *, summary: SyncSummary):
        self.message = message
        self.summary = summary
        super().__init__(message)


def contacts_sync(
    *,
    client: LiveDeskClient | None = None,
    page_size: int | None = None,
    concurrency: int | None = None,
    on_page: Callable[[SyncSummary], None] | None = None,
) -> SyncSummary:
    """Pull every LiveDesk contact into the mirror and flag the ones gone.

    Pages are fetched `LIVEDESK_SYNC_CONCURRENCY` at a time (one at a time with a `client`
    given) while this thread writes them in page order: one upsert per page, the pages that
    arrive together in one transaction (see PageWriter), so memory stays flat and an
    interrupted run keeps what it read. Only a run that saw every page flags contacts gone
    (see _gone_flag).
    Raises SyncInterrupted when LiveDesk fails before the run is complete.
    """
    page_size = page_size or settings.LIVEDESK_SYNC_PAGE_SIZE
    concurrency = concurrency or settings.LIVEDESK_SYNC_CONCURRENCY
    started_at = timezone.now()
    summary = SyncSummary()
    own_client = client is None
    client = client or LiveDeskClient()
    if own_client and concurrency > 1:
        pages = pages_at_once(
            client_make=LiveDeskClient,
            page_size=page_size,
            concurrency=concurrency,
            prepare=page_values,
        )
    else:
        pages = pages_in_turn(client=client, page_size=page_size, prepare=page_values)
    try:
        with PageWriter(summary=summary, on_page=on_page) as writer, closing(pages):
            for fetched in pages:
                writer.add(fetched)
        _gone_flag(client=client, started_at=started_at, summary=summary)
    except LiveDeskError as error:
        contact_countries_refresh()  # the pages read are kept, and so are their countries
        raise SyncInterrupted(error.message, summary=summary) from error
    finally:
        if own_client:
            client.close()
    contact_countries_refresh()
    summary.total = max(summary.total, summary.seen)
    summary.completed = True
    return summary


def _gone_flag(*, client: LiveDeskClient, started_at: datetime, summary: SyncSummary) -> None:
    """Flag gone the contacts a complete run did not list, once LiveDesk answers 404 for them.

    Pages are offsets: a contact deleted during the run moves the later ones up a place, so one
    of them may go unlisted although it exists. Above GONE_CHECK_LIMIT unseen contacts (a mass
    deletion), they are flagged without asking; the next run that lists one unflags it.
    """
    unseen = Contact.objects.filter(gone_at__isnull=True, synced_at__lt=started_at)
    remote_ids = list(
        unseen.order_by("remote_id").values_list("remote_id", flat=True)[: GONE_CHECK_LIMIT + 1]
    )
    if len(remote_ids) > GONE_CHECK_LIMIT:
        summary.gone += unseen.update(gone_at=timezone.now())
        return
    found, gone_ids = [], []
    requested_at = timezone.now()
    for remote_id in remote_ids:
        try:
            found.append(client.contact_get(remote_id))
        except LiveDeskNotFound:
            gone_ids.append(remote_id)
        except LiveDeskProtocolError as error:
            summary.failed += 1
            summary.errors.append(f"#{remote_id}: {error.message}")
    with transaction.atomic():
        page_write(found, summary=summary, as_of=requested_at)
    if gone_ids:
        summary.gone += Contact.objects.filter(remote_id__in=gone_ids, gone_at__isnull=True).update(
            gone_at=timezone.now()
        )


class Refreshed(StrEnum):
    CHANGED = "changed"
    UNCHANGED = "unchanged"
    GONE = "gone"
    FAILED = "failed"


@dataclass(frozen=True)
class RefreshResult:
    contact: Contact
    outcome: Refreshed
    error_message: str = ""


def contact_refresh(*, contact: Contact, client: LiveDeskClient | None = None) -> RefreshResult:
    """Fetch one contact from LiveDesk into the mirror; flags it gone on a 404."""
    client = client or LiveDeskClient()
    requested_at = timezone.now()
    try:
        remote = client.contact_get(contact.remote_id)
    except LiveDeskNotFound:
        Contact.objects.filter(pk=contact.pk, gone_at__isnull=True).update(gone_at=timezone.now())
        contact.refresh_from_db()
        return RefreshResult(contact, Refreshed.GONE)
    except LiveDeskError as error:
        return RefreshResult(contact, Refreshed.FAILED, error.message)
    with transaction.atomic():
        locked = Contact.objects.select_for_update().get(pk=contact.pk)
        changed = mirror_apply(
            contact=locked, remote=remote, as_of=requested_at, seen_via=ContactEdit.SeenVia.REFRESH
        )
    contact.refresh_from_db()
    return RefreshResult(contact, Refreshed.CHANGED if changed else Refreshed.UNCHANGED)


def contacts_refresh(*, contacts: Iterable[Contact]) -> list[RefreshResult]:
    """Refresh each contact from LiveDesk in turn, over one connection."""
    with LiveDeskClient() as client:
        return [contact_refresh(contact=contact, client=client) for contact in contacts]


def contact_refresh_if_stale(*, contact: Contact) -> RefreshResult | None:
    """Refresh a contact about to be shown when the mirror's copy is older than
    `LIVEDESK_FRESH_SECONDS`; None when it is fresh enough.

    An agent waits for this, so LiveDesk gets `LIVEDESK_FRESH_TIMEOUT_SECONDS` to connect and as
    long to answer, with no retry: past that the result is FAILED and the page shows the
    mirror's copy as of `contact.synced_at`.
    """
    fresh_for = timedelta(seconds=settings.LIVEDESK_FRESH_SECONDS)
    if timezone.now() - contact.synced_at < fresh_for:
        return None
    wait = settings.LIVEDESK_FRESH_TIMEOUT_SECONDS
    with LiveDeskClient(timeout=(wait, wait), retries=0) as client:
        result = contact_refresh(contact=contact, client=client)
    if result.outcome == Refreshed.FAILED:
        logger.warning(
            "Refresh of contact %s before showing it failed: %s",
            contact.remote_id,
            result.error_message,
        )
    return result


def contacts_sync_schedule() -> Scheduled | None:
    """Make sure the worker has exactly one sync of the whole mirror waiting (see periodic):
    one `LIVEDESK_SYNC_INTERVAL_SECONDS` from now unless one already waits. None when scheduled
    syncs are off (an interval of 0)."""
    return periodic_task_schedule(
        contacts_sync_task,
        interval=settings.LIVEDESK_SYNC_INTERVAL_SECONDS,
        lock_key=SYNC_SCHEDULE_LOCK_KEY,
    )


@task()
def contacts_sync_task() -> str:
    """The worker's sync of the whole mirror, every `LIVEDESK_SYNC_INTERVAL_SECONDS`.

    The next run is scheduled first, so that a sync that fails, or a worker killed mid-sync,
    does not end the chain. A sync LiveDesk interrupts is logged; what it read is kept.
    """
    try:
        contacts_sync_schedule()
    except Exception:  # this sync still runs; `manage.py schedule_sync` starts the chain again
        logger.exception("Could not schedule the next sync of the mirror")
    # The outbox's sweeps and the audit log's verifications run by chains of their own: start
    # them again if one was ever broken.
    edits_sweep_chain_start()
    audit_verify_chain_start()
    try:
        summary = contacts_sync()
    except SyncInterrupted as error:
        logger.warning(
            "Scheduled sync stopped after %s contacts: %s", error.summary.seen, error.message
        )
        return f"interrupted after {error.summary.seen} contacts: {error.message}"
    outcome = (
        f"{summary.created} created, {summary.updated} updated, {summary.unchanged} unchanged, "
        f"{summary.failed} failed, {summary.gone} flagged gone"
    )
    logger.info("Scheduled sync: %s", outcome)
    return outcome
