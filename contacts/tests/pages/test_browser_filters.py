"""The contact list's custom-attribute conditions in a real browser: the operators follow the
attribute's type, the value box its kind, and the list answers the condition."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from contacts.models import CustomAttributeDefinition
from contacts.tests.factories import contact_make, user_make
from contacts.tests.pages.conftest import logged_in

pytestmark = pytest.mark.browser

Kinds = CustomAttributeDefinition.AttributeType


def test_choosing_a_number_attribute_offers_its_operators_and_filters_the_list(page, live_server):
    CustomAttributeDefinition.objects.create(
        key="seats", label="Seats", attribute_type=Kinds.NUMBER
    )
    CustomAttributeDefinition.objects.create(key="since", label="Since", attribute_type=Kinds.DATE)
    contact_make(remote_id=1, name="Small Co", custom_attributes={"seats": 3})
    contact_make(remote_id=2, name="Big Co", custom_attributes={"seats": 40})
    contact_make(remote_id=3, name="Odd Co", custom_attributes={"seats": "40"})
    logged_in(page, user_make(), live_server)

    page.goto("/contacts/")
    results = page.get_by_role("row").filter(has=page.get_by_role("cell"))
    expect(results).to_have_count(3)
    attribute = page.get_by_label("Custom attribute of condition 1")
    operator = page.get_by_label("Operator of condition 1")
    value = page.get_by_label("Value of condition 1")

    attribute.select_option(label="Seats")
    offered = operator.locator("option:not([disabled])")
    expect(offered).to_have_text(
        ["equals", "greater than", "less than", "has a value", "has no value"]
    )
    expect(value).to_have_attribute("type", "number")
    attribute.select_option(label="Since")
    expect(value).to_have_attribute("type", "date")
    expect(operator.locator("option:not([disabled])")).to_contain_text(["before", "after"])

    attribute.select_option(label="Seats")
    operator.select_option(label="greater than")
    value.fill("10")
    page.get_by_role("button", name="Search", exact=True).click()

    expect(page).to_have_url(re.compile(r"[?&]attr=seats&op=gt&value=10"))
    expect(results).to_have_count(1)
    expect(results.first).to_contain_text("Big Co")
    expect(page.get_by_label("Value of condition 1")).to_have_value("10")
    expect(page.get_by_label("Custom attribute of condition 2")).to_have_value("")
