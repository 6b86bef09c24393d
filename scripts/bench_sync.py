"""Benchmark `manage.py sync_contacts` beside a bare fetch of the same pages, on SQLite and
PostgreSQL: time, rate, peak memory and the ratio ours / bare.

    .venv/bin/python scripts/bench_sync.py                        # 10,000 then 100,000 contacts
    .venv/bin/python scripts/bench_sync.py --count 1000000        # one size only
    .venv/bin/python scripts/bench_sync.py --engines sqlite --latency-count 0
    .venv/bin/python scripts/bench_sync.py --engines --latency-count 10000  # latency run only

For each engine and size, one `manage.py livedesk_sandbox` subprocess seeded with N contacts;
then, paired and repeated: the **bare fetch** (this script run as a child with `--bare-fetch`:
threads with plain `requests`, GET every page, `json.loads`, nothing else) at the same
concurrency, and ours (`sync_contacts` into a fresh database: the first sync creates every
contact, the second finds every one unchanged). Each run's wall time and peak RSS come from the
child alone (os.wait4). Medians are compared, never figures from different runs.

Two times are taken of each run. The **own** time is what the process itself measures from its
first request to its last page decoded (bare) or its last write committed (ours): the figure the
ratio is judged on, like for like. The **wall** time is the whole command, Python's and
Django's start included (about 0.8 s more for `manage.py` than for the bare script): shown too,
so that nobody mistakes one for the other.

Then the latency run: a sandbox answering every call 50 ms late, 15 contacts a page (LiveDesk's
default), bare fetch and ours at concurrency 4, then both one page at a time (what the bare
fetch itself gains from concurrency bounds what ours can).
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import re
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
    machine,
    process_stop,
    sandbox_start,
    throwaway_database,
)

CONTACTS_PATH = "/api/v2/accounts/contacts"
DEFAULT_POSTGRES_URL = "postgres://postgres@127.0.0.1:5432/postgres"
# The time each process reports of itself (see the module's docstring).
OURS_OWN_TIME = re.compile(r"contacts in ([0-9.]+)s:")
BARE_OWN_TIME = re.compile(r"^fetched \d+ in ([0-9.]+)s$")


@dataclass
class Run:
    label: str
    contacts: int
    seconds: float  # the process's own time, first request to last write (or decode)
    wall_seconds: float  # the whole command, interpreter and Django start included
    cpu_seconds: float  # user + system, the process's own threads
    peak_rss_mib: float
    summary: str

    @property
    def rate(self) -> float:
        return self.contacts / self.seconds if self.seconds else 0.0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--count", type=int, nargs="+", default=[10_000, 100_000], metavar="N")
    parser.add_argument(
        "--engines", nargs="*", default=["sqlite", "postgres"], help="none: only the latency run"
    )
    parser.add_argument("--postgres-url", default=os.environ.get("BENCH_POSTGRES_URL"))
    parser.add_argument("--page-size", type=int, default=100)
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--repeats", type=int, default=None, help="default 2 up to 10k, else 1")
    parser.add_argument("--latency-count", type=int, default=100_000, help="0: no latency run")
    parser.add_argument("--latency-ms", type=int, default=50)
    parser.add_argument(
        "--latency-bare-in-turn",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="also time the bare fetch one page at a time in the latency run",
    )
    parser.add_argument("--keep", action="store_true", help="keep the temporary directories")
    parser.add_argument("--bare-fetch", metavar="BASE_URL", help=argparse.SUPPRESS)
    options = parser.parse_args()
    if options.bare_fetch:
        return bare_fetch(options.bare_fetch, options.page_size, options.concurrency)

    print(
        f"bench-sync {datetime.datetime.now().isoformat(timespec='seconds')} on "
        f"{machine()}; "
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

    if rows:
        rows_print(rows, engines)
    if latency_rows:
        bare, ours, one_at_a_time, *bare_in_turn = latency_rows
        print()
        print(
            f"Latency run (sqlite): {options.latency_count:,} contacts, {options.latency_ms} ms a "
            f"call, 15 a page"
        )
        for run in latency_rows:
            print(
                f"   {run.label:<28}{run.seconds:>8.1f} s own {run.wall_seconds:>8.1f} s wall "
                f"{run.rate:>8,.0f} contacts/s"
            )
        print(
            f"   ours / bare fetch, 4 at once: {ours.seconds / bare.seconds:.2f} own time, "
            f"{ours.wall_seconds / bare.wall_seconds:.2f} wall"
        )
        print(
            f"   ours one page at a time / ours 4 at once: "
            f"{one_at_a_time.seconds / ours.seconds:.2f} own time "
            f"({one_at_a_time.wall_seconds / ours.wall_seconds:.2f} wall)"
        )
        if bare_in_turn:
            print(
                f"   bare one page at a time / bare 4 at once: "
                f"{bare_in_turn[0].seconds / bare.seconds:.2f} own time: what concurrency "
                "itself buys"
            )
    return 0


def rows_print(rows: list[tuple[str, int, str, Run, Run]], engines: list[str]) -> None:
    """The table of the runs without latency, ours beside the bare fetch, and peak memory."""
    print()
    print("own: first request to last write committed (ours) or page decoded (bare), timed in")
    print("the process; wall: the whole command, interpreter and Django start included.")
    print(
        f"{'engine':<9}{'contacts':>10}  {'run':<7}{'ours s':>8}{'bare s':>8}{'ratio':>7}"
        f"{'ours wall':>10}{'bare wall':>10}{'ratio':>7}{'ours CPU':>9}{'bare CPU':>9}"
        f"{'ours c/s':>10}{'bare c/s':>10}{'ours RSS MiB':>13}"
    )
    print(f"{'':<28}{'(own time)':^23}{'(whole command)':^27}")
    for engine, count, label, ours, bare in rows:
        print(
            f"{engine:<9}{count:>10,}  {label:<7}{ours.seconds:>8.2f}{bare.seconds:>8.2f}"
            f"{ours.seconds / bare.seconds:>7.2f}{ours.wall_seconds:>10.2f}"
            f"{bare.wall_seconds:>10.2f}{ours.wall_seconds / bare.wall_seconds:>7.2f}"
            f"{ours.cpu_seconds:>9.1f}{bare.cpu_seconds:>9.1f}"
            f"{ours.rate:>10,.0f}{bare.rate:>10,.0f}{ours.peak_rss_mib:>13.1f}"
        )
    for engine in engines:
        peaks = [
            f"{ours.peak_rss_mib:.1f} MiB at {count:,}"
            for row_engine, count, label, ours, _bare in rows
            if row_engine == engine and label == "first"
        ]
        print(f"Peak RSS of ours (first sync), {engine}: {', '.join(peaks)}")


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
                    f"   run {repeat + 1}: bare {bares[-1].seconds:.2f}s, "
                    f"first {first.seconds:.2f}s ({first.summary}), second {second.seconds:.2f}s"
                    " (own times)",
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
            if options.latency_bare_in_turn:
                serial = argparse.Namespace(**{**vars(slow), "concurrency": 1})
                bare_in_turn = bare_measured(base_url, count, options=serial, directory=directory)
                bare_in_turn.label = "bare fetch, one at a time"
                print(f"   {bare_in_turn.label}: {bare_in_turn.seconds:.1f}s", flush=True)
                runs.append(bare_in_turn)
            return runs
        finally:
            process_stop(sandbox)
    finally:
        if not options.keep:
            shutil.rmtree(directory, ignore_errors=True)


def median_run(runs: list[Run]) -> Run:
    ordered = sorted(runs, key=lambda run: run.seconds)
    middle = ordered[(len(ordered) - 1) // 2]
    return Run(
        middle.label,
        middle.contacts,
        statistics.median(run.seconds for run in runs),
        statistics.median(run.wall_seconds for run in runs),
        statistics.median(run.cpu_seconds for run in runs),
        max(run.peak_rss_mib for run in runs),
        middle.summary,
    )


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
    run = measured(
        label, command, count=count, environment=environment, directory=directory, own=OURS_OWN_TIME
    )
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
    run = measured(
        "bare",
        command,
        count=count,
        environment=dict(os.environ),
        directory=directory,
        own=BARE_OWN_TIME,
    )
    if not run.summary.startswith(f"fetched {count} in "):
        raise SystemExit(f"The bare fetch did not fetch {count:,} contacts: {run.summary}")
    return run


def measured(
    label: str,
    command: list[str],
    *,
    count: int,
    environment: dict,
    directory: Path,
    own: re.Pattern,
) -> Run:
    """Run `command` and measure its wall time, CPU time and peak RSS (wait4 of that child);
    its own time is read from its last line with `own`."""
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
    summary = text.splitlines()[-1]
    own_time = own.search(summary)
    if own_time is None:
        raise SystemExit(f"{' '.join(command[1:3])} did not say how long it took: {summary}")
    cpu_seconds = usage.ru_utime + usage.ru_stime
    # ru_maxrss is in KiB on Linux.
    return Run(
        label,
        count,
        float(own_time.group(1)),
        seconds,
        cpu_seconds,
        usage.ru_maxrss / 1024,
        summary,
    )


def bare_fetch(base_url: str, page_size: int, concurrency: int) -> int:
    """The peer: every page fetched and decoded, `concurrency` at a time, nothing else."""
    import requests

    local = threading.local()
    started = time.perf_counter()

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
    print(f"fetched {fetched} in {time.perf_counter() - started:.3f}s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
