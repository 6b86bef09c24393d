"""The admin's batches: view-only, with each one's delivery progress and its agent page."""

from __future__ import annotations

from django.contrib import admin
from django.db.models import Count, Q
from django.urls import reverse
from django.utils.html import format_html
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from contacts import selectors
from contacts.admin.html import json_html
from contacts.models import ContactEdit, EditBatch

# A batch's edits still on their way: pending, or failed with a retry to come (as
# selectors.batch_progress counts them for the detail page).
WAITING = Q(edits__state=ContactEdit.State.PENDING) | Q(
    edits__state=ContactEdit.State.FAILED,
    edits__failure_kind=ContactEdit.FailureKind.TRANSIENT,
    edits__next_attempt_at__isnull=False,
)


@admin.register(EditBatch)
class EditBatchAdmin(admin.ModelAdmin):
    list_display = (
        "number",
        "kind",
        "state",
        "description",
        "created_by_username",
        "confirmed_at",
        "changed_count",
        "delivery",
    )
    list_display_links = ("number",)
    list_filter = ("kind", "state")
    list_select_related = ("undoes",)
    search_fields = ("=created_by_username",)
    search_help_text = _("The exact username of who made the batch.")
    show_full_result_count = False
    show_facets = admin.ShowFacets.NEVER
    list_per_page = 50
    actions = None
    fieldsets = (
        (
            None,
            {
                "fields": (
                    "kind",
                    "state",
                    "description",
                    "created_at",
                    "created_by_username",
                    "confirmed_at",
                    "undoes",
                    "page_link",
                )
            },
        ),
        (_("Delivery"), {"fields": ("progress_shown",)}),
        (
            _("Contacts"),
            {
                "fields": (
                    "selected_count",
                    "changed_count",
                    "unchanged_count",
                    "conflict_count",
                )
            },
        ),
        (_("What it does"), {"fields": ("operations_shown", "selection_shown")}),
    )
    readonly_fields = tuple(name for _title, options in fieldsets for name in options["fields"])

    def get_queryset(self, request):
        """Each batch with its edits delivered and waiting, counted in the list's one query."""
        return (
            super()
            .get_queryset(request)
            .annotate(
                delivered=Count("edits", filter=Q(edits__state=ContactEdit.State.SUCCEEDED)),
                waiting=Count("edits", filter=WAITING),
            )
        )

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    @admin.display(description=_("batch"), ordering="id")
    def number(self, batch: EditBatch) -> str:
        return f"#{batch.pk}"

    @admin.display(description=_("delivery"))
    def delivery(self, batch: EditBatch) -> str:
        if batch.state == EditBatch.State.DRAFT:
            return gettext("not confirmed")
        return gettext("%(delivered)d delivered, %(waiting)d waiting") % {
            "delivered": batch.delivered,
            "waiting": batch.waiting,
        }

    @admin.display(description=_("progress page"))
    def page_link(self, batch: EditBatch):
        if batch.state == EditBatch.State.DRAFT:
            url = reverse("contacts:batch_preview", args=[batch.pk])
            return format_html('<a href="{}">{}</a>', url, gettext("Preview (not confirmed)"))
        return format_html(
            '<a href="{}">{}</a>', batch.get_absolute_url(), gettext("Follow it live")
        )

    @admin.display(description=_("progress"))
    def progress_shown(self, batch: EditBatch):
        if batch.state == EditBatch.State.DRAFT:
            return gettext("Not confirmed: nothing recorded or sent.")
        progress = selectors.batch_progress(batch)
        words = gettext(
            "%(delivered)d delivered, %(waiting)d waiting, %(failed)d failed, %(conflicts)d "
            "conflicts, %(carried)d carried into newer edits"
        ) % {
            "delivered": progress.delivered,
            "waiting": progress.waiting,
            "failed": progress.failed,
            "conflicts": progress.conflicts,
            "carried": progress.carried,
        }
        state = gettext("finished") if progress.finished else gettext("being sent")
        return format_html("{} ({})", words, state)

    @admin.display(description=_("operations"))
    def operations_shown(self, batch: EditBatch):
        return json_html(batch.operations or None)

    @admin.display(description=_("selection"))
    def selection_shown(self, batch: EditBatch):
        return json_html(batch.selection or None)
