"""Where a contact's unfinished edits stand, read from what their pushes stored on them.

The contact page says one thing about each unfinished edit (a card, and the field's pending
value beside the mirror's) and the list's badge follows the same state: both read this module.
The words live in the templates; this module tells which case it is.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from functools import cached_property
from typing import Any

from django.utils import timezone

from contacts.fields import CUSTOM_PREFIX
from contacts.models import ContactEdit

State = ContactEdit.State
FailureKind = ContactEdit.FailureKind

# The client's own sentences for a failure without an answer (contacts/livedesk/client.py).
TIMED_OUT_PREFIX = "LiveDesk did not answer"
UNREACHABLE_PREFIXES = ("Could not connect to LiveDesk", "Could not reach LiveDesk")
# An answer's status as the client words it ("LiveDesk failed with HTTP 503; ...").
STATUS_IN_MESSAGE = re.compile(r"\bHTTP (\d{3})\b")


class Cause(StrEnum):
    """What became of the last call to LiveDesk."""

    NOT_TRIED = "not_tried"  # no attempt yet, or one on its way
    ANSWERED = "answered"  # LiveDesk answered with an error status
    TIMED_OUT = "timed_out"  # LiveDesk did not answer in time
    UNREACHABLE = "unreachable"  # no connection to LiveDesk
    CONFLICT = "conflict"  # LiveDesk changed a field of the edit meanwhile
    OTHER = "other"  # any other failure: its message says it


def failure_cause(*, status: int | None, message: str) -> tuple[Cause, int | None]:
    """The cause of a failed call and LiveDesk's status, from what the client reported."""
    if status is None:
        found = STATUS_IN_MESSAGE.search(message or "")
        status = int(found.group(1)) if found else None
    if status is not None:
        return Cause.ANSWERED, status
    if (message or "").startswith(TIMED_OUT_PREFIX):
        return Cause.TIMED_OUT, None
    if (message or "").startswith(UNREACHABLE_PREFIXES):
        return Cause.UNREACHABLE, None
    return Cause.OTHER, None


@dataclass(frozen=True)
class EditStatus:
    """One unfinished edit: why it is not in LiveDesk yet and what happens next."""

    edit: ContactEdit
    cause: Cause
    status: int | None
    # Seconds until the next automatic try; None when none is planned.
    next_try_seconds: int | None

    @property
    def retrying(self) -> bool:
        """It will be sent again by itself (or is being sent now)."""
        return self.edit.state == State.PENDING or self.next_try_seconds is not None

    @property
    def needs_agent(self) -> bool:
        """Failed for good: only an agent's retry, resend or discard moves it on."""
        return not self.retrying


def edit_status(edit: ContactEdit, *, now: datetime | None = None) -> EditStatus:
    now = now or timezone.now()
    if edit.state == State.FAILED and edit.failure_kind == FailureKind.CONFLICT:
        cause, status = Cause.CONFLICT, None
    elif edit.state == State.FAILED or edit.error_message:
        cause, status = failure_cause(status=edit.http_status, message=edit.error_message)
    else:
        cause, status = Cause.NOT_TRIED, None
    next_try = None
    transient = edit.state == State.FAILED and edit.failure_kind == FailureKind.TRANSIENT
    if transient and edit.next_attempt_at is not None:
        next_try = max(0, round((edit.next_attempt_at - now).total_seconds()))
    return EditStatus(edit=edit, cause=cause, status=status, next_try_seconds=next_try)


@dataclass(frozen=True)
class PendingValue:
    """A field's value in an unfinished edit: what it will be once LiveDesk has it."""

    value: Any
    status: EditStatus


@dataclass(frozen=True)
class ContactEditState:
    """All the unfinished edits of one contact, newest first, and the values they carry."""

    statuses: list[EditStatus] = field(default_factory=list)

    @property
    def settled(self) -> bool:
        """Nothing will change by itself: no edit is on its way or waiting for a retry."""
        return not any(status.retrying for status in self.statuses)

    @property
    def needs_agent(self) -> bool:
        return any(status.needs_agent for status in self.statuses)

    @cached_property
    def pending_values(self) -> dict[str, PendingValue]:
        """Field key -> its value in the newest unfinished edit that changes it."""
        values: dict[str, PendingValue] = {}
        for status in self.statuses:
            for change in status.edit.changes:
                values.setdefault(change["field"], PendingValue(change.get("after"), status))
        return values

    @property
    def pending_custom_values(self) -> dict[str, PendingValue]:
        """The pending values of custom attributes, by the attribute's own key."""
        return {
            key.removeprefix(CUSTOM_PREFIX): value
            for key, value in self.pending_values.items()
            if key.startswith(CUSTOM_PREFIX)
        }

    def as_json(self) -> dict[str, Any]:
        """The state for a script: the list's badge, a page's poll."""
        return {
            "unfinished": len(self.statuses),
            "settled": self.settled,
            "needs_agent": self.needs_agent,
        }


def contact_edit_state(
    edits: Iterable[ContactEdit], *, now: datetime | None = None
) -> ContactEditState:
    now = now or timezone.now()
    return ContactEditState([edit_status(edit, now=now) for edit in edits])
