"""Verification of the audit log's chain: `manage.py verify_audit`, and the worker's scheduled
verification. A chain written by the app verifies; a row changed or deleted by raw SQL with the
database's triggers dropped is found and named."""

from __future__ import annotations

import json
import logging
from datetime import timedelta
from io import StringIO

import django_tasks
import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone
from django_tasks import TaskResultStatus
from django_tasks_db.models import DBTaskResult

from contacts import audit_reads
from contacts.audit_chain import GENESIS, at_text, data_text, event_hash
from contacts.models import AuditCheck, AuditEvent
from contacts.services.audit_verify import audit_chain_verify, audit_verify_task
from contacts.services.sync import contacts_sync_task
from contacts.tests.factories import (
    audit_events_appended,
    audit_tampered,
    chain_written_by_the_app,
)

# db_worker installs its own signal handlers: the retry task's tests give pytest its own back.
from contacts.tests.services.test_tasks import signal_handlers_restored  # noqa: F401

pytestmark = pytest.mark.django_db

VERIFY_TASK = "contacts.services.audit_verify.audit_verify_task"


def verify_audit(*args: str) -> str:
    out = StringIO()
    call_command("verify_audit", *args, stdout=out)
    return out.getvalue()


def verify_audit_broken(*args: str) -> str:
    with pytest.raises(CommandError) as broken:
        verify_audit(*args)
    assert broken.value.returncode == 1  # manage.py exits with it
    return str(broken.value)


def test_a_chain_written_by_the_app_verifies_with_its_count_and_head(sandbox, agent):
    chain_written_by_the_app(sandbox=sandbox, agent=agent)
    head = AuditEvent.objects.order_by("-seq").first()
    kinds = set(AuditEvent.objects.values_list("kind", flat=True))

    out = verify_audit()

    assert {"edit.recorded", "edit.delivered", "edit.attempt_failed"} <= kinds
    assert out == f"OK: {head.seq} events, head {head.hash}\n"
    check = AuditCheck.objects.get()
    assert (check.ok, check.count, check.head, check.broken_seq) == (
        True,
        head.seq,
        head.hash,
        None,
    )


def test_an_empty_log_verifies():
    assert verify_audit() == f"OK: 0 events, head {GENESIS}\n"


def test_no_record_saves_no_check():
    audit_events_appended(2)

    assert verify_audit("--no-record").startswith("OK: 2 events")
    assert not AuditCheck.objects.exists()


def test_data_changed_by_raw_sql_is_found_and_named(sandbox, agent):
    chain_written_by_the_app(sandbox=sandbox, agent=agent)
    target = AuditEvent.objects.filter(kind="edit.recorded").order_by("seq")[1]
    forged = {**target.values, "changes": []}
    audit_tampered(
        f"UPDATE {AuditEvent._meta.db_table} SET data = %s WHERE seq = %s",
        [json.dumps(forged, sort_keys=True, separators=(",", ":")), target.seq],
    )

    message = verify_audit_broken()

    assert message.startswith(f"BROKEN at event #{target.seq}: content does not match its hash;")
    assert f"found {target.hash}" in message
    assert f"({target.seq - 1} sound events before it)" in message
    check = AuditCheck.objects.get()
    assert (check.ok, check.broken_seq, check.count) == (False, target.seq, target.seq - 1)
    assert check.found == target.hash


def test_a_changed_kind_is_found():
    audit_events_appended(5)
    audit_tampered(
        f"UPDATE {AuditEvent._meta.db_table} SET kind = %s WHERE seq = %s", ["edit.discarded", 3]
    )

    assert verify_audit_broken().startswith("BROKEN at event #3: content does not match its hash")


def test_a_deleted_event_leaves_a_gap_that_is_found():
    events = audit_events_appended(5)
    audit_tampered(f"DELETE FROM {AuditEvent._meta.db_table} WHERE seq = %s", [3])

    message = verify_audit_broken()

    assert message == (
        "BROKEN at event #4: sequence number out of order; expected 3, found 4 "
        "(2 sound events before it)"
    )
    assert audit_chain_verify(record=False).head == events[1].hash


def test_an_event_forged_with_its_hash_made_again_breaks_the_next_link():
    events = audit_events_appended(4)
    forged = data_text({"number": 1, "name": "Someone else"})
    second = events[1]
    forged_hash = event_hash(
        seq=2,
        at=at_text(second.at),
        kind=second.kind,
        contact=second.contact_remote_id,
        edit=second.edit_id,
        actor=second.actor,
        data=forged,
        prev=second.prev_hash,
    )
    audit_tampered(
        f"UPDATE {AuditEvent._meta.db_table} SET data = %s, hash = %s WHERE seq = %s",
        [forged, forged_hash, 2],
    )

    assert verify_audit_broken() == (
        f"BROKEN at event #3: previous hash does not match; expected {forged_hash}, "
        f"found {second.hash} (2 sound events before it)"
    )


def test_the_check_carries_the_chain_across_chunks(monkeypatch):
    monkeypatch.setattr(audit_reads, "CHUNK_SIZE", 5)
    events = audit_events_appended(12)

    assert audit_chain_verify(record=False).count == 12
    audit_tampered(
        f"UPDATE {AuditEvent._meta.db_table} SET prev_hash = %s WHERE seq = %s", [GENESIS, 6]
    )

    report = audit_chain_verify(record=False)
    assert (report.broken_seq, report.count, report.head) == (6, 5, events[4].hash)
    assert (report.expected, report.found) == (events[4].hash, GENESIS)


def test_the_scheduled_verification_logs_an_error_naming_the_broken_event(caplog, settings):
    settings.LIVEDESK_AUDIT_VERIFY_SECONDS = 3600
    audit_events_appended(3)
    audit_tampered(f"UPDATE {AuditEvent._meta.db_table} SET actor = %s WHERE seq = %s", ["x", 2])

    with caplog.at_level(logging.ERROR, logger="contacts"):
        outcome = audit_verify_task.call()

    assert outcome.startswith("BROKEN at event #2")
    [record] = caplog.records
    assert record.levelno == logging.ERROR
    assert record.name == "contacts.services.audit_verify"
    assert "BROKEN at event #2" in record.getMessage()
    assert AuditCheck.objects.get().broken_seq == 2
    [following] = django_tasks.default_task_backend.results
    assert following.task.module_path == VERIFY_TASK


def test_a_sound_chain_logs_no_error(caplog):
    audit_events_appended(3)

    with caplog.at_level(logging.ERROR, logger="contacts"):
        outcome = audit_verify_task.call()

    assert outcome.startswith("OK: 3 events")
    assert caplog.records == []


@pytest.fixture
def database_queue(settings):
    settings.TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend"}}


def verifications_waiting() -> list[DBTaskResult]:
    return list(DBTaskResult.objects.filter(task_path=VERIFY_TASK, status=TaskResultStatus.READY))


def test_schedule_sync_starts_the_verifications_once(database_queue, settings):
    settings.LIVEDESK_AUDIT_VERIFY_SECONDS = 3600
    out = StringIO()

    call_command("schedule_sync", stdout=out)
    call_command("schedule_sync", stdout=StringIO())

    assert len(verifications_waiting()) == 1
    assert "Next verification of the audit log" in out.getvalue()


def test_an_interval_of_zero_schedules_no_verification(database_queue, settings):
    settings.LIVEDESK_AUDIT_VERIFY_SECONDS = 0
    out = StringIO()

    call_command("schedule_sync", stdout=out)

    assert verifications_waiting() == []
    assert "verifications of the audit log are off" in out.getvalue()


def test_each_scheduled_sync_starts_the_verifications_again_if_their_chain_broke(
    sandbox, database_queue, settings
):
    settings.LIVEDESK_AUDIT_VERIFY_SECONDS = 3600

    contacts_sync_task.call()
    contacts_sync_task.call()

    assert len(verifications_waiting()) == 1


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("signal_handlers_restored")
def test_the_worker_runs_a_due_verification_and_leaves_the_next_one_waiting(
    database_queue, settings
):
    settings.LIVEDESK_AUDIT_VERIFY_SECONDS = 3600
    settings.LIVEDESK_SYNC_INTERVAL_SECONDS = 0  # no sync (and no LiveDesk) in this test
    events = audit_events_appended(3)
    call_command("schedule_sync", stdout=StringIO())  # as `make run` does
    DBTaskResult.objects.update(run_after=timezone.now() - timedelta(seconds=1))

    call_command(
        "db_worker", batch=True, reload=False, startup_delay=False, interval=0, verbosity=0
    )

    ran = DBTaskResult.objects.get(task_path=VERIFY_TASK, status=TaskResultStatus.SUCCESSFUL)
    assert ran.return_value == f"OK: 3 events, head {events[-1].hash}"
    assert AuditCheck.objects.get().ok
    [following] = verifications_waiting()
    assert following.run_after > ran.started_at + timedelta(minutes=59)
