"""Delivering recorded edits to LiveDesk: the push, its outcome, retries and the worker's task."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone
from django_tasks import task

from contacts.livedesk import (
    LiveDeskClient,
    LiveDeskError,
    LiveDeskNotFound,
    LiveDeskValidationError,
    RemoteContact,
)
from contacts.models import Contact, ContactEdit
from contacts.services.mirror import mirror_apply

logger = logging.getLogger(__name__)

# What a push's outcome writes on the edit.
OUTCOME_FIELDS = ("state", "failure_kind", "http_status", "response_body", "error_message")
# A pending edit older than this was orphaned (its process stopped before the push).
ORPHANED_PENDING_AFTER = timedelta(minutes=2)


@dataclass(frozen=True)
class PushResult:
    """An edit after a push, with LiveDesk's error when it failed."""

    edit: ContactEdit
    error: LiveDeskError | None = None

    @property
    def rejected(self) -> bool:
        """LiveDesk refused the values (422): the agent must change them."""
        return isinstance(self.error, LiveDeskValidationError)

    @property
    def field_errors(self) -> dict[str, list[str]]:
        """LiveDesk's messages by the field names it used, for a rejection."""
        return self.error.field_errors if isinstance(self.error, LiveDeskValidationError) else {}


@dataclass
class PushSummary:
    attempted: int = 0
    succeeded: int = 0
    failed: int = 0


def edit_push(*, edit_id: int, client: LiveDeskClient | None = None) -> PushResult:
    """Send one recorded edit to LiveDesk and record the outcome; the mirror follows success."""
    now = timezone.now()
    with transaction.atomic():
        edit = ContactEdit.objects.select_for_update().select_related("contact").get(pk=edit_id)
        if not edit.is_unfinished:
            return PushResult(edit)
        edit.attempts += 1
        edit.last_attempt_at = now
        edit.next_attempt_at = None
        edit.save(update_fields=["attempts", "last_attempt_at", "next_attempt_at"])
    client = client or LiveDeskClient()
    try:
        answer = client.contact_update(edit.contact.remote_id, edit.request_body)
    except LiveDeskError as error:
        logger.warning("Push of edit %s failed: %s", edit.pk, error.message)
        return PushResult(_edit_push_failed(edit=edit, error=error), error)
    return PushResult(_edit_push_succeeded(edit=edit, remote=answer.contact, status=answer.status))


def _edit_push_succeeded(*, edit: ContactEdit, remote: RemoteContact, status: int) -> ContactEdit:
    now = timezone.now()
    with transaction.atomic():
        contact = Contact.objects.select_for_update().get(pk=edit.contact_id)
        mirror_apply(contact=contact, remote=remote, now=now)
        edit.state = ContactEdit.State.SUCCEEDED
        edit.failure_kind = ""
        edit.http_status = status
        edit.response_body = {"payload": remote.payload}
        edit.error_message = ""
        edit.finished_at = now
        edit.save(update_fields=[*OUTCOME_FIELDS, "finished_at"])
        contact_push_state_refresh(contact)
    edit.contact = contact
    return edit


def _edit_push_failed(*, edit: ContactEdit, error: LiveDeskError) -> ContactEdit:
    now = timezone.now()
    with transaction.atomic():
        locked = ContactEdit.objects.select_for_update().get(pk=edit.pk)
        if locked.is_unfinished:
            edit.state = ContactEdit.State.FAILED
        else:
            # Discarded or superseded while the call was in flight: it stays so, never retried.
            edit.state, edit.finished_at = locked.state, locked.finished_at
            edit.finished_by_id = locked.finished_by_id
        edit.failure_kind = (
            ContactEdit.FailureKind.TRANSIENT
            if error.transient
            else ContactEdit.FailureKind.PERMANENT
        )
        edit.http_status = error.status
        edit.response_body = error.body
        edit.error_message = error.message
        edit.next_attempt_at = (
            _next_attempt_at(edit=edit, error=error, now=now) if edit.is_unfinished else None
        )
        edit.save(update_fields=[*OUTCOME_FIELDS, "next_attempt_at"])
        if isinstance(error, LiveDeskNotFound):
            Contact.objects.filter(pk=edit.contact_id, gone_at__isnull=True).update(gone_at=now)
        contact_push_state_refresh(edit.contact)
        if edit.next_attempt_at is not None:
            transaction.on_commit(
                lambda: retry_schedule(edit_id=edit.pk, run_after=edit.next_attempt_at)
            )
    return edit


def _next_attempt_at(*, edit: ContactEdit, error: LiveDeskError, now: datetime) -> datetime | None:
    if not error.transient or edit.attempts >= settings.LIVEDESK_PUSH_MAX_ATTEMPTS:
        return None
    delay = min(
        settings.LIVEDESK_PUSH_BACKOFF_SECONDS * 2 ** (edit.attempts - 1),
        settings.LIVEDESK_PUSH_BACKOFF_MAX_SECONDS,
    )
    retry_after = getattr(error, "retry_after", None) or 0
    return now + timedelta(seconds=max(delay, retry_after))


def retry_schedule(*, edit_id: int, run_after: datetime) -> None:
    """Ask the worker to push the edit at `run_after`; the `push_pending` sweep is the backstop."""
    try:
        edit_push_task.using(run_after=run_after).enqueue(edit_id)
    except Exception:  # the periodic `push_pending` sweep still finds the edit
        logger.exception("Could not schedule a retry of edit %s", edit_id)


def contact_push_state_refresh(contact: Contact) -> None:
    """Set the contact's push state from its unfinished edits: failed, pending or in sync."""
    states = set(
        contact.edits.filter(state__in=ContactEdit.UNFINISHED_STATES).values_list(
            "state", flat=True
        )
    )
    if ContactEdit.State.FAILED in states:
        push_state = Contact.PushState.FAILED
    elif ContactEdit.State.PENDING in states:
        push_state = Contact.PushState.PENDING
    else:
        push_state = Contact.PushState.IN_SYNC
    if contact.push_state != push_state:
        contact.push_state = push_state
        Contact.objects.filter(pk=contact.pk).update(push_state=push_state)


def _edits_due(*, now: datetime) -> QuerySet[ContactEdit]:
    return ContactEdit.objects.filter(
        state=ContactEdit.State.FAILED,
        failure_kind=ContactEdit.FailureKind.TRANSIENT,
        next_attempt_at__lte=now,
    ) | ContactEdit.objects.filter(
        state=ContactEdit.State.PENDING, created_at__lte=now - ORPHANED_PENDING_AFTER
    )


def edit_push_if_due(*, edit_id: int, now: datetime | None = None) -> ContactEdit | None:
    """Push one edit if it is still due; None if it finished or waits for the agent meanwhile."""
    if not _edits_due(now=now or timezone.now()).filter(pk=edit_id).exists():
        return None
    return edit_push(edit_id=edit_id).edit


def edits_push_due(
    *, now: datetime | None = None, client: LiveDeskClient | None = None
) -> PushSummary:
    """Push once every edit due for delivery: transient failures whose wait is over, orphans."""
    summary = PushSummary()
    client = client or LiveDeskClient()
    due = _edits_due(now=now or timezone.now())
    for edit_id in due.order_by("created_at", "id").values_list("pk", flat=True):
        edit = edit_push(edit_id=edit_id, client=client).edit
        summary.attempted += 1
        if edit.state == ContactEdit.State.SUCCEEDED:
            summary.succeeded += 1
        else:
            summary.failed += 1
    return summary


def edit_retry(*, edit: ContactEdit) -> ContactEdit:
    """Send a failed edit again now, at the agent's request."""
    return edit_push(edit_id=edit.pk).edit


@task()
def edit_push_task(edit_id: int) -> str:
    """Deliver one edit whose retry is due, or which its own request never sent."""
    edit = edit_push_if_due(edit_id=edit_id)
    return "not due" if edit is None else edit.state
