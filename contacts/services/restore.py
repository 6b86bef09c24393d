"""Putting back what delivered edits replaced: the undo of a batch and the revert of one edit.

Both compare against what LiveDesk is expected to hold: the mirror, with the values still on
their way to it on top (a value on its way is as good as there). A key still holding the edit's
value goes back to the value it replaced; a key someone changed since is theirs: left alone and
reported as a conflict.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from typing import Any

from django.contrib.auth.models import AbstractBaseUser

from contacts.fields import Values, contact_values, field_label, values_with_changes
from contacts.models import Contact, ContactEdit
from contacts.services.edits import (
    EditOutcome,
    EditSubmission,
    FieldConflict,
    contact_edit_submit,
)
from contacts.services.push import edit_changes, is_queued, queued_edits


class EditNotRevertable(Exception):
    """The edit's values never reached LiveDesk: nothing of it is there to put back."""


def values_expected(mirror: Values, on_the_way: Iterable[ContactEdit]) -> Values:
    """The mirror's values with the changes of the edits on their way on top, oldest first."""
    expected = mirror
    for edit in on_the_way:
        expected = values_with_changes(expected, edit_changes(edit))
    return expected


def queued_by_contact(contact_ids: Iterable[int]) -> dict[int, list[ContactEdit]]:
    """The edits on their way to LiveDesk (as `push.queued_edits` tells them) of these
    contacts, oldest first, by contact id: one query."""
    ids = list(contact_ids)
    queued: dict[int, list[ContactEdit]] = {}
    if not ids:
        return queued
    unfinished = ContactEdit.objects.filter(
        contact_id__in=ids, state__in=ContactEdit.UNFINISHED_STATES
    ).order_by("created_at", "id")
    for edit in unfinished:
        if is_queued(edit):
            queued.setdefault(edit.contact_id, []).append(edit)
    return queued


def edit_reached_livedesk(edit: ContactEdit) -> bool:
    """Whether the edit's values reached LiveDesk: delivered, or carried into a newer edit that
    was (a change seen in LiveDesk is there already)."""
    while edit.state == ContactEdit.State.SUPERSEDED and edit.carried_into_id is not None:
        edit = edit.carried_into
    return edit.state == ContactEdit.State.SUCCEEDED


def replaced_value(change: dict[str, Any]) -> Any:
    """The value an edit's change replaced in LiveDesk: the one its push found there (`base`,
    which it checked before sending), else the mirror's when it was recorded."""
    return change.get("base", change.get("before"))


@dataclass(frozen=True)
class KeyChangedSince:
    """A key the edit set that someone changed since: left as it is."""

    key: str
    edit_value: Any
    current: Any
    replaced: Any


def restore_split(
    edit: ContactEdit, current: Values
) -> tuple[dict[str, Any], list[KeyChangedSince]]:
    """The values to put back (key -> the value the edit replaced, None removing a custom
    attribute) where `current` still holds the edit's value, and the keys changed since. A
    key already back to the replaced value is neither."""
    restores: dict[str, Any] = {}
    changed_since: list[KeyChangedSince] = []
    for change in edit.changes:
        key, after, replaced = change["field"], change.get("after"), replaced_value(change)
        now = current.get(key)
        if now == replaced:
            continue
        if now == after:
            restores[key] = replaced
        else:
            changed_since.append(
                KeyChangedSince(key=key, edit_value=after, current=now, replaced=replaced)
            )
    return restores, changed_since


def edit_revert(*, edit: ContactEdit, by: AbstractBaseUser) -> EditSubmission:
    """Put back the values the edit replaced where LiveDesk still holds the edit's own: a new
    edit (source REVERT, pointing to it) submitted like an agent's. The keys changed since are
    left alone and returned as conflicts; with nothing to put back nothing is recorded.

    Raises EditNotRevertable for an edit whose values never reached LiveDesk.
    """
    if not edit_reached_livedesk(edit):
        raise EditNotRevertable(edit.pk)
    contact = Contact.objects.get(pk=edit.contact_id)
    current = values_expected(contact_values(contact), queued_edits(contact))
    restores, changed_since = restore_split(edit, current)
    conflicts = [
        FieldConflict(
            field=key.key,
            label=field_label(key.key),
            base=key.edit_value,
            theirs=key.current,
            yours=key.replaced,
        )
        for key in changed_since
    ]
    if not restores:
        outcome = EditOutcome.CONFLICT if conflicts else EditOutcome.NO_CHANGE
        return EditSubmission(outcome, conflicts=conflicts)
    values = values_with_changes(current, {key: (None, value) for key, value in restores.items()})
    submission = contact_edit_submit(
        contact=contact,
        editor=by,
        values=values,
        base_values=current,
        base_version=contact.version,
        source=ContactEdit.Source.REVERT,
        reverts=edit,
    )
    return replace(submission, conflicts=[*conflicts, *submission.conflicts])
