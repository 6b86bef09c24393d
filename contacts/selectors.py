"""Read queries for the agent pages: the contact list, a contact's edits, the edit history and
the audit events that tell their story, a batch's progress."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

import phonenumbers
from django.conf import settings
from django.db import connection
from django.db.models import (
    BooleanField,
    Case,
    Count,
    ExpressionWrapper,
    F,
    Func,
    IntegerField,
    Q,
    QuerySet,
    TextField,
    Value,
    When,
)
from django.db.models.expressions import OrderBy, RawSQL
from django.db.models.functions import Concat, Upper
from django.db.models.lookups import GreaterThanOrEqual, LessThan
from django.utils import timezone

from contacts.attribute_filters import AttributeCondition, InvalidCondition, attribute_condition
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
    # A search's best matches first (contact_search_rank), then by name.
    "relevance": ("search_rank", "name", "remote_id"),
}
RELEVANCE = "relevance"
# Contacts never seen active come last either way; the other sort columns are never null, and
# asking NULLS LAST of them would keep PostgreSQL from reading a descending sort off the index.
NULLABLE_SORT_COLUMNS = frozenset({"last_activity_at"})
# Columns searched by prefix, each through its UPPER(column) index, for a search shorter than
# SUBSTRING_MIN characters: fewer than a trigram, which the substring indexes cannot serve.
PREFIX_SEARCHED = ("name", "email", "company_name")
SUBSTRING_MIN = 3
# Text columns searched inside (migration 0012's indexes), beside the phone's digits; and those
# whose words are ranked apart (a surname in the name).
SUBSTRING_SEARCHED = ("name", "email", "identifier", "company_name")
WORDED = ("name", "company_name")
# The SQLite search: the FTS5 trigram table kept in step with contacts by triggers (0012).
SQLITE_SEARCH_SQL = (
    "SELECT rowid FROM contacts_contact_search WHERE contacts_contact_search MATCH %s"
)
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
PHONE_DIGITS = re.compile(r"\+?[0-9]+")
CONTROL_CHARACTERS = re.compile(r"[\x00-\x1f\x7f]")
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
    created_from: date | str | None = None,
    created_to: date | str | None = None,
    active_from: date | str | None = None,
    active_to: date | str | None = None,
    attributes: Iterable[AttributeCondition | dict] = (),
    definitions: Mapping[str, CustomAttributeDefinition] | None = None,
) -> QuerySet[Contact]:
    """Contacts matching the search (see contact_search) and filters, in the asked order.

    Days (a date, or its ISO text as a batch stores it) include both ends in the site's time
    zone; attribute conditions on an attribute without a definition, or not fitting its type,
    are ignored. `definitions` by key, when the caller has read them already, saves a query."""
    contacts = Contact.objects.only(*CONTACT_LIST_COLUMNS)
    q = _search_text(q)
    if sort.removeprefix("-") == RELEVANCE:
        sort = RELEVANCE if _ranked(q) else "name"
    if q:
        contacts = contacts.filter(contact_search(q, ranked=sort == RELEVANCE))
    if sort == RELEVANCE:
        contacts = contacts.annotate(search_rank=contact_search_rank(q))
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
    contacts = contacts.filter(
        contact_ranges_and_attributes(
            created_from=created_from,
            created_to=created_to,
            active_from=active_from,
            active_to=active_to,
            attributes=attributes,
            definitions=definitions,
        )
    )
    columns = CONTACT_SORTS.get(sort.removeprefix("-"), CONTACT_SORTS["name"])
    descending = sort.startswith("-")
    return contacts.order_by(*(_ordering(column, descending=descending) for column in columns))


def contact_ranges_and_attributes(
    *,
    created_from: date | str | None = None,
    created_to: date | str | None = None,
    active_from: date | str | None = None,
    active_to: date | str | None = None,
    attributes: Iterable[AttributeCondition | dict] = (),
    definitions: Mapping[str, CustomAttributeDefinition] | None = None,
) -> Q:
    """The list's day ranges and custom-attribute conditions as one condition (the agent list
    and the admin's filter both apply it)."""
    return (
        _days("created_at", created_from, created_to)
        & _days("last_activity_at", active_from, active_to)
        & attribute_conditions(attributes, definitions=definitions)
    )


def _days(column: str, first: date | str | None, last: date | str | None) -> Q:
    """`column` within the days first..last, both included (either may be left open)."""
    condition = Q()
    first, last = _day(first), _day(last)
    if first is not None or last is not None:
        condition &= Q(**{f"{column}__isnull": False})
    # At the calendar's ends a day's start in UTC would fall outside it: no bound is needed.
    if first is not None and first > date.min:
        condition &= Q(**{f"{column}__gte": _day_start(first)})
    if last is not None and last < date.max - timedelta(days=1):
        condition &= Q(**{f"{column}__lt": _day_start(last + timedelta(days=1))})
    return condition


def _day(value: date | str | None) -> date | None:
    if isinstance(value, date) or value is None:
        return value
    try:
        return date.fromisoformat(str(value))
    except ValueError:
        return None


def attribute_conditions(
    conditions: Iterable[AttributeCondition | dict],
    *,
    definitions: Mapping[str, CustomAttributeDefinition] | None = None,
) -> Q:
    """All the conditions (also as dicts, as a batch stores them) on defined attributes: those
    of `definitions` by key, else read."""
    conditions = [
        condition
        if isinstance(condition, AttributeCondition)
        else AttributeCondition(
            key=str(condition.get("key", "")),
            op=str(condition.get("op", "")),
            value=str(condition.get("value", "")),
        )
        for condition in conditions
    ]
    if not conditions:
        return Q()
    if definitions is None:
        definitions = CustomAttributeDefinition.objects.in_bulk(
            {condition.key for condition in conditions}, field_name="key"
        )
    matching = Q()
    for condition in conditions:
        definition = definitions.get(condition.key)
        if definition is None:
            continue
        try:
            matching &= attribute_condition(condition, definition)
        except InvalidCondition:
            continue
    return matching


def contact_list_sort(sort: str = "name", *, q: str = "") -> KeysetSort:
    """The contact list's order for keyset paging: the columns of CONTACT_SORTS, one way."""
    if sort.removeprefix("-") == RELEVANCE:
        sort = RELEVANCE if _ranked(_search_text(q)) else "name"
    columns = CONTACT_SORTS.get(sort.removeprefix("-"), CONTACT_SORTS["name"])
    return KeysetSort(
        columns=columns,
        descending=sort.startswith("-"),
        nullable_first=columns[0] in NULLABLE_SORT_COLUMNS,
        computed={"search_rank": IntegerField()} if sort == RELEVANCE else {},
    )


def _ordering(column: str, *, descending: bool) -> OrderBy:
    nulls_last = True if column in NULLABLE_SORT_COLUMNS else None
    if descending:
        return F(column).desc(nulls_last=nulls_last)
    return F(column).asc(nulls_last=nulls_last)


def contact_search(q: str, *, ranked: bool = False) -> Q:
    """Contacts whose name, email, phone, identifier or company holds q, in any case.

    From SUBSTRING_MIN characters q is found anywhere in those columns (Thai too: inside the
    string, not by word), a phone's digits whatever separators were typed; shorter, a name,
    email or company starting with q, or a whole phone or identifier. An id matches its
    contact. Every part is served by an index (migration 0012's for the inside): the agent list,
    the admin, bulk selections and exports all search with it.

    `ranked`: the rows will be ordered by contact_search_rank, which no index serves, so
    PostgreSQL reads the matches off the trigram indexes by itself; in any other order it
    is made to (IdAmong).
    """
    q = _search_text(q)
    if not q:
        return Q()
    phone = _phone_digits(q)
    if len(q) < SUBSTRING_MIN:
        condition = (Q(phone_number=phone) if phone else Q()) | Q(identifier=q)
        for column in PREFIX_SEARCHED:
            condition |= _starts_with(column, q)
    elif connection.vendor == "sqlite":
        condition = Q(pk__in=RawSQL(SQLITE_SEARCH_SQL, [_fts_query(q, _phones_searched(phone))]))
    else:
        found = Q(Inside(SearchedText(), q))
        for digits in _phones_searched(phone):
            found |= Q(phone_number__contains=digits)
        condition = found if ranked else Q(IdAmong(Contact.objects.filter(found).values("pk")))
    remote_id = parse_id(q)
    if remote_id is not None:
        condition |= Q(remote_id=remote_id)
    return condition


def contact_search_rank(q: str) -> Case:
    """How well a contact found by contact_search(q) matches, best first: 0 a column equals q,
    1 a column starts with it, 2 a word of the name or company does, 3 it is inside."""
    q = _search_text(q)
    phone = _phone_digits(q)
    exact = Q(phone_number=phone) if phone else Q(pk__in=[])
    starts = Q(phone_number__startswith=phone) if phone else Q(pk__in=[])
    word = Q(pk__in=[])
    for column in SUBSTRING_SEARCHED:
        exact |= Q(**{f"{column}__iexact": q})
        starts |= Q(**{f"{column}__istartswith": q})
    for column in WORDED:
        word |= Q(**{f"{column}__icontains": f" {q}"})
    remote_id = parse_id(q)
    if remote_id is not None:
        exact |= Q(remote_id=remote_id)
    return Case(
        When(exact, then=Value(0)),
        When(starts, then=Value(1)),
        When(word, then=Value(2)),
        default=Value(3),
        output_field=IntegerField(),
    )


def _ranked(q: str) -> bool:
    """Whether a search's matches are ordered best first: a prefix search's all start alike,
    and ordering its many matches (a tenth of the contacts for "an") by rank sorts them all."""
    return len(q) >= SUBSTRING_MIN


def _search_text(q: str) -> str:
    """The search as the database can take it: spaces trimmed, control characters removed (no
    column holds them; PostgreSQL refuses a NUL, and SearchedText joins columns with one)."""
    return CONTROL_CHARACTERS.sub("", q).strip()


class SearchedText(Func):
    """The text columns searched inside, upper-cased and joined by a control character, as
    PostgreSQL's contact_text_trgm_idx holds them (migration 0012): one index scan finds a term
    in any of them, and never across two."""

    template = "UPPER(%(expressions)s)"
    arg_joiner = " || CHR(31) || "
    output_field = TextField()

    def __init__(self):
        super().__init__(*(F(column) for column in SUBSTRING_SEARCHED))


class IdAmong(Func):
    """`id = ANY(ARRAY(ids))`: PostgreSQL collects the ids first, from the trigram indexes, then
    sorts those rows. Written as `id IN (ids)`, the planner may instead walk the whole sort
    index (by name) testing every row, when it guesses many matches: 40 ms, not 3, at 100,000
    contacts for a phone's last four digits, sorted by name."""

    output_field = BooleanField()

    def __init__(self, ids: QuerySet):
        super().__init__(F("pk"))
        self.ids = ids

    def as_sql(self, compiler, connection, **extra_context):
        column_sql, params = compiler.compile(self.get_source_expressions()[0])
        ids_sql, ids_params = self.ids.query.get_compiler(connection=connection).as_sql()
        return f"{column_sql} = ANY(ARRAY({ids_sql}))", [*params, *ids_params]


class Inside(Func):
    """`text LIKE '%term%'`, term's wildcards escaped and upper-cased by the database (as
    SearchedText is): true where text holds term."""

    output_field = BooleanField()

    def __init__(self, text, term: str):
        super().__init__(text)
        self.term = term

    def as_sql(self, compiler, connection, **extra_context):
        text_sql, params = compiler.compile(self.get_source_expressions()[0])
        pattern = f"%{connection.ops.prep_for_like_query(self.term)}%"
        return f"{text_sql} LIKE UPPER(%s)", [*params, pattern]


def _phone_digits(q: str) -> str:
    """A phone (or part of one) as typed, without the spaces, dashes, dots and brackets people
    put in it; "" when q is not digits (an optional + first) once those are gone."""
    digits = PHONE_SEPARATORS.sub("", q)
    return digits if PHONE_DIGITS.fullmatch(digits) else ""


def _phones_searched(phone: str) -> list[str]:
    """The digits searched inside the phone column for a search of `phone` digits: themselves
    (from SUBSTRING_MIN), and a whole national number's E.164 too ("081 234 5678" in
    LIVEDESK_DEFAULT_PHONE_REGION, TH: +66812345678), as the edit form saves it."""
    if len(phone) < SUBSTRING_MIN:
        return []
    if phone.startswith("+"):
        return [phone]
    try:
        number = phonenumbers.parse(phone, settings.LIVEDESK_DEFAULT_PHONE_REGION)
    except phonenumbers.NumberParseException:
        return [phone]
    if not phonenumbers.is_valid_number(number):
        return [phone]
    return [phone, phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)]


def _fts_query(q: str, phones: list[str]) -> str:
    """An FTS5 query for q inside the text columns, or each of `phones` inside the phone: each
    a quoted phrase, in which only a double quote (doubled) is special."""
    query = f"{{{' '.join(SUBSTRING_SEARCHED)}}} : {_fts_phrase(q)}"
    for phone in phones:
        query += f" OR phone_number : {_fts_phrase(phone)}"
    return query


def _fts_phrase(text: str) -> str:
    return '"' + text.replace('"', '""') + '"'


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


def edit_history_contact(*, contact: str = "") -> Contact | None:
    """The contact a history filter names by its LiveDesk id (as the contact page links to
    it), to show by name; None for a name, a blank or an unknown id."""
    remote_id = parse_id(contact.strip().lstrip("#"))
    if remote_id is None:
        return None
    return Contact.objects.filter(remote_id=remote_id).first()


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


def contacts_unfinished_edits(*, remote_ids: Iterable[int]) -> dict[Contact, list[ContactEdit]]:
    """The contacts with these LiveDesk ids, each with its unfinished edits, newest first: two
    queries for a page of the list."""
    contacts = list(Contact.objects.filter(remote_id__in=list(remote_ids)))
    edits: dict[int, list[ContactEdit]] = {contact.pk: [] for contact in contacts}
    unfinished = ContactEdit.objects.filter(
        contact__in=contacts, state__in=ContactEdit.UNFINISHED_STATES
    )
    for edit in unfinished:
        edits[edit.contact_id].append(edit)
    return {contact: edits[contact.pk] for contact in contacts}
