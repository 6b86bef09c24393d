"""A batch's delivery against the sandbox: the configured rate beside the calls a second the
sandbox saw, and what a 429 with Retry-After cost, on SQLite and PostgreSQL.

    .venv/bin/python scripts/bench_batch_delivery.py [--rates 5,20] [--seconds 10]
        [--retry-after 2] [--database-url postgres://...] [--sqlite-only]

One run measures SQLite, then PostgreSQL when the server of `--database-url` (default
BENCH_DATABASE_URL, else postgres://postgres@127.0.0.1:5432/postgres) answers: each engine in a
process of its own, with a fresh database and its own sandbox on loopback (seeded, synced).
For each rate, a confirmed batch of about `--seconds` of pushes (a push is two calls: the read
and the PATCH) is delivered by `batch_delivery_run`, the worker's run; the sandbox stamps each
call's arrival, and the achieved rate is 2 x (pushes - 1) over the time from the first read to
the last. Then the same batch at the highest rate meets one 429 with Retry-After on its first
PATCH: the pause's cost is the delivery's time beside the same batch's without the 429, and the
gap the sandbox saw after the 429. Every edit must end delivered, each contact changed once.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from urllib.parse import urlsplit

sys.path.insert(0, str(Path(__file__).resolve().parent))
import benchkit  # noqa: E402

DEFAULT_POSTGRES = "postgres://postgres@127.0.0.1:5432/postgres"
CONTACTS_PATH = "/api/v2/accounts/contacts"
# The sandbox keeps its last 200 calls: a batch stays below that.
MAX_PUSHES = 95


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rates", default="5,20", help="calls a second, comma-separated")
    parser.add_argument("--seconds", type=float, default=10.0, help="of pushes per batch")
    parser.add_argument("--retry-after", type=int, default=2)
    parser.add_argument(
        "--database-url", default=os.environ.get("BENCH_DATABASE_URL") or DEFAULT_POSTGRES
    )
    parser.add_argument("--sqlite-only", action="store_true")
    parser.add_argument("--engine", choices=["sqlite", "postgresql"], help=argparse.SUPPRESS)
    options = parser.parse_args()
    if options.engine:
        return engine_run(options)
    print(f"Batch delivery benchmark, {datetime.datetime.now().astimezone():%Y-%m-%d %H:%M %Z}")
    print(f"Machine: {benchkit.machine()}")
    engines = ["sqlite"]
    if options.sqlite_only:
        pass
    elif answers(options.database_url):
        engines.append("postgresql")
    else:
        print(f"PostgreSQL does not answer at {options.database_url}: SQLite only.")
    for engine in engines:
        command = [sys.executable, __file__, "--engine", engine, "--rates", options.rates]
        command += ["--seconds", str(options.seconds), "--retry-after", str(options.retry_after)]
        command += ["--database-url", options.database_url]
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
    rates = [float(rate) for rate in options.rates.split(",")]
    sizes = [pushes_for(rate, options.seconds) for rate in rates]
    fastest = max(rates)
    count = sum(sizes) + 2 * pushes_for(fastest, options.seconds) + 10
    directory = Path(tempfile.mkdtemp(prefix="bench-batch-delivery-"))
    try:
        with benchkit.throwaway_database(directory, postgres) as database_url:
            # A refused edit goes again as soon as the Retry-After allows.
            environment = benchkit.app_environment(
                directory, database_url, LIVEDESK_PUSH_BACKOFF_SECONDS="1"
            )
            with benchkit.stopped([]) as processes:
                sandbox, sandbox_url = benchkit.sandbox_start(
                    directory, count=count, environment=environment
                )
                processes.append(sandbox)
                environment["LIVEDESK_BASE_URL"] = sandbox_url
                os.environ.update(environment)
                benchkit.manage("migrate", "--no-input", environment=environment)
                benchkit.manage("sync_contacts", "--no-progress", environment=environment)
                bench = Bench(sandbox_url)
                engine = "PostgreSQL" if postgres else "SQLite"
                print(f"\n{engine}, one sandbox on loopback, {count} contacts:")
                for rate, size in zip(rates, sizes, strict=True):
                    bench.rate_report(rate, size)
                bench.pause_report(
                    fastest, pushes_for(fastest, options.seconds), options.retry_after
                )
    finally:
        shutil.rmtree(directory, ignore_errors=True)
    return 0


def pushes_for(rate: float, seconds: float) -> int:
    return max(3, min(MAX_PUSHES, int(rate * seconds / 2) + 1))


class Bench:
    """The app in this process, against the sandbox at `sandbox_url`."""

    def __init__(self, sandbox_url: str):
        import django

        sys.path.insert(0, str(benchkit.PROJECT_ROOT))
        os.environ.setdefault("DJANGO_SETTINGS_MODULE", "livedesk_admin.settings")
        django.setup()
        from django.conf import settings
        from django.contrib.auth import get_user_model

        from contacts.models import Contact

        self.settings = settings
        self.sandbox_url = sandbox_url
        self.lead = get_user_model().objects.create_user(username="bench-lead")
        self.unused = list(Contact.objects.order_by("remote_id"))

    def sandbox(self, method: str, path: str, body: dict | None = None):
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(
            self.sandbox_url + path,
            data=data,
            method=method,
            headers={"Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=10) as response:
            return json.loads(response.read())

    def batch_confirmed(self, size: int, company: str):
        """A confirmed bulk edit of `size` contacts not changed yet, setting their company."""
        from contacts.models import Contact

        chosen, self.unused = self.unused[:size], self.unused[size:]
        chosen = list(Contact.objects.filter(pk__in=[contact.pk for contact in chosen]))
        return batch_confirmed(by=self.lead, contacts=chosen, company=company)

    def deliver(self, batch, *, rate: float) -> tuple[float, list, list[dict]]:
        """Deliver the batch as the worker does, run after run, until nothing is on its way;
        answers the seconds it took, the runs, and the calls the sandbox saw."""
        from django.utils import timezone

        from contacts.selectors import batch_progress
        from contacts.services.batch_delivery import batch_delivery_run, next_run_at

        self.settings.LIVEDESK_BULK_RATE = rate
        self.sandbox("DELETE", "/_sandbox/requests")
        runs = []
        started = time.perf_counter()
        while not batch_progress(batch).finished:
            runs.append(batch_delivery_run(seconds=120))
            run_after = next_run_at(now=timezone.now(), held_back=not runs[-1].out_of_time)
            if run_after is not None:
                time.sleep(max((run_after - timezone.now()).total_seconds(), 0))
        seconds = time.perf_counter() - started
        calls = [
            call
            for call in self.sandbox("GET", "/_sandbox/requests")
            if call["path"].startswith(CONTACTS_PATH)
        ]
        progress = batch_progress(batch)
        patched = [call["path"] for call in calls if call["method"] == "PATCH"]
        if progress.delivered != batch.edits.count():
            raise SystemExit(f"Not every edit was delivered: {progress}")
        if len(set(patched)) != progress.delivered:
            raise SystemExit(f"{len(set(patched))} contacts patched for {progress.delivered}")
        return seconds, runs, calls

    def rate_report(self, rate: float, size: int) -> None:
        batch = self.batch_confirmed(size, f"Rate {rate:g}")
        seconds, _runs, calls = self.deliver(batch, rate=rate)
        reads = [call["at"] for call in calls if call["method"] == "GET"]
        achieved = 2 * (len(reads) - 1) / (reads[-1] - reads[0])
        print(
            f"  rate {rate:g} calls/s: {size} pushes, {len(calls)} calls in {seconds:.2f} s; "
            f"the sandbox saw {achieved:.2f} calls/s ({achieved / rate:.3f} of the rate)"
        )

    def pause_report(self, rate: float, size: int, retry_after: int) -> None:
        baseline = self.batch_confirmed(size, "Without 429")
        plain, _runs, _calls = self.deliver(baseline, rate=rate)
        batch = self.batch_confirmed(size, "With 429")
        self.sandbox(
            "PUT",
            "/_sandbox/faults",
            {"rate_limit_next": 1, "retry_after": retry_after, "methods": "PATCH"},
        )
        try:
            seconds, runs, calls = self.deliver(batch, rate=rate)
        finally:
            self.sandbox("DELETE", "/_sandbox/faults")
        refused = next(n for n, call in enumerate(calls) if call["method"] == "PATCH")
        gap = calls[refused + 1]["at"] - calls[refused]["at"]
        patches = sum(call["method"] == "PATCH" for call in calls)
        paused = sum(run.paused_seconds for run in runs)
        print(
            f"  429 with Retry-After {retry_after} s on the first PATCH, {rate:g} calls/s, "
            f"{size} pushes: {seconds:.2f} s against {plain:.2f} s without, the pause cost "
            f"{seconds - plain:.2f} s; the sandbox's next call came {gap:.2f} s after the 429 "
            f"(paused {paused:.1f} s); {patches} PATCHes for {size} edits, all delivered"
        )


def batch_confirmed(*, by, contacts, company: str):
    """A confirmed batch setting the contacts' company: through batch_confirm when the batch
    service is there; else as it records them (each edit recorded, then tied to the batch)."""
    from django.utils import timezone

    from contacts import services
    from contacts.fields import contact_values
    from contacts.models import ContactEdit, EditBatch

    try:
        from contacts.services.batches import BulkOperation, batch_confirm, batch_draft_bulk_edit
    except ImportError:
        pass
    else:
        from contacts.models import Contact

        draft = batch_draft_bulk_edit(
            by=by,
            operations=[BulkOperation("additional_attributes.company_name", "set", company)],
            contacts=Contact.objects.filter(pk__in=[contact.pk for contact in contacts]),
            selection={"ids": [contact.remote_id for contact in contacts]},
        )
        return batch_confirm(batch=draft, by=by)
    now = timezone.now()
    batch = EditBatch.objects.create(
        kind=EditBatch.Kind.BULK_EDIT,
        state=EditBatch.State.CONFIRMED,
        created_by=by,
        created_by_username=by.get_username(),
        confirmed_at=now,
        changed_count=len(contacts),
    )
    for contact in contacts:
        values = contact_values(contact)
        edit = services.contact_edit_record(
            contact=contact,
            editor=by,
            values={**values, "additional_attributes.company_name": company},
            base_values=values,
            base_version=contact.version,
            source=ContactEdit.Source.BULK,
        )
        ContactEdit._base_manager.filter(pk=edit.pk).update(batch=batch, next_attempt_at=now)
    return batch


if __name__ == "__main__":
    sys.exit(main())
