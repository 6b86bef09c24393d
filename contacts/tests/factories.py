"""Builders shared by the tests: contacts in the sandbox and the mirror, users, edits, and the
requests the sandbox, the client, the pages and the admin tests make."""

from __future__ import annotations

import base64
import json
import re
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import django_tasks
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.db import connection
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from contacts import services
from contacts.audit_chain import (
    ROW_COLUMNS,
    ChainReport,
    chain_check,
    sqlite_triggers_create,
    sqlite_triggers_drop,
)
from contacts.fields import contact_values
from contacts.forms import ContactEditForm
from contacts.models import AuditEvent, Contact, ContactEdit, EditBatch
from contacts.services import EditSubmission
from contacts.services.audit import Event, events_append

# --- Users, contacts in the mirror, edits -----------------------------------------------------

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


def contacts_made(count: int, *, prefix: str = "C", start: int = 1, **fields: Any) -> list:
    """`count` mirror rows in one insert, named "<prefix> 000" on (ids from `start`), shaped as
    contact_make's; no LiveDesk needed."""
    additional = {
        key: fields.get(key, "") for key in ("company_name", "city", "country", "country_code")
    }
    return Contact.objects.bulk_create(
        Contact(
            remote_id=start + number,
            name=f"{prefix} {number:03d}",
            additional_attributes=additional,
            **fields,
        )
        for number in range(count)
    )


def contact_filled(
    *,
    remote_id: int = 318_001,
    name: str = "Ann Lee",
    email: str = "ann@example.com",
    phone_number: str = "+66812345678",
    additional_attributes: dict | None = None,
    custom_attributes: dict | None = None,
    **fields: Any,
) -> Contact:
    """A mirror row shaped as sync stores a sandbox contact, its sections filled in."""
    additional = (
        {
            "description": "Prefers LINE",
            "company_name": "Acme",
            "city": "Bangkok",
            "country": "Thailand",
            "country_code": "TH",
            "telegram": "",
            "social_profiles": {
                "facebook": "ann.lee",
                "github": "",
                "instagram": "",
                "linkedin": "",
                "twitter": "",
            },
        }
        if additional_attributes is None
        else additional_attributes
    )
    return Contact.objects.create(
        remote_id=remote_id,
        name=name,
        email=email,
        phone_number=phone_number,
        company_name=str(additional.get("company_name", "")),
        city=str(additional.get("city", "")),
        country=str(additional.get("country", "")),
        country_code=str(additional.get("country_code", "")),
        additional_attributes=additional,
        custom_attributes={} if custom_attributes is None else custom_attributes,
        **fields,
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


def edit_recorded_unsent(*, contact: Contact, editor, changes: dict[str, Any]) -> ContactEdit:
    """An agent's edit written to the outbox and not pushed yet, as the worker finds it."""
    opened = contact_values(contact)
    edit = services.contact_edit_record(
        contact=contact,
        editor=editor,
        values={**opened, **changes},
        base_values=opened,
        base_version=contact.version,
        source=ContactEdit.Source.AGENT,
    )
    assert edit is not None
    return edit


def edit_submit(**kwargs: Any) -> ContactEdit | None:
    """The edit that `edit_submission` recorded, or None when nothing changed."""
    return edit_submission(**kwargs).edit


def edit_failed_transiently(*, sandbox, contact: Contact, editor, changes: dict) -> ContactEdit:
    """An edit whose pushes all met a 503: kept, failed, transient, a retry scheduled."""
    sandbox.faults.methods = "PATCH"
    sandbox.faults.fail_next = 20
    sandbox.faults.failure_status = 503
    edit = edit_submit(contact=contact, editor=editor, changes=changes)
    sandbox.reset_faults()
    edit.refresh_from_db()
    assert edit.state == ContactEdit.State.FAILED
    assert edit.failure_kind == ContactEdit.FailureKind.TRANSIENT
    return edit


def retries_enqueued() -> list:
    """Tasks enqueued: retries (a new edit and a push's lease enqueue none, the periodic sweep
    is their backstop)."""
    return list(django_tasks.default_task_backend.results)


def batch_edits_make(
    *, by, changes: dict[Contact, dict[str, Any]], kind: str = EditBatch.Kind.BULK_EDIT
) -> tuple[EditBatch, list[ContactEdit]]:
    """A confirmed batch and its edits, one per contact, as batch_confirm leaves them: pending,
    due at once, for the batch's delivery (recorded by contact_edit_record, then tied to it)."""
    now = timezone.now()
    batch = EditBatch.objects.create(
        kind=kind,
        state=EditBatch.State.CONFIRMED,
        created_by=by,
        created_by_username=by.get_username(),
        confirmed_at=now,
        changed_count=len(changes),
    )
    edits = []
    for contact, values in changes.items():
        opened = contact_values(contact)
        edit = services.contact_edit_record(
            contact=contact,
            editor=by,
            values={**opened, **values},
            base_values=opened,
            base_version=contact.version,
            source=ContactEdit.Source.BULK,
        )
        assert edit is not None
        # The batch is not a transition field: set on the row as batch_confirm inserts it.
        ContactEdit._base_manager.filter(pk=edit.pk).update(batch=batch, next_attempt_at=now)
        edit.refresh_from_db()
        edits.append(edit)
    return batch, edits


def edit_form_data(form, **changes: Any) -> dict[str, Any]:
    """What a browser posts for the edit form as rendered, custom rows included, with some
    fields changed by HTML name: None or False leaves a field out, True ticks it."""
    data = form.data_as_opened()
    for name, value in changes.items():
        if value is None or value is False:
            data.pop(name, None)
        else:
            data[name] = "on" if value is True else value
    return custom_rows_counted(data)


CUSTOM_ROW_NAME = re.compile(r"(?:^|-)custom-([0-9]+)-")


def custom_rows_counted(data: dict[str, Any]) -> dict[str, Any]:
    """The posted data with the custom rows' count covering every row it names, as the
    browser's "Add an attribute" leaves it (no blank row is drawn)."""
    for total in [name for name in data if name.endswith("custom-TOTAL_FORMS")]:
        if not str(data[total]).isascii() or not str(data[total]).isdigit():
            continue  # a hostile count, posted as it is
        prefix = total.removesuffix("TOTAL_FORMS")
        indexes = [
            int(match.group(1))
            for name in data
            if name.startswith(prefix) and (match := CUSTOM_ROW_NAME.search(name))
        ]
        data[total] = str(max([int(data[total]), *(index + 1 for index in indexes)]))
    return data


def submitted(contact: Contact, **changes: Any) -> ContactEditForm:
    """The form as posted back after the agent changed `changes` (by HTML field name)."""
    opened = ContactEditForm(contact=contact)
    return ContactEditForm(edit_form_data(opened, **changes), contact=contact)


# --- The sandbox's API over a socket -----------------------------------------------------------

CONTACTS_PATH = "/api/v2/accounts/contacts"

# The credentials of the sandbox server the sandbox's own tests start (`sandbox/conftest.py`).
API_KEY = "sandbox-test-key"
API_SECRET = "sandbox-test-secret"

SOCIAL = {"facebook": "fb.nok", "github": "nokdev", "instagram": "", "linkedin": "", "twitter": ""}


def sandbox_contact_make(store, *, name: str = "Somchai Srisuk", **fields) -> dict:
    """A contact created straight in the sandbox's store."""
    return store.create_contact(name=name, **fields)


def sandbox_call(server, method, path, body=None, *, auth=True, raw=None, timeout=5.0):
    """(status, headers, parsed JSON or text) for one request over the socket."""
    headers = {"Content-Type": "application/json"}
    if auth:
        token = base64.b64encode(f"{API_KEY}:{API_SECRET}".encode()).decode()
        headers["Authorization"] = f"Basic {token}"
    data = raw if raw is not None else (None if body is None else json.dumps(body).encode())
    request = urllib.request.Request(
        server.base_url + path, data=data, method=method, headers=headers
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            status, answer_headers, payload = response.status, response.headers, response.read()
    except urllib.error.HTTPError as error:
        status, answer_headers, payload = error.code, error.headers, error.read()
    text = payload.decode()
    if answer_headers.get("Content-Type", "").startswith("application/json"):
        return status, answer_headers, json.loads(text)
    return status, answer_headers, text


def sandbox_patch(server, contact, body, query=""):
    return sandbox_call(server, "PATCH", f"{CONTACTS_PATH}/{contact['id']}{query}", body)


def api_requests(sandbox, method: str | None = None) -> list[dict]:
    """The requests to LiveDesk's contacts API the sandbox received, of one method or all."""
    return [
        request
        for request in sandbox.recorded()
        if request["path"].startswith(CONTACTS_PATH) and method in (None, request["method"])
    ]


def json_answer(body, status: int = 200) -> tuple[int, str, bytes]:
    """A scripted server's answer: `body` as JSON."""
    return status, "application/json", json.dumps(body).encode()


def remote_item(remote_id, **fields) -> dict:
    """A contact as LiveDesk lists it, for a scripted server's answer."""
    return {"id": remote_id, "name": f"Contact {remote_id}", **fields}


# --- The agent pages ---------------------------------------------------------------------------

HOSTILE = "<script>alert(1)</script>"


def edit_post(client: Client, contact: Contact, *, query: str = "", **changes: Any):
    """Open the edit page, change some fields (by HTML name), and post it."""
    url = reverse("contacts:edit", args=[contact.remote_id]) + query
    opened = client.get(url)
    assert opened.status_code == 200
    return client.post(url, edit_form_data(opened.context["form"], **changes), follow=True)


def page_text(response) -> str:
    return response.content.decode()


# --- The admin ---------------------------------------------------------------------------------

CONTACTS_URL = reverse("admin:contacts_contact_changelist")
EDITS_URL = reverse("admin:contacts_contactedit_changelist")


def change_url(contact: Contact) -> str:
    return reverse("admin:contacts_contact_change", args=[contact.pk])


def admin_edit_post(client, contact: Contact, **changes: Any):
    """Open the contact's admin change page, change some fields and save it."""
    page = client.get(change_url(contact))
    data = edit_form_data(page.context["form"])
    for name, value in changes.items():
        if value is False:
            data.pop(name, None)
        else:
            data[name] = "on" if value is True else value
    return client.post(change_url(contact), custom_rows_counted(data), follow=True)


def messages_of(response) -> list[tuple[str, str]]:
    return [(message.level_tag, str(message)) for message in response.context["messages"]]


# --- The audit log -----------------------------------------------------------------------------


def audit_events(**lookups: Any) -> list[AuditEvent]:
    """The audit log's events matching the lookups, in chain order."""
    return list(AuditEvent.objects.filter(**lookups).order_by("seq"))


def audit_chain_checked() -> ChainReport:
    """The whole chain as stored, checked link by link."""
    return chain_check(AuditEvent.objects.order_by("seq").values_list(*ROW_COLUMNS).iterator())


def audit_events_appended(
    count: int, *, contact: int | None = None, actor: str = "agent"
) -> list[AuditEvent]:
    """`count` events appended to the chain by its one writer, one append each."""
    return [
        event
        for number in range(count)
        for event in events_append(
            [Event("edit.recorded", {"number": number, "name": "Ann Lée"}, contact, None, actor)]
        )
    ]


def chain_written_by_the_app(*, sandbox, agent) -> list[Contact]:
    """A chain written by the app's real flows: two contacts synced, three edits recorded and
    pushed to the sandbox (one of them refused by a 422). Answers the contacts."""
    ann = contact_synced(sandbox=sandbox, name="Ann", email="ann@example.com")
    bob = contact_synced(sandbox=sandbox, name="Bob")
    edit_submit(contact=ann, editor=agent, changes={"name": "Ann Lée"})
    edit_submit(
        contact=bob, editor=agent, changes={"additional_attributes.company_name": 'Acme "quoted" ฿'}
    )
    sandbox.faults.methods = "PATCH"
    sandbox.faults.fail_next = 1
    sandbox.faults.failure_status = 422
    edit_submit(contact=ann, editor=agent, changes={"email": "ann.lee@example.com"})
    sandbox.reset_faults()
    return [ann, bob]


@contextmanager
def audit_triggers_dropped() -> Iterator[None]:
    """The database's refusal of UPDATE and DELETE on the audit log lifted, as by an intruder
    holding the database's keys; put back after (DDL is in the test's transaction on both
    engines, so its rollback would too)."""
    postgresql = connection.vendor == "postgresql"
    table = AuditEvent._meta.db_table
    with connection.cursor() as cursor:
        if postgresql:
            cursor.execute(f"ALTER TABLE {table} DISABLE TRIGGER USER")
        else:
            sqlite_triggers_drop(cursor)
    try:
        yield
    finally:
        with connection.cursor() as cursor:
            if postgresql:
                cursor.execute(f"ALTER TABLE {table} ENABLE TRIGGER USER")
            else:
                sqlite_triggers_create(cursor)


def audit_tampered(sql: str, params: list) -> None:
    """Run raw SQL on the audit log with its triggers dropped."""
    with audit_triggers_dropped(), connection.cursor() as cursor:
        cursor.execute(sql, params)


# --- Batches -----------------------------------------------------------------------------------

LEAD_PERMISSIONS = ("view_contact", "change_contact", "view_contactedit", "change_in_bulk")


def contacts_synced(sandbox, count: int, *, prefix: str = "C", **fields: Any) -> list[Contact]:
    """`count` contacts created in the sandbox, then one sync: their mirror rows, in order."""
    remote_ids = [
        sandbox.store.create_contact(name=f"{prefix} {number:03d}", **fields)["id"]
        for number in range(count)
    ]
    services.contacts_sync()
    return list(Contact.objects.filter(remote_id__in=remote_ids).order_by("remote_id"))


def batch_delivered(batch) -> list[services.PushResult]:
    """Each edit of the batch pushed in turn, as the worker's batch delivery does at its rate."""
    return [
        services.edit_push(edit_id=edit_id)
        for edit_id in batch.edits.order_by("pk").values_list("pk", flat=True)
    ]
