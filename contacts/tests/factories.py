"""Builders shared by the tests: contacts in the sandbox and the mirror, users, edits."""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.test import Client

from contacts import services
from contacts.fields import contact_values
from contacts.models import Contact, ContactEdit
from contacts.services import EditSubmission

AGENT_PERMISSIONS = ("view_contact", "change_contact")


def user_make(
    *, username: str = "agent", perms: tuple[str, ...] = AGENT_PERMISSIONS, password=None
):
    """A user with the given permissions of the contacts app (an agent's by default)."""
    user = get_user_model().objects.create_user(username=username, password=password)
    user.user_permissions.add(
        *Permission.objects.filter(content_type__app_label="contacts", codename__in=perms)
    )
    return user


def client_for(user) -> Client:
    """A test client logged in as `user`."""
    client = Client()
    client.force_login(user)
    return client


def contact_synced(*, sandbox, **fields: Any) -> Contact:
    """Create a contact in the sandbox, sync the mirror, and answer its mirror row."""
    remote = sandbox.store.create_contact(**fields)
    services.contacts_sync()
    return Contact.objects.get(remote_id=remote["id"])


def contact_make(*, remote_id: int, name: str = "", **fields: Any) -> Contact:
    """A mirror row shaped as sync stores a sandbox contact (no LiveDesk needed)."""
    additional = {
        key: fields.get(key, "") for key in ("company_name", "city", "country", "country_code")
    }
    additional.update(fields.pop("additional_attributes", {}))
    return Contact.objects.create(
        remote_id=remote_id, name=name, additional_attributes=additional, **fields
    )


def patch_bodies(sandbox) -> list[dict]:
    """The bodies of every PATCH the sandbox received, in order."""
    return [request["body"] for request in sandbox.requests if request["method"] == "PATCH"]


def edit_submission(
    *,
    contact: Contact,
    editor,
    changes: dict[str, Any] | None = None,
    removed: tuple[str, ...] = (),
    base_values: dict[str, Any] | None = None,
    base_version: int | None = None,
    source: str = ContactEdit.Source.AGENT,
) -> EditSubmission:
    """Submit as the edit form does: the values it opened with, some changed, some removed."""
    opened = base_values if base_values is not None else contact_values(contact)
    values = {**opened, **(changes or {})}
    for key in removed:
        values.pop(key)
    return services.contact_edit_submit(
        contact=contact,
        editor=editor,
        values=values,
        base_values=opened,
        base_version=contact.version if base_version is None else base_version,
        source=source,
    )


def edit_submit(**kwargs: Any) -> ContactEdit | None:
    """The edit that `edit_submission` recorded, or None when nothing changed."""
    return edit_submission(**kwargs).edit


def edit_failed_transiently(*, sandbox, contact: Contact, editor, changes: dict) -> ContactEdit:
    """An edit whose pushes all met a 503: kept, failed, transient, a retry scheduled."""
    sandbox.faults.fail_next = 20
    sandbox.faults.failure_status = 503
    edit = edit_submit(contact=contact, editor=editor, changes=changes)
    sandbox.reset_faults()
    edit.refresh_from_db()
    assert edit.state == ContactEdit.State.FAILED
    assert edit.failure_kind == ContactEdit.FailureKind.TRANSIENT
    return edit
