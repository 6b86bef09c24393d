"""Custom attribute definitions: saved and deleted with their change in the audit log."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction

from contacts.models import CustomAttributeDefinition
from contacts.services import audit

DEFINITION_FIELDS = (
    "key",
    "label",
    "attribute_type",
    "list_options",
    "regex_pattern",
    "regex_hint",
    "description",
    "position",
)


def _values(definition: CustomAttributeDefinition) -> dict[str, Any]:
    return {name: getattr(definition, name) for name in DEFINITION_FIELDS}


def definition_save(*, definition: CustomAttributeDefinition, by: AbstractBaseUser) -> None:
    """Create or change a definition; the audit log gets each field's before and after."""
    with transaction.atomic():
        before = None
        if definition.pk is not None:
            before = (
                CustomAttributeDefinition.objects.select_for_update()
                .filter(pk=definition.pk)
                .values(*DEFINITION_FIELDS)
                .first()
            )
        definition.save()
        after = _values(definition)
        changes = {
            name: [None if before is None else before[name], value]
            for name, value in after.items()
            if before is None or before[name] != value
        }
        if changes:
            audit.events_append(
                [
                    audit.Event(
                        audit.EventKind.DEFINITION_SAVED,
                        {"key": definition.key, "created": before is None, "changes": changes},
                        actor=by.get_username(),
                    )
                ]
            )


def definitions_delete(
    *, definitions: Iterable[CustomAttributeDefinition], by: AbstractBaseUser
) -> None:
    """Delete definitions (the contacts' values stay in LiveDesk); the log keeps what they were."""
    with transaction.atomic():
        events = []
        for definition in definitions:
            events.append(
                audit.Event(
                    audit.EventKind.DEFINITION_DELETED,
                    {"key": definition.key, "values": _values(definition)},
                    actor=by.get_username(),
                )
            )
            definition.delete()
        audit.events_append(events)
