"""The admin's contact list reads only the columns it shows: four JSON columns stay behind.

Its rows are rendered by the `contact_result_list` tag (contacts.templatetags).
"""

from __future__ import annotations

from django.contrib.admin.views.main import ChangeList
from django.db.models import QuerySet

# The columns Contact.__str__ reads (the checkbox's label names the contact).
STR_COLUMNS = ("name", "email", "phone_number", "remote_id")


class ContactChangeList(ChangeList):
    def get_results(self, request):
        super().get_results(request)
        if isinstance(self.result_list, QuerySet):
            self.result_list = self.result_list.only(*self.shown_columns())

    def shown_columns(self) -> list[str]:
        """The columns the page shows, and those str(contact) reads for the checkbox's label."""
        names = {field.name for field in self.model._meta.concrete_fields}
        shown = [name for name in self.list_display if name in names]
        return [*shown, *(name for name in STR_COLUMNS if name not in shown)]
