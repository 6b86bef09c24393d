"""Agents' edits: recorded in the outbox, then delivered; discarded; block and unblock.

A contact's edits reach LiveDesk one at a time, in the order they were recorded (see push). An
edit recorded while earlier ones still wait carries their values: they are marked superseded,
`carried_into` the new edit, and reach LiveDesk with it. An edit is checked against what the
agent saw, LiveDesk's state in the mirror *and* the values still on their way: a value someone
else saved is never overwritten unless the agent was shown it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from datetime import datetime
from enum import StrEnum
from typing import Any

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.utils import timezone

from contacts.fields import (
    Values,
    contact_values,
    field_label,
    patch_body_build,
    values_diff,
    values_with_changes,
)
from contacts.models import Contact, ContactEdit
from contacts.services import audit
from contacts.services.carry import changes_carried, changes_rows, edits_carry
from contacts.services.contact_row import PUSH_STATE_FIELDS
from contacts.services.deliver import edit_deliver
from contacts.services.push import (
    ORPHANED_PENDING_AFTER,
    Push,
    PushResult,
    edit_changes,
    lease,
    livedesk_conflicts,
    queued_edits,
)


@dataclass(frozen=True)
class FieldConflict:
    field: str
    label: str
    base: Any
    theirs: Any
    yours: Any


class EditConflict(Exception):
    """Someone else changed, since the form was opened, fields this edit changes too."""

    def __init__(self, conflicts: list[FieldConflict], *, current_version: int):
        self.conflicts = conflicts
        self.current_version = current_version
        super().__init__(", ".join(conflict.label for conflict in conflicts))


class EditInFlight(Exception):
    """The edit is being sent to LiveDesk right now: it can be neither discarded nor changed."""


class EditOutcome(StrEnum):
    """What became of a submitted edit, as the agent must be told it."""

    SAVED = "saved"  # LiveDesk accepted it
    NO_CHANGE = "no_change"  # nothing differed: nothing recorded or sent
    CONFLICT = "conflict"  # someone else changed the same fields: nothing recorded or sent
    REJECTED = "rejected"  # LiveDesk refused the values (422): the agent must change them
    QUEUED = "queued"  # recorded, and sent by the worker: after an earlier edit, or a failure
    FAILED = "failed"  # not delivered: kept for the agent to retry, resend or discard


@dataclass(frozen=True)
class EditSubmission:
    outcome: EditOutcome
    edit: ContactEdit | None = None
    conflicts: list[FieldConflict] = field(default_factory=list)
    # LiveDesk's messages for a rejection, by the names LiveDesk used.
    field_errors: dict[str, list[str]] = field(default_factory=dict)
    # The edit that reached (or will reach) LiveDesk with this one's values, when another.
    carried_into: ContactEdit | None = None
    # Queued behind another edit of the same contact still being sent.
    waiting: bool = False
    # Fields the newer edit this one was carried into set again, to its agent's value.
    overridden: list[str] = field(default_factory=list)
    # A conflict's other changes, submitted without the conflicting fields (`deliver_the_rest`):
    # what became of them; None when there were none to send.
    rest: EditSubmission | None = None

    @property
    def held(self) -> list[str]:
        """The keys of the conflicting fields: not sent, waiting for the agent."""
        return [conflict.field for conflict in self.conflicts]


# How many times the rest of a conflicting edit is submitted again when yet another of its
# fields turns out to conflict (LiveDesk changed it just before the push).
REST_ROUNDS = 3


def contact_edit_submit(
    *,
    contact: Contact,
    editor: AbstractBaseUser,
    values: Values,
    base_values: Values,
    base_version: int,
    opened_values: Values | None = None,
    replaces: ContactEdit | None = None,
    source: str = ContactEdit.Source.AGENT,
    reverts: ContactEdit | None = None,
    deliver_the_rest: bool = False,
) -> EditSubmission:
    """Record an edit in the outbox, commit it, then deliver it within the agent's wait.

    With `deliver_the_rest`, a conflict holds back only the conflicting fields: the agent's
    other changes are submitted the same way, and the CONFLICT submission says in `rest` what
    became of them.
    """
    submission = _submit(
        contact=contact,
        editor=editor,
        values=values,
        base_values=base_values,
        base_version=base_version,
        opened_values=opened_values,
        replaces=replaces,
        source=source,
        reverts=reverts,
    )
    if submission.outcome != EditOutcome.CONFLICT or not deliver_the_rest:
        return submission
    conflicts = list(submission.conflicts)
    for _round in range(REST_ROUNDS):
        held = {conflict.field for conflict in conflicts}
        rest_values = _held_back(values, base_values=base_values, keys=held)
        if not values_diff(base_values, rest_values):
            break
        # The reopened edit is not replaced: its held values still wait on it for the agent.
        rest = _submit(
            contact=contact,
            editor=editor,
            values=rest_values,
            base_values=base_values,
            base_version=base_version,
            opened_values=opened_values,
            source=source,
        )
        if rest.outcome != EditOutcome.CONFLICT:
            return replace(submission, conflicts=conflicts, rest=rest)
        conflicts += [conflict for conflict in rest.conflicts if conflict.field not in held]
    return replace(submission, conflicts=conflicts)


def _held_back(values: Values, *, base_values: Values, keys: set[str]) -> Values:
    """`values` with the fields `keys` as the form opened them: those changes left out."""
    rest = dict(values)
    for key in keys:
        if key in base_values:
            rest[key] = base_values[key]
        else:
            rest.pop(key, None)
    return rest


def _submit(
    *,
    contact: Contact,
    editor: AbstractBaseUser,
    values: Values,
    base_values: Values,
    base_version: int,
    opened_values: Values | None,
    source: str,
    replaces: ContactEdit | None = None,
    reverts: ContactEdit | None = None,
) -> EditSubmission:
    try:
        edit = contact_edit_record(
            contact=contact,
            editor=editor,
            values=values,
            base_values=base_values,
            base_version=base_version,
            opened_values=opened_values,
            replaces=replaces,
            source=source,
            reverts=reverts,
            leased=True,
        )
    except EditConflict as conflict:
        return EditSubmission(EditOutcome.CONFLICT, conflicts=conflict.conflicts)
    if edit is None:
        return EditSubmission(EditOutcome.NO_CHANGE)
    result, delivering = edit_deliver(
        edit_id=edit.pk,
        budget_seconds=settings.LIVEDESK_SAVE_BUDGET_SECONDS,
        leased=edit if edit.in_flight_until is not None else None,
    )
    if result.outcome == Push.CONFLICT and delivering.pk == edit.pk:
        return _conflict_shown(edit=delivering, editor=editor)
    if delivering.pk == edit.pk:
        edit = delivering
    else:
        edit.refresh_from_db()
    return _submission(edit=edit, result=result, delivering=delivering)


def _conflict_shown(*, edit: ContactEdit, editor: AbstractBaseUser) -> EditSubmission:
    """LiveDesk changed a field of this agent's edit just before it was sent: the agent, still
    on the page, is shown LiveDesk's values beside theirs to choose from. The edit, not sent,
    is closed as discarded by them, its reason kept in the history."""
    with transaction.atomic():
        contact = Contact.objects.select_for_update().get(pk=edit.contact_id)
        locked = ContactEdit.objects.select_for_update().get(pk=edit.pk)
        livedesk = contact_values(contact)
        conflicting = set(livedesk_conflicts(edit=locked, livedesk=livedesk))
        conflicts = [
            FieldConflict(
                field=change["field"],
                label=field_label(change["field"]),
                base=change.get("base", change.get("before")),
                theirs=livedesk.get(change["field"]),
                yours=change.get("after"),
            )
            for change in locked.changes
            if change["field"] in conflicting
        ]
        if locked.is_unfinished:
            _discarded(
                edit=locked,
                contact=contact,
                by=editor,
                reason="LiveDesk changed "
                + ", ".join(conflict.label for conflict in conflicts)
                + " just before it was sent: shown to the agent to choose, not sent",
            )
    return EditSubmission(EditOutcome.CONFLICT, locked, conflicts=conflicts)


def _submission(
    *, edit: ContactEdit, result: PushResult, delivering: ContactEdit
) -> EditSubmission:
    carried_into = delivering if delivering.pk != edit.pk else None
    if delivering.state == ContactEdit.State.SUCCEEDED:
        outcome = EditOutcome.SAVED
    elif result.outcome in (Push.WAITING, Push.BUSY) or (
        delivering.state == ContactEdit.State.FAILED
        and delivering.failure_kind == ContactEdit.FailureKind.TRANSIENT
        and delivering.next_attempt_at
    ):
        outcome = EditOutcome.QUEUED
    elif result.rejected:
        outcome = EditOutcome.REJECTED
    else:
        outcome = EditOutcome.FAILED
    return EditSubmission(
        outcome,
        delivering if outcome != EditOutcome.SAVED else edit,
        field_errors=result.field_errors,
        carried_into=carried_into,
        waiting=result.outcome in (Push.WAITING, Push.BUSY),
        overridden=_overridden(edit=edit, carrier=carried_into),
    )


def _overridden(*, edit: ContactEdit, carrier: ContactEdit | None) -> list[str]:
    """The fields of `edit` whose value the newer edit it was carried into changed again."""
    if carrier is None:
        return []
    sent = edit_changes(carrier)
    return [
        field_label(key)
        for key, (_before, after) in edit_changes(edit).items()
        if key in sent and sent[key][1] != after
    ]


def contact_edit_record(
    *,
    contact: Contact,
    editor: AbstractBaseUser,
    values: Values,
    base_values: Values,
    base_version: int,
    source: str,
    opened_values: Values | None = None,
    replaces: ContactEdit | None = None,
    reverts: ContactEdit | None = None,
    leased: bool = False,
) -> ContactEdit | None:
    """Write the edit as `pending` (the outbox) in one transaction; None when nothing changed.
    With `leased`, an edit with nothing before it in its contact's queue is written already
    leased to this process's push (one commit fewer for an agent's Save).

    `base_values` are the mirror's values when the form was opened, `opened_values` what the
    form showed (the values of `replaces`, an unfinished edit reopened to be resent, which this
    edit then replaces); `values` what the agent saved. `reverts`: the edit whose values this
    one puts back (see edit_revert).
    Raises EditConflict when someone else changed one of the same fields since, to a value the
    agent was not shown.
    """
    opened_values = base_values if opened_values is None else opened_values
    with transaction.atomic():
        locked = Contact.objects.select_for_update().get(pk=contact.pk)
        # Nothing else on its way or held for the agent: the push may go at once.
        leased = leased and not locked.has_unfinished_edits
        mirror = contact_values(locked)
        on_the_way = list(queued_edits(locked)) if locked.has_unfinished_edits else []
        now = timezone.now()
        # A reopened edit is replaced, not carried: the form already holds its values.
        replaced_id = replaces.pk if replaces is not None else None
        carried = [
            edit for edit in on_the_way if not _in_flight(edit, now) and edit.pk != replaced_id
        ]
        expected = mirror
        for queued in on_the_way:
            expected = values_with_changes(expected, edit_changes(queued))
        if base_version == locked.version and not on_the_way:
            base_values = mirror
        yours = values_diff(base_values, values)
        theirs = values_diff(base_values, expected)
        conflicts = [
            FieldConflict(
                field=key,
                label=field_label(key),
                base=base_values.get(key),
                theirs=expected.get(key),
                yours=values.get(key),
            )
            for key in yours
            if key in theirs
            and values.get(key) != expected.get(key)
            and opened_values.get(key) != expected.get(key)
        ]
        if conflicts:
            raise EditConflict(conflicts, current_version=locked.version)
        changes = changes_carried(mirror=mirror, edits=carried)
        for key, (_before, after) in yours.items():
            if mirror.get(key) != after or expected.get(key) != after:
                changes[key] = (mirror.get(key), after)
        mine = {key for key in yours if key in changes}
        if not mine:
            return None
        edit = ContactEdit(
            contact=locked,
            editor=editor,
            editor_username=editor.get_username(),
            source=source,
            reverts=reverts,
            base_version=base_version,
            changes=changes_rows(
                changes,
                carried=carried,
                mine=mine,
                base_values=base_values,
                opened_values=opened_values,
            ),
            request_body=patch_body_build(changes=changes, social_profiles=locked.social_profiles),
            created_at=now,
            # A safety net: if this process stops before the push, the worker's sweep sends it
            # then (no task is enqueued for it).
            next_attempt_at=now + ORPHANED_PENDING_AFTER,
        )
        if leased:
            for name, value in lease(edit, now=now).items():
                setattr(edit, name, value)
        edit.save()
        locked.edit_moved(entering=edit.state)
        replaced = _still_replaceable(replaces, now=now)
        edits_carry(carried=[*carried, *replaced], into=edit, by=editor, now=now)
        locked.save(update_fields=PUSH_STATE_FIELDS)
        audit.events_append(audit.edit_recorded(edit, carried=[*carried, *replaced]))
    return edit


def _still_replaceable(edit: ContactEdit | None, *, now: datetime) -> list[ContactEdit]:
    """The reopened edit, if it is still unfinished, not in flight and not carried already."""
    if edit is None:
        return []
    locked = ContactEdit.objects.select_for_update().get(pk=edit.pk)
    if not locked.is_unfinished or _in_flight(locked, now):
        return []
    return [locked]


def _in_flight(edit: ContactEdit, now: datetime) -> bool:
    return edit.in_flight_until is not None and edit.in_flight_until > now


def edit_discard(*, edit: ContactEdit, user: AbstractBaseUser) -> ContactEdit:
    """Give up an unsent edit; the history keeps it, marked discarded, with who did it.

    Raises EditInFlight while it is being sent: its outcome is LiveDesk's to give.
    """
    with transaction.atomic():
        contact = Contact.objects.select_for_update().get(pk=edit.contact_id)
        locked = ContactEdit.objects.select_for_update().get(pk=edit.pk)
        if not locked.is_unfinished:
            return locked
        if _in_flight(locked, timezone.now()):
            raise EditInFlight(locked.pk)
        _discarded(edit=locked, contact=contact, by=user)
    return locked


def _discarded(
    *, edit: ContactEdit, contact: Contact, by: AbstractBaseUser, reason: str = ""
) -> None:
    """Close an unsent edit as discarded by `by` (inside the caller's transaction, the contact
    locked), and say so in the audit log."""
    left = edit.transition(
        state=ContactEdit.State.DISCARDED,
        next_attempt_at=None,
        finished_at=timezone.now(),
        finished_by=by,
    )
    contact.edit_moved(leaving=left, entering=edit.state)
    contact.save(update_fields=PUSH_STATE_FIELDS)
    edit.contact = contact
    audit.events_append([audit.edit_discarded(edit, by=by.get_username(), reason=reason)])


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
