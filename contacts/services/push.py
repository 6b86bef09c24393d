"""Delivering recorded edits to LiveDesk: one push in flight per contact, in the order recorded.

A push claims its edit in one transaction (the contact's row locked first, then the edit's: the
one lock order of the app), leases it for the call's longest possible duration, calls PATCH,
and records the outcome in another transaction. A process killed mid-call leaves a lease that
runs out, after which the edit is due again; an answer older than the mirror's state never
replaces it.
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
from contacts.models import Contact, ContactEdit
from contacts.services.mirror import mirror_apply, mirror_values

logger = logging.getLogger(__name__)

# What a push's outcome writes on the edit.
OUTCOME_FIELDS = (
    "state",
    "failure_kind",
    "http_status",
    "response_body",
    "error_message",
    "in_flight_until",
    "next_attempt_at",
)
# A pending edit not pushed by then was orphaned (its process stopped before the push).
ORPHANED_PENDING_AFTER = timedelta(minutes=2)
# How often a Save waiting for an earlier edit of the same contact looks again.
WAIT_POLL_SECONDS = 0.1
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


@dataclass
class PushSummary:
    attempted: int = 0
    succeeded: int = 0
    failed: int = 0


def queued_edits(contact: Contact) -> QuerySet[ContactEdit]:
    """The contact's edits still on their way to LiveDesk without the agent, oldest first:
    pending ones, and transient failures with a retry scheduled."""
    return contact.edits.filter(
        Q(state=State.PENDING)
        | Q(state=State.FAILED, failure_kind=FailureKind.TRANSIENT, next_attempt_at__isnull=False)
    ).order_by("created_at", "id")


def edit_push(*, edit_id: int, client: LiveDeskClient | None = None) -> PushResult:
    """Send one recorded edit to LiveDesk if it is its turn, and record the outcome.

    Read before write: the contact is read from LiveDesk first, and each changed field is
    compared three ways (what the agent's form was based on, what LiveDesk holds now, what the
    agent saved). A field LiveDesk changed meanwhile to something else stops the push for the
    agent to choose; otherwise the PATCH is built from LiveDesk's current object.
    """
    claimed = _push_claim(edit_id=edit_id)
    if isinstance(claimed, PushResult):
        return claimed
    edit = claimed
    client = client or LiveDeskClient()
    read_at = timezone.now()
    try:
        theirs = client.contact_get(edit.contact.remote_id)
    except LiveDeskError as error:
        logger.warning("Read before the push of edit %s failed: %s", edit.pk, error.message)
        return PushResult(_push_failed(edit=edit, error=error, sent=False), Push.FAILED, error)
    prepared = _push_prepare(edit=edit, theirs=theirs, read_at=read_at)
    if isinstance(prepared, PushResult):
        return prepared
    sent_at = timezone.now()
    try:
        answer = client.contact_update(edit.contact.remote_id, prepared.request_body)
    except LiveDeskError as error:
        logger.warning("Push of edit %s failed: %s", edit.pk, error.message)
        return PushResult(_push_failed(edit=prepared, error=error, sent=True), Push.FAILED, error)
    edit = _push_succeeded(
        edit=prepared, remote=answer.contact, status=answer.status, sent_at=sent_at
    )
    return PushResult(edit, Push.DELIVERED)


def _push_claim(*, edit_id: int) -> PushResult | ContactEdit:
    """Lease the edit for its calls, or say why it is not sent now."""
    contact_id = ContactEdit.objects.values_list("contact_id", flat=True).get(pk=edit_id)
    with transaction.atomic():
        contact = Contact.objects.select_for_update().get(pk=contact_id)
        edit = ContactEdit.objects.select_for_update().get(pk=edit_id)
        # Read the time once the locks are held: it orders this push among the others.
        now = timezone.now()
        edit.contact = contact
        if not edit.is_unfinished:
            return PushResult(edit, Push.FINISHED)
        unfinished = contact.edits.filter(state__in=ContactEdit.UNFINISHED_STATES)
        if unfinished.filter(in_flight_until__gt=now).exists():
            return PushResult(edit, Push.BUSY)
        earlier = Q(created_at__lt=edit.created_at) | Q(created_at=edit.created_at, id__lt=edit.pk)
        if queued_edits(contact).filter(earlier).exists():
            return PushResult(edit, Push.WAITING)
        edit.attempts += 1
        edit.last_attempt_at = now
        edit.in_flight_until = now + timedelta(seconds=settings.LIVEDESK_PUSH_LEASE_SECONDS)
        edit.next_attempt_at = edit.in_flight_until
        edit.save(
            update_fields=["attempts", "last_attempt_at", "in_flight_until", "next_attempt_at"]
        )
        # If this process dies mid-call, the worker takes the edit up when the lease runs out.
        lease_end = {"edit_id": edit.pk, "run_after": edit.in_flight_until}
        transaction.on_commit(lambda: retry_schedule(**lease_end))
    return edit


def _push_prepare(
    *, edit: ContactEdit, theirs: RemoteContact, read_at: datetime
) -> PushResult | ContactEdit:
    """Take in what LiveDesk holds, then stop on a conflict or write down the PATCH to send."""
    with transaction.atomic():
        contact = Contact.objects.select_for_update().get(pk=edit.contact_id)
        locked = ContactEdit.objects.select_for_update().get(pk=edit.pk)
        mirror_apply(
            contact=contact, remote=theirs, as_of=read_at, seen_via=ContactEdit.SeenVia.PUSH
        )
        locked.contact = contact
        conflicts = livedesk_conflicts(edit=locked, livedesk=_values_of(theirs))
        if conflicts:
            _conflict_record(edit=locked, contact=contact, keys=conflicts)
            return PushResult(locked, Push.CONFLICT)
        social = theirs.additional_attributes.get("social_profiles")
        locked.request_body = patch_body_build(
            changes=edit_changes(locked), social_profiles=social if isinstance(social, dict) else {}
        )
        locked.livedesk_before = theirs.payload
        locked.save(update_fields=["request_body", "livedesk_before"])
    return locked


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


def _conflict_record(*, edit: ContactEdit, contact: Contact, keys: list[str]) -> None:
    edit.state = State.FAILED
    edit.failure_kind = FailureKind.CONFLICT
    edit.http_status = None
    edit.response_body = None
    edit.error_message = (
        "Changed by someone else since this edit was made, so it was not sent: "
        + ", ".join(field_label(key) for key in keys)
        + ". Edit and resend it to choose the values."
    )
    edit.in_flight_until = None
    edit.next_attempt_at = None
    edit.save(update_fields=list(OUTCOME_FIELDS))
    contact_push_state_refresh(contact)
    transaction.on_commit(lambda: _next_queued_kick(contact_id=contact.pk))


def _push_succeeded(
    *, edit: ContactEdit, remote: RemoteContact, status: int, sent_at: datetime
) -> ContactEdit:
    with transaction.atomic():
        contact = Contact.objects.select_for_update().get(pk=edit.contact_id)
        locked = ContactEdit.objects.select_for_update().get(pk=edit.pk)
        now = timezone.now()
        mirror_apply(contact=contact, remote=remote, as_of=sent_at)
        locked.contact = contact
        if not locked.is_unfinished:
            # Its lease ran out and another process delivered it too: the history has it once.
            logger.warning("Edit %s was delivered twice after its lease ran out", edit.pk)
            return locked
        locked.state = State.SUCCEEDED
        locked.failure_kind = ""
        locked.http_status = status
        locked.response_body = {"payload": remote.payload}
        locked.error_message = ""
        locked.in_flight_until = None
        locked.next_attempt_at = None
        locked.finished_at = now
        locked.save(update_fields=[*OUTCOME_FIELDS, "finished_at"])
        contact_push_state_refresh(contact)
        transaction.on_commit(lambda: _next_queued_kick(contact_id=contact.pk))
    return locked


def _push_failed(*, edit: ContactEdit, error: LiveDeskError, sent: bool) -> ContactEdit:
    with transaction.atomic():
        contact = Contact.objects.select_for_update().get(pk=edit.contact_id)
        locked = ContactEdit.objects.select_for_update().get(pk=edit.pk)
        now = timezone.now()
        locked.contact = contact
        if not locked.is_unfinished:
            return locked
        locked.state = State.FAILED
        locked.failure_kind = FailureKind.TRANSIENT if error.transient else FailureKind.PERMANENT
        locked.http_status = error.status
        locked.response_body = error.body
        locked.error_message = error.message
        locked.in_flight_until = None
        locked.next_attempt_at = _next_attempt_at(edit=locked, error=error, now=now)
        if sent and error.outcome_unknown:
            # LiveDesk may still apply this call: hold the contact so that no newer push lands
            # before it, and send it again only after that.
            grace = timedelta(seconds=settings.LIVEDESK_UNKNOWN_OUTCOME_GRACE_SECONDS)
            locked.in_flight_until = now + grace
            if locked.next_attempt_at is not None:
                locked.next_attempt_at = max(locked.next_attempt_at, locked.in_flight_until)
        locked.save(update_fields=list(OUTCOME_FIELDS))
        if isinstance(error, LiveDeskNotFound):
            Contact.objects.filter(pk=contact.pk, gone_at__isnull=True).update(gone_at=now)
        contact_push_state_refresh(contact)
        retry_at = locked.next_attempt_at
        if retry_at is not None:
            transaction.on_commit(lambda: retry_schedule(edit_id=locked.pk, run_after=retry_at))
        else:
            # It now waits for the agent: the edits queued behind it go on.
            transaction.on_commit(lambda: _next_queued_kick(contact_id=contact.pk))
    return locked


def _next_attempt_at(*, edit: ContactEdit, error: LiveDeskError, now: datetime) -> datetime | None:
    if not error.transient or edit.attempts >= settings.LIVEDESK_PUSH_MAX_ATTEMPTS:
        return None
    delay = min(
        settings.LIVEDESK_PUSH_BACKOFF_SECONDS * 2 ** (edit.attempts - 1),
        settings.LIVEDESK_PUSH_BACKOFF_MAX_SECONDS,
    )
    retry_after = min(getattr(error, "retry_after", None) or 0, settings.LIVEDESK_RETRY_AFTER_MAX)
    return now + timedelta(seconds=max(delay, retry_after))


def _next_queued_kick(*, contact_id: int) -> None:
    """Make the contact's next queued edit due now, if it is pending, and ask the worker for it."""
    now = timezone.now()
    with transaction.atomic():
        contact = Contact.objects.select_for_update().filter(pk=contact_id).first()
        following = queued_edits(contact).first() if contact is not None else None
        if following is None:
            return
        if following.state == State.PENDING and following.next_attempt_at > now:
            following.next_attempt_at = now
            following.save(update_fields=["next_attempt_at"])
    retry_schedule(edit_id=following.pk, run_after=following.next_attempt_at)


def retry_schedule(*, edit_id: int, run_after: datetime) -> None:
    """Ask the worker to push the edit at `run_after`; the `push_pending` sweep is the backstop."""
    try:
        edit_push_task.using(run_after=run_after).enqueue(edit_id)
    except Exception:  # the periodic `push_pending` sweep still finds the edit
        logger.exception("Could not schedule a push of edit %s", edit_id)


def contact_push_state_refresh(contact: Contact) -> None:
    """Set the contact's push state from its unfinished edits: failed, pending or in sync."""
    states = set(
        contact.edits.filter(state__in=ContactEdit.UNFINISHED_STATES).values_list(
            "state", flat=True
        )
    )
    if State.FAILED in states:
        push_state = Contact.PushState.FAILED
    elif State.PENDING in states:
        push_state = Contact.PushState.PENDING
    else:
        push_state = Contact.PushState.IN_SYNC
    if contact.push_state != push_state:
        contact.push_state = push_state
        Contact.objects.filter(pk=contact.pk).update(push_state=push_state)


def _edits_due(*, now: datetime) -> QuerySet[ContactEdit]:
    """Edits the worker should push now: pending or failed transiently, their time come, and
    not in flight (or their lease run out: the process pushing them was killed)."""
    return ContactEdit.objects.filter(
        Q(state=State.PENDING) | Q(state=State.FAILED, failure_kind=FailureKind.TRANSIENT),
        Q(in_flight_until__isnull=True) | Q(in_flight_until__lte=now),
        next_attempt_at__lte=now,
    )


def edit_push_if_due(*, edit_id: int, now: datetime | None = None) -> ContactEdit | None:
    """Push one edit if it is still due; None if it finished or waits for the agent meanwhile."""
    if not _edits_due(now=now or timezone.now()).filter(pk=edit_id).exists():
        return None
    return edit_push(edit_id=edit_id).edit


def edits_push_due(
    *, now: datetime | None = None, client: LiveDeskClient | None = None
) -> PushSummary:
    """Push once every edit due for delivery, oldest first; one failing edit stops no other."""
    summary = PushSummary()
    client = client or LiveDeskClient()
    due = _edits_due(now=now or timezone.now())
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


def edit_deliver(*, edit_id: int, budget_seconds: float) -> tuple[PushResult, ContactEdit]:
    """Push an edit within an agent's wait: past the budget it stays queued for the worker.

    Waits while an earlier edit of the contact goes first, and follows the edit into the newer
    edit its values were carried into. Answers the last push and the edit it concerned.
    """
    deadline = time.monotonic() + budget_seconds
    connect, read = settings.LIVEDESK_TIMEOUT
    client = LiveDeskClient(
        timeout=(min(connect, budget_seconds), min(read, budget_seconds)),
        retries=min(1, settings.LIVEDESK_RETRIES),
        retry_after_cap=min(1.0, budget_seconds),
    )
    with client:
        while True:
            result = edit_push(edit_id=edit_id, client=client)
            edit = result.edit
            if edit.state == State.SUPERSEDED and edit.carried_into_id:
                edit_id = edit.carried_into_id
                continue
            if result.outcome in (Push.WAITING, Push.BUSY) and time.monotonic() < deadline:
                time.sleep(WAIT_POLL_SECONDS)
                continue
            return result, edit


def edit_retry(*, edit: ContactEdit) -> PushResult:
    """Send an unfinished edit again now, at the agent's request."""
    return edit_deliver(edit_id=edit.pk, budget_seconds=settings.LIVEDESK_SAVE_BUDGET_SECONDS)[0]


@task()
def edit_push_task(edit_id: int) -> str:
    """Deliver one edit whose time has come: a retry, the next in its contact's queue, or one
    which its own request never sent."""
    edit = edit_push_if_due(edit_id=edit_id)
    return "not due" if edit is None else edit.state
