"""The rules for contact writes LiveDesk inherits from Chatwoot: merge, normalise, validate."""

import json
import re
import sqlite3
from collections.abc import Callable
from typing import Any

from .schema import attribute_columns, search_text

# Devise.email_regexp and the phone format Chatwoot validates with (anchored here).
EMAIL_PATTERN = re.compile(r"[^@\s]+@[^@\s]+")
PHONE_PATTERN = re.compile(r"\+[1-9]\d{1,14}")

STRING_FIELDS = ("name", "email", "phone_number", "identifier", "avatar_url")
WRITABLE_FIELDS = (*STRING_FIELDS, "blocked", "additional_attributes", "custom_attributes")


class ValidationFailed(Exception):
    """A write the server answers with 422: a readable message and the fields at fault."""

    def __init__(self, message: str, attributes: list[str]):
        super().__init__(message)
        self.message = message
        self.attributes = attributes

    def as_body(self) -> dict:
        return {"message": self.message, "attributes": self.attributes}


class Errors:
    """Collects Rails-style full messages in order, like ActiveModel::Errors."""

    def __init__(self):
        self.messages: list[str] = []
        self.attributes: list[str] = []

    def add(self, attribute: str, message: str) -> None:
        self.messages.append(message)
        if attribute not in self.attributes:
            self.attributes.append(attribute)

    def raise_if_any(self) -> None:
        if self.messages:
            raise ValidationFailed(", ".join(self.messages), self.attributes)


def parse_bool(value: Any) -> bool | None:
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    if isinstance(value, str) and value.strip().lower() in ("true", "false", "1", "0"):
        return value.strip().lower() in ("true", "1")
    return None


# taken(column, value, own_id): does another contact than own_id hold that value?
Taken = Callable[[str, str, int], bool]


def clean(
    body: dict, *, current: sqlite3.Row | None, taken: Taken, errors: Errors | None = None
) -> dict[str, Any]:
    """Column values for the writable keys of body; raises ValidationFailed."""
    errors = errors or Errors()
    own_id = current["id"] if current is not None else -1
    values: dict[str, Any] = {}

    for field in STRING_FIELDS:
        if field in body and body[field] is not None and not isinstance(body[field], str):
            errors.add(field, f"{field.replace('_', ' ').capitalize()} is invalid")

    if "name" in body and isinstance(body["name"], str | None):
        values["name"] = body["name"]

    if "email" in body and isinstance(body["email"], str | None):
        email = body["email"].lower() if body["email"] and body["email"].strip() else None
        if email is not None:
            if taken("email", email, own_id):
                errors.add("email", "Email has already been taken")
            if not EMAIL_PATTERN.fullmatch(email):
                errors.add("email", "Email Invalid email")
        values["email"] = email

    if "identifier" in body and isinstance(body["identifier"], str | None):
        identifier = body["identifier"]
        identifier = identifier if identifier and identifier.strip() else None
        if identifier is not None and taken("identifier", identifier, own_id):
            errors.add("identifier", "Identifier has already been taken")
        values["identifier"] = identifier

    if "phone_number" in body and isinstance(body["phone_number"], str | None):
        phone = body["phone_number"]
        phone = phone if phone and phone.strip() else None
        if phone is not None:
            if taken("phone_number", phone, own_id):
                errors.add("phone_number", "Phone number has already been taken")
            if not PHONE_PATTERN.fullmatch(phone):
                errors.add("phone_number", "Phone number should be in e164 format")
        values["phone_number"] = phone

    if "blocked" in body and body["blocked"] is not None:
        blocked = parse_bool(body["blocked"])
        if blocked is None:
            errors.add("blocked", "Blocked is invalid")
        else:
            values["blocked"] = int(blocked)

    if "avatar_url" in body and isinstance(body["avatar_url"], str | None):
        values["thumbnail"] = (body["avatar_url"] or "").strip()

    for field in ("additional_attributes", "custom_attributes"):
        sent = body.get(field)
        if sent is None:
            continue
        if not isinstance(sent, dict):
            errors.add(field, f"{field.replace('_', ' ').capitalize()} is invalid")
            continue
        stored = json.loads(current[field]) if current is not None else {}
        merged = {**stored, **sent}
        values[field] = json.dumps(merged, ensure_ascii=False)
        if field == "additional_attributes":
            values.update(
                zip(("company", "city", "country"), attribute_columns(merged), strict=True)
            )

    errors.raise_if_any()
    if current is not None and {"name", "email", "phone_number", "identifier"} & set(values):
        merged_row = dict(zip(current.keys(), current, strict=True)) | values
        values["search_text"] = search_text(
            merged_row["name"],
            merged_row["email"],
            merged_row["phone_number"],
            merged_row["identifier"],
        )
    return values
