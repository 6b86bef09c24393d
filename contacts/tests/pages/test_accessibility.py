"""No serious or critical axe-core violation on any agent page or the admin's contact pages, in
English and in Thai. Debian's Chromium, driven by Playwright, against the live server and a
LiveDesk sandbox on loopback sockets; axe-core is vendored in contacts/tests/pages/vendor."""

from __future__ import annotations

import re
from dataclasses import dataclass

import pytest
from django.conf import settings
from django.contrib.auth import get_user_model
from django.test import Client
from django.urls import reverse
from playwright.sync_api import expect

from contacts.models import Contact, ContactEdit, EditBatch
from contacts.tests.factories import (
    batch_edits_make,
    contacts_synced,
    edit_failed_transiently,
    edit_submit,
)
from contacts.tests.pages.conftest import axe_report, axe_violations, logged_in

pytestmark = pytest.mark.browser

CITY = "additional_attributes.city"


@dataclass(frozen=True)
class Scene:
    """What the pages show: contacts with custom attributes, a delivered edit, a draft and a
    confirmed batch."""

    contact: Contact
    other: Contact
    edit: ContactEdit
    draft: EditBatch
    confirmed: EditBatch


@pytest.fixture
def staff_lead():
    """A superuser: every agent page, the lead's batches and the admin."""
    return get_user_model().objects.create_superuser(username="lead", password="a11y-password")


@pytest.fixture
def scene(sandbox, staff_lead) -> Scene:
    contact, other, third = contacts_synced(
        sandbox,
        3,
        prefix="Somchai",
        additional_attributes={"city": "Bangkok", "country": "Thailand", "country_code": "TH"},
        custom_attributes={"plan": "pro", "tier": "gold", "region": "north"},
    )
    edit = edit_submit(contact=contact, editor=staff_lead, changes={CITY: "Chiang Mai"})
    _batch, _edits = confirmed = batch_edits_make(by=staff_lead, changes={third: {CITY: "Nan"}})
    client = Client()
    client.force_login(staff_lead)
    response = client.post(
        reverse("contacts:bulk_edit"),
        {
            "contact": [str(contact.remote_id), str(other.remote_id)],
            "operation-TOTAL_FORMS": "1",
            "operation-INITIAL_FORMS": "0",
            "operation-MIN_NUM_FORMS": "0",
            "operation-MAX_NUM_FORMS": "1",
            "operation-0-key": CITY,
            "operation-0-action": "set",
            "operation-0-value": "Phuket",
        },
    )
    assert response.status_code == 302, response.content[:2000]
    draft = EditBatch.objects.get(state=EditBatch.State.DRAFT)
    # A contact whose edit LiveDesk refused with a 503: its page shows the outage card.
    edit_failed_transiently(
        sandbox=sandbox, contact=other, editor=staff_lead, changes={CITY: "Trang"}
    )
    sandbox.reset_faults()
    return Scene(contact=contact, other=other, edit=edit, draft=draft, confirmed=confirmed[0])


def agent_urls(scene: Scene) -> dict[str, str]:
    remote_id = scene.contact.remote_id
    return {
        "contact list": reverse("contacts:list"),
        "contact list, searched": reverse("contacts:list") + "?q=Somchai",
        "contact": reverse("contacts:detail", args=[remote_id]),
        "contact with an edit not yet in LiveDesk": reverse(
            "contacts:detail", args=[scene.other.remote_id]
        ),
        "contact edit form": reverse("contacts:edit", args=[remote_id]),
        "edit history": reverse("contacts:history"),
        "edit history of a contact": reverse("contacts:history") + f"?contact={remote_id}",
        "bulk edit": reverse("contacts:bulk_edit")
        + f"?contact={remote_id}&contact={scene.other.remote_id}",
        "bulk edit preview": reverse("contacts:batch_preview", args=[scene.draft.pk]),
        "import": reverse("contacts:import"),
        "batches": reverse("contacts:batches"),
        "batch": reverse("contacts:batch", args=[scene.confirmed.pk]),
        "segment form": reverse("contacts:segment_save") + "?q=Somchai",
        "admin contact list": reverse("admin:contacts_contact_changelist"),
        "admin contact change form": reverse(
            "admin:contacts_contact_change", args=[scene.contact.pk]
        ),
        "admin edit history": reverse("admin:contacts_contactedit_changelist"),
        "admin edit history entry": reverse(
            "admin:contacts_contactedit_change", args=[scene.edit.pk]
        ),
    }


PAGES = [
    "contact list",
    "contact list, searched",
    "contact",
    "contact with an edit not yet in LiveDesk",
    "contact edit form",
    "edit history",
    "edit history of a contact",
    "bulk edit",
    "bulk edit preview",
    "import",
    "batches",
    "batch",
    "segment form",
    "admin contact list",
    "admin contact change form",
    "admin edit history",
    "admin edit history entry",
]
LANGUAGES = ["en", "th"]


def in_language(page, language: str, live_server):
    page.context.add_cookies(
        [{"name": settings.LANGUAGE_COOKIE_NAME, "value": language, "url": live_server.url}]
    )
    return page


def assert_no_serious_violation(page, language: str) -> None:
    expect(page.locator("html")).to_have_attribute("lang", language)
    violations = axe_violations(page)
    assert not violations, f"axe-core on {page.url} ({language}):\n" + axe_report(violations)


@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize("name", PAGES)
def test_page_has_no_serious_accessibility_violation(
    page, live_server, scene, staff_lead, name, language
):
    logged_in(in_language(page, language, live_server), staff_lead, live_server)
    response = page.goto(agent_urls(scene)[name])
    assert response is not None and response.ok, f"{name}: {response and response.status}"

    assert_no_serious_violation(page, language)


@pytest.mark.parametrize("language", LANGUAGES)
def test_login_page_has_no_serious_accessibility_violation(page, live_server, language):
    in_language(page, language, live_server).goto(reverse("login"))

    assert_no_serious_violation(page, language)


@pytest.mark.parametrize("language", LANGUAGES)
def test_login_page_with_an_error_has_no_serious_accessibility_violation(
    page, live_server, staff_lead, language
):
    in_language(page, language, live_server).goto(reverse("login"))
    page.locator("#id_username").fill("lead")
    page.locator("#id_password").fill("not the password")
    page.locator("form .btn-primary[type=submit]").click()
    expect(page.locator(".alert-danger, .errornote, [role=alert]").first).to_be_visible()

    assert_no_serious_violation(page, language)


def test_axe_finds_what_it_should(page, live_server):
    """The check can fail: an unlabelled input, grey-on-grey text and buttons too small to tap
    are reported."""
    page.goto(reverse("login"))
    page.evaluate(
        """() => {
            const input = document.createElement("input");
            input.type = "text";
            const faint = document.createElement("p");
            faint.textContent = "Faint words";
            faint.style.cssText = "color:#999;background:#aaa";
            const tiny = document.createElement("button");
            tiny.textContent = "x";
            tiny.style.cssText = "width:12px;height:12px;padding:0;font-size:8px";
            const neighbour = tiny.cloneNode(true);
            document.querySelector("main").append(input, faint, tiny, neighbour);
        }"""
    )

    rules = {violation["id"] for violation in axe_violations(page)}

    assert {"label", "color-contrast", "target-size"} <= rules


# --- Keyboard: the skip link, a focus ring that can be seen, tap targets -------------------------


def relative_luminance(css_colour: str) -> float:
    """WCAG's relative luminance of an `rgb(r, g, b)` or `rgba(r, g, b, 1)` colour."""
    channels = [float(part) / 255 for part in re.findall(r"[\d.]+", css_colour)[:3]]
    linear = [c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
    return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]


def contrast(first: str, second: str) -> float:
    lighter, darker = sorted((relative_luminance(first), relative_luminance(second)), reverse=True)
    return (lighter + 0.05) / (darker + 0.05)


def tab_to(page, locator, *, most: int = 40) -> None:
    """Press Tab until `locator` has the focus, as a keyboard user reaches it."""
    for _ in range(most):
        page.keyboard.press("Tab")
        if locator.evaluate("element => element === document.activeElement"):
            return
    raise AssertionError(f"{locator} not reached in {most} Tabs")


def focus_ring(locator) -> dict:
    return locator.evaluate(
        """element => {
            const style = getComputedStyle(element);
            return {colour: style.outlineColor, style: style.outlineStyle,
                    width: parseFloat(style.outlineWidth), background: style.backgroundColor};
        }"""
    )


def background_of(locator) -> str:
    """The first opaque background colour at or above the element."""
    return locator.evaluate(
        """element => {
            for (let node = element; node; node = node.parentElement) {
                const colour = getComputedStyle(node).backgroundColor;
                if (colour !== "rgba(0, 0, 0, 0)" && colour !== "transparent") return colour;
            }
            return "rgb(255, 255, 255)";
        }"""
    )


def test_the_first_tab_stop_skips_to_the_content(page, live_server, scene, staff_lead):
    logged_in(page, staff_lead, live_server).goto(reverse("contacts:list"))

    page.keyboard.press("Tab")
    skip = page.get_by_role("link", name="Skip to content")
    expect(skip).to_be_focused()
    expect(skip).to_be_visible()
    page.keyboard.press("Enter")

    expect(page.locator("main#content")).to_be_focused()
    page.keyboard.press("Tab")
    assert page.evaluate("() => document.querySelector('main').contains(document.activeElement)")


@pytest.mark.parametrize("language", LANGUAGES)
def test_focus_on_the_dark_navbar_is_visible_and_never_reads_as_selected(
    page, live_server, scene, staff_lead, language
):
    logged_in(in_language(page, language, live_server), staff_lead, live_server)
    page.goto(reverse("contacts:list"))
    other = "th" if language == "en" else "en"
    focused = page.locator(f'button[name="language"][value="{other}"]')
    selected = page.locator(f'button[name="language"][value="{language}"]')

    tab_to(page, focused)

    ring = focus_ring(focused)
    navbar = background_of(page.locator("nav.navbar"))
    assert ring["style"] == "solid" and ring["width"] >= 2, ring
    assert contrast(ring["colour"], navbar) >= 3, (ring, navbar)
    assert ring["background"] != focus_ring(selected)["background"], "focused looks selected"
    expect(focused).to_have_attribute("aria-pressed", "false")
    expect(selected).to_have_attribute("aria-pressed", "true")


def test_focus_ring_on_the_page_is_visible(page, live_server, scene, staff_lead):
    logged_in(page, staff_lead, live_server).goto(
        reverse("contacts:edit", args=[scene.contact.remote_id])
    )
    for target in (
        page.locator(".breadcrumb a").first,
        page.get_by_label("Name", exact=True),
        page.get_by_role("link", name="Cancel"),
    ):
        tab_to(page, target, most=120)
        ring = focus_ring(target)
        assert ring["style"] == "solid" and ring["width"] >= 2, ring
        assert contrast(ring["colour"], background_of(page.locator("body"))) >= 3, ring


def test_checkboxes_switches_and_breadcrumbs_are_at_least_24_px(
    page, live_server, scene, staff_lead
):
    logged_in(page, staff_lead, live_server)
    page.goto(reverse("contacts:list"))
    sizes = {"list tick": page.locator('input[type="checkbox"][name="contact"]').first}
    sizes = {name: target.bounding_box() for name, target in sizes.items()}
    page.goto(reverse("contacts:edit", args=[scene.contact.remote_id]))
    targets = {
        "Blocked switch": page.locator('.form-switch input[type="checkbox"]').first,
        "breadcrumb": page.locator(".breadcrumb a").first,
    }
    sizes |= {name: target.bounding_box() for name, target in targets.items()}

    for name, box in sizes.items():
        assert box is not None, name
        assert box["width"] >= 24 and box["height"] >= 24, (name, box)
