"""Custom attributes in the edit form: typed fields for defined ones, free rows for the rest."""

from __future__ import annotations

import logging
import re
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any

from django import forms
from django.core.exceptions import ValidationError
from django.core.validators import RegexValidator
from django.utils.html import format_html
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from contacts.display import value_text
from contacts.forms.field_types import (
    CalendarDateField,
    CheckboxField,
    NumberField,
    OptionField,
    TextField,
    WebAddressField,
    same_text,
)
from contacts.models import CustomAttributeDefinition

logger = logging.getLogger(__name__)

TEXT_MAX_LENGTH = 255
CUSTOM_KEY_MAX_LENGTH = 64
CUSTOM_KEY_PATTERN = re.compile(r"[a-z0-9_]+")
Kinds = CustomAttributeDefinition.AttributeType
# Each number kind's bounds. At most 15 digits: JSON numbers are read as doubles, which keep 15
# significant digits exactly, and Python's json refuses an int of over 4,300 digits (1E+999999).
NUMBER_MAX_DIGITS = 15
NUMBER_BOUNDS: dict[str, dict[str, int]] = {
    Kinds.NUMBER: {},
    Kinds.CURRENCY: {"decimal_places": 2},
    Kinds.PERCENT: {"min_value": 0, "max_value": 100},
}
NUMBER_KINDS = tuple(NUMBER_BOUNDS)


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
            and same_text(self["key"].data, self.opened_key)
            and same_text(self["value"].data, self.initial.get("value", ""))
        )


class BaseCustomAttributeRowFormSet(forms.BaseFormSet):
    def __init__(self, *args, defined_keys: frozenset[str] = frozenset(), **kwargs):
        self.defined_keys = defined_keys
        # A blank row was just added by the "Add an attribute" button: its key takes focus.
        self.row_added = False
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


# No blank row is drawn: "Add an attribute" adds one (in the browser, or posted back).
ROWS_MAX = 200
CustomAttributeRowFormSet = forms.formset_factory(
    CustomAttributeRowForm,
    formset=BaseCustomAttributeRowFormSet,
    extra=0,
    max_num=ROWS_MAX,
    validate_max=True,
)


def definition_field(definition: CustomAttributeDefinition, value: Any) -> tuple[forms.Field, Any]:
    """The typed field for one defined custom attribute, and the text it opens with."""
    kind = definition.attribute_type
    common: dict[str, Any] = {
        "label": definition.label,
        # Escaped here: crispy-forms and Django's own field template show help text as HTML.
        "help_text": format_html("{}", definition.description),
        "required": False,
    }
    text: Any = value_text(value)
    if kind in NUMBER_KINDS:
        field: forms.Field = NumberField(
            max_digits=NUMBER_MAX_DIGITS, **NUMBER_BOUNDS[kind], **common
        )
        text = _number_text(value)
        if text and not _parses(field, text):
            field.widget = forms.TextInput()
    elif kind == Kinds.LINK:
        field = WebAddressField(validators=_regex_validators(definition), **common)
    elif kind == Kinds.DATE:
        field = CalendarDateField(
            widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"), **common
        )
        if text and not _is_iso_date(text):
            field.widget = forms.TextInput()
    elif kind == Kinds.LIST:
        options = [value_text(option) for option in definition.list_options or []]
        choices = [("", "---------")] + [(option, option) for option in options]
        if text and text not in options:
            choices.append((text, gettext("%(value)s (current value)") % {"value": text}))
        field = OptionField(choices=choices, **common)
    elif kind == Kinds.CHECKBOX:
        field = CheckboxField(**common)
        text = _checked(value) if value is not None else False
    else:
        field = TextField(
            max_length=TEXT_MAX_LENGTH, validators=_regex_validators(definition), **common
        )
    return field, text


def definition_json(definition: CustomAttributeDefinition, cleaned: Any) -> Any:
    """The JSON value LiveDesk gets for a changed defined attribute; None removes it."""
    if cleaned is None or cleaned == "":
        return None
    if isinstance(cleaned, Decimal):
        return _json_number(cleaned)
    if isinstance(cleaned, date):
        return cleaned.isoformat()
    if definition.attribute_type == Kinds.LIST and isinstance(cleaned, str):
        by_text = {value_text(option): option for option in definition.list_options or []}
        return by_text.get(cleaned, cleaned)
    if definition.attribute_type == Kinds.CHECKBOX:
        return bool(cleaned)
    if definition.attribute_type in NUMBER_KINDS:
        try:
            return _json_number(Decimal(str(cleaned)))
        except InvalidOperation:
            return cleaned
    return cleaned


def _regex_validators(definition: CustomAttributeDefinition) -> list[RegexValidator]:
    if not definition.regex_pattern:
        return []
    try:
        re.compile(definition.regex_pattern)
    except (re.error, OverflowError):  # OverflowError: a repeat such as a{99999999999}
        logger.warning("Ignoring the invalid pattern of custom attribute %s", definition.key)
        return []
    # The validator's message is %-formatted with the value: the hint's own % signs are text.
    hint = definition.regex_hint.replace("%", "%%")
    message = hint or gettext("Enter a value in the expected format.")
    return [RegexValidator(definition.regex_pattern, message=message)]


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
