"""The contact form: validation per section, typed custom attributes, and the values it yields."""

from __future__ import annotations

from typing import Any

import pytest
from django.core import signing

from contacts import fields
from contacts.forms import BASE_SALT, ContactEditForm, ContactFilterForm
from contacts.models import Contact, CustomAttributeDefinition

pytestmark = pytest.mark.django_db


# --- Factories and helpers ---------------------------------------------------------------------


def contact_make(
    *,
    remote_id: int = 318_001,
    name: str = "Ann Lee",
    email: str = "ann@example.com",
    phone_number: str = "+66812345678",
    additional_attributes: dict | None = None,
    custom_attributes: dict | None = None,
    **fields: Any,
) -> Contact:
    """A mirror row shaped as sync stores a sandbox contact."""
    additional = (
        {
            "description": "Prefers LINE",
            "company_name": "Acme",
            "city": "Bangkok",
            "country": "Thailand",
            "country_code": "TH",
            "telegram": "",
            "social_profiles": {
                "facebook": "ann.lee",
                "github": "",
                "instagram": "",
                "linkedin": "",
                "twitter": "",
            },
        }
        if additional_attributes is None
        else additional_attributes
    )
    return Contact.objects.create(
        remote_id=remote_id,
        name=name,
        email=email,
        phone_number=phone_number,
        company_name=str(additional.get("company_name", "")),
        city=str(additional.get("city", "")),
        country=str(additional.get("country", "")),
        country_code=str(additional.get("country_code", "")),
        additional_attributes=additional,
        custom_attributes={} if custom_attributes is None else custom_attributes,
        **fields,
    )


def definition_make(*, key: str, attribute_type: str = "text", **fields: Any):
    return CustomAttributeDefinition.objects.create(
        key=key,
        label=fields.pop("label", key.replace("_", " ").title()),
        attribute_type=attribute_type,
        **fields,
    )


def form_data(form: ContactEditForm, **changes: Any) -> dict[str, Any]:
    """What the browser posts for an unchanged form, with some fields changed."""
    data: dict[str, Any] = {}
    for bound_field in form:
        if bound_field.field.disabled:
            continue
        value = bound_field.value()
        if isinstance(value, bool):
            if value:
                data[bound_field.html_name] = "on"
        elif value is not None:
            data[bound_field.html_name] = value
    rows = form.custom_rows
    data.update(
        {
            f"{rows.prefix}-TOTAL_FORMS": str(rows.total_form_count()),
            f"{rows.prefix}-INITIAL_FORMS": str(rows.initial_form_count()),
            f"{rows.prefix}-MIN_NUM_FORMS": "0",
            f"{rows.prefix}-MAX_NUM_FORMS": "200",
        }
    )
    for index, row in enumerate(rows.forms):
        for name in ("key", "value"):
            data[f"{rows.prefix}-{index}-{name}"] = row.initial.get(name, "")
    for name, value in changes.items():
        if value is None or value is False:
            data.pop(name, None)
        else:
            data[name] = "on" if value is True else value
    return data


def submitted(contact: Contact, **changes: Any) -> ContactEditForm:
    """The form as posted back after the agent changed `changes` (by HTML field name)."""
    opened = ContactEditForm(contact=contact)
    return ContactEditForm(form_data(opened, **changes), contact=contact)


def row_index(form: ContactEditForm, key: str) -> int:
    return next(i for i, row in enumerate(form.custom_rows.forms) if row.initial.get("key") == key)


# --- Opening and untouched forms ---------------------------------------------------------------


def test_form_opens_with_the_contacts_values_in_its_fields():
    contact = contact_make(custom_attributes={"plan": "gold"})

    form = ContactEditForm(contact=contact)

    assert form["name"].value() == "Ann Lee"
    assert form["company_name"].value() == "Acme"
    assert form["social_facebook"].value() == "ann.lee"
    assert [row.initial for row in form.custom_rows.forms[:1]] == [{"key": "plan", "value": "gold"}]
    assert len(form.custom_rows.forms) == 3  # the attribute plus two blank rows


def test_untouched_form_yields_the_contacts_values():
    contact = contact_make(custom_attributes={"plan": "gold", "seats": 12, "vip": True})

    form = submitted(contact)

    assert form.is_valid(), form.errors
    assert form.edit_values() == fields.contact_values(contact)
    assert form.base_values == fields.contact_values(contact)
    assert form.base_version == contact.version


def test_untouched_legacy_values_that_break_the_rules_still_save():
    contact = contact_make(
        phone_number="+1555",
        email="not-an-email",
        additional_attributes={"country_code": "THA"},
        custom_attributes={"Odd Key": "x"},
    )

    form = submitted(contact, name="Ann Smith")

    assert form.is_valid(), form.errors
    values = form.edit_values()
    assert values["phone_number"] == "+1555"
    assert values["additional_attributes.country_code"] == "THA"
    assert values["custom_attributes.Odd Key"] == "x"
    assert values["name"] == "Ann Smith"


def test_form_sections_have_headings_and_fields():
    form = ContactEditForm(contact=contact_make())

    assert [str(section.title) for section in form.sections] == [
        "Core",
        "Additional attributes",
        "Social profiles",
        "Custom attributes",
    ]
    assert [field.label for field in form.sections[1].fields][:3] == [
        "Description",
        "Company name",
        "Telegram",
    ]
    assert form["social_github"].label == "GitHub"
    assert form["thumbnail"].label == "Thumbnail URL"
    assert form.helper.form_tag is False


def test_availability_is_shown_but_cannot_be_changed():
    contact = contact_make(availability_status="online")

    form = submitted(contact, availability_status="busy")

    assert form.is_valid()
    assert form["availability_status"].value() == "online"
    assert "availability_status" not in form.edit_values()


# --- Core ---------------------------------------------------------------------------------------


def test_core_changes_are_in_the_values():
    contact = contact_make()

    form = submitted(
        contact,
        name="Ann Smith",
        email="Ann.Smith@Example.com",
        identifier="CRM-1",
        thumbnail="https://example.com/ann.png",
        blocked=True,
    )

    assert form.is_valid(), form.errors
    values = form.edit_values()
    assert values["name"] == "Ann Smith"
    assert values["email"] == "ann.smith@example.com"
    assert values["identifier"] == "CRM-1"
    assert values["thumbnail"] == "https://example.com/ann.png"
    assert values["blocked"] is True


def test_phone_number_is_normalised_to_e164():
    form = submitted(contact_make(), phone_number="+66 81 234 5679")

    assert form.is_valid(), form.errors
    assert form.edit_values()["phone_number"] == "+66812345679"


def test_phone_number_without_country_code_is_refused_with_a_clear_message():
    form = submitted(contact_make(), phone_number="081 234 5678")

    assert not form.is_valid()
    assert "country code" in form.errors["phone_number"][0]
    assert form["phone_number"].value() == "081 234 5678"


def test_impossible_phone_number_is_refused():
    form = submitted(contact_make(), phone_number="+66 12")

    assert not form.is_valid()
    assert "valid phone number" in form.errors["phone_number"][0]


def test_bad_email_is_refused():
    form = submitted(contact_make(), email="ann@")

    assert not form.is_valid()
    assert form.errors["email"] == ["Enter a valid email address."]


def test_thumbnail_must_be_a_web_address():
    form = submitted(contact_make(), thumbnail="javascript:alert(1)")

    assert not form.is_valid()
    assert "http://" in form.errors["thumbnail"][0]


def test_name_longer_than_255_characters_is_refused():
    form = submitted(contact_make(), name="x" * 256)

    assert not form.is_valid()
    assert "name" in form.errors


def test_clearing_a_field_sends_it_empty():
    form = submitted(contact_make(), email="")

    assert form.is_valid()
    assert form.edit_values()["email"] == ""


# --- Additional attributes and social profiles ------------------------------------------------


def test_additional_attribute_changes_are_in_the_values():
    form = submitted(
        contact_make(),
        company_name="Globex",
        city="Chiang Mai",
        country_code="gb",
        description="Line one\r\nLine two",
    )

    assert form.is_valid(), form.errors
    values = form.edit_values()
    assert values["additional_attributes.company_name"] == "Globex"
    assert values["additional_attributes.city"] == "Chiang Mai"
    assert values["additional_attributes.country_code"] == "GB"
    assert values["additional_attributes.description"] == "Line one\r\nLine two"


def test_untouched_description_sent_back_with_crlf_line_breaks_is_unchanged():
    contact = contact_make(additional_attributes={"description": "Line one\nLine two"})
    opened = ContactEditForm(contact=contact)

    form = ContactEditForm(form_data(opened, description="Line one\r\nLine two"), contact=contact)

    assert form.is_valid()
    assert form.edit_values()["additional_attributes.description"] == "Line one\nLine two"


def test_unknown_country_code_is_refused():
    form = submitted(contact_make(), country_code="XX")

    assert not form.is_valid()
    assert "ISO 3166" in form.errors["country_code"][0]


def test_description_longer_than_1000_characters_is_refused():
    form = submitted(contact_make(), description="x" * 1001)

    assert not form.is_valid()
    assert "description" in form.errors


def test_social_profile_changes_are_in_the_values():
    form = submitted(contact_make(), social_github="ann-lee", social_facebook="")

    assert form.is_valid()
    values = form.edit_values()
    assert values["social_profiles.github"] == "ann-lee"
    assert values["social_profiles.facebook"] == ""


# --- Custom attribute rows ----------------------------------------------------------------------


def test_new_custom_attribute_row_adds_a_text_value():
    contact = contact_make()
    form = ContactEditForm(contact=contact)

    form = ContactEditForm(
        form_data(form, **{"custom-0-key": "vip_level", "custom-0-value": "3"}), contact=contact
    )

    assert form.is_valid(), form.custom_rows.errors
    assert form.edit_values()["custom_attributes.vip_level"] == "3"


def test_untouched_custom_attribute_keeps_its_json_type():
    contact = contact_make(custom_attributes={"seats": 12, "ratio": 0.5, "trial": False})

    form = submitted(contact, name="Ann Smith")

    assert form.is_valid()
    values = form.edit_values()
    assert values["custom_attributes.seats"] == 12
    assert values["custom_attributes.ratio"] == 0.5
    assert values["custom_attributes.trial"] is False


def test_changed_custom_attribute_row_becomes_text():
    contact = contact_make(custom_attributes={"seats": 12})
    opened = ContactEditForm(contact=contact)
    index = row_index(opened, "seats")

    form = ContactEditForm(form_data(opened, **{f"custom-{index}-value": "13"}), contact=contact)

    assert form.is_valid()
    assert form.edit_values()["custom_attributes.seats"] == "13"


def test_ticking_remove_removes_the_custom_attribute():
    contact = contact_make(custom_attributes={"plan": "gold", "seats": 12})
    opened = ContactEditForm(contact=contact)
    index = row_index(opened, "plan")

    form = ContactEditForm(form_data(opened, **{f"custom-{index}-remove": True}), contact=contact)

    assert form.is_valid()
    values = form.edit_values()
    assert "custom_attributes.plan" not in values
    assert values["custom_attributes.seats"] == 12


def test_clearing_a_custom_attribute_value_removes_it():
    contact = contact_make(custom_attributes={"plan": "gold"})
    opened = ContactEditForm(contact=contact)

    form = ContactEditForm(
        form_data(opened, **{f"custom-{row_index(opened, 'plan')}-value": ""}), contact=contact
    )

    assert form.is_valid()
    assert "custom_attributes.plan" not in form.edit_values()


@pytest.mark.parametrize("key", ["VIP", "vip level", "vip-level", "ค่า"])
def test_invalid_custom_attribute_key_is_refused(key):
    contact = contact_make()
    opened = ContactEditForm(contact=contact)

    form = ContactEditForm(
        form_data(opened, **{"custom-0-key": key, "custom-0-value": "x"}), contact=contact
    )

    assert not form.is_valid()
    assert "lower-case letters" in form.custom_rows.forms[0].errors["key"][0]
    assert form.custom_rows.forms[0]["key"].value() == key


def test_duplicate_custom_attribute_key_is_refused():
    contact = contact_make(custom_attributes={"plan": "gold"})
    opened = ContactEditForm(contact=contact)

    form = ContactEditForm(
        form_data(opened, **{"custom-1-key": "plan", "custom-1-value": "silver"}), contact=contact
    )

    assert not form.is_valid()
    assert form.custom_rows.forms[1].errors["key"] == ["The key plan is used twice."]
    assert "custom attributes" in form.non_field_errors()[0].lower()


def test_removed_row_frees_its_key_for_a_new_row():
    contact = contact_make(custom_attributes={"plan": "gold"})
    opened = ContactEditForm(contact=contact)

    form = ContactEditForm(
        form_data(
            opened,
            **{"custom-0-remove": True, "custom-1-key": "plan", "custom-1-value": "silver"},
        ),
        contact=contact,
    )

    assert form.is_valid()
    assert form.edit_values()["custom_attributes.plan"] == "silver"


def test_value_without_a_key_is_refused():
    contact = contact_make()
    opened = ContactEditForm(contact=contact)

    form = ContactEditForm(form_data(opened, **{"custom-0-value": "x"}), contact=contact)

    assert not form.is_valid()
    assert form.custom_rows.forms[0].errors["key"] == ["Enter a key for this value."]


def test_blank_rows_are_ignored():
    contact = contact_make()

    form = submitted(contact)

    assert form.is_valid()
    assert not any(key.startswith("custom_attributes.") for key in form.edit_values())


# --- Typed custom attributes --------------------------------------------------------------------


def test_defined_attributes_get_typed_fields_instead_of_rows():
    definition_make(key="seats", attribute_type="number", label="Seats")
    contact = contact_make(custom_attributes={"seats": 12, "plan": "gold"})

    form = ContactEditForm(contact=contact)

    assert form["custom_seats"].label == "Seats"
    assert form["custom_seats"].value() == "12"
    assert [row.initial.get("key") for row in form.custom_rows.forms] == ["plan", None, None]
    assert [field.name for field in form.sections[3].fields] == ["custom_seats"]


@pytest.mark.parametrize(
    ("typed", "expected"), [("42", 42), ("42.0", 42), ("2.5", 2.5), ("-3", -3)]
)
def test_number_is_sent_as_a_json_number(typed, expected):
    definition_make(key="seats", attribute_type="number")

    form = submitted(contact_make(), custom_seats=typed)

    assert form.is_valid(), form.errors
    value = form.edit_values()["custom_attributes.seats"]
    assert value == expected
    assert type(value) is type(expected)


def test_number_field_refuses_text():
    definition_make(key="seats", attribute_type="number")

    form = submitted(contact_make(), custom_seats="many")

    assert not form.is_valid()
    assert "custom_seats" in form.errors


def test_currency_is_a_number_with_two_decimals():
    definition_make(key="lifetime_value", attribute_type="currency")

    ok = submitted(contact_make(), custom_lifetime_value="1234.50")
    too_precise = submitted(contact_make(remote_id=2), custom_lifetime_value="1.234")

    assert ok.is_valid()
    assert ok.edit_values()["custom_attributes.lifetime_value"] == 1234.5
    assert not too_precise.is_valid()


def test_percent_must_be_between_0_and_100():
    definition_make(key="discount", attribute_type="percent")

    assert submitted(contact_make(), custom_discount="100").is_valid()
    assert not submitted(contact_make(remote_id=2), custom_discount="101").is_valid()
    assert not submitted(contact_make(remote_id=3), custom_discount="-1").is_valid()


def test_checkbox_is_sent_as_a_bool():
    definition_make(key="newsletter", attribute_type="checkbox")
    contact = contact_make(custom_attributes={"newsletter": True})

    unticked = submitted(contact, custom_newsletter=False)

    assert unticked.is_valid()
    assert unticked.edit_values()["custom_attributes.newsletter"] is False


def test_unticked_checkbox_of_an_absent_attribute_stays_absent():
    definition_make(key="newsletter", attribute_type="checkbox")

    form = submitted(contact_make())

    assert form.is_valid()
    assert "custom_attributes.newsletter" not in form.edit_values()


def test_ticked_checkbox_adds_true():
    definition_make(key="newsletter", attribute_type="checkbox")

    form = submitted(contact_make(), custom_newsletter=True)

    assert form.is_valid()
    assert form.edit_values()["custom_attributes.newsletter"] is True


def test_date_is_sent_as_an_iso_date_from_a_date_input():
    definition_make(key="signed_up", attribute_type="date")
    form = ContactEditForm(contact=contact_make(custom_attributes={"signed_up": "2025-01-31"}))

    assert 'type="date"' in str(form["custom_signed_up"])
    assert 'value="2025-01-31"' in str(form["custom_signed_up"])
    changed = ContactEditForm(form_data(form, custom_signed_up="2026-02-28"), contact=form.contact)
    assert changed.is_valid()
    assert changed.edit_values()["custom_attributes.signed_up"] == "2026-02-28"


def test_invalid_date_is_refused():
    definition_make(key="signed_up", attribute_type="date")

    form = submitted(contact_make(), custom_signed_up="2026-02-30")

    assert not form.is_valid()
    assert "custom_signed_up" in form.errors


def test_list_offers_its_options_and_sends_the_choice():
    definition_make(key="plan", attribute_type="list", list_options=["free", "pro", "enterprise"])
    contact = contact_make(custom_attributes={"plan": "free"})

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
    contact = contact_make(custom_attributes={"plan": "legacy"})

    form = submitted(contact, name="Ann Smith")

    assert form.is_valid()
    assert form.edit_values()["custom_attributes.plan"] == "legacy"


def test_text_pattern_is_checked_with_its_hint_as_the_message():
    definition_make(
        key="member_code", regex_pattern=r"^M-\d{4}$", regex_hint="Use M- and four digits."
    )

    refused = submitted(contact_make(), custom_member_code="1234")
    accepted = submitted(contact_make(remote_id=2), custom_member_code="M-1234")

    assert refused.errors["custom_member_code"] == ["Use M- and four digits."]
    assert accepted.is_valid()
    assert accepted.edit_values()["custom_attributes.member_code"] == "M-1234"


def test_link_must_be_a_web_address():
    definition_make(key="website", attribute_type="link")

    refused = submitted(contact_make(), custom_website="ftp://example.com")
    accepted = submitted(contact_make(remote_id=2), custom_website="https://example.com")

    assert not refused.is_valid()
    assert accepted.is_valid()
    assert accepted.edit_values()["custom_attributes.website"] == "https://example.com"


def test_defined_attribute_left_empty_is_removed():
    definition_make(key="seats", attribute_type="number")
    contact = contact_make(custom_attributes={"seats": 12})

    form = submitted(contact, custom_seats="")

    assert form.is_valid()
    assert "custom_attributes.seats" not in form.edit_values()


def test_untouched_number_keeps_its_exact_value():
    definition_make(key="lifetime_value", attribute_type="currency")
    contact = contact_make(custom_attributes={"lifetime_value": 1234.567})

    form = submitted(contact, name="Ann Smith")

    assert form.is_valid(), form.errors
    assert form.edit_values()["custom_attributes.lifetime_value"] == 1234.567


def test_defined_key_in_a_row_is_refused():
    definition_make(key="seats", attribute_type="number")
    contact = contact_make()
    opened = ContactEditForm(contact=contact)

    form = ContactEditForm(
        form_data(opened, **{"custom-0-key": "seats", "custom-0-value": "3"}), contact=contact
    )

    assert not form.is_valid()
    assert "own field" in form.custom_rows.forms[0].errors["key"][0]


# --- Signed base values, prefill and LiveDesk's errors ----------------------------------------


def test_tampered_base_values_are_a_form_error():
    contact = contact_make()
    opened = ContactEditForm(contact=contact)
    data = form_data(opened)
    data["base_values"] = signing.dumps({"contact": 1, "version": 1, "values": {}}, salt="x")

    form = ContactEditForm(data, contact=contact)

    assert not form.is_valid()
    assert "could not be verified" in form.errors["base_values"][0]


def test_base_values_of_another_contact_are_refused():
    contact, other = contact_make(), contact_make(remote_id=2, email="b@example.com")
    data = form_data(ContactEditForm(contact=other))

    form = ContactEditForm(data, contact=contact)

    assert not form.is_valid()
    assert "base_values" in form.errors


def test_changed_base_version_is_refused():
    contact = contact_make()
    data = form_data(ContactEditForm(contact=contact), base_version="7")

    form = ContactEditForm(data, contact=contact)

    assert not form.is_valid()


def test_prefilled_form_shows_the_prefill_but_keeps_the_mirror_as_base():
    contact = contact_make()
    prefill = {**fields.contact_values(contact), "name": "Ann Smith"}

    opened = ContactEditForm(contact=contact, prefill=prefill)
    form = ContactEditForm(form_data(opened), contact=contact)

    assert opened["name"].value() == "Ann Smith"
    assert form.is_valid()
    assert form.base_values["name"] == "Ann Lee"
    assert form.edit_values()["name"] == "Ann Smith"
    payload = signing.loads(opened["base_values"].value(), salt=BASE_SALT)
    assert payload["values"]["name"] == "Ann Lee"


def test_livedesk_errors_land_on_the_fields_they_name():
    form = submitted(contact_make())
    assert form.is_valid()

    form.add_livedesk_errors(
        {
            "email": ["Email has already been taken"],
            "avatar_url": ["Avatar is invalid"],
            "labels": ["Labels are odd"],
        }
    )

    assert form.errors["email"] == ["LiveDesk: Email has already been taken"]
    assert form.errors["thumbnail"] == ["LiveDesk: Avatar is invalid"]
    assert form.non_field_errors() == ["LiveDesk: Labels are odd"]


def test_values_rebased_puts_the_agents_changes_on_the_current_values():
    contact = contact_make()
    opened = ContactEditForm(contact=contact)
    form = ContactEditForm(form_data(opened, name="Ann Smith"), contact=contact)
    assert form.is_valid()
    Contact.objects.filter(pk=contact.pk).update(city="Phuket")
    contact.additional_attributes = {**contact.additional_attributes, "city": "Phuket"}

    values = form.values_rebased()

    assert values["name"] == "Ann Smith"
    assert values["additional_attributes.city"] == "Phuket"


# --- List filters -------------------------------------------------------------------------------


def test_filter_form_turns_its_choices_into_selector_arguments():
    form = ContactFilterForm(
        {"q": " ann ", "blocked": "yes", "gone": "no", "sort": "-email", "country": "Thailand"},
        countries=["Thailand"],
    )

    assert form.filters() == {
        "q": "ann",
        "blocked": True,
        "availability": "",
        "country": "Thailand",
        "push_state": "",
        "gone": False,
        "sort": "-email",
    }


def test_filter_form_ignores_unknown_choices():
    form = ContactFilterForm({"sort": "password", "availability": "asleep"}, countries=[])

    assert form.filters()["sort"] == "name"
    assert form.filters()["availability"] == ""


def test_prefixed_form_round_trips_its_values_and_rows():
    contact = contact_make(custom_attributes={"plan": "gold"})
    opened = ContactEditForm(contact=contact, prefix="edit")
    data = form_data(opened)
    data[f"{opened.custom_rows.prefix}-0-value"] = "silver"

    form = ContactEditForm(data, contact=contact, prefix="edit")

    assert opened.custom_rows.prefix == "edit-custom"
    assert "edit-base_values" in data
    assert form.is_valid(), (form.errors, form.custom_rows.errors)
    assert form.edit_values()["custom_attributes.plan"] == "silver"
