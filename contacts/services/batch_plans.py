"""What a batch does to each contact, as things stand: its targets (the values it sets), read
chunk by chunk, and its plans (each contact's keys to change, against the mirror with the values
on their way on top). Drafts count them, the preview shows them, confirm records them."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from django.db.models import QuerySet

from contacts import selectors
from contacts.fields import (
    Section,
    Values,
    contact_values,
    editable_fields,
    english_label,
    values_with_changes,
)
from contacts.models import Contact, EditBatch
from contacts.services.bulk_operations import BulkOperation
from contacts.services.restore import queued_by_contact, values_expected

# Contacts read, locked and written per statement: big enough to amortise a statement, small
# enough to keep memory flat.
CHUNK_SIZE = 500
# A batch lists this many of the keys it leaves alone (changed since); it counts them all.
CONFLICTS_LISTED = 1000


@lru_cache(maxsize=1024)
def label_english(key: str) -> str:
    """A key's label in English, as the batch's conflicts and edits keep it (cached: a batch
    names the same few keys thousands of times)."""
    return english_label(key)


@dataclass(frozen=True)
class Target:
    """What a batch sets on one contact; `expect`: keys set only while they hold that value."""

    contact_id: int
    values: dict[str, Any]
    expect: dict[str, Any] = field(default_factory=dict)


@dataclass
class Plan:
    """A batch's change to one contact, as things stand: `changes` (key -> value after) holds
    the keys whose expected value differs; `changed_since` the keys whose `expect` failed."""

    contact: Contact
    mirror: Values
    expected: Values
    changes: dict[str, Any]
    changed_since: list[tuple[str, Any, Any]]


@dataclass
class Tally:
    """A batch's counts as its plans go by; at confirm (`conflicts` given: the batch's own), also
    the keys left alone because they no longer hold the value a row expects."""

    conflicts: list[dict[str, Any]] | None = None
    conflict_count: int = 0
    selected: int = 0
    changed: int = 0
    unchanged: int = 0

    def add(self, plans: list[Plan]) -> None:
        for plan in plans:
            self.selected += 1
            if plan.changes:
                self.changed += 1
            elif not plan.changed_since:
                self.unchanged += 1
            if self.conflicts is None:
                continue
            for key, expected, current in plan.changed_since:
                self.conflict_count += 1
                if len(self.conflicts) < CONFLICTS_LISTED:
                    self.conflicts.append(
                        {
                            "contact": plan.contact.remote_id,
                            "key": key,
                            "label": label_english(key),
                            "batch_value": expected,
                            "current": current,
                        }
                    )

    def counted_on(self, batch: EditBatch) -> None:
        batch.selected_count = self.selected
        batch.changed_count = self.changed
        batch.unchanged_count = self.unchanged
        if self.conflicts is not None:
            batch.conflicts = self.conflicts
            batch.conflict_count = self.conflict_count


def keyset_chunks(rows: QuerySet) -> Iterator[list[Any]]:
    """The rows (objects, or flat ids) in id order, CHUNK_SIZE at a time, each chunk read after
    the last one's id: the whole set is never held, nor an OFFSET counted through."""
    last = 0
    while True:
        chunk = list(rows.filter(pk__gt=last).order_by("pk")[:CHUNK_SIZE])
        if not chunk:
            return
        yield chunk
        last = getattr(chunk[-1], "pk", chunk[-1])


def batch_contacts(batch: EditBatch) -> QuerySet[Contact]:
    """The contacts the batch selects, selected again: the remote ids ticked, the rows'
    contacts, or the list's search and filters as they match now."""
    selection = batch.selection or {}
    if selection.get("remote_ids") is not None:
        return Contact.objects.filter(remote_id__in=selection["remote_ids"])
    if batch.rows:
        return Contact.objects.filter(pk__in=[row["contact"] for row in batch.rows])
    return selectors.contact_list(**selection.get("filters", {}))


def batch_targets(batch: EditBatch) -> Iterator[list[Target]]:
    """What the batch sets on each contact, chunk by chunk: a bulk edit's operations on each
    contact it selects now, or an import's or undo's rows."""
    if batch.kind == EditBatch.Kind.BULK_EDIT:
        operations = [BulkOperation.from_dict(data) for data in batch.operations]
        return targets_of_operations(batch_contacts(batch), operations)
    return targets_of_rows(batch.rows)


def targets_of_operations(
    contacts: QuerySet[Contact], operations: list[BulkOperation]
) -> Iterator[list[Target]]:
    """Every selected contact still in LiveDesk gets the operations' values, chunk by chunk in
    id order (keyset on the id: the selection is never held whole)."""
    values = {operation.key: operation.value for operation in operations}
    ids = contacts.filter(gone_at__isnull=True).values_list("pk", flat=True)
    for chunk in keyset_chunks(ids):
        yield [Target(contact_id, values) for contact_id in chunk]


def targets_of_rows(rows: list[dict[str, Any]]) -> Iterator[list[Target]]:
    for start in range(0, len(rows), CHUNK_SIZE):
        yield [
            Target(row["contact"], row["set"], row.get("expect") or {})
            for row in rows[start : start + CHUNK_SIZE]
        ]


def value_columns() -> tuple[str, ...]:
    """What computing a contact's values and recording its edit read of its row."""
    core = [f.attribute for f in editable_fields() if f.section == Section.CORE]
    bookkeeping = ("remote_id", "version", "pending_edits", "failed_edits", "gone_at")
    return (*bookkeeping, *core, "additional_attributes", "custom_attributes")


def plans_of(targets: Iterable[list[Target]], *, lock: bool = False) -> Iterator[list[Plan]]:
    """Each chunk of targets as plans, against the contacts' rows as they are (locked with
    `lock`; on PostgreSQL the caller locked them first, so a row another transaction holds
    was not selected then and is skipped rather than waited for)."""
    for chunk in targets:
        rows = Contact.objects.filter(
            pk__in=[target.contact_id for target in chunk], gone_at__isnull=True
        ).only(*value_columns())
        if lock:
            rows = rows.order_by("pk").select_for_update(of=("self",), skip_locked=True)
        contacts = {contact.pk: contact for contact in rows}
        queued = queued_by_contact(
            contact.pk for contact in contacts.values() if contact.has_unfinished_edits
        )
        plans = []
        for target in chunk:
            contact = contacts.get(target.contact_id)
            if contact is None:
                continue
            mirror = contact_values(contact)
            expected = values_expected(mirror, queued.get(contact.pk, ()))
            plans.append(plan_of(contact, mirror, expected, target))
        yield plans


def plan_of(contact: Contact, mirror: Values, expected: Values, target: Target) -> Plan:
    changes: dict[str, Any] = {}
    changed_since: list[tuple[str, Any, Any]] = []
    after = values_with_changes(
        expected, {key: (None, value) for key, value in target.values.items()}
    )
    for key in target.values:
        if expected.get(key) == after.get(key):
            continue
        if key in target.expect and expected.get(key) != target.expect[key]:
            changed_since.append((key, target.expect[key], expected.get(key)))
            continue
        changes[key] = after.get(key)
    return Plan(contact, mirror, expected, changes, changed_since)
