"""The GET forms of the list pages: the contact list's search and filters, the history's."""

from __future__ import annotations

from typing import Any

from django import forms
from django.forms.utils import flatatt
from django.utils.html import format_html, format_html_join
from django.utils.safestring import mark_safe
from django.utils.translation import gettext_lazy as _

from contacts.models import Contact, ContactEdit

YES_NO = [("", _("Any")), ("yes", _("Yes")), ("no", _("No"))]


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


class ContactFilterForm(forms.Form):
    """The search, filters and sort order of the contact list (a GET form)."""

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
            # A search lists its best matches first unless another order was asked.
            "sort": data.get("sort") or ("relevance" if data.get("q") else "name"),
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
