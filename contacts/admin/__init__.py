"""The Django admin: contacts, the edit history and custom attribute definitions.

Each module registers one model's admin; the others hold its filters, actions, HTML pieces,
paginator and CSV export.
"""

from contacts.admin import contacts, definitions, edit_history

__all__ = ["contacts", "definitions", "edit_history"]
