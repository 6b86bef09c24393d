"""The agent's contact form (shared with the admin), the list and history filters, and the one
call that submits an edit through the service and turns its outcome into words for the agent.
"""

from __future__ import annotations

import json
import logging
import re
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any

import phonenumbers
from crispy_bootstrap5.bootstrap5 import Switch
from crispy_forms.helper import FormHelper
from crispy_forms.layout import Column, Fieldset, Layout, LayoutObject, Row
from django import forms
from django.core import signing
from django.core.exceptions import ValidationError
from django.core.validators import RegexValidator, URLValidator
from django.forms.boundfield import BoundField
from django.template.loader import render_to_string
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from contacts import services
from contacts.livedesk import parse_validation_errors
from contacts.models import Contact, ContactEdit, CustomAttributeDefinition

logger = logging.getLogger(__name__)

# ISO 3166-1 alpha-2: the 249 officially assigned codes.
_ISO_COUNTRY_CODES_TEXT = """
    AD AE AF AG AI AL AM AO AQ AR AS AT AU AW AX AZ BA BB BD BE BF BG BH BI BJ BL BM BN BO BQ BR
    BS BT BV BW BY BZ CA CC CD CF CG CH CI CK CL CM CN CO CR CU CV CW CX CY CZ DE DJ DK DM DO DZ
    EC EE EG EH ER ES ET FI FJ FK FM FO FR GA GB GD GE GF GG GH GI GL GM GN GP GQ GR GS GT GU GW
    GY HK HM HN HR HT HU ID IE IL IM IN IO IQ IR IS IT JE JM JO JP KE KG KH KI KM KN KP KR KW KY
    KZ LA LB LC LI LK LR LS LT LU LV LY MA MC MD ME MF MG MH MK ML MM MN MO MP MQ MR MS MT MU MV
    MW MX MY MZ NA NC NE NF NG NI NL NO NP NR NU NZ OM PA PE PF PG PH PK PL PM PN PR PS PT PW PY
    QA RE RO RS RU RW SA SB SC SD SE SG SH SI SJ SK SL SM SN SO SR SS ST SV SX SY SZ TC TD TF TG
    TH TJ TK TL TM TN TO TR TT TV TW TZ UA UG UM US UY UZ VA VC VE VG VI VN VU WF WS YE YT ZA ZM
    ZW
"""
ISO_COUNTRY_CODES = frozenset(_ISO_COUNTRY_CODES_TEXT.split())

TEXT_MAX_LENGTH = 255
DESCRIPTION_MAX_LENGTH = 1000
URL_MAX_LENGTH = 2048
CUSTOM_KEY_MAX_LENGTH = 64
CUSTOM_KEY_PATTERN = re.compile(r"[a-z0-9_]+")
BASE_SALT = "contacts.forms.ContactEditForm.base_values"
CUSTOM_FIELD_PREFIX = "custom_"
SOCIAL_FIELD_PREFIX = "social_"

# Form field name -> flattened value key (services.Values).
VALUE_KEYS: dict[str, str] = {
    **{name: name for name in services.CORE_FIELDS},
    **{key: services.ADDITIONAL_PREFIX + key for key in services.ADDITIONAL_KEYS},
    **{
        SOCIAL_FIELD_PREFIX + network: services.SOCIAL_PREFIX + network
        for network in services.SOCIAL_NETWORKS
    },
}
FIELD_NAMES: dict[str, str] = {key: name for name, key in VALUE_KEYS.items()}
# Names LiveDesk uses in a 422's "attributes" that are not our field names.
LIVEDESK_NAMES = {"avatar_url": "thumbnail"}

_UNSET = object()


def value_text(value: Any) -> str:
    """A JSON value as an agent reads and types it: null is empty, booleans are true/false."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    return json.dumps(value, ensure_ascii=False)


def _same_text(submitted: Any, opened: Any) -> bool:
    if isinstance(submitted, str) and isinstance(opened, str):
        # Browsers send a textarea's line breaks as CRLF.
        return submitted.replace("\r\n", "\n") == opened.replace("\r\n", "\n")
    return submitted == opened


def _json_number(number: Decimal) -> int | float:
    return int(number) if number == number.to_integral_value() else float(number)


def _number_text(value: Any) -> str:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return format(Decimal(repr(value)), "f")
    return value_text(value)


def _checked(value: Any) -> bool:
    if isinstance(value, str):
        return value.strip().lower() in ("true", "1", "yes", "on")
    return bool(value) and value is not None


# --- Fields -----------------------------------------------------------------------------------


class OpenedValueMixin:
    """Accepts, unchecked, the value the form was opened with.

    Values written elsewhere (in LiveDesk, or before a rule existed) need not pass this form's
    rules: an agent who leaves such a value untouched must still be able to save the rest.
    """

    opened_text: Any = None
    opened_value: Any = None

    def clean(self, value):
        if self.opened_text is not None and _same_text(value, self.opened_text):
            return self.opened_value
        return super().clean(value)


class TextField(OpenedValueMixin, forms.CharField):
    pass


class EmailAddressField(OpenedValueMixin, forms.EmailField):
    def to_python(self, value):
        # LiveDesk stores emails lower-cased.
        return super().to_python(value).lower()


class PhoneNumberField(OpenedValueMixin, forms.CharField):
    """A phone number in any common spelling with its country code, normalised to E.164."""

    default_error_messages = {
        "no_country_code": _(
            "Start the number with + and its country code, for example +66 81 234 5678."
        ),
        "invalid": _("Enter a valid phone number with its country code, for example +66812345678."),
    }

    def to_python(self, value):
        value = super().to_python(value)
        if not value:
            return ""
        try:
            number = phonenumbers.parse(value, None)
        except phonenumbers.NumberParseException as error:
            code = (
                "no_country_code"
                if error.error_type == phonenumbers.NumberParseException.INVALID_COUNTRY_CODE
                else "invalid"
            )
            raise ValidationError(self.error_messages[code], code=code) from error
        if not phonenumbers.is_valid_number(number):
            raise ValidationError(self.error_messages["invalid"], code="invalid")
        return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


class CountryCodeField(OpenedValueMixin, forms.CharField):
    default_error_messages = {
        "invalid": _("Enter a two-letter ISO 3166 country code, such as TH, SG or GB."),
    }

    def to_python(self, value):
        return super().to_python(value).upper()

    def validate(self, value):
        super().validate(value)
        if value and value not in ISO_COUNTRY_CODES:
            raise ValidationError(self.error_messages["invalid"], code="invalid")


WEB_ADDRESS_MESSAGE = _("Enter a web address starting with http:// or https://.")


class WebAddressField(OpenedValueMixin, forms.URLField):
    default_error_messages = {"invalid": WEB_ADDRESS_MESSAGE}
    default_validators = [URLValidator(schemes=["http", "https"], message=WEB_ADDRESS_MESSAGE)]

    def __init__(self, **kwargs):
        kwargs.setdefault("assume_scheme", "https")
        kwargs.setdefault("max_length", URL_MAX_LENGTH)
        super().__init__(**kwargs)


class NumberField(OpenedValueMixin, forms.DecimalField):
    pass


class CalendarDateField(OpenedValueMixin, forms.DateField):
    pass


class OptionField(OpenedValueMixin, forms.ChoiceField):
    pass


class CheckboxField(OpenedValueMixin, forms.BooleanField):
    pass


# --- Custom attribute rows --------------------------------------------------------------------


class CustomAttributeRowForm(forms.Form):
    """One custom attribute without a definition: a free key and a text value."""

    key = forms.CharField(label=_("Key"), required=False)
    value = forms.CharField(label=_("Value"), required=False)
    remove = forms.BooleanField(label=_("Remove"), required=False)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["key"].widget.attrs.update(
            {"maxlength": CUSTOM_KEY_MAX_LENGTH, "autocomplete": "off", "spellcheck": "false"}
        )
        self.fields["value"].widget.attrs.update({"maxlength": TEXT_MAX_LENGTH})

    @property
    def opened_key(self) -> str:
        return self.initial.get("key") or ""

    def clean_key(self) -> str:
        key = self.cleaned_data["key"]
        if not key or key == self.opened_key:
            return key
        if len(key) > CUSTOM_KEY_MAX_LENGTH:
            raise ValidationError(
                _("A key has at most %(limit)d characters."),
                code="max_length",
                params={"limit": CUSTOM_KEY_MAX_LENGTH},
            )
        if not CUSTOM_KEY_PATTERN.fullmatch(key):
            raise ValidationError(
                _("Use only lower-case letters, digits and _ in a key, for example vip_level."),
                code="invalid_key",
            )
        return key

    def clean_value(self) -> str:
        value = self.cleaned_data["value"]
        if len(value) > TEXT_MAX_LENGTH and not self.is_untouched():
            raise ValidationError(
                _("A value has at most %(limit)d characters."),
                code="max_length",
                params={"limit": TEXT_MAX_LENGTH},
            )
        return value

    def clean(self):
        cleaned = super().clean()
        key, value = cleaned.get("key"), cleaned.get("value")
        if cleaned.get("remove") or "key" not in cleaned:
            return cleaned
        if value and not key:
            self.add_error("key", _("Enter a key for this value."))
        elif key and not value and not self.opened_key:
            self.add_error("value", _("Enter a value, or leave the key empty."))
        return cleaned

    def is_untouched(self) -> bool:
        """The row still holds the key and value it was opened with."""
        return (
            bool(self.opened_key)
            and _same_text(self["key"].data, self.opened_key)
            and _same_text(self["value"].data, self.initial.get("value", ""))
        )


class BaseCustomAttributeRowFormSet(forms.BaseFormSet):
    def __init__(self, *args, defined_keys: frozenset[str] = frozenset(), **kwargs):
        self.defined_keys = defined_keys
        super().__init__(*args, **kwargs)

    def clean(self):
        seen: set[str] = set()
        for form in self.forms:
            cleaned = getattr(form, "cleaned_data", {})
            key = cleaned.get("key")
            if not key or cleaned.get("remove"):
                continue
            if key in self.defined_keys:
                form.add_error(
                    "key",
                    _("%(key)s has its own field above: enter its value there.") % {"key": key},
                )
            elif key in seen:
                form.add_error("key", _("The key %(key)s is used twice.") % {"key": key})
            seen.add(key)


CustomAttributeRowFormSet = forms.formset_factory(
    CustomAttributeRowForm,
    formset=BaseCustomAttributeRowFormSet,
    extra=2,
    max_num=200,
    validate_max=True,
)


# --- Layout -----------------------------------------------------------------------------------


class Section(Fieldset):
    """A titled card of fields."""

    template = "contacts/layout/section.html"


class CustomRows(LayoutObject):
    """The custom attribute rows of the form, rendered inside its layout."""

    def render(self, form, context, template_pack=None, **kwargs):
        return render_to_string("contacts/includes/custom_rows.html", {"formset": form.custom_rows})


@dataclass(frozen=True)
class FormSection:
    key: str
    title: str
    fields: list[BoundField]
    custom_rows: forms.BaseFormSet | None = None


SECTION_TITLES = {
    "core": _("Core"),
    "additional": _("Additional attributes"),
    "social": _("Social profiles"),
    "custom": _("Custom attributes"),
}
# Each section's fields, row by row as the page lays them out.
SECTION_ROWS: dict[str, list[tuple[str, ...]]] = {
    "core": [
        ("name", "email"),
        ("phone_number", "identifier"),
        ("thumbnail",),
        ("blocked", "availability_status"),
    ],
    "additional": [
        ("description",),
        ("company_name", "telegram"),
        ("city", "country", "country_code"),
    ],
    "social": [
        ("social_facebook", "social_instagram"),
        ("social_linkedin", "social_twitter"),
        ("social_github",),
    ],
}


# --- The contact form -------------------------------------------------------------------------


class ContactEditForm(forms.Form):
    """Every editable value of one contact, in four sections, checked before anything is sent.

    The values the form was opened with travel signed in `base_values`, so a submit is compared
    with what the agent saw, not with whatever the mirror holds by then.
    """

    name = TextField(label=_("Name"), max_length=TEXT_MAX_LENGTH, required=False)
    email = EmailAddressField(label=_("Email"), max_length=TEXT_MAX_LENGTH, required=False)
    phone_number = PhoneNumberField(
        label=_("Phone number"),
        max_length=64,
        required=False,
        help_text=_("With its country code, for example +66 81 234 5678."),
    )
    identifier = TextField(
        label=_("Identifier"),
        max_length=TEXT_MAX_LENGTH,
        required=False,
        help_text=_("Your system's id for this contact."),
    )
    thumbnail = WebAddressField(
        label=_("Thumbnail URL"),
        required=False,
        help_text=_("An http:// or https:// address of the contact's picture."),
    )
    blocked = forms.BooleanField(label=_("Blocked"), required=False)
    availability_status = forms.ChoiceField(
        label=_("Availability"),
        choices=Contact.AvailabilityStatus.choices,
        required=False,
        disabled=True,
        help_text=_("Set by LiveDesk from the contact's presence."),
    )
    description = TextField(
        label=_("Description"),
        max_length=DESCRIPTION_MAX_LENGTH,
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
    )
    company_name = TextField(label=_("Company name"), max_length=TEXT_MAX_LENGTH, required=False)
    city = TextField(label=_("City"), max_length=TEXT_MAX_LENGTH, required=False)
    country = TextField(label=_("Country"), max_length=TEXT_MAX_LENGTH, required=False)
    country_code = CountryCodeField(
        label=_("Country code"),
        max_length=TEXT_MAX_LENGTH,
        required=False,
        help_text=_("Two letters, for example TH."),
    )
    telegram = TextField(label=_("Telegram"), max_length=TEXT_MAX_LENGTH, required=False)
    social_facebook = TextField(label=_("Facebook"), max_length=TEXT_MAX_LENGTH, required=False)
    social_github = TextField(label=_("GitHub"), max_length=TEXT_MAX_LENGTH, required=False)
    social_instagram = TextField(label=_("Instagram"), max_length=TEXT_MAX_LENGTH, required=False)
    social_linkedin = TextField(label=_("LinkedIn"), max_length=TEXT_MAX_LENGTH, required=False)
    social_twitter = TextField(label=_("Twitter"), max_length=TEXT_MAX_LENGTH, required=False)

    def __init__(
        self,
        data=None,
        *,
        contact: Contact,
        prefill: services.Values | None = None,
        definitions: list[CustomAttributeDefinition] | None = None,
        prefix=None,
    ):
        super().__init__(data, prefix=prefix)
        self.contact = contact
        if definitions is None:
            definitions = list(CustomAttributeDefinition.objects.all())
        self.fields["base_version"] = forms.IntegerField(widget=forms.HiddenInput, min_value=0)
        self.fields["base_values"] = forms.CharField(widget=forms.HiddenInput, strip=False)
        self._signed = self._signed_payload() if self.is_bound else None
        if self._signed is not None:
            self.opened_values: services.Values = self._signed.get("opened", self._signed["values"])
        else:
            base = services.contact_editable_values(contact)
            self.opened_values = dict(prefill) if prefill is not None else base
            payload = {"contact": contact.remote_id, "version": contact.version, "values": base}
            if self.opened_values != base:
                payload["opened"] = self.opened_values
            self.initial["base_version"] = contact.version
            self.initial["base_values"] = signing.dumps(payload, salt=BASE_SALT, compress=True)
        self.initial["availability_status"] = contact.availability_status
        for name, key in VALUE_KEYS.items():
            value = self.opened_values.get(key, "")
            self._open(name, value, text=bool(value) if name == "blocked" else _UNSET)
        self.definitions = self._definition_fields_add(definitions)
        defined = {CUSTOM_FIELD_PREFIX + d.key for d in self.definitions}
        self.custom_rows = CustomAttributeRowFormSet(
            data,
            prefix=self.add_prefix("custom"),
            initial=[
                {"key": key, "value": value_text(value)}
                for key, value in self._custom_values().items()
                if CUSTOM_FIELD_PREFIX + key not in defined
            ],
            defined_keys=frozenset(d.key for d in self.definitions),
        )
        self.helper = self._helper()

    # Opening

    def _signed_payload(self) -> dict | None:
        try:
            payload = signing.loads(
                self.data.get(self.add_prefix("base_values"), ""), salt=BASE_SALT
            )
        except signing.BadSignature:
            return None
        if (
            not isinstance(payload, dict)
            or payload.get("contact") != self.contact.remote_id
            or not isinstance(payload.get("values"), dict)
            or not isinstance(payload.get("version"), int)
        ):
            return None
        return payload

    def _open(self, name: str, value: Any, *, text: Any = _UNSET) -> None:
        field = self.fields[name]
        shown = value_text(value) if text is _UNSET else text
        self.initial[name] = shown
        if isinstance(field, OpenedValueMixin):
            field.opened_text = shown
            field.opened_value = value

    def _custom_values(self) -> dict[str, Any]:
        prefix = services.CUSTOM_PREFIX
        return {
            key.removeprefix(prefix): value
            for key, value in self.opened_values.items()
            if key.startswith(prefix) and value is not None
        }

    def _definition_fields_add(self, definitions) -> list[CustomAttributeDefinition]:
        custom = self._custom_values()
        added = []
        for definition in definitions:
            name = CUSTOM_FIELD_PREFIX + definition.key
            if name in self.fields:
                continue
            value = custom.get(definition.key)
            field, text = _definition_field(definition, value)
            self.fields[name] = field
            self._open(name, value, text=text)
            added.append(definition)
        return added

    def _helper(self) -> FormHelper:
        helper = FormHelper()
        helper.form_tag = False
        helper.disable_csrf = True
        sections = [
            Section(SECTION_TITLES[key], *(_row(names) for names in rows), css_id=f"section-{key}")
            for key, rows in SECTION_ROWS.items()
        ]
        definition_names = [CUSTOM_FIELD_PREFIX + d.key for d in self.definitions]
        pairs = [tuple(definition_names[i : i + 2]) for i in range(0, len(definition_names), 2)]
        sections.append(
            Section(
                SECTION_TITLES["custom"],
                *(_row(names) for names in pairs),
                CustomRows(),
                css_id="section-custom",
            )
        )
        helper.layout = Layout("base_version", "base_values", *sections)
        return helper

    @property
    def sections(self) -> list[FormSection]:
        """The four titled sections with their bound fields, for templates without crispy."""
        sections = [
            FormSection(
                key=key,
                title=SECTION_TITLES[key],
                fields=[self[name] for names in rows for name in names],
            )
            for key, rows in SECTION_ROWS.items()
        ]
        sections.append(
            FormSection(
                key="custom",
                title=SECTION_TITLES["custom"],
                fields=[self[CUSTOM_FIELD_PREFIX + d.key] for d in self.definitions],
                custom_rows=self.custom_rows,
            )
        )
        return sections

    # Validation

    def clean_base_values(self) -> services.Values:
        if self._signed is None:
            raise ValidationError(
                _(
                    "This form's original values could not be verified. Open the form again "
                    "and repeat your changes."
                ),
                code="bad_signature",
            )
        return self._signed["values"]

    def clean(self):
        cleaned = super().clean()
        version = cleaned.get("base_version")
        if self._signed is not None and version is not None and version != self._signed["version"]:
            raise ValidationError(
                _(
                    "This form's original values could not be verified. Open the form again "
                    "and repeat your changes."
                ),
                code="bad_signature",
            )
        if not self.custom_rows.is_valid():
            raise ValidationError(
                _("Some custom attributes need attention: see the Custom attributes section."),
                code="custom_rows",
            )
        return cleaned

    def is_valid(self) -> bool:
        """The form and its custom attribute rows are both valid."""
        rows_valid = self.custom_rows.is_valid()
        return super().is_valid() and rows_valid

    @property
    def base_version(self) -> int:
        return self.cleaned_data["base_version"]

    @property
    def base_values(self) -> services.Values:
        return self.cleaned_data["base_values"]

    # Results

    def edit_values(self) -> services.Values:
        """The flattened values to save (after is_valid()); a removed custom attribute is absent."""
        data = self.cleaned_data
        values: services.Values = {VALUE_KEYS[name]: data[name] for name in VALUE_KEYS}
        values["blocked"] = bool(data["blocked"])
        for definition in self.definitions:
            name = CUSTOM_FIELD_PREFIX + definition.key
            if self._is_untouched(name):
                value = self.fields[name].opened_value
            else:
                value = _definition_json(definition, data[name], self.fields[name])
            if value is not None:
                values[services.CUSTOM_PREFIX + definition.key] = value
        opened_custom = self._custom_values()
        for row in self.custom_rows.forms:
            cleaned = row.cleaned_data
            key = cleaned.get("key")
            if not key or cleaned.get("remove"):
                continue
            if row.is_untouched():
                values[services.CUSTOM_PREFIX + key] = opened_custom[key]
            elif cleaned.get("value"):
                values[services.CUSTOM_PREFIX + key] = cleaned["value"]
        return values

    def values_rebased(self) -> services.Values:
        """The contact's current values with this form's changes on top (after is_valid())."""
        values = services.contact_editable_values(self.contact)
        for key, (_before, after) in services.values_diff(
            self.base_values, self.edit_values()
        ).items():
            if after is None:
                values.pop(key, None)
            else:
                values[key] = after
        return values

    def _is_untouched(self, name: str) -> bool:
        field = self.fields[name]
        return field.opened_text is not None and _same_text(self[name].data, field.opened_text)

    def add_livedesk_errors(self, field_errors: dict[str, list[str]]) -> None:
        """Show LiveDesk's 422 messages on the fields they name; others above the form."""
        for livedesk_name, messages in field_errors.items():
            name = self.field_name_for(livedesk_name)
            for message in messages or [gettext("LiveDesk rejected this value.")]:
                self.add_error(name, gettext("LiveDesk: %(message)s") % {"message": message})

    def field_name_for(self, livedesk_name: str) -> str | None:
        """This form's field for a name LiveDesk or the service uses, or None."""
        name = LIVEDESK_NAMES.get(livedesk_name, livedesk_name)
        if name in VALUE_KEYS:
            return name
        if name in FIELD_NAMES:
            return FIELD_NAMES[name]
        if name.startswith(services.ADDITIONAL_PREFIX + "social_profiles."):
            name = services.SOCIAL_PREFIX + name.rsplit(".", 1)[1]
        if name in FIELD_NAMES:
            return FIELD_NAMES[name]
        if name.startswith(services.CUSTOM_PREFIX):
            custom = CUSTOM_FIELD_PREFIX + name.removeprefix(services.CUSTOM_PREFIX)
            if custom in self.fields:
                return custom
        return None


def _row(names: tuple[str, ...]) -> Row:
    columns = []
    for name in names:
        columns.append(Column(Switch(name) if name == "blocked" else name, css_class="col-md"))
    return Row(*columns)


def _regex_validators(definition: CustomAttributeDefinition) -> list[RegexValidator]:
    if not definition.regex_pattern:
        return []
    try:
        re.compile(definition.regex_pattern)
    except re.error:
        logger.warning("Ignoring the invalid pattern of custom attribute %s", definition.key)
        return []
    message = definition.regex_hint or gettext("Enter a value in the expected format.")
    return [RegexValidator(definition.regex_pattern, message=message)]


def _definition_field(definition: CustomAttributeDefinition, value: Any) -> tuple[forms.Field, Any]:
    """The typed field for one defined custom attribute, and the text it opens with."""
    kinds = CustomAttributeDefinition.AttributeType
    kind = definition.attribute_type
    common: dict[str, Any] = {
        "label": definition.label,
        "help_text": definition.description,
        "required": False,
    }
    text = value_text(value)
    if kind in (kinds.NUMBER, kinds.CURRENCY, kinds.PERCENT):
        if kind == kinds.CURRENCY:
            common["decimal_places"] = 2
        if kind == kinds.PERCENT:
            common.update(min_value=0, max_value=100)
        field: forms.Field = NumberField(**common)
        text = _number_text(value)
        if text and not _parses(field, text):
            field.widget = forms.TextInput()
    elif kind == kinds.LINK:
        field = WebAddressField(validators=_regex_validators(definition), **common)
    elif kind == kinds.DATE:
        field = CalendarDateField(
            widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"), **common
        )
        if text and not _is_iso_date(text):
            field.widget = forms.TextInput()
    elif kind == kinds.LIST:
        options = [value_text(option) for option in definition.list_options or []]
        choices = [("", "---------")] + [(option, option) for option in options]
        if text and text not in options:
            choices.append((text, gettext("%(value)s (current value)") % {"value": text}))
        field = OptionField(choices=choices, **common)
    elif kind == kinds.CHECKBOX:
        field = CheckboxField(**common)
        text = _checked(value) if value is not None else False
    else:
        field = TextField(
            max_length=TEXT_MAX_LENGTH, validators=_regex_validators(definition), **common
        )
    return field, text


def _parses(field: forms.Field, text: str) -> bool:
    try:
        field.to_python(text)
    except ValidationError:
        return False
    return True


def _is_iso_date(text: str) -> bool:
    try:
        date.fromisoformat(text)
    except ValueError:
        return False
    return len(text) == 10


def _definition_json(
    definition: CustomAttributeDefinition, cleaned: Any, field: forms.Field
) -> Any:
    """The JSON value LiveDesk gets for a changed defined attribute; None removes it."""
    if cleaned is None or cleaned == "":
        return None
    kinds = CustomAttributeDefinition.AttributeType
    if isinstance(cleaned, Decimal):
        return _json_number(cleaned)
    if isinstance(cleaned, date):
        return cleaned.isoformat()
    if definition.attribute_type == kinds.LIST and isinstance(cleaned, str):
        by_text = {value_text(option): option for option in definition.list_options or []}
        return by_text.get(cleaned, cleaned)
    if definition.attribute_type == kinds.CHECKBOX:
        return bool(cleaned)
    if definition.attribute_type in (kinds.NUMBER, kinds.CURRENCY, kinds.PERCENT):
        try:
            return _json_number(Decimal(str(cleaned)))
        except InvalidOperation:
            return cleaned
    return cleaned


# --- Submitting -------------------------------------------------------------------------------


@dataclass
class EditOutcome:
    kind: str  # "saved" | "no_change" | "conflict" | "rejected" | "queued" | "failed"
    edit: ContactEdit | None
    conflicts: list[services.FieldConflict] = field(default_factory=list)
    message: str = ""


def contact_edit_form_submit(form: ContactEditForm, *, editor, source: str) -> EditOutcome:
    """Submit a valid form through the edit service and say what happened, in words."""
    try:
        edit = services.contact_edit_submit(
            contact=form.contact,
            editor=editor,
            values=form.edit_values(),
            base_values=form.base_values,
            base_version=form.base_version,
            source=source,
        )
    except services.EditConflict as conflict:
        message = gettext(
            "Someone else changed %(fields)s after you opened this form, so nothing was sent. "
            "Compare the values below, then reload the form with the current values."
        ) % {"fields": ", ".join(item.label for item in conflict.conflicts)}
        form.add_error(None, message)
        return EditOutcome("conflict", None, conflict.conflicts, message)
    if edit is None:
        return EditOutcome(
            "no_change", None, message=gettext("No changes to save: nothing was sent to LiveDesk.")
        )
    if edit.state == ContactEdit.State.SUCCEEDED:
        return EditOutcome(
            "saved",
            edit,
            message=gettext("Saved: LiveDesk accepted the changes to %(contact)s.")
            % {"contact": edit.contact},
        )
    if edit.failure_kind == ContactEdit.FailureKind.TRANSIENT and edit.next_attempt_at:
        return EditOutcome(
            "queued",
            edit,
            message=gettext(
                "LiveDesk could not be reached; your edit is saved and will be retried "
                "automatically."
            ),
        )
    if edit.http_status == 422:
        message, field_errors = parse_validation_errors(edit.response_body)
        form.add_livedesk_errors(field_errors)
        if not field_errors:
            form.add_error(None, gettext("LiveDesk: %(message)s") % {"message": message})
        return EditOutcome(
            "rejected",
            edit,
            message=gettext(
                "LiveDesk rejected the changes, so nothing was saved there. Correct the fields "
                "marked below and save again."
            ),
        )
    return EditOutcome(
        "failed",
        edit,
        message=gettext(
            "LiveDesk did not accept the edit: %(error)s The edit is kept on the contact's page: "
            "retry it, edit and resend it, or discard it."
        )
        % {"error": edit.error_message},
    )


# --- Filters ----------------------------------------------------------------------------------

YES_NO = [("", _("Any")), ("yes", _("Yes")), ("no", _("No"))]


def _bootstrap_widgets(form: forms.Form) -> None:
    for bound_field in form:
        widget = bound_field.field.widget
        css = "form-select" if isinstance(widget, forms.Select) else "form-control"
        widget.attrs["class"] = css


class ContactFilterForm(forms.Form):
    """The search, filters and sort order of the contact list (a GET form)."""

    SORTS = [
        ("name", _("Name (A-Z)")),
        ("-name", _("Name (Z-A)")),
        ("email", _("Email (A-Z)")),
        ("-email", _("Email (Z-A)")),
        ("company", _("Company (A-Z)")),
        ("-company", _("Company (Z-A)")),
        ("country", _("Country (A-Z)")),
        ("-country", _("Country (Z-A)")),
        ("-last_activity", _("Last activity (newest)")),
        ("last_activity", _("Last activity (oldest)")),
    ]

    q = forms.CharField(
        label=_("Search"),
        required=False,
        max_length=255,
        widget=forms.TextInput(
            attrs={
                "type": "search",
                "placeholder": _("Name, email, company, phone or identifier"),
            }
        ),
    )
    blocked = forms.ChoiceField(label=_("Blocked"), choices=YES_NO, required=False)
    availability = forms.ChoiceField(
        label=_("Availability"),
        choices=[("", _("Any")), *Contact.AvailabilityStatus.choices],
        required=False,
    )
    country = forms.ChoiceField(label=_("Country"), choices=[("", _("Any"))], required=False)
    push_state = forms.ChoiceField(
        label=_("Push state"), choices=[("", _("Any")), *Contact.PushState.choices], required=False
    )
    gone = forms.ChoiceField(label=_("Gone from LiveDesk"), choices=YES_NO, required=False)
    sort = forms.ChoiceField(label=_("Sort by"), choices=SORTS, required=False)

    def __init__(self, data=None, *, countries: list[str] = ()):
        super().__init__(data)
        self.fields["country"].choices = [("", _("Any"))] + [(c, c) for c in countries]
        _bootstrap_widgets(self)

    def filters(self) -> dict[str, Any]:
        """Keyword arguments for selectors.contact_list; invalid filters are ignored."""
        self.is_valid()
        data = getattr(self, "cleaned_data", {})
        as_bool = {"yes": True, "no": False}
        return {
            "q": data.get("q", ""),
            "blocked": as_bool.get(data.get("blocked")),
            "availability": data.get("availability", ""),
            "country": data.get("country", ""),
            "push_state": data.get("push_state", ""),
            "gone": as_bool.get(data.get("gone")),
            "sort": data.get("sort") or "name",
        }


class EditHistoryFilterForm(forms.Form):
    """The filters of the edit history (a GET form)."""

    agent = forms.CharField(label=_("Agent"), required=False, max_length=150)
    contact = forms.CharField(
        label=_("Contact"),
        required=False,
        max_length=255,
        widget=forms.TextInput(attrs={"placeholder": _("LiveDesk id or name")}),
    )
    state = forms.ChoiceField(
        label=_("Outcome"), choices=[("", _("Any")), *ContactEdit.State.choices], required=False
    )
    date_from = forms.DateField(
        label=_("From"), required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    date_to = forms.DateField(
        label=_("To"), required=False, widget=forms.DateInput(attrs={"type": "date"})
    )

    def __init__(self, data=None):
        super().__init__(data)
        _bootstrap_widgets(self)

    def filters(self) -> dict[str, Any]:
        """Keyword arguments for selectors.edit_history; invalid filters are ignored."""
        self.is_valid()
        data = getattr(self, "cleaned_data", {})
        return {
            "agent": data.get("agent", ""),
            "contact": data.get("contact", ""),
            "state": data.get("state", ""),
            "date_from": data.get("date_from"),
            "date_to": data.get("date_to"),
        }
