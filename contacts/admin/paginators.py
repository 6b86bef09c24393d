"""Pagination of the admin's long lists (contacts, the edit history, the audit log), fast at
millions of rows."""

from __future__ import annotations

from django.core.paginator import Paginator
from django.utils.functional import cached_property

from contacts.pagination import ListCount, list_count, table_rows_estimate

# Below this many rows an exact count of the history is cheap enough.
ESTIMATED_COUNT_FROM = 200_000


def _ids_first(paginator: Paginator, page):
    """The page's rows read by id after its ids were read on the order's index.

    OFFSET steps over every row before the page, and stepping over index entries is cheap
    where stepping over rows with their JSON bodies is not (page 5,000 of the history in
    SQLite: 1.5 s read whole, 32 ms this way).
    """
    ids = list(page.object_list.values_list("pk", flat=True))
    page.object_list = paginator.object_list.filter(pk__in=ids)
    return page


class EditHistoryPaginator(Paginator):
    """Pages of a history of millions of rows.

    Unfiltered on PostgreSQL, the count is the planner's estimate (COUNT(*) reads the whole
    table, in about 50 ms a million rows, on every page); a page's rows are read ids first.
    """

    @cached_property
    def count(self) -> int:
        estimate = table_rows_estimate(self.object_list)
        if estimate is not None and estimate >= ESTIMATED_COUNT_FROM:
            return estimate
        return super().count

    def page(self, number):
        return _ids_first(self, super().page(number))


class ContactPaginator(Paginator):
    """Pages of the contact list, whose count never reads the whole table.

    The count is PostgreSQL's estimate unfiltered ("about N"), else counted from the asked
    page's first row up to COUNT_CAP rows more ("more than N" past that): a deep page stays
    reachable, and the next pages show up as the agent walks on. Pages after the first are
    read ids first.
    """

    def __init__(self, object_list, per_page, orphans=0, allow_empty_first_page=True, *, asked=1):
        super().__init__(object_list, per_page, orphans, allow_empty_first_page)
        self.asked = max(asked, 1)

    @cached_property
    def list_count(self) -> ListCount:
        return list_count(self.object_list, start=(self.asked - 1) * self.per_page)

    @cached_property
    def count(self) -> int:
        return self.list_count.value

    def page(self, number):
        page = super().page(number)
        if page.start_index() == 1:
            return page
        # Ordered by name and LiveDesk id (the default), the contacts' keys are read off that
        # index alone: PostgreSQL's index on (name, remote_id) holds no primary key.
        ordering = {str(column).lstrip("-") for column in self.object_list.query.order_by}
        key = "remote_id" if "remote_id" in ordering else "pk"
        keys = list(page.object_list.values_list(key, flat=True))
        page.object_list = self.object_list.filter(**{f"{key}__in": keys})
        return page


class AuditLogPaginator(ContactPaginator):
    """Pages of the audit log, counted as the contact list is (never a COUNT of the whole log);
    pages after the first read their events by number first."""

    @cached_property
    def list_count(self) -> ListCount:
        # A search that can match nothing (not an id) is an empty queryset: no SQL to count.
        if self.object_list.query.is_empty():
            return ListCount(0)
        return super().list_count
