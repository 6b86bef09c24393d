"""Saved segments: an agent's search and filters of the contact list under a name, kept for
them alone or shared with the team. Only the owner renames or deletes one."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlencode

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.http import QueryDict
from django.utils.translation import gettext as _

from contacts.forms.filters import ContactFilterForm
from contacts.models import Segment

# A custom-attribute condition travels as repeated parameters, zipped in order (spec #12).
ATTRIBUTE_KEYS = ("attr", "op", "value")
NAME_MAX_LENGTH = Segment._meta.get_field("name").max_length
QUERY_MAX_LENGTH = Segment._meta.get_field("query").max_length


class SegmentNameTaken(Exception):
    """The owner already has another segment of that name."""


@dataclass(frozen=True)
class SegmentSaved:
    segment: Segment
    # An existing segment of the owner's, of the same name, was replaced.
    replaced: bool


def segment_query(params: QueryDict | str) -> str:
    """The contact list's filter parameters in `params`, urlencoded in the list form's order:
    no paging (page, after, before), no `segment`, no empty values; a custom-attribute condition
    is kept whole (its value may be empty: present, absent, yes, no need none)."""
    if isinstance(params, str):
        params = QueryDict(params)
    pairs: list[tuple[str, str]] = []
    for key in ContactFilterForm.base_fields:
        if key in ATTRIBUTE_KEYS:
            continue
        value = params.get(key, "")
        if value.strip():
            pairs.append((key, value))
    conditions = zip(*(params.getlist(key) for key in ATTRIBUTE_KEYS), strict=False)
    for attr, op, value in conditions:
        if attr.strip() and op.strip():
            pairs += [("attr", attr), ("op", op), ("value", value)]
    return urlencode(pairs)


def _name_checked(name: str) -> str:
    name = name.strip()
    if not name:
        raise ValidationError(_("Give the segment a name."), code="required")
    if len(name) > NAME_MAX_LENGTH:
        raise ValidationError(
            _("Keep the name to %(limit)d characters or fewer."),
            code="max_length",
            params={"limit": NAME_MAX_LENGTH},
        )
    return name


def segment_save(*, owner, name: str, query: QueryDict | str, shared: bool) -> SegmentSaved:
    """Save the list's search and filters under `name`: a new segment, or the owner's segment
    of that name replaced."""
    name = _name_checked(name)
    query = segment_query(query)
    if len(query) > QUERY_MAX_LENGTH:
        raise ValidationError(
            _("This search is too long to save: remove some filters."), code="query_too_long"
        )
    with transaction.atomic():
        segment, created = Segment.objects.update_or_create(
            owner=owner, name=name, defaults={"query": query, "shared": shared}
        )
    return SegmentSaved(segment=segment, replaced=not created)


def _owned(segment: Segment, by) -> None:
    if segment.owner_id != by.pk:
        raise PermissionDenied(_("Only its owner can change this segment."))


def segment_rename(*, segment: Segment, by, name: str) -> Segment:
    """Rename the owner's segment; another user's is refused (PermissionDenied)."""
    _owned(segment, by)
    name = _name_checked(name)
    if name == segment.name:
        return segment
    taken = Segment.objects.filter(owner_id=segment.owner_id, name=name).exclude(pk=segment.pk)
    if taken.exists():
        raise SegmentNameTaken(name)
    old_name, segment.name = segment.name, name
    try:
        with transaction.atomic():
            segment.save(update_fields=["name", "updated_at"])
    except IntegrityError as clash:  # taken meanwhile
        segment.name = old_name
        raise SegmentNameTaken(name) from clash
    return segment


def segment_delete(*, segment: Segment, by) -> None:
    """Delete the owner's segment; another user's is refused (PermissionDenied)."""
    _owned(segment, by)
    segment.delete()
