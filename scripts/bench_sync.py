"""Benchmark `manage.py sync_contacts` against the LiveDesk sandbox: time, rate and peak memory.

    .venv/bin/python scripts/bench_sync.py                  # 10,000 then 100,000 contacts
    .venv/bin/python scripts/bench_sync.py --count 100000   # one size only

For each size: a `manage.py livedesk_sandbox` subprocess seeds its own store with N contacts in
a temporary directory and serves it on a free port; a fresh SQLite database is migrated; then
`manage.py sync_contacts --no-progress` runs twice as a subprocess (first run: every contact
created; second run: every contact unchanged). Each run's wall time and peak RSS come from the
child alone (os.wait4), so the sandbox, in a process of its own, is not counted.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from benchkit import API_KEY, API_SECRET, MANAGE, PROJECT_ROOT, process_stop, sandbox_start  # noqa: E402


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
    parser.add_argument(
        "--count",
        type=int,
        nargs="+",
        default=[10_000, 100_000],
        metavar="N",
        help="contacts to seed and sync; several sizes compare peak memory (default 10000 100000)",
    )
    parser.add_argument("--page-size", type=int, default=None, help="passed to sync_contacts")
    parser.add_argument("--keep", action="store_true", help="keep the temporary directories")
    options = parser.parse_args()

    results: dict[int, list[Run]] = {}
    for count in options.count:
        results[count] = bench_one_size(count, page_size=options.page_size, keep=options.keep)

    print()
    print(f"{'contacts':>9}  {'run':<7} {'seconds':>8} {'contacts/s':>11} {'peak RSS MiB':>13}")
    for count, runs in results.items():
        for run in runs:
            print(
                f"{count:>9,}  {run.label:<7} {run.seconds:>8.1f} {run.rate:>11,.0f} "
                f"{run.peak_rss_mib:>13.1f}"
            )
    if len(results) > 1:
        for index, label in enumerate(("first", "second")):
            peaks = ", ".join(
                f"{runs[index].peak_rss_mib:.1f} MiB at {count:,}"
                for count, runs in results.items()
            )
            print(f"Peak RSS of the {label} run: {peaks}")
    return 0


def bench_one_size(count: int, *, page_size: int | None, keep: bool) -> list[Run]:
    directory = Path(tempfile.mkdtemp(prefix=f"bench-sync-{count}-"))
    print(f"== {count:,} contacts in {directory}", flush=True)
    environment = {
        **os.environ,
        "DEBUG": "false",
        "SECRET_KEY": "bench-sync-not-secret",
        "LIVEDESK_API_KEY": API_KEY,
        "LIVEDESK_API_SECRET": API_SECRET,
        "DATABASE_URL": f"sqlite:///{directory / 'app.sqlite3'}",
        "LOG_LEVEL": "WARNING",
        "PYTHONUNBUFFERED": "1",
    }
    try:
        started = time.perf_counter()
        sandbox, base_url = sandbox_start(
            directory,
            count=count,
            # The sandbox's own settings need some LiveDesk address while DEBUG is off.
            environment={**environment, "LIVEDESK_BASE_URL": "http://127.0.0.1"},
        )
        try:
            print(
                f"   sandbox seeded, serving on {base_url} in {time.perf_counter() - started:.1f}s"
            )
            environment["LIVEDESK_BASE_URL"] = base_url
            return sync_twice(
                count, page_size=page_size, environment=environment, directory=directory
            )
        finally:
            process_stop(sandbox)
    finally:
        if not keep:
            shutil.rmtree(directory, ignore_errors=True)


def sync_twice(
    count: int, *, page_size: int | None, environment: dict, directory: Path
) -> list[Run]:
    """Migrate a fresh database, then sync into it twice: all created, then all unchanged."""
    subprocess.run(
        [sys.executable, MANAGE, "migrate", "--no-input", "-v", "0"],
        cwd=PROJECT_ROOT,
        env=environment,
        check=True,
    )
    sync = [sys.executable, MANAGE, "sync_contacts", "--no-progress"]
    if page_size:
        sync += ["--page-size", str(page_size)]
    runs = []
    for label in ("first", "second"):
        run = measured(label, sync, count=count, environment=environment, directory=directory)
        print(f"   {label} run: {run.summary}", flush=True)
        runs.append(run)
    mirrored, versions = mirror_check(directory / "app.sqlite3")
    print(f"   mirror: {mirrored:,} contacts, versions {sorted(versions)}")
    if mirrored != count:
        raise SystemExit(f"The mirror holds {mirrored:,} contacts, not {count:,}.")
    return runs


def measured(
    label: str, command: list[str], *, count: int, environment: dict, directory: Path
) -> Run:
    """Run `command` and measure its wall time and its own peak RSS (wait4 of that child)."""
    output_path = directory / f"sync-{label}.out"
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
        raise SystemExit(f"sync_contacts failed ({process.returncode}):\n{text}")
    # ru_maxrss is in KiB on Linux.
    return Run(label, count, seconds, usage.ru_maxrss / 1024, text.splitlines()[-1])


def mirror_check(database: Path) -> tuple[int, set[int]]:
    with sqlite3.connect(database) as connection:
        mirrored = connection.execute("SELECT COUNT(*) FROM contacts_contact").fetchone()[0]
        versions = {
            row[0] for row in connection.execute("SELECT DISTINCT version FROM contacts_contact")
        }
    return mirrored, versions


if __name__ == "__main__":
    sys.exit(main())
