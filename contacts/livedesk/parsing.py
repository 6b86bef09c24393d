"""LiveDesk's JSON answers parsed into plain values, tolerant of the type quirks of its docs.

Pure functions over decoded JSON: nothing here speaks HTTP. Whatever the JSON holds, they
answer plain values safe to store, or raise LiveDeskProtocolError: a contact is cleaned and
bounded by `json_safety` and its id checked, so one hostile contact fails alone.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from contacts.livedesk.errors import LiveDeskProtocolError, LiveDeskValidationError
from contacts.livedesk.json_safety import (
    MIB,
    json_clean,
    json_preview,
    object_clean_texts,
    text_clean,
)

# A contact's id is stored in a BigIntegerField.
MAX_REMOTE_ID = 2**63 - 1
# The most one contact may weigh: any one text, and its whole JSON.
MAX_CONTACT_STRING_BYTES = 1 * MIB
MAX_CONTACT_BYTES = 2 * MIB
# Messages of an error answer kept and shown, at most.
MAX_MESSAGE_CHARS = 2000
MAX_FIELDS_NAMED = 50
# Timestamps outside these years are taken as absent: they cannot be shown in every time zone.
EARLIEST = datetime(1900, 1, 1, tzinfo=UTC)
LATEST = datetime(9000, 1, 1, tzinfo=UTC)
_DIGITS = re.compile(r"[0-9]{1,30}", re.ASCII)
_NUMBER = re.compile(r"-?[0-9]{1,30}(\.[0-9]{1,30})?([eE][-+]?[0-9]{1,3})?", re.ASCII)


@dataclass(frozen=True)
class RemoteContact:
    """One contact as LiveDesk sent it: normalised fields plus the payload exactly as received."""

    remote_id: int
    name: str
    first_name: str
    last_name: str
    email: str
    phone_number: str
    identifier: str
    thumbnail: str
    availability_status: str
    blocked: bool
    additional_attributes: dict[str, Any]
    custom_attributes: dict[str, Any]
    contact_inboxes: list[dict[str, Any]] | None
    created_at: datetime | None
    last_activity_at: datetime | None
    payload: dict[str, Any] = field(repr=False)
    # The three JSON fields above as canonical JSON text (json_safety.CANONICAL_JSON), when the
    # check of the payload made them: serialised once, then digested and stored as they are.
    json_texts: dict[str, str] | None = field(default=None, repr=False, compare=False)


@dataclass(frozen=True)
class ContactPage:
    contacts: list[RemoteContact]
    count: int | None  # over all pages; None when LiveDesk did not say
    current_page: int
    rejected: list[tuple[Any, str]] = field(default_factory=list)
    status: int = 200  # the HTTP status the page came with


@dataclass(frozen=True)
class ContactUpdateAnswer:
    """LiveDesk's answer to an update: the contact as it stored it and the HTTP status."""

    contact: RemoteContact
    status: int


def parse_validation_errors(body: Any) -> tuple[str, dict[str, list[str]]]:
    """Split a 422 body `{"message", "attributes"}` into a message and messages per field.

    LiveDesk joins one message per failing field with ", ", each starting with the field's
    name in words ("Email has already been taken, Phone number should be in e164 format").
    """
    if not isinstance(body, dict):
        return LiveDeskValidationError.default_message, {}
    message = body.get("message") or body.get("error") or LiveDeskValidationError.default_message
    if isinstance(message, list):
        message = ", ".join(_as_text(part) for part in message[:MAX_FIELDS_NAMED] if part)
    message = _message_text(message) or LiveDeskValidationError.default_message
    attributes = body.get("attributes")
    if isinstance(attributes, str):
        attributes = [attributes]
    if not isinstance(attributes, list):
        attributes = []
    attributes = list(
        dict.fromkeys(
            _message_text(name, limit=100)
            for name in attributes[:MAX_FIELDS_NAMED]
            if isinstance(name, str) and name
        )
    )
    field_errors: dict[str, list[str]] = {name: [] for name in attributes}
    for part in (piece.strip() for piece in message.split(", ")):
        owner = next(
            (
                name
                for name in sorted(attributes, key=len, reverse=True)
                if part.lower().startswith(name.replace("_", " ").lower())
            ),
            None,
        )
        if owner is not None and part:
            field_errors[owner].append(part)
    for messages in field_errors.values():
        if not messages:
            messages.append(message)
    return message, field_errors


def parse_contact(payload: Any) -> RemoteContact:
    """Parse one contact object, accepting the documented type quirks.

    Its texts are cleaned (NUL and lone surrogates become U+FFFD), and `payload` keeps it as
    cleaned. A contact without an id in 1..2**63-1, or with NaN, Infinity, nesting deeper than 64
    levels, a text over 1 MiB or over 2 MiB of JSON in all, is a LiveDeskProtocolError.
    """
    if not isinstance(payload, dict):
        raise LiveDeskProtocolError(
            "LiveDesk sent a contact that is not a JSON object.", body=json_preview(payload)
        )
    remote_id = _remote_id(payload.get("id"))
    if remote_id is None:
        raise LiveDeskProtocolError(
            "LiveDesk sent a contact without a valid id.", body=json_preview(payload)
        )
    texts = object_clean_texts(
        payload, max_string=MAX_CONTACT_STRING_BYTES, max_total=MAX_CONTACT_BYTES
    )
    if texts is None:
        try:
            payload = json_clean(
                payload,
                max_string=MAX_CONTACT_STRING_BYTES,
                max_total=MAX_CONTACT_BYTES,
                what=f"contact #{remote_id}",
            )
        except LiveDeskProtocolError as error:
            error.body = json_preview(payload)
            raise
    additional = payload.get("additional_attributes")
    custom = payload.get("custom_attributes")
    inboxes = payload.get("contact_inboxes")
    if texts is not None:
        texts = {
            "additional_attributes": (
                texts["additional_attributes"] if isinstance(additional, dict) else "{}"
            ),
            "custom_attributes": texts["custom_attributes"] if isinstance(custom, dict) else "{}",
            "contact_inboxes": texts["contact_inboxes"] if isinstance(inboxes, list) else None,
        }
    availability = str(payload.get("availability_status") or "offline")
    return RemoteContact(
        remote_id=remote_id,
        name=_text(payload.get("name")),
        first_name=_text(payload.get("first_name")),
        last_name=_text(payload.get("last_name")),
        email=_text(payload.get("email")),
        phone_number=_text(payload.get("phone_number")),
        identifier=_text(payload.get("identifier")),
        thumbnail=_text(payload.get("thumbnail")),
        availability_status=availability
        if availability in ("online", "offline", "busy")
        else "offline",
        blocked=_parse_bool(payload.get("blocked")),
        additional_attributes=additional if isinstance(additional, dict) else {},
        custom_attributes=custom if isinstance(custom, dict) else {},
        contact_inboxes=inboxes if isinstance(inboxes, list) else None,
        created_at=parse_timestamp(payload.get("created_at")),
        last_activity_at=parse_timestamp(payload.get("last_activity_at")),
        payload=payload,
        json_texts=texts,
    )


def parse_contact_answer(body: Any, *, remote_id: int, status: int) -> RemoteContact:
    """The contact of a one-contact answer, which must be the contact asked for."""
    try:
        contact = parse_contact(payload_object(body))
    except LiveDeskProtocolError as error:
        error.status = status
        raise
    if contact.remote_id != remote_id:
        raise LiveDeskProtocolError(
            f"LiveDesk answered with contact #{contact.remote_id} when asked for contact "
            f"#{remote_id}; nothing of it was kept.",
            status=status,
            body=json_preview(contact.payload),
        )
    return contact


def parse_timestamp(value: Any) -> datetime | None:
    """Unix seconds as int, float or numeric string, or an ISO 8601 text, to an aware UTC
    datetime; None for null and for anything else, or outside the years 1900 to 9000."""
    if isinstance(value, str):
        value = value.strip()
    try:
        if isinstance(value, int | float) and not isinstance(value, bool):
            parsed = datetime.fromtimestamp(value, tz=UTC)
        elif isinstance(value, str) and _NUMBER.fullmatch(value):
            parsed = datetime.fromtimestamp(float(value), tz=UTC)
        elif isinstance(value, str) and 0 < len(value) <= 64:
            parsed = datetime.fromisoformat(value)
            parsed = parsed.astimezone(UTC) if parsed.tzinfo else parsed.replace(tzinfo=UTC)
        else:
            return None
    except (ValueError, OverflowError, OSError):
        return None
    return parsed if EARLIEST <= parsed < LATEST else None


def parse_page(body: Any, *, page: int, status: int) -> ContactPage:
    """A list answer `{"meta": {...}, "payload": [...]}`; unparseable contacts are set apart."""
    if not isinstance(body, dict) or not isinstance(body.get("payload"), list):
        raise LiveDeskProtocolError(
            "LiveDesk's contact list has no 'payload' list.", status=status, body=json_preview(body)
        )
    meta = body.get("meta") if isinstance(body.get("meta"), dict) else {}
    contacts, rejected = [], []
    for item in body["payload"]:
        try:
            contacts.append(parse_contact(item))
        except LiveDeskProtocolError as error:
            rejected.append((json_preview(item), error.message))
    count = parse_int(meta.get("count"), default=None)
    return ContactPage(
        contacts=contacts,
        count=None if count is None or count < 0 else count,
        current_page=parse_int(meta.get("current_page"), default=page),
        rejected=rejected,
        status=status,
    )


def payload_object(body: Any) -> dict[str, Any]:
    """The `payload` object of a one-contact answer."""
    if not isinstance(body, dict) or not isinstance(body.get("payload"), dict):
        raise LiveDeskProtocolError(
            "LiveDesk's answer has no 'payload' object.", body=json_preview(body)
        )
    return body["payload"]


def parse_int(value: Any, *, default: int | None) -> int | None:
    """An int, or a text of digits (an optional minus first), else `default`."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str) and _DIGITS.fullmatch(value.strip().removeprefix("-")):
        return int(value.strip())
    return default


def error_text(body: Any) -> str:
    """The readable message of an error body, for an error LiveDesk's docs do not name."""
    if isinstance(body, dict):
        return _message_text(body.get("message") or body.get("error") or body)
    return "no readable message"


def _remote_id(value: Any) -> int | None:
    """A contact's id: an int or a text of digits, in 1..MAX_REMOTE_ID; else None."""
    if isinstance(value, str) and _DIGITS.fullmatch(value.strip()):
        value = int(value.strip())
    if isinstance(value, int) and not isinstance(value, bool) and 1 <= value <= MAX_REMOTE_ID:
        return value
    return None


def _as_text(value: Any) -> str:
    if isinstance(value, str):
        return value
    return json.dumps(json_preview(value), ensure_ascii=False)


def _message_text(value: Any, limit: int = MAX_MESSAGE_CHARS) -> str:
    """A message from an answer as a text safe to store and show, at most `limit` long."""
    text = _as_text(value)
    return text_clean(text if len(text) <= limit else text[: limit - 3] + "...")


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, list):
        return " ".join(str(part) for part in value if part is not None)
    return str(value)


def _parse_bool(value: Any) -> bool:
    if isinstance(value, str):
        return value.strip().lower() in ("true", "1", "yes")
    return bool(value)
