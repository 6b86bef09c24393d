"""Sync's database queries: a fixed number per page, however many contacts there are."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from contacts import services
from contacts.models import Contact

pytestmark = pytest.mark.django_db


# Queries one page of sync may run, whatever the number of contacts on it.
QUERIES_PER_PAGE = 6
# Queries of the sync as a whole, however many pages: the contacts not seen, the countries'
# refresh; on PostgreSQL, commits that do not wait for the disk, and the connection put back.
QUERIES_PER_SYNC = 5


def sync_counting_queries(*, page_size: int) -> tuple[list[int], int]:
    """Run a sync; answer the queries each page ran and the queries run after the last page."""
    marks: list[int] = []

    def statements() -> int:
        # Pages are written several to a transaction: its brackets (savepoints under the test's
        # own transaction) are not any one page's.
        return sum(
            not query["sql"].startswith(("SAVEPOINT", "RELEASE SAVEPOINT"))
            for query in captured.captured_queries
        )

    with CaptureQueriesContext(connection) as captured:
        services.contacts_sync(page_size=page_size, on_page=lambda _: marks.append(statements()))
    per_page = [after - before for before, after in zip([0, *marks], marks, strict=False)]
    return per_page, statements() - marks[-1]


def test_sync_runs_a_fixed_number_of_queries_per_page_however_many_contacts(sandbox):
    def first_and_second_run(contacts: int) -> list[tuple[int, int]]:
        sandbox.store.reset()
        sandbox.store.seed(contacts)
        Contact.objects.all().delete()
        runs = []
        for _run in ("first", "second"):
            per_page, after_pages = sync_counting_queries(page_size=30)
            assert len(per_page) == contacts // 30
            runs.append((max(per_page), after_pages))
        return runs

    few, many = first_and_second_run(30), first_and_second_run(300)

    assert many == few
    assert all(per_page <= QUERIES_PER_PAGE for per_page, _after_pages in many)
    assert all(after_pages <= QUERIES_PER_SYNC for _per_page, after_pages in many)


def test_sync_of_300_contacts_stays_within_the_per_page_query_budget(
    sandbox, django_assert_max_num_queries
):
    sandbox.store.seed(300)

    with django_assert_max_num_queries(3 * QUERIES_PER_PAGE + QUERIES_PER_SYNC):
        services.contacts_sync(page_size=100)
    with django_assert_max_num_queries(3 * QUERIES_PER_PAGE + QUERIES_PER_SYNC):
        services.contacts_sync(page_size=100)


@pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL's setting")
def test_sync_commits_without_waiting_for_the_disk_then_puts_the_connection_back(sandbox):
    sandbox.store.seed(60)

    with CaptureQueriesContext(connection) as captured:
        services.contacts_sync(page_size=30)
    with connection.cursor() as cursor:
        cursor.execute("SHOW synchronous_commit")
        after = cursor.fetchone()[0]

    statements = [query["sql"] for query in captured.captured_queries]
    assert statements[0] == "SET synchronous_commit TO off"
    assert statements.count("RESET synchronous_commit") == 1
    assert after == "on"
