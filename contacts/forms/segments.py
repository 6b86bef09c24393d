"""The forms of saved segments: save the list's search under a name, rename one."""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from contacts.models import Segment

NAME_MAX_LENGTH = Segment._meta.get_field("name").max_length


class SegmentNameField(forms.CharField):
    def __init__(self, **kwargs):
        super().__init__(
            label=_("Name"),
            max_length=NAME_MAX_LENGTH,
            error_messages={
                "required": _("Give the segment a name."),
                "max_length": _("Keep the name to %(limit_value)d characters or fewer."),
            },
            widget=forms.TextInput(
                attrs={
                    "class": "form-control form-control-sm",
                    "autocomplete": "off",
                    "placeholder": _("For example: VIP customers in Bangkok"),
                }
            ),
            **kwargs,
        )


class SegmentSaveForm(forms.Form):
    """The name of the list's current search and filters, and whether the team sees it."""

    name = SegmentNameField()
    shared = forms.BooleanField(
        label=_("Share with the team"),
        required=False,
        widget=forms.CheckboxInput(attrs={"class": "form-check-input"}),
    )


class SegmentRenameForm(forms.Form):
    name = SegmentNameField()
