"""Display helpers for contact data, over `contacts.display`. Every value they return is plain
text, escaped by the template like any other: contact data is never marked safe."""

from __future__ import annotations

from typing import Any

from django import template

from contacts import display
from contacts.fields import ContactField
from contacts.fields import field_label as registry_field_label

register = template.Library()

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
    return display.json_pretty(value)


@register.filter
def change_value(value: Any, key: str = "") -> str:
    """A before or after value in words; given the change's field key, a phone formatted."""
    return display.change_words(key, value) if key else display.value_words(value)


@register.filter
def phone_display(value: Any) -> str:
    return display.phone_display(value)


@register.filter
def as_text(value: Any) -> str:
    return display.value_text(value)


@register.filter
def field_label(key: str) -> str:
    return registry_field_label(key)


@register.filter
def web_url(value: Any) -> str:
    return display.web_url(value)


@register.simple_tag
def field_value(field: ContactField, contact: Any) -> Any:
    """The contact's value of one registry field."""
    return field.value_of(contact)


@register.simple_tag
def profile_url(field: ContactField, handle: Any) -> str:
    return display.profile_url(field, handle)


@register.filter
def channel_name(channel_type: Any) -> str:
    """ "Channel::WebWidget" -> "WebWidget"."""
    return display.value_text(channel_type).removeprefix("Channel::")


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
