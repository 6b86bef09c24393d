"""What one saved edit costs beside a bare PATCH, measured side by side in one run.

    .venv/bin/python scripts/bench_push.py [--edits 300] [--database-url postgres://...]

The sandbox runs in its own process; this process is the app (a fresh SQLite file, or a
throwaway PostgreSQL database). Rounds alternate, so a busy machine slows every kind alike:
- bare PATCH: `LiveDeskClient.contact_update` alone, the peer;
- bare GET + PATCH: the two calls of read-before-write, without the app around them;
- saved edit: `contact_edit_submit` as an agent's Save runs it (record in the outbox, claim,
  read LiveDesk, compare three ways, PATCH, record the outcome and the mirror).
Prints the median and 90th percentile of each, and the ratios to the bare PATCH.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import benchkit  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--edits", type=int, default=300)
    parser.add_argument("--database-url", default=os.environ.get("BENCH_DATABASE_URL"))
    options = parser.parse_args()
    directory = Path(tempfile.mkdtemp(prefix="bench-push-"))
    try:
        with benchkit.throwaway_database(directory, options.database_url) as database_url:
            environment = benchkit.app_environment(directory, database_url)
            with benchkit.stopped([]) as processes:
                sandbox, sandbox_url = benchkit.sandbox_start(
                    directory, count=20, environment=environment
                )
                processes.append(sandbox)
                environment["LIVEDESK_BASE_URL"] = sandbox_url
                os.environ.update(environment)
                benchkit.manage("migrate", "--no-input", environment=environment)
                benchkit.manage("sync_contacts", "--no-progress", environment=environment)
                timings = measure(options.edits)
        engine = "PostgreSQL" if options.database_url else "SQLite"
        report(timings, engine=engine)
    finally:
        shutil.rmtree(directory, ignore_errors=True)
    return 0


def measure(rounds: int) -> dict[str, list[float]]:
    import django

    sys.path.insert(0, str(benchkit.PROJECT_ROOT))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "livedesk_admin.settings")
    django.setup()
    from django.contrib.auth import get_user_model

    from contacts import services
    from contacts.fields import contact_values
    from contacts.livedesk import LiveDeskClient
    from contacts.models import Contact

    agent = get_user_model().objects.create_user(username="bench-agent")
    contacts = list(Contact.objects.order_by("remote_id"))
    timings: dict[str, list[float]] = {"bare PATCH": [], "bare GET + PATCH": [], "saved edit": []}
    # The bare calls change other contacts than the saved edits, which would otherwise meet
    # them as changes made outside the app.
    bare, saved = contacts[::2], contacts[1::2]
    with LiveDeskClient() as client:
        for n in range(rounds):
            remote_id = bare[n % len(bare)].remote_id
            started = time.perf_counter()
            client.contact_update(remote_id, {"name": f"bare-{n}"})
            timings["bare PATCH"].append(time.perf_counter() - started)

            started = time.perf_counter()
            client.contact_get(remote_id)
            client.contact_update(remote_id, {"name": f"read-{n}"})
            timings["bare GET + PATCH"].append(time.perf_counter() - started)

            contact = saved[n % len(saved)]
            contact.refresh_from_db()
            values = contact_values(contact)
            started = time.perf_counter()
            submission = services.contact_edit_submit(
                contact=contact,
                editor=agent,
                values={**values, "name": f"saved-{n}"},
                base_values=values,
                base_version=contact.version,
            )
            timings["saved edit"].append(time.perf_counter() - started)
            if submission.outcome != services.EditOutcome.SAVED:
                raise SystemExit(f"Edit {n} was not saved: {submission.outcome}")
    return timings


def report(timings: dict[str, list[float]], *, engine: str) -> None:
    peer = statistics.median(timings["bare PATCH"])
    print(f"\n{engine}, {len(timings['bare PATCH'])} rounds, side by side:")
    print(f"{'':<18} {'median ms':>10} {'p90 ms':>8} {'x bare PATCH':>13}")
    for label, seconds in timings.items():
        ordered = sorted(seconds)
        median = statistics.median(ordered)
        p90 = ordered[int(len(ordered) * 0.9)]
        print(f"{label:<18} {median * 1000:>10.2f} {p90 * 1000:>8.2f} {median / peer:>13.2f}")


if __name__ == "__main__":
    sys.exit(main())
