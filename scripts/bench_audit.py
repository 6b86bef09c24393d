"""What the audit log costs: verifying a million events beside a bare script, recording events
beside today's push, and the history pages before and after a million events.

    .venv/bin/python scripts/bench_audit.py [--events 1000000] [--database-url postgres://...]
        [--sqlite-only] [--rounds 200] [--runs 30] [--verify-runs 3]

One run measures SQLite, then PostgreSQL when the server of `--database-url` (default
BENCH_DATABASE_URL, else postgres://postgres@127.0.0.1:5432/postgres) answers: each engine in a
process of its own, on a fresh database (a SQLite file, or a PostgreSQL database created and
dropped), with its own sandbox on loopback. In that database, in this order:
1. the history the pages show: 100k contacts and events/2 finished edits (filled, not timed);
2. recording, with the event table empty: an agent's edit pushed (`edit_push` of an edit
   recorded just before, and `contact_edit_submit` as a Save runs it) with the audit log,
   beside the same calls with `contacts.services.audit.events_append` made a no-op (today's
   push), in interleaved rounds; medians and the ratio (goal <= 1.2x);
3. the history pages (agent history, agent contact page, admin edit history and one edit's
   page, the admin audit log when registered, and the agent list as a control that reads no
   events): medians of --runs fetches each, in turn, with Django's test client;
4. events/10 events chained after the head (the app's own edit.recorded and edit.delivered
   data, copied), then verify: the app's verify and a bare DB-API script, each in a process of
   its own (scripts/bench_audit_verify.py), interleaved: seconds, peak RSS, the ratio (goal
   <= 2x);
5. the chain filled to --events, verify again (memory flat: events vs events/10);
6. the history pages again, and their ratio to step 3 (goal <= 1.2x), also divided by the
   control's (how much the machine alone drifted between the two);
7. recording again, with --events events in the table.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import benchkit  # noqa: E402
from bench_push import DEFAULT_POSTGRES, Bench, answers  # noqa: E402

VERIFY_SCRIPT = str(Path(__file__).resolve().parent / "bench_audit_verify.py")
CONTACTS = 100_000
RECORD_GOAL, VERIFY_GOAL, PAGES_GOAL = 1.2, 2.0, 1.2
AUDITED, TODAY = "audit log", "no-op append"
CONTROL = "Agent list (no events: control)"
TRANSACTION_CONTROL = ("BEGIN", "COMMIT", "ROLLBACK", "SAVEPOINT", "RELEASE SAVEPOINT")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--rounds", type=int, default=200, help="recording rounds")
    parser.add_argument("--runs", type=int, default=30, help="fetches of each page")
    parser.add_argument("--verify-runs", type=int, default=3)
    parser.add_argument(
        "--database-url", default=os.environ.get("BENCH_DATABASE_URL") or DEFAULT_POSTGRES
    )
    parser.add_argument("--sqlite-only", action="store_true")
    parser.add_argument("--engine", choices=["sqlite", "postgresql"], help=argparse.SUPPRESS)
    options = parser.parse_args()
    if options.engine:
        return engine_run(options)
    print(f"Audit log benchmark, {datetime.datetime.now().astimezone():%Y-%m-%d %H:%M %Z}")
    print(f"Machine: {benchkit.machine()}")
    engines = ["sqlite"]
    if options.sqlite_only:
        pass
    elif answers(options.database_url):
        engines.append("postgresql")
    else:
        print(f"PostgreSQL does not answer at {options.database_url}: SQLite only.")
    for engine in engines:
        command = [sys.executable, __file__, "--engine", engine, "--events", str(options.events)]
        command += ["--rounds", str(options.rounds), "--runs", str(options.runs)]
        command += ["--verify-runs", str(options.verify_runs)]
        command += ["--database-url", options.database_url]
        sys.stdout.flush()
        if subprocess.run(command, check=False).returncode != 0:
            return 1
    return 0


def p90(figures: list[float]) -> float:
    return sorted(figures)[int(len(figures) * 0.9)]


def load() -> str:
    return "load average " + ", ".join(f"{figure:.2f}" for figure in os.getloadavg())


def engine_run(options: argparse.Namespace) -> int:
    postgres = options.database_url if options.engine == "postgresql" else None
    directory = Path(tempfile.mkdtemp(prefix="bench-audit-"))
    try:
        with benchkit.throwaway_database(directory, postgres) as database_url:
            # The contact page refreshes a stale contact from LiveDesk first: never here.
            environment = benchkit.app_environment(
                directory, database_url, LIVEDESK_FRESH_SECONDS=str(10**9)
            )
            with benchkit.stopped([]) as processes:
                sandbox, sandbox_url = benchkit.sandbox_start(
                    directory, count=40, environment=environment
                )
                processes.append(sandbox)
                environment["LIVEDESK_BASE_URL"] = sandbox_url
                os.environ.update(environment)
                benchkit.manage("migrate", "--no-input", environment=environment)
                benchkit.manage("sync_contacts", "--no-progress", environment=environment)
                benchkit.manage("collectstatic", "--no-input", environment=environment)
                EngineBench(options, database_url).run()
    finally:
        shutil.rmtree(directory, ignore_errors=True)
    return 0


class EngineBench:
    """One engine's run, the app in this process against the sandbox of the environment."""

    def __init__(self, options: argparse.Namespace, database_url: str):
        self.options, self.database_url = options, database_url
        self.push = Bench(profile=False)  # sets Django up
        from django.conf import settings
        from django.db import connection

        from contacts.services import audit

        settings.ALLOWED_HOSTS = [*settings.ALLOWED_HOSTS, "testserver"]
        self.audit, self.append = audit, audit.events_append
        self.names = 0
        self.engine = "PostgreSQL" if connection.vendor == "postgresql" else "SQLite"

    def run(self) -> None:
        import bench_admin_data
        import bench_audit_data

        events = self.options.events
        print(f"\n=== {self.engine} ({load()}) ===", flush=True)
        began = time.perf_counter()
        rng = random.Random(20261124)
        bench_admin_data.contacts_add(0, CONTACTS, rng)
        edits = bench_audit_data.edits_fill(events // 2, rng)
        bench_audit_data.tables_analyze()
        print(
            f"Filled {CONTACTS:,} contacts and {len(edits):,} finished edits in "
            f"{time.perf_counter() - began:.0f} s (not timed).",
            flush=True,
        )
        recorded_empty = self.recording_measure("the event table empty")
        template_edit = self.template_push()
        chain = bench_audit_data.ChainFill(edits, bench_audit_data.templates_of(template_edit))
        self.sizes_print(chain)
        pages = self.pages()
        before = self.pages_measure(pages, f"with {self.event_count():,} events")
        verified = {}
        for size in (events // 10, events):
            seconds = chain.fill_to(size)
            print(f"\nChained events up to {size:,} in {seconds:.0f} s (not timed).", flush=True)
            verified[size] = self.verify_measure(size)
        after = self.pages_measure(pages, f"with {self.event_count():,} events")
        recorded_full = self.recording_measure(f"{self.event_count():,} events in the table")
        self.summary(recorded_empty, recorded_full, before, after, verified)

    def event_count(self) -> int:
        from contacts.models import AuditEvent

        return AuditEvent.objects.count()

    # Recording ------------------------------------------------------------------------------

    def round_number(self) -> int:
        """A new number for each edit: its new name is unique."""
        self.names += 1
        return self.names

    def recording_measure(self, state: str) -> dict[str, float]:
        """Interleaved rounds of a push and a saved edit, with the audit log and without."""
        timings: dict[str, list[float]] = defaultdict(list)
        appends: list[float] = []

        def timed_append(events):
            began = time.perf_counter()
            try:
                return self.append(events)
            finally:
                appends.append(time.perf_counter() - began)

        modes = {AUDITED: timed_append, TODAY: lambda events: []}
        for n in range(-10, self.options.rounds):  # ten rounds to warm up, not counted
            for mode in (AUDITED, TODAY) if n % 2 else (TODAY, AUDITED):
                self.audit.events_append = modes[mode]
                try:
                    measured = {
                        **self.push.push_round(self.round_number()),
                        **self.push.saved_round(self.round_number()),
                    }
                finally:
                    self.audit.events_append = self.append
                if n < 0:
                    continue
                for label, seconds in measured.items():
                    timings[f"{label}, {mode}"].append(seconds)
            if n < 0:
                appends.clear()
        statements = {mode: self.statements_of_saved_edit(modes[mode]) for mode in modes}
        return self.recording_report(state, timings, appends, statements)

    def statements_of_saved_edit(self, append) -> list[str]:
        from django.db import connection
        from django.test.utils import CaptureQueriesContext

        self.audit.events_append = append
        try:
            with CaptureQueriesContext(connection) as captured:
                self.push.saved_round(self.round_number())
        finally:
            self.audit.events_append = self.append
        return [
            query["sql"]
            for query in captured.captured_queries
            if not query["sql"].upper().startswith(TRANSACTION_CONTROL)
        ]

    def recording_report(self, state, timings, appends, statements) -> dict[str, float]:
        rounds = self.options.rounds
        print(f"\nRecording, {self.engine}, {state}: {rounds} interleaved rounds ({load()})")
        print(f"{'':<14} {'audit log ms':>13} {'no-op ms':>9} {'ratio':>6}  (medians; p90s)")
        ratios = {}
        for label in ("record", "push", "saved edit"):
            ours, today = (
                sorted(timings[f"{label}, {AUDITED}"]),
                sorted(timings[f"{label}, {TODAY}"]),
            )
            ratio = statistics.median(ours) / statistics.median(today)
            ratios[label] = ratio
            print(
                f"{label:<14} {statistics.median(ours) * 1000:>13.2f} "
                f"{statistics.median(today) * 1000:>9.2f} {ratio:>5.2f}x  "
                f"({p90(ours) * 1000:.2f}; {p90(today) * 1000:.2f})"
            )
        print(
            f"events_append: {len(appends)} calls, median "
            f"{statistics.median(appends) * 1000:.2f} ms, p90 {p90(appends) * 1000:.2f} ms"
        )
        for mode, sql in statements.items():
            print(f"saved edit, {mode}: {len(sql)} SQL statements")
        audit_sql = [s for s in statements[AUDITED] if "auditevent" in s or "advisory" in s]
        for sql in audit_sql:
            print(f"  + {sql[:110]}")
        for label in ("push", "saved edit"):
            verdict = "meets" if ratios[label] <= RECORD_GOAL else "misses"
            print(f"{label} with the audit log / today's: {ratios[label]:.2f}x, {verdict} the goal")
        return ratios

    def template_push(self) -> int:
        """Push one edit whose new name the fill replaces, and answer its id."""
        from bench_audit_data import TEMPLATE_NAME

        from contacts.models import ContactEdit

        contact = self.push.app_contacts[0]
        contact.refresh_from_db()
        values = self.push.contact_values(contact)
        self.push.services.contact_edit_submit(
            contact=contact,
            editor=self.push.agent,
            values={**values, "name": TEMPLATE_NAME},
            base_values=values,
            base_version=contact.version,
        )
        return (
            ContactEdit.objects.filter(contact=contact)
            .order_by("-pk")
            .values_list("pk", flat=True)[0]
        )

    def sizes_print(self, chain) -> None:
        from django.db.models import Avg, Count
        from django.db.models.functions import Length

        from contacts.models import AuditEvent

        written = AuditEvent.objects.values("kind").annotate(
            n=Count("seq"), size=Avg(Length("data"))
        )
        for row in written.order_by("kind"):
            print(
                f"Events the app wrote: {row['n']} {row['kind']}, "
                f"data {row['size']:.0f} B on average"
            )
        for template in chain.templates:
            print(f"Filled {template.kind} events: data of {len(template.data)} B (the app's own)")

    # History pages --------------------------------------------------------------------------

    def pages(self) -> list[tuple[str, str]]:
        from django.contrib import admin
        from django.db.models import Count

        from contacts.models import AuditEvent, ContactEdit

        busiest = (
            AuditEvent.objects.values("contact_remote_id")
            .annotate(n=Count("seq"))
            .order_by("-n")
            .first()
        )
        edit = ContactEdit.objects.order_by("-created_at", "-id").first()
        pages = [
            ("Agent history", "/contacts/history/"),
            (
                f"Agent contact page ({busiest['n']} events)",
                f"/contacts/{busiest['contact_remote_id']}/",
            ),
            ("Admin edit history", "/admin/contacts/contactedit/"),
            ("Admin edit page (newest edit)", f"/admin/contacts/contactedit/{edit.pk}/change/"),
        ]
        if AuditEvent in admin.site._registry:
            pages.append(("Admin audit log, page 1", "/admin/contacts/auditevent/"))
        else:
            print("The admin has no audit log page yet: not timed.")
        pages.append((CONTROL, "/contacts/"))
        return pages

    def pages_measure(self, pages, state: str) -> dict[str, tuple[float, int]]:
        """Each page's median ms over --runs fetches, the pages in turn; and its queries."""
        from django.contrib.auth import get_user_model
        from django.db import connection
        from django.test import Client
        from django.test.utils import CaptureQueriesContext

        user, _created = get_user_model().objects.get_or_create(
            username="bench-admin", defaults={"is_staff": True, "is_superuser": True}
        )
        client = Client()
        client.force_login(user)
        timings: dict[str, list[float]] = defaultdict(list)
        for run in range(-1, self.options.runs):  # one round to warm up
            for label, url in pages[run % len(pages) :] + pages[: run % len(pages)]:
                began = time.perf_counter()
                response = client.get(url)
                elapsed = time.perf_counter() - began
                if response.status_code != 200:
                    raise SystemExit(f"{url} answered {response.status_code}")
                if run >= 0:
                    timings[label].append(elapsed)
        found = {}
        print(f"\nHistory pages, {self.engine}, {state} ({load()}):")
        print(f"{'page':<40} {'median ms':>10} {'queries':>8}")
        for label, url in pages:
            with CaptureQueriesContext(connection) as queries:
                client.get(url)
            found[label] = (statistics.median(timings[label]) * 1000, len(queries))
            print(f"{label:<40} {found[label][0]:>10.1f} {found[label][1]:>8}", flush=True)
        return found

    # Verify ---------------------------------------------------------------------------------

    def verify_once(self, kind: str) -> dict:
        done = subprocess.run(
            [sys.executable, VERIFY_SCRIPT, kind, self.database_url],
            capture_output=True,
            text=True,
            check=False,
        )
        if done.returncode != 0:
            raise SystemExit(f"The {kind} verify failed:\n{done.stdout}{done.stderr}")
        return json.loads(done.stdout.strip().splitlines()[-1])

    def verify_measure(self, size: int) -> dict[str, dict]:
        """The app's verify and the bare script, each in a process of its own, interleaved
        after one bare pass to warm the cache: median seconds and the largest peak RSS."""
        self.verify_once("bare")
        runs: dict[str, list[dict]] = {"ours": [], "bare": []}
        for run in range(self.options.verify_runs):
            for kind in ("ours", "bare") if run % 2 == 0 else ("bare", "ours"):
                runs[kind].append(self.verify_once(kind))
        found = {}
        for kind, results in runs.items():
            counts = {result["count"] for result in results}
            if counts != {size}:
                raise SystemExit(f"The {kind} verify read {counts} events, not {size}.")
            found[kind] = {
                "seconds": statistics.median(result["seconds"] for result in results),
                "rss": max(result["peak_rss_mib"] for result in results),
                "implementation": results[0]["implementation"],
            }
        ratio = found["ours"]["seconds"] / found["bare"]["seconds"]
        runs_each = self.options.verify_runs
        print(f"Verify, {self.engine}, {size:,} events, {runs_each} runs each ({load()}):")
        print(f"  ours: {found['ours']['implementation']}")
        for kind in ("ours", "bare"):
            print(
                f"  {kind:<5} {found[kind]['seconds']:>7.2f} s  "
                f"peak RSS {found[kind]['rss']:6.1f} MiB"
            )
        verdict = "meets" if ratio <= VERIFY_GOAL else "misses"
        print(f"  ours / bare: {ratio:.2f}x, {verdict} the goal of {VERIFY_GOAL}x", flush=True)
        found["ratio"] = ratio
        return found

    # Summary --------------------------------------------------------------------------------

    def summary(self, recorded_empty, recorded_full, before, after, verified) -> None:
        print(f"\nSummary, {self.engine} ({load()}):")
        small, large = sorted(verified)
        print(
            f"verify / bare: {verified[small]['ratio']:.2f}x at {small:,}, "
            f"{verified[large]['ratio']:.2f}x at {large:,} (goal <= {VERIFY_GOAL}x)"
        )
        for kind in ("ours", "bare"):
            print(
                f"peak RSS, {kind}: {verified[small][kind]['rss']:.1f} MiB at {small:,}, "
                f"{verified[large][kind]['rss']:.1f} MiB at {large:,}"
            )
        for label in ("push", "saved edit"):
            print(
                f"{label} with the audit log / today's: {recorded_empty[label]:.2f}x empty, "
                f"{recorded_full[label]:.2f}x at {large:,} events (goal <= {RECORD_GOAL}x)"
            )
        # The control reads no events: its ratio is how much the machine alone drifted.
        drift = after[CONTROL][0] / before[CONTROL][0]
        print(
            f"{'history page':<40} {'ms before':>9} {'ms after':>9} {'after/before':>12} "
            f"{'/ drift':>8}"
        )
        for label, (ms_before, _queries) in before.items():
            ratio = after[label][0] / ms_before
            print(
                f"{label:<40} {ms_before:>9.1f} {after[label][0]:>9.1f} {ratio:>11.2f}x "
                f"{ratio / drift:>7.2f}x"
            )
        print(
            f"(goal <= {PAGES_GOAL}x; the last column divides by the control's ratio)", flush=True
        )


if __name__ == "__main__":
    sys.exit(main())
