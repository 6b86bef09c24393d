"""The admin's saved segments: the agents' named searches of the contact list."""

from __future__ import annotations

from django.contrib import admin

from contacts.models import Segment


@admin.register(Segment)
class SegmentAdmin(admin.ModelAdmin):
    list_display = ("name", "owner", "shared", "updated_at")
    list_filter = ("shared",)
    search_fields = ("name",)
    list_select_related = ("owner",)
    raw_id_fields = ("owner",)
    readonly_fields = ("created_at", "updated_at")
    fields = ("name", "owner", "shared", "query", "created_at", "updated_at")
