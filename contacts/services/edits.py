"""Agents' edits: recorded in the outbox, then pushed; discarded; block and unblock."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.utils import timezone, translation

from contacts.fields import Values, contact_values, field_label, patch_body_build, values_diff
from contacts.models import Contact, ContactEdit
from contacts.services.push import (
    ORPHANED_PENDING_AFTER,
    PushResult,
    contact_push_state_refresh,
    edit_push,
    retry_schedule,
)


@dataclass(frozen=True)
class FieldConflict:
    field: str
    label: str
    base: Any
    theirs: Any
    yours: Any


class EditConflict(Exception):
    """The contact changed since the form was opened, on fields this edit changes too."""

    def __init__(self, conflicts: list[FieldConflict], *, current_version: int):
        self.conflicts = conflicts
        self.current_version = current_version
        super().__init__(", ".join(conflict.label for conflict in conflicts))


class EditOutcome(StrEnum):
    """What became of a submitted edit, as the agent must be told it."""

    SAVED = "saved"  # LiveDesk accepted it
    NO_CHANGE = "no_change"  # nothing differed: nothing recorded or sent
    CONFLICT = "conflict"  # someone else changed the same fields: nothing recorded or sent
    REJECTED = "rejected"  # LiveDesk refused the values (422): the agent must change them
    QUEUED = "queued"  # LiveDesk failed for now: the worker retries it
    FAILED = "failed"  # LiveDesk failed for good: kept for the agent to retry or discard


@dataclass(frozen=True)
class EditSubmission:
    outcome: EditOutcome
    edit: ContactEdit | None = None
    conflicts: list[FieldConflict] = field(default_factory=list)
    # LiveDesk's messages for a rejection, by the names LiveDesk used.
    field_errors: dict[str, list[str]] = field(default_factory=dict)


def contact_edit_submit(
    *,
    contact: Contact,
    editor: AbstractBaseUser,
    values: Values,
    base_values: Values,
    base_version: int,
    source: str = ContactEdit.Source.AGENT,
) -> EditSubmission:
    """Record an edit in the outbox, commit it, then push it; say what became of it."""
    try:
        edit = contact_edit_record(
            contact=contact,
            editor=editor,
            values=values,
            base_values=base_values,
            base_version=base_version,
            source=source,
        )
    except EditConflict as conflict:
        return EditSubmission(EditOutcome.CONFLICT, conflicts=conflict.conflicts)
    if edit is None:
        return EditSubmission(EditOutcome.NO_CHANGE)
    return _submission(edit_push(edit_id=edit.pk))


def _submission(result: PushResult) -> EditSubmission:
    edit = result.edit
    if edit.state == ContactEdit.State.SUCCEEDED:
        outcome = EditOutcome.SAVED
    elif edit.failure_kind == ContactEdit.FailureKind.TRANSIENT and edit.next_attempt_at:
        outcome = EditOutcome.QUEUED
    elif result.rejected:
        outcome = EditOutcome.REJECTED
    else:
        outcome = EditOutcome.FAILED
    return EditSubmission(outcome, edit, field_errors=result.field_errors)


def contact_edit_record(
    *,
    contact: Contact,
    editor: AbstractBaseUser,
    values: Values,
    base_values: Values,
    base_version: int,
    source: str,
) -> ContactEdit | None:
    """Write the edit as `pending` (the outbox) in one transaction; None when nothing changed.

    Raises EditConflict when another change since `base_version` touched the same fields.
    """
    with transaction.atomic():
        locked = Contact.objects.select_for_update().get(pk=contact.pk)
        current = contact_values(locked)
        if base_version == locked.version:
            base_values = current
        yours = values_diff(base_values, values)
        theirs = values_diff(base_values, current)
        conflicts = [
            FieldConflict(
                field=key,
                label=field_label(key),
                base=base_values.get(key),
                theirs=current.get(key),
                yours=values.get(key),
            )
            for key in yours
            if key in theirs and values.get(key) != current.get(key)
        ]
        if conflicts:
            raise EditConflict(conflicts, current_version=locked.version)
        changes = {
            key: (current.get(key), after)
            for key, (_before, after) in yours.items()
            if current.get(key) != after
        }
        if not changes:
            return None
        now = timezone.now()
        for unfinished in locked.edits.filter(state__in=ContactEdit.UNFINISHED_STATES):
            unfinished.state = ContactEdit.State.SUPERSEDED
            unfinished.next_attempt_at = None
            unfinished.finished_at = now
            unfinished.finished_by = editor
            unfinished.save(
                update_fields=["state", "next_attempt_at", "finished_at", "finished_by"]
            )
        edit = ContactEdit.objects.create(
            contact=locked,
            editor=editor,
            editor_username=editor.get_username(),
            source=source,
            base_version=base_version,
            changes=[
                {"field": key, "label": _english_label(key), "before": before, "after": after}
                for key, (before, after) in changes.items()
            ],
            request_body=patch_body_build(contact=locked, changes=changes),
            created_at=now,
        )
        contact_push_state_refresh(locked)
        # A safety net: if this process stops before the push, the worker sends the edit later.
        transaction.on_commit(
            lambda: retry_schedule(edit_id=edit.pk, run_after=now + ORPHANED_PENDING_AFTER)
        )
    return edit


def _english_label(key: str) -> str:
    # The audit row keeps one stable label; pages translate the field key when they show it.
    with translation.override("en"):
        return field_label(key)


def edit_discard(*, edit: ContactEdit, user: AbstractBaseUser) -> ContactEdit:
    """Give up an unsent edit; the history keeps it, marked discarded, with who did it."""
    with transaction.atomic():
        locked = ContactEdit.objects.select_for_update().get(pk=edit.pk)
        if not locked.is_unfinished:
            return locked
        locked.state = ContactEdit.State.DISCARDED
        locked.next_attempt_at = None
        locked.finished_at = timezone.now()
        locked.finished_by = user
        locked.save(update_fields=["state", "next_attempt_at", "finished_at", "finished_by"])
        contact_push_state_refresh(locked.contact)
    return locked


def contacts_set_blocked(
    *, contacts: Iterable[Contact], blocked: bool, editor: AbstractBaseUser
) -> list[tuple[Contact, EditSubmission]]:
    """Block or unblock each contact through the edit service: each a pushed, recorded edit."""
    outcomes = []
    for contact in contacts:
        values = contact_values(contact)
        submission = contact_edit_submit(
            contact=contact,
            editor=editor,
            values={**values, "blocked": blocked},
            base_values=values,
            base_version=contact.version,
            source=ContactEdit.Source.ADMIN_ACTION,
        )
        outcomes.append((contact, submission))
    return outcomes
