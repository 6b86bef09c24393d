"""The contact's page in a real browser: an edit made during a LiveDesk outage, shown as it
stands and turned delivered without a reload; quick edits of one section."""

from __future__ import annotations

import re

import pytest
from django.urls import reverse
from playwright.sync_api import Page, expect

from contacts.models import ContactEdit
from contacts.services.push import edit_push
from contacts.tests.factories import (
    contact_synced,
    edit_failed_transiently,
    patch_bodies,
    user_make,
)
from contacts.tests.pages.conftest import logged_in

pytestmark = pytest.mark.browser


@pytest.fixture
def agent():
    return user_make(username="agent")


@pytest.fixture
def agent_page(page, agent, live_server) -> Page:
    return logged_in(page, agent, live_server)


def field_value(page: Page, section: str, label: str):
    """The value shown for one field of a section of the contact's page."""
    term = page.locator(f"#contact-section-{section} dt").filter(has_text=re.compile(f"^{label}$"))
    return term.locator("xpath=following-sibling::dd[1]")


def page_marked(page: Page) -> None:
    """Mark the loaded document: a reload would lose the mark."""
    page.evaluate("window.loadedOnce = true")


def still_the_same_document(page: Page) -> bool:
    return page.evaluate("window.loadedOnce === true")


def test_an_outage_edit_shows_its_cause_then_turns_delivered_without_a_reload(
    agent_page, sandbox, no_client_retries
):
    page = agent_page
    contact = contact_synced(
        sandbox=sandbox, name="Anan Dee", additional_attributes={"city": "Krabi"}
    )
    sandbox.faults.methods = "PATCH"
    sandbox.faults.failure_rate = 1.0
    sandbox.faults.failure_status = 503

    page.goto(f"/contacts/{contact.remote_id}/")
    page.get_by_role("link", name="Edit Additional attributes").click()
    page.get_by_label("City").fill("Phuket")
    page.get_by_role("button", name="Save to LiveDesk").click()

    state = page.locator("#edit-state")
    expect(state).to_contain_text(
        re.compile(r"Not yet in LiveDesk: LiveDesk answered 503 at .+; next try in \d+ s")
    )
    city = field_value(page, "additional", "City")
    expect(city).to_contain_text("Krabi")
    expect(city.locator(".pending-value")).to_have_text(re.compile(r"not yet in LiveDesk\s+Phuket"))
    expect(page.locator("#contact-header")).to_contain_text("Not yet in LiveDesk")
    # One state: no "saved, will be retried" message beside it, no "Failed".
    expect(page.get_by_role("alert")).to_have_count(0)
    expect(page.get_by_text(re.compile(r"\bFailed\b"))).to_have_count(0)
    page_marked(page)

    sandbox.reset_faults()
    edit_push(edit_id=ContactEdit.objects.get().pk)

    expect(state).not_to_contain_text("Not yet in LiveDesk")
    expect(city).to_have_text("Phuket")
    expect(page.locator("#contact-header")).not_to_contain_text("Not yet in LiveDesk")
    expect(page.locator("#contact-history")).to_contain_text("Delivered to LiveDesk")
    assert still_the_same_document(page)
    assert sandbox.store.get_contact(contact.remote_id)["additional_attributes"]["city"] == "Phuket"


def test_a_page_with_nothing_unfinished_does_not_poll(agent_page, sandbox):
    page = agent_page
    contact = contact_synced(sandbox=sandbox, name="Anan Dee")
    live = reverse("contacts:live", args=[contact.remote_id])
    asked = []
    page.on("request", lambda request: asked.append(request.url) if live in request.url else None)

    page.goto(f"/contacts/{contact.remote_id}/")
    page.wait_for_timeout(4000)

    assert asked == []


def test_a_quick_edit_of_one_field_lands_in_livedesk(agent_page, sandbox):
    page = agent_page
    contact = contact_synced(sandbox=sandbox, name="Anan Dee", email="anan@example.com")
    sandbox.clear_recorded()

    page.goto(f"/contacts/{contact.remote_id}/")
    page.get_by_role("link", name="Edit Core").click()
    name = page.get_by_label("Name", exact=True)
    expect(name).to_be_focused()
    name.fill("Anan Deeprom")
    page.get_by_role("button", name="Save to LiveDesk").click()

    expect(page.get_by_role("status").filter(has_text="LiveDesk accepted")).to_be_visible()
    expect(page.get_by_role("heading", level=1)).to_have_text("Anan Deeprom")
    expect(page.locator("#last-change")).to_contain_text("Last changed by agent")
    assert patch_bodies(sandbox) == [{"name": "Anan Deeprom"}]
    assert sandbox.store.get_contact(contact.remote_id)["name"] == "Anan Deeprom"


def test_a_quick_edit_error_stays_in_its_section_with_focus_on_the_field(agent_page, sandbox):
    page = agent_page
    contact = contact_synced(sandbox=sandbox, name="Anan Dee")
    sandbox.clear_recorded()

    page.goto(f"/contacts/{contact.remote_id}/")
    page.get_by_role("link", name="Edit Core").click()
    page.get_by_label("Email").fill("not an email")
    page.get_by_role("button", name="Save to LiveDesk").click()

    email = page.get_by_label("Email")
    expect(email).to_have_attribute("aria-invalid", "true")
    expect(email).to_be_focused()
    expect(email).to_have_value("not an email")
    page.get_by_role("link", name="Cancel").click()
    expect(page.get_by_role("link", name="Edit Core")).to_be_focused()
    assert patch_bodies(sandbox) == []


def test_the_lists_badge_follows_an_edit_until_it_lands_without_a_reload(
    agent_page, sandbox, agent, no_client_retries
):
    page = agent_page
    contact = contact_synced(sandbox=sandbox, name="Anan Dee")
    contact_synced(sandbox=sandbox, name="Bee Settled")
    edit = edit_failed_transiently(
        sandbox=sandbox, contact=contact, editor=agent, changes={"name": "Anan D."}
    )
    page.goto("/contacts/")
    badge = page.locator(f"#contact-results [data-push-state-for='{contact.remote_id}']")
    expect(badge).to_have_text("Not yet in LiveDesk")
    page_marked(page)

    sandbox.reset_faults()
    edit_push(edit_id=edit.pk)

    expect(badge).to_have_attribute("data-push-state", "in_sync")
    expect(badge).to_be_hidden()
    assert still_the_same_document(page)
