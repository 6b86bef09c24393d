"""The Django admin: contacts, the edit history, batches, custom attribute definitions, saved
segments and the audit log.

Each module registers one model's admin; the others hold its filters, actions, HTML pieces,
paginator and CSV export.
"""

from contacts.admin import audit, batches, contacts, definitions, edit_history, segments

__all__ = ["audit", "batches", "contacts", "definitions", "edit_history", "segments"]
