"""Saved segments in a real browser: an agent saves a search, shared; a colleague sees it with
its count (fetched after the page loaded) and opens it; on a phone the panel folds to one line.
Debian's Chromium, driven by Playwright, against the live server."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from contacts.services.segments import segment_save
from contacts.tests.factories import contacts_made, user_make
from contacts.tests.pages.conftest import logged_in

pytestmark = pytest.mark.browser

PHONE = {"width": 390, "height": 844}


def contact_rows(page: Page):
    return page.get_by_role("row").filter(has=page.get_by_role("cell"))


def segments_panel(page: Page):
    return page.get_by_role("region", name="Saved segments")


def test_a_shared_search_is_saved_then_counted_and_opened_by_a_colleague(
    page, browser, live_server
):
    contacts_made(3, prefix="Ann", country="Thailand")
    contacts_made(2, prefix="Ann", country="Japan", start=100)
    contacts_made(2, prefix="Bob", country="Thailand", start=200)
    agent = user_make(username="somchai")
    colleague = user_make(username="wilai")

    logged_in(page, agent, live_server).goto("/contacts/?q=Ann&country=Thailand")
    panel = segments_panel(page)
    panel.get_by_text("Save this search").click()
    panel.get_by_label("Name").fill("Thai Anns")
    panel.get_by_label("Share with the team").check()
    panel.get_by_role("button", name="Save", exact=True).click()

    expect(page).to_have_url(re.compile(r"\?q=Ann&country=Thailand&segment=\d+$"))
    expect(page.get_by_role("status").filter(has_text="Segment “Thai Anns” saved.")).to_be_visible()
    expect(contact_rows(page)).to_have_count(3)
    opened = segments_panel(page).locator('a[aria-current="true"]')
    expect(opened).to_contain_text("Thai Anns")
    expect(opened.locator("[data-segment-count]")).to_have_text("3")

    context = browser.new_context(base_url=live_server.url, locale="en-US")
    other = logged_in(context.new_page(), colleague, live_server)
    other.goto("/contacts/")
    expect(contact_rows(other)).to_have_count(7)
    shared = segments_panel(other).get_by_role("link", name=re.compile("Thai Anns"))
    expect(segments_panel(other)).to_contain_text("shared by somchai")
    expect(shared.locator("[data-segment-count]")).to_have_text("3")
    expect(segments_panel(other).get_by_role("button", name="Rename")).to_have_count(0)
    shared.click()
    expect(other).to_have_url(re.compile(r"segment=\d+"))
    expect(contact_rows(other)).to_have_count(3)
    expect(shared).to_have_attribute("aria-current", "true")
    context.close()


def test_on_a_phone_the_segments_fold_to_one_line_above_the_list(browser, live_server):
    contacts_made(1001, prefix="Ann", country="Thailand")
    agent = user_make(username="somchai")
    for number in range(12):
        segment_save(owner=agent, name=f"Segment {number:02d}", query="q=Ann", shared=False)
    context = browser.new_context(base_url=live_server.url, locale="en-US", viewport=PHONE)
    page = logged_in(context.new_page(), agent, live_server)

    page.goto("/contacts/")
    panel = segments_panel(page)
    first = panel.get_by_role("link", name=re.compile("Segment 00"))
    expect(first).to_be_hidden()
    assert panel.bounding_box()["height"] < 70
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")

    panel.get_by_role("button", name="Show 12 segments").click()
    expect(first).to_be_visible()
    expect(first.locator("[data-segment-count]")).to_have_text("more than 1,000")
    context.close()
