"""The admin's contacts: a mirror of LiveDesk, so the admin never saves one.

Its change page is the shared edit form, submitted through the same edit flow as the agent's
page (a recorded, pushed edit), and every action goes through a service too.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin
from django.contrib.admin.utils import unquote
from django.contrib.admin.views.main import PAGE_VAR
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from contacts import selectors
from contacts.admin import actions
from contacts.admin.changelist import ContactChangeList
from contacts.admin.filters import (
    CountryListFilter,
    DaysAndAttributesListFilter,
    GoneListFilter,
    search_term_clean,
)
from contacts.admin.html import change_value_html, changes_html
from contacts.admin.paginators import ContactPaginator
from contacts.edit_flow import RELOAD_BUTTON, EditPage, contact_edit_page
from contacts.fields import contact_values, field_label
from contacts.models import Contact, ContactEdit
from contacts.services import EditOutcome

# The contact page shows this many recent edits; the full history is one link away.
RECENT_EDITS = 20


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
        DaysAndAttributesListFilter,
    )
    # Documents the search; get_search_results builds the same match so indexes serve it.
    search_fields = ("name", "email", "phone_number", "identifier", "company_name")
    search_help_text = _(
        "Any part of a name, email, phone number, identifier or company (from 3 characters; "
        "shorter, their start), or a LiveDesk id."
    )
    show_full_result_count = False
    show_facets = admin.ShowFacets.NEVER
    list_per_page = 50
    actions = (
        actions.refresh_from_livedesk,
        actions.retry_failed_pushes,
        actions.block_contacts,
        actions.unblock_contacts,
        actions.bulk_edit,
        actions.export_csv,
    )
    readonly_fields = tuple(field.name for field in Contact._meta.fields if field.name != "id")
    edit_template = "admin/contacts/contact/edit_form.html"

    def get_changelist(self, request, **kwargs):
        return ContactChangeList

    def get_paginator(self, request, queryset, per_page, orphans=0, allow_empty_first_page=True):
        asked = selectors.parse_id(request.GET.get(PAGE_VAR)) or 1
        return ContactPaginator(
            queryset, per_page, orphans, allow_empty_first_page, asked=min(asked, 10**9)
        )

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def has_change_in_bulk_permission(self, request) -> bool:
        """May change contacts in bulk (the "Bulk edit" action)."""
        return request.user.has_perms(["contacts.view_contact", "contacts.change_in_bulk"])

    def get_actions(self, request):
        found = super().get_actions(request)
        found.pop("delete_selected", None)
        return found

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

    def change_view(self, request, object_id, form_url="", extra_context=None):
        contact = self.get_object(request, unquote(object_id))
        if contact is None:
            return self._get_obj_does_not_exist_redirect(request, self.opts, object_id)
        if not self.has_view_or_change_permission(request, contact):
            raise PermissionDenied
        can_change = self.has_change_permission(request, contact)
        if request.method == "POST" and not can_change:
            raise PermissionDenied
        page = None
        if can_change:
            page = contact_edit_page(
                request, contact=contact, editor=request.user, source=ContactEdit.Source.ADMIN
            )
            if page.message:
                self.message_user(request, page.message, page.level)
            if page.finished:
                return HttpResponseRedirect(self._url_after_edit(request, page))
        return self._edit_page(request, contact=contact, page=page, extra_context=extra_context)

    @staticmethod
    def _url_after_edit(request: HttpRequest, page: EditPage) -> str:
        if "_continue" in request.POST or page.outcome == EditOutcome.FAILED:
            return request.path
        return reverse("admin:contacts_contact_changelist")

    def _edit_page(
        self,
        request: HttpRequest,
        *,
        contact: Contact,
        page: EditPage | None,
        extra_context: dict | None,
    ) -> TemplateResponse:
        edit_admin = self.admin_site._registry.get(ContactEdit)
        can_view_history = edit_admin is not None and edit_admin.has_view_permission(request)
        form = page.form if page is not None else None
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
            "outcome": page.outcome if page is not None else None,
            "reload_button": RELOAD_BUTTON,
            "conflicts": [
                {
                    "label": conflict.label,
                    "theirs": change_value_html(conflict.theirs, conflict.field),
                    "yours": change_value_html(conflict.yours, conflict.field),
                }
                for conflict in (page.conflicts if page is not None else [])
            ],
            "recent_edits": [
                {"edit": edit, "changes": changes_html(edit.changes)}
                for edit in contact.edits.order_by("-created_at", "-id")[:RECENT_EDITS]
            ],
            "edit_history_url": edit_history_url(contact) if can_view_history else "",
            "change": True,
            "has_view_permission": True,
            "has_change_permission": form is not None,
            "media": self.media + (form.media if form is not None else forms.Media()),
            "form_url": "",
            **(extra_context or {}),
        }
        request.current_app = self.admin_site.name
        return TemplateResponse(request, self.edit_template, context)

    @staticmethod
    def _values_shown(contact: Contact) -> list[tuple[str, Any]]:
        """The contact's editable values, labelled, for a user who may only view it."""
        return [
            (field_label(key), change_value_html(value, key))
            for key, value in contact_values(contact).items()
        ]

    def history_view(self, request, object_id, extra_context=None):
        contact = self.get_object(request, unquote(object_id))
        if contact is None:
            return self._get_obj_does_not_exist_redirect(request, self.opts, object_id)
        if not self.has_view_or_change_permission(request, contact):
            raise PermissionDenied
        return HttpResponseRedirect(edit_history_url(contact))
