"""Time the contact list pages at 10k, 100k and 1M contacts, ours beside a default ModelAdmin.

    .venv/bin/python scripts/bench_admin.py                    # SQLite, and PostgreSQL if up
    .venv/bin/python scripts/bench_admin.py --sizes 10000,100000 --runs 7
    .venv/bin/python scripts/bench_admin.py --sqlite /tmp/b.sqlite3 --keep   # reusable file

Each engine runs in a child process on a fresh database (a temporary SQLite file; a new
PostgreSQL database on 127.0.0.1:5432, or the server of --postgres, when it answers), grown
from one size to the next. The peer is a default `ModelAdmin` on a second AdminSite, with the
list_display, search_fields and list_filter a plain admin would declare. Every page is fetched
once to warm up, then ours and the peer's alternately, --runs times each: the medians, the
ratio peer/ours, our queries (≤ 6 is the goal), and at the end ours@largest / ours@smallest.
"""

from __future__ import annotations

import argparse
import os
import random
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import types
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlsplit

BASE_DIR = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(BASE_DIR))
sys.path.insert(0, str(BASE_DIR / "scripts"))

DEFAULT_SIZES = "10000,100000,1000000"
DEFAULT_POSTGRES = "postgres://postgres@127.0.0.1:5432/postgres"
# History rows per contact: 1M edits beside 1M contacts took too long to fill on each run.
EDITS_PER_CONTACT = 0.1
DEEP_ROW = 25_000


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
        ("Agent search: name prefix", "/contacts/?q=Somchai+Sae", f"{peer}?q=Somchai+Sae"),
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
        ("Admin search: name prefix", f"{ours}?q=Somchai+Sae", f"{peer}?q=Somchai+Sae"),
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
        search_fields = ("^name", "=email", "=phone_number", "=identifier", "^company_name")
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
    sample = Contact.objects.order_by("remote_id")[777]
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
        small, large = min(results), max(results)
        print(f"\n{connection.vendor}: ours at {large:,} against ours at {small:,} (goal ≤ 1.2x)")
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
