"""A bulk edit's operations: set or clear one key on every contact selected, each value checked
and normalised by the single edit form's own field for that key, so that a bulk edit refuses
and accepts exactly what the edit form does."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from typing import Any, ClassVar

from django.core.exceptions import ValidationError
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from contacts.display import value_text
from contacts.fields import (
    CUSTOM_PREFIX,
    ContactField,
    Kind,
    editable_fields,
    english_label,
    field_label,
)
from contacts.forms.custom_attributes import (
    CustomAttributeRowForm,
    definition_field,
    definition_json,
)
from contacts.forms.field_types import registry_form_field
from contacts.models import CustomAttributeDefinition, EditBatch

DESCRIPTION_MAX_LENGTH = EditBatch._meta.get_field("description").max_length


@dataclass(frozen=True)
class BulkOperation:
    """One change a bulk edit makes to every contact it selects: set a key to a value, or clear
    it (a custom attribute cleared is removed: its value is None)."""

    key: str
    action: str
    value: Any = None

    SET: ClassVar[str] = "set"
    CLEAR: ClassVar[str] = "clear"

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> BulkOperation:
        return cls(key=str(data["key"]), action=str(data["action"]), value=data.get("value"))

    def as_dict(self) -> dict[str, Any]:
        return {"key": self.key, "action": self.action, "value": self.value}


class BulkInvalid(Exception):
    """Some operations are refused: the messages of each, by its index in the list."""

    def __init__(self, errors: dict[int, list[str]]):
        self.errors = errors
        super().__init__("; ".join(message for messages in errors.values() for message in messages))


def bulk_operations_validate(operations: Iterable[BulkOperation]) -> list[BulkOperation]:
    """The operations, each value checked and normalised by the edit form's own field for its
    key (a defined custom attribute by its type); raises BulkInvalid with the form's messages."""
    operations = list(operations)
    if not operations:
        raise BulkInvalid({0: [gettext("Choose at least one change.")]})
    registry = {field.key: field for field in editable_fields()}
    definitions = {d.key: d for d in CustomAttributeDefinition.objects.all()}
    errors: dict[int, list[str]] = {}
    cleaned: list[BulkOperation] = []
    seen: set[str] = set()
    for index, operation in enumerate(operations):
        if operation.key in seen:
            errors[index] = [
                gettext("%(field)s is changed twice: keep one change.")
                % {"field": field_label(operation.key)}
            ]
            continue
        seen.add(operation.key)
        try:
            cleaned.append(_operation_clean(operation, registry, definitions))
        except ValidationError as error:
            errors[index] = list(error.messages)
    if errors:
        raise BulkInvalid(errors)
    return cleaned


def _operation_clean(
    operation: BulkOperation,
    registry: dict[str, ContactField],
    definitions: dict[str, CustomAttributeDefinition],
) -> BulkOperation:
    if operation.action not in (BulkOperation.SET, BulkOperation.CLEAR):
        raise ValidationError(_("Choose whether to set or to clear it."), code="action")
    clearing = operation.action == BulkOperation.CLEAR
    contact_field = registry.get(operation.key)
    if contact_field is not None:
        boolean = contact_field.kind == Kind.BOOLEAN
        if clearing:
            return replace(operation, value=False if boolean else "")
        if boolean:
            return replace(operation, value=_yes_or_no(operation.value))
        value = registry_form_field(contact_field).clean(operation.value)
        return replace(operation, value=value)
    if not operation.key.startswith(CUSTOM_PREFIX):
        raise ValidationError(
            _("%(key)s is not a field that can be changed."),
            code="unknown",
            params={"key": operation.key},
        )
    name = operation.key.removeprefix(CUSTOM_PREFIX)
    definition = definitions.get(name)
    if definition is not None:
        if clearing:
            return replace(operation, value=None)
        form_field, _text = definition_field(definition, None)
        typed = operation.value
        if definition.attribute_type == CustomAttributeDefinition.AttributeType.CHECKBOX:
            typed = _yes_or_no(typed)
        value = definition_json(definition, form_field.clean(typed))
        if value is None:
            raise ValidationError(_("Enter a value, or choose to clear it."), code="required")
        return replace(operation, value=value)
    # A custom attribute without a definition: the edit form's free row (a key and a text).
    text = "" if clearing else value_text(operation.value)
    row = CustomAttributeRowForm(data={"key": name, "value": text, "remove": clearing or ""})
    if not row.is_valid():
        raise ValidationError([message for messages in row.errors.values() for message in messages])
    return replace(operation, value=None if clearing else row.cleaned_data["value"])


YES = frozenset({"true", "yes", "1", "on"})
NO = frozenset({"false", "no", "0", "off"})


def _yes_or_no(value: Any) -> bool:
    """A yes/no value as typed: a form's checkbox takes any text but "false" and "0" for yes,
    so "no" would set it; here only the words for yes or no are taken, anything else refused."""
    if isinstance(value, bool):
        return value
    text = str(value if value is not None else "").strip().lower()
    if text in YES:
        return True
    if text in NO:
        return False
    raise ValidationError(_("Enter true or false."), code="boolean")


def bulk_description(operations: Iterable[BulkOperation]) -> str:
    """The operations in words, as the batch stores them ("Company name = Acme; clear City")."""
    parts = [
        f"clear {english_label(operation.key)}"
        if operation.action == BulkOperation.CLEAR
        else f"{english_label(operation.key)} = {value_text(operation.value)}"
        for operation in operations
    ]
    return description_shortened("; ".join(parts))


def description_shortened(text: str) -> str:
    """The text as a batch's description holds it: cut, with an ellipsis, at its length."""
    if len(text) <= DESCRIPTION_MAX_LENGTH:
        return text
    return text[: DESCRIPTION_MAX_LENGTH - 1] + "…"
