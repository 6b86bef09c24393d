"""Read queries for the agent pages: the contact list, a contact's edits, the edit history and
the audit events that tell their story, a batch's progress."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from django.db.models import (
    BooleanField,
    Count,
    ExpressionWrapper,
    F,
    Q,
    QuerySet,
    Value,
)
from django.db.models.expressions import OrderBy
from django.db.models.functions import Concat, Upper
from django.db.models.lookups import GreaterThanOrEqual, LessThan
from django.utils import timezone

from contacts.fields import Values, contact_values
from contacts.models import (
    AuditEvent,
    Contact,
    ContactEdit,
    CustomAttributeDefinition,
    EditBatch,
)
from contacts.pagination import KeysetSort

# Sort keys of the contact list -> the columns to order by, each sort read in order from one
# index: (name, remote_id), (country, name, remote_id), and single-column indexes, which in
# SQLite hold the primary key in order too (PostgreSQL adds a cheap incremental sort).
CONTACT_SORTS = {
    "name": ("name", "remote_id"),
    "email": ("email", "pk"),
    "company": ("company_name", "pk"),
    "country": ("country", "name", "remote_id"),
    "last_activity": ("last_activity_at", "pk"),
}
# Contacts never seen active come last either way; the other sort columns are never null, and
# asking NULLS LAST of them would keep PostgreSQL from reading a descending sort off the index.
NULLABLE_SORT_COLUMNS = frozenset({"last_activity_at"})
# Columns searched by prefix, each through its UPPER(column) index.
PREFIX_SEARCHED = ("name", "email", "company_name")
HIGHEST_CHARACTER = "\U0010ffff"
# The columns the list shows: the JSON payloads stay in the database.
CONTACT_LIST_COLUMNS = (
    "remote_id",
    "name",
    "email",
    "phone_number",
    "identifier",
    "company_name",
    "city",
    "country",
    "country_code",
    "availability_status",
    "blocked",
    "push_state",
    "last_activity_at",
    "gone_at",
)
PHONE_SEPARATORS = re.compile(r"[\s().-]")
# An id as typed in a URL or a search box: ASCII digits only (str.isdigit() also takes "²",
# which int() refuses, and "٣"), and at most the largest BigIntegerField, the ids' column type.
ID_DIGITS = re.compile(r"[0-9]{1,19}")
ID_MAX = 2**63 - 1


def contact_list(
    *,
    q: str = "",
    blocked: bool | None = None,
    availability: str = "",
    country: str = "",
    push_state: str = "",
    gone: bool | None = None,
    sort: str = "name",
) -> QuerySet[Contact]:
    """Contacts matching the search (see contact_search) and filters, in the asked order."""
    contacts = Contact.objects.only(*CONTACT_LIST_COLUMNS)
    q = q.strip()
    if q:
        contacts = contacts.filter(contact_search(q))
    if blocked is not None:
        contacts = contacts.filter(blocked=blocked)
    if availability:
        contacts = contacts.filter(availability_status=availability)
    if country:
        contacts = contacts.filter(country=country)
    if push_state:
        contacts = contacts.filter(push_state=push_state)
    if gone is not None:
        contacts = contacts.filter(gone_at__isnull=not gone)
    columns = CONTACT_SORTS.get(sort.removeprefix("-"), CONTACT_SORTS["name"])
    descending = sort.startswith("-")
    return contacts.order_by(*(_ordering(column, descending=descending) for column in columns))


def contact_list_sort(sort: str = "name") -> KeysetSort:
    """The contact list's order for keyset paging: the columns of CONTACT_SORTS, one way."""
    columns = CONTACT_SORTS.get(sort.removeprefix("-"), CONTACT_SORTS["name"])
    return KeysetSort(
        columns=columns,
        descending=sort.startswith("-"),
        nullable_first=columns[0] in NULLABLE_SORT_COLUMNS,
    )


def _ordering(column: str, *, descending: bool) -> OrderBy:
    nulls_last = True if column in NULLABLE_SORT_COLUMNS else None
    if descending:
        return F(column).desc(nulls_last=nulls_last)
    return F(column).asc(nulls_last=nulls_last)


def contact_search(q: str) -> Q:
    """Name, email or company starting with q (in any case); phone, identifier or id equal.

    Each part is a range or an equality on an index, so the search stays fast on 100,000
    contacts, where a substring search would read every row. The agent list and the admin
    both search with it.
    """
    condition = Q(phone_number=PHONE_SEPARATORS.sub("", q)) | Q(identifier=q)
    for column in PREFIX_SEARCHED:
        condition |= _starts_with(column, q)
    remote_id = parse_id(q)
    if remote_id is not None:
        condition |= Q(remote_id=remote_id)
    return condition


def parse_id(text: str | int | None) -> int | None:
    """The id `text` spells in ASCII digits, if a database column can hold it; else None."""
    text = "" if text is None else str(text)
    if not ID_DIGITS.fullmatch(text):
        return None
    number = int(text)
    return number if number <= ID_MAX else None


def _starts_with(column: str, prefix: str) -> Q:
    """A case-insensitive "starts with" that the index on UPPER(column) serves as a range.

    `column__istartswith` compiles to LIKE, which SQLite never serves from an index (nor
    PostgreSQL without a pattern_ops one). The range [UPPER(prefix), UPPER(prefix) + the highest
    character) on the indexed UPPER(column) finds the candidates (exactly, in byte-wise and ICU
    collations); the LIKE, kept as a guard, only checks those. The database upper-cases the
    prefix itself, so both sides fold case alike.
    """
    upper = Upper(column)
    return (
        Q(GreaterThanOrEqual(upper, Upper(Value(prefix))))
        & Q(LessThan(upper, Concat(Upper(Value(prefix)), Value(HIGHEST_CHARACTER))))
        & Q(**{f"{column}__istartswith": prefix})
    )


def contact_countries() -> list[str]:
    """Every country named on a contact, for the list's filter."""
    return list(
        Contact.objects.exclude(country="")
        .order_by("country")
        .values_list("country", flat=True)
        .distinct()
    )


def custom_attribute_labels() -> dict[str, str]:
    """The label of each defined custom attribute, by key."""
    return dict(CustomAttributeDefinition.objects.values_list("key", "label"))


def contact_unfinished_edits(*, contact: Contact) -> QuerySet[ContactEdit]:
    """The contact's edits not yet delivered to LiveDesk (pending or failed), newest first."""
    return contact.edits.filter(state__in=ContactEdit.UNFINISHED_STATES).select_related("editor")


def contact_open_edit(*, contact: Contact, edit_id: str | int | None) -> ContactEdit | None:
    """The unfinished edit of this contact the form should reopen ("Edit and resend"), or None
    when the id is not one: a plain edit never opens someone else's unfinished values."""
    asked_id = parse_id(edit_id)
    if asked_id is None:
        return None
    return contact_unfinished_edits(contact=contact).filter(pk=asked_id).first()


def contact_audit_events(*, contact: Contact, limit: int = 50) -> list[AuditEvent]:
    """The contact's newest audit events, newest first: read backwards off the
    (contact_remote_id, -seq) index, never sorting the contact's whole trail."""
    events = AuditEvent.objects.filter(contact_remote_id=contact.remote_id).order_by("-seq")
    return list(events[:limit])


def edit_prefill_values(*, edit: ContactEdit) -> Values:
    """The mirror's values with the edit's changes on top: what the edit would make them."""
    values = contact_values(edit.contact)
    for change in edit.changes:
        if change.get("after") is None:
            values.pop(change["field"], None)
        else:
            values[change["field"]] = change["after"]
    return values


def edits_audit_events(*, edit_ids: Iterable[int]) -> dict[int, list[AuditEvent]]:
    """The audit events of each edit, in the chain's order, by edit id (an edit without any maps
    to an empty list): one query for a whole page of edits."""
    stories: dict[int, list[AuditEvent]] = {edit_id: [] for edit_id in edit_ids}
    if not stories:
        return stories
    for event in AuditEvent.objects.filter(edit_id__in=stories).order_by("seq"):
        stories[event.edit_id].append(event)
    return stories


def edit_history(
    *,
    agent: str = "",
    contact: str = "",
    state: str = "",
    source: str = "",
    date_from: date | None = None,
    date_to: date | None = None,
) -> QuerySet[ContactEdit]:
    """Every edit, newest first, filtered by agent, contact (LiveDesk id or name), outcome,
    source (an agent page, the admin, or LiveDesk for changes made outside this app) and day
    range (in the site's time zone, both days included)."""
    edits = ContactEdit.objects.select_related("contact")
    if agent.strip():
        edits = edits.filter(editor_username__iexact=agent.strip())
    contact = contact.strip().lstrip("#")
    remote_id = parse_id(contact)
    if remote_id is not None:
        edits = edits.filter(contact__remote_id=remote_id)
    elif contact:
        edits = edits.filter(contact__name__icontains=contact)
    if state:
        edits = edits.filter(state=state)
    if source:
        edits = edits.filter(source=source)
    if date_from:
        edits = edits.filter(created_at__gte=_day_start(date_from))
    if date_to:
        edits = edits.filter(created_at__lt=_day_start(date_to + timedelta(days=1)))
    return edits


def _day_start(day: date) -> datetime:
    return timezone.make_aware(datetime.combine(day, time.min))


@dataclass(frozen=True)
class BatchProgress:
    """Where a batch's edits stand, counted from their states."""

    delivered: int = 0  # LiveDesk accepted it
    failed: int = 0  # refused, or no retry left: needs a person
    conflicts: int = 0  # changed in LiveDesk meanwhile: not sent, needs a person
    waiting: int = 0  # on its way: pending, in flight, or failed with a retry to come
    carried: int = 0  # carried into a newer edit of its contact and sent with it
    discarded: int = 0  # given up by a person

    @property
    def total(self) -> int:
        return (
            self.delivered
            + self.failed
            + self.conflicts
            + self.waiting
            + self.carried
            + self.discarded
        )

    @property
    def finished(self) -> bool:
        """Nothing of the batch is still on its way."""
        return self.waiting == 0


def batch_progress(batch: EditBatch) -> BatchProgress:
    """The batch's edits counted by where they stand, in one GROUP BY query."""
    State, FailureKind = ContactEdit.State, ContactEdit.FailureKind
    rows = (
        ContactEdit.objects.filter(batch=batch)
        .annotate(
            retry_to_come=ExpressionWrapper(
                Q(next_attempt_at__isnull=False), output_field=BooleanField()
            )
        )
        .values_list("state", "failure_kind", "retry_to_come")
        .annotate(count=Count("pk"))
        .order_by()
    )
    counts = dict.fromkeys(
        ("delivered", "failed", "conflicts", "waiting", "carried", "discarded"), 0
    )
    for state, failure_kind, retry_to_come, count in rows:
        if state == State.SUCCEEDED:
            counts["delivered"] += count
        elif state == State.SUPERSEDED:
            counts["carried"] += count
        elif state == State.DISCARDED:
            counts["discarded"] += count
        elif state == State.PENDING:
            counts["waiting"] += count
        elif failure_kind == FailureKind.CONFLICT:
            counts["conflicts"] += count
        elif failure_kind == FailureKind.TRANSIENT and retry_to_come:
            counts["waiting"] += count
        else:
            counts["failed"] += count
    return BatchProgress(**counts)
