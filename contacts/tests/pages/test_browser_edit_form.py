"""The edit form in a real browser, used with the keyboard alone and on a phone: errors that
find the agent, a conflicting field that takes focus, the Save bar always in view, custom rows
added on demand. Debian's Chromium, driven by Playwright, against the live server and a
LiveDesk sandbox."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from contacts import services
from contacts.tests.factories import contact_synced, patch_bodies, user_make
from contacts.tests.pages.conftest import logged_in

pytestmark = pytest.mark.browser

PHONE = {"width": 390, "height": 844}
# Far more Tabs than the form has stops: a field never reached fails the test.
TAB_LIMIT = 120


def edit_path(contact) -> str:
    return f"/contacts/{contact.remote_id}/edit/"


def tab_to(page: Page, element_id: str) -> int:
    """Press Tab until the element with this id has focus; the number of presses."""
    for presses in range(1, TAB_LIMIT + 1):
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement && document.activeElement.id") == element_id:
            return presses
    raise AssertionError(f"Tab never reached #{element_id}")


def test_keyboard_only_an_invalid_email_lands_focus_on_the_summary_and_its_link_on_the_field(
    page, sandbox, live_server
):
    contact = contact_synced(sandbox=sandbox, name="Ann Lee", email="ann@example.com")
    sandbox.clear_recorded()
    logged_in(page, user_make(username="somchai"), live_server)
    page.goto(edit_path(contact))

    tab_to(page, "id_email")
    page.keyboard.press("ControlOrMeta+a")
    page.keyboard.type("not an email")
    page.keyboard.press("Enter")

    summary = page.locator("#error-summary")
    expect(summary).to_be_focused()
    expect(summary.get_by_role("heading")).to_have_text(re.compile("Nothing was sent"))
    page.keyboard.press("Tab")
    link = summary.get_by_role("link", name="Email", exact=True)
    expect(link).to_be_focused()
    page.keyboard.press("Enter")
    email = page.get_by_role("group", name="Core").get_by_label("Email")
    expect(email).to_be_focused()
    expect(email).to_be_in_viewport()
    expect(email).to_have_attribute("aria-invalid", "true")
    expect(email).to_have_accessible_description(re.compile("Enter a valid email address"))
    assert patch_bodies(sandbox) == []


def test_after_a_conflict_the_conflicting_field_has_focus_and_the_other_change_is_delivered(
    page, sandbox, live_server
):
    contact = contact_synced(sandbox=sandbox, name="Ann Lee", email="ann@example.com")
    logged_in(page, user_make(username="somchai"), live_server)
    page.goto(edit_path(contact))
    sandbox.store.update_contact(contact.remote_id, {"name": "Ann Theirs"})
    services.contacts_sync()
    sandbox.clear_recorded()

    core = page.get_by_role("group", name="Core")
    core.get_by_label("Name", exact=True).fill("Ann Yours")
    page.get_by_role("group", name="Additional attributes").get_by_label("City").fill("Phuket")
    page.get_by_role("button", name="Save to LiveDesk").click()

    name = core.get_by_label("Name", exact=True)
    expect(name).to_be_focused()
    expect(name).to_have_value("Ann Yours")
    expect(name).to_have_attribute("aria-invalid", "true")
    expect(name).to_have_accessible_description(
        re.compile("Changed by someone else to “Ann Theirs”")
    )
    expect(page.locator("#error-summary")).to_contain_text("Delivered to LiveDesk: City.")
    assert patch_bodies(sandbox) == [{"additional_attributes": {"city": "Phuket"}}]

    page.get_by_role("button", name="Save to LiveDesk").click()

    expect(page.get_by_role("status").filter(has_text="Saved")).to_be_visible()
    assert patch_bodies(sandbox)[-1] == {"name": "Ann Yours"}


def test_on_a_phone_the_save_bar_stays_in_view_down_the_whole_form(browser, sandbox, live_server):
    contact = contact_synced(sandbox=sandbox, name="Ann Lee", email="ann@example.com")
    context = browser.new_context(base_url=live_server.url, locale="en-US", viewport=PHONE)
    page = logged_in(context.new_page(), user_make(username="somchai"), live_server)
    page.goto(edit_path(contact))

    save = page.get_by_role("button", name="Save to LiveDesk")
    cancel = page.get_by_role("link", name="Cancel")
    expect(save).to_be_in_viewport()
    expect(cancel).to_be_in_viewport()
    page.get_by_role("group", name="Social profiles").get_by_label(
        "GitHub"
    ).scroll_into_view_if_needed()
    expect(save).to_be_in_viewport()
    page.keyboard.press("End")
    expect(save).to_be_in_viewport()
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    context.close()


def test_add_an_attribute_adds_a_row_in_place_and_its_key_takes_focus(page, sandbox, live_server):
    contact = contact_synced(sandbox=sandbox, name="Ann Lee")
    sandbox.clear_recorded()
    logged_in(page, user_make(username="somchai"), live_server)
    page.goto(edit_path(contact))
    custom = page.get_by_role("group", name="Custom attributes")
    expect(custom.get_by_role("textbox", name="Key", exact=True)).to_have_count(0)

    custom.get_by_role("button", name="Add an attribute").click()

    key = custom.get_by_role("textbox", name="Key", exact=True)
    expect(key).to_have_count(1)
    expect(key).to_be_focused()
    key.fill("vip_level")
    custom.get_by_role("textbox", name="Value", exact=True).fill("3")
    page.get_by_role("button", name="Save to LiveDesk").click()

    expect(page.get_by_role("status").filter(has_text="Saved")).to_be_visible()
    assert patch_bodies(sandbox) == [{"custom_attributes": {"vip_level": "3"}}]


def test_without_javascript_add_an_attribute_posts_back_one_more_row(browser, sandbox, live_server):
    contact = contact_synced(sandbox=sandbox, name="Ann Lee")
    sandbox.clear_recorded()
    context = browser.new_context(
        base_url=live_server.url, locale="en-US", java_script_enabled=False
    )
    page = logged_in(context.new_page(), user_make(username="somchai"), live_server)
    page.goto(edit_path(contact))
    custom = page.get_by_role("group", name="Custom attributes")

    custom.get_by_role("button", name="Add an attribute").click()

    key = custom.get_by_role("textbox", name="Key", exact=True)
    expect(key).to_have_count(1)
    expect(key).to_be_focused()  # autofocus
    key.fill("vip_level")
    custom.get_by_role("textbox", name="Value", exact=True).fill("3")
    key.press("Enter")  # the default button saves; it does not add another row

    expect(page.get_by_role("status").filter(has_text="Saved")).to_be_visible()
    assert patch_bodies(sandbox) == [{"custom_attributes": {"vip_level": "3"}}]
    context.close()
