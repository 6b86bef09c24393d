"""Property-based tests (Hypothesis): hostile values in every field of the contact edit form and
of the admin's custom attribute definition form never make validation raise, a valid edit form
holds only values LiveDesk can take as JSON, and the agent's edit page never answers 500."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from crispy_forms.utils import render_crispy_form
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from contacts.admin.definitions import CustomAttributeDefinitionForm
from contacts.fields import Values, values_diff
from contacts.forms import ContactEditForm
from contacts.models import Contact, CustomAttributeDefinition
from contacts.tests.factories import contact_synced, edit_form_data, edit_post

pytestmark = pytest.mark.django_db

Kinds = CustomAttributeDefinition.AttributeType
# A browser sends UTF-8, which cannot carry a lone surrogate: every other character is typed.
TYPED_CHARACTERS = st.characters(exclude_categories=["Cs"])
HOSTILE_TEXTS = [
    "\x00",
    "a\x00b",
    "\u200f\u202eevil\u202c",
    "\ufeff",
    "\r\n",
    " ",
    "1E+999999",
    "-1e400",
    "1e-999999",
    "NaN",
    "-Infinity",
    "sNaN",
    str(10**30),
    "9" * 5000,
    "99999-01-01",
    "0000-00-00",
    "²",
    "٣",
    "１２",
    "<img src=x onerror=alert(1)>",
    "%(value)s %s %",
    "javascript:alert(1)",
    "http://[::1",
    "https://exa mple.com",
    "+" + "6" * 300,
    "x" * 100_000,
]
# Values of the right type too, some huge or not finite, so that many forms pass validation.
TYPED_VALUES = st.one_of(
    st.decimals().map(str),
    st.integers().map(str),
    st.floats().map(repr),
    st.dates().map(str),
    st.emails(),
    st.sampled_from(["true", "on", "TH", "+66812345678", "https://example.com/a?b=<c>"]),
)
HOSTILE = st.one_of(
    st.sampled_from(HOSTILE_TEXTS), st.text(TYPED_CHARACTERS, max_size=300), TYPED_VALUES
)
# JSON as LiveDesk may have stored it in a custom attribute, nested values included.
STORED_JSON = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(TYPED_CHARACTERS, max_size=40),
    lambda inner: (
        st.lists(inner, max_size=3)
        | st.dictionaries(st.text(TYPED_CHARACTERS, max_size=10), inner, max_size=3)
    ),
    max_leaves=8,
)
CUSTOM_KEYS = st.from_regex(r"[a-z0-9_]{1,12}", fullmatch=True)
fuzzed = settings(
    max_examples=100,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


# --- Factories and helpers -----------------------------------------------------------------------


@pytest.fixture
def definitions() -> list[CustomAttributeDefinition]:
    """One defined custom attribute of each kind, with the markup and rules an admin may type."""
    return [
        CustomAttributeDefinition.objects.create(
            key=f"{kind.value}_attribute",
            label=f"<b>{kind.label}</b>",
            attribute_type=kind,
            description="<img src=x onerror=alert(1)> 100%",
            list_options=["gold", 2, None, "<i>x</i>"] if kind == Kinds.LIST else [],
            regex_pattern=r"^[A-Z]" if kind in (Kinds.TEXT, Kinds.LINK) else "",
            regex_hint="Start with a capital, 100% %(value)s" if kind == Kinds.TEXT else "",
        )
        for kind in Kinds
    ]


def stored_contact(custom_attributes: dict[str, Any]) -> Contact:
    """A contact as the mirror holds it, never saved: the form only reads it."""
    return Contact(remote_id=318_001, name="Ann Lee", custom_attributes=custom_attributes)


def json_leaves(value: Any) -> Iterator[Any]:
    """Every text, number, boolean and null in a JSON value, keys included."""
    if isinstance(value, dict):
        for key, item in value.items():
            yield key
            yield from json_leaves(item)
    elif isinstance(value, list):
        for item in value:
            yield from json_leaves(item)
    else:
        yield value


def assert_sendable(form: ContactEditForm) -> None:
    """Validation did not raise; a valid form's values are strict JSON; and what the agent
    changed holds no NUL and no number a double (as LiveDesk and browsers read JSON numbers)
    would round. A value kept as LiveDesk stored it goes back as it came."""
    if form.is_valid():
        values = form.edit_values()
        json.dumps(values, allow_nan=False)
        changed = changed_leaves(form.opened_values, values)
        assert not any("\x00" in leaf for leaf in changed if isinstance(leaf, str))
        assert all(float(leaf) == leaf for leaf in changed if isinstance(leaf, int | float))


def changed_leaves(opened: Values, values: Values) -> list[Any]:
    """The leaves of each value that differs from the one the form opened with."""
    changes = values_diff(opened, values)
    return list(json_leaves([after for _before, after in changes.values()]))


def hostile_changes(data: st.DataObject, form: ContactEditForm) -> dict[str, str]:
    """Some of the fields a browser posts for `form`, each given a hostile value."""
    names = sorted(edit_form_data(form))
    return data.draw(st.dictionaries(st.sampled_from(names), HOSTILE, max_size=3))


# --- The edit form -------------------------------------------------------------------------------


@fuzzed
@given(data=st.data())
def test_edit_form_with_hostile_values_validates_without_raising(definitions, data):
    contact = stored_contact({"number_attribute": 12, "list_attribute": "silver"})
    opened = ContactEditForm(contact=contact)

    posted = edit_form_data(opened, **hostile_changes(data, opened))

    assert_sendable(ContactEditForm(posted, contact=contact))


@settings(fuzzed, max_examples=50)
@given(
    stored=st.dictionaries(
        st.one_of(CUSTOM_KEYS, st.sampled_from([f"{kind.value}_attribute" for kind in Kinds])),
        STORED_JSON,
        max_size=6,
    ),
    data=st.data(),
)
def test_edit_form_opens_on_any_stored_custom_attributes(definitions, stored, data):
    contact = stored_contact(stored)
    opened = ContactEditForm(contact=contact)
    render_crispy_form(opened)

    posted = edit_form_data(opened, **hostile_changes(data, opened))

    assert_sendable(ContactEditForm(edit_form_data(opened), contact=contact))
    assert_sendable(ContactEditForm(posted, contact=contact))


@fuzzed
@given(kind=st.sampled_from(Kinds.values), value=HOSTILE)
def test_defined_attribute_of_every_kind_takes_any_value_without_raising(definitions, kind, value):
    contact = stored_contact({})
    opened = ContactEditForm(contact=contact)

    posted = edit_form_data(opened, **{f"custom_{kind}_attribute": value})

    assert_sendable(ContactEditForm(posted, contact=contact))


# --- The admin's definition form -----------------------------------------------------------------

PATTERNS = st.one_of(
    st.sampled_from(["^[A-Z]", r"\d{4}$", "(", "[", "a**", "(?P<x>a)(?P=x)", "\\", "(?<=a+)"]),
    st.text(TYPED_CHARACTERS, max_size=20),
)
# A definition an admin could save, into which a few hostile values are then typed.
DEFINITIONS = st.fixed_dictionaries(
    {
        "key": CUSTOM_KEYS,
        "label": st.text(TYPED_CHARACTERS, min_size=1, max_size=100),
        "attribute_type": st.sampled_from(Kinds.values),
        "description": st.text(TYPED_CHARACTERS, max_size=255),
        "position": st.integers(0, 32767).map(str),
    },
    optional={
        "list_options": st.lists(st.text(TYPED_CHARACTERS, max_size=20)).map("\n".join),
        "regex_pattern": PATTERNS,
        "regex_hint": st.text(TYPED_CHARACTERS, max_size=255),
    },
)
DEFINITION_FIELD_NAMES = list(CustomAttributeDefinitionForm.base_fields)


@fuzzed
@given(
    typed=DEFINITIONS,
    hostile=st.dictionaries(st.sampled_from(DEFINITION_FIELD_NAMES), HOSTILE, max_size=2),
    value=HOSTILE,
)
def test_definition_form_validates_without_raising_and_its_field_too(typed, hostile, value):
    form = CustomAttributeDefinitionForm({**typed, **hostile})

    if form.is_valid():
        definition = form.save(commit=False)
        contact = stored_contact({})
        opened = ContactEditForm(contact=contact, definitions=[definition])
        render_crispy_form(opened)
        name = f"custom_{definition.key}"
        assert_sendable(ContactEditForm(edit_form_data(opened, **{name: value}), contact=contact))


# --- The agent's edit page over HTTP -------------------------------------------------------------


@pytest.fixture
def contact(sandbox) -> Contact:
    return contact_synced(sandbox=sandbox, name="Ann Lee", custom_attributes={"seats": 3})


@settings(fuzzed, max_examples=30)
@given(data=st.data())
def test_edit_page_never_answers_500(contact, agent_client, definitions, data):
    opened = ContactEditForm(contact=contact)

    response = edit_post(agent_client, contact, **hostile_changes(data, opened))

    assert response.status_code < 500
