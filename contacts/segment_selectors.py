"""Reading saved segments: those an agent sees beside the contact list."""

from __future__ import annotations

from django.db.models import BooleanField, Case, QuerySet, When

from contacts.models import Segment


def segments_visible(*, user) -> QuerySet[Segment]:
    """The segments `user` may open, their own first, then those shared with the team, each by
    name; with their owner, and `own` set: one query."""
    return (
        Segment.objects.visible_to(user)
        .select_related("owner")
        .annotate(own=Case(When(owner=user, then=True), default=False, output_field=BooleanField()))
        .order_by("-own", "name", "pk")
    )


def segment_open(segments: QuerySet[Segment], segment_id: str | None) -> Segment | None:
    """The segment of `segment_id` among `segments` (read once, with the list), or None."""
    if not segment_id:
        return None
    return next((segment for segment in segments if str(segment.pk) == segment_id), None)
