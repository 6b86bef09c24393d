"""The admin's edit history: view-only for everybody, superusers included."""

from __future__ import annotations

from django.contrib import admin
from django.contrib.admin.utils import unquote
from django.core.exceptions import PermissionDenied
from django.http import HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.urls import path, reverse
from django.utils.html import format_html
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from contacts import selectors, services
from contacts.admin.filters import EditorListFilter, search_term_clean
from contacts.admin.html import audit_events_html, changes_html, json_html
from contacts.admin.paginators import EditHistoryPaginator
from contacts.audit_story import story_lines
from contacts.edit_flow import NOT_REVERTABLE, revert_message
from contacts.fields import field_label
from contacts.models import Contact, ContactEdit


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
        (_("Audit log"), {"fields": ("audit_events",)}),
    )
    readonly_fields = tuple(name for _title, options in fieldsets for name in options["fields"])

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def has_revert_permission(self, request) -> bool:
        """May revert an edit: put back the values it replaced, as a new edit."""
        return request.user.has_perm("contacts.change_contact")

    def get_urls(self):
        revert = path(
            "<path:object_id>/revert/",
            self.admin_site.admin_view(self.revert_view),
            name="contacts_contactedit_revert",
        )
        return [revert, *super().get_urls()]

    def change_view(self, request, object_id, form_url="", extra_context=None):
        edit = self.get_object(request, unquote(object_id))
        can_revert = (
            edit is not None
            and edit.state == ContactEdit.State.SUCCEEDED
            and self.has_revert_permission(request)
        )
        extra_context = {"can_revert": can_revert, **(extra_context or {})}
        return super().change_view(request, object_id, form_url, extra_context)

    def revert_view(self, request, object_id):
        """Revert one edit (POST): a new edit through the edit service, as on the agent page."""
        if request.method != "POST" or not self.has_revert_permission(request):
            raise PermissionDenied
        edit = get_object_or_404(ContactEdit.objects.select_related("contact"), pk=object_id)
        try:
            submission = services.edit_revert(edit=edit, by=request.user)
        except services.EditNotRevertable:
            self.message_user(request, NOT_REVERTABLE)
        else:
            level, message = revert_message(submission)
            self.message_user(request, message, level)
        return HttpResponseRedirect(reverse("admin:contacts_contactedit_change", args=[edit.pk]))

    def get_search_results(self, request, queryset, search_term):
        term = search_term_clean(search_term)
        if not term:
            return queryset, False
        remote_id = selectors.parse_id(term)
        if remote_id is not None:
            return queryset.filter(contact__remote_id=remote_id), False
        contacts = Contact.objects.filter(selectors.contact_search(term))
        return queryset.filter(contact__in=contacts.values("pk")), False

    def changelist_view(self, request, extra_context=None):
        contact_id = selectors.parse_id(request.GET.get("contact__id__exact"))
        if contact_id is not None:
            contact = Contact.objects.filter(pk=contact_id).first()
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
        return ", ".join(field_label(name) for name in edit.changed_fields)

    @admin.display(description=_("change"))
    def changes_table(self, edit: ContactEdit):
        return changes_html(edit.changes)

    @admin.display(description=_("request body"))
    def request_body_shown(self, edit: ContactEdit):
        return json_html(edit.request_body)

    @admin.display(description=_("response body"))
    def response_body_shown(self, edit: ContactEdit):
        return json_html(edit.response_body)

    @admin.display(description=_("audit events"))
    def audit_events(self, edit: ContactEdit):
        events = selectors.edits_audit_events(edit_ids=[edit.pk])[edit.pk]
        return audit_events_html(story_lines(events))
