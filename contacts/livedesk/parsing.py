"""LiveDesk's JSON answers parsed into plain values, tolerant of the type quirks of its docs.

Pure functions over decoded JSON: nothing here speaks HTTP.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from contacts.livedesk.errors import LiveDeskProtocolError, LiveDeskValidationError


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
        message = ", ".join(str(part) for part in message if part)
    message = str(message)
    attributes = body.get("attributes")
    if isinstance(attributes, str):
        attributes = [attributes]
    if not isinstance(attributes, list):
        attributes = []
    attributes = list(
        dict.fromkeys(str(name) for name in attributes if isinstance(name, str) and name)
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
    """Parse one contact object, accepting the documented type quirks."""
    if not isinstance(payload, dict):
        raise LiveDeskProtocolError(
            "LiveDesk sent a contact that is not a JSON object.", body=payload
        )
    try:
        remote_id = int(str(payload["id"]).strip())
    except (KeyError, TypeError, ValueError) as error:
        raise LiveDeskProtocolError(
            "LiveDesk sent a contact without a valid id.", body=payload
        ) from error
    additional = payload.get("additional_attributes")
    custom = payload.get("custom_attributes")
    inboxes = payload.get("contact_inboxes")
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
    )


def parse_timestamp(value: Any) -> datetime | None:
    """Unix seconds as int, float or numeric string (or null) to an aware UTC datetime."""
    if value is None or value == "" or isinstance(value, bool):
        return None
    try:
        return datetime.fromtimestamp(float(str(value).strip()), tz=UTC)
    except (TypeError, ValueError, OverflowError, OSError):
        try:
            parsed = datetime.fromisoformat(str(value))
        except ValueError:
            return None
        return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def parse_page(body: Any, *, page: int, status: int) -> ContactPage:
    """A list answer `{"meta": {...}, "payload": [...]}`; unparseable contacts are set apart."""
    if not isinstance(body, dict) or not isinstance(body.get("payload"), list):
        raise LiveDeskProtocolError(
            "LiveDesk's contact list has no 'payload' list.", status=status, body=body
        )
    meta = body.get("meta") if isinstance(body.get("meta"), dict) else {}
    contacts, rejected = [], []
    for item in body["payload"]:
        try:
            contacts.append(parse_contact(item))
        except LiveDeskProtocolError as error:
            rejected.append((item, error.message))
    return ContactPage(
        contacts=contacts,
        count=parse_int(meta.get("count"), default=None),
        current_page=parse_int(meta.get("current_page"), default=page),
        rejected=rejected,
        status=status,
    )


def payload_object(body: Any) -> dict[str, Any]:
    """The `payload` object of a one-contact answer."""
    if not isinstance(body, dict) or not isinstance(body.get("payload"), dict):
        raise LiveDeskProtocolError("LiveDesk's answer has no 'payload' object.", body=body)
    return body["payload"]


def parse_int(value: Any, *, default: int | None) -> int | None:
    try:
        return int(str(value).strip())
    except (TypeError, ValueError):
        return default


def error_text(body: Any) -> str:
    """The readable message of an error body, for an error LiveDesk's docs do not name."""
    if isinstance(body, dict):
        return str(body.get("message") or body.get("error") or body)
    return "no readable message"


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
