"""Fixtures of the page tests: a support lead, who may change contacts in bulk; and for the
browser tests, Debian's Chromium driven by Playwright against the live server."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.conf import settings
from django.test import Client
from playwright.sync_api import Browser, Page, expect, sync_playwright

from contacts.tests.factories import LEAD_PERMISSIONS, client_for, user_make

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
# Generous for a shared two-core machine; a passing step takes milliseconds.
EXPECT_TIMEOUT_MS = 10_000


# --- Browser ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """One headless Chromium for the module; ORM calls allowed beside Playwright's event loop."""
    if not os.access(CHROMIUM, os.X_OK):
        pytest.fail(
            f"The browser tests need Debian's Chromium at {CHROMIUM}, and it is missing. "
            "Install it with scripts/ensure-chromium.sh (make test runs it) or "
            "`sudo apt-get install chromium`."
        )
    with pytest.MonkeyPatch.context() as patch:
        # Playwright's sync API runs an asyncio loop in this thread, which makes Django refuse
        # ORM calls here (fixtures' set-up and flush included) unless told it is safe.
        patch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
        with sync_playwright() as playwright:
            chromium = playwright.chromium.launch(
                executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
            )
            expect.set_options(timeout=EXPECT_TIMEOUT_MS)
            yield chromium
            chromium.close()


@pytest.fixture
def page(browser, live_server) -> Iterator[Page]:
    """A fresh browser context (no cookies) on the live server, in English."""
    context = browser.new_context(base_url=live_server.url, locale="en-US")
    context.set_default_timeout(EXPECT_TIMEOUT_MS)
    page = context.new_page()
    yield page
    context.close()


def logged_in(page: Page, user, live_server) -> Page:
    """The page with the user's session cookie, as if they had just logged in."""
    client = Client()
    client.force_login(user)
    cookie = client.cookies[settings.SESSION_COOKIE_NAME]
    page.context.add_cookies([{"name": cookie.key, "value": cookie.value, "url": live_server.url}])
    return page


# --- Users -------------------------------------------------------------------------------------


@pytest.fixture
def lead():
    """A support lead: an agent's permissions and `change_in_bulk`."""
    return user_make(username="lead", perms=LEAD_PERMISSIONS)


@pytest.fixture
def lead_client(lead) -> Client:
    return client_for(lead)


# --- Accessibility: axe-core ---------------------------------------------------------------------

# axe-core 4.14.1 (MPL 2.0, its licence header kept), vendored so the tests need no network.
AXE_SCRIPT = Path(__file__).parent / "vendor" / "axe.min.js"
AXE_IMPACTS_REFUSED = ("serious", "critical")


def axe_violations(page: Page, *, impacts: tuple[str, ...] = AXE_IMPACTS_REFUSED) -> list[dict]:
    """axe-core's violations on the page as it stands, those of the given impacts (serious and
    critical by default), WCAG 2.2's target size (24 px to tap) included, which axe leaves off
    unless asked. The script goes in through the DevTools protocol, which the pages'
    Content-Security-Policy does not govern."""
    if not page.evaluate("() => typeof window.axe === 'object'"):
        page.evaluate(AXE_SCRIPT.read_text(encoding="utf-8") + "\n;undefined")
    violations = page.evaluate(
        """async () => {
            const results = await window.axe.run(document, {
                resultTypes: ["violations"],
                rules: {"target-size": {enabled: true}},
            });
            return results.violations;
        }"""
    )
    return [violation for violation in violations if violation["impact"] in impacts]


def axe_report(violations: list[dict]) -> str:
    """The violations as a reader can act on them: the rule, and each element with its fix."""
    lines = []
    for violation in violations:
        lines.append(f"[{violation['impact']}] {violation['id']}: {violation['help']}")
        for node in violation["nodes"]:
            target = " ".join(str(part) for part in node["target"])
            lines.append(f"    at {target}")
            lines.append(f"       {node['html'][:160]}")
            for summary_line in (node.get("failureSummary") or "").splitlines():
                lines.append(f"       {summary_line.strip()}")
    return "\n".join(lines)
