"""The agent pages on a 390 px phone, in English and Thai: none is wider than the screen (a
page wider than the viewport scrolls sideways and cuts its right-hand columns), the list shows
cards behind folded filters, the history names its contact. Debian's Chromium, driven by
Playwright, against the live server."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from playwright.sync_api import Page, expect

from contacts.models import Segment
from contacts.tests.factories import (
    batch_edits_make,
    contact_filled,
    contacts_made,
    edit_recorded_unsent,
)
from contacts.tests.pages.conftest import EXPECT_TIMEOUT_MS, axe_report, axe_violations, logged_in

pytestmark = pytest.mark.browser

PHONE = {"width": 390, "height": 844}
# The longest words the pages show: an address, a company, a note with no space to break at.
LONG_EMAIL = "somchai.jaidee.customer.success@very-long-company-name.example.co.th"
LONG_COMPANY = "Siam Commercial Logistics and Warehousing Public Company Limited"
LONG_NOTE = "Prefers LINE; " + "x" * 80

# The outermost elements that reach past the screen's right edge (their parents do not): what
# the failure names, so that it says which part of the page to fix.
WIDER_THAN_THE_SCREEN = """() => {
    const width = document.documentElement.clientWidth;
    const past = element => element.getBoundingClientRect().right > width + 0.5;
    return [...document.querySelectorAll("body *")]
        .filter(element => past(element) && !past(element.parentElement)
                && element.checkVisibility())
        .slice(0, 5)
        .map(element => element.tagName.toLowerCase() + (element.id ? "#" + element.id : "")
            + (typeof element.className === "string" && element.className.trim()
               ? "." + element.className.trim().split(/\\s+/).join(".") : "")
            + " right=" + Math.round(element.getBoundingClientRect().right));
}"""


@pytest.fixture
def phone_pages(lead) -> list[str]:
    """A mirror with enough rows to page, a contact with long values and edits, a batch and
    a segment: the agent pages' URLs, each showing what can make it wide."""
    contacts_made(
        60, prefix="Thanakorn, a contact with a rather long name", company_name=LONG_COMPANY
    )
    contact = contact_filled(
        remote_id=900_001,
        name="Somchai Jaidee Wongsawat Srisuk",
        email=LONG_EMAIL,
        additional_attributes={
            "description": LONG_NOTE,
            "company_name": LONG_COMPANY,
            "city": "Bangkok",
            "country": "Thailand",
            "country_code": "TH",
        },
        custom_attributes={"loyalty_tier": "gold", "notes": LONG_NOTE},
    )
    edit_recorded_unsent(
        contact=contact,
        editor=lead,
        changes={
            "email": "s.jaidee@example.com",
            "additional_attributes.company_name": LONG_COMPANY + " (Thailand)",
        },
    )
    batch, _edits = batch_edits_make(
        by=lead, changes={contact: {"additional_attributes.city": "Chiang Mai"}}
    )
    segment = Segment.objects.create(owner=lead, name="Thailand, gold tier", query="country=TH")
    return [
        "/contacts/",
        f"/contacts/{contact.remote_id}/",
        f"/contacts/{contact.remote_id}/edit/",
        "/contacts/history/",
        f"/contacts/history/?contact={contact.remote_id}",
        f"/contacts/bulk-edit/?contact={contact.remote_id}",
        "/contacts/import/",
        "/contacts/batches/",
        f"/contacts/batches/{batch.pk}/",
        f"/contacts/segments/{segment.pk}/",
        "/contacts/segments/save/?country=TH",
    ]


@pytest.fixture(params=["en", "th"])
def language(request) -> str:
    return request.param


@pytest.fixture
def phone(language, browser, live_server, lead) -> Iterator[Page]:
    """A 390 x 844 phone in the language asked (its browser's Accept-Language), logged in."""
    context = browser.new_context(
        base_url=live_server.url,
        locale={"en": "en-US", "th": "th-TH"}[language],
        viewport=PHONE,
        device_scale_factor=1,
        is_mobile=True,
        has_touch=True,
    )
    context.set_default_timeout(EXPECT_TIMEOUT_MS)
    page = logged_in(context.new_page(), lead, live_server)
    yield page
    context.close()


def test_no_agent_page_is_wider_than_a_phone(phone, language, phone_pages):
    too_wide = {}
    for url in phone_pages:
        response = phone.goto(url)
        assert response is not None and response.ok, (
            f"{url} answered {response and response.status}"
        )
        assert phone.locator("html").get_attribute("lang") == language
        width = phone.evaluate("document.documentElement.scrollWidth")
        if width > PHONE["width"]:
            too_wide[url] = (width, phone.evaluate(WIDER_THAN_THE_SCREEN))
    assert too_wide == {}, too_wide


# Boxes that scroll sideways inside the page (a table in .table-responsive, say): the page
# itself fits, yet the agent must swipe the box to read its right-hand columns.
SIDEWAYS_SCROLLERS = """() => [...document.querySelectorAll("main *")]
    .filter(element => element.scrollWidth > element.clientWidth + 1
            && ["auto", "scroll"].includes(getComputedStyle(element).overflowX)
            && element.tagName !== "PRE")
    .map(element => element.tagName.toLowerCase() + "." + element.className)"""

TOO_SMALL_TO_TAP = """selector => [...document.querySelectorAll(selector)]
    .filter(element => element.checkVisibility())
    .map(element => element.getBoundingClientRect())
    .filter(box => box.width < 24 || box.height < 24)
    .map(box => [Math.round(box.width), Math.round(box.height)])"""
TAP_TARGETS = (
    'input[type="checkbox"], .table-contacts th a, .pagination .page-link, #filters-toggle'
)


def test_on_a_phone_the_list_shows_cards_that_open_the_contact(phone, phone_pages):
    phone.goto("/contacts/")
    assert phone.evaluate(SIDEWAYS_SCROLLERS) == []
    card = phone.locator("tbody tr").filter(has_text="Somchai Jaidee Wongsawat Srisuk")
    expect(card).to_contain_text(LONG_EMAIL)
    expect(card).to_contain_text("+66 81 234 5678")
    expect(card.locator(".cell-company")).to_be_hidden()
    box = card.bounding_box()
    assert box["width"] <= PHONE["width"] and box["height"] >= 24
    assert phone.evaluate(TOO_SMALL_TO_TAP, TAP_TARGETS) == []
    violations = axe_violations(phone)
    assert violations == [], axe_report(violations)

    # A tap on the card's email, not on its link, opens the contact; its tick stays a tick.
    tick = card.locator('input[name="contact"]')
    tick.tap()
    expect(tick).to_be_checked()
    email = card.locator(".cell-email").bounding_box()
    phone.touchscreen.tap(email["x"] + email["width"] / 2, email["y"] + email["height"] / 2)
    expect(phone).to_have_url(re.compile(r"/contacts/900001/$"))


def test_on_a_phone_the_filters_wait_behind_a_button_unless_one_applies(phone, phone_pages):
    phone.goto("/contacts/")
    country = phone.locator("#id_country")
    expect(country).to_be_hidden()
    # The first screen shows results, not filters.
    assert phone.locator("tbody tr").first.bounding_box()["y"] < PHONE["height"]
    toggle = phone.locator("#filters-toggle")
    expect(toggle).to_have_attribute("aria-expanded", "false")
    toggle.tap()
    expect(country).to_be_visible()
    expect(toggle).to_have_attribute("aria-expanded", "true")
    # Bootstrap's unfolding (0.35 s) over, so that axe sees the page at rest.
    expect(phone.locator(".collapsing")).to_have_count(0)
    violations = axe_violations(phone)
    assert violations == [], axe_report(violations)

    phone.goto("/contacts/?country=Thailand")
    expect(country).to_be_visible()
    expect(phone.locator("#filters-toggle .badge")).to_contain_text("1")
    expect(phone.locator("tbody tr").filter(has_text="Somchai Jaidee")).to_have_count(1)


def test_the_desktop_list_stays_a_table_with_tap_targets_of_24_px(phone, phone_pages):
    phone.set_viewport_size({"width": 1280, "height": 900})
    phone.goto("/contacts/")
    expect(phone.locator("#filters-toggle")).to_be_hidden()
    expect(phone.locator("#id_country")).to_be_visible()
    expect(phone.locator("thead th.cell-phone")).to_be_visible()
    assert phone.locator("table.contact-cards").evaluate("t => getComputedStyle(t).display") == (
        "table"
    )
    assert phone.evaluate(TOO_SMALL_TO_TAP, TAP_TARGETS) == []


def test_the_history_names_its_contact_and_fits_a_phone(phone, phone_pages, language):
    phone.goto("/contacts/history/?contact=900001")
    assert phone.evaluate(SIDEWAYS_SCROLLERS) == []
    name = "Somchai Jaidee Wongsawat Srisuk"
    expect(phone.get_by_role("heading", level=1)).to_contain_text(name)
    expect(phone.locator('input[name="contact"]')).to_have_count(1)
    expect(phone.locator('input[type="text"][name="contact"]')).to_have_count(0)
    rows = phone.locator("tbody tr")
    expect(rows).to_have_count(2)
    for index in range(2):
        expect(rows.nth(index).get_by_role("link", name=name)).to_be_visible()
        assert rows.nth(index).bounding_box()["width"] <= PHONE["width"]

    violations = axe_violations(phone)
    assert violations == [], axe_report(violations)

    phone.locator(".history-contact-clear").tap()
    expect(phone).to_have_url(re.compile(r"/contacts/history/\??$"))
    expect(phone.locator('input[type="text"][name="contact"]')).to_have_value("")
