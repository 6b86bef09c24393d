"""The admin's custom attribute definitions: how agents enter each custom attribute."""

from __future__ import annotations

import re

from django import forms
from django.contrib import admin
from django.utils.translation import gettext_lazy as _

from contacts.display import value_text
from contacts.models import CustomAttributeDefinition
from contacts.services.definitions import definition_save, definitions_delete

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
            except (re.error, OverflowError) as error:
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

    def save_model(self, request, obj, form, change):
        definition_save(definition=obj, by=request.user)

    def delete_model(self, request, obj):
        definitions_delete(definitions=[obj], by=request.user)

    def delete_queryset(self, request, queryset):
        definitions_delete(definitions=queryset, by=request.user)
