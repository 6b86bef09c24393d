"""Delivering recorded edits to LiveDesk: one push in flight per contact, in the order recorded.

A push claims its edit in one transaction (the contact's row locked: every write of an edit
holds its contact's lock first, the one lock order of the app), leases it for the calls' longest
possible duration, reads the contact from LiveDesk, compares, calls PATCH, and records the
outcome in one more transaction: LiveDesk's answers in the mirror, the edit's outcome and the
contact's push state, kept from counts on its row rather than recounted. A process killed
mid-call leaves a lease that runs out, after which the periodic sweep (see sweep) pushes the
edit again; an answer older than the mirror's state never replaces it.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import Q, QuerySet
from django.utils import timezone
from django_tasks import task

from contacts.fields import contact_values, field_label, patch_body_build
from contacts.livedesk import (
    LiveDeskClient,
    LiveDeskError,
    LiveDeskNotFound,
    LiveDeskValidationError,
    RemoteContact,
)
from contacts.livedesk.client import CONTACTS_PATH
from contacts.models import Contact, ContactEdit
from contacts.services import audit
from contacts.services.contact_row import contact_row_write
from contacts.services.mirror import mirror_values

logger = logging.getLogger(__name__)

# A pending edit not pushed by then was orphaned (its process stopped before the push).
ORPHANED_PENDING_AFTER = timedelta(minutes=2)
State = ContactEdit.State
FailureKind = ContactEdit.FailureKind


class Push(StrEnum):
    """What one call of `edit_push` did."""

    DELIVERED = "delivered"  # LiveDesk accepted it
    FAILED = "failed"  # LiveDesk failed or refused it; recorded on the edit
    CONFLICT = "conflict"  # a field it changes was changed meanwhile: not sent, for the agent
    WAITING = "waiting"  # an earlier edit of the contact goes first: not sent yet
    BUSY = "busy"  # another push of the contact is in flight: not sent yet
    FINISHED = "finished"  # already delivered, carried into a newer edit or discarded


@dataclass(frozen=True)
class PushResult:
    """An edit after a push, with LiveDesk's error when it failed."""

    edit: ContactEdit
    outcome: Push
    error: LiveDeskError | None = None

    @property
    def rejected(self) -> bool:
        """LiveDesk refused the values (422): the agent must change them."""
        return isinstance(self.error, LiveDeskValidationError)

    @property
    def field_errors(self) -> dict[str, list[str]]:
        """LiveDesk's messages by the field names it used, for a rejection."""
        return self.error.field_errors if isinstance(self.error, LiveDeskValidationError) else {}


def queued_edits(contact: Contact) -> QuerySet[ContactEdit]:
    """The contact's edits still on their way to LiveDesk without the agent, oldest first:
    pending ones, and transient failures with a retry scheduled (as `is_queued` says)."""
    return contact.edits.filter(
        Q(state=State.PENDING)
        | Q(state=State.FAILED, failure_kind=FailureKind.TRANSIENT, next_attempt_at__isnull=False)
    ).order_by("created_at", "id")


def is_queued(edit: ContactEdit) -> bool:
    """Whether `queued_edits` holds the edit (for edits already read)."""
    return edit.state == State.PENDING or (
        edit.state == State.FAILED
        and edit.failure_kind == FailureKind.TRANSIENT
        and edit.next_attempt_at is not None
    )


def edit_push(
    *, edit_id: int, client: LiveDeskClient | None = None, leased: ContactEdit | None = None
) -> PushResult:
    """Send one recorded edit to LiveDesk if it is its turn, and record the outcome; `leased`:
    the edit, recorded already leased to this process (see `lease`): not claimed again.

    Read before write: the contact is read from LiveDesk first, and each changed field is
    compared three ways (what the agent's form was based on, what LiveDesk holds now, what the
    agent saved). A field LiveDesk changed meanwhile to something else stops the push for the
    agent to choose; otherwise the PATCH is built from LiveDesk's current object.
    """
    claimed = leased if leased is not None else _push_claim(edit_id=edit_id)
    if isinstance(claimed, PushResult):
        return claimed
    edit = claimed
    client = client or LiveDeskClient()
    read_at = timezone.now()
    started = time.monotonic()
    try:
        theirs = client.contact_get(edit.contact.remote_id)
    except LiveDeskError as error:
        logger.warning("Read before the push of edit %s failed: %s", edit.pk, error.message)
        failed = Attempt(read_ms=_ms_since(started))
        return PushResult(
            _push_failed(edit=edit, error=error, read=None, attempt=failed), Push.FAILED, error
        )
    # The edit's changes never change once it is leased: compared without a transaction.
    read = LiveDeskRead(contact=theirs, at=read_at, ms=_ms_since(started))
    conflicts = livedesk_conflicts(edit=edit, livedesk=_values_of(theirs))
    if conflicts:
        return PushResult(_conflict_record(edit=edit, read=read, keys=conflicts), Push.CONFLICT)
    social = theirs.additional_attributes.get("social_profiles")
    read.request_body = patch_body_build(
        changes=edit_changes(edit), social_profiles=social if isinstance(social, dict) else {}
    )
    sent_at = timezone.now()
    started = time.monotonic()
    try:
        answer = client.contact_update(edit.contact.remote_id, read.request_body)
    except LiveDeskError as error:
        logger.warning("Push of edit %s failed: %s", edit.pk, error.message)
        attempt = Attempt(read_ms=read.ms, patch_ms=_ms_since(started))
        return PushResult(
            _push_failed(edit=edit, error=error, read=read, attempt=attempt), Push.FAILED, error
        )
    attempt = Attempt(read_ms=read.ms, patch_ms=_ms_since(started))
    edit = _push_succeeded(
        edit=edit,
        read=read,
        remote=answer.contact,
        status=answer.status,
        sent_at=sent_at,
        attempt=attempt,
    )
    return PushResult(edit, Push.DELIVERED)


def _ms_since(started: float) -> float:
    return round((time.monotonic() - started) * 1000, 1)


@dataclass(frozen=True)
class Attempt:
    """How long an attempt's calls took, in milliseconds (None: not made)."""

    read_ms: float | None = None
    patch_ms: float | None = None

    def event(
        self,
        edit: ContactEdit,
        *,
        read: LiveDeskRead | None,
        response: dict[str, Any] | None = None,
        error: LiveDeskError | None = None,
        conflicts: list[str] | None = None,
    ) -> audit.Event:
        """The audit event of this attempt: the read, the PATCH sent and what came back."""
        path = f"{CONTACTS_PATH}/{edit.contact.remote_id}"
        sent = read is not None and read.request_body is not None
        return audit.edit_attempted(
            edit,
            read={
                "method": "GET",
                "path": path,
                "ms": self.read_ms,
                "body": read.contact.payload if read is not None else None,
            },
            request=(
                {"method": "PATCH", "path": path, "body": read.request_body, "ms": self.patch_ms}
                if sent
                else None
            ),
            response=response,
            error=(
                {"status": error.status, "message": error.message, "body": error.body}
                if error is not None
                else None
            ),
            conflicts=conflicts,
        )


@dataclass
class LiveDeskRead:
    """LiveDesk's contact as read before a push, when it was asked for, and the PATCH body
    built from it; all recorded with the push's outcome."""

    contact: RemoteContact
    at: datetime
    ms: float | None = None
    request_body: dict[str, Any] | None = None

    def edit_values(self) -> dict[str, Any]:
        values: dict[str, Any] = {"livedesk_before": self.contact.payload}
        if self.request_body is not None:
            values["request_body"] = self.request_body
        return values


def _push_claim(*, edit_id: int) -> PushResult | ContactEdit:
    """Lease the edit for its calls, or say why it is not sent now: one transaction, the
    contact's row locked (the app's one lock order: every write of an edit holds it), its
    unfinished edits read once, the lease written in one guarded UPDATE."""
    with transaction.atomic():
        # Only what a push reads of it: the outcome's transaction reads the whole row again.
        contact = (
            Contact.objects.select_for_update(of=("self",)).only("remote_id").get(edits__id=edit_id)
        )
        # Read the time once the lock is held: it orders this push among the others.
        now = timezone.now()
        unfinished = list(contact.edits.filter(state__in=ContactEdit.UNFINISHED_STATES).order_by())
        edit = next((edit for edit in unfinished if edit.pk == edit_id), None)
        if edit is None:
            edit = ContactEdit.objects.get(pk=edit_id)
            edit.contact = contact
            return PushResult(edit, Push.FINISHED)
        edit.contact = contact
        if any(other.in_flight_until and other.in_flight_until > now for other in unfinished):
            return PushResult(edit, Push.BUSY)
        place = (edit.created_at, edit.pk)
        if any(is_queued(other) and (other.created_at, other.pk) < place for other in unfinished):
            return PushResult(edit, Push.WAITING)
        edit.transition(**lease(edit, now=now))
    return edit


def lease(edit: ContactEdit, *, now: datetime) -> dict[str, Any]:
    """What leasing the edit to one push writes on it. No task is enqueued for the lease's end:
    if this process dies mid-call, the periodic sweep (see sweep) takes the edit up then."""
    lease_end = now + timedelta(seconds=settings.LIVEDESK_PUSH_LEASE_SECONDS)
    return {
        "attempts": edit.attempts + 1,
        "last_attempt_at": now,
        "in_flight_until": lease_end,
        "next_attempt_at": lease_end,
    }


def _values_of(remote: RemoteContact) -> dict[str, Any]:
    """A contact's editable values as LiveDesk answered them."""
    return contact_values(Contact(**mirror_values(remote)))


def edit_changes(edit: ContactEdit) -> dict[str, tuple[Any, Any]]:
    """The edit's changes as field key -> (before, after)."""
    return {change["field"]: (change.get("before"), change.get("after")) for change in edit.changes}


def livedesk_conflicts(*, edit: ContactEdit, livedesk: dict[str, Any]) -> list[str]:
    """The fields LiveDesk changed since the edit's form opened, to a value neither shown to
    its agent nor the one it sets: sending the edit would overwrite them unseen."""
    conflicts = []
    for change in edit.changes:
        key = change["field"]
        base = change.get("base", change.get("before"))
        accepted = (base, change.get("seen", base), change.get("after"))
        if livedesk.get(key) not in accepted:
            conflicts.append(key)
    return conflicts


def _conflict_record(*, edit: ContactEdit, read: LiveDeskRead, keys: list[str]) -> ContactEdit:
    message = (
        "Changed by someone else since this edit was made, so it was not sent: "
        + ", ".join(field_label(key) for key in keys)
        + ". Edit and resend it to choose the values."
    )
    with transaction.atomic():
        contact = _contact_locked(edit)
        left = edit.transition(
            state=State.FAILED,
            failure_kind=FailureKind.CONFLICT,
            http_status=None,
            response_body=None,
            error_message=message,
            in_flight_until=None,
            next_attempt_at=None,
        )
        contact_row_write(contact, edit=edit, left=left, answers=[_read_answer(read)])
        _next_queued_due(contact)
        attempt = Attempt(read_ms=read.ms)
        audit.events_append([attempt.event(edit, read=read, conflicts=keys)])
    return edit


def _push_succeeded(
    *,
    edit: ContactEdit,
    read: LiveDeskRead,
    remote: RemoteContact,
    status: int,
    sent_at: datetime,
    attempt: Attempt,
) -> ContactEdit:
    """Record a delivery: LiveDesk's answers in the mirror, the edit's outcome, the contact's
    push state and its next queued edit made due, in one transaction."""
    with transaction.atomic():
        contact = _contact_locked(edit)
        left = edit.transition(
            state=State.SUCCEEDED,
            failure_kind="",
            http_status=status,
            response_body={"payload": remote.payload},
            error_message="",
            in_flight_until=None,
            next_attempt_at=None,
            finished_at=timezone.now(),
            **read.edit_values(),
        )
        if left is None:
            # Its lease ran out and another process delivered it too: the history has it once.
            logger.warning("Edit %s was delivered twice after its lease ran out", edit.pk)
            edit.refresh_from_db()
        answers = [_read_answer(read), (remote, sent_at, "")]
        contact_row_write(contact, edit=edit, left=left, answers=answers)
        if left is not None:
            _next_queued_due(contact)
        response = {"status": status, "body": remote.payload}
        audit.events_append([attempt.event(edit, read=read, response=response)])
    return edit


def _push_failed(
    *, edit: ContactEdit, error: LiveDeskError, read: LiveDeskRead | None, attempt: Attempt
) -> ContactEdit:
    """Record a failed read or PATCH (`read` holds the read's answer when the PATCH failed)."""
    sent = read is not None and read.request_body is not None
    with transaction.atomic():
        contact = _contact_locked(edit)
        now = timezone.now()
        in_flight_until = None
        next_attempt_at = _next_attempt_at(edit=edit, error=error, now=now)
        if sent and error.outcome_unknown:
            # LiveDesk may still apply this call: hold the contact so that no newer push lands
            # before it, and send it again only after that.
            grace = timedelta(seconds=settings.LIVEDESK_UNKNOWN_OUTCOME_GRACE_SECONDS)
            in_flight_until = now + grace
            if next_attempt_at is not None:
                next_attempt_at = max(next_attempt_at, in_flight_until)
        left = edit.transition(
            state=State.FAILED,
            failure_kind=FailureKind.TRANSIENT if error.transient else FailureKind.PERMANENT,
            http_status=error.status,
            response_body=error.body,
            error_message=error.message,
            in_flight_until=in_flight_until,
            next_attempt_at=next_attempt_at,
            **(read.edit_values() if read is not None else {}),
        )
        if left is None:
            edit.refresh_from_db()
            audit.events_append([attempt.event(edit, read=read, error=error)])
            return edit
        gone_at = now if isinstance(error, LiveDeskNotFound) else None
        answers = [_read_answer(read)] if read is not None else []
        contact_row_write(contact, edit=edit, left=left, answers=answers, gone_at=gone_at)
        if next_attempt_at is not None:
            if edit.batch_id is None:
                transaction.on_commit(
                    lambda: retry_schedule(edit_id=edit.pk, run_after=next_attempt_at)
                )
        else:
            # It now waits for the agent: the edits queued behind it go on.
            _next_queued_due(contact)
        audit.events_append([attempt.event(edit, read=read, error=error)])
    return edit


def _contact_locked(edit: ContactEdit) -> Contact:
    contact = Contact.objects.select_for_update().get(pk=edit.contact_id)
    edit.contact = contact
    return contact


def _read_answer(read: LiveDeskRead) -> tuple[RemoteContact, datetime, str]:
    return read.contact, read.at, ContactEdit.SeenVia.PUSH


def _next_attempt_at(*, edit: ContactEdit, error: LiveDeskError, now: datetime) -> datetime | None:
    if not error.transient or edit.attempts >= settings.LIVEDESK_PUSH_MAX_ATTEMPTS:
        return None
    delay = min(
        settings.LIVEDESK_PUSH_BACKOFF_SECONDS * 2 ** (edit.attempts - 1),
        settings.LIVEDESK_PUSH_BACKOFF_MAX_SECONDS,
    )
    retry_after = min(getattr(error, "retry_after", None) or 0, settings.LIVEDESK_RETRY_AFTER_MAX)
    return now + timedelta(seconds=max(delay, retry_after))


def _next_queued_due(contact: Contact) -> None:
    """Make the contact's next queued edit due now, if it is pending, and ask the worker for it
    once this transaction commits (inside the caller's, the contact locked). A batch's edit is
    left to the batch's delivery, which sends it at the batch rate (see batch_delivery)."""
    if not contact.has_unfinished_edits:
        return
    following = queued_edits(contact).first()
    if following is None:
        return
    if following.state == State.PENDING and following.next_attempt_at > timezone.now():
        following.transition(next_attempt_at=timezone.now())
    if following.batch_id is not None:
        return
    run_after = following.next_attempt_at
    transaction.on_commit(lambda: retry_schedule(edit_id=following.pk, run_after=run_after))


def retry_schedule(*, edit_id: int, run_after: datetime) -> None:
    """Ask the worker to push the edit at `run_after`; the periodic sweep is the backstop."""
    try:
        edit_push_task.using(run_after=run_after).enqueue(edit_id)
    except Exception:  # the periodic sweep still finds the edit
        logger.exception("Could not schedule a push of edit %s", edit_id)


def edits_due(*, now: datetime) -> QuerySet[ContactEdit]:
    """Edits the worker should push now: pending or failed transiently, their time come, and
    not in flight (or their lease run out: the process pushing them was killed). A batch's
    edits are not among them: its delivery sends them at the batch rate (see batch_delivery)."""
    return ContactEdit.objects.filter(
        Q(state=State.PENDING) | Q(state=State.FAILED, failure_kind=FailureKind.TRANSIENT),
        Q(in_flight_until__isnull=True) | Q(in_flight_until__lte=now),
        next_attempt_at__lte=now,
        batch__isnull=True,
    )


def edit_push_if_due(*, edit_id: int, now: datetime | None = None) -> ContactEdit | None:
    """Push one edit if it is still due; None if it finished or waits for the agent meanwhile."""
    if not edits_due(now=now or timezone.now()).filter(pk=edit_id).exists():
        return None
    return edit_push(edit_id=edit_id).edit


@task()
def edit_push_task(edit_id: int) -> str:
    """Deliver one edit whose time has come: a retry, or the next in its contact's queue (an
    edit its own request never sent, or whose lease ran out, is the periodic sweep's)."""
    edit = edit_push_if_due(edit_id=edit_id)
    return "not due" if edit is None else edit.state
