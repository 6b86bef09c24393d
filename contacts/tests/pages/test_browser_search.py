"""The contact list's search in a real browser: results as the agent types, the URL kept in step,
and "/" to reach the search box."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from contacts.tests.factories import contact_synced
from contacts.tests.pages.conftest import logged_in

pytestmark = pytest.mark.browser


@pytest.fixture
def agent_page(page, agent, live_server) -> Page:
    return logged_in(page, agent, live_server)


@pytest.fixture
def anchalee(sandbox):
    """Anchalee Naksawat among a few other contacts."""
    sandbox.store.seed(4)
    contact_synced(sandbox=sandbox, name="Somchai Jaidee", email="somchai@example.com")
    return contact_synced(
        sandbox=sandbox, name="Anchalee Naksawat", email="anchalee@example.com", phone_number=""
    )


def result_rows(page: Page):
    # The table's body rows: the heading row holds column headers, not cells.
    return page.get_by_role("row").filter(has=page.get_by_role("cell"))


def test_typing_a_surname_fragment_lists_her_and_opens_her_page(agent_page, anchalee):
    page = agent_page
    page.goto("/contacts/")
    rows = result_rows(page)
    expect(rows).to_have_count(6)
    # Survives only as long as the page does: a full reload would drop it.
    page.evaluate("window.sameDocument = true")

    page.get_by_role("searchbox", name="Search").press_sequentially("aksaw", delay=40)

    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text("Anchalee Naksawat")
    expect(page).to_have_url(re.compile(r"[?&]q=aksaw(&|$)"))
    expect(page.get_by_role("status")).to_have_text("1 contact matches.")
    assert page.evaluate("window.sameDocument === true"), "the results came by a full page load"

    page.get_by_role("link", name="Anchalee Naksawat").click()
    expect(page).to_have_url(re.compile(rf"/contacts/{anchalee.remote_id}/$"))
    expect(page.get_by_role("heading", name="Anchalee Naksawat")).to_be_visible()


def test_the_typed_url_reloads_and_goes_back_to_its_results(agent_page, anchalee):
    page = agent_page
    page.goto("/contacts/")
    rows = result_rows(page)
    expect(rows).to_have_count(6)
    search = page.get_by_role("searchbox", name="Search")

    search.press_sequentially("aksaw", delay=40)
    expect(page).to_have_url(re.compile(r"[?&]q=aksaw(&|$)"))
    expect(rows).to_have_count(1)

    page.reload()
    expect(search).to_have_value("aksaw")
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text("Anchalee Naksawat")

    page.go_back()
    expect(page).to_have_url(re.compile(r"/contacts/$"))
    expect(rows).to_have_count(6)
    expect(search).to_have_value("")


def test_slash_jumps_to_the_search_box(agent_page, anchalee):
    page = agent_page
    page.goto("/contacts/")
    search = page.get_by_role("searchbox", name="Search")
    expect(page.get_by_text("Press / to jump to the search box.")).to_be_visible()
    expect(search).not_to_be_focused()

    page.keyboard.press("/")

    expect(search).to_be_focused()
    expect(search).to_have_value("")


def test_slash_is_a_character_in_another_box_and_with_a_modifier(agent_page, anchalee):
    page = agent_page
    page.goto("/contacts/")
    search = page.get_by_role("searchbox", name="Search")
    country = page.get_by_role("combobox", name="Country")

    country.focus()
    page.keyboard.press("/")
    expect(country).to_be_focused()

    page.locator("body").focus()
    page.keyboard.press("Control+/")
    expect(search).not_to_be_focused()


def test_typing_breaks_no_rule_of_the_content_security_policy(agent_page, anchalee):
    page = agent_page
    messages: list[str] = []
    page.on("console", lambda message: messages.append(message.text))
    page.goto("/contacts/")

    page.get_by_role("searchbox", name="Search").press_sequentially("aksaw", delay=40)

    expect(page).to_have_url(re.compile(r"[?&]q=aksaw(&|$)"))
    expect(result_rows(page)).to_have_count(1)
    expect(result_rows(page).first).to_contain_text("Anchalee Naksawat")
    assert not [text for text in messages if "Content Security Policy" in text]


def test_typing_after_the_session_ended_opens_the_login_page(agent_page, anchalee):
    page = agent_page
    page.goto("/contacts/")
    expect(result_rows(page)).to_have_count(6)
    page.context.clear_cookies()

    page.get_by_role("searchbox", name="Search").press_sequentially("aksaw", delay=40)

    expect(page).to_have_url(re.compile(r"/accounts/login/\?next="))
    expect(page.get_by_role("heading", name="Log in")).to_be_visible()
    expect(page.locator("#contact-results")).to_have_count(0)
