"""The forms of the batch pages: a bulk edit's operations, and the spreadsheet an import reads.

A bulk edit's values are typed as text here and checked by the batch service with the edit
form's own fields (contacts.services.batches.bulk_operations_validate), so one rule holds for
one contact and for ten thousand. These forms only check what the page asks: a field chosen,
a value given for "set", no field twice.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.core.exceptions import ValidationError
from django.db.models import QuerySet
from django.utils.translation import gettext_lazy as _

from contacts.display import value_text
from contacts.fields import CUSTOM_PREFIX, Kind, Section, editable_fields
from contacts.forms.filters import ContactFilterForm
from contacts.models import Contact, CustomAttributeDefinition
from contacts.selectors import contact_list, parse_id

SET = "set"
CLEAR = "clear"
ACTIONS = [(SET, _("Set to")), (CLEAR, _("Clear"))]
# Rows of the form: enough for a clean-up; blank rows are ignored.
OPERATION_ROWS = 4
# What the file picker offers; the import service reads the file's content, whatever its name.
IMPORT_EXTENSIONS = (".csv", ".xlsx")
# Contacts ticked one by one travel in the URL: beyond a few pages, "all matching" is the way.
SELECTED_IDS_MAX = 1000


def bulk_key_choices(
    definitions: list[CustomAttributeDefinition] | None = None,
) -> list[tuple[str, Any]]:
    """What a bulk edit can change, grouped as the edit form's sections: the registry's
    editable fields, then the defined custom attributes ("custom_attributes.<key>")."""
    if definitions is None:
        definitions = list(CustomAttributeDefinition.objects.all())
    groups: list[tuple[str, Any]] = [("", _("Choose a field"))]
    for section in (Section.CORE, Section.ADDITIONAL, Section.SOCIAL):
        fields = [field for field in editable_fields() if field.section == section]
        groups.append((section.label, [(field.key, field.label) for field in fields]))
    if definitions:
        groups.append(
            (
                Section.CUSTOM.label,
                [(CUSTOM_PREFIX + definition.key, definition.label) for definition in definitions],
            )
        )
    return groups


def value_hints(definitions: list[CustomAttributeDefinition]) -> list[tuple[str, str]]:
    """(label, how to type its value) for the keys whose values are not free text."""
    hints: list[tuple[str, str]] = []
    for field in editable_fields():
        if field.kind == Kind.BOOLEAN:
            hints.append((str(field.label), str(_("true or false"))))
        elif field.help_text:
            hints.append((str(field.label), str(field.help_text)))
    kinds = CustomAttributeDefinition.AttributeType
    for definition in definitions:
        if definition.attribute_type == kinds.LIST and definition.list_options:
            options = ", ".join(value_text(option) for option in definition.list_options)
            hints.append((definition.label, str(_("one of: %(options)s") % {"options": options})))
        elif definition.attribute_type == kinds.CHECKBOX:
            hints.append((definition.label, str(_("true or false"))))
        elif definition.attribute_type == kinds.DATE:
            hints.append((definition.label, str(_("a date, YYYY-MM-DD"))))
        elif definition.attribute_type in (kinds.NUMBER, kinds.CURRENCY, kinds.PERCENT):
            hints.append((definition.label, str(_("a number"))))
    return hints


class BulkOperationForm(forms.Form):
    """One operation: a field, set to a value or cleared. A row left blank is ignored."""

    key = forms.ChoiceField(label=_("Field"), required=False)
    action = forms.ChoiceField(
        label=_("Change"), choices=ACTIONS, initial=SET, required=False, widget=forms.RadioSelect
    )
    value = forms.CharField(label=_("Value"), required=False, strip=False, max_length=2048)

    def __init__(self, *args, key_choices: list[tuple[str, Any]] = (), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["key"].choices = key_choices
        self.fields["key"].widget.attrs["class"] = "form-select"
        self.fields["value"].widget.attrs.update({"class": "form-control", "autocomplete": "off"})

    @property
    def is_blank(self) -> bool:
        data = getattr(self, "cleaned_data", {})
        return not data.get("key") and not data.get("value")

    def clean(self):
        cleaned = super().clean()
        key, action = cleaned.get("key"), cleaned.get("action")
        value = cleaned.get("value") or ""
        if not key:
            if value:
                self.add_error("key", _("Choose the field this value is for."))
            return cleaned
        if not action:
            cleaned["action"] = action = SET
        if action == SET and not value.strip():
            self.add_error("value", _("Enter the value to set, or choose Clear."))
        return cleaned

    def operation(self) -> dict[str, Any]:
        """The operation as the batch service reads it (BulkOperation.from_dict)."""
        data = self.cleaned_data
        if data["action"] == CLEAR:
            return {"key": data["key"], "action": CLEAR, "value": None}
        return {"key": data["key"], "action": SET, "value": data["value"]}


class BaseBulkOperationFormSet(forms.BaseFormSet):
    def __init__(self, *args, key_choices: list[tuple[str, Any]] = (), **kwargs):
        self.key_choices = key_choices
        super().__init__(*args, **kwargs)

    def get_form_kwargs(self, index):
        return {**super().get_form_kwargs(index), "key_choices": self.key_choices}

    def clean(self):
        if any(self.errors):
            return
        seen: set[str] = set()
        for form in self.forms:
            key = form.cleaned_data.get("key")
            if key and key in seen:
                form.add_error("key", _("This field has another operation above: keep one."))
            seen.add(key)
        if not self.filled_forms():
            raise ValidationError(_("Choose at least one field to change."), code="empty")

    def filled_forms(self) -> list[BulkOperationForm]:
        """The rows with an operation, in order: their place in this list is the operation's
        index the batch service reports errors by."""
        return [form for form in self.forms if not form.is_blank]

    def operations(self) -> list[dict[str, Any]]:
        return [form.operation() for form in self.filled_forms()]

    @property
    def has_errors(self) -> bool:
        """Errors of the form's or of the batch service's (added to the rows after)."""
        return bool(self.non_form_errors()) or any(form.errors for form in self.forms)


BulkOperationFormSet = forms.formset_factory(
    BulkOperationForm,
    formset=BaseBulkOperationFormSet,
    extra=OPERATION_ROWS,
    max_num=OPERATION_ROWS,
    validate_max=True,
)


class ImportUploadForm(forms.Form):
    """The spreadsheet to import: a CSV or XLSX file as the export writes it. Its size and
    content are checked by the import service (services.batch_import), which says why a file
    cannot be read."""

    spreadsheet = forms.FileField(
        label=_("Spreadsheet (CSV or XLSX)"),
        help_text=_(
            "An export of this app, edited: rows are matched by remote_id, identifier or email, "
            "and only the cells that differ from LiveDesk are sent."
        ),
        widget=forms.ClearableFileInput(
            attrs={"class": "form-control", "accept": ",".join(IMPORT_EXTENSIONS)}
        ),
    )


class RemoteIdsField(forms.Field):
    """LiveDesk ids as a list of values (?contact=1&contact=2): the ones ticked on the list."""

    widget = forms.MultipleHiddenInput

    def to_python(self, value):
        if not value:
            return []
        texts = value if isinstance(value, list | tuple) else [value]
        ids = [parse_id(text) for text in texts]
        if None in ids:
            raise ValidationError(_("The selection holds an id that is not one."), code="invalid")
        return sorted(set(ids))

    def validate(self, value):
        super().validate(value)
        if len(value) > SELECTED_IDS_MAX:
            raise ValidationError(
                _(
                    "Tick at most %(limit)d contacts, or choose all contacts matching the "
                    "search instead."
                ),
                code="too_many",
                params={"limit": SELECTED_IDS_MAX},
            )


class BulkSelectionForm(ContactFilterForm):
    """Which contacts a bulk edit changes: those ticked on the list (`contact`), or, with `all`,
    every contact matching the list's search and filters, on every page."""

    contact = RemoteIdsField(required=False)
    all = forms.BooleanField(required=False, widget=forms.HiddenInput)

    def clean(self):
        cleaned = super().clean()
        if not cleaned.get("all") and not cleaned.get("contact") and not self.errors:
            raise ValidationError(
                _("Tick the contacts to change on the list, or choose all matching contacts."),
                code="empty",
            )
        return cleaned

    @property
    def all_matching(self) -> bool:
        return bool(self.cleaned_data.get("all"))

    def contacts(self) -> QuerySet[Contact]:
        """The contacts selected, as the batch service streams them."""
        if self.all_matching:
            return contact_list(**self.filters())
        return Contact.objects.filter(remote_id__in=self.cleaned_data["contact"]).order_by(
            "remote_id"
        )

    def selection(self) -> dict[str, Any]:
        """What the batch keeps to select the same contacts again (batches.batch_contacts)."""
        return {
            "filters": self.filters(),
            "remote_ids": None if self.all_matching else self.cleaned_data["contact"],
        }

    def list_params(self) -> list[tuple[str, str]]:
        """The list's search and filters as query parameters, for links back to the list."""
        return self.query_params()

    def params(self) -> list[tuple[str, str]]:
        """The whole selection as query parameters, carried by the bulk edit form."""
        if self.all_matching:
            return [*self.list_params(), ("all", "1")]
        return [("contact", str(remote_id)) for remote_id in self.cleaned_data["contact"]]
