"""The contact fields agents see and edit, declared once, and the pure functions over them.

`FIELDS` is the registry: the edit form, the contact page, the admin, the history's change
rendering and the CSV export all read it, so a new social network or additional attribute is one
entry here. A field's `key` is its flattened value key, the one stored in an edit's `changes`
("name", "additional_attributes.city", "social_profiles.github"); custom attributes, defined at
run time, use "custom_attributes.<key>".
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from functools import cached_property
from typing import TYPE_CHECKING, Any

from django.db import models
from django.utils import translation
from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

if TYPE_CHECKING:
    from contacts.models import Contact

ADDITIONAL_PREFIX = "additional_attributes."
SOCIAL_PREFIX = "social_profiles."
CUSTOM_PREFIX = "custom_attributes."

# Flattened values of one contact: field key -> JSON value; a custom attribute absent is missing.
Values = dict[str, Any]
# Field key -> (value before, value after).
Changes = dict[str, tuple[Any, Any]]


class Section(models.TextChoices):
    CORE = "core", _("Core")
    ADDITIONAL = "additional", _("Additional attributes")
    SOCIAL = "social", _("Social profiles")
    CUSTOM = "custom", _("Custom attributes")


class Kind(StrEnum):
    """What a field holds, which decides its input, its checks and how it is shown."""

    TEXT = "text"
    LONG_TEXT = "long_text"
    EMAIL = "email"
    PHONE = "phone"
    URL = "url"
    COUNTRY_CODE = "country_code"
    BOOLEAN = "boolean"
    SOCIAL = "social"
    AVAILABILITY = "availability"


@dataclass(frozen=True)
class ContactField:
    key: str
    label: str | Promise
    section: Section
    kind: Kind = Kind.TEXT
    help_text: str | Promise = ""
    max_length: int = 255
    # A wide field has a row of its own in the form; others share a row two by two.
    wide: bool = False
    # Shown but set by LiveDesk alone: never in the form's values or a PATCH body.
    editable: bool = True
    # The column's name in the CSV export, when not the attribute's own name.
    export_as: str = ""
    # The name LiveDesk accepts in a PATCH body, when not the attribute's own name.
    wire_name: str = ""
    # For a social network: its profile page for a bare handle, "{}" standing for the handle.
    profile_url: str = ""

    @cached_property
    def attribute(self) -> str:
        """The name inside LiveDesk's object: "city" for "additional_attributes.city"."""
        return self.key.rsplit(".", 1)[-1]

    @property
    def form_name(self) -> str:
        """The form field's name: unique across sections, a valid HTML id."""
        if self.section == Section.SOCIAL:
            return f"social_{self.attribute}"
        return self.attribute

    @property
    def export_name(self) -> str:
        return self.export_as or self.attribute

    def value_of(self, contact: Contact) -> Any:
        """The contact's value, as LiveDesk holds it (None when it has none)."""
        if self.section == Section.ADDITIONAL:
            return (contact.additional_attributes or {}).get(self.attribute)
        if self.section == Section.SOCIAL:
            return contact.social_profiles.get(self.attribute)
        return getattr(contact, self.attribute)


def _core(attribute: str, label: Promise, **options: Any) -> ContactField:
    return ContactField(key=attribute, label=label, section=Section.CORE, **options)


def _additional(attribute: str, label: Promise, **options: Any) -> ContactField:
    return ContactField(
        key=ADDITIONAL_PREFIX + attribute, label=label, section=Section.ADDITIONAL, **options
    )


def _social(network: str, label: Promise, profile_url: str) -> ContactField:
    return ContactField(
        key=SOCIAL_PREFIX + network,
        label=label,
        section=Section.SOCIAL,
        kind=Kind.SOCIAL,
        export_as=network,
        profile_url=profile_url,
    )


FIELDS: tuple[ContactField, ...] = (
    _core("name", _("Name")),
    _core("email", _("Email"), kind=Kind.EMAIL),
    _core(
        "phone_number",
        _("Phone number"),
        kind=Kind.PHONE,
        max_length=64,
        help_text=_("For example 081 234 5678, or +66 81 234 5678 with its country code."),
        export_as="phone",
    ),
    _core("identifier", _("Identifier"), help_text=_("Your system's id for this contact.")),
    _core(
        "thumbnail",
        _("Thumbnail URL"),
        kind=Kind.URL,
        max_length=2048,
        wide=True,
        # Chatwoot derives `thumbnail` from the avatar and ignores it on update.
        wire_name="avatar_url",
        help_text=_("An http:// or https:// address of the contact's picture."),
    ),
    _core("blocked", _("Blocked"), kind=Kind.BOOLEAN),
    _core(
        "availability_status",
        _("Availability"),
        kind=Kind.AVAILABILITY,
        editable=False,
        help_text=_("Set by LiveDesk from the contact's presence."),
        export_as="availability",
    ),
    _additional("description", _("Description"), kind=Kind.LONG_TEXT, max_length=1000, wide=True),
    _additional("company_name", _("Company name"), export_as="company"),
    _additional("telegram", _("Telegram")),
    _additional("city", _("City")),
    _additional("country", _("Country")),
    _additional(
        "country_code",
        _("Country code"),
        kind=Kind.COUNTRY_CODE,
        help_text=_("Two letters, for example TH."),
    ),
    _social("facebook", _("Facebook"), "https://www.facebook.com/{}"),
    _social("github", _("GitHub"), "https://github.com/{}"),
    _social("instagram", _("Instagram"), "https://www.instagram.com/{}"),
    _social("linkedin", _("LinkedIn"), "https://www.linkedin.com/in/{}"),
    _social("twitter", _("Twitter"), "https://x.com/{}"),
)


def contact_fields() -> tuple[ContactField, ...]:
    """Every field of the registry, in order; read at call time, never copied at import."""
    return FIELDS


def fields_by_key() -> dict[str, ContactField]:
    return {field.key: field for field in contact_fields()}


def editable_fields() -> list[ContactField]:
    return [field for field in contact_fields() if field.editable]


def section_fields(section: Section) -> list[ContactField]:
    return [field for field in contact_fields() if field.section == section]


def field_label(key: str) -> str:
    """The words for one field key ("Company name"); a custom attribute is named by its key."""
    field = fields_by_key().get(key)
    if field is not None:
        return str(field.label)
    return key.removeprefix(CUSTOM_PREFIX)


# --- Values, diffs and PATCH bodies -----------------------------------------------------------


def contact_values(contact: Contact) -> Values:
    """The contact's editable values by field key; null text shown empty, null custom absent."""
    values: Values = {}
    # The sections' objects read once, not once a field (as value_of would): sync and a batch
    # take the values of thousands of contacts.
    additional = contact.additional_attributes or {}
    social = contact.social_profiles
    for field in editable_fields():
        if field.section == Section.CORE:
            values[field.key] = getattr(contact, field.attribute)
            continue
        value = (social if field.section == Section.SOCIAL else additional).get(field.attribute)
        values[field.key] = "" if value is None else str(value)
    for key, value in contact.visible_custom_attributes.items():
        values[CUSTOM_PREFIX + key] = value
    return values


def values_diff(before: Values, after: Values) -> Changes:
    """Keys whose values differ; a custom attribute missing on one side counts as None."""
    keys = [*before, *(key for key in after if key not in before)]
    return {
        key: (before.get(key), after.get(key)) for key in keys if before.get(key) != after.get(key)
    }


def values_with_changes(values: Values, changes: Changes) -> Values:
    """`values` with each change's after value on top; None removes the key."""
    result = dict(values)
    for key, (_before, after) in changes.items():
        if after is None:
            result.pop(key, None)
        else:
            result[key] = after
    return result


def patch_body_build(*, changes: Changes, social_profiles: dict[str, Any]) -> dict[str, Any]:
    """The smallest correct PATCH body for `changes`.

    Changed top-level fields only; inside additional_attributes only the changed keys, except
    social_profiles, which the server replaces whole: it is sent as `social_profiles` (LiveDesk's
    current object) with the changed networks set, every other network as it is there, and a
    network it does not have left out rather than sent empty. Inside custom_attributes only
    the changed keys, a removed key being sent as null.
    """
    registry = fields_by_key()
    body: dict[str, Any] = {}
    networks: dict[str, Any] = {}
    for key, (_before, after) in changes.items():
        field = registry.get(key)
        if key.startswith(CUSTOM_PREFIX):
            body.setdefault("custom_attributes", {})[key.removeprefix(CUSTOM_PREFIX)] = after
        elif field is None or not field.editable:
            raise ValueError(f"{key!r} is not an editable contact field.")
        elif field.section == Section.SOCIAL:
            networks[field.attribute] = after
        elif field.section == Section.ADDITIONAL:
            body.setdefault("additional_attributes", {})[field.attribute] = after
        else:
            body[field.wire_name or field.attribute] = after
    if networks:
        profiles = dict(social_profiles)
        for network, after in networks.items():
            if after or network in profiles:
                profiles[network] = after
        body.setdefault("additional_attributes", {})["social_profiles"] = profiles
    return body


def english_label(key: str) -> str:
    """The field's label in English: the one an audit row keeps (pages translate the key)."""
    with translation.override("en"):
        return field_label(key)


def livedesk_name_key(name: str) -> str | None:
    """The field key for a name LiveDesk uses in a 422's "attributes" ("avatar_url", "email")."""
    for field in contact_fields():
        names = (field.key, field.form_name, field.wire_name or field.attribute)
        if field.editable and name in names:
            return field.key
    if name.startswith(ADDITIONAL_PREFIX + SOCIAL_PREFIX):
        name = name.removeprefix(ADDITIONAL_PREFIX)
    field = fields_by_key().get(name)
    if (field is not None and field.editable) or name.startswith(CUSTOM_PREFIX):
        return name
    return None
