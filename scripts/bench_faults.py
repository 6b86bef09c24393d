"""Fault campaign for the edit outbox: edits made while LiveDesk fails, then counted.

    .venv/bin/python scripts/bench_faults.py                     # SQLite, 1,000 edits
    .venv/bin/python scripts/bench_faults.py --edits 300 --contacts 50
    BENCH_DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres \
        .venv/bin/python scripts/bench_faults.py                 # PostgreSQL

A benchmark, not a test: it prints figures and exits 0 unless it could not run. Everything
listens on 127.0.0.1 only and everything it starts is stopped at the end, on Ctrl-C or an error.

What runs (`faultcampaign`)

- `manage.py livedesk_sandbox` in its own process, seeded with --contacts contacts, and in front
  of it the fault proxy (`faultproxy`, threads in this process), the app's LIVEDESK_BASE_URL:
  --failure-rate of the LiveDesk API calls fail, in a fixed mix of 5xx, 429, hangs, resets and
  refusals drawn with --seed; besides, LiveDesk refuses every connection --outages times for
  --outage-seconds.
- A fresh database (`benchkit`): a SQLite file, or with --database-url / BENCH_DATABASE_URL a
  throwaway PostgreSQL database on that server; `migrate`, then `sync_contacts` (faults off).
- `manage.py db_worker`. Once, when --kill-at of the edits are made, it is SIGKILLed after
  LiveDesk applied one of its PATCHes and before the answer reaches it, and a new worker starts
  (killed anyway, and said so, if it sends no PATCH within 30 s).
- --agents threads making the edits through the real edit service (`contact_edit_submit`, as
  the edit page does). Edit n (1..--edits) sets one field of one contact (both drawn from
  --seed) among `name`, custom attributes `bench_a` and `bench_b` to the unique value `run-<n>`.
  Refused as a conflict (the field has a value still on its way), the agent uses "Edit and
  resend" on the newest unfinished edit, up to 50 times 0.1 s apart.

The app runs with a 0.5 s save budget, 1 s timeouts and one retry (so faults leave edits
queued), the worker's backoff 1 s doubling to 4 s and a 5 s lease (`faultcampaign.APP_SETTINGS`).
The 429s ask for 2 s; hangs last 2.5 s.

After the last edit: heal (no more faults), let the worker work alone for 12 s (longer than the
lease plus the longest backoff) and count the unfinished edits left with no worker task, or only
the 2-minute safety net, and the tasks a killed worker left RUNNING; then run `push_pending` and
let the worker drain until no edit is unfinished or --drain-timeout. The figures (delivered,
lost, duplicates, stuck...) are counted as `faultcount` documents. They vary from run to run:
the edits and the fault draws follow --seed, but which call takes which fault depends on timing.
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import benchkit  # noqa: E402
from faultcampaign import Campaign  # noqa: E402
from faultreport import report  # noqa: E402

sys.path.insert(0, str(benchkit.PROJECT_ROOT))


def main() -> int:
    options = arguments()

    def interrupted(signum, frame):
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, interrupted)
    directory = Path(tempfile.mkdtemp(prefix="bench-faults-"))
    print(f"== bench-faults in {directory}", flush=True)
    try:
        with (
            benchkit.throwaway_database(
                directory, options.database_url, keep=options.keep
            ) as database_url,
            benchkit.stopped([]) as processes,
        ):
            campaign = Campaign(options, directory=directory, processes=processes)
            try:
                campaign.prepare(database_url)
                campaign.run()
                campaign.heal_and_drain()
                report(campaign)
            finally:
                campaign.stop()
    except KeyboardInterrupt:
        print("\nInterrupted: everything started is stopped.", file=sys.stderr, flush=True)
        return 130
    finally:
        if not options.keep:
            shutil.rmtree(directory, ignore_errors=True)
    return 0


def arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--edits", type=int, default=1000, help="edits to make (default 1000)")
    parser.add_argument("--contacts", type=int, default=200, help="contacts (default 200)")
    parser.add_argument("--agents", type=int, default=4, help="agents editing at once (4)")
    parser.add_argument(
        "--failure-rate", type=float, default=0.3, help="share of LiveDesk calls failing (0.3)"
    )
    parser.add_argument("--seed", type=int, default=1, help="random seed of edits and faults")
    parser.add_argument("--outages", type=int, default=2, help="times LiveDesk refuses all (2)")
    parser.add_argument("--outage-seconds", type=float, default=1.5)
    parser.add_argument(
        "--kill-at", type=float, default=0.5, help="share of edits made when the worker is killed"
    )
    parser.add_argument("--drain-timeout", type=float, default=180.0, help="seconds (180)")
    parser.add_argument(
        "--database-url",
        default=os.environ.get("BENCH_DATABASE_URL", ""),
        help="a PostgreSQL server (postgres://user@host:port/db) to create a throwaway "
        "database on; default BENCH_DATABASE_URL, else a temporary SQLite file",
    )
    parser.add_argument(
        "--keep", action="store_true", help="keep the temporary directory (and the database)"
    )
    options = parser.parse_args()
    if options.edits < 1 or options.contacts < 1 or options.agents < 1:
        parser.error("--edits, --contacts and --agents must be at least 1")
    if not 0 <= options.failure_rate <= 1:
        parser.error("--failure-rate must be between 0 and 1")
    return options


if __name__ == "__main__":
    sys.exit(main())
