"""Audit events in words: the line of a story an agent or an auditor reads for each event.

The contact page, the edit history and the admin tell what happened from the audit log (written
by contacts.services.audit); this module turns one stored event into a translated sentence, with
its time, who did it and its place in the chain (its number and the start of its hash) for an
auditor to find it in an export. Kinds are named by their stored text: this layer sits below the
services that define `EventKind` (a test checks that every kind has its sentence here).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.core.exceptions import FieldDoesNotExist
from django.db import models
from django.utils import formats, timezone
from django.utils.translation import gettext

from contacts.display import change_words
from contacts.fields import field_label
from contacts.models import AuditEvent, ContactEdit, CustomAttributeDefinition

# An auditor finds an event in an export by its number and these first hex digits of its hash.
SHORT_HASH_LENGTH = 12
# The events that open an edit's story: the row itself on the edit history, told by its columns.
OPENING_KINDS = frozenset({"edit.recorded", "contact.outside_change"})


@dataclass(frozen=True)
class StoryLine:
    """One audit event as the pages show it."""

    seq: int
    at: datetime
    kind: str
    actor: str
    edit_id: int | None
    sentence: str
    hash: str
    # Written by the upgrade from the history kept before the audit log: its last attempt only.
    migrated: bool = False

    @property
    def short_hash(self) -> str:
        return self.hash[:SHORT_HASH_LENGTH]


def event_line(event: AuditEvent) -> StoryLine:
    """The event in words, its data parsed once."""
    data = event.values
    tell = SENTENCES.get(event.kind)
    sentence = (
        tell(event, data) if tell is not None else gettext("Event %(kind)s") % {"kind": event.kind}
    )
    return StoryLine(
        seq=event.seq,
        at=event.at,
        kind=event.kind,
        actor=event.actor,
        edit_id=event.edit_id,
        sentence=sentence,
        hash=event.hash,
        migrated=bool(data.get("migrated")),
    )


def story_lines(events: Iterable[AuditEvent]) -> list[StoryLine]:
    """Events in words: a contact's trail, an edit's log."""
    return [event_line(event) for event in events]


def edit_story(events: Iterable[AuditEvent]) -> list[StoryLine]:
    """What happened to an edit after it was recorded: its attempts and how it ended."""
    return [event_line(event) for event in events if event.kind not in OPENING_KINDS]


# --- One sentence per kind -------------------------------------------------------------------


def _recorded(event: AuditEvent, data: dict[str, Any]) -> str:
    sentence = gettext("%(who)s (%(source)s) changed %(changes)s") % {
        "who": event.actor,
        "source": _choice_label(ContactEdit.Source, data.get("source")),
        "changes": _changes_words(data.get("changes")),
    }
    carried = data.get("carries") or []
    if carried:
        sentence += " " + gettext("(carries the values of edit %(numbers)s)") % {
            "numbers": ", ".join(f"#{number}" for number in carried)
        }
    if data.get("batch"):
        sentence += " " + gettext("(part of batch #%(number)s)") % {"number": data["batch"]}
    if data.get("reverts"):
        sentence += " " + gettext("(reverts edit #%(number)s)") % {"number": data["reverts"]}
    return sentence


def _delivered(event: AuditEvent, data: dict[str, Any]) -> str:
    status = _answer(data).get("status")
    words = {"attempt": data.get("attempt"), "took": _took(_request(data).get("ms"))}
    if status is None:
        return gettext("Delivered to LiveDesk%(took)s (attempt %(attempt)s)") % words
    return gettext("Delivered to LiveDesk: %(status)s%(took)s (attempt %(attempt)s)") % {
        **words,
        "status": status,
    }


def _attempt_failed(event: AuditEvent, data: dict[str, Any]) -> str:
    error = data.get("error") or {}
    status = error.get("status") or _answer(data).get("status")
    request = data.get("request")
    # A read that failed sent nothing; a migrated attempt kept its body, never its read.
    read_failed = request is None and not data.get("migrated")
    timed = _request(data) if request is not None else (data.get("read") or {})
    words = {
        "attempt": data.get("attempt"),
        "status": status,
        "message": (error.get("message") or gettext("no answer")).rstrip("."),
        "took": _took(timed.get("ms")),
    }
    if read_failed and status:
        sentence = gettext(
            "Attempt %(attempt)s failed before sending: LiveDesk answered %(status)s to the "
            "read%(took)s"
        )
    elif read_failed:
        sentence = gettext("Attempt %(attempt)s failed before sending: %(message)s")
    elif status:
        sentence = gettext("Attempt %(attempt)s failed: LiveDesk answered %(status)s%(took)s")
    else:
        sentence = gettext("Attempt %(attempt)s failed: %(message)s")
    sentence %= words
    next_at = _time(data.get("next_attempt_at"))
    if next_at is not None:
        return gettext("%(sentence)s; next try at %(when)s") % {
            "sentence": sentence,
            "when": _when(next_at),
        }
    if data.get("state") == ContactEdit.State.FAILED:
        return gettext("%(sentence)s; it waits for an agent") % {"sentence": sentence}
    return sentence


def _conflict(event: AuditEvent, data: dict[str, Any]) -> str:
    fields = ", ".join(field_label(key) for key in data.get("conflicts") or [])
    if not fields:
        return gettext("Not sent: LiveDesk changed one of its fields meanwhile")
    return gettext("Not sent: LiveDesk changed %(fields)s meanwhile") % {"fields": fields}


def _discarded(event: AuditEvent, data: dict[str, Any]) -> str:
    sentence = (
        gettext("Discarded by %(who)s") % {"who": event.actor}
        if event.actor
        else gettext("Discarded")
    )
    if data.get("reason"):
        sentence = gettext("%(sentence)s: %(reason)s") % {
            "sentence": sentence,
            "reason": data["reason"],
        }
    return sentence


def _superseded(event: AuditEvent, data: dict[str, Any]) -> str:
    words = {"number": data.get("carried_into"), "who": event.actor}
    if event.actor:
        return gettext("Carried into edit #%(number)s by %(who)s") % words
    return gettext("Carried into edit #%(number)s") % words


def _outside_change(event: AuditEvent, data: dict[str, Any]) -> str:
    return gettext("Changed in LiveDesk (seen via %(via)s): %(changes)s") % {
        "via": _choice_label(ContactEdit.SeenVia, data.get("seen_via")),
        "changes": _changes_words(data.get("changes")),
    }


def _batch_confirmed(event: AuditEvent, data: dict[str, Any]) -> str:
    words = {
        "number": data.get("batch"),
        "who": event.actor,
        "what": data.get("description", ""),
        "changed": data.get("changed", 0),
        "unchanged": data.get("unchanged", 0),
    }
    sentence = (
        gettext(
            "Batch #%(number)s confirmed by %(who)s: %(what)s; %(changed)s contacts to change, "
            "%(unchanged)s already so"
        )
        % words
    )
    if data.get("undoes"):
        sentence += " " + gettext("(undoes batch #%(number)s)") % {"number": data["undoes"]}
    if data.get("conflicts"):
        sentence += " " + gettext("(%(count)s keys changed since, left alone)") % {
            "count": data["conflicts"]
        }
    return sentence


def _definition_saved(event: AuditEvent, data: dict[str, Any]) -> str:
    words = {"key": data.get("key", ""), "who": event.actor or gettext("the app")}
    if data.get("created"):
        return gettext("Definition “%(key)s” created by %(who)s") % words
    # The stored keys are sorted: name them in the model's order, as its form shows them.
    order = {
        field.name: place for place, field in enumerate(CustomAttributeDefinition._meta.fields)
    }
    changed = sorted(
        data.get("changes") or {}, key=lambda name: (order.get(name, len(order)), name)
    )
    names = ", ".join(_definition_field_label(name) for name in changed)
    return gettext("Definition “%(key)s” changed by %(who)s: %(fields)s") % {
        **words,
        "fields": names,
    }


def _definition_deleted(event: AuditEvent, data: dict[str, Any]) -> str:
    words = {"key": data.get("key", ""), "who": event.actor or gettext("the app")}
    return gettext("Definition “%(key)s” deleted by %(who)s") % words


SENTENCES: dict[str, Callable[[AuditEvent, dict[str, Any]], str]] = {
    "edit.recorded": _recorded,
    "edit.delivered": _delivered,
    "edit.attempt_failed": _attempt_failed,
    "edit.conflict": _conflict,
    "edit.discarded": _discarded,
    "edit.superseded": _superseded,
    "contact.outside_change": _outside_change,
    "batch.confirmed": _batch_confirmed,
    "definition.saved": _definition_saved,
    "definition.deleted": _definition_deleted,
}


# --- Pieces ----------------------------------------------------------------------------------


def _changes_words(changes: Any) -> str:
    """An edit's changes as "City: Bangkok → Chiang Mai; Name: …", labels in today's language."""
    if not changes:
        return gettext("no field")
    return "; ".join(
        gettext("%(field)s: %(before)s → %(after)s")
        % {
            "field": field_label(change.get("field", "")),
            "before": change_words(change.get("field", ""), change.get("before")),
            "after": change_words(change.get("field", ""), change.get("after")),
        }
        for change in changes
    )


def _choice_label(choices: type[models.TextChoices], value: Any) -> str:
    labels = dict(choices.choices)
    return str(labels.get(value, value or ""))


def _definition_field_label(name: str) -> str:
    try:
        return str(CustomAttributeDefinition._meta.get_field(name).verbose_name)
    except FieldDoesNotExist:
        return name


def _answer(data: dict[str, Any]) -> dict[str, Any]:
    return data.get("response") or {}


def _request(data: dict[str, Any]) -> dict[str, Any]:
    return data.get("request") or {}


def _took(ms: Any) -> str:
    if not isinstance(ms, int | float):
        return ""
    return gettext(" in %(ms)s ms") % {"ms": formats.number_format(round(ms))}


def _time(text: Any) -> datetime | None:
    if not isinstance(text, str):
        return None
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        return None


def _when(moment: datetime) -> str:
    return formats.date_format(timezone.localtime(moment), "SHORT_DATETIME_FORMAT")
