"""Read queries for the agent pages: the contact list, a contact's edits, the edit history."""

from __future__ import annotations

import re
from datetime import date, datetime, time, timedelta

from django.db.models import F, Q, QuerySet, Value
from django.db.models.functions import Concat, Upper
from django.utils import timezone

from contacts import services
from contacts.models import Contact, ContactEdit, CustomAttributeDefinition

# Sort keys of the contact list -> (indexed column, tie-breaker). An index on one column also
# holds the primary key in order, so "pk" breaks ties without a sort; the name index is
# (name, remote_id).
CONTACT_SORTS = {
    "name": ("name", "remote_id"),
    "email": ("email", "pk"),
    "company": ("company_name", "pk"),
    "country": ("country", "pk"),
    "last_activity": ("last_activity_at", "pk"),
}
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
    """Contacts matching the search and filters, in the asked order.

    The search matches the start of the name, email or company (case-insensitive) and the
    whole phone number or identifier. Each is a range or equality on an index, so the search
    stays fast on 100,000 contacts, where a substring search would read every row.
    """
    contacts = Contact.objects.only(*CONTACT_LIST_COLUMNS)
    q = q.strip()
    if q:
        contacts = contacts.alias(
            **{f"{column}_upper": Upper(column) for column in PREFIX_SEARCHED}
        ).filter(_search(q))
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
    column, tie_breaker = CONTACT_SORTS.get(sort.removeprefix("-"), CONTACT_SORTS["name"])
    if sort.startswith("-"):
        return contacts.order_by(F(column).desc(nulls_last=True), F(tie_breaker).desc())
    return contacts.order_by(F(column).asc(nulls_last=True), F(tie_breaker).asc())


def _search(q: str) -> Q:
    """Name, email or company starting with q (in any case), or phone or identifier equal.

    A prefix is the range [Q, Q + the highest character) on UPPER(column), which its index
    serves; the database upper-cases q itself so both sides agree.
    """
    low = Upper(Value(q))
    high = Concat(Upper(Value(q)), Value(HIGHEST_CHARACTER))
    condition = Q(phone_number=PHONE_SEPARATORS.sub("", q)) | Q(identifier=q)
    for column in PREFIX_SEARCHED:
        condition |= Q(**{f"{column}_upper__gte": low, f"{column}_upper__lt": high})
    return condition


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


def contact_open_edit(*, contact: Contact, edit_id: str | int | None = None) -> ContactEdit | None:
    """The unfinished edit the form should reopen: the one asked for, else the newest."""
    unfinished = contact_unfinished_edits(contact=contact)
    if edit_id and str(edit_id).isdigit():
        asked = unfinished.filter(pk=int(edit_id)).first()
        if asked is not None:
            return asked
    return unfinished.first()


def contact_history(*, contact: Contact, limit: int = 50) -> list[ContactEdit]:
    """The contact's newest edits, every state."""
    return list(contact.edits.select_related("contact")[:limit])


def edit_prefill_values(*, edit: ContactEdit) -> services.Values:
    """The mirror's values with the edit's changes on top: what the edit would make them."""
    values = services.contact_editable_values(edit.contact)
    for change in edit.changes:
        if change.get("after") is None:
            values.pop(change["field"], None)
        else:
            values[change["field"]] = change["after"]
    return values


def edit_history(
    *,
    agent: str = "",
    contact: str = "",
    state: str = "",
    date_from: date | None = None,
    date_to: date | None = None,
) -> QuerySet[ContactEdit]:
    """Every edit, newest first, filtered by agent, contact (LiveDesk id or name), outcome and
    day range (in the site's time zone, both days included)."""
    edits = ContactEdit.objects.select_related("contact")
    if agent.strip():
        edits = edits.filter(editor_username__iexact=agent.strip())
    contact = contact.strip().lstrip("#")
    if contact.isdigit():
        edits = edits.filter(contact__remote_id=int(contact))
    elif contact:
        edits = edits.filter(contact__name__icontains=contact)
    if state:
        edits = edits.filter(state=state)
    if date_from:
        edits = edits.filter(created_at__gte=_day_start(date_from))
    if date_to:
        edits = edits.filter(created_at__lt=_day_start(date_to + timedelta(days=1)))
    return edits


def _day_start(day: date) -> datetime:
    return timezone.make_aware(datetime.combine(day, time.min))
