"""List filters of the admin's contact list and edit history, each served by an index."""

from __future__ import annotations

from django.contrib import admin
from django.contrib.admin.options import IncorrectLookupParameters
from django.contrib.auth import get_user_model
from django.db.models import Exists, OuterRef
from django.http import QueryDict
from django.utils.text import unescape_string_literal
from django.utils.translation import gettext_lazy as _

from contacts import selectors
from contacts.forms.filters import CONDITION_PARAMS, DAY_FIELDS, ContactFilterForm
from contacts.models import ContactEdit
from contacts.services import facets


class CountryListFilter(admin.SimpleListFilter):
    """Countries of the mirror, as sync and webhooks keep them (contacts.services.facets)."""

    title = _("country")
    parameter_name = "country"

    def lookups(self, request, model_admin):
        return [(country, country) for country in facets.contact_countries()]

    def queryset(self, request, queryset):
        if self.value():
            return queryset.filter(country=self.value())
        return queryset


class GoneListFilter(admin.SimpleListFilter):
    title = _("gone from LiveDesk")
    parameter_name = "gone"

    def lookups(self, request, model_admin):
        return [("yes", _("Gone from LiveDesk")), ("no", _("Still in LiveDesk"))]

    def queryset(self, request, queryset):
        if self.value() == "yes":
            return queryset.filter(gone_at__isnull=False)
        if self.value() == "no":
            return queryset.filter(gone_at__isnull=True)
        return queryset


class DaysAndAttributesListFilter(admin.ListFilter):
    """The agent list's day ranges and custom-attribute conditions, same parameters and same
    selector: a small GET form in the sidebar. A value that is not one is shown with its error
    and ignored, never an error page."""

    title = _("dates and custom attributes")
    template = "admin/contacts/contact/days_and_attributes_filter.html"
    parameters = (*DAY_FIELDS, *CONDITION_PARAMS)

    def __init__(self, request, params, model, model_admin):
        super().__init__(request, params, model, model_admin)
        for name in self.parameters:
            if name in params:
                self.used_parameters[name] = params.pop(name)
        query = QueryDict(mutable=True)
        for name, values in self.used_parameters.items():
            query.setlist(name, values)
        self.form = ContactFilterForm(query)
        self.filters = self.form.filters()

    def has_output(self):
        return True

    def expected_parameters(self):
        return list(self.parameters)

    def queryset(self, request, queryset):
        if not self.used_parameters:
            return queryset
        return queryset.filter(
            selectors.contact_ranges_and_attributes(
                **{name: self.filters[name] for name in DAY_FIELDS},
                attributes=self.filters["attributes"],
                definitions=self.form.definitions,
            )
        )

    def choices(self, changelist):
        """The other filters and the search, kept as hidden inputs of the sidebar's form."""
        return [
            {"name": name, "value": value}
            for name, values in changelist.filter_params.items()
            if name not in self.parameters
            for value in values
        ]


class EditorListFilter(admin.SimpleListFilter):
    """The users who have made edits: each user probed once on the editor index."""

    title = _("editor")
    parameter_name = "editor"

    def lookups(self, request, model_admin):
        users = (
            get_user_model()
            .objects.filter(Exists(ContactEdit.objects.filter(editor=OuterRef("pk"))))
            .order_by(get_user_model().USERNAME_FIELD)
        )
        return [(str(user.pk), user.get_username()) for user in users]

    def queryset(self, request, queryset):
        if not self.value():
            return queryset
        editor_id = selectors.parse_id(self.value())
        if editor_id is None:
            raise IncorrectLookupParameters(self.value())
        return queryset.filter(editor_id=editor_id)


def search_term_clean(search_term: str) -> str:
    """The whole search box as one term (names have spaces), quotes around it removed."""
    term = " ".join(search_term.split())
    if len(term) > 1 and term[0] in "\"'" and term[0] == term[-1]:
        term = unescape_string_literal(term)
    return term.strip()
