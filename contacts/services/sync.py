"""Pulling LiveDesk's contacts into the mirror: the whole account, or chosen contacts."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

from django.conf import settings
from django.db import transaction
from django.db.models import F, Value
from django.db.models.functions import Greatest
from django.utils import timezone

from contacts.livedesk import (
    LiveDeskClient,
    LiveDeskError,
    LiveDeskNotFound,
    LiveDeskProtocolError,
    RemoteContact,
)
from contacts.models import Contact
from contacts.services.mirror import MIRROR_FIELDS, mirror_apply, mirror_values

# More contacts than this missing from a complete sync are flagged gone without asking for each.
GONE_CHECK_LIMIT = 200


@dataclass
class SyncSummary:
    total: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    failed: int = 0
    gone: int = 0
    completed: bool = False
    errors: list[str] = field(default_factory=list)

    @property
    def seen(self) -> int:
        return self.created + self.updated + self.unchanged + self.failed


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
    on_page: Callable[[SyncSummary], None] | None = None,
) -> SyncSummary:
    """Pull every LiveDesk contact into the mirror, page by page, and flag the ones gone.

    Each page is one transaction and one bulk upsert, so memory stays flat and an interrupted
    run loses nothing. Only a run that saw every page flags contacts gone (see _gone_flag).
    Raises SyncInterrupted when LiveDesk fails before the run is complete.
    """
    client = client or LiveDeskClient()
    page_size = page_size or settings.LIVEDESK_SYNC_PAGE_SIZE
    started_at = timezone.now()
    summary = SyncSummary()
    pages = client.contacts_iter(page_size=page_size)
    try:
        while True:
            requested_at = timezone.now()
            page = next(pages, None)
            if page is None:
                break
            _sync_page(page.contacts, summary=summary, as_of=requested_at)
            for payload, reason in page.rejected:
                summary.failed += 1
                summary.errors.append(f"{reason} ({str(payload)[:200]})")
            summary.total = max(page.count or 0, summary.seen)
            if on_page:
                on_page(summary)
        _gone_flag(client=client, started_at=started_at, summary=summary)
    except LiveDeskError as error:
        raise SyncInterrupted(error.message, summary=summary) from error
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
    _sync_page(found, summary=summary, as_of=requested_at)
    if gone_ids:
        summary.gone += Contact.objects.filter(remote_id__in=gone_ids, gone_at__isnull=True).update(
            gone_at=timezone.now()
        )


def _sync_page(remotes: list[RemoteContact], *, summary: SyncSummary, as_of: datetime) -> None:
    """Write one page of LiveDesk's contacts, as of when it was asked for, in one upsert.

    A contact whose mirror holds a newer state (a push answered after this page was asked
    for) keeps it.
    """
    if not remotes:
        return
    by_id = {remote.remote_id: remote for remote in remotes}
    with transaction.atomic():
        stored = {
            remote_id: (payload, version, synced_at)
            for remote_id, payload, version, synced_at in Contact.objects.select_for_update()
            .filter(remote_id__in=by_id)
            .values_list("remote_id", "remote_payload", "version", "synced_at")
        }
        upserts, unchanged_ids = [], []
        for remote_id, remote in by_id.items():
            previous = stored.get(remote_id)
            if previous is not None and (previous[0] == remote.payload or previous[2] > as_of):
                unchanged_ids.append(remote_id)
                continue
            version = 1 if previous is None else previous[1] + 1
            upserts.append(
                Contact(
                    remote_id=remote_id,
                    version=version,
                    synced_at=as_of,
                    gone_at=None,
                    **mirror_values(remote),
                )
            )
            if previous is None:
                summary.created += 1
            else:
                summary.updated += 1
        if upserts:
            Contact.objects.bulk_create(
                upserts,
                update_conflicts=True,
                unique_fields=["remote_id"],
                update_fields=[*MIRROR_FIELDS, "version", "synced_at", "gone_at"],
            )
        if unchanged_ids:
            Contact.objects.filter(remote_id__in=unchanged_ids).update(
                synced_at=Greatest(F("synced_at"), Value(as_of)), gone_at=None
            )
        summary.unchanged += len(unchanged_ids)


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
        changed = mirror_apply(contact=locked, remote=remote, as_of=requested_at)
    contact.refresh_from_db()
    return RefreshResult(contact, Refreshed.CHANGED if changed else Refreshed.UNCHANGED)


def contacts_refresh(*, contacts: Iterable[Contact]) -> list[RefreshResult]:
    """Refresh each contact from LiveDesk in turn, over one connection."""
    with LiveDeskClient() as client:
        return [contact_refresh(contact=contact, client=client) for contact in contacts]
