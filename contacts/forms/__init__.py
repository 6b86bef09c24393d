"""The forms of the agent pages and the admin: the contact edit form and the list filters."""

from contacts.forms.contact_edit import BASE_SALT, ContactEditForm, FormSection
from contacts.forms.filters import ContactFilterForm, EditHistoryFilterForm

__all__ = [
    "BASE_SALT",
    "ContactEditForm",
    "ContactFilterForm",
    "EditHistoryFilterForm",
    "FormSection",
]
