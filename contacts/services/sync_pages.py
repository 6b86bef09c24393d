"""Reading LiveDesk's contact list for a sync: one page at a time, or several pages in flight at
once, each on a thread with a client of its own, handed in page order to the one thread that
writes the mirror.

A `requests.Session` is not thread-safe, hence a client per fetching thread. Threads only speak
HTTP; the database is touched by the calling thread alone.
"""

from __future__ import annotations

import dataclasses
import itertools
import math
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.utils import timezone

from contacts.livedesk import ContactPage, LiveDeskClient, LiveDeskProtocolError

# A sync lists contacts oldest first, so that pages (offsets) stay put while it runs.
SYNC_ORDER = {"sort": "created_at", "direction": "asc"}
# Pages fetched but not yet written, beyond those in flight: what the writer may fall behind by.
BACKLOG_PAGES = 4


@dataclass(frozen=True)
class FetchedPage:
    page: ContactPage
    # When the request was sent: the page is LiveDesk's state as of then, not later.
    requested_at: datetime
    # What `prepare` made of the page on the thread that fetched it (None: nothing asked).
    prepared: Any = None
    # The next page was already fetched when this one was handed over: no wait for it.
    next_ready: bool = False

    @property
    def received(self) -> int:
        return len(self.page.contacts) + len(self.page.rejected)


def pages_in_turn(
    *,
    client: LiveDeskClient,
    page_size: int,
    prepare: Callable[[ContactPage], Any] | None = None,
) -> Iterator[FetchedPage]:
    """Every page, one request at a time (see `LiveDeskClient.contacts_iter`)."""
    pages = client.contacts_iter(page_size=page_size)  # oldest first, as SYNC_ORDER
    while True:
        requested_at = timezone.now()
        page = next(pages, None)
        if page is None:
            return
        yield FetchedPage(page, requested_at, prepare(page) if prepare else None)


def pages_at_once(
    *,
    client_make: Callable[[], LiveDeskClient],
    page_size: int,
    concurrency: int,
    prepare: Callable[[ContactPage], Any] | None = None,
) -> Iterator[FetchedPage]:
    """Every page, in order, with up to `concurrency` requests in flight.

    `prepare` runs on the fetching thread: work done there overlaps with the writer's waits on
    the database, which release the GIL.

    The first page tells the total, hence how many pages to ask for; without a total it falls
    back to one page at a time. A later page with a larger total extends the run; an empty page
    ends it. A failed page raises its LiveDeskError here once the pages before it are handed
    over; the pages not yet sent are cancelled and no thread outlives the iterator.
    """
    clients: list[LiveDeskClient] = []
    clients_lock = threading.Lock()
    local = threading.local()

    def fetch(number: int) -> FetchedPage:
        client = getattr(local, "client", None)
        if client is None:
            client = local.client = client_make()
            with clients_lock:
                clients.append(client)
        requested_at = timezone.now()
        page = client.contacts_list(page=number, page_size=page_size, **SYNC_ORDER)
        return FetchedPage(page, requested_at, prepare(page) if prepare else None)

    executor = ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="sync-fetch")
    try:
        first = executor.submit(fetch, 1).result()
        if first.page.count is None:
            with clients_lock:
                client = clients[0]
            yield from pages_in_turn(client=client, page_size=page_size, prepare=prepare)
            return
        if not first.received:
            return
        yield first
        per_page = first.received
        last_page = math.ceil(first.page.count / per_page)
        in_flight: dict[int, Future[FetchedPage]] = {}
        next_number, previous_ids = 2, _remote_ids(first)
        for number in itertools.count(2):
            while next_number <= last_page and len(in_flight) < concurrency + BACKLOG_PAGES:
                in_flight[next_number] = executor.submit(fetch, next_number)
                next_number += 1
            if number not in in_flight:
                return
            fetched = in_flight.pop(number).result()
            if not fetched.received:
                return
            ids = _remote_ids(fetched)
            if ids and ids == previous_ids:
                raise LiveDeskProtocolError(
                    "LiveDesk sent the same page of contacts twice: it may be ignoring `page`.",
                    status=fetched.page.status,
                )
            previous_ids = ids
            if fetched.page.count is not None:
                last_page = max(last_page, math.ceil(fetched.page.count / per_page))
            following = in_flight.get(number + 1)
            yield dataclasses.replace(
                fetched, next_ready=following is not None and following.done()
            )
    finally:
        executor.shutdown(wait=True, cancel_futures=True)
        for client in clients:
            client.close()


def _remote_ids(fetched: FetchedPage) -> list[int]:
    return [contact.remote_id for contact in fetched.page.contacts]
