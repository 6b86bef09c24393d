"""The contact edit form, shared by the agent's page and the admin: every editable value of one
contact in the registry's sections, checked before anything is sent."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from crispy_bootstrap5.bootstrap5 import Switch
from crispy_forms.helper import FormHelper
from crispy_forms.layout import Column, Fieldset, Layout, LayoutObject, Row
from django import forms
from django.core import signing
from django.core.exceptions import ValidationError
from django.forms.boundfield import BoundField
from django.forms.forms import NON_FIELD_ERRORS
from django.template.loader import render_to_string
from django.utils.functional import cached_property
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from contacts.display import change_words, value_text
from contacts.fields import (
    CUSTOM_PREFIX,
    ContactField,
    Kind,
    Section,
    Values,
    contact_fields,
    contact_values,
    fields_by_key,
    livedesk_name_key,
    section_fields,
    values_diff,
    values_with_changes,
)
from contacts.forms.custom_attributes import (
    ROWS_MAX,
    CustomAttributeRowFormSet,
    definition_field,
    definition_json,
)
from contacts.forms.field_types import (
    ISO_COUNTRY_CODES,
    OpenedValueMixin,
    PhoneNumberField,
    registry_form_field,
    same_text,
)
from contacts.models import Contact, CustomAttributeDefinition

if TYPE_CHECKING:
    from contacts.services import FieldConflict

BASE_SALT = "contacts.forms.ContactEditForm.base_values"
CUSTOM_FIELD_PREFIX = "custom_"
COUNTRY_CODE_KEY = "additional_attributes.country_code"
UNVERIFIED_MESSAGE = _(
    "This form's original values could not be verified. Open the form again and repeat your "
    "changes."
)


class SectionCard(Fieldset):
    """A titled card of fields."""

    template = "contacts/layout/section.html"


class CustomRows(LayoutObject):
    """The custom attribute rows of the form, rendered inside its layout."""

    def render(self, form, context, template_pack=None, **kwargs):
        return render_to_string("contacts/includes/custom_rows.html", {"formset": form.custom_rows})


@dataclass(frozen=True)
class ErrorLink:
    """One entry of the error summary: a message, the label of the input it concerns and its
    id (none for the form's own messages)."""

    message: str
    label: str = ""
    target_id: str = ""


@dataclass(frozen=True)
class FormSection:
    key: str
    title: str
    fields: list[BoundField]
    custom_rows: forms.BaseFormSet | None = None


def field_rows(fields: list[ContactField]) -> list[list[ContactField]]:
    """Fields laid out in rows: a wide field alone, the others two by two."""
    rows: list[list[ContactField]] = []
    for field in fields:
        if field.wide or not rows or rows[-1][0].wide or len(rows[-1]) == 2:
            rows.append([field])
        else:
            rows[-1].append(field)
    return rows


class ContactEditForm(forms.Form):
    """Every editable value of one contact, in four sections, checked before anything is sent.

    The values the form was opened with travel signed in `base_values`, so a submit is compared
    with what the agent saw, not with whatever the mirror holds by then.
    """

    def __init__(
        self,
        data=None,
        *,
        contact: Contact,
        prefill: Values | None = None,
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
            self.opened_values: Values = self._signed.get("opened", self._signed["values"])
        else:
            base = contact_values(contact)
            self.opened_values = dict(prefill) if prefill is not None else base
            payload = {"contact": contact.remote_id, "version": contact.version, "values": base}
            if self.opened_values != base:
                payload["opened"] = self.opened_values
            self.initial["base_version"] = contact.version
            self.initial["base_values"] = signing.dumps(payload, salt=BASE_SALT, compress=True)
        for field in contact_fields():
            self.fields[field.form_name] = registry_form_field(field)
            if not field.editable:
                self.initial[field.form_name] = field.value_of(contact)
            elif field.kind == Kind.BOOLEAN:
                value = self.opened_values.get(field.key, False)
                self._open(field.form_name, value, text=bool(value))
            else:
                value = self.opened_values.get(field.key, "")
                self._open(field.form_name, value, text=value_text(value))
        self._phone_region_set()
        self.definitions = self._definition_fields_add(definitions)
        defined = {d.key for d in self.definitions}
        self.custom_rows = CustomAttributeRowFormSet(
            data,
            prefix=self.add_prefix("custom"),
            initial=[
                {"key": key, "value": value_text(value)}
                for key, value in self._custom_values().items()
                if key not in defined
            ],
            defined_keys=frozenset(defined),
        )
        # The form names of fields someone else changed too, marked by conflicts_mark.
        self.conflicted: list[str] = []

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

    def _open(self, name: str, value: Any, *, text: Any) -> None:
        field = self.fields[name]
        self.initial[name] = text
        if isinstance(field, OpenedValueMixin):
            field.opened_text = text
            field.opened_value = value

    def _phone_region_set(self) -> None:
        """National phone numbers are read in the country code submitted beside them, else the
        contact's, else the default region (phone_region)."""
        code_name = fields_by_key()[COUNTRY_CODE_KEY].form_name
        submitted = str(self.data.get(self.add_prefix(code_name)) or "") if self.is_bound else ""
        region = submitted if submitted.strip().upper() in ISO_COUNTRY_CODES else ""
        for field in self.fields.values():
            if isinstance(field, PhoneNumberField):
                field.region = region or self.contact.country_code

    def _custom_values(self) -> dict[str, Any]:
        return {
            key.removeprefix(CUSTOM_PREFIX): value
            for key, value in self.opened_values.items()
            if key.startswith(CUSTOM_PREFIX) and value is not None
        }

    def _definition_fields_add(self, definitions) -> list[CustomAttributeDefinition]:
        custom = self._custom_values()
        added = []
        for definition in definitions:
            name = CUSTOM_FIELD_PREFIX + definition.key
            if name in self.fields:
                continue
            value = custom.get(definition.key)
            field, text = definition_field(definition, value)
            self.fields[name] = field
            self._open(name, value, text=text)
            added.append(definition)
        return added

    def _section_names(self) -> dict[str, list[list[str]]]:
        """Each section's form field names, row by row as the page lays them out."""
        sections = {
            section.value: [
                [field.form_name for field in row] for row in field_rows(section_fields(section))
            ]
            for section in (Section.CORE, Section.ADDITIONAL, Section.SOCIAL)
        }
        names = [CUSTOM_FIELD_PREFIX + d.key for d in self.definitions]
        sections[Section.CUSTOM.value] = [names[i : i + 2] for i in range(0, len(names), 2)]
        return sections

    @cached_property
    def helper(self) -> FormHelper:
        """The crispy layout, built when the form is rendered (an import checks many rows
        with forms it never renders)."""
        helper = FormHelper()
        helper.form_tag = False
        helper.disable_csrf = True
        helper.template = "contacts/layout/edit_form.html"
        sections = []
        for key, rows in self._section_names().items():
            layout_rows: list[Any] = [_layout_row(self, names) for names in rows]
            if key == Section.CUSTOM:
                layout_rows.append(CustomRows())
            sections.append(SectionCard(Section(key).label, *layout_rows, css_id=f"section-{key}"))
        helper.layout = Layout("base_version", "base_values", *sections)
        return helper

    @property
    def sections(self) -> list[FormSection]:
        """The four titled sections with their bound fields, for templates without crispy."""
        return [
            FormSection(
                key=key,
                title=Section(key).label,
                fields=[self[name] for names in rows for name in names],
                custom_rows=self.custom_rows if key == Section.CUSTOM else None,
            )
            for key, rows in self._section_names().items()
        ]

    # Validation

    def clean_base_values(self) -> Values:
        if self._signed is None:
            raise ValidationError(UNVERIFIED_MESSAGE, code="bad_signature")
        return self._signed["values"]

    def clean(self):
        cleaned = super().clean()
        version = cleaned.get("base_version")
        if self._signed is not None and version is not None and version != self._signed["version"]:
            raise ValidationError(UNVERIFIED_MESSAGE, code="bad_signature")
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
    def base_values(self) -> Values:
        return self.cleaned_data["base_values"]

    def with_row_added(self) -> ContactEditForm:
        """This bound form posted back with one more blank custom attribute row ("Add an
        attribute" without JavaScript): nothing is checked or sent."""
        data = self.data.copy()
        total = self.custom_rows.management_form["TOTAL_FORMS"].html_name
        try:
            count = int(data.get(total) or 0)
        except ValueError:
            count = 0
        data[total] = str(min(max(count, 0), ROWS_MAX - 1) + 1)
        form = ContactEditForm(
            data, contact=self.contact, prefill=self.opened_values, prefix=self.prefix
        )
        form.custom_rows.row_added = True
        return form

    # Results

    def edit_values(self) -> Values:
        """The flattened values to save (after is_valid()); a removed custom attribute is absent."""
        data = self.cleaned_data
        values: Values = {}
        for field in contact_fields():
            if field.editable:
                value = data[field.form_name]
                values[field.key] = bool(value) if field.kind == Kind.BOOLEAN else value
        for definition in self.definitions:
            name = CUSTOM_FIELD_PREFIX + definition.key
            if self._is_untouched(name):
                value = self.fields[name].opened_value
            else:
                value = definition_json(definition, data[name])
            if value is not None:
                values[CUSTOM_PREFIX + definition.key] = value
        opened_custom = self._custom_values()
        for row in self.custom_rows.forms:
            cleaned = row.cleaned_data
            key = cleaned.get("key")
            if not key or cleaned.get("remove"):
                continue
            if row.is_untouched():
                values[CUSTOM_PREFIX + key] = opened_custom[key]
            elif cleaned.get("value"):
                values[CUSTOM_PREFIX + key] = cleaned["value"]
        return values

    def values_rebased(self) -> Values:
        """The contact's current values with this form's changes on top (after is_valid())."""
        changes = values_diff(self.base_values, self.edit_values())
        return values_with_changes(contact_values(self.contact), changes)

    def _is_untouched(self, name: str) -> bool:
        field = self.fields[name]
        return field.opened_text is not None and same_text(self[name].data, field.opened_text)

    def data_as_opened(self) -> dict[str, Any]:
        """What a browser posts for this form as opened: every field and custom row unchanged
        (a starting point to change some fields of, as an import row does)."""
        data: dict[str, Any] = {}
        rows = self.custom_rows
        for bound in [*self, *rows.management_form, *(b for row in rows.forms for b in row)]:
            if bound.field.disabled:
                continue
            value = bound.value()
            if isinstance(bound.field.widget, forms.CheckboxInput):
                if value:
                    data[bound.html_name] = "on"
            else:
                data[bound.html_name] = "" if value is None else value
        return data

    def conflicts_mark(self, conflicts: list[FieldConflict]) -> None:
        """Mark each field someone else changed too with both values; the first takes focus.
        On a form opened afresh (not posted), as the page shows it after a conflict."""
        for conflict in conflicts:
            message = gettext(
                "Changed by someone else to “%(theirs)s” after you opened the form. Your value "
                "“%(yours)s” was not sent: Save sends it, or enter theirs to keep it."
            ) % {
                "theirs": change_words(conflict.field, conflict.theirs),
                "yours": change_words(conflict.field, conflict.yours),
            }
            name = self._form_name_of(conflict.field)
            if name is None:
                self.error_show(None, f"{conflict.label}: {message}")
                continue
            self.error_show(name, message)
            widget = self.fields[name].widget
            widget.attrs["class"] = (widget.attrs.get("class", "") + " field-conflict").strip()
            if not self.conflicted:
                widget.attrs["autofocus"] = True
            self.conflicted.append(name)

    def error_show(self, name: str | None, message: str) -> None:
        """Show a message on a field (None: above the form) of a form either posted or opened
        afresh, as Django's add_error does for a posted one."""
        errors = self.errors  # an unbound form's are empty, and shown all the same
        key = NON_FIELD_ERRORS if name is None else name
        if key not in errors:
            errors[key] = (
                self.error_class(error_class="nonfield", renderer=self.renderer)
                if name is None
                else self.error_class(renderer=self.renderer, field_id=self[name].auto_id)
            )
        errors[key].append(message)

    def errors_listed(self) -> list[ErrorLink]:
        """Every error of the form and its custom attribute rows, in the page's order, each
        with the input to go to (none for the form's own)."""
        listed = [ErrorLink(str(message)) for message in self.non_field_errors()]
        for section in self.sections:
            for bound in section.fields:
                listed += _links(bound, bound.label)
        if self.is_bound:
            listed += [ErrorLink(str(message)) for message in self.custom_rows.non_form_errors()]
            for row in self.custom_rows.forms:
                key = row["key"].value() or gettext("New attribute")
                for name in ("key", "value"):
                    listed += _links(row[name], f"{key} ({row[name].label})")
                listed += [
                    ErrorLink(str(message), str(key), row["key"].auto_id)
                    for message in row.non_field_errors()
                ]
        for bound in self.hidden_fields():
            listed += [ErrorLink(str(message)) for message in bound.errors]
        return listed

    def _form_name_of(self, key: str) -> str | None:
        """This form's field for a registry key, or None (a free custom attribute's row)."""
        if key.startswith(CUSTOM_PREFIX):
            name = CUSTOM_FIELD_PREFIX + key.removeprefix(CUSTOM_PREFIX)
            return name if name in self.fields else None
        field = fields_by_key().get(key)
        return field.form_name if field is not None else None

    def add_livedesk_errors(self, field_errors: dict[str, list[str]]) -> None:
        """Show LiveDesk's 422 messages on the fields they name; others above the form."""
        for livedesk_name, messages in field_errors.items():
            name = self.field_name_for(livedesk_name)
            for message in messages or [gettext("LiveDesk rejected this value.")]:
                self.error_show(name, gettext("LiveDesk: %(message)s") % {"message": message})

    def field_name_for(self, livedesk_name: str) -> str | None:
        """This form's field for a name LiveDesk or the service uses, or None."""
        key = livedesk_name_key(livedesk_name)
        if key is None:
            return None
        if key.startswith(CUSTOM_PREFIX):
            name = CUSTOM_FIELD_PREFIX + key.removeprefix(CUSTOM_PREFIX)
            return name if name in self.fields else None
        return fields_by_key()[key].form_name


def _links(bound: BoundField, label: Any) -> list[ErrorLink]:
    return [ErrorLink(str(message), str(label), bound.auto_id) for message in bound.errors]


def _layout_row(form: ContactEditForm, names: list[str]) -> Row:
    columns = []
    for name in names:
        is_switch = isinstance(form.fields[name], forms.BooleanField) and not name.startswith(
            CUSTOM_FIELD_PREFIX
        )
        columns.append(Column(Switch(name) if is_switch else name, css_class="col-md"))
    return Row(*columns)
