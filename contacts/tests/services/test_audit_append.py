"""The audit log's append writes its rows with raw SQL: what it stores is what the chain hashed,
however many events one call appends."""

from __future__ import annotations

import pytest

from contacts.audit_chain import ROW_COLUMNS, chain_check
from contacts.models import AuditEvent
from contacts.services import audit

pytestmark = pytest.mark.django_db


def stored_chain():
    return chain_check(AuditEvent.objects.order_by("seq").values_list(*ROW_COLUMNS))


def test_appended_events_are_stored_as_hashed():
    first = audit.events_append([audit.Event(audit.EventKind.OUTSIDE_CHANGE, {"n": 1}, contact=7)])
    second = audit.events_append(
        [
            audit.Event(audit.EventKind.DEFINITION_SAVED, {"name": "tier"}, actor="ann"),
            audit.Event(audit.EventKind.EDIT_DISCARDED, {"reason": "ผิด"}, contact=7, edit=3),
        ]
    )

    report = stored_chain()
    assert report.ok, report
    assert report.count == 3
    assert report.head == second[-1].hash
    assert [event.seq for event in first + second] == [1, 2, 3]
    assert AuditEvent.objects.get(seq=3).values == {"reason": "ผิด"}
    assert not any(event._state.adding for event in first + second)


def test_one_append_of_more_events_than_one_insert_holds_is_one_chain():
    # Three INSERTs, each batch chained on from the one before.
    count = 2 * audit.INSERT_BATCH + 2_000
    events = [audit.Event(audit.EventKind.OUTSIDE_CHANGE, {"n": n}) for n in range(count)]

    appended = audit.events_append(events)

    report = stored_chain()
    assert report.ok, report
    assert report.count == count == len(appended)
    assert report.head == appended[-1].hash
