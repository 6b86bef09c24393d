"""Benchmark `manage.py sync_contacts` beside a bare fetch of the same pages, on SQLite and
PostgreSQL: time, rate, peak memory and the ratio ours / bare.

    .venv/bin/python scripts/bench_sync.py                        # 10,000 then 100,000 contacts
    .venv/bin/python scripts/bench_sync.py --count 1000000        # one size only
    .venv/bin/python scripts/bench_sync.py --engines sqlite --latency-count 0

For each engine and size, one `manage.py livedesk_sandbox` subprocess seeded with N contacts;
then, paired and repeated: the **bare fetch** (this script run as a child with `--bare-fetch`:
threads with plain `requests`, GET every page, `json.loads`, nothing else) at the same
concurrency, and ours (`sync_contacts` into a fresh database: the first sync creates every
contact, the second finds every one unchanged). Each run's wall time and peak RSS come from the
child alone (os.wait4). Medians are compared, never figures from different runs.

Then the latency run: a sandbox answering every call 50 ms late, 15 contacts a page (LiveDesk's
default), bare fetch and ours at concurrency 4, and ours one page at a time.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from benchkit import (  # noqa: E402
    API_KEY,
    API_SECRET,
    MANAGE,
    PROJECT_ROOT,
    app_environment,
    process_stop,
    sandbox_start,
    throwaway_database,
)

CONTACTS_PATH = "/api/v2/accounts/contacts"
DEFAULT_POSTGRES_URL = "postgres://postgres@127.0.0.1:5432/postgres"


@dataclass
class Run:
    label: str
    contacts: int
    seconds: float
    peak_rss_mib: float
    summary: str

    @property
    def rate(self) -> float:
        return self.contacts / self.seconds if self.seconds else 0.0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--count", type=int, nargs="+", default=[10_000, 100_000], metavar="N")
    parser.add_argument("--engines", nargs="+", default=["sqlite", "postgres"])
    parser.add_argument("--postgres-url", default=os.environ.get("BENCH_POSTGRES_URL"))
    parser.add_argument("--page-size", type=int, default=100)
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--repeats", type=int, default=None, help="default 2 up to 10k, else 1")
    parser.add_argument("--latency-count", type=int, default=10_000, help="0: no latency run")
    parser.add_argument("--latency-ms", type=int, default=50)
    parser.add_argument("--keep", action="store_true", help="keep the temporary directories")
    parser.add_argument("--bare-fetch", metavar="BASE_URL", help=argparse.SUPPRESS)
    options = parser.parse_args()
    if options.bare_fetch:
        return bare_fetch(options.bare_fetch, options.page_size, options.concurrency)

    print(
        f"bench-sync {datetime.datetime.now().isoformat(timespec='seconds')} on "
        f"{platform.node()} ({os.cpu_count()} cores, Python {platform.python_version()}); "
        f"page size {options.page_size}, concurrency {options.concurrency}",
        flush=True,
    )
    engines = [engine for engine in options.engines if engine_ready(engine, options)]
    rows: list[tuple[str, int, str, Run, Run]] = []
    for engine in engines:
        for count in options.count:
            repeats = options.repeats or (2 if count <= 10_000 else 1)
            rows += bench_size(engine, count, repeats=repeats, options=options)
    latency_rows = []
    if options.latency_count:
        latency_rows = bench_latency(options.latency_count, options=options)

    print()
    print(
        f"{'engine':<9}{'contacts':>10}  {'run':<7}{'ours s':>8}{'bare s':>8}{'ratio':>7}"
        f"{'ours c/s':>10}{'bare c/s':>10}{'ours RSS MiB':>13}"
    )
    for engine, count, label, ours, bare in rows:
        print(
            f"{engine:<9}{count:>10,}  {label:<7}{ours.seconds:>8.1f}{bare.seconds:>8.1f}"
            f"{ours.seconds / bare.seconds:>7.2f}{ours.rate:>10,.0f}{bare.rate:>10,.0f}"
            f"{ours.peak_rss_mib:>13.1f}"
        )
    for engine in engines:
        peaks = [
            f"{ours.peak_rss_mib:.1f} MiB at {count:,}"
            for row_engine, count, label, ours, _bare in rows
            if row_engine == engine and label == "first"
        ]
        print(f"Peak RSS of ours (first sync), {engine}: {', '.join(peaks)}")
    if latency_rows:
        bare, ours, one_at_a_time = latency_rows
        print()
        print(
            f"Latency run (sqlite): {options.latency_count:,} contacts, {options.latency_ms} ms a "
            f"call, 15 a page"
        )
        for run in latency_rows:
            print(f"   {run.label:<24}{run.seconds:>8.1f} s {run.rate:>8,.0f} contacts/s")
        print(f"   ours / bare fetch at concurrency 4: {ours.seconds / bare.seconds:.2f}")
        print(f"   one page at a time / ours: {one_at_a_time.seconds / ours.seconds:.2f}")
    return 0


def engine_ready(engine: str, options: argparse.Namespace) -> bool:
    if engine == "sqlite":
        return True
    options.postgres_url = options.postgres_url or DEFAULT_POSTGRES_URL
    try:
        import psycopg

        psycopg.connect(options.postgres_url, connect_timeout=3).close()
    except Exception as error:  # any failure: PostgreSQL is not reachable, say so and go on
        print(f"PostgreSQL not reachable at {options.postgres_url} ({error}): skipped.")
        return False
    return True


def bench_size(
    engine: str, count: int, *, repeats: int, options: argparse.Namespace
) -> list[tuple[str, int, str, Run, Run]]:
    """Paired runs on one sandbox: bare fetch, ours first, ours second; medians of each."""
    directory = Path(tempfile.mkdtemp(prefix=f"bench-sync-{engine}-{count}-"))
    print(f"== {engine}, {count:,} contacts, {repeats} paired runs, in {directory}", flush=True)
    sandbox_environment = app_environment(directory, f"sqlite:///{directory / 'unused.sqlite3'}")
    bares, firsts, seconds = [], [], []
    try:
        sandbox, base_url = sandbox_start(directory, count=count, environment=sandbox_environment)
        try:
            for repeat in range(repeats):
                bares.append(bare_measured(base_url, count, options=options, directory=directory))
                postgres_url = options.postgres_url if engine == "postgres" else None
                run_directory = directory / f"run-{repeat}"
                run_directory.mkdir()
                with throwaway_database(run_directory, postgres_url) as database_url:
                    first, second = sync_twice(
                        count,
                        base_url=base_url,
                        database_url=database_url,
                        directory=run_directory,
                        page_size=options.page_size,
                        concurrency=options.concurrency,
                    )
                firsts.append(first)
                seconds.append(second)
                print(
                    f"   run {repeat + 1}: bare {bares[-1].seconds:.1f}s, "
                    f"first {first.seconds:.1f}s ({first.summary}), second {second.seconds:.1f}s",
                    flush=True,
                )
        finally:
            process_stop(sandbox)
    finally:
        if not options.keep:
            shutil.rmtree(directory, ignore_errors=True)
    bare = median_run(bares)
    return [
        (engine, count, "first", median_run(firsts), bare),
        (engine, count, "second", median_run(seconds), bare),
    ]


def bench_latency(count: int, *, options: argparse.Namespace) -> list[Run]:
    """Bare fetch and ours at concurrency 4, ours one page at a time, 15 contacts a page."""
    directory = Path(tempfile.mkdtemp(prefix=f"bench-sync-latency-{count}-"))
    print(f"== latency run: {count:,} contacts, {options.latency_ms} ms a call", flush=True)
    environment = app_environment(directory, f"sqlite:///{directory / 'unused.sqlite3'}")
    try:
        sandbox, base_url = sandbox_start(
            directory,
            count=count,
            environment=environment,
            flags=("--latency-ms", str(options.latency_ms)),
        )
        try:
            slow = argparse.Namespace(**{**vars(options), "page_size": 15, "concurrency": 4})
            bare = bare_measured(base_url, count, options=slow, directory=directory)
            bare.label = "bare fetch, 4 at once"
            print(f"   bare fetch: {bare.seconds:.1f}s", flush=True)
            runs = [bare]
            for concurrency in (4, 1):
                run_directory = directory / f"ours-{concurrency}"
                run_directory.mkdir()
                with throwaway_database(run_directory, None) as database_url:
                    ours = sync_once(
                        count,
                        base_url=base_url,
                        database_url=database_url,
                        directory=run_directory,
                        page_size=15,
                        concurrency=concurrency,
                    )
                ours.label = "ours, 4 at once" if concurrency == 4 else "ours, one at a time"
                print(f"   {ours.label}: {ours.seconds:.1f}s ({ours.summary})", flush=True)
                runs.append(ours)
            return runs
        finally:
            process_stop(sandbox)
    finally:
        if not options.keep:
            shutil.rmtree(directory, ignore_errors=True)


def median_run(runs: list[Run]) -> Run:
    ordered = sorted(runs, key=lambda run: run.seconds)
    middle = ordered[(len(ordered) - 1) // 2]
    seconds = statistics.median(run.seconds for run in runs)
    peak = max(run.peak_rss_mib for run in runs)
    return Run(middle.label, middle.contacts, seconds, peak, middle.summary)


def sync_environment(base_url: str, database_url: str, directory: Path) -> dict[str, str]:
    return app_environment(directory, database_url, LIVEDESK_BASE_URL=base_url)


def sync_twice(count: int, **arguments) -> tuple[Run, Run]:
    """Migrate a fresh database, then sync into it twice: all created, then all unchanged."""
    first = sync_once(count, label="first", **arguments)
    second = sync_once(count, label="second", migrate=False, **arguments)
    return first, second


def sync_once(
    count: int,
    *,
    base_url: str,
    database_url: str,
    directory: Path,
    page_size: int,
    concurrency: int,
    label: str = "first",
    migrate: bool = True,
) -> Run:
    environment = sync_environment(base_url, database_url, directory)
    if migrate:
        subprocess.run(
            [sys.executable, MANAGE, "migrate", "--no-input", "-v", "0"],
            cwd=PROJECT_ROOT,
            env=environment,
            check=True,
        )
    command = [sys.executable, MANAGE, "sync_contacts", "--no-progress"]
    command += ["--page-size", str(page_size), "--concurrency", str(concurrency)]
    run = measured(label, command, count=count, environment=environment, directory=directory)
    expected = "created" if label == "first" else "unchanged"
    if f"Synced {count} of {count} contacts" not in run.summary or (
        f"{count} {expected}" not in run.summary
    ):
        raise SystemExit(f"The {label} sync did not mirror {count:,} contacts: {run.summary}")
    return run


def bare_measured(
    base_url: str, count: int, *, options: argparse.Namespace, directory: Path
) -> Run:
    command = [sys.executable, __file__, "--bare-fetch", base_url]
    command += ["--page-size", str(options.page_size), "--concurrency", str(options.concurrency)]
    run = measured("bare", command, count=count, environment=dict(os.environ), directory=directory)
    if run.summary != f"fetched {count}":
        raise SystemExit(f"The bare fetch did not fetch {count:,} contacts: {run.summary}")
    return run


def measured(
    label: str, command: list[str], *, count: int, environment: dict, directory: Path
) -> Run:
    """Run `command` and measure its wall time and its own peak RSS (wait4 of that child)."""
    output_path = directory / f"{label}-{time.monotonic_ns()}.out"
    with output_path.open("w") as output:
        started = time.perf_counter()
        process = subprocess.Popen(
            command, cwd=PROJECT_ROOT, env=environment, stdout=output, stderr=subprocess.STDOUT
        )
        _pid, status, usage = os.wait4(process.pid, 0)
        seconds = time.perf_counter() - started
    process.returncode = os.waitstatus_to_exitcode(status)
    text = output_path.read_text().strip()
    if process.returncode != 0:
        raise SystemExit(f"{' '.join(command[1:3])} failed ({process.returncode}):\n{text}")
    # ru_maxrss is in KiB on Linux.
    return Run(label, count, seconds, usage.ru_maxrss / 1024, text.splitlines()[-1])


def bare_fetch(base_url: str, page_size: int, concurrency: int) -> int:
    """The peer: every page fetched and decoded, `concurrency` at a time, nothing else."""
    import requests

    local = threading.local()

    def page_get(number: int) -> dict:
        session = getattr(local, "session", None)
        if session is None:
            session = local.session = requests.Session()
            session.auth = (API_KEY, API_SECRET)
        response = session.get(
            f"{base_url}{CONTACTS_PATH}",
            params={
                "page": number,
                "page_size": page_size,
                "sort": "created_at",
                "direction": "asc",
                "include_contact_inboxes": "true",
            },
            timeout=(5, 60),
        )
        response.raise_for_status()
        return json.loads(response.content)

    first = page_get(1)
    fetched = len(first["payload"])
    pages = -(-int(first["meta"]["count"]) // max(fetched, 1))
    with ThreadPoolExecutor(max_workers=concurrency) as executor:
        for body in executor.map(page_get, range(2, pages + 1)):
            fetched += len(body["payload"])
    print(f"fetched {fetched}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
