"""One timed pass over the audit chain, in a process of its own: the app's verify, or a bare
script reading the same rows and hashing them. Prints one JSON line: seconds, rows, peak RSS.

    .venv/bin/python scripts/bench_audit_verify.py ours|bare DATABASE_URL

ours: `audit_chain_verify(record=False)` from `contacts.services.audit_verify` (what
`manage.py verify_audit --no-record` runs).
bare: the DB-API alone (sqlite3 / psycopg), no Django: one SELECT of the same columns in seq
order, read 5,000 rows at a time (a server-side cursor on PostgreSQL), each row's fields
SHA-256'd. Only the pass is timed, not the imports or Django's setup.
"""

from __future__ import annotations

import hashlib
import json
import os
import resource
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit

CHUNK = 5_000
SELECT = (
    "SELECT seq, at, kind, contact_remote_id, edit_id, actor, data, prev_hash, hash "
    "FROM contacts_auditevent"
)


def bare(database_url: str) -> dict:
    """Read every event in seq order with the bare DB-API and hash each row's fields."""
    sha256 = hashlib.sha256
    count, last = 0, ""
    if database_url.startswith("sqlite"):
        import sqlite3

        connection = sqlite3.connect(urlsplit(database_url).path)
        cursor = connection.cursor()
    else:
        import psycopg

        connection = psycopg.connect(database_url)
        cursor = connection.cursor(name="bare_verify")
    began = time.perf_counter()
    cursor.execute(f"{SELECT} ORDER BY seq")
    while rows := cursor.fetchmany(CHUNK):
        for row in rows:
            last = sha256("\x1f".join(map(str, row)).encode()).hexdigest()
        count += len(rows)
    seconds = time.perf_counter() - began
    connection.close()
    return {"seconds": seconds, "count": count, "last": last, "implementation": "DB-API"}


def ours(database_url: str) -> dict:
    os.environ["DATABASE_URL"] = database_url
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "livedesk_admin.settings")
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    import django

    django.setup()
    from contacts.services.audit_verify import audit_chain_verify

    implementation = "contacts.services.audit_verify.audit_chain_verify(record=False)"
    began = time.perf_counter()
    report = audit_chain_verify(record=False)
    seconds = time.perf_counter() - began
    if not report.ok:
        raise SystemExit(f"The chain is broken at #{report.broken_seq}: {report.problem}")
    return {
        "seconds": seconds,
        "count": report.count,
        "last": report.head,
        "implementation": implementation,
    }


def peak_rss_mib() -> float:
    """This process's peak resident memory. /proc's VmHWM, not getrusage: on Linux a process's
    ru_maxrss keeps the high-water mark of the process it was forked from."""
    status = Path("/proc/self/status")
    if status.exists():
        for line in status.read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> None:
    kind, database_url = sys.argv[1], sys.argv[2]
    result = bare(database_url) if kind == "bare" else ours(database_url)
    result["peak_rss_mib"] = peak_rss_mib()
    print(json.dumps(result))


if __name__ == "__main__":
    main()
