"""What recording a batch costs beside a bare bulk insert of the same edits, on SQLite and
PostgreSQL, and its memory at 1,000 and 10,000 contacts.

    .venv/bin/python scripts/bench_batch.py [--contacts 10000] [--rounds 3]
        [--database-url postgres://...] [--sqlite-only] [--profile]

One run measures SQLite, then PostgreSQL when the server of `--database-url` (default
BENCH_DATABASE_URL, else postgres://postgres@127.0.0.1:5432/postgres) answers: each engine in a
process of its own with a fresh database (a SQLite file, or a PostgreSQL database created and
dropped). The mirror holds `--contacts` contacts shaped as sync stores them; no LiveDesk call is
made (recording sends nothing). Each round, in an order that rotates:
- confirm: `batch_confirm` of a bulk edit of every contact (the city set to a new value): the
  selection streamed in chunks and locked, each contact's values read and compared, one
  ContactEdit per contact, the contacts' pending counts, an audit event per edit and one for the
  batch, in one transaction;
- bare insert, the peer: the same ContactEdit rows (read back from that batch, built before the
  clock starts) written by `bulk_create` in one transaction, nothing else;
- writes only, for the reader: the writes a confirm cannot do without, in one transaction:
  the same rows' `bulk_create`, the contacts' pending counts, an audit event per edit (no
  selection read, no values compared).
After each round its edits are marked delivered in SQL, so every round starts from contacts
without edits on their way. Prints the medians and the ratio (the goal: at most 2x), the
draft's count beside them, then the peak memory (tracemalloc) of a confirm of 1,000 and of
10,000 contacts: flat means the same.
"""

from __future__ import annotations

import argparse
import datetime
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path
from urllib.parse import urlsplit

sys.path.insert(0, str(Path(__file__).resolve().parent))
import benchkit  # noqa: E402

DEFAULT_POSTGRES = "postgres://postgres@127.0.0.1:5432/postgres"
GOAL = 2.0
SMALL = 1_000
CITY = "additional_attributes.city"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--contacts", type=int, default=10_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument(
        "--database-url", default=os.environ.get("BENCH_DATABASE_URL") or DEFAULT_POSTGRES
    )
    parser.add_argument("--sqlite-only", action="store_true")
    parser.add_argument("--profile", action="store_true")
    parser.add_argument("--engine", choices=["sqlite", "postgresql"], help=argparse.SUPPRESS)
    options = parser.parse_args()
    if options.engine:
        return engine_run(options)
    print(f"Batch benchmark, {datetime.datetime.now().astimezone():%Y-%m-%d %H:%M %Z}")
    print(f"Machine: {benchkit.machine()}")
    engines = ["sqlite"]
    if options.sqlite_only:
        pass
    elif answers(options.database_url):
        engines.append("postgresql")
    else:
        print(f"PostgreSQL does not answer at {options.database_url}: SQLite only.")
    for engine in engines:
        command = [sys.executable, __file__, "--engine", engine]
        command += ["--contacts", str(options.contacts), "--rounds", str(options.rounds)]
        command += ["--database-url", options.database_url]
        command += ["--profile"] if options.profile else []
        sys.stdout.flush()
        if subprocess.run(command, check=False).returncode != 0:
            return 1
    return 0


def answers(url: str) -> bool:
    parts = urlsplit(url)
    with socket.socket() as probe:
        probe.settimeout(1)
        return probe.connect_ex((parts.hostname or "127.0.0.1", parts.port or 5432)) == 0


def engine_run(options: argparse.Namespace) -> int:
    postgres = options.database_url if options.engine == "postgresql" else None
    directory = Path(tempfile.mkdtemp(prefix="bench-batch-"))
    try:
        with benchkit.throwaway_database(directory, postgres) as database_url:
            environment = benchkit.app_environment(directory, database_url)
            os.environ.update(environment)
            benchkit.manage("migrate", "--no-input", environment=environment)
            bench = Bench(contacts=options.contacts, profile=options.profile)
            timings = bench.measure(options.rounds)
            memory = bench.peak_memory()
            report(
                timings,
                memory=memory,
                engine="PostgreSQL" if postgres else "SQLite",
                contacts=options.contacts,
                statements=bench.statements,
            )
            if bench.profile is not None:
                bench.profile_print()
    finally:
        shutil.rmtree(directory, ignore_errors=True)
    return 0


class Bench:
    """The app in this process, its mirror filled with `contacts` contacts."""

    def __init__(self, *, contacts: int, profile: bool):
        import django

        sys.path.insert(0, str(benchkit.PROJECT_ROOT))
        os.environ.setdefault("DJANGO_SETTINGS_MODULE", "livedesk_admin.settings")
        django.setup()
        import cProfile

        from django.contrib.auth import get_user_model

        from contacts import services
        from contacts.models import Contact, ContactEdit, EditBatch

        self.services, self.Contact, self.ContactEdit = services, Contact, ContactEdit
        self.EditBatch = EditBatch
        self.lead = get_user_model().objects.create_user(username="bench-lead")
        self.count = contacts
        self.statements = 0
        mirror_fill(Contact, contacts)
        self.profile = cProfile.Profile() if profile else None

    def bulk_edit(self, city: str, filters: dict):
        operation = self.services.BulkOperation(key=CITY, action="set", value=city)
        return self.services.batch_draft_bulk_edit(
            by=self.lead,
            operations=[operation],
            contacts=self.selected(filters),
            selection={"all_matching": True, "filters": filters},
        )

    def selected(self, filters: dict):
        from contacts import selectors

        return selectors.contact_list(**filters)

    def measure(self, rounds: int) -> dict[str, list[float]]:
        timings: dict[str, list[float]] = {
            "draft": [],
            "confirm": [],
            "bare insert": [],
            "writes only": [],
        }
        for n in range(-1, rounds):  # one round to warm up, not counted
            started = time.perf_counter()
            batch = self.bulk_edit(f"City {n}", {})
            drafted = time.perf_counter()
            if n % 2:
                confirm = self.confirm_timed(batch)
                bare = self.bulk_create_timed(self.rows_of(batch))
                writes = self.writes_timed(self.rows_of(batch))
            else:
                # The peers first: the same rows, built from a batch recorded (not timed) before.
                rows = self.rows_of(self.confirm_untimed(self.bulk_edit(f"Town {n}", {})))
                writes = self.writes_timed(self.rows_of_copy(rows))
                bare = self.bulk_create_timed(rows)
                confirm = self.confirm_timed(batch)
            if n >= 0:
                timings["draft"].append(drafted - started)
                timings["confirm"].append(confirm)
                timings["bare insert"].append(bare)
                timings["writes only"].append(writes)
        return timings

    def confirm_timed(self, batch) -> float:
        if self.profile is not None:
            self.profile.enable()
        started = time.perf_counter()
        confirmed = self.services.batch_confirm(batch=batch, by=self.lead)
        seconds = time.perf_counter() - started
        if self.profile is not None:
            self.profile.disable()
        if confirmed.changed_count != self.count:
            raise SystemExit(f"The batch changed {confirmed.changed_count} of {self.count}.")
        self.delivered(confirmed)
        return seconds

    def confirm_untimed(self, batch):
        from django.db import connection
        from django.test.utils import CaptureQueriesContext

        with CaptureQueriesContext(connection) as captured:
            confirmed = self.services.batch_confirm(batch=batch, by=self.lead)
        self.statements = len(captured.captured_queries)
        self.delivered(confirmed)
        return confirmed

    def rows_of_copy(self, rows: list) -> list:
        names = [field.attname for field in self.ContactEdit._meta.concrete_fields]
        copies = []
        for row in rows:
            values = {name: getattr(row, name) for name in names if name != "id"}
            copies.append(self.ContactEdit(**values))
        return copies

    def rows_of(self, batch) -> list:
        """New ContactEdit rows with every column of the batch's edits but the id."""
        names = [
            field.attname
            for field in self.ContactEdit._meta.concrete_fields
            if not field.primary_key
        ]
        return [
            self.ContactEdit(**dict(zip(names, values, strict=True)))
            for values in batch.edits.order_by("pk").values_list(*names)
        ]

    def bulk_create_timed(self, rows: list) -> float:
        from django.db import transaction

        started = time.perf_counter()
        with transaction.atomic():
            self.ContactEdit.objects.bulk_create(rows)
        seconds = time.perf_counter() - started
        self.delivered_rows([row.pk for row in rows])
        return seconds

    def writes_timed(self, rows: list) -> float:
        from django.db import transaction

        from contacts.services import audit
        from contacts.services.batches import _pending_counted

        contacts = {
            contact.pk: contact
            for contact in self.Contact.objects.only("remote_id").filter(
                pk__in={row.contact_id for row in rows}
            )
        }
        for row in rows:
            row.contact = contacts[row.contact_id]
        started = time.perf_counter()
        with transaction.atomic():
            self.ContactEdit.objects.bulk_create(rows)
            for start in range(0, len(rows), 500):
                chunk = rows[start : start + 500]
                _pending_counted([row.contact_id for row in chunk])
                audit.events_append(event for row in chunk for event in audit.edit_recorded(row))
        seconds = time.perf_counter() - started
        self.delivered_rows([row.pk for row in rows])
        self.Contact.objects.update(
            pending_edits=0, failed_edits=0, push_state=self.Contact.PushState.IN_SYNC
        )
        return seconds

    def delivered(self, batch) -> None:
        """Its edits marked delivered, the contacts' counts back to none on their way (SQL: the
        push's own bookkeeping is not what this measures)."""
        self.delivered_rows(list(batch.edits.values_list("pk", flat=True)))
        self.Contact.objects.update(
            pending_edits=0, failed_edits=0, push_state=self.Contact.PushState.IN_SYNC
        )

    def delivered_rows(self, edit_ids: list[int]) -> None:
        rows = self.ContactEdit._base_manager.filter(pk__in=edit_ids)
        rows.update(state=self.ContactEdit.State.SUCCEEDED, next_attempt_at=None)

    def peak_memory(self) -> dict[int, int]:
        """The peak of Python's allocations while confirming a batch of 1,000 contacts, then of
        all of them (tracemalloc; not timed)."""
        peaks = {}
        for size, filters in ((SMALL, {"country": "Laos"}), (self.count, {})):
            batch = self.bulk_edit(f"Peak {size}", filters)
            tracemalloc.start()
            confirmed = self.services.batch_confirm(batch=batch, by=self.lead)
            peaks[size] = tracemalloc.get_traced_memory()[1]
            tracemalloc.stop()
            if confirmed.changed_count != size:
                raise SystemExit(f"The batch of {size} changed {confirmed.changed_count}.")
            self.delivered(confirmed)
        return peaks

    def profile_print(self) -> None:
        import pstats

        stats = pstats.Stats(self.profile, stream=sys.stdout)
        print("\nWhere the confirms' time goes (cProfile, cumulative):")
        stats.sort_stats("cumulative").print_stats(r"contacts/", 25)
        print("\nBy own time:")
        stats.sort_stats("tottime").print_stats(18)


def mirror_fill(Contact, count: int) -> None:
    """`count` contacts shaped as sync stores them: the first SMALL in Laos, the rest Thailand."""
    from django.utils import timezone

    now = timezone.now()
    rows = []
    for n in range(count):
        country, code = ("Laos", "LA") if n < SMALL else ("Thailand", "TH")
        additional = {
            "description": "Prefers LINE",
            "company_name": f"Company {n % 97}",
            "city": "Bangkok",
            "country": country,
            "country_code": code,
            "social_profiles": {"facebook": f"fb.{n}", "github": "", "twitter": ""},
        }
        rows.append(
            Contact(
                remote_id=100_000 + n,
                name=f"Contact {n:05d}",
                email=f"contact{n}@example.com",
                phone_number=f"+6681{n:07d}",
                company_name=additional["company_name"],
                city="Bangkok",
                country=country,
                country_code=code,
                additional_attributes=additional,
                custom_attributes={"plan": "gold", "seats": n % 10},
                contact_inboxes=[{"source_id": f"s{n}", "inbox": {"id": 1, "name": "Web"}}],
                synced_at=now,
            )
        )
    Contact.objects.bulk_create(rows, batch_size=1000)


def report(
    timings: dict[str, list[float]],
    *,
    memory: dict[int, int],
    engine: str,
    contacts: int,
    statements: int,
) -> None:
    rounds = len(timings["confirm"])
    print(f"\n{engine}, {contacts:,} contacts, {rounds} rounds:")
    print(f"{'':<14} {'median s':>9} {'min s':>7} {'max s':>7}")
    for label, seconds in timings.items():
        print(
            f"{label:<14} {statistics.median(seconds):>9.3f} {min(seconds):>7.3f} "
            f"{max(seconds):>7.3f}"
        )
    bare = statistics.median(timings["bare insert"])
    ratio = statistics.median(timings["confirm"]) / bare
    verdict = "meets" if ratio <= GOAL else "misses"
    print(f"confirm / bare insert: {ratio:.2f}x, {verdict} the goal of {GOAL:g}x")
    floor = statistics.median(timings["writes only"]) / bare
    print(f"writes only / bare insert: {floor:.2f}x (edits, pending counts, audit events)")
    print(f"confirm of {contacts:,}: {statements} SQL statements")
    small, large = memory[SMALL], memory[contacts]
    print(
        f"peak memory of a confirm: {small / 2**20:.1f} MiB at {SMALL:,} contacts, "
        f"{large / 2**20:.1f} MiB at {contacts:,} ({large / small:.2f}x)"
    )


if __name__ == "__main__":
    sys.exit(main())
