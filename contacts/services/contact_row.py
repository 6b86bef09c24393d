"""The contact's row as a push leaves it: LiveDesk's answers taken into its mirror, its push
state kept from counts, written once and with the columns that changed only (a push changes
a few: writing, and serialising, every column was most of its own cost)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from contacts.livedesk import RemoteContact
from contacts.models import Contact, ContactEdit
from contacts.services.mirror import MIRROR_FIELDS, mirror_apply

# What a transition of one of its edits writes on the contact.
PUSH_STATE_FIELDS = ["pending_edits", "failed_edits", "push_state"]
# What taking LiveDesk's answers into the mirror may change on the contact's row.
MIRROR_ROW_FIELDS = (*MIRROR_FIELDS, "synced_at", "version", "gone_at")


def contact_row_write(
    contact: Contact,
    *,
    edit: ContactEdit,
    left: str | None,
    answers: list[tuple[RemoteContact, datetime, str]],
    gone_at: datetime | None = None,
) -> None:
    """Take LiveDesk's answers (each with when it was asked for, and how an outside change in
    it was seen) into the locked contact's mirror, count the edit's move from `left`, flag the
    contact gone; then write the row once, its changed columns only."""
    before = {name: getattr(contact, name) for name in MIRROR_ROW_FIELDS}
    for remote, as_of, seen_via in answers:
        if contact.synced_at <= as_of:
            mirror_apply(contact=contact, remote=remote, as_of=as_of, seen_via=seen_via, save=False)
    fields = [
        name for name, value in before.items() if not identical(getattr(contact, name), value)
    ]
    if left is not None:
        contact.edit_moved(leaving=left, entering=edit.state)
        fields += PUSH_STATE_FIELDS
    if gone_at is not None and contact.gone_at is None:
        contact.gone_at = gone_at
        fields.append("gone_at")
    if fields:
        contact.save(update_fields=fields)


def identical(one: Any, other: Any) -> bool:
    """Equal JSON-like values of the same types throughout (Python's == holds 1 == 1.0 == True,
    which the database stores apart)."""
    if type(one) is not type(other):
        return False
    if isinstance(one, dict):
        return one.keys() == other.keys() and all(identical(v, other[k]) for k, v in one.items())
    if isinstance(one, list):
        return len(one) == len(other) and all(map(identical, one, other))
    return one == other
