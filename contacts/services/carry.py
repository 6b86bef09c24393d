"""An edit recorded while earlier edits of its contact still wait carries their values: they
are marked superseded, `carried_into` it, and reach LiveDesk with it (see edits)."""

from __future__ import annotations

from datetime import datetime

from django.contrib.auth.models import AbstractBaseUser

from contacts.fields import Changes, Values, english_label
from contacts.models import ContactEdit
from contacts.services.push import edit_changes


def changes_carried(*, mirror: Values, edits: list[ContactEdit]) -> Changes:
    """The changes of earlier edits still waiting, oldest first, each against the mirror."""
    changes: Changes = {}
    for edit in edits:
        for key, (_before, after) in edit_changes(edit).items():
            changes[key] = (mirror.get(key), after)
    return {key: change for key, change in changes.items() if change[0] != change[1]}


def changes_rows(
    changes: Changes,
    *,
    carried: list[ContactEdit],
    mine: set[str],
    base_values: Values,
    opened_values: Values,
) -> list[dict]:
    """The history's rows for an edit's changes: before (the mirror now) and after, and what
    the push will compare with LiveDesk's value then: `base` (LiveDesk's value when the form
    opened) and `seen` (what the form showed, when another). A value carried from another
    edit keeps that edit's base and says whose it was."""
    carried_rows = {row["field"]: (edit, row) for edit in carried for row in edit.changes}
    rows = []
    for key, (before, after) in changes.items():
        row = {"field": key, "label": english_label(key), "before": before, "after": after}
        if key in mine:
            row["base"] = base_values.get(key)
            if opened_values.get(key) != row["base"]:
                row["seen"] = opened_values.get(key)
        else:
            edit, original = carried_rows[key]
            row["base"] = original.get("base", original.get("before"))
            if "seen" in original:
                row["seen"] = original["seen"]
            row["carried_from"] = edit.pk
            row["carried_from_editor"] = edit.editor_username
        rows.append(row)
    return rows


def edits_carry(
    *, carried: list[ContactEdit], into: ContactEdit, by: AbstractBaseUser, now: datetime
) -> None:
    """Mark the edits carried into `into`, counted on its contact (the caller saves it)."""
    for edit in carried:
        left = edit.transition(
            state=ContactEdit.State.SUPERSEDED,
            carried_into=into,
            next_attempt_at=None,
            finished_at=now,
            finished_by=by,
        )
        into.contact.edit_moved(leaving=left, entering=edit.state)
