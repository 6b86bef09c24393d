"""The one place where contact values become words: for inputs, pages, the admin and CSV.

Every function returns plain text; templates and `format_html` escape it like any other.
"""

from __future__ import annotations

import json
from datetime import datetime
from functools import lru_cache
from typing import Any
from urllib.parse import quote

import phonenumbers
from django.utils import timezone
from django.utils.translation import gettext

from contacts.fields import ContactField, Kind, fields_by_key


def value_text(value: Any) -> str:
    """A JSON value as an agent reads and types it: null is empty, booleans are true/false."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    return json.dumps(value, ensure_ascii=False)


def is_blank(value: Any) -> bool:
    """No value at all, or an empty text: shown as a quiet placeholder rather than as a value."""
    return value is None or value == ""


def value_words(value: Any) -> str:
    """One value of a change or an attribute, in words: absent, empty, yes/no or its text."""
    if value is None:
        return gettext("(absent)")
    if value == "" and isinstance(value, str):
        return gettext("(empty)")
    if isinstance(value, bool):
        return gettext("Yes") if value else gettext("No")
    return value_text(value)


def phone_display(value: Any) -> str:
    """A stored phone number as people read it, "+66 81 234 5678"; one that is not a valid
    E.164 number (written elsewhere, or before the form checked them) shown as stored."""
    text = value_text(value)
    return _phone_formatted(text) if text.startswith("+") else text


@lru_cache(maxsize=4096)
def _phone_formatted(text: str) -> str:
    # Parsing costs about 30 µs: the numbers of the pages last shown are formatted once.
    try:
        number = phonenumbers.parse(text, None)
    except phonenumbers.NumberParseException:
        return text
    if not phonenumbers.is_valid_number(number):
        return text
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.INTERNATIONAL)


def change_words(key: str, value: Any) -> str:
    """One before or after value of a change to the field `key`, in words (value_words), a phone
    number formatted."""
    field = fields_by_key().get(key)
    if field is not None and field.kind == Kind.PHONE and not is_blank(value):
        return phone_display(value)
    return value_words(value)


def export_text(value: Any) -> str:
    """A value as a CSV cell holds it: empty for none, true/false, ISO times in the site's zone."""
    if isinstance(value, datetime):
        return timezone.localtime(value).isoformat()
    return value_text(value)


def json_pretty(value: Any) -> str:
    """A JSON body indented for reading; text that is not JSON shown as it is."""
    if isinstance(value, str):
        return value
    return json.dumps(value, indent=2, ensure_ascii=False, default=str)


def web_url(value: Any) -> str:
    """The value when it is an http(s) address, else empty: never a javascript: link."""
    text = value_text(value).strip()
    return text if text.lower().startswith(("http://", "https://")) else ""


def profile_url(field: ContactField, handle: Any) -> str:
    """A link to a social profile given as a web address or a bare handle; else empty."""
    text = value_text(handle).strip()
    if not text:
        return ""
    if text.lower().startswith(("http://", "https://")):
        return web_url(text)
    if not field.profile_url:
        return ""
    return field.profile_url.format(quote(text.lstrip("@"), safe=""))
