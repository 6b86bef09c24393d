"""Conditions on custom attributes, typed by their definitions, for the contact list's filters.

A contact's custom attributes are JSON that LiveDesk, imports and agents all write: a number
attribute may hold a string, a text one a number, a key may be missing or null. Each value is
read here only when its JSON type is the one the condition compares (a CASE on jsonb_typeof
or json_type), else it reads as NULL and the condition does not match: a cast of "abc" to a
number, which PostgreSQL refuses, is never attempted. CASE is the guard because neither engine
promises the order in which it evaluates the parts of an AND.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from decimal import Decimal, InvalidOperation

from django.db.models import BooleanField, F, Func, Q
from django.utils.translation import gettext, gettext_lazy

from contacts.models import CustomAttributeDefinition

Kinds = CustomAttributeDefinition.AttributeType

EQ, CONTAINS, GT, LT = "eq", "contains", "gt", "lt"
BEFORE, AFTER, YES, NO = "before", "after", "yes", "no"
PRESENT, ABSENT = "present", "absent"

OPERATOR_LABELS = {
    EQ: gettext_lazy("equals"),
    CONTAINS: gettext_lazy("contains"),
    GT: gettext_lazy("greater than"),
    LT: gettext_lazy("less than"),
    BEFORE: gettext_lazy("before"),
    AFTER: gettext_lazy("after"),
    YES: gettext_lazy("is yes"),
    NO: gettext_lazy("is no"),
    PRESENT: gettext_lazy("has a value"),
    ABSENT: gettext_lazy("has no value"),
}
# The operators each type of attribute takes, in the order the filter offers them.
OPERATORS: dict[str, tuple[str, ...]] = {
    Kinds.TEXT: (EQ, CONTAINS, PRESENT, ABSENT),
    Kinds.LINK: (EQ, PRESENT, ABSENT),
    Kinds.LIST: (EQ, CONTAINS, PRESENT, ABSENT),
    Kinds.NUMBER: (EQ, GT, LT, PRESENT, ABSENT),
    Kinds.CURRENCY: (EQ, GT, LT, PRESENT, ABSENT),
    Kinds.PERCENT: (EQ, GT, LT, PRESENT, ABSENT),
    Kinds.DATE: (EQ, BEFORE, AFTER, PRESENT, ABSENT),
    Kinds.CHECKBOX: (YES, NO, PRESENT, ABSENT),
}
NUMBER_KINDS = (Kinds.NUMBER, Kinds.CURRENCY, Kinds.PERCENT)
# Operators that compare with nothing: their value is ignored.
WITHOUT_VALUE = frozenset({YES, NO, PRESENT, ABSENT})
# As the edit form's numbers (contacts.forms.custom_attributes.NUMBER_MAX_DIGITS).
NUMBER_LIMIT = Decimal(10) ** 15
ISO_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
COLUMN = "custom_attributes"


@dataclass(frozen=True)
class AttributeCondition:
    """One filter on a custom attribute: its key, an operator of OPERATORS, the value typed."""

    key: str
    op: str
    value: str = ""


class InvalidCondition(ValueError):
    """The condition cannot apply to its attribute: an operator of another type, a bad value."""


def condition_value(condition: AttributeCondition, definition: CustomAttributeDefinition):
    """The condition's value as the comparison takes it (Decimal, ISO date, text, or None for
    operators without a value); InvalidCondition, with a message for people, if it is not one."""
    operators = OPERATORS.get(definition.attribute_type, (PRESENT, ABSENT))
    if condition.op not in operators:
        raise InvalidCondition(
            gettext("“%(label)s” cannot be filtered with “%(operator)s”.")
            % {
                "label": definition.label,
                "operator": OPERATOR_LABELS.get(condition.op, condition.op),
            }
        )
    if condition.op in WITHOUT_VALUE:
        return None
    text = condition.value.strip()
    if not text:
        raise InvalidCondition(
            gettext("Enter the value to compare “%(label)s” with.") % {"label": definition.label}
        )
    if definition.attribute_type in NUMBER_KINDS:
        try:
            number = Decimal(text)
        except InvalidOperation:
            number = None
        if number is None or not number.is_finite() or abs(number) >= NUMBER_LIMIT:
            raise InvalidCondition(
                gettext("“%(label)s” compares with a number, such as 42 or 9.5.")
                % {"label": definition.label}
            )
        return number
    if definition.attribute_type == Kinds.DATE:
        try:
            day = date.fromisoformat(text) if ISO_DATE.fullmatch(text) else None
        except ValueError:
            day = None
        if day is None:
            raise InvalidCondition(
                gettext("“%(label)s” compares with a date, YYYY-MM-DD.")
                % {"label": definition.label}
            )
        return day.isoformat()
    return condition.value


def attribute_condition(condition: AttributeCondition, definition: CustomAttributeDefinition) -> Q:
    """The contacts whose attribute `definition.key` meets the condition, whatever JSON they
    hold; InvalidCondition when the operator or value does not fit the attribute's type."""
    value = condition_value(condition, definition)
    key, op, kind = definition.key, condition.op, definition.attribute_type
    if op == PRESENT:
        return Q(AttributeTest(key, "present"))
    if op == ABSENT:
        return ~Q(AttributeTest(key, "present"))
    if op in (YES, NO):
        return Q(AttributeTest(key, op))
    if kind in NUMBER_KINDS:
        return Q(AttributeTest(key, f"number_{op}", format(value, "f")))
    if kind == Kinds.DATE:
        return Q(AttributeTest(key, f"date_{op}", value))
    if op == CONTAINS:
        found = Q(AttributeTest(key, "text_contains", value))
        if kind == Kinds.LIST:
            found |= Q(AttributeTest(key, "list_holds", value))
        return found
    return Q(AttributeTest(key, "text_iexact" if kind == Kinds.TEXT else "text_eq", value))


# Each test is one CASE whose condition checks the JSON type and whose result compares: the
# comparison never sees another type, and each engine estimates the whole as a boolean of
# unknown selectivity (PostgreSQL then reads the table in order and stops at the LIMIT instead
# of planning a parallel scan of all of it, as it does for `expression = value`).
# PostgreSQL: {v} is the attribute's JSON (column -> key), {t} its text (column ->> key);
# SQLite: {c} is the column, each followed by the key's path. %s is the compared value.
_ISO_PREFIX_POSTGRESQL = "'^[0-9]{{4}}-[0-9]{{2}}-[0-9]{{2}}'"
_ISO_PREFIX_SQLITE = "'[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]*'"
_COMPARED = {"eq": "=", "gt": ">", "lt": "<", "before": "<", "after": ">"}
_POSTGRESQL = {
    "present": "COALESCE(jsonb_typeof({v}) <> 'null' AND {v} <> '\"\"'::jsonb, FALSE)",
    "yes": "CASE WHEN jsonb_typeof({v}) = 'boolean' THEN {t} = 'true' END",
    "no": "CASE WHEN jsonb_typeof({v}) = 'boolean' THEN {t} = 'false' END",
    "text_eq": "CASE WHEN jsonb_typeof({v}) = 'string' THEN {t} = %s END",
    "text_iexact": "CASE WHEN jsonb_typeof({v}) = 'string' THEN UPPER({t}) = UPPER(%s) END",
    "text_contains": "CASE WHEN jsonb_typeof({v}) = 'string' THEN UPPER({t}) LIKE UPPER(%s) END",
    "list_holds": "CASE WHEN jsonb_typeof({v}) = 'array' THEN EXISTS(SELECT 1 FROM"
    " jsonb_array_elements({v}) item WHERE jsonb_typeof(item) = 'string'"
    " AND UPPER(item #>> '{{}}') = UPPER(%s)) END",
    **{
        f"number_{op}": f"CASE WHEN jsonb_typeof({{v}}) = 'number'"
        f" THEN ({{t}})::numeric {_COMPARED[op]} CAST(%s AS NUMERIC) END"
        for op in (EQ, GT, LT)
    },
    **{
        f"date_{op}": "CASE WHEN jsonb_typeof({v}) = 'string'"
        f" AND {{t}} ~ {_ISO_PREFIX_POSTGRESQL}"
        f' THEN substr({{t}}, 1, 10) COLLATE "C" {_COMPARED[op]} %s END'
        for op in (EQ, BEFORE, AFTER)
    },
}
_SQLITE = {
    "present": "COALESCE(json_type({c}) <> 'null' AND json_extract({c}) <> '', 0)",
    "yes": "COALESCE(json_type({c}) = 'true', 0)",
    "no": "COALESCE(json_type({c}) = 'false', 0)",
    "text_eq": "CASE WHEN json_type({c}) = 'text' THEN json_extract({c}) = %s END",
    "text_iexact": "CASE WHEN json_type({c}) = 'text' THEN json_extract({c}) LIKE %s ESCAPE '\\'"
    " END",
    "text_contains": "CASE WHEN json_type({c}) = 'text' THEN json_extract({c}) LIKE %s ESCAPE '\\'"
    " END",
    "list_holds": "CASE WHEN json_type({c}) = 'array' THEN EXISTS(SELECT 1 FROM json_each({c})"
    " WHERE json_each.type = 'text' AND UPPER(json_each.value) = UPPER(%s)) END",
    **{
        f"number_{op}": "CASE WHEN json_type({c}) IN ('integer', 'real')"
        f" THEN json_extract({{c}}) {_COMPARED[op]} CAST(%s AS REAL) END"
        for op in (EQ, GT, LT)
    },
    **{
        f"date_{op}": f"CASE WHEN json_type({{c}}) = 'text' AND json_extract({{c}}) GLOB"
        f" {_ISO_PREFIX_SQLITE} THEN substr(json_extract({{c}}), 1, 10) {_COMPARED[op]} %s END"
        for op in (EQ, BEFORE, AFTER)
    },
}
# Tests whose value is a LIKE pattern, by engine: escaped as Django escapes its own lookups.
_PATTERNS = {
    "postgresql": {"text_contains": "%{}%"},
    "sqlite": {"text_contains": "%{}%", "text_iexact": "{}"},
}
_PLACEHOLDERS = re.compile(r"\{[vtc]\}|%s")


class AttributeTest(Func):
    """One test of a custom attribute's value (`test`: a key of _POSTGRESQL), against `value`
    where it takes one; true only when the JSON stored is of the type the test reads."""

    output_field = BooleanField()

    def __init__(self, key: str, test: str, value: str = ""):
        super().__init__(F(COLUMN))
        self.key, self.test, self.value = key, test, value

    def as_sql(self, compiler, connection, **extra_context):
        raise NotImplementedError(f"Custom attribute filters do not support {connection.vendor}.")

    def _compiled(self, compiler, connection, template: str, reads: dict[str, tuple[str, str]]):
        column, column_params = compiler.compile(self.source_expressions[0])
        value = self.value
        pattern = _PATTERNS[connection.vendor].get(self.test)
        if pattern:
            value = pattern.format(connection.ops.prep_for_like_query(value))
        params: list = []
        for placeholder in _PLACEHOLDERS.findall(template):
            if placeholder == "%s":
                params.append(value)
            else:
                params += [*column_params, reads[placeholder][1]]
        sql = template.format(**{name[1]: read.format(column) for name, (read, _) in reads.items()})
        return sql, params

    def as_postgresql(self, compiler, connection, **extra_context):
        reads = {"{v}": ("({} -> %s)", self.key), "{t}": ("({} ->> %s)", self.key)}
        return self._compiled(compiler, connection, _POSTGRESQL[self.test], reads)

    def as_sqlite(self, compiler, connection, **extra_context):
        reads = {"{c}": ("{}, %s", f'$."{self.key}"')}
        return self._compiled(compiler, connection, _SQLITE[self.test], reads)
