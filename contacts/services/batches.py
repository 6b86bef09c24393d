"""Batches: many contacts changed at once by a bulk edit, an import or the undo of a batch.

A batch is first a draft: counting it and previewing it read the contacts and record nothing.
Confirmed, it becomes one ordinary outbox edit per contact it changes, tied to the batch and
delivered by the worker at the batch rate (see batch_delivery) through the same push as any
edit. Each edit is checked as an agent's is: against the mirror with the values still on their
way on top, its `base` that expected value, so that the push's read before write refuses to
overwrite a value changed since, unseen. An undo is itself a batch of rows, each key restored
only while it still holds the undone batch's value.

Confirming writes the edits chunk by chunk in one transaction (flat memory, all or nothing).
Locks are taken in the app's one order: the batch's row, the contacts' rows (in id order), the
audit chain last. On PostgreSQL the selection is locked whole before the first chunk's events
take the chain's lock, so that lock is never held while waiting for a contact's.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, NamedTuple

from django.contrib.auth.models import AbstractBaseUser
from django.db import connection, transaction
from django.db.models import Case, F, QuerySet, Value, When
from django.utils import timezone
from django.utils.translation import gettext

from contacts import selectors
from contacts.fields import CUSTOM_PREFIX, contact_values, field_label, patch_body_build
from contacts.models import Contact, ContactEdit, EditBatch
from contacts.services import audit
from contacts.services.batch_delivery import batch_delivery_start
from contacts.services.batch_plans import (
    CONFLICTS_LISTED,
    Plan,
    Tally,
    batch_contacts,
    batch_targets,
    keyset_chunks,
    label_english,
    plans_of,
    targets_of_operations,
    targets_of_rows,
)
from contacts.services.bulk_operations import (
    BulkInvalid,
    BulkOperation,
    bulk_description,
    bulk_operations_validate,
    description_shortened,
)
from contacts.services.push import is_queued
from contacts.services.restore import (
    edit_reached_livedesk,
    queued_by_contact,
    restore_split,
    values_expected,
)

__all__ = [
    "BatchNotUndoable",
    "BatchPreview",
    "BulkInvalid",
    "BulkOperation",
    "PreviewChange",
    "PreviewRow",
    "batch_confirm",
    "batch_contacts",
    "batch_draft_bulk_edit",
    "batch_draft_rows",
    "batch_preview",
    "batch_undo_draft",
    "bulk_operations_validate",
]

EDIT_SOURCES = {
    EditBatch.Kind.BULK_EDIT: ContactEdit.Source.BULK,
    EditBatch.Kind.IMPORT: ContactEdit.Source.IMPORT,
    EditBatch.Kind.UNDO: ContactEdit.Source.UNDO,
}


class BatchNotUndoable(Exception):
    """The batch cannot be undone now (not confirmed, or edits of it still on their way)."""


# --- Drafts ------------------------------------------------------------------------------------


def batch_draft_bulk_edit(
    *,
    by: AbstractBaseUser,
    operations: Iterable[BulkOperation],
    contacts: QuerySet[Contact],
    selection: dict[str, Any],
) -> EditBatch:
    """A draft bulk edit of the selected contacts, counted (streamed: flat memory), nothing
    recorded in the outbox. `selection` says how to select them again at confirm: the list's
    `filters` (selectors.contact_list's arguments) or the `remote_ids` ticked."""
    operations = bulk_operations_validate(operations)
    stored = dict(selection)
    stored.setdefault("filters", {})
    stored.setdefault("remote_ids", stored.pop("ids", None))
    batch = EditBatch(
        kind=EditBatch.Kind.BULK_EDIT,
        created_by=by,
        created_by_username=by.get_username(),
        description=bulk_description(operations),
        operations=[operation.as_dict() for operation in operations],
        selection=stored,
    )
    tally = Tally()
    for plans in plans_of(targets_of_operations(contacts, operations)):
        tally.add(plans)
    tally.counted_on(batch)
    batch.save()
    return batch


def batch_draft_rows(
    *,
    by: AbstractBaseUser,
    kind: str,
    description: str,
    rows: list[dict[str, Any]],
    undoes: EditBatch | None = None,
    conflicts: Iterable[dict[str, Any]] = (),
    conflict_count: int | None = None,
    selection: dict[str, Any] | None = None,
) -> EditBatch:
    """A draft batch of explicit values per contact (an import, an undo), counted against the
    mirror with the values on their way; nothing recorded in the outbox.

    rows: [{"contact": Contact pk, "set": {value key: value}}], a None value removing a custom
    attribute; a row may add "expect": {key: value}, a key then set only while LiveDesk is
    expected to hold that value (else it is left alone, counted as a conflict at confirm).
    conflicts: the keys left alone already (an undo's), the first CONFLICTS_LISTED listed and
    `conflict_count` (or all of them) counted. Raises ValueError for two rows of one contact."""
    if kind not in (EditBatch.Kind.IMPORT, EditBatch.Kind.UNDO):
        raise ValueError(f"A batch of rows is an import or an undo, not {kind!r}.")
    stored = [_row_stored(row) for row in rows]
    if len({row["contact"] for row in stored}) != len(stored):
        raise ValueError("A contact has two rows: a batch changes a contact by one edit.")
    listed: list[dict[str, Any]] = []
    counted = 0
    for conflict in conflicts:
        counted += 1
        if len(listed) < CONFLICTS_LISTED:
            listed.append(conflict)
    batch = EditBatch(
        kind=kind,
        created_by=by,
        created_by_username=by.get_username(),
        description=description_shortened(description),
        rows=stored,
        selection=selection or {},
        undoes=undoes,
        conflict_count=counted if conflict_count is None else conflict_count,
        conflicts=listed,
    )
    tally = Tally()
    for plans in plans_of(targets_of_rows(batch.rows)):
        tally.add(plans)
    tally.counted_on(batch)
    batch.save()
    return batch


def _row_stored(row: dict[str, Any]) -> dict[str, Any]:
    stored = {"contact": int(row["contact"]), "set": dict(row["set"])}
    if row.get("expect"):
        stored["expect"] = dict(row["expect"])
    return stored


# --- Preview -----------------------------------------------------------------------------------


class PreviewChange(NamedTuple):
    key: str
    label: str
    before: Any
    after: Any


@dataclass(frozen=True)
class PreviewRow:
    contact: Contact
    changes: list[PreviewChange]


@dataclass(frozen=True)
class BatchPreview:
    changed: int
    unchanged: int
    selected: int
    sample: list[PreviewRow] = field(default_factory=list)


def batch_preview(batch: EditBatch, *, sample: int = 50) -> BatchPreview:
    """The batch's counts and, for its first `sample` contacts it changes, each key before and
    after: a draft as it would change them now, a confirmed batch as its edits recorded."""
    labels = {
        CUSTOM_PREFIX + key: label for key, label in selectors.custom_attribute_labels().items()
    }

    def label(key: str) -> str:
        return labels.get(key) or field_label(key)

    rows: list[PreviewRow] = []
    if batch.state == EditBatch.State.CONFIRMED:
        for edit in batch.edits.select_related("contact").order_by("pk")[:sample]:
            changes = [
                PreviewChange(
                    change["field"],
                    label(change["field"]),
                    change.get("base", change.get("before")),
                    change.get("after"),
                )
                for change in edit.changes
            ]
            rows.append(PreviewRow(edit.contact, changes))
    else:
        for plans in plans_of(batch_targets(batch)):
            for plan in plans:
                if len(rows) == sample:
                    break
                if plan.changes:
                    changes = [
                        PreviewChange(key, label(key), plan.expected.get(key), after)
                        for key, after in plan.changes.items()
                    ]
                    rows.append(PreviewRow(plan.contact, changes))
            if len(rows) == sample:
                break
    return BatchPreview(
        changed=batch.changed_count,
        unchanged=batch.unchanged_count,
        selected=batch.selected_count,
        sample=rows,
    )


# --- Confirm -----------------------------------------------------------------------------------


def batch_confirm(*, batch: EditBatch, by: AbstractBaseUser) -> EditBatch:
    """Record the draft's edits in the outbox, one per contact it changes (each checked against
    what LiveDesk is expected to hold now), in one transaction, and ask the worker to deliver
    them at the batch rate. A batch already confirmed is answered as it is. Answers `batch`,
    read again."""
    with transaction.atomic():
        locked = EditBatch.objects.select_for_update().get(pk=batch.pk)
        if locked.state != EditBatch.State.DRAFT:
            batch.refresh_from_db()
            return batch
        if connection.features.has_select_for_update:
            for targets in batch_targets(locked):
                _contacts_lock([target.contact_id for target in targets])
        now = timezone.now()
        source = EDIT_SOURCES[locked.kind]
        tally = Tally(conflicts=list(locked.conflicts), conflict_count=locked.conflict_count)
        for plans in plans_of(batch_targets(locked), lock=True):
            tally.add(plans)
            edits = [
                _edit_of(plan, batch=locked, by=by, source=source, now=now)
                for plan in plans
                if plan.changes
            ]
            if not edits:
                continue
            ContactEdit.objects.bulk_create(edits)
            _pending_counted([edit.contact_id for edit in edits])
            audit.events_append(event for edit in edits for event in audit.edit_recorded(edit))
        tally.counted_on(locked)
        locked.state = EditBatch.State.CONFIRMED
        locked.confirmed_at = now
        locked.save()
        audit.events_append([audit.batch_confirmed(locked, by=by.get_username())])
        transaction.on_commit(batch_delivery_start)
    batch.refresh_from_db()
    return batch


def _contacts_lock(contact_ids: list[int]) -> None:
    list(
        Contact.objects.filter(pk__in=contact_ids)
        .order_by("pk")
        .select_for_update(of=("self",))
        .values_list("pk", flat=True)
    )


def _edit_of(
    plan: Plan, *, batch: EditBatch, by: AbstractBaseUser, source: str, now: datetime
) -> ContactEdit:
    changes = {key: (plan.mirror.get(key), after) for key, after in plan.changes.items()}
    edit = _new_edit(
        contact_id=plan.contact.pk,
        editor_id=by.pk,
        editor_username=by.get_username(),
        source=source,
        batch_id=batch.pk,
        base_version=plan.contact.version,
        changes=[
            {
                "field": key,
                "label": label_english(key),
                "before": before,
                "after": after,
                # What the push must find in LiveDesk to send it: the value expected now.
                "base": plan.expected.get(key),
            }
            for key, (before, after) in changes.items()
        ],
        request_body=patch_body_build(
            changes=changes, social_profiles=plan.contact.social_profiles
        ),
        created_at=now,
        # Due at once: the batch's delivery sends it at the batch rate.
        next_attempt_at=now,
    )
    ContactEdit.contact.field.set_cached_value(edit, plan.contact)
    return edit


def _new_edit(**columns: Any) -> ContactEdit:
    """A new ContactEdit from some of its columns (by attname), the others their defaults,
    built positionally: Django's keyword path, looking up every one of its 27 fields by name
    and the related ones through their descriptors, was most of the cost of a batch's rows."""
    fields = ContactEdit._meta.concrete_fields
    row = [
        columns[field.attname] if field.attname in columns else field.get_default()
        for field in fields
    ]
    return ContactEdit(*row)


def _pending_counted(contact_ids: list[int]) -> None:
    """Count one more pending edit on each contact, and set its push state from the counts
    (as Contact.edit_moved does for one): failed while it holds a failed edit, else pending."""
    Contact.objects.filter(pk__in=contact_ids).update(
        pending_edits=F("pending_edits") + 1,
        push_state=Case(
            When(failed_edits__gt=0, then=Value(Contact.PushState.FAILED)),
            default=Value(Contact.PushState.PENDING),
        ),
    )


# --- Undo --------------------------------------------------------------------------------------


def batch_undo_draft(*, batch: EditBatch, by: AbstractBaseUser) -> EditBatch:
    """A draft undo of the batch: for each contact whose edit reached LiveDesk, the keys still
    holding the batch's value go back to the value they replaced; a key changed since is left
    alone and listed as a conflict. Confirmed like any batch (batch_confirm).

    Raises BatchNotUndoable for a draft, or while edits of the batch are on their way."""
    if batch.state != EditBatch.State.CONFIRMED:
        raise BatchNotUndoable(gettext("Only a confirmed batch can be undone."))
    unfinished = batch.edits.filter(state__in=ContactEdit.UNFINISHED_STATES)
    if any(is_queued(edit) for edit in unfinished.only("state", "failure_kind", "next_attempt_at")):
        raise BatchNotUndoable(
            gettext(
                "Some of its edits are still on their way to LiveDesk: undo it once they are "
                "delivered."
            )
        )
    rows: list[dict[str, Any]] = []
    conflicts: list[dict[str, Any]] = []
    conflict_count = 0
    for edits in _reached_edits(batch):
        queued = queued_by_contact(
            edit.contact_id for edit in edits if edit.contact.has_unfinished_edits
        )
        for edit in edits:
            mirror = contact_values(edit.contact)
            current = values_expected(mirror, queued.get(edit.contact_id, ()))
            restores, changed_since = restore_split(edit, current)
            if restores:
                expect = {
                    change["field"]: change.get("after")
                    for change in edit.changes
                    if change["field"] in restores
                }
                rows.append({"contact": edit.contact_id, "set": restores, "expect": expect})
            for key in changed_since:
                conflict_count += 1
                if len(conflicts) < CONFLICTS_LISTED:
                    conflicts.append(
                        {
                            "contact": edit.contact.remote_id,
                            "key": key.key,
                            "label": label_english(key.key),
                            "batch_value": key.edit_value,
                            "current": key.current,
                        }
                    )
    description = f"Undo of batch #{batch.pk}: {batch.description}"
    return batch_draft_rows(
        by=by,
        kind=EditBatch.Kind.UNDO,
        description=description,
        rows=rows,
        undoes=batch,
        conflicts=conflicts,
        conflict_count=conflict_count,
        selection={"undoes": batch.pk},
    )


def _reached_edits(batch: EditBatch) -> Iterator[list[ContactEdit]]:
    """The batch's edits whose values reached LiveDesk, with their contacts, chunk by chunk."""
    edits = batch.edits.filter(
        state__in=(ContactEdit.State.SUCCEEDED, ContactEdit.State.SUPERSEDED)
    ).select_related("contact")
    for chunk in keyset_chunks(edits):
        yield [edit for edit in chunk if edit_reached_livedesk(edit)]
