"""The agent pages in a real browser: Debian's Chromium, driven by Playwright, against the live
server and a LiveDesk sandbox on loopback sockets."""

from __future__ import annotations

import re

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group, Permission
from django.utils import translation
from playwright.sync_api import Locator, Page, expect

from contacts.models import Contact, ContactEdit
from contacts.tests.factories import contact_synced, patch_bodies
from contacts.tests.pages.conftest import logged_in

pytestmark = pytest.mark.browser

AGENTS_GROUP = "LiveDesk agents"
AGENT_PERMISSIONS = ("view_contact", "change_contact", "view_contactedit")
AGENT_USERNAME = "agent"
AGENT_PASSWORD = "browser-test-password"


# --- Data --------------------------------------------------------------------------------------


@pytest.fixture
def agent():
    """A support agent: a user in the "LiveDesk agents" group."""
    # The group comes from a data migration, which a transactional test's flush removes.
    group, _created = Group.objects.get_or_create(name=AGENTS_GROUP)
    group.permissions.add(
        *Permission.objects.filter(
            content_type__app_label="contacts", codename__in=AGENT_PERMISSIONS
        )
    )
    user = get_user_model().objects.create_user(username=AGENT_USERNAME, password=AGENT_PASSWORD)
    user.groups.add(group)
    return user


@pytest.fixture
def agent_page(page, agent, live_server) -> Page:
    """The page with the agent's session cookie, as if they had just logged in."""
    return logged_in(page, agent, live_server)


def custom_row(custom: Locator, key: str) -> int:
    """The position of the custom attribute row whose key box holds `key`."""
    keys = custom.get_by_role("textbox", name="Key", exact=True)
    for index in range(keys.count()):
        if keys.nth(index).input_value() == key:
            return index
    raise AssertionError(f"No custom attribute row has the key {key!r}")


# --- Tests -------------------------------------------------------------------------------------


def test_agent_logs_in_searches_by_name_and_opens_the_contact(page, sandbox, agent):
    sandbox.store.seed(5)
    contact_synced(sandbox=sandbox, name="Somchai Jaidee", email="somchai@example.com")

    page.goto("/contacts/")
    expect(page).to_have_url(re.compile(r"/accounts/login/"))
    expect(page.get_by_role("heading", name="Log in")).to_be_visible()
    page.get_by_label("Username").fill(AGENT_USERNAME)
    page.get_by_label("Password").fill(AGENT_PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("heading", name="Contacts", exact=True)).to_be_visible()

    # The table's body rows: the heading row holds column headers, not cells.
    results = page.get_by_role("row").filter(has=page.get_by_role("cell"))
    expect(results).to_have_count(6)
    page.get_by_role("searchbox", name="Search").fill("Somchai Jai")
    page.get_by_role("button", name="Search", exact=True).click()
    expect(page).to_have_url(re.compile(r"[?&]q=Somchai"))
    expect(results).to_have_count(1)
    results.get_by_role("link", name="Somchai Jaidee").click()

    expect(page.get_by_role("heading", name="Somchai Jaidee", level=1)).to_be_visible()
    expect(page.get_by_role("link", name="somchai@example.com")).to_be_visible()


def test_editing_every_section_sends_one_minimal_patch_and_shows_livedesks_values(
    agent_page, sandbox
):
    page = agent_page
    contact = contact_synced(
        sandbox=sandbox,
        name="Nok Wongsa",
        email="nok@example.com",
        phone_number="+66898765432",
        additional_attributes={
            "company_name": "Old Co",
            "city": "Chiang Mai",
            "country_code": "TH",
            "social_profiles": {"github": "nok-old", "twitter": "noktweets"},
        },
        custom_attributes={"plan": "basic", "tier": "gold", "legacy_id": "L-1"},
    )
    sandbox.clear_recorded()

    page.goto(f"/contacts/{contact.remote_id}/edit/")
    core = page.get_by_role("group", name="Core")
    core.get_by_label("Name", exact=True).fill("Nok Wongsakul")
    core.get_by_label("Email", exact=True).fill("NOK.W@EXAMPLE.COM")
    core.get_by_label("Phone number").fill("+66 81 234 5678")
    additional = page.get_by_role("group", name="Additional attributes")
    additional.get_by_label("Company name").fill("New Co")
    additional.get_by_label("City").fill("Bangkok")
    additional.get_by_label("Country code").fill("SG")
    page.get_by_role("group", name="Social profiles").get_by_label("GitHub").fill("nok-new")
    custom = page.get_by_role("group", name="Custom attributes")
    keys = custom.get_by_role("textbox", name="Key", exact=True)
    values = custom.get_by_role("textbox", name="Value", exact=True)
    values.nth(custom_row(custom, "plan")).fill("pro")
    custom.get_by_role("checkbox", name="Remove").nth(custom_row(custom, "legacy_id")).check()
    custom.get_by_role("button", name="Add an attribute").click()
    expect(keys.last).to_be_focused()
    keys.last.fill("region")
    values.last.fill("north")
    page.get_by_role("button", name="Save to LiveDesk").click()

    expect(page.get_by_role("status").filter(has_text="Saved")).to_be_visible()
    expect(page).to_have_url(re.compile(rf"/contacts/{contact.remote_id}/$"))
    expect(page.get_by_role("heading", name="Nok Wongsakul", level=1)).to_be_visible()
    expect(page.get_by_role("link", name="nok.w@example.com")).to_be_visible()
    for shown in ("+66 81 234 5678", "New Co", "Bangkok", "SG", "pro", "north"):
        expect(
            page.get_by_role("definition").filter(has_text=re.compile(rf"^{re.escape(shown)}$"))
        ).to_have_count(1)
    expect(page.get_by_role("link", name="nok-new")).to_be_visible()
    expect(page.get_by_role("term").filter(has_text="plan")).to_have_count(1)
    expect(page.get_by_role("term").filter(has_text="legacy_id")).to_have_count(0)

    page.goto("/contacts/history/")
    row = page.get_by_role("row").filter(has_text="Nok Wongsakul")
    expect(row).to_have_count(1)
    changes = row.get_by_role("listitem")
    for label, before, after in (
        ("Name", "Nok Wongsa", "Nok Wongsakul"),
        ("Email", "nok@example.com", "nok.w@example.com"),
        ("Phone number", "+66 89 876 5432", "+66 81 234 5678"),
        ("Company name", "Old Co", "New Co"),
        ("City", "Chiang Mai", "Bangkok"),
        ("Country code", "TH", "SG"),
        ("GitHub", "nok-old", "nok-new"),
        ("plan", "basic", "pro"),
        ("legacy_id", "L-1", "(absent)"),
        ("region", "(absent)", "north"),
    ):
        expect(changes.filter(has_text=re.compile(rf"^\s*{re.escape(label)}:"))).to_have_text(
            re.compile(rf"{re.escape(label)}:\s*{re.escape(before)}\s*becomes\s*{re.escape(after)}")
        )
    expect(row).to_contain_text("Succeeded")

    bodies = patch_bodies(sandbox)
    assert len(bodies) == 1
    body = bodies[0]
    assert set(body) == {
        "name",
        "email",
        "phone_number",
        "additional_attributes",
        "custom_attributes",
    }
    assert body["name"] == "Nok Wongsakul"
    assert body["email"].lower() == "nok.w@example.com"
    assert body["phone_number"] == "+66812345678"
    assert body["additional_attributes"] == {
        "company_name": "New Co",
        "city": "Bangkok",
        "country_code": "SG",
        # LiveDesk's current networks with the changed one: none it never had is sent empty.
        "social_profiles": {"github": "nok-new", "twitter": "noktweets"},
    }
    assert body["custom_attributes"] == {"plan": "pro", "region": "north", "legacy_id": None}


def test_a_bad_phone_number_is_shown_by_the_field_and_nothing_is_sent(agent_page, sandbox):
    page = agent_page
    contact = contact_synced(sandbox=sandbox, name="Malee Sook", phone_number="+66898765432")
    sandbox.clear_recorded()

    page.goto(f"/contacts/{contact.remote_id}/edit/")
    page.get_by_label("Name", exact=True).fill("Malee Sukjai")
    page.get_by_label("Phone number").fill("081 234")
    page.get_by_role("button", name="Save to LiveDesk").click()

    phone = page.get_by_label("Phone number")
    expect(phone).to_have_attribute("aria-invalid", "true")
    expect(phone).to_have_accessible_description(
        re.compile(r"Enter a valid phone number for Thailand \(TH\), or start with \+")
    )
    expect(phone).to_have_value("081 234")
    expect(page.get_by_label("Name", exact=True)).to_have_value("Malee Sukjai")
    assert sandbox.requests == []
    assert not ContactEdit.objects.exists()


def test_an_edit_livedesk_fails_is_kept_and_delivered_by_retry_now(agent_page, sandbox):
    page = agent_page
    contact = contact_synced(
        sandbox=sandbox, name="Anan Dee", additional_attributes={"city": "Krabi"}
    )
    sandbox.faults.methods = "PATCH"
    sandbox.faults.failure_rate = 1.0
    sandbox.faults.failure_status = 503

    page.goto(f"/contacts/{contact.remote_id}/edit/")
    page.get_by_label("City").fill("Phuket")
    page.get_by_role("button", name="Save to LiveDesk").click()

    expect(
        page.get_by_text(re.compile(r"Not yet in LiveDesk: LiveDesk answered 503 at .+; next try"))
    ).to_be_visible()
    history = page.get_by_role("region", name="History")
    expect(history.get_by_role("listitem").filter(has_text="changed City")).to_contain_text(
        "Krabi → Phuket"
    )
    expect(history.get_by_role("listitem").filter(has_text="Attempt 1 failed")).to_contain_text(
        "LiveDesk answered 503"
    )

    sandbox.faults.failure_rate = 0.0
    page.get_by_role("button", name="Retry now").click()

    expect(page.get_by_role("status").filter(has_text="LiveDesk accepted the edit")).to_be_visible()
    expect(page.get_by_text("Not yet in LiveDesk:")).to_have_count(0)
    expect(
        history.get_by_role("listitem").filter(has_text="Delivered to LiveDesk")
    ).to_contain_text("(attempt 2)")
    expect(page.get_by_role("definition").filter(has_text=re.compile("^Phuket$"))).to_have_count(1)
    assert sandbox.store.get_contact(contact.remote_id)["additional_attributes"]["city"] == "Phuket"


def test_a_hostile_contact_name_renders_as_text(agent_page, sandbox):
    page = agent_page
    hostile = "<img src=x onerror=alert(1)>"
    contact = contact_synced(
        sandbox=sandbox,
        name=hostile,
        additional_attributes={"company_name": hostile},
        custom_attributes={"note": hostile},
    )
    dialogs: list[str] = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))

    page.goto("/contacts/")
    expect(page.get_by_role("link", name=hostile)).to_be_visible()
    page.get_by_role("link", name=hostile).click()
    expect(page.get_by_role("heading", name=hostile, level=1)).to_be_visible()
    page.get_by_role("link", name="Edit contact").click()
    expect(page.get_by_label("Name", exact=True)).to_have_value(hostile)
    page.get_by_label("City").fill("Hat Yai")
    page.get_by_role("button", name="Save to LiveDesk").click()
    expect(page.get_by_role("status").filter(has_text="Saved")).to_be_visible()
    page.goto("/contacts/history/")
    expect(page.get_by_role("link", name=hostile)).to_be_visible()

    assert dialogs == []
    assert Contact.objects.get(pk=contact.pk).name == hostile


def test_switching_to_thai_shows_the_pages_in_thai(agent_page):
    page = agent_page
    with translation.override("th"):
        contacts_in_thai = translation.gettext("Contacts")
    assert contacts_in_thai != "Contacts", "The Thai catalogue does not translate 'Contacts'"

    page.goto("/contacts/")
    expect(page.get_by_role("heading", name="Contacts", exact=True, level=1)).to_be_visible()
    page.get_by_role("form", name="Language").get_by_role("button", name="ไทย").click()

    expect(page.get_by_role("heading", name=contacts_in_thai, exact=True, level=1)).to_be_visible()
    expect(page.get_by_role("button", name="ไทย")).to_have_attribute("aria-pressed", "true")
    expect(page.locator("html")).to_have_attribute("lang", "th")


ICONS_DRAWN = """() => {
    const icons = [...document.querySelectorAll("svg.bi")];
    return icons.length > 0 && icons.every(icon => icon.querySelector("use").getBBox().width > 0);
}"""


def test_icons_are_drawn_from_the_sprite_at_the_size_of_the_text(agent_page, sandbox):
    contact = contact_synced(sandbox=sandbox, name="Somchai Jaidee")
    page = agent_page

    for url in ("/contacts/", f"/contacts/{contact.remote_id}/edit/"):
        page.goto(url)
        # A <use> whose sprite or symbol is missing draws nothing: its box stays empty.
        page.wait_for_function(ICONS_DRAWN)
        sizes = page.locator("svg.bi").evaluate_all(
            "icons => icons.map(icon => [icon.getBoundingClientRect().width,"
            " icon.getBoundingClientRect().height, parseFloat(getComputedStyle(icon).fontSize)])"
        )
        assert sizes, url
        assert [(width, height) for width, height, _ in sizes] == [
            (font_size, font_size) for _, _, font_size in sizes
        ], url


def test_a_change_made_in_livedesk_while_the_form_is_open_is_shown_not_overwritten(
    agent_page, sandbox
):
    page = agent_page
    contact = contact_synced(
        sandbox=sandbox, name="Mali Srisuk", additional_attributes={"city": "Krabi"}
    )
    page.goto(f"/contacts/{contact.remote_id}/edit/")
    sandbox.store.update_contact(contact.remote_id, {"additional_attributes": {"city": "Trang"}})

    page.get_by_label("City").fill("Phuket")
    page.get_by_role("button", name="Save to LiveDesk").click()

    city = page.get_by_label("City")
    expect(city).to_be_focused()
    expect(city).to_have_value("Phuket")
    expect(city).to_have_accessible_description(re.compile("Changed by someone else to “Trang”"))
    assert sandbox.store.get_contact(contact.remote_id)["additional_attributes"]["city"] == "Trang"


def test_a_change_made_in_livedesk_on_another_field_is_kept_beside_the_saved_one(
    agent_page, sandbox
):
    page = agent_page
    contact = contact_synced(
        sandbox=sandbox, name="Mali Srisuk", additional_attributes={"city": "Krabi"}
    )
    page.goto(f"/contacts/{contact.remote_id}/edit/")
    sandbox.store.update_contact(contact.remote_id, {"additional_attributes": {"city": "Trang"}})

    page.get_by_label("Company name").fill("Andaman Divers")
    page.get_by_role("button", name="Save to LiveDesk").click()

    expect(page.get_by_role("status").filter(has_text="Saved")).to_be_visible()
    stored = sandbox.store.get_contact(contact.remote_id)["additional_attributes"]
    assert (stored["city"], stored["company_name"]) == ("Trang", "Andaman Divers")
