"""Time the contact list pages at 10k, 100k and 1M contacts, ours beside a default ModelAdmin.

    .venv/bin/python scripts/bench_admin.py                    # SQLite, and PostgreSQL if up
    .venv/bin/python scripts/bench_admin.py --sizes 100000     # quick: one size
    .venv/bin/python scripts/bench_admin.py --sizes 10000,100000 --runs 7
    .venv/bin/python scripts/bench_admin.py --sqlite /tmp/b.sqlite3 --keep   # reusable file

Each engine runs in a child process on a fresh database (a temporary SQLite file; a new
PostgreSQL database on 127.0.0.1:5432, or the server of --postgres, when it answers), grown
from one size to the next. The peer is a default `ModelAdmin` on a second AdminSite, with the
list_display, search_fields and list_filter a plain admin would declare. Every page is fetched
once to warm up, then ours and the peer's alternately, --runs times each: the medians, the
ratio peer/ours, our queries (≤ 6 is the goal), and at the end ours@largest / ours@100k (or
the smallest size when 100k was not run).

The search (#12): a Thai surname, an English surname fragment from inside the name, a phone's
last 4 digits and its last 7 typed with a dash, each on our agent list and our admin
changelist, beside the peer (Django's icontains over name, email, phone, identifier and
company) and beside today's prefix search: `prefix_only_search` below is contact_search and
_starts_with of contacts/selectors.py as they were before #12 (commit 99ee975), copied
verbatim; the same pages are fetched with `selectors.contact_search` patched to it
(`prefix_search()`), alternating with ours. Goals: default/ours ≥ 10x, ours/prefix ≤ 1.5x, ≤ 6
queries, ours@1M / ours@100k ≤ 1.3x. Then a custom-attribute filter (`attr`, `op`, `value`)
beside a country filter that matches as many rows: attribute/country ≤ 2x. Each prints how
many contacts it matches.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import random
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import types
from datetime import UTC, datetime
from pathlib import Path
from unittest import mock
from urllib.parse import urlencode, urlsplit

from django.db.models import Q, Value
from django.db.models.functions import Concat, Upper
from django.db.models.lookups import GreaterThanOrEqual, LessThan

BASE_DIR = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(BASE_DIR))
sys.path.insert(0, str(BASE_DIR / "scripts"))

DEFAULT_SIZES = "10000,100000,1000000"
DEFAULT_POSTGRES = "postgres://postgres@127.0.0.1:5432/postgres"
# History rows per contact: 1M edits beside 1M contacts took too long to fill on each run.
EDITS_PER_CONTACT = 0.1
DEEP_ROW = 25_000
# The search's terms: a Thai surname (ศรี + สุข, see bench_admin_data), inside "สมชาย ศรีสุข";
# a fragment from inside "Naksawat" (romanised Thai); the phone ones come from a contact.
THAI_TERM = "ศรีสุข"
ENGLISH_TERM = "aksaw"
# Custom-attribute filters beside a country filter matching about as many contacts
# (bench_admin_data: plan is one of 4 on 85%, vip_level one of 4 on 42%).
ATTRIBUTE_FILTERS = (
    (("plan", "eq", "enterprise"), "United States"),
    (("vip_level", "eq", "platinum"), "United Kingdom"),
)
# The peer's slow pages (seconds at 1M) are fetched this many times at most.
SLOW_MS, SLOW_RUNS = 1000, 3
FLAT_FROM = 100_000

# Today's prefix search: contacts.selectors before #12 (commit 99ee975).
PREFIX_SEARCHED = ("name", "email", "company_name")
HIGHEST_CHARACTER = "\U0010ffff"
PHONE_SEPARATORS = re.compile(r"[\s().-]")


def prefix_only_search(q: str, *, ranked: bool = False) -> Q:
    """Name, email or company starting with q (in any case); phone, identifier or id equal.

    contacts.selectors.contact_search before #12, copied verbatim (99ee975); `ranked` is taken
    and ignored (prefix_search() lists the matches by name, as the list did).
    """
    from contacts.selectors import parse_id

    condition = Q(phone_number=PHONE_SEPARATORS.sub("", q)) | Q(identifier=q)
    for column in PREFIX_SEARCHED:
        condition |= _starts_with(column, q)
    remote_id = parse_id(q)
    if remote_id is not None:
        condition |= Q(remote_id=remote_id)
    return condition


def _starts_with(column: str, prefix: str) -> Q:
    """A case-insensitive "starts with" that the index on UPPER(column) serves as a range
    (contacts.selectors._starts_with before #12, copied verbatim)."""
    upper = Upper(column)
    return (
        Q(GreaterThanOrEqual(upper, Upper(Value(prefix))))
        & Q(LessThan(upper, Concat(Upper(Value(prefix)), Value(HIGHEST_CHARACTER))))
        & Q(**{f"{column}__istartswith": prefix})
    )


@contextlib.contextmanager
def prefix_search():
    """The app searching as it did before #12: selectors.contact_search is prefix_only_search
    for the agent list and the admin alike, and the list orders the matches by name (no rank)."""
    from contacts import selectors

    with (
        mock.patch.object(selectors, "contact_search", prefix_only_search),
        mock.patch.object(selectors, "_ranked", lambda q: False),
    ):
        yield


def arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default=DEFAULT_SIZES, help="contact counts, comma-separated")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--engines", default="sqlite,postgresql")
    parser.add_argument("--postgres", default=os.environ.get("BENCH_POSTGRES", DEFAULT_POSTGRES))
    parser.add_argument("--sqlite", help="an SQLite file to use and keep (grown when smaller)")
    parser.add_argument("--keep", action="store_true", help="keep the databases")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    return parser.parse_args()


def pages(size: int, sample) -> list[tuple[str, str, str]]:
    """(label, our URL, the peer's URL) of each page timed."""
    ours, peer = "/admin/contacts/contact/", "/peer-admin/contacts/contact/"
    deep = max(2, min(500, size // 50))
    deep_row = deep_row_of(size)
    return [
        ("Agent list", "/contacts/", peer),
        ("Agent list, next page (cursor)", "/contacts/?after={next}&page=2", f"{peer}?p=2"),
        (
            "Agent list, deep page (cursor)",
            "/contacts/?after={deep}",
            f"{peer}?p={deep_row // 50 + 1}",
        ),
        ("Agent search: name prefix", "/contacts/?q=Somchai+Sri", f"{peer}?q=Somchai+Sri"),
        ("Agent search: email", f"/contacts/?q={sample.email}", f"{peer}?q={sample.email}"),
        (
            "Agent search: phone",
            f"/contacts/?q={sample.phone_number}",
            f"{peer}?q={sample.phone_number}",
        ),
        ("Agent filter: country", "/contacts/?country=Japan", f"{peer}?country=Japan"),
        (
            "Agent filter: push state",
            "/contacts/?push_state=failed",
            f"{peer}?push_state__exact=failed",
        ),
        ("Admin list", ours, peer),
        ("Admin search: name prefix", f"{ours}?q=Somchai+Sri", f"{peer}?q=Somchai+Sri"),
        ("Admin search: email", f"{ours}?q={sample.email}", f"{peer}?q={sample.email}"),
        ("Admin filter: country", f"{ours}?country=Japan", f"{peer}?country=Japan"),
        (
            "Admin filter: push state",
            f"{ours}?push_state__exact=failed",
            f"{peer}?push_state__exact=failed",
        ),
        ("Admin deep page", f"{ours}?p={deep}", f"{peer}?p={deep}"),
    ]


def deep_row_of(size: int) -> int:
    return min(DEEP_ROW, size - 100)


def peer_admin_install() -> None:
    """A default ModelAdmin of Contact on a second AdminSite, at /peer-admin/."""
    from django.conf import settings
    from django.contrib import admin
    from django.urls import clear_url_caches, include, path

    from contacts.models import Contact

    class PeerContactAdmin(admin.ModelAdmin):
        list_display = (
            "name",
            "email",
            "phone_number",
            "identifier",
            "company_name",
            "country",
            "blocked",
            "push_state",
            "synced_at",
        )
        list_filter = ("blocked", "availability_status", "country", "push_state")
        # Django's default search: icontains on each field.
        search_fields = ("name", "email", "phone_number", "identifier", "company_name")
        list_per_page = 50  # our page's rows, not the default 100

    site = admin.AdminSite(name="peer_admin")
    site.register(Contact, PeerContactAdmin)
    urls = types.ModuleType("bench_peer_urls")
    urls.urlpatterns = [
        path("peer-admin/", site.urls),
        path("", include(settings.ROOT_URLCONF)),
    ]
    sys.modules["bench_peer_urls"] = urls
    settings.ROOT_URLCONF = "bench_peer_urls"
    clear_url_caches()


def fetch_ms(client, url: str) -> float:
    began = time.perf_counter()
    response = client.get(url)
    elapsed = (time.perf_counter() - began) * 1000
    if response.status_code != 200:
        sys.exit(f"{url} answered {response.status_code}")
    return elapsed


def queries_of(client, url: str) -> int:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as queries:
        client.get(url)
    return len(queries)


def measure(size: int, runs: int) -> dict[str, tuple[float, float, int]]:
    """Each page's median ms, ours and the peer's, fetched alternately; and our queries."""
    from django.contrib.auth import get_user_model
    from django.test import Client

    from contacts import selectors
    from contacts.models import Contact
    from contacts.pagination import cursor_of

    user, _created = get_user_model().objects.get_or_create(
        username="bench-admin", defaults={"is_staff": True, "is_superuser": True}
    )
    client = Client()
    client.force_login(user)
    sort = selectors.contact_list_sort("name")
    ordered = selectors.contact_list()
    sample = Contact.objects.exclude(email="").exclude(phone_number="").order_by("remote_id")[777]
    cursors = {
        "next": cursor_of(Contact, sort, ordered[49]),
        "deep": cursor_of(Contact, sort, ordered[deep_row_of(size) - 1]),
    }
    found = {}
    deep = max(2, min(500, size // 50))
    print(f"\n{size:,} contacts (deep pages: after row {deep_row_of(size):,}; admin page {deep})")
    print(f"{'page':<38} {'ours ms':>8} {'peer ms':>8} {'peer/ours':>9} {'queries':>8}")
    for label, ours, peer in pages(size, sample):
        ours = ours.format(**cursors)
        fetch_ms(client, ours), fetch_ms(client, peer)
        timings: tuple[list[float], list[float]] = ([], [])
        for _run in range(runs):
            timings[0].append(fetch_ms(client, ours))
            timings[1].append(fetch_ms(client, peer))
        ours_ms, peer_ms = statistics.median(timings[0]), statistics.median(timings[1])
        queries = queries_of(client, ours)
        found[label] = (ours_ms, peer_ms, queries)
        print(
            f"{label:<38} {ours_ms:>8.1f} {peer_ms:>8.1f} {peer_ms / ours_ms:>8.1f}x {queries:>8}",
            flush=True,
        )
    found |= search_measure(client, sample, runs)
    found |= filter_measure(client, runs)
    return found


def medians(client, fetches: list[tuple[str, bool]], runs: int) -> list[float]:
    """The median ms of each (url, prefix) page, fetched once to warm up, then alternately
    --runs times (SLOW_RUNS for one slower than SLOW_MS); with `prefix`, under prefix_search()."""

    def fetch(url: str, prefix: bool) -> float:
        with prefix_search() if prefix else contextlib.nullcontext():
            return fetch_ms(client, url)

    warm = [fetch(url, prefix) for url, prefix in fetches]
    timings: list[list[float]] = [[] for _fetch in fetches]
    for run in range(runs):
        for index, (url, prefix) in enumerate(fetches):
            if run < SLOW_RUNS or warm[index] < SLOW_MS:
                timings[index].append(fetch(url, prefix))
    return [statistics.median(timing) for timing in timings]


def search_measure(client, sample, runs: int) -> dict[str, tuple[float, float, int]]:
    """The search's pages, ours beside today's prefix search and the peer's icontains."""
    from functools import reduce
    from operator import or_

    from contacts import selectors
    from contacts.models import Contact

    digits = sample.phone_number[-7:]
    terms = (
        ("Thai surname", THAI_TERM),
        ("English surname fragment", ENGLISH_TERM),
        ("phone: last 4 digits", digits[-4:]),
        ("phone: last 7 with a dash", f"{digits[:3]}-{digits[3:]}"),
    )
    icontains_fields = ("name", "email", "phone_number", "identifier", "company_name")
    print(
        f"\n{'search (q)':<40} {'rows: ours':>10} {'prefix':>7} {'default':>7}"
        f" {'agent':>7} {'prefix':>7} {'admin':>7} {'prefix':>7} {'default':>8}"
        f" {'default/ours':>12} {'ours/prefix':>11} {'queries':>7}"
    )
    print(
        f"{'':<40} {'':>10} {'':>7} {'':>7} {'ms':>7} {'ms':>7} {'ms':>7} {'ms':>7} {'ms':>8}"
        f" {'agent admin':>12} {'agent admin':>11} {'ag ad':>7}"
    )
    found = {}
    for label, term in terms:
        query = urlencode({"q": term})
        agent, admin = f"/contacts/?{query}", f"/admin/contacts/contact/?{query}"
        peer = f"/peer-admin/contacts/contact/?{query}"
        ours_rows = Contact.objects.filter(selectors.contact_search(term)).count()
        prefix_rows = Contact.objects.filter(prefix_only_search(term)).count()
        default_rows = Contact.objects.filter(
            reduce(or_, (Q(**{f"{field}__icontains": term}) for field in icontains_fields))
        ).count()
        agent_ms, agent_prefix_ms, admin_ms, admin_prefix_ms, peer_ms = medians(
            client,
            [(agent, False), (agent, True), (admin, False), (admin, True), (peer, False)],
            runs,
        )
        agent_queries, admin_queries = queries_of(client, agent), queries_of(client, admin)
        print(
            f"{label + ' ' + term:<40} {ours_rows:>10,} {prefix_rows:>7,} {default_rows:>7,}"
            f" {agent_ms:>7.1f} {agent_prefix_ms:>7.1f} {admin_ms:>7.1f} {admin_prefix_ms:>7.1f}"
            f" {peer_ms:>8.1f} {peer_ms / agent_ms:>5.0f}x {peer_ms / admin_ms:>5.0f}x"
            f" {agent_ms / agent_prefix_ms:>4.2f}x {admin_ms / admin_prefix_ms:>4.2f}x"
            f" {agent_queries:>3} {admin_queries:>3}",
            flush=True,
        )
        found[f"Agent search: {label}"] = (agent_ms, peer_ms, agent_queries)
        found[f"Admin search: {label}"] = (admin_ms, peer_ms, admin_queries)
    return found


def filter_measure(client, runs: int) -> dict[str, tuple[float, float, int]]:
    """A custom-attribute filter beside a country filter matching about as many contacts."""
    from contacts import selectors

    print(
        f"\n{'filter':<40} {'rows':>8} {'agent ms':>9} {'queries':>7}"
        f" {'admin ms':>9} {'queries':>7} {'attribute/country':>17}"
    )
    print(f"{'':<40} {'':>8} {'':>9} {'':>7} {'':>9} {'':>7} {'agent  admin':>17}")
    found = {}
    for (key, op, value), country in ATTRIBUTE_FILTERS:
        attribute = selectors.AttributeCondition(key=key, op=op, value=value)
        attribute_rows = selectors.contact_list(attributes=[attribute]).count()
        country_rows = selectors.contact_list(country=country).count()
        rows = {"attribute": attribute_rows, "country": country_rows}
        queries = {
            "attribute": urlencode({"attr": key, "op": op, "value": value}),
            "country": urlencode({"country": country}),
        }
        labels = {"attribute": f"{key} {op} {value}", "country": f"country = {country}"}
        timings: dict[str, list[float]] = {}
        counted: dict[str, list[int]] = {}
        for base in ("/contacts/", "/admin/contacts/contact/"):
            urls = {kind: f"{base}?{query}" for kind, query in queries.items()}
            ms = medians(client, [(url, False) for url in urls.values()], runs)
            for (kind, url), median in zip(urls.items(), ms, strict=True):
                timings.setdefault(kind, []).append(median)
                counted.setdefault(kind, []).append(queries_of(client, url))
        for kind in ("attribute", "country"):
            (agent_ms, admin_ms), (agent_queries, admin_queries) = timings[kind], counted[kind]
            ratio = ""
            if kind == "attribute":
                agent_ratio = agent_ms / timings["country"][0]
                admin_ratio = admin_ms / timings["country"][1]
                ratio = f"{agent_ratio:>5.2f}x {admin_ratio:>5.2f}x"
            print(
                f"{'filter: ' + labels[kind]:<40} {rows[kind]:>8,} {agent_ms:>9.1f}"
                f" {agent_queries:>7} {admin_ms:>9.1f} {admin_queries:>7} {ratio:>17}",
                flush=True,
            )
            found[f"Agent filter: {labels[kind]}"] = (agent_ms, 0.0, agent_queries)
            found[f"Admin filter: {labels[kind]}"] = (admin_ms, 0.0, admin_queries)
    return found


def engine_run(database_url: str, sizes: list[int], runs: int) -> None:
    """In a child process: grow the database size by size, and time the pages at each."""
    os.environ["DATABASE_URL"] = database_url
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "livedesk_admin.settings")
    import django

    django.setup()
    from bench_admin_data import data_grow
    from django.conf import settings
    from django.core.management import call_command
    from django.db import connection

    from contacts.models import Contact

    settings.ALLOWED_HOSTS = [*settings.ALLOWED_HOSTS, "testserver"]
    settings.DEBUG = False
    peer_admin_install()
    call_command("migrate", verbosity=0)
    with connection.cursor() as cursor:
        version = connection.Database.sqlite_version if connection.vendor == "sqlite" else ""
        if connection.vendor == "postgresql":
            cursor.execute("SHOW server_version")
            version = cursor.fetchone()[0]
    print(f"\n=== {connection.vendor} {version} ===", flush=True)
    rng = random.Random(20240601)
    results = {}
    for size in sizes:
        if Contact.objects.count() > size:
            print(f"\n{size:,} contacts: skipped, the database holds more.")
            continue
        data_grow(size, EDITS_PER_CONTACT, rng)
        results[size] = measure(size, runs)
    if len(results) > 1:
        large = max(results)
        small = FLAT_FROM if FLAT_FROM in results and large > FLAT_FROM else min(results)
        print(
            f"\n{connection.vendor}: ours at {large:,} against ours at {small:,}"
            " (goals: ≤ 1.2x; search and filters ≤ 1.3x)"
        )
        print(f"{'page':<38} {'ms @small':>9} {'ms @large':>9} {'large/small':>11}")
        for label, (ms_small, _peer, _queries) in results[small].items():
            ms_large = results[large][label][0]
            print(f"{label:<38} {ms_small:>9.1f} {ms_large:>9.1f} {ms_large / ms_small:>10.2f}x")
    connection.close()


def postgres_answers(url: str) -> bool:
    parts = urlsplit(url)
    try:
        with socket.create_connection((parts.hostname, parts.port or 5432), timeout=2):
            return True
    except OSError:
        return False


def child(database_url: str, args: argparse.Namespace) -> None:
    command = [sys.executable, __file__, "--child", database_url]
    command += ["--sizes", args.sizes, "--runs", str(args.runs)]
    finished = subprocess.run(command, cwd=BASE_DIR, check=False)
    if finished.returncode:
        print(f"The run on {database_url.split(':')[0]} failed ({finished.returncode}).")


def main() -> None:
    args = arguments()
    sizes = sorted(int(size) for size in args.sizes.split(","))
    if args.child:
        engine_run(args.child, sizes, args.runs)
        return
    from benchkit import machine, throwaway_database

    print(f"bench-admin, {datetime.now(UTC):%Y-%m-%d %H:%M} UTC, {machine()}")
    print(f"{args.runs} runs a page, medians in ms")

    engines = args.engines.split(",")
    if "sqlite" in engines:
        if args.sqlite:
            child(f"sqlite:///{Path(args.sqlite).resolve()}", args)
        else:
            with tempfile.TemporaryDirectory(prefix="bench_admin_") as directory:
                child(f"sqlite:///{Path(directory) / 'bench.sqlite3'}", args)
    if "postgresql" in engines:
        if not postgres_answers(args.postgres):
            print(f"\nPostgreSQL does not answer at {args.postgres}: skipped.")
            return
        with throwaway_database(Path(tempfile.gettempdir()), args.postgres, keep=args.keep) as url:
            child(url, args)


if __name__ == "__main__":
    main()
