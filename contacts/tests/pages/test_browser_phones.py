"""A phone number typed as people say it, in a real browser: an agent types a Thai contact's
number in its national format, LiveDesk receives it in E.164 and the page shows it formatted.
Debian's Chromium, driven by Playwright, against the live server and a LiveDesk sandbox."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from contacts.tests.factories import contact_synced, patch_bodies, user_make
from contacts.tests.pages.conftest import logged_in

pytestmark = pytest.mark.browser


def test_an_agent_types_a_national_number_and_reads_it_formatted(page, sandbox, live_server):
    contact = contact_synced(
        sandbox=sandbox,
        name="Nok Wongsa",
        phone_number="+66898765432",
        additional_attributes={"country_code": "TH"},
    )
    sandbox.clear_recorded()
    logged_in(page, user_make(username="somchai"), live_server)

    page.goto(f"/contacts/{contact.remote_id}/edit/")
    phone = page.get_by_role("group", name="Core").get_by_label("Phone number")
    expect(phone).to_have_value("+66898765432")
    phone.fill("081 234 5678")
    page.get_by_role("button", name="Save to LiveDesk").click()

    expect(page.get_by_role("status").filter(has_text="Saved")).to_be_visible()
    expect(page).to_have_url(re.compile(rf"/contacts/{contact.remote_id}/$"))
    expect(
        page.get_by_role("definition").filter(has_text=re.compile(r"^\+66 81 234 5678$"))
    ).to_have_count(1)
    assert patch_bodies(sandbox) == [{"phone_number": "+66812345678"}]
    assert sandbox.store.get_contact(contact.remote_id)["phone_number"] == "+66812345678"
