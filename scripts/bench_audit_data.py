"""The rows the audit benchmark runs on: a history of edits, and a real hash chain of events.

Both are written in big batches (COPY on PostgreSQL, executemany on SQLite): at a million
events the ORM's objects would take minutes. The events are chained exactly as the app chains
them (`contacts.audit_chain`), from the chain's head on, so `verify_audit` finds them sound.
Their data are the app's own: an edit.recorded and an edit.delivered event the app wrote for a
real push to the sandbox, copied with the name and the contact changed for each edit.
"""

from __future__ import annotations

import json
import random
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from bench_admin_data import FIRST_NAMES, LAST_NAMES

BATCH = 20_000
EDITORS = 25
TEMPLATE_NAME = "Audit Template Name"
# The sandbox's contacts have ids from 318,001: the filled contacts stay below.
FILLED_REMOTE_IDS_BELOW = 318_001


def rows_insert(model, columns: list[str], rows: list[tuple]) -> None:
    """Insert rows (values in the order of `columns`) in one transaction."""
    from django.db import connection, transaction

    table = connection.ops.quote_name(model._meta.db_table)
    names = ", ".join(connection.ops.quote_name(column) for column in columns)
    with transaction.atomic(), connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            with cursor.cursor.copy(f"COPY {table} ({names}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
        else:
            marks = ", ".join(["%s"] * len(columns))
            cursor.executemany(f"INSERT INTO {table} ({names}) VALUES ({marks})", rows)


def tables_analyze() -> None:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE" if connection.vendor == "postgresql" else "ANALYZE")


def edits_fill(count: int, rng: random.Random) -> list[tuple[int, int, datetime]]:
    """`count` finished edits of the filled contacts over the last two years, oldest first;
    their (id, contact's LiveDesk id, time)."""
    from django.contrib.auth import get_user_model
    from django.db import connection
    from django.utils import timezone

    from contacts.models import Contact, ContactEdit

    editors = [
        get_user_model().objects.get_or_create(username=f"agent{number:02d}")[0]
        for number in range(EDITORS)
    ]
    contacts = list(
        Contact.objects.filter(remote_id__lt=FILLED_REMOTE_IDS_BELOW).values_list("pk", "remote_id")
    )
    fields = [f for f in ContactEdit._meta.concrete_fields if not f.primary_key]
    adapt = connection.ops.adapt_datetimefield_value
    first_id = (ContactEdit.objects.order_by("-pk").values_list("pk", flat=True).first() or 0) + 1
    start = timezone.now() - timedelta(days=730)
    step = timedelta(days=730) / max(count, 1)
    for batch_start in range(0, count, BATCH):
        rows = []
        for number in range(batch_start, min(batch_start + BATCH, count)):
            editor = rng.choice(editors)
            contact_pk, _remote_id = rng.choice(contacts)
            at = start + step * number
            before, after = rng.choice(FIRST_NAMES), rng.choice(FIRST_NAMES)
            discarded = rng.random() < 0.03
            values = {
                "created_at": at,
                "contact_id": contact_pk,
                "editor_id": editor.pk,
                "editor_username": editor.username,
                "source": "agent",
                "base_version": 1,
                "changes": [{"field": "name", "label": "Name", "before": before, "after": after}],
                "request_body": {"name": after},
                "state": "discarded" if discarded else "succeeded",
                "http_status": None if discarded else 200,
                "attempts": 0 if discarded else 1,
                "last_attempt_at": None if discarded else at,
                "finished_at": at,
            }
            rows.append(tuple(_column_value(f, values, adapt) for f in fields))
        rows_insert(ContactEdit, [f.column for f in fields], rows)
    remote_ids = dict(contacts)
    filled = ContactEdit.objects.filter(pk__gte=first_id).order_by("pk")
    return [
        (pk, remote_ids[contact_pk], at)
        for pk, contact_pk, at in filled.values_list("pk", "contact_id", "created_at").iterator()
    ]


def _column_value(field, values: dict, adapt):
    value = values[field.attname] if field.attname in values else field.get_default()
    if value is None:
        return None
    kind = field.get_internal_type()
    if kind == "JSONField":
        return json.dumps(value)
    if kind == "DateTimeField":
        return adapt(value)
    return value


@dataclass(frozen=True)
class EventTemplate:
    """An event the app wrote, as text to copy: its contact's id and the edit's new name are
    replaced in each copy."""

    kind: str
    actor: str
    data: str
    remote_id: str

    def data_for(self, *, remote_id: int, name: str) -> str:
        return self.data.replace(TEMPLATE_NAME, name).replace(self.remote_id, str(remote_id))


def templates_of(edit_id: int) -> list[EventTemplate]:
    """The events the app wrote for one edit (recorded, delivered), as templates."""
    from contacts.models import AuditEvent

    events = AuditEvent.objects.filter(edit_id=edit_id).order_by("seq")
    return [
        EventTemplate(event.kind, event.actor, event.data, str(event.contact_remote_id))
        for event in events
    ]


@dataclass
class ChainFill:
    """Appends events after the chain's head: the templates in turn for each filled edit."""

    edits: list[tuple[int, int, datetime]]
    templates: list[EventTemplate]
    written: int = 0
    names: list[str] = field(
        default_factory=lambda: [f"{first} {last}" for first in FIRST_NAMES for last in LAST_NAMES]
    )

    def fill_to(self, total: int) -> float:
        """Append events until the chain holds `total`; the seconds it took."""
        from django.db import connection

        from contacts.audit_chain import GENESIS, at_text, event_hash
        from contacts.models import AuditEvent

        began = time.perf_counter()
        seq, prev = AuditEvent.objects.order_by("-seq").values_list("seq", "hash").first() or (
            0,
            GENESIS,
        )
        columns = [
            "seq",
            "at",
            "kind",
            "contact_remote_id",
            "edit_id",
            "actor",
            "data",
            "prev_hash",
            "hash",
        ]
        adapt = connection.ops.adapt_datetimefield_value
        per_edit = len(self.templates)
        rows = []
        while seq < total:
            edit_id, remote_id, created_at = self.edits[
                (self.written // per_edit) % len(self.edits)
            ]
            template = self.templates[self.written % per_edit]
            at = created_at + timedelta(milliseconds=150 * (self.written % per_edit))
            data = template.data_for(
                remote_id=remote_id, name=self.names[self.written % len(self.names)]
            )
            seq += 1
            digest = event_hash(
                seq=seq,
                at=at_text(at),
                kind=template.kind,
                contact=remote_id,
                edit=edit_id,
                actor=template.actor,
                data=data,
                prev=prev,
            )
            kind, actor = template.kind, template.actor
            rows.append((seq, adapt(at), kind, remote_id, edit_id, actor, data, prev, digest))
            prev = digest
            self.written += 1
            if len(rows) == BATCH or seq == total:
                rows_insert(AuditEvent, columns, rows)
                rows = []
        tables_analyze()
        return time.perf_counter() - began
