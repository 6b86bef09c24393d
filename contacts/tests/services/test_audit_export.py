"""The audit log's export (`manage.py export_audit`): each event as the chain hashes it, with its
hash, so that README's stand-alone snippet re-computes the chain outside the app."""

from __future__ import annotations

import csv
import json
import re
import shutil
import subprocess
import sys
from datetime import UTC, datetime
from io import StringIO
from pathlib import Path
from unittest import mock

import pytest
from django.conf import settings
from django.core.management import call_command

from contacts.audit_chain import event_hash
from contacts.models import AuditEvent
from contacts.tests.factories import audit_events_appended, chain_written_by_the_app

pytestmark = pytest.mark.django_db

README = Path(settings.BASE_DIR) / "README.md"
SNIPPET = re.compile(
    r"<!-- audit-snippet:start -->\s*```python\n(?P<code>.*?)```\s*<!-- audit-snippet:end -->",
    re.DOTALL,
)
# The snippet is for any Python 3 an auditor has: run by the system's, without the app's venv.
SYSTEM_PYTHON = shutil.which("python3", path="/usr/bin:/bin") or sys.executable


def export_audit(*args: str) -> str:
    out = StringIO()
    call_command("export_audit", *args, stdout=out)
    return out.getvalue()


def exported_events(text: str) -> list[dict]:
    return [json.loads(line) for line in text.splitlines()]


@pytest.fixture
def readme_snippet(tmp_path) -> Path:
    code = SNIPPET.search(README.read_text(encoding="utf-8"))["code"]
    assert len(code.splitlines()) <= 25
    path = tmp_path / "check_audit.py"
    path.write_text(code, encoding="utf-8")
    return path


def snippet_run(snippet: Path, export: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [SYSTEM_PYTHON, "-I", str(snippet), str(export), *args],
        capture_output=True,
        text=True,
        timeout=30,
    )


@pytest.fixture
def whole_export(sandbox, agent, tmp_path) -> Path:
    chain_written_by_the_app(sandbox=sandbox, agent=agent)
    path = tmp_path / "audit.jsonl"
    call_command("export_audit", "--since", "2000-01-01", "--output", str(path))
    return path


def test_the_readme_snippet_verifies_an_export_of_a_chain_written_by_the_app(
    whole_export, readme_snippet
):
    head = AuditEvent.objects.order_by("-seq").first()

    checked = snippet_run(readme_snippet, whole_export)

    assert checked.returncode == 0, checked.stderr
    assert checked.stdout == f"OK: {head.seq} events, head {head.hash}\n"


def test_the_readme_snippet_reports_a_line_whose_content_was_changed(whole_export, readme_snippet):
    lines = whole_export.read_text(encoding="utf-8").splitlines(keepends=True)
    event = json.loads(lines[2])
    event["actor"] = "someone-else"
    lines[2] = json.dumps(event, ensure_ascii=False) + "\n"
    whole_export.write_text("".join(lines), encoding="utf-8")

    checked = snippet_run(readme_snippet, whole_export)

    assert checked.returncode != 0
    assert checked.stderr == f"BAD line 3: event #{event['seq']} does not match its hash\n"


def test_the_readme_snippet_reports_a_line_forged_with_its_hash_made_again(
    whole_export, readme_snippet
):
    lines = whole_export.read_text(encoding="utf-8").splitlines(keepends=True)
    event = json.loads(lines[1])
    event.pop("hash")
    event["data"] = {"forged": True}
    data = json.dumps(event["data"], sort_keys=True, separators=(",", ":"))
    event["hash"] = event_hash(**{**event, "data": data})
    lines[1] = json.dumps(event) + "\n"
    whole_export.write_text("".join(lines), encoding="utf-8")

    checked = snippet_run(readme_snippet, whole_export)

    assert checked.returncode != 0
    assert checked.stderr == "BAD line 3: event #3 does not follow the line before\n"


def test_the_readme_snippet_checks_one_contacts_events_without_their_links(
    sandbox, agent, tmp_path, readme_snippet
):
    ann, _bob = chain_written_by_the_app(sandbox=sandbox, agent=agent)
    path = tmp_path / "ann.jsonl"
    call_command(
        "export_audit",
        "--since",
        "2000-01-01",
        "--contact",
        str(ann.remote_id),
        "--output",
        str(path),
    )

    assert snippet_run(readme_snippet, path, "--no-links").returncode == 0
    assert "does not follow" in snippet_run(readme_snippet, path).stderr


def test_a_jsonl_line_is_the_event_the_chain_hashes_with_its_hash(sandbox, agent):
    chain_written_by_the_app(sandbox=sandbox, agent=agent)
    stored = {event.seq: event for event in AuditEvent.objects.all()}

    events = exported_events(export_audit("--since", "2000-01-01"))

    assert [event["seq"] for event in events] == sorted(stored)
    for event in events:
        row = stored[event["seq"]]
        assert list(event) == [*sorted(set(event) - {"hash"}), "hash"]
        assert event["data"] == row.values
        assert (event["kind"], event["contact"], event["edit"], event["actor"]) == (
            row.kind,
            row.contact_remote_id,
            row.edit_id,
            row.actor,
        )
        assert (event["prev"], event["hash"]) == (row.prev_hash, row.hash)
        assert datetime.fromisoformat(event["at"]) == row.at


def test_the_csv_holds_the_same_columns_with_data_as_its_json_text(sandbox, agent):
    chain_written_by_the_app(sandbox=sandbox, agent=agent)
    events = exported_events(export_audit("--since", "2000-01-01"))

    rows = list(csv.DictReader(StringIO(export_audit("--since", "2000-01-01", "--format", "csv"))))

    assert list(rows[0]) == [
        "seq",
        "at",
        "kind",
        "contact",
        "edit",
        "actor",
        "data",
        "prev",
        "hash",
    ]
    assert len(rows) == len(events)
    for row, event in zip(rows, events, strict=True):
        assert row["data"] == json.dumps(
            event["data"], sort_keys=True, separators=(",", ":"), ensure_ascii=False
        )
        assert row["contact"] == ("" if event["contact"] is None else str(event["contact"]))
        assert (row["seq"], row["at"], row["hash"]) == (
            str(event["seq"]),
            event["at"],
            event["hash"],
        )


def appended_on(day: datetime, count: int, **options) -> list[AuditEvent]:
    with mock.patch("django.utils.timezone.now", return_value=day):
        return audit_events_appended(count, **options)


def test_since_and_contact_choose_the_events(settings):
    settings.TIME_ZONE = "UTC"
    appended_on(datetime(2026, 1, 10, 12, tzinfo=UTC), 2, contact=7)
    later_of_7 = appended_on(datetime(2026, 3, 1, 0, 0, tzinfo=UTC), 2, contact=7)
    appended_on(datetime(2026, 3, 2, tzinfo=UTC), 1, contact=8)

    since_march = exported_events(export_audit("--since", "2026-03-01"))
    of_7_since_march = exported_events(export_audit("--since", "2026-03-01", "--contact", "7"))

    assert [event["seq"] for event in since_march] == [3, 4, 5]
    assert [event["seq"] for event in of_7_since_march] == [e.seq for e in later_of_7]
    assert export_audit("--since", "2026-03-03") == ""


def test_since_is_a_day_in_the_apps_time_zone(settings):
    settings.TIME_ZONE = "Asia/Bangkok"
    # 2026-02-28 18:00 UTC is already 1 March in Bangkok (UTC+7).
    appended_on(datetime(2026, 2, 28, 16, 59, tzinfo=UTC), 1)
    appended_on(datetime(2026, 2, 28, 18, 0, tzinfo=UTC), 1)

    assert [e["seq"] for e in exported_events(export_audit("--since", "2026-03-01"))] == [2]


def test_a_long_log_is_exported_in_chunks(monkeypatch):
    monkeypatch.setattr("contacts.audit_reads.CHUNK_SIZE", 4)
    audit_events_appended(10)

    assert [e["seq"] for e in exported_events(export_audit("--since", "2000-01-01"))] == list(
        range(1, 11)
    )
