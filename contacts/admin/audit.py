"""The admin's audit log: its events and the checks of its chain, view-only for everybody,
superusers included (the database refuses a change anyway); the list shows the chain's state and
verifies it on demand."""

from __future__ import annotations

from django.contrib import admin, messages
from django.contrib.admin.views.main import PAGE_VAR, ChangeList
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponseNotAllowed, HttpResponseRedirect
from django.urls import path, reverse
from django.utils.html import format_html
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from contacts import audit_reads, selectors
from contacts.admin.filters import search_term_clean
from contacts.admin.html import json_html
from contacts.admin.paginators import AuditLogPaginator
from contacts.models import AuditCheck, AuditEvent, Contact
from contacts.services.audit import EventKind
from contacts.services.audit_verify import audit_chain_verify

# Hashes are listed by their first characters; the event's page shows them whole.
SHORT_HASH = 12


class _ViewOnly:
    """No add, change or delete for anybody: the log is written only by the app's services."""

    actions = None

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class EventKindListFilter(admin.SimpleListFilter):
    """The kinds of event the app records (a fixed list: no query over the log)."""

    title = _("event")
    parameter_name = "kind"

    def lookups(self, request, model_admin):
        return [(str(kind), str(kind)) for kind in EventKind]

    def queryset(self, request, queryset):
        if self.value():
            return queryset.filter(kind=self.value())
        return queryset


class AuditEventChangeList(ChangeList):
    """A page of events without their data, each knowing its contact's row in the mirror (one
    query a page) so that it links to the contact's admin page."""

    def get_results(self, request):
        super().get_results(request)
        events = list(self.result_list.defer("data"))
        remote_ids = {event.contact_remote_id for event in events} - {None}
        contact_pks = dict(
            Contact.objects.filter(remote_id__in=remote_ids).values_list("remote_id", "pk")
            if remote_ids
            else ()
        )
        for event in events:
            event.contact_pk = contact_pks.get(event.contact_remote_id)
        self.result_list = events


def _short(digest: str) -> str:
    return digest[:SHORT_HASH]


@admin.register(AuditEvent)
class AuditEventAdmin(_ViewOnly, admin.ModelAdmin):
    list_display = ("seq", "at", "kind", "contact_link", "edit_link", "actor", "short_hash")
    list_display_links = ("seq",)
    list_filter = (EventKindListFilter,)
    # Documents the search; get_search_results matches the id on the contact's index.
    search_fields = ("=contact_remote_id",)
    search_help_text = _("The contact's LiveDesk id.")
    sortable_by = ("seq",)
    show_full_result_count = False
    show_facets = admin.ShowFacets.NEVER
    list_per_page = 100
    fields = (
        "seq",
        "at",
        "kind",
        "contact_remote_id",
        "edit_id",
        "actor",
        "data_shown",
        "prev_hash",
        "hash",
    )
    readonly_fields = fields

    def get_urls(self):
        verify = path(
            "verify/",
            self.admin_site.admin_view(self.verify_view),
            name="contacts_auditevent_verify",
        )
        return [verify, *super().get_urls()]

    def get_changelist(self, request, **kwargs):
        return AuditEventChangeList

    def get_paginator(self, request, queryset, per_page, orphans=0, allow_empty_first_page=True):
        asked = selectors.parse_id(request.GET.get(PAGE_VAR)) or 1
        return AuditLogPaginator(
            queryset, per_page, orphans, allow_empty_first_page, asked=min(asked, 10**9)
        )

    def get_search_results(self, request, queryset, search_term):
        term = search_term_clean(search_term)
        if not term:
            return queryset, False
        remote_id = selectors.parse_id(term)
        if remote_id is None:
            return queryset.none(), False
        return queryset.filter(contact_remote_id=remote_id), False

    def changelist_view(self, request, extra_context=None):
        context = {
            "chain_head": audit_reads.chain_head(),
            "chain_check": audit_reads.latest_check(),
            "can_verify": self.has_view_permission(request),
            **(extra_context or {}),
        }
        return super().changelist_view(request, context)

    def verify_view(self, request: HttpRequest):
        """Verify the whole chain now (as `manage.py verify_audit`), then back to the list."""
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        if not self.has_view_permission(request):
            raise PermissionDenied
        report = audit_chain_verify()
        if report.ok:
            messages.success(
                request,
                gettext("The chain is intact: %(count)s events, head %(head)s.")
                % {"count": report.count, "head": report.head},
            )
        else:
            messages.error(
                request,
                gettext(
                    "The chain is broken at event #%(seq)s: %(problem)s (expected %(expected)s, "
                    "found %(found)s). The error is logged."
                )
                % {
                    "seq": report.broken_seq,
                    "problem": report.problem,
                    "expected": report.expected,
                    "found": report.found,
                },
            )
        return HttpResponseRedirect(reverse("admin:contacts_auditevent_changelist"))

    @admin.display(description=_("LiveDesk id"))
    def contact_link(self, event: AuditEvent):
        if event.contact_remote_id is None:
            return ""
        if getattr(event, "contact_pk", None) is None:
            return event.contact_remote_id
        url = reverse("admin:contacts_contact_change", args=[event.contact_pk])
        return format_html('<a href="{}">{}</a>', url, event.contact_remote_id)

    @admin.display(description=_("edit"))
    def edit_link(self, event: AuditEvent):
        if event.edit_id is None:
            return ""
        url = reverse("admin:contacts_contactedit_change", args=[event.edit_id])
        return format_html('<a href="{}">{}</a>', url, event.edit_id)

    @admin.display(description=_("hash"))
    def short_hash(self, event: AuditEvent) -> str:
        return _short(event.hash)

    @admin.display(description=_("data"))
    def data_shown(self, event: AuditEvent):
        return json_html(event.values)


@admin.register(AuditCheck)
class AuditCheckAdmin(_ViewOnly, admin.ModelAdmin):
    list_display = ("checked_at", "ok", "count", "short_head", "broken_seq", "problem", "seconds")
    list_filter = ("ok",)
    list_per_page = 100

    @admin.display(description=_("head hash"))
    def short_head(self, check: AuditCheck) -> str:
        return _short(check.head)
