"""The mirror: LiveDesk's answer for a contact becomes the local row."""

from __future__ import annotations

import hashlib
import json
from datetime import datetime
from typing import Any

from contacts.fields import Values, contact_values, english_label, values_diff
from contacts.livedesk import RemoteContact
from contacts.livedesk.json_safety import CANONICAL_JSON
from contacts.models import Contact, ContactEdit
from contacts.services import audit
from contacts.services.facets import contact_country_seen

# Mirror columns written from a LiveDesk payload, by sync and by confirmed pushes.
MIRROR_FIELDS = (
    "name",
    "first_name",
    "last_name",
    "email",
    "phone_number",
    "identifier",
    "thumbnail",
    "availability_status",
    "blocked",
    "company_name",
    "city",
    "country",
    "country_code",
    "additional_attributes",
    "custom_attributes",
    "contact_inboxes",
    "created_at",
    "last_activity_at",
    "mirror_digest",
)
# The columns the digest covers: all the mirror holds of a contact, LiveDesk's payload being
# stored once, as these columns.
DIGESTED_FIELDS = MIRROR_FIELDS[:-1]
# Of those, the JSON ones, which come between the texts and the times.
JSON_FIELDS = ("additional_attributes", "custom_attributes", "contact_inboxes")
_TEXT_FIELDS = DIGESTED_FIELDS[: DIGESTED_FIELDS.index(JSON_FIELDS[0])]
_TIME_FIELDS = DIGESTED_FIELDS[DIGESTED_FIELDS.index(JSON_FIELDS[-1]) + 1 :]


def mirror_values(remote: RemoteContact) -> dict[str, Any]:
    """The mirror's columns for a contact as LiveDesk sent it, cut to the columns' lengths."""
    return mirror_columns(remote)[0]


def mirror_columns(remote: RemoteContact) -> tuple[dict[str, Any], dict[str, str]]:
    """The mirror's columns (see mirror_values), and its JSON columns as canonical JSON text:
    what sync writes, serialised once for the digest and the row."""
    additional = remote.additional_attributes

    def attribute(key: str, limit: int = 255) -> str:
        value = additional.get(key)
        return "" if value is None else str(value)[:limit]

    values = {
        "name": remote.name[:255],
        "first_name": remote.first_name[:255],
        "last_name": remote.last_name[:255],
        "email": remote.email[:255],
        "phone_number": remote.phone_number[:32],
        "identifier": remote.identifier[:255],
        "thumbnail": remote.thumbnail[:2048],
        "availability_status": remote.availability_status,
        "blocked": remote.blocked,
        "company_name": attribute("company_name"),
        "city": attribute("city"),
        "country": attribute("country"),
        "country_code": attribute("country_code", 8),
        "additional_attributes": additional,
        "custom_attributes": remote.custom_attributes,
        "contact_inboxes": remote.contact_inboxes or [],
        "created_at": remote.created_at,
        "last_activity_at": remote.last_activity_at,
    }
    texts = remote.json_texts
    if texts is None:
        texts = {name: _canonical(values[name]) for name in JSON_FIELDS}
    elif texts["contact_inboxes"] is None:  # none sent: the column holds an empty list
        texts = {**texts, "contact_inboxes": "[]"}
    values["mirror_digest"] = _digest_of_texts(values, texts)
    return values, texts


def mirror_digest(values: dict[str, Any]) -> str:
    """A short digest of a contact's mirrored columns (`values` as mirror_values makes them, or
    a row's): equal digests, unchanged contact. Sync compares it instead of reading each row's
    values back."""
    canonical = json.dumps(
        [values[name] for name in DIGESTED_FIELDS],
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
        default=_datetime_text,
    )
    return hashlib.blake2b(canonical.encode(), digest_size=16).hexdigest()


def _digest_of_texts(values: dict[str, Any], texts: dict[str, str]) -> str:
    """mirror_digest(values), the JSON columns' canonical texts given: the same canonical list,
    put together from its pieces (a JSON list is its items' texts joined by commas)."""
    head = CANONICAL_JSON.encode([values[name] for name in _TEXT_FIELDS])
    tail = _CANONICAL_WITH_TIMES.encode([values[name] for name in _TIME_FIELDS])
    canonical = ",".join((head[:-1], *(texts[name] for name in JSON_FIELDS), tail[1:]))
    return hashlib.blake2b(canonical.encode(), digest_size=16).hexdigest()


def _canonical(value: Any) -> str:
    return _CANONICAL_WITH_TIMES.encode(value)


def _datetime_text(value: Any) -> str:
    if isinstance(value, datetime):
        return value.isoformat()
    raise TypeError(f"{type(value).__name__} is not a mirror column's value")


# CANONICAL_JSON, with times as ISO 8601 texts: mirror_digest's serialisation.
_CANONICAL_WITH_TIMES = json.JSONEncoder(
    sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=_datetime_text
)


def mirror_payload(contact: Contact) -> dict[str, Any]:
    """The contact as LiveDesk would send it, rebuilt from its mirrored columns (the payload
    itself is not stored): what a webhook's partial contact is laid over."""
    return {
        "id": contact.remote_id,
        "name": contact.name,
        "first_name": contact.first_name,
        "last_name": contact.last_name,
        "email": contact.email,
        "phone_number": contact.phone_number,
        "identifier": contact.identifier,
        "thumbnail": contact.thumbnail,
        "availability_status": contact.availability_status,
        "blocked": contact.blocked,
        "additional_attributes": contact.additional_attributes,
        "custom_attributes": contact.custom_attributes,
        "contact_inboxes": contact.contact_inboxes,
        "created_at": contact.created_at.isoformat() if contact.created_at else None,
        "last_activity_at": (
            contact.last_activity_at.isoformat() if contact.last_activity_at else None
        ),
    }


def mirror_apply(
    *, contact: Contact, remote: RemoteContact, as_of: datetime, seen_via: str = "", save=True
) -> bool:
    """Make `contact` LiveDesk's state as of `as_of` (when the request that answered it was
    sent); bump its version when anything changed. Saves it. An answer older than the state
    the mirror holds changes nothing: False.

    With `seen_via` (anything but the answer to our own PATCH), a change of editable fields is
    an outside change and goes in the contact's history. With `save=False` the caller saves
    the row (a push writes its outcome with it).
    """
    if contact.synced_at > as_of:
        return False
    before = contact_values(contact) if seen_via else None
    values = mirror_values(remote)
    if remote.contact_inboxes is None:
        # An answer without inboxes says nothing about them: keep what we have.
        values["contact_inboxes"] = contact.contact_inboxes
        values["mirror_digest"] = mirror_digest(values)
    changed = any(getattr(contact, name) != value for name, value in values.items())
    new_country = values["country"] if values["country"] != contact.country else ""
    for name, value in values.items():
        setattr(contact, name, value)
    if changed:
        contact.version += 1
    contact.synced_at = as_of
    contact.gone_at = None
    if save:
        contact.save()
    contact_country_seen(new_country)
    if changed and before is not None:
        outside_change_record(contact=contact, before=before, seen_via=seen_via, now=as_of)
    return changed


def outside_change_record(
    *, contact: Contact, before: Values, seen_via: str, now: datetime
) -> ContactEdit | None:
    """Put in the contact's history what LiveDesk changed outside this app, as seen by
    `seen_via`: the editable fields before and after (noise such as last activity is left out).
    `contact` already holds the new state. None when no editable field changed."""
    row = outside_change_row(
        contact=contact, before=before, after=contact_values(contact), seen_via=seen_via, now=now
    )
    if row is not None:
        row.save()
        audit.events_append(audit.outside_changes_seen([row]))
    return row


def outside_change_row(
    *, contact: Contact, before: Values, after: Values, seen_via: str, now: datetime
) -> ContactEdit | None:
    """The unsaved history row of an outside change (see outside_change_record)."""
    changes = values_diff(before, after)
    if not changes:
        return None
    return ContactEdit(
        contact=contact,
        editor=None,
        editor_username="LiveDesk",
        source=ContactEdit.Source.LIVEDESK,
        seen_via=seen_via,
        base_version=contact.version,
        changes=[
            {"field": key, "label": english_label(key), "before": old, "after": new}
            for key, (old, new) in changes.items()
        ],
        request_body={},
        state=ContactEdit.State.SUCCEEDED,
        created_at=now,
        finished_at=now,
    )
