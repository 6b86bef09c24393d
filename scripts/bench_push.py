"""What a push costs beside a bare round trip of the same HTTP calls, on SQLite and PostgreSQL.

    .venv/bin/python scripts/bench_push.py [--rounds 300] [--database-url postgres://...]
        [--sqlite-only] [--profile]

One run measures SQLite, then PostgreSQL when the server of `--database-url` (default
BENCH_DATABASE_URL, else postgres://postgres@127.0.0.1:5432/postgres) answers: each engine in a
process of its own, with a fresh database (a SQLite file, or a PostgreSQL database created and
dropped) and its own sandbox on loopback. Rounds interleave, their order rotating, so a busy
machine slows every kind alike:
- push: `edit_push` of an edit recorded just before (claim, GET, compare three ways, PATCH,
  record the outcome), with one long-lived client, as the worker's sweep pushes;
- bare GET + PATCH, the peer: a `requests.Session` making the same two calls with the same body
  and decoding the answers, without the app around them;
- record: `contact_edit_record`, the outbox's write of an edit;
- saved edit: `contact_edit_submit` as an agent's Save runs it (record, then the push with a
  client of its own);
- two durable commits: two transactions of one no-op UPDATE each, the floor under a push's
  two (claim, outcome) on this disk and engine, durability untouched.
Prints medians, 90th percentiles, each ratio to the bare calls, and the statements and commits
of one push. `--profile` adds where the pushes' time goes (cProfile, by own time).
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
from pathlib import Path
from urllib.parse import urlsplit

sys.path.insert(0, str(Path(__file__).resolve().parent))
import benchkit  # noqa: E402

DEFAULT_POSTGRES = "postgres://postgres@127.0.0.1:5432/postgres"
GOAL = 1.5
PEER = "bare GET + PATCH"
COMMITS = "2 durable commits"
TRANSACTION_CONTROL = ("BEGIN", "COMMIT", "ROLLBACK", "SAVEPOINT", "RELEASE SAVEPOINT")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=300)
    parser.add_argument(
        "--database-url", default=os.environ.get("BENCH_DATABASE_URL") or DEFAULT_POSTGRES
    )
    parser.add_argument("--sqlite-only", action="store_true")
    parser.add_argument("--profile", action="store_true")
    parser.add_argument("--engine", choices=["sqlite", "postgresql"], help=argparse.SUPPRESS)
    options = parser.parse_args()
    if options.engine:
        return engine_run(options)
    print(f"Push benchmark, {datetime.datetime.now().astimezone():%Y-%m-%d %H:%M %Z}")
    print(f"Machine: {benchkit.machine()}")
    engines = ["sqlite"]
    if options.sqlite_only:
        pass
    elif answers(options.database_url):
        engines.append("postgresql")
    else:
        print(f"PostgreSQL does not answer at {options.database_url}: SQLite only.")
    for engine in engines:
        command = [sys.executable, __file__, "--engine", engine, "--rounds", str(options.rounds)]
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
    directory = Path(tempfile.mkdtemp(prefix="bench-push-"))
    try:
        with benchkit.throwaway_database(directory, postgres) as database_url:
            environment = benchkit.app_environment(directory, database_url)
            with benchkit.stopped([]) as processes:
                sandbox, sandbox_url = benchkit.sandbox_start(
                    directory, count=40, environment=environment
                )
                processes.append(sandbox)
                environment["LIVEDESK_BASE_URL"] = sandbox_url
                os.environ.update(environment)
                benchkit.manage("migrate", "--no-input", environment=environment)
                benchkit.manage("sync_contacts", "--no-progress", environment=environment)
                bench = Bench(profile=options.profile)
                timings = bench.measure(options.rounds)
                work = bench.database_work()
                engine = "PostgreSQL" if postgres else "SQLite"
                report(timings, work=work, engine=engine)
                if bench.profile is not None:
                    bench.profile_print()
    finally:
        shutil.rmtree(directory, ignore_errors=True)
    return 0


class Bench:
    """The app in this process, against the sandbox named by the environment."""

    def __init__(self, *, profile: bool):
        import django

        sys.path.insert(0, str(benchkit.PROJECT_ROOT))
        os.environ.setdefault("DJANGO_SETTINGS_MODULE", "livedesk_admin.settings")
        django.setup()
        import cProfile

        import requests
        from django.conf import settings
        from django.contrib.auth import get_user_model

        from contacts import services
        from contacts.fields import contact_values
        from contacts.livedesk import LiveDeskClient
        from contacts.models import Contact, ContactEdit

        self.services, self.contact_values, self.ContactEdit = services, contact_values, ContactEdit
        self.agent = get_user_model().objects.create_user(username="bench-agent")
        contacts = list(Contact.objects.order_by("remote_id"))
        # The bare calls change other contacts than the app's edits, which would otherwise meet
        # them as changes made outside the app.
        self.bare_ids = [contact.remote_id for contact in contacts[::2]]
        self.app_contacts = contacts[1::2]
        self.client = LiveDeskClient()
        self.session = requests.Session()
        self.session.auth = (settings.LIVEDESK_API_KEY, settings.LIVEDESK_API_SECRET)
        self.session.headers.update(
            {"Accept": "application/json", "Content-Type": "application/json"}
        )
        self.contacts_url = f"{settings.LIVEDESK_BASE_URL.rstrip('/')}/api/v2/accounts/contacts"
        self.profile = cProfile.Profile() if profile else None

    def edit_record(self, contact, name: str):
        contact.refresh_from_db()
        values = self.contact_values(contact)
        return self.services.contact_edit_record(
            contact=contact,
            editor=self.agent,
            values={**values, "name": name},
            base_values=values,
            base_version=contact.version,
            source=self.ContactEdit.Source.AGENT,
        )

    def measure(self, rounds: int) -> dict[str, list[float]]:
        timings: dict[str, list[float]] = {
            "push": [],
            PEER: [],
            "record": [],
            "saved edit": [],
            COMMITS: [],
        }
        kinds = [self.push_round, self.bare_round, self.saved_round, self.commits_round]
        for n in range(-10, rounds):  # ten rounds to warm up, not counted
            for kind in kinds[n % 4 :] + kinds[: n % 4]:
                for label, seconds in kind(n).items():
                    if n >= 0:
                        timings[label].append(seconds)
        return timings

    def push_round(self, n: int) -> dict[str, float]:
        contact = self.app_contacts[n % len(self.app_contacts)]
        started = time.perf_counter()
        edit = self.edit_record(contact, f"pushed-{n}")
        recorded = time.perf_counter()
        if self.profile is not None:
            self.profile.enable()
        result = self.services.edit_push(edit_id=edit.pk, client=self.client)
        if self.profile is not None:
            self.profile.disable()
        pushed = time.perf_counter()
        if result.outcome != self.services.Push.DELIVERED:
            raise SystemExit(f"Push {n} was not delivered: {result.outcome}")
        return {"record": recorded - started, "push": pushed - recorded}

    def bare_round(self, n: int) -> dict[str, float]:
        url = f"{self.contacts_url}/{self.bare_ids[n % len(self.bare_ids)]}"
        params = {"include_contact_inboxes": "true"}
        started = time.perf_counter()
        read = self.session.get(url, params=params, timeout=10)
        read.raise_for_status()
        read.json()
        written = self.session.patch(url, params=params, json={"name": f"bare-{n}"}, timeout=10)
        written.raise_for_status()
        written.json()
        return {PEER: time.perf_counter() - started}

    def saved_round(self, n: int) -> dict[str, float]:
        contact = self.app_contacts[(n + 7) % len(self.app_contacts)]
        contact.refresh_from_db()
        values = self.contact_values(contact)
        started = time.perf_counter()
        submission = self.services.contact_edit_submit(
            contact=contact,
            editor=self.agent,
            values={**values, "name": f"saved-{n}"},
            base_values=values,
            base_version=contact.version,
        )
        seconds = time.perf_counter() - started
        if submission.outcome != self.services.EditOutcome.SAVED:
            raise SystemExit(f"Edit {n} was not saved: {submission.outcome}")
        return {"saved edit": seconds}

    def commits_round(self, n: int) -> dict[str, float]:
        from django.db import transaction
        from django.db.models import F

        from contacts.models import Contact

        untouched = Contact.objects.filter(remote_id=self.bare_ids[n % len(self.bare_ids)])
        started = time.perf_counter()
        for _ in range(2):
            with transaction.atomic():
                untouched.update(synced_at=F("synced_at"))
        return {COMMITS: time.perf_counter() - started}

    def database_work(self) -> dict[str, tuple[int, int]]:
        """Statements and commits of one record, one push and one saved edit (transaction
        control left out: the engines differ in showing it)."""
        from django.db import connection
        from django.test.utils import CaptureQueriesContext

        commits = []
        commit = connection.commit
        connection.commit = lambda: (commits.append(1), commit())
        contact = self.app_contacts[0]
        steps = {
            "record": lambda values: self.services.contact_edit_record(
                contact=contact,
                editor=self.agent,
                values={**values, "name": "counted"},
                base_values=values,
                base_version=contact.version,
                source=self.ContactEdit.Source.AGENT,
            ),
            "push": lambda values: self.services.edit_push(edit_id=edit.pk, client=self.client),
            "saved edit": lambda values: self.services.contact_edit_submit(
                contact=contact,
                editor=self.agent,
                values={**values, "name": "counted again"},
                base_values=values,
                base_version=contact.version,
            ),
        }
        counted = {}
        try:
            for label, step in steps.items():
                contact.refresh_from_db()
                values = self.contact_values(contact)
                commits.clear()
                with CaptureQueriesContext(connection) as captured:
                    done = step(values)
                if label == "record":
                    edit = done  # the edit the next step pushes
                statements = [
                    query["sql"]
                    for query in captured.captured_queries
                    if not query["sql"].upper().startswith(TRANSACTION_CONTROL)
                ]
                counted[label] = (len(statements), len(commits))
        finally:
            del connection.commit
        return counted

    def profile_print(self) -> None:
        import pstats

        stats = pstats.Stats(self.profile, stream=sys.stdout)
        print("\nWhere the pushes' time goes (cProfile): the push's steps, then commits and calls")
        stats.sort_stats("cumulative").print_stats(r"services/(push|mirror)\.py|client\.py", 14)
        stats.sort_stats("tottime").print_stats(r"commit|sendall|recv_into", 4)


def report(
    timings: dict[str, list[float]], *, work: dict[str, tuple[int, int]], engine: str
) -> None:
    peer = statistics.median(timings[PEER])
    rounds = len(timings[PEER])
    print(f"\n{engine}, {rounds} interleaved rounds, one sandbox on loopback:")
    print(f"{'':<18} {'median ms':>10} {'p90 ms':>8} {'x bare':>8}")
    for label, seconds in timings.items():
        ordered = sorted(seconds)
        median = statistics.median(ordered)
        p90 = ordered[int(len(ordered) * 0.9)]
        print(f"{label:<18} {median * 1000:>10.2f} {p90 * 1000:>8.2f} {median / peer:>8.2f}")
    ratio = statistics.median(timings["push"]) / peer
    verdict = "meets" if ratio <= GOAL else "misses"
    print(f"push / bare GET + PATCH: {ratio:.2f}x, {verdict} the goal of {GOAL}x")
    over = statistics.median(timings["push"]) - peer
    commits = statistics.median(timings[COMMITS])
    print(
        f"push over the bare calls: +{over * 1000:.2f} ms, of which two durable commits "
        f"{commits * 1000:.2f} ms and the rest {(over - commits) * 1000:.2f} ms; "
        f"the floor with two commits: {(peer + commits) / peer:.2f}x"
    )
    for label, (statements, commits) in work.items():
        print(f"{label}: {statements} SQL statements, {commits} commits")


if __name__ == "__main__":
    sys.exit(main())
