"""Display helpers for contact data. Every value they return is plain text, escaped by the
template like any other: contact data is never marked safe."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import quote

from django import template
from django.utils.translation import gettext

from contacts import services
from contacts.forms import value_text

register = template.Library()

SOCIAL_URLS = {
    "facebook": "https://www.facebook.com/{}",
    "github": "https://github.com/{}",
    "instagram": "https://www.instagram.com/{}",
    "linkedin": "https://www.linkedin.com/in/{}",
    "twitter": "https://x.com/{}",
}
STATE_BADGES = {
    "pending": "text-bg-info",
    "succeeded": "text-bg-success",
    "failed": "text-bg-danger",
    "discarded": "text-bg-secondary",
    "superseded": "text-bg-light border",
}
PUSH_STATE_BADGES = {"in_sync": "", "pending": "text-bg-info", "failed": "text-bg-danger"}
AVAILABILITY_BADGES = {
    "online": "text-bg-success",
    "busy": "text-bg-warning",
    "offline": "text-bg-light border",
}


@register.filter
def json_pretty(value: Any) -> str:
    """JSON indented for reading (escaped by the template, as any text)."""
    return json.dumps(value, indent=2, ensure_ascii=False, default=str)


@register.filter
def change_value(value: Any) -> str:
    """One value of a change, in words: absent, empty, yes/no or the value's text."""
    if value is None:
        return gettext("(absent)")
    if value == "" and isinstance(value, str):
        return gettext("(empty)")
    if isinstance(value, bool):
        return gettext("Yes") if value else gettext("No")
    return value_text(value)


@register.filter
def field_label(key: str) -> str:
    return services.field_label(key)


@register.filter
def web_url(value: Any) -> str:
    """The value when it is an http(s) address, else empty: never a javascript: link."""
    text = value_text(value).strip()
    return text if text.lower().startswith(("http://", "https://")) else ""


@register.simple_tag
def social_url(network: str, handle: Any) -> str:
    """A link to a social profile given as a web address or a bare handle."""
    text = value_text(handle).strip()
    if not text:
        return ""
    if text.lower().startswith(("http://", "https://")):
        return text
    pattern = SOCIAL_URLS.get(network)
    return pattern.format(quote(text.lstrip("@"), safe="")) if pattern else ""


@register.filter
def channel_name(channel_type: Any) -> str:
    """ "Channel::WebWidget" -> "WebWidget"."""
    return value_text(channel_type).removeprefix("Channel::")


@register.filter
def state_badge(state: str) -> str:
    return STATE_BADGES.get(state, "text-bg-secondary")


@register.filter
def push_state_badge(state: str) -> str:
    return PUSH_STATE_BADGES.get(state, "text-bg-secondary")


@register.filter
def availability_badge(status: str) -> str:
    return AVAILABILITY_BADGES.get(status, "text-bg-light border")


@register.filter
def lookup(mapping: Any, key: Any) -> Any:
    """mapping[key], or None."""
    return mapping.get(key) if isinstance(mapping, dict) else None
