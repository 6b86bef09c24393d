"""Hostile input on the agent pages over HTTP: ids that are not ids, numbers no contact has, and
markup in a custom attribute's definition. Each is refused or ignored, never a 500."""

from __future__ import annotations

import pytest
from django.urls import reverse

from contacts import selectors
from contacts.models import ContactEdit, CustomAttributeDefinition
from contacts.tests.factories import (
    contact_synced,
    edit_failed_transiently,
    edit_post,
    page_text,
    patch_bodies,
)

pytestmark = pytest.mark.django_db

Kinds = CustomAttributeDefinition.AttributeType
# Digits Python's str.isdigit() accepts but nobody types as an id, and ids no table holds.
NOT_IDS = ["²", "٣", "1²", "１２", str(10**30), str(2**63), "-1", "1e3", "+7", "0x1F"]
IMG = "<img src=x onerror=alert(1)>"
IMG_ESCAPED = "&lt;img src=x onerror=alert(1)&gt;"


# --- Ids in query parameters ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("7", 7),
        ("0042", 42),
        (str(2**63 - 1), 2**63 - 1),
        *((text, None) for text in [*NOT_IDS, " 7", "", "#7"]),
    ],
)
def test_parse_id_reads_ascii_digits_within_the_big_integer_range(text, expected):
    assert selectors.parse_id(text) == expected


@pytest.mark.parametrize("asked", NOT_IDS)
def test_edit_page_ignores_an_edit_id_that_is_not_an_id(sandbox, agent, agent_client, asked):
    contact = contact_synced(sandbox=sandbox, name="Ann")
    edit_failed_transiently(
        sandbox=sandbox, contact=contact, editor=agent, changes={"name": "Ann B"}
    )

    response = agent_client.get(reverse("contacts:edit", args=[contact.remote_id]), {"edit": asked})

    assert response.status_code == 200
    assert response.context["open_edit"] is None
    assert response.context["form"]["name"].value() == "Ann"


@pytest.mark.parametrize("asked", NOT_IDS)
def test_history_treats_a_contact_that_is_not_an_id_as_a_name(sandbox, agent_client, asked):
    contact = contact_synced(sandbox=sandbox, name="Ann")
    edit_post(agent_client, contact, name="Ann Smith")

    response = agent_client.get(reverse("contacts:history"), {"contact": asked})

    assert response.status_code == 200
    assert list(response.context["page"]) == []


def test_history_still_finds_a_contact_by_its_livedesk_id(sandbox, agent_client):
    contact = contact_synced(sandbox=sandbox, name="Ann")
    edit_post(agent_client, contact, name="Ann Smith")

    response = agent_client.get(reverse("contacts:history"), {"contact": f"#{contact.remote_id}"})

    assert [edit.contact for edit in response.context["page"]] == [contact]


# --- Numbers in custom attributes ----------------------------------------------------------------


@pytest.mark.parametrize("kind", [Kinds.NUMBER, Kinds.CURRENCY, Kinds.PERCENT])
@pytest.mark.parametrize(
    "typed", ["1E+999999", "-1e400", "1e-999999", str(10**30), "NaN", "-Infinity", "sNaN"]
)
def test_number_no_one_can_store_is_refused_on_its_field(sandbox, agent_client, kind, typed):
    CustomAttributeDefinition.objects.create(key="amount", label="Amount", attribute_type=kind)
    contact = contact_synced(sandbox=sandbox, name="Ann")

    response = edit_post(agent_client, contact, custom_amount=typed)

    assert response.status_code == 200
    assert response.context["form"].errors["custom_amount"]
    assert patch_bodies(sandbox) == []
    assert not ContactEdit.objects.exists()


def test_number_field_says_how_many_digits_it_takes(sandbox, agent_client):
    CustomAttributeDefinition.objects.create(
        key="seats", label="Seats", attribute_type=Kinds.NUMBER
    )
    contact = contact_synced(sandbox=sandbox, name="Ann")

    response = edit_post(agent_client, contact, custom_seats=str(10**30))

    assert "no more than 15 digits" in page_text(response)


@pytest.mark.parametrize(
    ("kind", "typed", "sent"),
    [
        (Kinds.NUMBER, "999999999999999", 999_999_999_999_999),
        (Kinds.NUMBER, "-0.00000000000001", -1e-14),
        (Kinds.CURRENCY, "9999999999999.99", 9_999_999_999_999.99),
        (Kinds.PERCENT, "12.5", 12.5),
    ],
)
def test_largest_numbers_of_each_kind_are_sent_exactly(sandbox, agent_client, kind, typed, sent):
    CustomAttributeDefinition.objects.create(key="amount", label="Amount", attribute_type=kind)
    contact = contact_synced(sandbox=sandbox, name="Ann")

    edit_post(agent_client, contact, custom_amount=typed)

    assert patch_bodies(sandbox) == [{"custom_attributes": {"amount": sent}}]


# --- Markup in a definition ----------------------------------------------------------------------


def test_definition_markup_is_shown_as_text_on_the_edit_page(sandbox, agent_client):
    CustomAttributeDefinition.objects.create(
        key="code", label=f"Code {IMG}", description=IMG, regex_pattern="^C$", regex_hint=IMG
    )
    contact = contact_synced(sandbox=sandbox, name="Ann")

    response = edit_post(agent_client, contact, custom_code="D")

    text = page_text(response)
    assert response.context["form"].errors["custom_code"] == [IMG]
    assert "<img" not in text
    assert f'class="form-text">{IMG_ESCAPED}</div>' in text
    assert f"Code {IMG_ESCAPED}" in text
    assert f"<strong>{IMG_ESCAPED}</strong>" in text
    assert "&amp;lt;" not in text


@pytest.mark.parametrize("hint", ["Between 0% and 100%", "%(value)s or %s or %d"])
def test_hint_with_percent_signs_is_shown_as_typed(sandbox, agent_client, hint):
    CustomAttributeDefinition.objects.create(
        key="code", label="Code", regex_pattern="^C$", regex_hint=hint
    )
    contact = contact_synced(sandbox=sandbox, name="Ann")

    response = edit_post(agent_client, contact, custom_code="D")

    assert response.status_code == 200
    assert response.context["form"].errors["custom_code"] == [hint]


def test_pattern_python_cannot_compile_is_ignored(sandbox, agent_client):
    CustomAttributeDefinition.objects.create(
        key="code", label="Code", regex_pattern="a{99999999999}"
    )
    contact = contact_synced(sandbox=sandbox, name="Ann")

    response = edit_post(agent_client, contact, custom_code="D")

    assert response.status_code == 200
    assert patch_bodies(sandbox) == [{"custom_attributes": {"code": "D"}}]
