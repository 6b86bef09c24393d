"""Use cases that write: syncing the mirror, recording and pushing edits, admin actions.

Views, the admin, commands and the background worker all come through here; only this module
imports the LiveDesk client.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone, translation
from django.utils.translation import gettext_lazy as _

from contacts.livedesk import (
    LiveDeskClient,
    LiveDeskError,
    LiveDeskNotFound,
    LiveDeskProtocolError,
    RemoteContact,
)
from contacts.models import Contact, ContactEdit

logger = logging.getLogger(__name__)

# The editable values of a contact, flattened to one key per form field.
CORE_FIELDS = ("name", "email", "phone_number", "identifier", "thumbnail", "blocked")
ADDITIONAL_KEYS = ("description", "company_name", "city", "country", "country_code", "telegram")
SOCIAL_NETWORKS = ("facebook", "github", "instagram", "linkedin", "twitter")
ADDITIONAL_PREFIX = "additional_attributes."
SOCIAL_PREFIX = "social_profiles."
CUSTOM_PREFIX = "custom_attributes."
# Chatwoot ignores `thumbnail` on update (it is derived from the avatar); `avatar_url` sets it.
WIRE_NAMES = {"thumbnail": "avatar_url"}

FIELD_LABELS = {
    "name": _("Name"),
    "email": _("Email"),
    "phone_number": _("Phone number"),
    "identifier": _("Identifier"),
    "thumbnail": _("Thumbnail URL"),
    "blocked": _("Blocked"),
    ADDITIONAL_PREFIX + "description": _("Description"),
    ADDITIONAL_PREFIX + "company_name": _("Company name"),
    ADDITIONAL_PREFIX + "city": _("City"),
    ADDITIONAL_PREFIX + "country": _("Country"),
    ADDITIONAL_PREFIX + "country_code": _("Country code"),
    ADDITIONAL_PREFIX + "telegram": _("Telegram"),
    SOCIAL_PREFIX + "facebook": _("Facebook"),
    SOCIAL_PREFIX + "github": _("GitHub"),
    SOCIAL_PREFIX + "instagram": _("Instagram"),
    SOCIAL_PREFIX + "linkedin": _("LinkedIn"),
    SOCIAL_PREFIX + "twitter": _("Twitter"),
}

# Mirror columns written from a LiveDesk payload, by sync and by confirmed pushes.
MIRROR_FIELDS = (
    "name",
    "first_name",
    "last_name",
    "email",
    "phone_number",
    "identifier",
    "thumbnail",
    "availability_status",
    "blocked",
    "company_name",
    "city",
    "country",
    "country_code",
    "additional_attributes",
    "custom_attributes",
    "contact_inboxes",
    "created_at",
    "last_activity_at",
    "remote_payload",
)

Values = dict[str, Any]


def field_label(key: str) -> str:
    """The words for one flattened field key ("Company name", "Custom: vip_level")."""
    if key in FIELD_LABELS:
        return str(FIELD_LABELS[key])
    if key.startswith(CUSTOM_PREFIX):
        return key.removeprefix(CUSTOM_PREFIX)
    return key


def _english_label(key: str) -> str:
    # The audit row keeps one stable label; pages translate the field key when they show it.
    with translation.override("en"):
        return field_label(key)


def livedesk_client() -> LiveDeskClient:
    """A client for the configured LiveDesk account."""
    return LiveDeskClient()


# --- The mirror -------------------------------------------------------------------------------


def _mirror_values(remote: RemoteContact) -> dict[str, Any]:
    additional = remote.additional_attributes

    def attribute(key: str, limit: int = 255) -> str:
        value = additional.get(key)
        return "" if value is None else str(value)[:limit]

    return {
        "name": remote.name[:255],
        "first_name": remote.first_name[:255],
        "last_name": remote.last_name[:255],
        "email": remote.email[:255],
        "phone_number": remote.phone_number[:32],
        "identifier": remote.identifier[:255],
        "thumbnail": remote.thumbnail[:2048],
        "availability_status": remote.availability_status,
        "blocked": remote.blocked,
        "company_name": attribute("company_name"),
        "city": attribute("city"),
        "country": attribute("country"),
        "country_code": attribute("country_code", 8),
        "additional_attributes": additional,
        "custom_attributes": remote.custom_attributes,
        "contact_inboxes": remote.contact_inboxes or [],
        "created_at": remote.created_at,
        "last_activity_at": remote.last_activity_at,
        "remote_payload": remote.payload,
    }


def _mirror_apply(*, contact: Contact, remote: RemoteContact, now: datetime) -> bool:
    """Make `contact` LiveDesk's state; bump its version when anything changed. Saves it."""
    values = _mirror_values(remote)
    if remote.contact_inboxes is None:
        # An answer without inboxes says nothing about them: keep what we have.
        values["contact_inboxes"] = contact.contact_inboxes
    changed = any(getattr(contact, name) != value for name, value in values.items())
    for name, value in values.items():
        setattr(contact, name, value)
    if changed:
        contact.version += 1
    contact.synced_at = now
    contact.gone_at = None
    contact.save()
    return changed


# More contacts than this missing from a complete sync are flagged gone without asking for each.
GONE_CHECK_LIMIT = 200


@dataclass
class SyncSummary:
    total: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    failed: int = 0
    gone: int = 0
    completed: bool = False
    errors: list[str] = field(default_factory=list)

    @property
    def seen(self) -> int:
        return self.created + self.updated + self.unchanged + self.failed


def contacts_sync(
    *,
    client: LiveDeskClient | None = None,
    page_size: int | None = None,
    on_page: Callable[[SyncSummary], None] | None = None,
) -> SyncSummary:
    """Pull every LiveDesk contact into the mirror, page by page, and flag the ones gone.

    Each page is one transaction and one bulk upsert, so memory stays flat and an interrupted
    run loses nothing. Only a run that saw every page flags contacts gone (see _gone_flag).
    """
    client = client or livedesk_client()
    page_size = page_size or settings.LIVEDESK_SYNC_PAGE_SIZE
    started_at = timezone.now()
    summary = SyncSummary()
    for page in client.contacts_iter(page_size=page_size):
        _sync_page(page.contacts, summary=summary)
        for payload, reason in page.rejected:
            summary.failed += 1
            summary.errors.append(f"{reason} ({str(payload)[:200]})")
        summary.total = max(page.count or 0, summary.seen)
        if on_page:
            on_page(summary)
    _gone_flag(client=client, started_at=started_at, summary=summary)
    summary.total = max(summary.total, summary.seen)
    summary.completed = True
    return summary


def _gone_flag(*, client: LiveDeskClient, started_at: datetime, summary: SyncSummary) -> None:
    """Flag gone the contacts a complete run did not list, once LiveDesk answers 404 for them.

    Pages are offsets: a contact deleted during the run moves the later ones up a place, so one
    of them may go unlisted although it exists. Above GONE_CHECK_LIMIT unseen contacts (a mass
    deletion), they are flagged without asking; the next run that lists one unflags it.
    """
    unseen = Contact.objects.filter(gone_at__isnull=True, synced_at__lt=started_at)
    remote_ids = list(
        unseen.order_by("remote_id").values_list("remote_id", flat=True)[: GONE_CHECK_LIMIT + 1]
    )
    if len(remote_ids) > GONE_CHECK_LIMIT:
        summary.gone += unseen.update(gone_at=timezone.now())
        return
    found, gone_ids = [], []
    for remote_id in remote_ids:
        try:
            found.append(client.contact_get(remote_id))
        except LiveDeskNotFound:
            gone_ids.append(remote_id)
        except LiveDeskProtocolError as error:
            summary.failed += 1
            summary.errors.append(f"#{remote_id}: {error.message}")
    _sync_page(found, summary=summary)
    if gone_ids:
        summary.gone += Contact.objects.filter(remote_id__in=gone_ids, gone_at__isnull=True).update(
            gone_at=timezone.now()
        )


def _sync_page(remotes: list[RemoteContact], *, summary: SyncSummary) -> None:
    if not remotes:
        return
    now = timezone.now()
    by_id = {remote.remote_id: remote for remote in remotes}
    with transaction.atomic():
        stored = {
            remote_id: (payload, version)
            for remote_id, payload, version in Contact.objects.select_for_update()
            .filter(remote_id__in=by_id)
            .values_list("remote_id", "remote_payload", "version")
        }
        upserts, unchanged_ids = [], []
        for remote_id, remote in by_id.items():
            previous = stored.get(remote_id)
            if previous is not None and previous[0] == remote.payload:
                unchanged_ids.append(remote_id)
                continue
            version = 1 if previous is None else previous[1] + 1
            upserts.append(
                Contact(
                    remote_id=remote_id,
                    version=version,
                    synced_at=now,
                    gone_at=None,
                    **_mirror_values(remote),
                )
            )
            if previous is None:
                summary.created += 1
            else:
                summary.updated += 1
        if upserts:
            Contact.objects.bulk_create(
                upserts,
                update_conflicts=True,
                unique_fields=["remote_id"],
                update_fields=[*MIRROR_FIELDS, "version", "synced_at", "gone_at"],
            )
        if unchanged_ids:
            Contact.objects.filter(remote_id__in=unchanged_ids).update(synced_at=now, gone_at=None)
        summary.unchanged += len(unchanged_ids)


def contact_refresh(*, contact: Contact, client: LiveDeskClient | None = None) -> bool:
    """Fetch one contact from LiveDesk into the mirror; flags it gone on a 404. True if changed."""
    client = client or livedesk_client()
    try:
        remote = client.contact_get(contact.remote_id)
    except LiveDeskNotFound:
        Contact.objects.filter(pk=contact.pk, gone_at__isnull=True).update(gone_at=timezone.now())
        contact.refresh_from_db()
        raise
    with transaction.atomic():
        locked = Contact.objects.select_for_update().get(pk=contact.pk)
        changed = _mirror_apply(contact=locked, remote=remote, now=timezone.now())
    contact.refresh_from_db()
    return changed


# --- Editable values, diffs and PATCH bodies --------------------------------------------------


def contact_editable_values(contact: Contact) -> Values:
    """The contact's editable values, one flattened key per form field; null shown as absent."""
    additional = contact.additional_attributes or {}
    social = contact.social_profiles
    values: Values = {name: getattr(contact, name) for name in CORE_FIELDS}
    for key in ADDITIONAL_KEYS:
        values[ADDITIONAL_PREFIX + key] = _as_text(additional.get(key))
    for network in SOCIAL_NETWORKS:
        values[SOCIAL_PREFIX + network] = _as_text(social.get(network))
    for key, value in contact.visible_custom_attributes.items():
        values[CUSTOM_PREFIX + key] = value
    return values


def values_diff(before: Values, after: Values) -> dict[str, tuple[Any, Any]]:
    """Keys whose values differ; a custom attribute missing on one side counts as None."""
    keys = [*before, *(key for key in after if key not in before)]
    return {
        key: (before.get(key), after.get(key)) for key in keys if before.get(key) != after.get(key)
    }


def patch_body_build(*, contact: Contact, changes: dict[str, tuple[Any, Any]]) -> dict:
    """The smallest correct PATCH body for `changes` against the mirror.

    Changed top-level fields only; inside additional_attributes only the changed keys, except
    social_profiles, which the server replaces whole and so is always sent whole (the mirror's
    networks with the changed ones applied); inside custom_attributes only the changed keys, a
    removed key being sent as null.
    """
    body: dict[str, Any] = {}
    social_changed = False
    for key, (_before, after) in changes.items():
        if key.startswith(ADDITIONAL_PREFIX):
            additional = body.setdefault("additional_attributes", {})
            additional[key.removeprefix(ADDITIONAL_PREFIX)] = after
        elif key.startswith(SOCIAL_PREFIX):
            social_changed = True
        elif key.startswith(CUSTOM_PREFIX):
            body.setdefault("custom_attributes", {})[key.removeprefix(CUSTOM_PREFIX)] = after
        else:
            body[WIRE_NAMES.get(key, key)] = after
    if social_changed:
        # The mirror's networks, not the form's: another change since the form opened survives.
        profiles = dict(contact.social_profiles)
        for network in SOCIAL_NETWORKS:
            key = SOCIAL_PREFIX + network
            profiles[network] = (
                changes[key][1] if key in changes else _as_text(profiles.get(network))
            )
        body.setdefault("additional_attributes", {})["social_profiles"] = profiles
    return body


def _as_text(value: Any) -> str:
    return "" if value is None else str(value)


# --- Recording and pushing edits --------------------------------------------------------------


@dataclass(frozen=True)
class FieldConflict:
    field: str
    label: str
    base: Any
    theirs: Any
    yours: Any


class EditConflict(Exception):
    """The contact changed since the form was opened, on fields this edit changes too."""

    def __init__(self, conflicts: list[FieldConflict], *, current_version: int):
        self.conflicts = conflicts
        self.current_version = current_version
        super().__init__(", ".join(conflict.label for conflict in conflicts))


def contact_edit_submit(
    *,
    contact: Contact,
    editor: AbstractBaseUser,
    values: Values,
    base_values: Values,
    base_version: int,
    source: str = ContactEdit.Source.AGENT,
) -> ContactEdit | None:
    """Record an edit in the outbox, commit it, then push it. None when nothing changed.

    Raises EditConflict when another change since `base_version` touched the same fields.
    """
    edit = contact_edit_record(
        contact=contact,
        editor=editor,
        values=values,
        base_values=base_values,
        base_version=base_version,
        source=source,
    )
    if edit is None:
        return None
    return edit_push(edit_id=edit.pk)


def contact_edit_record(
    *,
    contact: Contact,
    editor: AbstractBaseUser,
    values: Values,
    base_values: Values,
    base_version: int,
    source: str,
) -> ContactEdit | None:
    """Write the edit as `pending` (the outbox) in one transaction; None when nothing changed."""
    with transaction.atomic():
        locked = Contact.objects.select_for_update().get(pk=contact.pk)
        current = contact_editable_values(locked)
        if base_version == locked.version:
            base_values = current
        yours = values_diff(base_values, values)
        theirs = values_diff(base_values, current)
        conflicts = [
            FieldConflict(
                field=key,
                label=field_label(key),
                base=base_values.get(key),
                theirs=current.get(key),
                yours=values.get(key),
            )
            for key in yours
            if key in theirs and values.get(key) != current.get(key)
        ]
        if conflicts:
            raise EditConflict(conflicts, current_version=locked.version)
        changes = {
            key: (current.get(key), after)
            for key, (_before, after) in yours.items()
            if current.get(key) != after
        }
        if not changes:
            return None
        now = timezone.now()
        for unfinished in locked.edits.filter(state__in=ContactEdit.UNFINISHED_STATES):
            unfinished.state = ContactEdit.State.SUPERSEDED
            unfinished.next_attempt_at = None
            unfinished.finished_at = now
            unfinished.finished_by = editor
            unfinished.save(
                update_fields=["state", "next_attempt_at", "finished_at", "finished_by"]
            )
        edit = ContactEdit.objects.create(
            contact=locked,
            editor=editor,
            editor_username=editor.get_username(),
            source=source,
            base_version=base_version,
            changes=[
                {"field": key, "label": _english_label(key), "before": before, "after": after}
                for key, (before, after) in changes.items()
            ],
            request_body=patch_body_build(contact=locked, changes=changes),
            created_at=now,
        )
        _push_state_refresh(locked)
        # A safety net: if this process stops before the push, the worker sends the edit later.
        transaction.on_commit(
            lambda: _retry_schedule(edit_id=edit.pk, run_after=now + ORPHANED_PENDING_AFTER)
        )
    return edit


def edit_push(*, edit_id: int, client: LiveDeskClient | None = None) -> ContactEdit:
    """Send one recorded edit to LiveDesk and record the outcome; the mirror follows success."""
    now = timezone.now()
    with transaction.atomic():
        edit = ContactEdit.objects.select_for_update().select_related("contact").get(pk=edit_id)
        if not edit.is_unfinished:
            return edit
        edit.attempts += 1
        edit.last_attempt_at = now
        edit.next_attempt_at = None
        edit.save(update_fields=["attempts", "last_attempt_at", "next_attempt_at"])
    client = client or livedesk_client()
    try:
        remote = client.contact_update(edit.contact.remote_id, edit.request_body)
    except LiveDeskError as error:
        logger.warning("Push of edit %s failed: %s", edit.pk, error.message)
        return _edit_push_failed(edit=edit, error=error)
    return _edit_push_succeeded(edit=edit, remote=remote, status=client.last_status or 200)


def _edit_push_succeeded(*, edit: ContactEdit, remote: RemoteContact, status: int) -> ContactEdit:
    now = timezone.now()
    with transaction.atomic():
        contact = Contact.objects.select_for_update().get(pk=edit.contact_id)
        _mirror_apply(contact=contact, remote=remote, now=now)
        edit.state = ContactEdit.State.SUCCEEDED
        edit.failure_kind = ""
        edit.http_status = status
        edit.response_body = {"payload": remote.payload}
        edit.error_message = ""
        edit.finished_at = now
        edit.save(
            update_fields=[
                "state",
                "failure_kind",
                "http_status",
                "response_body",
                "error_message",
                "finished_at",
            ]
        )
        _push_state_refresh(contact)
    edit.contact = contact
    return edit


def _edit_push_failed(*, edit: ContactEdit, error: LiveDeskError) -> ContactEdit:
    now = timezone.now()
    with transaction.atomic():
        locked = ContactEdit.objects.select_for_update().get(pk=edit.pk)
        if locked.is_unfinished:
            edit.state = ContactEdit.State.FAILED
        else:
            # Discarded or superseded while the call was in flight: it stays so, never retried.
            edit.state, edit.finished_at = locked.state, locked.finished_at
            edit.finished_by_id = locked.finished_by_id
        edit.failure_kind = (
            ContactEdit.FailureKind.TRANSIENT
            if error.transient
            else ContactEdit.FailureKind.PERMANENT
        )
        edit.http_status = error.status
        edit.response_body = error.body
        edit.error_message = error.message
        edit.next_attempt_at = (
            _next_attempt_at(edit=edit, error=error, now=now) if edit.is_unfinished else None
        )
        edit.save(
            update_fields=[
                "state",
                "failure_kind",
                "http_status",
                "response_body",
                "error_message",
                "next_attempt_at",
            ]
        )
        if isinstance(error, LiveDeskNotFound):
            Contact.objects.filter(pk=edit.contact_id, gone_at__isnull=True).update(gone_at=now)
        _push_state_refresh(edit.contact)
        if edit.next_attempt_at is not None:
            transaction.on_commit(
                lambda: _retry_schedule(edit_id=edit.pk, run_after=edit.next_attempt_at)
            )
    return edit


def _next_attempt_at(*, edit: ContactEdit, error: LiveDeskError, now: datetime) -> datetime | None:
    if not error.transient or edit.attempts >= settings.LIVEDESK_PUSH_MAX_ATTEMPTS:
        return None
    delay = min(
        settings.LIVEDESK_PUSH_BACKOFF_SECONDS * 2 ** (edit.attempts - 1),
        settings.LIVEDESK_PUSH_BACKOFF_MAX_SECONDS,
    )
    retry_after = getattr(error, "retry_after", None) or 0
    return now + timedelta(seconds=max(delay, retry_after))


def _retry_schedule(*, edit_id: int, run_after: datetime) -> None:
    from contacts.tasks import edit_push_task

    try:
        edit_push_task.using(run_after=run_after).enqueue(edit_id)
    except Exception:  # the periodic `push_pending` sweep still finds the edit
        logger.exception("Could not schedule a retry of edit %s", edit_id)


def _push_state_refresh(contact: Contact) -> None:
    states = set(
        contact.edits.filter(state__in=ContactEdit.UNFINISHED_STATES).values_list(
            "state", flat=True
        )
    )
    if ContactEdit.State.FAILED in states:
        push_state = Contact.PushState.FAILED
    elif ContactEdit.State.PENDING in states:
        push_state = Contact.PushState.PENDING
    else:
        push_state = Contact.PushState.IN_SYNC
    if contact.push_state != push_state:
        contact.push_state = push_state
        Contact.objects.filter(pk=contact.pk).update(push_state=push_state)


@dataclass
class PushSummary:
    attempted: int = 0
    succeeded: int = 0
    failed: int = 0


# A pending edit older than this was orphaned (its process stopped before the push).
ORPHANED_PENDING_AFTER = timedelta(minutes=2)


def _edits_due(*, now: datetime) -> QuerySet[ContactEdit]:
    return ContactEdit.objects.filter(
        state=ContactEdit.State.FAILED,
        failure_kind=ContactEdit.FailureKind.TRANSIENT,
        next_attempt_at__lte=now,
    ) | ContactEdit.objects.filter(
        state=ContactEdit.State.PENDING, created_at__lte=now - ORPHANED_PENDING_AFTER
    )


def edit_push_if_due(*, edit_id: int, now: datetime | None = None) -> ContactEdit | None:
    """Push one edit if it is still due; None if it finished or waits for the agent meanwhile."""
    if not _edits_due(now=now or timezone.now()).filter(pk=edit_id).exists():
        return None
    return edit_push(edit_id=edit_id)


def edits_push_due(
    *, now: datetime | None = None, client: LiveDeskClient | None = None
) -> PushSummary:
    """Push once every edit due for delivery: transient failures whose wait is over, orphans."""
    summary = PushSummary()
    client = client or livedesk_client()
    due = _edits_due(now=now or timezone.now())
    for edit_id in due.order_by("created_at", "id").values_list("pk", flat=True):
        edit = edit_push(edit_id=edit_id, client=client)
        summary.attempted += 1
        if edit.state == ContactEdit.State.SUCCEEDED:
            summary.succeeded += 1
        else:
            summary.failed += 1
    return summary


def edit_retry(*, edit: ContactEdit) -> ContactEdit:
    """Send a failed edit again now, at the agent's request."""
    return edit_push(edit_id=edit.pk)


def edit_discard(*, edit: ContactEdit, user: AbstractBaseUser) -> ContactEdit:
    """Give up an unsent edit; the history keeps it, marked discarded, with who did it."""
    with transaction.atomic():
        locked = ContactEdit.objects.select_for_update().get(pk=edit.pk)
        if not locked.is_unfinished:
            return locked
        locked.state = ContactEdit.State.DISCARDED
        locked.next_attempt_at = None
        locked.finished_at = timezone.now()
        locked.finished_by = user
        locked.save(update_fields=["state", "next_attempt_at", "finished_at", "finished_by"])
        _push_state_refresh(locked.contact)
    return locked


def contacts_set_blocked(
    *, contacts: Iterable[Contact], blocked: bool, editor: AbstractBaseUser
) -> list[tuple[Contact, ContactEdit | None]]:
    """Block or unblock each contact through the edit service: each a pushed, recorded edit."""
    outcomes = []
    for contact in contacts:
        values = contact_editable_values(contact)
        edit = contact_edit_submit(
            contact=contact,
            editor=editor,
            values={**values, "blocked": blocked},
            base_values=values,
            base_version=contact.version,
            source=ContactEdit.Source.ADMIN_ACTION,
        )
        outcomes.append((contact, edit))
    return outcomes
