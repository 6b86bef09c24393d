"""The contact edit form's custom attributes: free rows, and typed fields for defined ones."""

from __future__ import annotations

from typing import Any

import pytest

from contacts.forms import ContactEditForm
from contacts.models import CustomAttributeDefinition
from contacts.tests.factories import contact_filled, edit_form_data, submitted

pytestmark = pytest.mark.django_db


# --- Factories and helpers ---------------------------------------------------------------------


def definition_make(*, key: str, attribute_type: str = "text", **fields: Any):
    return CustomAttributeDefinition.objects.create(
        key=key,
        label=fields.pop("label", key.replace("_", " ").title()),
        attribute_type=attribute_type,
        **fields,
    )


def row_index(form: ContactEditForm, key: str) -> int:
    return next(i for i, row in enumerate(form.custom_rows.forms) if row.initial.get("key") == key)


# --- Custom attribute rows ----------------------------------------------------------------------


def test_new_custom_attribute_row_adds_a_text_value():
    contact = contact_filled()
    form = ContactEditForm(contact=contact)

    form = ContactEditForm(
        edit_form_data(form, **{"custom-0-key": "vip_level", "custom-0-value": "3"}),
        contact=contact,
    )

    assert form.is_valid(), form.custom_rows.errors
    assert form.edit_values()["custom_attributes.vip_level"] == "3"


def test_untouched_custom_attribute_keeps_its_json_type():
    contact = contact_filled(custom_attributes={"seats": 12, "ratio": 0.5, "trial": False})

    form = submitted(contact, name="Ann Smith")

    assert form.is_valid()
    values = form.edit_values()
    assert values["custom_attributes.seats"] == 12
    assert values["custom_attributes.ratio"] == 0.5
    assert values["custom_attributes.trial"] is False


def test_changed_custom_attribute_row_becomes_text():
    contact = contact_filled(custom_attributes={"seats": 12})
    opened = ContactEditForm(contact=contact)
    index = row_index(opened, "seats")

    form = ContactEditForm(
        edit_form_data(opened, **{f"custom-{index}-value": "13"}), contact=contact
    )

    assert form.is_valid()
    assert form.edit_values()["custom_attributes.seats"] == "13"


def test_ticking_remove_removes_the_custom_attribute():
    contact = contact_filled(custom_attributes={"plan": "gold", "seats": 12})
    opened = ContactEditForm(contact=contact)
    index = row_index(opened, "plan")

    form = ContactEditForm(
        edit_form_data(opened, **{f"custom-{index}-remove": True}), contact=contact
    )

    assert form.is_valid()
    values = form.edit_values()
    assert "custom_attributes.plan" not in values
    assert values["custom_attributes.seats"] == 12


def test_clearing_a_custom_attribute_value_removes_it():
    contact = contact_filled(custom_attributes={"plan": "gold"})
    opened = ContactEditForm(contact=contact)

    form = ContactEditForm(
        edit_form_data(opened, **{f"custom-{row_index(opened, 'plan')}-value": ""}), contact=contact
    )

    assert form.is_valid()
    assert "custom_attributes.plan" not in form.edit_values()


@pytest.mark.parametrize("key", ["VIP", "vip level", "vip-level", "ค่า"])
def test_invalid_custom_attribute_key_is_refused(key):
    contact = contact_filled()
    opened = ContactEditForm(contact=contact)

    form = ContactEditForm(
        edit_form_data(opened, **{"custom-0-key": key, "custom-0-value": "x"}), contact=contact
    )

    assert not form.is_valid()
    assert "lower-case letters" in form.custom_rows.forms[0].errors["key"][0]
    assert form.custom_rows.forms[0]["key"].value() == key


def test_duplicate_custom_attribute_key_is_refused():
    contact = contact_filled(custom_attributes={"plan": "gold"})
    opened = ContactEditForm(contact=contact)

    form = ContactEditForm(
        edit_form_data(opened, **{"custom-1-key": "plan", "custom-1-value": "silver"}),
        contact=contact,
    )

    assert not form.is_valid()
    assert form.custom_rows.forms[1].errors["key"] == ["The key plan is used twice."]
    assert "custom attributes" in form.non_field_errors()[0].lower()


def test_removed_row_frees_its_key_for_a_new_row():
    contact = contact_filled(custom_attributes={"plan": "gold"})
    opened = ContactEditForm(contact=contact)

    form = ContactEditForm(
        edit_form_data(
            opened,
            **{"custom-0-remove": True, "custom-1-key": "plan", "custom-1-value": "silver"},
        ),
        contact=contact,
    )

    assert form.is_valid()
    assert form.edit_values()["custom_attributes.plan"] == "silver"


def test_value_without_a_key_is_refused():
    contact = contact_filled()
    opened = ContactEditForm(contact=contact)

    form = ContactEditForm(edit_form_data(opened, **{"custom-0-value": "x"}), contact=contact)

    assert not form.is_valid()
    assert form.custom_rows.forms[0].errors["key"] == ["Enter a key for this value."]


def test_blank_rows_are_ignored():
    contact = contact_filled()

    form = submitted(contact)

    assert form.is_valid()
    assert not any(key.startswith("custom_attributes.") for key in form.edit_values())


# --- Typed custom attributes --------------------------------------------------------------------


def test_defined_attributes_get_typed_fields_instead_of_rows():
    definition_make(key="seats", attribute_type="number", label="Seats")
    contact = contact_filled(custom_attributes={"seats": 12, "plan": "gold"})

    form = ContactEditForm(contact=contact)

    assert form["custom_seats"].label == "Seats"
    assert form["custom_seats"].value() == "12"
    assert [row.initial.get("key") for row in form.custom_rows.forms] == ["plan"]
    assert [field.name for field in form.sections[3].fields] == ["custom_seats"]


@pytest.mark.parametrize(
    ("typed", "expected"), [("42", 42), ("42.0", 42), ("2.5", 2.5), ("-3", -3)]
)
def test_number_is_sent_as_a_json_number(typed, expected):
    definition_make(key="seats", attribute_type="number")

    form = submitted(contact_filled(), custom_seats=typed)

    assert form.is_valid(), form.errors
    value = form.edit_values()["custom_attributes.seats"]
    assert value == expected
    assert type(value) is type(expected)


def test_number_field_refuses_text():
    definition_make(key="seats", attribute_type="number")

    form = submitted(contact_filled(), custom_seats="many")

    assert not form.is_valid()
    assert "custom_seats" in form.errors


def test_currency_is_a_number_with_two_decimals():
    definition_make(key="lifetime_value", attribute_type="currency")

    ok = submitted(contact_filled(), custom_lifetime_value="1234.50")
    too_precise = submitted(contact_filled(remote_id=2), custom_lifetime_value="1.234")

    assert ok.is_valid()
    assert ok.edit_values()["custom_attributes.lifetime_value"] == 1234.5
    assert not too_precise.is_valid()


def test_percent_must_be_between_0_and_100():
    definition_make(key="discount", attribute_type="percent")

    assert submitted(contact_filled(), custom_discount="100").is_valid()
    assert not submitted(contact_filled(remote_id=2), custom_discount="101").is_valid()
    assert not submitted(contact_filled(remote_id=3), custom_discount="-1").is_valid()


def test_checkbox_is_sent_as_a_bool():
    definition_make(key="newsletter", attribute_type="checkbox")
    contact = contact_filled(custom_attributes={"newsletter": True})

    unticked = submitted(contact, custom_newsletter=False)

    assert unticked.is_valid()
    assert unticked.edit_values()["custom_attributes.newsletter"] is False


def test_unticked_checkbox_of_an_absent_attribute_stays_absent():
    definition_make(key="newsletter", attribute_type="checkbox")

    form = submitted(contact_filled())

    assert form.is_valid()
    assert "custom_attributes.newsletter" not in form.edit_values()


def test_ticked_checkbox_adds_true():
    definition_make(key="newsletter", attribute_type="checkbox")

    form = submitted(contact_filled(), custom_newsletter=True)

    assert form.is_valid()
    assert form.edit_values()["custom_attributes.newsletter"] is True


def test_date_is_sent_as_an_iso_date_from_a_date_input():
    definition_make(key="signed_up", attribute_type="date")
    form = ContactEditForm(contact=contact_filled(custom_attributes={"signed_up": "2025-01-31"}))

    assert 'type="date"' in str(form["custom_signed_up"])
    assert 'value="2025-01-31"' in str(form["custom_signed_up"])
    changed = ContactEditForm(
        edit_form_data(form, custom_signed_up="2026-02-28"), contact=form.contact
    )
    assert changed.is_valid()
    assert changed.edit_values()["custom_attributes.signed_up"] == "2026-02-28"


def test_invalid_date_is_refused():
    definition_make(key="signed_up", attribute_type="date")

    form = submitted(contact_filled(), custom_signed_up="2026-02-30")

    assert not form.is_valid()
    assert "custom_signed_up" in form.errors


def test_list_offers_its_options_and_sends_the_choice():
    definition_make(key="plan", attribute_type="list", list_options=["free", "pro", "enterprise"])
    contact = contact_filled(custom_attributes={"plan": "free"})

    form = submitted(contact, custom_plan="pro")
    refused = submitted(contact, custom_plan="platinum")

    assert [value for value, _label in form.fields["custom_plan"].choices] == [
        "",
        "free",
        "pro",
        "enterprise",
    ]
    assert form.is_valid()
    assert form.edit_values()["custom_attributes.plan"] == "pro"
    assert not refused.is_valid()


def test_list_keeps_a_current_value_that_is_not_an_option():
    definition_make(key="plan", attribute_type="list", list_options=["free", "pro"])
    contact = contact_filled(custom_attributes={"plan": "legacy"})

    form = submitted(contact, name="Ann Smith")

    assert form.is_valid()
    assert form.edit_values()["custom_attributes.plan"] == "legacy"


def test_text_pattern_is_checked_with_its_hint_as_the_message():
    definition_make(
        key="member_code", regex_pattern=r"^M-\d{4}$", regex_hint="Use M- and four digits."
    )

    refused = submitted(contact_filled(), custom_member_code="1234")
    accepted = submitted(contact_filled(remote_id=2), custom_member_code="M-1234")

    assert refused.errors["custom_member_code"] == ["Use M- and four digits."]
    assert accepted.is_valid()
    assert accepted.edit_values()["custom_attributes.member_code"] == "M-1234"


def test_link_must_be_a_web_address():
    definition_make(key="website", attribute_type="link")

    refused = submitted(contact_filled(), custom_website="ftp://example.com")
    accepted = submitted(contact_filled(remote_id=2), custom_website="https://example.com")

    assert not refused.is_valid()
    assert accepted.is_valid()
    assert accepted.edit_values()["custom_attributes.website"] == "https://example.com"


def test_defined_attribute_left_empty_is_removed():
    definition_make(key="seats", attribute_type="number")
    contact = contact_filled(custom_attributes={"seats": 12})

    form = submitted(contact, custom_seats="")

    assert form.is_valid()
    assert "custom_attributes.seats" not in form.edit_values()


def test_untouched_number_keeps_its_exact_value():
    definition_make(key="lifetime_value", attribute_type="currency")
    contact = contact_filled(custom_attributes={"lifetime_value": 1234.567})

    form = submitted(contact, name="Ann Smith")

    assert form.is_valid(), form.errors
    assert form.edit_values()["custom_attributes.lifetime_value"] == 1234.567


def test_defined_key_in_a_row_is_refused():
    definition_make(key="seats", attribute_type="number")
    contact = contact_filled()
    opened = ContactEditForm(contact=contact)

    form = ContactEditForm(
        edit_form_data(opened, **{"custom-0-key": "seats", "custom-0-value": "3"}), contact=contact
    )

    assert not form.is_valid()
    assert "own field" in form.custom_rows.forms[0].errors["key"][0]
