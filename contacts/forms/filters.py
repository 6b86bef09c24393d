"""The GET forms of the list pages: the contact list's search and filters, the history's."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import date
from functools import cached_property
from itertools import zip_longest
from typing import Any

from django import forms
from django.forms.utils import flatatt
from django.utils.html import format_html, format_html_join
from django.utils.safestring import mark_safe
from django.utils.translation import gettext, ngettext
from django.utils.translation import gettext_lazy as _

from contacts.attribute_filters import (
    OPERATOR_LABELS,
    OPERATORS,
    WITHOUT_VALUE,
    AttributeCondition,
    InvalidCondition,
    condition_value,
)
from contacts.models import Contact, ContactEdit, CustomAttributeDefinition

YES_NO = [("", _("Any")), ("yes", _("Yes")), ("no", _("No"))]
# The list's day ranges: (first day, last day) parameters, each pair one column's range.
DAY_RANGES = (("created_from", "created_to"), ("active_from", "active_to"))
DAY_FIELDS = tuple(name for pair in DAY_RANGES for name in pair)
# A custom-attribute condition is three repeated parameters, zipped in order.
CONDITION_PARAMS = ("attr", "op", "value")
# Each condition is one more test of every row read: enough for a person, not for a flood.
CONDITIONS_MAX = 10
CONDITION_VALUE_MAX = 255


class ListSelect(forms.Select):
    """A select rendered in Python, its HTML Django's: the contact list shows six of them on
    every page, and the template language's include per option (the countries) cost more
    than the page's 50 rows."""

    def render(self, name, value, attrs=None, renderer=None):
        widget = self.get_context(name, value, attrs)["widget"]
        options = []
        for group_name, group_choices, _index in widget["optgroups"]:
            if group_name:
                return super().render(name, value, attrs, renderer)
            options += group_choices
        html = format_html_join(
            "",
            '<option value="{}"{}>{}</option>',
            (
                (str(option["value"]), _attributes(option["attrs"]), option["label"])
                for option in options
            ),
        )
        return format_html(
            '<select name="{}"{}>{}</select>', widget["name"], _attributes(widget["attrs"]), html
        )


def _attributes(attrs: dict) -> str:
    """As Django's attrs.html: True values bare, False ones left out."""
    return mark_safe(
        "".join(
            format_html(" {}", key) if value is True else flatatt({key: value})
            for key, value in attrs.items()
            if value is not False
        )
    )


def _bootstrap_widgets(form: forms.Form) -> None:
    for bound_field in form:
        widget = bound_field.field.widget
        css = "form-select" if isinstance(widget, forms.Select) else "form-control"
        widget.attrs["class"] = css


class DayInput(forms.DateInput):
    """A browser's date picker, its value as YYYY-MM-DD whatever the language."""

    input_type = "date"

    def __init__(self, attrs=None):
        super().__init__(attrs, format="%Y-%m-%d")


@dataclass
class ConditionRow:
    """One custom-attribute condition as typed: shown again with its error, if any."""

    index: int
    attr: str = ""
    op: str = ""
    value: str = ""
    error: str = ""
    condition: AttributeCondition | None = None

    @property
    def is_blank(self) -> bool:
        # The operator alone is no condition: its select always holds one.
        return not (self.attr or self.value.strip())


def filter_params(filters: dict[str, Any]) -> list[tuple[str, str]]:
    """The list's search and filters (selectors.contact_list's arguments, as
    ContactFilterForm.filters() returns them and a batch stores them) as the list's query."""
    as_choice = {True: "yes", False: "no"}
    params: list[tuple[str, str]] = []
    # In the list form's order: a JSON column need not keep the keys' order.
    for name in ContactFilterForm.base_fields:
        value = filters.get(name)
        if value is None or value == "":
            continue
        if isinstance(value, bool):
            value = as_choice[value]
        elif isinstance(value, date):
            value = value.isoformat()
        params.append((name, str(value)))
    for condition in filters.get("attributes") or ():
        if isinstance(condition, AttributeCondition):
            condition = asdict(condition)
        params += [
            ("attr", str(condition.get("key", ""))),
            ("op", str(condition.get("op", ""))),
            ("value", str(condition.get("value", ""))),
        ]
    return params


class ContactFilterForm(forms.Form):
    """The search, filters and sort order of the contact list (a GET form); the conditions on
    custom attributes come as repeated attr, op and value parameters (see condition_rows)."""

    SORTS = [
        ("relevance", _("Best match (when searching)")),
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
    blocked = forms.ChoiceField(
        label=_("Blocked"), choices=YES_NO, required=False, widget=ListSelect
    )
    availability = forms.ChoiceField(
        label=_("Availability"),
        choices=[("", _("Any")), *Contact.AvailabilityStatus.choices],
        required=False,
        widget=ListSelect,
    )
    country = forms.ChoiceField(
        label=_("Country"), choices=[("", _("Any"))], required=False, widget=ListSelect
    )
    push_state = forms.ChoiceField(
        label=_("Push state"),
        choices=[("", _("Any")), *Contact.PushState.choices],
        required=False,
        widget=ListSelect,
    )
    gone = forms.ChoiceField(
        label=_("Gone from LiveDesk"), choices=YES_NO, required=False, widget=ListSelect
    )
    sort = forms.ChoiceField(label=_("Sort by"), choices=SORTS, required=False, widget=ListSelect)
    created_from = forms.DateField(label=_("Created from"), required=False, widget=DayInput)
    created_to = forms.DateField(label=_("Created until"), required=False, widget=DayInput)
    active_from = forms.DateField(label=_("Last active from"), required=False, widget=DayInput)
    active_to = forms.DateField(label=_("Last active until"), required=False, widget=DayInput)

    def __init__(
        self,
        data=None,
        *,
        countries: list[str] = (),
        definitions: list[CustomAttributeDefinition] | None = None,
    ):
        super().__init__(data)
        self.fields["country"].choices = [("", _("Any"))] + [(c, c) for c in countries]
        _bootstrap_widgets(self)
        if definitions is not None:
            self.__dict__["definitions"] = {d.key: d for d in definitions}

    @cached_property
    def definitions(self) -> dict[str, CustomAttributeDefinition]:
        """The custom attribute definitions by key, read when a condition or the page needs
        them."""
        return {d.key: d for d in CustomAttributeDefinition.objects.all()}

    @property
    def choice_fields(self) -> list[forms.BoundField]:
        """The filters chosen from a list, as the page shows them beside the search box."""
        return [self[name] for name in ("blocked", "availability", "country", "push_state", "gone")]

    @property
    def day_fields(self) -> list[forms.BoundField]:
        return [self[name] for name in DAY_FIELDS]

    @cached_property
    def condition_rows(self) -> list[ConditionRow]:
        """The custom-attribute conditions typed, each checked against its definition; blank
        rows dropped."""
        columns = [self._param_list(name) for name in CONDITION_PARAMS]
        rows = []
        for index, (attr, op, value) in enumerate(zip_longest(*columns, fillvalue="")):
            row = ConditionRow(index=index, attr=attr.strip(), op=op.strip(), value=value)
            if not row.is_blank:
                rows.append(row)
        for row in rows:
            row.error = self._condition_error(row)
            if not row.error:
                row.condition = AttributeCondition(row.attr, row.op, row.value.strip())
        if len(rows) > CONDITIONS_MAX:
            for row in rows[CONDITIONS_MAX:]:
                row.condition = None
                row.error = ngettext(
                    "At most %(count)d condition on custom attributes applies.",
                    "At most %(count)d conditions on custom attributes apply.",
                    CONDITIONS_MAX,
                ) % {"count": CONDITIONS_MAX}
        return rows

    @property
    def condition_rows_shown(self) -> list[ConditionRow]:
        """The conditions to show again, and one blank row to add another."""
        rows = self.condition_rows
        return [*rows, ConditionRow(index=len(rows))]

    @property
    def conditions(self) -> list[AttributeCondition]:
        return [row.condition for row in self.condition_rows if row.condition is not None]

    def _param_list(self, name: str) -> list[str]:
        if not self.is_bound:
            return []
        if hasattr(self.data, "getlist"):
            return [str(value) for value in self.data.getlist(name)]
        value = self.data.get(name)
        if value is None:
            return []
        return [str(item) for item in value] if isinstance(value, list | tuple) else [str(value)]

    def _condition_error(self, row: ConditionRow) -> str:
        definition = self.definitions.get(row.attr)
        if definition is None:
            return gettext("Choose a custom attribute for this condition.")
        if len(row.value) > CONDITION_VALUE_MAX:
            return gettext("Enter at most %(count)d characters.") % {"count": CONDITION_VALUE_MAX}
        try:
            condition_value(AttributeCondition(row.attr, row.op, row.value), definition)
        except InvalidCondition as invalid:
            return str(invalid)
        return ""

    @property
    def active_filter_count(self) -> int:
        """How many filters beside the search narrow the list: each choice, day and custom
        attribute condition typed (the sort order is no filter)."""
        if not self.is_bound:
            return 0
        names = [field.name for field in self.choice_fields] + list(DAY_FIELDS)
        chosen = [name for name in names if str(self.data.get(name) or "").strip()]
        return len(chosen) + len(self.condition_rows)

    @property
    def filters_open(self) -> bool:
        """Whether a phone shows the filters unfolded: while one applies or one is refused."""
        return bool(self.active_filter_count) or (self.is_bound and not self.is_valid())

    def attribute_choices(self) -> list[dict[str, Any]]:
        """The defined attributes for the condition's select: key, label, type, list options."""
        return [
            {
                "key": definition.key,
                "label": definition.label,
                "type": definition.attribute_type,
                "options": [str(option) for option in definition.list_options or []],
            }
            for definition in self.definitions.values()
        ]

    @staticmethod
    def operator_choices() -> list[dict[str, Any]]:
        """Every operator, with the attribute types that take it and whether it needs a value."""
        return [
            {
                "op": op,
                "label": label,
                "types": " ".join(kind for kind, ops in OPERATORS.items() if op in ops),
                "needs_value": op not in WITHOUT_VALUE,
            }
            for op, label in OPERATOR_LABELS.items()
        ]

    def clean(self):
        cleaned = super().clean()
        for first, last in DAY_RANGES:
            if cleaned.get(first) and cleaned.get(last) and cleaned[first] > cleaned[last]:
                self.add_error(last, gettext("Choose a day on or after the first day."))
        errors = [row.error for row in self.condition_rows if row.error]
        if errors:
            # A selection must never widen silently: bulk edit refuses it, the list says why.
            raise forms.ValidationError(list(dict.fromkeys(errors)), code="condition")
        return cleaned

    def query_params(self) -> list[tuple[str, str]]:
        """The valid search and filters as the list's query (what bulk edit and export carry)."""
        return filter_params(self.filters())

    def filters(self) -> dict[str, Any]:
        """Keyword arguments for selectors.contact_list; invalid filters are ignored."""
        self.is_valid()
        data = getattr(self, "cleaned_data", {})
        as_bool = {"yes": True, "no": False}
        return {
            "q": data.get("q", ""),
            **{name: _iso_day(data.get(name)) for name in DAY_FIELDS},
            "attributes": [asdict(condition) for condition in self.conditions],
            "blocked": as_bool.get(data.get("blocked")),
            "availability": data.get("availability", ""),
            "country": data.get("country", ""),
            "push_state": data.get("push_state", ""),
            "gone": as_bool.get(data.get("gone")),
            # A search lists its best matches first unless another order was asked.
            "sort": data.get("sort") or ("relevance" if data.get("q") else "name"),
        }


def _iso_day(day: date | None) -> str | None:
    return day.isoformat() if day else None


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
    source = forms.ChoiceField(
        label=_("Source"), choices=[("", _("Any")), *ContactEdit.Source.choices], required=False
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
            "source": data.get("source", ""),
            "date_from": data.get("date_from"),
            "date_to": data.get("date_to"),
        }
