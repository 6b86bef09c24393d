"""The contact edit form: opening, core fields, additional attributes and social profiles,
signed base values; the list's filter form."""

from __future__ import annotations

import pytest
from django.core import signing

from contacts import fields
from contacts.forms import BASE_SALT, ContactEditForm, ContactFilterForm
from contacts.models import Contact
from contacts.tests.factories import contact_filled, edit_form_data, submitted

pytestmark = pytest.mark.django_db


# --- Opening and untouched forms ---------------------------------------------------------------


def test_form_opens_with_the_contacts_values_in_its_fields():
    contact = contact_filled(custom_attributes={"plan": "gold"})

    form = ContactEditForm(contact=contact)

    assert form["name"].value() == "Ann Lee"
    assert form["company_name"].value() == "Acme"
    assert form["social_facebook"].value() == "ann.lee"
    assert [row.initial for row in form.custom_rows.forms[:1]] == [{"key": "plan", "value": "gold"}]
    assert len(form.custom_rows.forms) == 1  # the attribute, no blank row


def test_untouched_form_yields_the_contacts_values():
    contact = contact_filled(custom_attributes={"plan": "gold", "seats": 12, "vip": True})

    form = submitted(contact)

    assert form.is_valid(), form.errors
    assert form.edit_values() == fields.contact_values(contact)
    assert form.base_values == fields.contact_values(contact)
    assert form.base_version == contact.version


def test_untouched_legacy_values_that_break_the_rules_still_save():
    contact = contact_filled(
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
    form = ContactEditForm(contact=contact_filled())

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
    contact = contact_filled(availability_status="online")

    form = submitted(contact, availability_status="busy")

    assert form.is_valid()
    assert form["availability_status"].value() == "online"
    assert "availability_status" not in form.edit_values()


# --- Core ---------------------------------------------------------------------------------------


def test_core_changes_are_in_the_values():
    contact = contact_filled()

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
    form = submitted(contact_filled(), phone_number="+66 81 234 5679")

    assert form.is_valid(), form.errors
    assert form.edit_values()["phone_number"] == "+66812345679"


def test_national_phone_number_is_read_in_the_contacts_country():
    form = submitted(contact_filled(), phone_number="081 234 5678")  # country code TH

    assert form.is_valid(), form.errors
    assert form.edit_values()["phone_number"] == "+66812345678"


def test_national_phone_number_with_dashes_is_read_in_the_contacts_country():
    form = submitted(contact_filled(), phone_number="02-123-4567")

    assert form.is_valid(), form.errors
    assert form.edit_values()["phone_number"] == "+6621234567"


def test_national_phone_number_is_read_in_the_country_code_submitted_beside_it():
    form = submitted(contact_filled(), phone_number="(415) 555-0123", country_code="us")

    assert form.is_valid(), form.errors
    values = form.edit_values()
    assert values["phone_number"] == "+14155550123"
    assert values["additional_attributes.country_code"] == "US"


def test_national_phone_number_of_a_contact_without_country_uses_the_default_region(settings):
    settings.LIVEDESK_DEFAULT_PHONE_REGION = "GB"
    contact = contact_filled(additional_attributes={"country_code": ""})

    form = submitted(contact, phone_number="07400 123456")

    assert form.is_valid(), form.errors
    assert form.edit_values()["phone_number"] == "+447400123456"


def test_a_refused_country_code_leaves_phones_in_the_contacts_stored_country():
    form = submitted(contact_filled(), phone_number="081 234 5678", country_code="XX")

    assert not form.is_valid()
    assert "country_code" in form.errors
    assert "phone_number" not in form.errors


def test_phone_number_with_its_country_code_ignores_the_contacts_country():
    form = submitted(contact_filled(), phone_number="+1 415 555 0123")  # country code TH

    assert form.is_valid(), form.errors
    assert form.edit_values()["phone_number"] == "+14155550123"


def test_invalid_national_phone_number_is_refused_naming_the_country_used():
    form = submitted(contact_filled(), phone_number="081 234")

    assert not form.is_valid()
    assert form.errors["phone_number"] == [
        "Enter a valid phone number for Thailand (TH), or start with + and the country code."
    ]
    assert form["phone_number"].value() == "081 234"


def test_impossible_phone_number_is_refused():
    form = submitted(contact_filled(), phone_number="+66 12")

    assert not form.is_valid()
    assert "valid phone number" in form.errors["phone_number"][0]


def test_bad_email_is_refused():
    form = submitted(contact_filled(), email="ann@")

    assert not form.is_valid()
    assert form.errors["email"] == ["Enter a valid email address."]


def test_thumbnail_must_be_a_web_address():
    form = submitted(contact_filled(), thumbnail="javascript:alert(1)")

    assert not form.is_valid()
    assert "http://" in form.errors["thumbnail"][0]


def test_name_longer_than_255_characters_is_refused():
    form = submitted(contact_filled(), name="x" * 256)

    assert not form.is_valid()
    assert "name" in form.errors


def test_clearing_a_field_sends_it_empty():
    form = submitted(contact_filled(), email="")

    assert form.is_valid()
    assert form.edit_values()["email"] == ""


# --- Additional attributes and social profiles ------------------------------------------------


def test_additional_attribute_changes_are_in_the_values():
    form = submitted(
        contact_filled(),
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
    contact = contact_filled(additional_attributes={"description": "Line one\nLine two"})
    opened = ContactEditForm(contact=contact)

    form = ContactEditForm(
        edit_form_data(opened, description="Line one\r\nLine two"), contact=contact
    )

    assert form.is_valid()
    assert form.edit_values()["additional_attributes.description"] == "Line one\nLine two"


def test_unknown_country_code_is_refused():
    form = submitted(contact_filled(), country_code="XX")

    assert not form.is_valid()
    assert "ISO 3166" in form.errors["country_code"][0]


def test_description_longer_than_1000_characters_is_refused():
    form = submitted(contact_filled(), description="x" * 1001)

    assert not form.is_valid()
    assert "description" in form.errors


def test_social_profile_changes_are_in_the_values():
    form = submitted(contact_filled(), social_github="ann-lee", social_facebook="")

    assert form.is_valid()
    values = form.edit_values()
    assert values["social_profiles.github"] == "ann-lee"
    assert values["social_profiles.facebook"] == ""


# --- Signed base values, prefill and LiveDesk's errors ----------------------------------------


def test_tampered_base_values_are_a_form_error():
    contact = contact_filled()
    opened = ContactEditForm(contact=contact)
    data = edit_form_data(opened)
    data["base_values"] = signing.dumps({"contact": 1, "version": 1, "values": {}}, salt="x")

    form = ContactEditForm(data, contact=contact)

    assert not form.is_valid()
    assert "could not be verified" in form.errors["base_values"][0]


def test_base_values_of_another_contact_are_refused():
    contact, other = contact_filled(), contact_filled(remote_id=2, email="b@example.com")
    data = edit_form_data(ContactEditForm(contact=other))

    form = ContactEditForm(data, contact=contact)

    assert not form.is_valid()
    assert "base_values" in form.errors


def test_changed_base_version_is_refused():
    contact = contact_filled()
    data = edit_form_data(ContactEditForm(contact=contact), base_version="7")

    form = ContactEditForm(data, contact=contact)

    assert not form.is_valid()


def test_prefilled_form_shows_the_prefill_but_keeps_the_mirror_as_base():
    contact = contact_filled()
    prefill = {**fields.contact_values(contact), "name": "Ann Smith"}

    opened = ContactEditForm(contact=contact, prefill=prefill)
    form = ContactEditForm(edit_form_data(opened), contact=contact)

    assert opened["name"].value() == "Ann Smith"
    assert form.is_valid()
    assert form.base_values["name"] == "Ann Lee"
    assert form.edit_values()["name"] == "Ann Smith"
    payload = signing.loads(opened["base_values"].value(), salt=BASE_SALT)
    assert payload["values"]["name"] == "Ann Lee"


def test_livedesk_errors_land_on_the_fields_they_name():
    form = submitted(contact_filled())
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
    contact = contact_filled()
    opened = ContactEditForm(contact=contact)
    form = ContactEditForm(edit_form_data(opened, name="Ann Smith"), contact=contact)
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
        "created_from": None,
        "created_to": None,
        "active_from": None,
        "active_to": None,
        "attributes": [],
    }


def test_filter_form_ignores_unknown_choices():
    form = ContactFilterForm({"sort": "password", "availability": "asleep"}, countries=[])

    assert form.filters()["sort"] == "name"
    assert form.filters()["availability"] == ""


def test_prefixed_form_round_trips_its_values_and_rows():
    contact = contact_filled(custom_attributes={"plan": "gold"})
    opened = ContactEditForm(contact=contact, prefix="edit")
    data = edit_form_data(opened)
    data[f"{opened.custom_rows.prefix}-0-value"] = "silver"

    form = ContactEditForm(data, contact=contact, prefix="edit")

    assert opened.custom_rows.prefix == "edit-custom"
    assert "edit-base_values" in data
    assert form.is_valid(), (form.errors, form.custom_rows.errors)
    assert form.edit_values()["custom_attributes.plan"] == "silver"
