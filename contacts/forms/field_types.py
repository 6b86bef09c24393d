"""Form fields for contact values: each checks one kind of value and turns it into JSON."""

from __future__ import annotations

from typing import Any

import phonenumbers
from django import forms
from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import URLValidator
from django.utils.translation import get_language
from django.utils.translation import gettext_lazy as _
from phonenumbers import geocoder

from contacts.fields import ContactField, Kind
from contacts.models import Contact

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
URL_MAX_LENGTH = 2048
WEB_ADDRESS_MESSAGE = _("Enter a web address starting with http:// or https://.")


def same_text(submitted: Any, opened: Any) -> bool:
    """The submitted text is the opened one; browsers send a textarea's line breaks as CRLF."""
    if isinstance(submitted, str) and isinstance(opened, str):
        return submitted.replace("\r\n", "\n") == opened.replace("\r\n", "\n")
    return submitted == opened


class OpenedValueMixin:
    """Accepts, unchecked, the value the form was opened with.

    Values written elsewhere (in LiveDesk, or before a rule existed) need not pass this form's
    rules: an agent who leaves such a value untouched must still be able to save the rest.
    """

    opened_text: Any = None
    opened_value: Any = None

    def clean(self, value):
        if self.opened_text is not None and same_text(value, self.opened_text):
            return self.opened_value
        return super().clean(value)


class TextField(OpenedValueMixin, forms.CharField):
    pass


class EmailAddressField(OpenedValueMixin, forms.EmailField):
    def to_python(self, value):
        # LiveDesk stores emails lower-cased.
        return super().to_python(value).lower()


class PhoneNumberField(OpenedValueMixin, forms.CharField):
    """A phone number as people type it, normalised to E.164: with + and its country code, or
    national ("081 234 5678") in `region` (the contact's country code), else in
    LIVEDESK_DEFAULT_PHONE_REGION."""

    default_error_messages = {
        "invalid": _(
            "Enter a valid phone number for %(country)s (%(region)s), or start with + and the "
            "country code."
        ),
    }

    region: str = ""

    def to_python(self, value):
        value = super().to_python(value)
        if not value:
            return ""
        region = phone_region(self.region)
        try:
            number = phonenumbers.parse(value, region)
        except phonenumbers.NumberParseException as error:
            raise self._invalid(region) from error
        if not phonenumbers.is_valid_number(number):
            raise self._invalid(region)
        return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)

    def _invalid(self, region: str) -> ValidationError:
        return ValidationError(
            self.error_messages["invalid"],
            code="invalid",
            params={"country": region_name(region), "region": region},
        )


def phone_region(country_code: str | None) -> str:
    """The region a national phone number is read in: the country code when it is one, else
    the LIVEDESK_DEFAULT_PHONE_REGION setting."""
    code = (country_code or "").strip().upper()
    return code if code in ISO_COUNTRY_CODES else settings.LIVEDESK_DEFAULT_PHONE_REGION


def region_name(region: str) -> str:
    """The country's name in the active language ("Thailand", "ประเทศไทย"), or its code when
    phonenumbers has no number, hence no name, for it (Antarctica)."""
    example = phonenumbers.example_number(region)
    language = (get_language() or "en").split("-")[0]
    name = geocoder.country_name_for_number(example, language) if example else ""
    return name or region


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


def registry_form_field(field: ContactField) -> forms.Field:
    """The form field for one field of the registry, by its kind."""
    common: dict[str, Any] = {"label": field.label, "help_text": field.help_text, "required": False}
    if field.kind == Kind.BOOLEAN:
        return forms.BooleanField(**common)
    if field.kind == Kind.AVAILABILITY:
        return forms.ChoiceField(
            choices=Contact.AvailabilityStatus.choices, disabled=True, **common
        )
    text_fields = {
        Kind.EMAIL: EmailAddressField,
        Kind.PHONE: PhoneNumberField,
        Kind.URL: WebAddressField,
        Kind.COUNTRY_CODE: CountryCodeField,
    }
    if field.kind == Kind.LONG_TEXT:
        common["widget"] = forms.Textarea(attrs={"rows": 3})
    return text_fields.get(field.kind, TextField)(max_length=field.max_length, **common)
