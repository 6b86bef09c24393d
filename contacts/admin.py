"""The Django admin for administrators: contacts, the edit history and custom attribute definitions.

Contacts are a mirror of LiveDesk, so the admin never saves one: its change page is the shared
edit form, submitted through the same service as the agent's page (a recorded, pushed edit), and
every action goes through a service too. The edit history is view-only for everybody.
"""

from __future__ import annotations

import csv
import json
import re
from collections.abc import Iterable, Iterator
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.options import IncorrectLookupParameters
from django.contrib.admin.utils import unquote
from django.contrib.auth import get_user_model
from django.core.cache import cache
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.db import connections
from django.db.models import Exists, OuterRef, QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect, StreamingHttpResponse
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils import timezone
from django.utils.functional import cached_property
from django.utils.html import format_html, format_html_join
from django.utils.text import unescape_string_literal
from django.utils.translation import gettext, ngettext
from django.utils.translation import gettext_lazy as _

from contacts import selectors, services
from contacts.forms import ContactEditForm, EditOutcome, contact_edit_form_submit, value_text
from contacts.livedesk import LiveDeskError, LiveDeskNotFound
from contacts.models import Contact, ContactEdit, CustomAttributeDefinition

# One action makes one LiveDesk call per contact inside the request: keep it to a page or so.
ACTION_LIMIT = 200
# Names listed in one action message before "and N more".
NAMES_SHOWN = 10
# The contact page shows this many recent edits; the full history is one link away.
RECENT_EDITS = 20
# Below this many rows an exact count is cheap enough.
ESTIMATED_COUNT_FROM = 200_000
COUNTRIES_CACHE_KEY = "contacts.admin.countries"
COUNTRIES_CACHE_SECONDS = 300
# A spreadsheet runs a cell starting with one of these as a formula (CSV injection).
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


# --- Index-friendly search --------------------------------------------------------------------


def search_term_clean(search_term: str) -> str:
    """The whole search box as one term (names have spaces), quotes around it removed."""
    term = " ".join(search_term.split())
    if len(term) > 1 and term[0] in "\"'" and term[0] == term[-1]:
        term = unescape_string_literal(term)
    return term.strip()


# --- Contacts ---------------------------------------------------------------------------------


class CountryListFilter(admin.SimpleListFilter):
    """Countries of the mirror, read from the country index once every few minutes, not per page."""

    title = _("country")
    parameter_name = "country"

    def lookups(self, request, model_admin):
        countries = cache.get(COUNTRIES_CACHE_KEY)
        if countries is None:
            countries = selectors.contact_countries()
            cache.set(COUNTRIES_CACHE_KEY, countries, COUNTRIES_CACHE_SECONDS)
        return [(country, country) for country in countries]

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


def names_text(items: Iterable[Any]) -> str:
    """ "Ann, Bob and 3 more": the first few names of a list, for an action's message."""
    names = [str(item) for item in items]
    shown = ", ".join(names[:NAMES_SHOWN])
    hidden = len(names) - NAMES_SHOWN
    if hidden > 0:
        return gettext("%(names)s and %(count)d more") % {"names": shown, "count": hidden}
    return shown


def failures_text(failures: list[tuple[Contact, str]]) -> str:
    """ "Ann (LiveDesk is unreachable), Bob (...)": names with their reasons."""
    return names_text(f"{contact} ({reason})" for contact, reason in failures)


class CsvEcho:
    """A file-like object whose write() hands back the line, so csv.writer can stream."""

    def write(self, value: str) -> str:
        return value


def csv_cell(value: Any) -> Any:
    """A value made safe for a spreadsheet: text that would run as a formula gets a quote."""
    if isinstance(value, str) and value.startswith(FORMULA_PREFIXES):
        return "'" + value
    return value


# Stable column names (a data format, not prose: they stay the same in every language).
CSV_COLUMNS = (
    ("remote_id", "remote_id"),
    ("name", "name"),
    ("email", "email"),
    ("phone", "phone_number"),
    ("identifier", "identifier"),
    ("company", "company_name"),
    ("city", "city"),
    ("country", "country"),
    ("country_code", "country_code"),
    ("blocked", "blocked"),
    ("availability", "availability_status"),
    ("push_state", "push_state"),
    ("last_synced", "synced_at"),
)


def contacts_csv_lines(queryset: QuerySet[Contact]) -> Iterator[str]:
    """The CSV export, line by line, read from the database in chunks."""
    writer = csv.writer(CsvEcho())
    yield writer.writerow([header for header, _field in CSV_COLUMNS])
    rows = queryset.order_by("remote_id").values_list(*(name for _header, name in CSV_COLUMNS))
    synced_at = len(CSV_COLUMNS) - 1
    for row in rows.iterator(chunk_size=2000):
        values = list(row)
        values[9] = "true" if values[9] else "false"
        values[synced_at] = timezone.localtime(values[synced_at]).isoformat()
        yield writer.writerow([csv_cell(value) for value in values])


def change_value_html(value: Any):
    """One before or after value of an edit, escaped; an empty value shown as such."""
    if value is None or value == "":
        return format_html('<span class="quiet">{}</span>', gettext("(empty)"))
    return value_text(value)


def changes_html(changes: list[dict]):
    """An edit's changes as a before/after table, every value escaped."""
    rows = format_html_join(
        "",
        '<tr><th scope="row">{}</th><td>{}</td><td>{}</td></tr>',
        (
            (
                services.field_label(change.get("field", "")),
                change_value_html(change.get("before")),
                change_value_html(change.get("after")),
            )
            for change in changes
        ),
    )
    return format_html(
        '<table class="edit-changes"><thead><tr><th scope="col">{}</th><th scope="col">{}</th>'
        '<th scope="col">{}</th></tr></thead><tbody>{}</tbody></table>',
        gettext("Field"),
        gettext("Before"),
        gettext("After"),
        rows,
    )


def json_html(value: Any):
    """A JSON body, pretty-printed and escaped in a <pre>; text that is not JSON shown as is."""
    if value is None:
        return format_html('<span class="quiet">{}</span>', gettext("(none)"))
    text = value if isinstance(value, str) else json.dumps(value, indent=2, ensure_ascii=False)
    return format_html('<pre class="json-body">{}</pre>', text)


def edit_history_url(contact: Contact) -> str:
    return reverse("admin:contacts_contactedit_changelist") + f"?contact__id__exact={contact.pk}"


@admin.register(Contact)
class ContactAdmin(admin.ModelAdmin):
    list_display = (
        "name",
        "email",
        "phone_number",
        "identifier",
        "company_name",
        "country",
        "blocked",
        "push_state",
        "synced_at",
    )
    list_display_links = ("name",)
    # Sorting by a column without an index sorts the whole table: offer the indexed ones.
    sortable_by = ("name", "email", "phone_number", "identifier", "company_name", "country")
    list_filter = (
        "blocked",
        "availability_status",
        CountryListFilter,
        "push_state",
        GoneListFilter,
    )
    # Documents the search; get_search_results builds the same match so indexes serve it.
    search_fields = ("^name", "=email", "=phone_number", "=identifier", "^company_name")
    search_help_text = _(
        "Name or company starting with the text, or the exact email, phone number, identifier "
        "or LiveDesk id."
    )
    show_full_result_count = False
    show_facets = admin.ShowFacets.NEVER
    list_per_page = 50
    actions = (
        "refresh_from_livedesk",
        "retry_failed_pushes",
        "block_contacts",
        "unblock_contacts",
        "export_csv",
    )
    readonly_fields = tuple(field.name for field in Contact._meta.fields if field.name != "id")
    edit_template = "admin/contacts/contact/edit_form.html"

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def get_actions(self, request):
        actions = super().get_actions(request)
        actions.pop("delete_selected", None)
        return actions

    def get_search_results(self, request, queryset, search_term):
        term = search_term_clean(search_term)
        if not term:
            return queryset, False
        return queryset.filter(selectors.contact_search(term)), False

    def save_model(self, request, obj, form, change):
        raise PermissionDenied("The mirror is written only by sync and by pushed edits.")

    def delete_model(self, request, obj):
        raise PermissionDenied("Contacts are deleted in LiveDesk, not here.")

    def delete_queryset(self, request, queryset):
        raise PermissionDenied("Contacts are deleted in LiveDesk, not here.")

    # The change page: the shared edit form, submitted through the edit service.

    def change_view(self, request, object_id, form_url="", extra_context=None):
        contact = self.get_object(request, unquote(object_id))
        if contact is None:
            return self._get_obj_does_not_exist_redirect(request, self.opts, object_id)
        if not self.has_view_or_change_permission(request, contact):
            raise PermissionDenied
        can_change = self.has_change_permission(request, contact)
        if request.method == "POST" and not can_change:
            raise PermissionDenied
        form = outcome = None
        if can_change and request.method == "POST":
            form = ContactEditForm(request.POST, contact=contact)
            if form.is_valid() and "_rebase" in request.POST:
                form = ContactEditForm(contact=contact, prefill=form.values_rebased())
                self.message_user(
                    request,
                    gettext(
                        "The form now shows the contact's current values with your changes on "
                        "top. Check them, then save."
                    ),
                    messages.INFO,
                )
            elif form.is_valid():
                outcome = contact_edit_form_submit(
                    form, editor=request.user, source=ContactEdit.Source.ADMIN
                )
                response = self._edit_outcome_response(request, outcome)
                if response is not None:
                    return response
        elif can_change:
            form = ContactEditForm(contact=contact)
        return self._edit_page(
            request,
            contact=contact,
            form=form,
            outcome=outcome,
            extra_context=extra_context,
        )

    def _edit_outcome_response(
        self, request: HttpRequest, outcome: EditOutcome
    ) -> HttpResponse | None:
        """Redirect after an edit that was saved, queued or not needed; None to show the form."""
        levels = {"saved": messages.SUCCESS, "no_change": messages.INFO, "queued": messages.WARNING}
        if outcome.kind == "conflict":
            return None  # the form says it, above the two versions of each field
        if outcome.kind not in levels:
            self.message_user(request, outcome.message, messages.ERROR)
            return None
        self.message_user(request, outcome.message, levels[outcome.kind])
        if "_continue" in request.POST:
            return HttpResponseRedirect(request.path)
        return HttpResponseRedirect(reverse("admin:contacts_contact_changelist"))

    def _edit_page(
        self,
        request: HttpRequest,
        *,
        contact: Contact,
        form: ContactEditForm | None,
        outcome: EditOutcome | None,
        extra_context: dict | None,
    ) -> TemplateResponse:
        edit_admin = self.admin_site._registry.get(ContactEdit)
        can_view_history = edit_admin is not None and edit_admin.has_view_permission(request)
        media = self.media + (form.media if form is not None else forms.Media())
        context = {
            **self.admin_site.each_context(request),
            "title": gettext("Change contact") if form is not None else gettext("View contact"),
            "subtitle": str(contact),
            "opts": self.opts,
            "original": contact,
            "contact": contact,
            "form": form,
            "sections": form.sections if form is not None else None,
            "values": None if form is not None else self._values_shown(contact),
            "outcome": outcome,
            "conflicts": [
                {
                    "label": conflict.label,
                    "theirs": change_value_html(conflict.theirs),
                    "yours": change_value_html(conflict.yours),
                }
                for conflict in (outcome.conflicts if outcome else [])
            ],
            "recent_edits": [
                {"edit": edit, "changes": changes_html(edit.changes)}
                for edit in contact.edits.order_by("-created_at", "-id")[:RECENT_EDITS]
            ],
            "edit_history_url": edit_history_url(contact) if can_view_history else "",
            "change": True,
            "has_view_permission": True,
            "has_change_permission": form is not None,
            "media": media,
            "form_url": "",
            **(extra_context or {}),
        }
        request.current_app = self.admin_site.name
        return TemplateResponse(request, self.edit_template, context)

    @staticmethod
    def _values_shown(contact: Contact) -> list[tuple[str, Any]]:
        """The contact's editable values, labelled, for a user who may only view it."""
        return [
            (services.field_label(key), change_value_html(value))
            for key, value in services.contact_editable_values(contact).items()
        ]

    def history_view(self, request, object_id, extra_context=None):
        contact = self.get_object(request, unquote(object_id))
        if contact is None:
            return self._get_obj_does_not_exist_redirect(request, self.opts, object_id)
        if not self.has_view_or_change_permission(request, contact):
            raise PermissionDenied
        return HttpResponseRedirect(edit_history_url(contact))

    # Actions: each one reports per contact, and each write goes through a service.

    def _action_contacts(self, request: HttpRequest, queryset: QuerySet) -> list[Contact] | None:
        contacts = list(queryset[: ACTION_LIMIT + 1])
        if len(contacts) > ACTION_LIMIT:
            self.message_user(
                request,
                gettext(
                    "Select at most %(limit)d contacts for this action: each one is a call to "
                    "LiveDesk. Nothing was done."
                )
                % {"limit": ACTION_LIMIT},
                messages.ERROR,
            )
            return None
        return contacts

    def _report(self, request, level, contacts, message, *, names=None) -> None:
        """One line of an action's summary, naming the contacts it is about; none, no line."""
        if contacts:
            describe = names or names_text
            self.message_user(
                request, message % {"count": len(contacts), "names": describe(contacts)}, level
            )

    @admin.action(description=_("Refresh from LiveDesk"), permissions=["change"])
    def refresh_from_livedesk(self, request, queryset):
        contacts = self._action_contacts(request, queryset)
        if contacts is None:
            return
        changed, unchanged, gone, failed = [], [], [], []
        client = services.livedesk_client()
        for contact in contacts:
            try:
                refreshed = services.contact_refresh(contact=contact, client=client)
            except LiveDeskNotFound:
                gone.append(contact)
            except LiveDeskError as error:
                failed.append((contact, error.message))
            else:
                (changed if refreshed else unchanged).append(contact)
        self._report(
            request,
            messages.SUCCESS,
            changed,
            ngettext(
                "%(count)d contact updated from LiveDesk: %(names)s.",
                "%(count)d contacts updated from LiveDesk: %(names)s.",
                len(changed),
            ),
        )
        self._report(
            request,
            messages.SUCCESS,
            unchanged,
            ngettext(
                "%(count)d contact already up to date: %(names)s.",
                "%(count)d contacts already up to date: %(names)s.",
                len(unchanged),
            ),
        )
        self._report(
            request,
            messages.WARNING,
            gone,
            ngettext(
                "%(count)d contact is gone from LiveDesk and was flagged: %(names)s.",
                "%(count)d contacts are gone from LiveDesk and were flagged: %(names)s.",
                len(gone),
            ),
        )
        self._report(
            request,
            messages.ERROR,
            failed,
            ngettext(
                "%(count)d contact could not be refreshed: %(names)s.",
                "%(count)d contacts could not be refreshed: %(names)s.",
                len(failed),
            ),
            names=failures_text,
        )

    @admin.action(description=_("Retry failed pushes"), permissions=["change"])
    def retry_failed_pushes(self, request, queryset):
        contacts = self._action_contacts(request, queryset)
        if contacts is None:
            return
        by_id = {contact.pk: contact for contact in contacts}
        failed_edits = ContactEdit.objects.filter(
            contact_id__in=by_id, state=ContactEdit.State.FAILED
        ).order_by("created_at", "id")
        delivered, still_failing, retried = [], [], set()
        for edit in failed_edits:
            contact = by_id[edit.contact_id]
            retried.add(contact.pk)
            result = services.edit_retry(edit=edit)
            if result.state == ContactEdit.State.SUCCEEDED:
                delivered.append(contact)
            else:
                still_failing.append((contact, result.error_message))
        nothing = [contact for contact in contacts if contact.pk not in retried]
        self._report(
            request,
            messages.SUCCESS,
            delivered,
            ngettext(
                "%(count)d failed edit delivered to LiveDesk: %(names)s.",
                "%(count)d failed edits delivered to LiveDesk: %(names)s.",
                len(delivered),
            ),
        )
        self._report(
            request,
            messages.ERROR,
            still_failing,
            ngettext(
                "%(count)d edit failed again: %(names)s.",
                "%(count)d edits failed again: %(names)s.",
                len(still_failing),
            ),
            names=failures_text,
        )
        self._report(
            request,
            messages.WARNING,
            nothing,
            ngettext(
                "%(count)d contact has no failed edit to retry: %(names)s.",
                "%(count)d contacts have no failed edit to retry: %(names)s.",
                len(nothing),
            ),
        )

    @admin.action(description=_("Block in LiveDesk"), permissions=["change"])
    def block_contacts(self, request, queryset):
        self._set_blocked(request, queryset, blocked=True)

    @admin.action(description=_("Unblock in LiveDesk"), permissions=["change"])
    def unblock_contacts(self, request, queryset):
        self._set_blocked(request, queryset, blocked=False)

    def _set_blocked(self, request: HttpRequest, queryset: QuerySet, *, blocked: bool) -> None:
        contacts = self._action_contacts(request, queryset)
        if contacts is None:
            return
        done, already, queued, failed = [], [], [], []
        for contact in contacts:
            try:
                [(_contact, edit)] = services.contacts_set_blocked(
                    contacts=[contact], blocked=blocked, editor=request.user
                )
            except services.EditConflict:
                failed.append(
                    (contact, gettext("changed in LiveDesk meanwhile: refresh it and try again"))
                )
                continue
            if edit is None:
                already.append(contact)
            elif edit.state == ContactEdit.State.SUCCEEDED:
                done.append(contact)
            elif edit.next_attempt_at is not None:
                queued.append(contact)
            else:
                failed.append((contact, edit.error_message))
        self._report(
            request,
            messages.SUCCESS,
            done,
            (
                ngettext(
                    "%(count)d contact blocked in LiveDesk: %(names)s.",
                    "%(count)d contacts blocked in LiveDesk: %(names)s.",
                    len(done),
                )
                if blocked
                else ngettext(
                    "%(count)d contact unblocked in LiveDesk: %(names)s.",
                    "%(count)d contacts unblocked in LiveDesk: %(names)s.",
                    len(done),
                )
            ),
        )
        self._report(
            request,
            messages.SUCCESS,
            already,
            (
                ngettext(
                    "%(count)d contact was already blocked: %(names)s.",
                    "%(count)d contacts were already blocked: %(names)s.",
                    len(already),
                )
                if blocked
                else ngettext(
                    "%(count)d contact was not blocked: %(names)s.",
                    "%(count)d contacts were not blocked: %(names)s.",
                    len(already),
                )
            ),
        )
        self._report(
            request,
            messages.WARNING,
            queued,
            ngettext(
                "LiveDesk could not be reached for %(count)d contact; the change is kept and "
                "retried automatically: %(names)s.",
                "LiveDesk could not be reached for %(count)d contacts; the changes are kept "
                "and retried automatically: %(names)s.",
                len(queued),
            ),
        )
        self._report(
            request,
            messages.ERROR,
            failed,
            ngettext(
                "%(count)d contact could not be changed: %(names)s.",
                "%(count)d contacts could not be changed: %(names)s.",
                len(failed),
            ),
            names=failures_text,
        )

    @admin.action(description=_("Export as CSV"), permissions=["view"])
    def export_csv(self, request, queryset):
        response = StreamingHttpResponse(
            contacts_csv_lines(queryset), content_type="text/csv; charset=utf-8"
        )
        filename = f"contacts-{timezone.localdate():%Y-%m-%d}.csv"
        response["Content-Disposition"] = f'attachment; filename="{filename}"'
        return response


# --- The edit history -------------------------------------------------------------------------


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
        if not self.value().isdigit():
            raise IncorrectLookupParameters(self.value())
        return queryset.filter(editor_id=int(self.value()))


def table_rows_estimate(queryset: QuerySet) -> int | None:
    """PostgreSQL's estimate of an unfiltered table's rows (kept by autovacuum), else None."""
    connection = connections[queryset.db]
    if queryset.query.where or connection.vendor != "postgresql":
        return None
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT reltuples FROM pg_class WHERE oid = to_regclass(%s)",
            [queryset.model._meta.db_table],
        )
        row = cursor.fetchone()
    return int(row[0]) if row and row[0] > 0 else None


class EditHistoryPaginator(Paginator):
    """Pages of a history of millions of rows.

    Unfiltered on PostgreSQL, the count is the planner's estimate (COUNT(*) reads the whole
    table, in about 50 ms a million rows, on every page). A page's ids are read on the
    (created_at, id) index first, then only those rows: OFFSET steps over every row before the
    page, and stepping over index entries is cheap where stepping over rows with their JSON
    bodies is not (page 5,000 in SQLite: 1.5 s read whole, 32 ms this way).
    """

    @cached_property
    def count(self) -> int:
        estimate = table_rows_estimate(self.object_list)
        if estimate is not None and estimate >= ESTIMATED_COUNT_FROM:
            return estimate
        return super().count

    def page(self, number):
        page = super().page(number)
        ids = list(page.object_list.values_list("pk", flat=True))
        page.object_list = self.object_list.filter(pk__in=ids)
        return page


@admin.register(ContactEdit)
class ContactEditAdmin(admin.ModelAdmin):
    list_display = (
        "created_at",
        "editor_username",
        "contact_link",
        "fields_changed",
        "state",
        "source",
        "attempts",
        "http_status",
    )
    list_filter = ("state", EditorListFilter, ("created_at", admin.DateFieldListFilter), "source")
    list_select_related = ("contact", "editor")
    search_fields = ("=contact__remote_id", "^contact__name", "=contact__email")
    search_help_text = _("The contact's LiveDesk id, the start of its name, or its exact email.")
    sortable_by = ("created_at",)
    show_full_result_count = False
    show_facets = admin.ShowFacets.NEVER
    list_per_page = 100
    paginator = EditHistoryPaginator
    actions = None
    fieldsets = (
        (
            None,
            {
                "fields": (
                    "created_at",
                    "contact",
                    "editor_username",
                    "editor",
                    "source",
                    "base_version",
                )
            },
        ),
        (_("Change"), {"fields": ("changes_table",)}),
        (_("Request to LiveDesk"), {"fields": ("request_body_shown",)}),
        (
            _("Outcome"),
            {
                "fields": (
                    "state",
                    "failure_kind",
                    "http_status",
                    "error_message",
                    "response_body_shown",
                )
            },
        ),
        (
            _("Delivery"),
            {
                "fields": (
                    "attempts",
                    "last_attempt_at",
                    "next_attempt_at",
                    "finished_at",
                    "finished_by",
                )
            },
        ),
    )
    readonly_fields = (
        "created_at",
        "contact",
        "editor_username",
        "editor",
        "source",
        "base_version",
        "changes_table",
        "request_body_shown",
        "state",
        "failure_kind",
        "http_status",
        "error_message",
        "response_body_shown",
        "attempts",
        "last_attempt_at",
        "next_attempt_at",
        "finished_at",
        "finished_by",
    )

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def get_search_results(self, request, queryset, search_term):
        term = search_term_clean(search_term)
        if not term:
            return queryset, False
        if selectors.is_remote_id(term):
            return queryset.filter(contact__remote_id=int(term)), False
        contacts = Contact.objects.filter(selectors.contact_search(term))
        return queryset.filter(contact__in=contacts.values("pk")), False

    def changelist_view(self, request, extra_context=None):
        contact_id = request.GET.get("contact__id__exact", "")
        if contact_id.isdigit():
            contact = Contact.objects.filter(pk=int(contact_id)).first()
            if contact is not None:
                extra_context = {
                    "subtitle": gettext("Edits of %(contact)s") % {"contact": contact},
                    **(extra_context or {}),
                }
        return super().changelist_view(request, extra_context)

    @admin.display(description=_("contact"), ordering="contact__name")
    def contact_link(self, edit: ContactEdit):
        url = reverse("admin:contacts_contact_change", args=[edit.contact_id])
        return format_html('<a href="{}">{}</a>', url, edit.contact)

    @admin.display(description=_("fields changed"))
    def fields_changed(self, edit: ContactEdit) -> str:
        return ", ".join(services.field_label(name) for name in edit.changed_fields)

    @admin.display(description=_("change"))
    def changes_table(self, edit: ContactEdit):
        return changes_html(edit.changes)

    @admin.display(description=_("request body"))
    def request_body_shown(self, edit: ContactEdit):
        return json_html(edit.request_body)

    @admin.display(description=_("response body"))
    def response_body_shown(self, edit: ContactEdit):
        return json_html(edit.response_body)


# --- Custom attribute definitions -------------------------------------------------------------


KEY_PATTERN = re.compile(r"^[a-z0-9_]+$")
REGEX_TYPES = (
    CustomAttributeDefinition.AttributeType.TEXT,
    CustomAttributeDefinition.AttributeType.LINK,
)


class ListOptionsField(forms.CharField):
    """A list's options typed one per line, stored as a JSON list of strings."""

    widget = forms.Textarea(attrs={"rows": 5})

    def prepare_value(self, value):
        if isinstance(value, list):
            return "\n".join(value_text(option) for option in value)
        return value

    def to_python(self, value) -> list[str]:
        lines = (line.strip() for line in (super().to_python(value) or "").splitlines())
        return list(dict.fromkeys(line for line in lines if line))


class CustomAttributeDefinitionForm(forms.ModelForm):
    list_options = ListOptionsField(
        label=_("list options"),
        required=False,
        help_text=_("For a list: the values an agent can choose from, one per line."),
    )

    class Meta:
        model = CustomAttributeDefinition
        fields = (
            "key",
            "label",
            "attribute_type",
            "list_options",
            "regex_pattern",
            "regex_hint",
            "description",
            "position",
        )

    def clean(self):
        cleaned = super().clean()
        key = cleaned.get("key")
        if key and not KEY_PATTERN.match(key):
            self.add_error(
                "key",
                _("Use only lower-case letters, digits and _ in a key, for example vip_level."),
            )
        kind = cleaned.get("attribute_type")
        options = cleaned.get("list_options") or []
        if kind == CustomAttributeDefinition.AttributeType.LIST and not options:
            self.add_error("list_options", _("A list needs at least one option."))
        elif kind and kind != CustomAttributeDefinition.AttributeType.LIST and options:
            self.add_error("list_options", _("Only a list has options: clear them."))
        pattern = cleaned.get("regex_pattern")
        if pattern:
            try:
                re.compile(pattern)
            except re.error as error:
                self.add_error(
                    "regex_pattern",
                    _("This is not a valid regular expression: %(error)s") % {"error": error},
                )
            if kind and kind not in REGEX_TYPES:
                self.add_error(
                    "regex_pattern", _("Only text and link attributes can have a pattern.")
                )
        if cleaned.get("regex_hint") and not pattern:
            self.add_error(
                "regex_hint", _("A hint is shown when the pattern fails: add a pattern.")
            )
        return cleaned


@admin.register(CustomAttributeDefinition)
class CustomAttributeDefinitionAdmin(admin.ModelAdmin):
    form = CustomAttributeDefinitionForm
    list_display = ("key", "label", "attribute_type", "position")
    list_display_links = ("key",)
    list_editable = ("position",)
    search_fields = ("key", "label")
    ordering = ("position", "key")
