"""Security of the whole site: login lockout (django-axes), the Content-Security-Policy
(django-csp) on the agent pages and the admin, NUL characters refused, HTTPS behind a proxy."""

from __future__ import annotations

import os
from collections.abc import Iterator
from html.parser import HTMLParser
from pathlib import Path

import pytest
from axes.models import AccessAttempt
from django.contrib.auth import get_user_model
from django.test import Client, RequestFactory
from django.urls import reverse
from django.utils import timezone, translation

from contacts.middleware import client_ip_address
from contacts.models import ContactEdit
from contacts.tests.factories import (
    CONTACTS_URL,
    EDITS_URL,
    change_url,
    client_for,
    contact_filled,
    contact_synced,
    edit_post,
    page_text,
    user_make,
)

pytestmark = pytest.mark.django_db

PASSWORD = "right-password-for-tests"
LOCKED_OUT = "Too many failed login attempts"
AGENT_LOGIN = reverse("login")
ADMIN_LOGIN = reverse("admin:login")
POLICY = {
    "default-src": "'self'",
    "script-src": "'self'",
    "style-src": "'self'",
    "img-src": "'self' https: data:",
    "object-src": "'none'",
    "base-uri": "'self'",
    "form-action": "'self'",
    "frame-ancestors": "'none'",
}


# --- Helpers -------------------------------------------------------------------------------------


def login_post(client: Client, url: str, username: str, password: str, **extra):
    return client.post(url, {"username": username, "password": password}, **extra)


def logged_in(client: Client) -> bool:
    return "_auth_user_id" in client.session


def fail(client: Client, url: str, username: str, times: int, **extra) -> list[int]:
    return [login_post(client, url, username, "wrong", **extra).status_code for _ in range(times)]


def policy_of(response) -> dict[str, str]:
    header = response.headers["Content-Security-Policy"]
    directives = (part.strip().split(" ", 1) for part in header.split(";") if part.strip())
    return dict(directives)


class InlineCode(HTMLParser):
    """Collects what a policy without 'unsafe-inline' blocks: inline scripts, <style> elements,
    style attributes, on* handlers and javascript: links."""

    def __init__(self) -> None:
        super().__init__()
        self.found: list[str] = []
        self._in_inline_script = False

    def handle_starttag(self, tag, attrs):
        attributes = dict(attrs)
        if tag == "script" and not attributes.get("src"):
            self._in_inline_script = True
        if tag == "style":
            self.found.append("<style>")
        for name, value in attrs:
            if name == "style" or name.startswith("on"):
                self.found.append(f"<{tag} {name}={value!r}>")
            if name in ("href", "src", "action") and (value or "").strip().startswith(
                "javascript:"
            ):
                self.found.append(f"<{tag} {name}={value!r}>")

    def handle_endtag(self, tag):
        self._in_inline_script = False

    def handle_data(self, data):
        if self._in_inline_script and data.strip():
            self.found.append(f"<script>{data.strip()[:60]}")


def inline_code(response) -> list[str]:
    parser = InlineCode()
    parser.feed(page_text(response))
    return parser.found


@pytest.fixture
def superuser():
    return get_user_model().objects.create_superuser(
        username="boss", email="boss@example.com", password=PASSWORD
    )


# --- Login lockout -------------------------------------------------------------------------------


def test_agent_login_locks_out_after_the_failure_limit_even_with_the_right_password(
    client, settings
):
    user_make(username="agent", password=PASSWORD)

    statuses = fail(client, AGENT_LOGIN, "agent", settings.AXES_FAILURE_LIMIT)
    response = login_post(client, AGENT_LOGIN, "agent", PASSWORD)

    assert statuses[:-1] == [200] * (settings.AXES_FAILURE_LIMIT - 1)
    assert statuses[-1] == 429
    assert response.status_code == 429
    assert not logged_in(client)
    text = page_text(response)
    assert LOCKED_OUT in text
    assert "blocked for 15 minutes" in text
    # The login page again, the username kept, its form still there.
    assert 'value="agent"' in text
    assert f'action="{AGENT_LOGIN}"' in text


def test_admin_login_locks_out_after_the_failure_limit_even_with_the_right_password(
    client, settings, superuser
):
    statuses = fail(client, ADMIN_LOGIN, "boss", settings.AXES_FAILURE_LIMIT)
    response = login_post(client, ADMIN_LOGIN, "boss", PASSWORD)

    assert statuses[-1] == 429
    assert response.status_code == 429
    assert not logged_in(client)
    text = page_text(response)
    assert LOCKED_OUT in text
    assert 'class="errornote"' in text  # the admin's own login page, not the agents'
    assert client.get(reverse("admin:index")).status_code == 302


def test_below_the_failure_limit_the_right_password_logs_in(client, settings):
    user_make(username="agent", password=PASSWORD)

    fail(client, AGENT_LOGIN, "agent", settings.AXES_FAILURE_LIMIT - 1)
    response = login_post(client, AGENT_LOGIN, "agent", PASSWORD)

    assert response.status_code == 302
    assert logged_in(client)


def test_lockout_is_per_username_another_user_still_logs_in(client, settings):
    user_make(username="agent", password=PASSWORD)
    user_make(username="colleague", password=PASSWORD)
    fail(client, AGENT_LOGIN, "agent", settings.AXES_FAILURE_LIMIT)

    response = login_post(client, AGENT_LOGIN, "colleague", PASSWORD)

    assert response.status_code == 302
    assert logged_in(client)


def test_lockout_is_per_address_the_same_user_elsewhere_still_logs_in(client, settings):
    user_make(username="agent", password=PASSWORD)
    fail(client, AGENT_LOGIN, "agent", settings.AXES_FAILURE_LIMIT, REMOTE_ADDR="198.51.100.7")

    response = login_post(client, AGENT_LOGIN, "agent", PASSWORD, REMOTE_ADDR="203.0.113.9")

    assert response.status_code == 302


def test_a_successful_login_resets_the_failure_count(client, settings):
    user_make(username="agent", password=PASSWORD)
    below_limit = settings.AXES_FAILURE_LIMIT - 1

    fail(client, AGENT_LOGIN, "agent", below_limit)
    assert login_post(client, AGENT_LOGIN, "agent", PASSWORD).status_code == 302
    client.post(reverse("logout"))
    statuses = fail(client, AGENT_LOGIN, "agent", below_limit)
    response = login_post(client, AGENT_LOGIN, "agent", PASSWORD)

    assert statuses == [200] * below_limit
    assert response.status_code == 302
    assert logged_in(client)


def test_the_lockout_ends_after_the_cool_off(client, settings):
    user_make(username="agent", password=PASSWORD)
    fail(client, AGENT_LOGIN, "agent", settings.AXES_FAILURE_LIMIT)
    # The cool-off has passed: the attempt's expiry is in the past.
    AccessAttempt.objects.update(attempt_time=timezone.now() - settings.AXES_COOLOFF_TIME)

    response = login_post(client, AGENT_LOGIN, "agent", PASSWORD)

    assert response.status_code == 302


def test_lockout_page_is_in_the_visitors_language(client, settings):
    user_make(username="agent", password=PASSWORD)
    fail(client, AGENT_LOGIN, "agent", settings.AXES_FAILURE_LIMIT)

    response = login_post(client, AGENT_LOGIN, "agent", PASSWORD, HTTP_ACCEPT_LANGUAGE="th")

    assert response.status_code == 429
    assert response.headers["Content-Language"] == "th"
    with translation.override("th"):
        assert translation.gettext("Log in") in page_text(response)


def test_behind_trusted_proxies_the_client_address_is_read_from_x_forwarded_for(settings):
    factory = RequestFactory()
    forwarded = {"REMOTE_ADDR": "10.0.0.2", "HTTP_X_FORWARDED_FOR": "6.6.6.6, 198.51.100.7"}

    settings.TRUSTED_PROXY_COUNT = 0
    assert client_ip_address(factory.get("/", **forwarded)) == "10.0.0.2"
    settings.TRUSTED_PROXY_COUNT = 1
    # The client may send its own X-Forwarded-For (6.6.6.6): only the proxy's entry counts.
    assert client_ip_address(factory.get("/", **forwarded)) == "198.51.100.7"
    settings.TRUSTED_PROXY_COUNT = 2
    assert client_ip_address(factory.get("/", **forwarded)) == "6.6.6.6"
    settings.TRUSTED_PROXY_COUNT = 3
    assert client_ip_address(factory.get("/", **forwarded)) == "10.0.0.2"
    settings.TRUSTED_PROXY_COUNT = 1
    assert client_ip_address(factory.get("/", REMOTE_ADDR="10.0.0.2")) == "10.0.0.2"


def test_behind_a_proxy_each_client_address_is_counted_apart(client, settings):
    settings.TRUSTED_PROXY_COUNT = 1
    user_make(username="agent", password=PASSWORD)
    proxy = {"REMOTE_ADDR": "10.0.0.2"}
    fail(
        client,
        AGENT_LOGIN,
        "agent",
        settings.AXES_FAILURE_LIMIT,
        HTTP_X_FORWARDED_FOR="198.51.100.7",
        **proxy,
    )

    locked = login_post(
        client, AGENT_LOGIN, "agent", PASSWORD, HTTP_X_FORWARDED_FOR="198.51.100.7", **proxy
    )
    elsewhere = login_post(
        client, AGENT_LOGIN, "agent", PASSWORD, HTTP_X_FORWARDED_FOR="203.0.113.9", **proxy
    )

    assert locked.status_code == 429
    assert elsewhere.status_code == 302


# --- Content-Security-Policy -------------------------------------------------------------------


def test_agent_pages_send_the_policy_and_hold_no_inline_code(client, agent_client):
    contact = contact_filled(thumbnail="https://images.example.com/ann.png")
    urls = [
        reverse("contacts:list"),
        reverse("contacts:detail", args=[contact.remote_id]),
        reverse("contacts:edit", args=[contact.remote_id]),
        reverse("contacts:history"),
    ]
    pages = [agent_client.get(url) for url in urls] + [client.get(AGENT_LOGIN)]

    for response in pages:
        assert response.status_code == 200, response
        assert policy_of(response) == POLICY
        assert inline_code(response) == [], response.wsgi_request.path


def test_admin_pages_send_the_policy_and_hold_no_inline_code(sandbox, admin_client, agent):
    contact = contact_synced(sandbox=sandbox, name="Ann Lee")
    edit_post(client_for(agent), contact, name="Ann B")
    edit = ContactEdit.objects.get(contact=contact)
    urls = [
        reverse("admin:index"),
        CONTACTS_URL,
        CONTACTS_URL + "?country=Thailand",
        change_url(contact),
        EDITS_URL,
        reverse("admin:contacts_contactedit_change", args=[edit.pk]),
        reverse("admin:contacts_customattributedefinition_changelist"),
        reverse("admin:contacts_customattributedefinition_add"),
        reverse("admin:auth_user_changelist"),
        reverse("admin:axes_accessattempt_changelist"),
    ]

    for url in urls:
        response = admin_client.get(url)
        assert response.status_code == 200, url
        assert policy_of(response) == POLICY, url
        assert inline_code(response) == [], url


def test_contact_change_page_styles_come_from_a_static_file(sandbox, admin_client):
    contact = contact_synced(sandbox=sandbox, name="Ann Lee")

    text = page_text(admin_client.get(change_url(contact)))

    assert "contacts/admin_edit.css" in text


def test_the_policy_is_sent_on_errors_and_redirects_too(client, agent_client):
    assert "Content-Security-Policy" in client.get(reverse("contacts:list")).headers
    assert "Content-Security-Policy" in agent_client.get("/contacts/999999999/").headers


def test_pages_may_not_be_framed(client):
    response = client.get(AGENT_LOGIN)

    assert response.headers["X-Frame-Options"] == "DENY"
    assert policy_of(response)["frame-ancestors"] == "'none'"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Referrer-Policy"] == "same-origin"


# --- NUL characters ------------------------------------------------------------------------------


def assert_refused_as_bad_request(response):
    assert response.status_code == 400
    assert response.headers["Content-Type"] == "text/plain; charset=utf-8"
    assert page_text(response) == "The request contains a NUL character, which is not allowed."


def test_nul_in_an_admin_changelist_filter_is_a_400_not_a_500(admin_client):
    contact_filled()

    assert_refused_as_bad_request(admin_client.get(CONTACTS_URL + "?country=%00"))
    assert_refused_as_bad_request(admin_client.get(CONTACTS_URL + "?q=Ann%00"))
    assert_refused_as_bad_request(admin_client.get(EDITS_URL + "?q=%00"))


def test_nul_in_the_agent_list_search_is_a_400(agent_client):
    assert_refused_as_bad_request(agent_client.get("/contacts/?q=%00"))
    assert_refused_as_bad_request(agent_client.get("/contacts/?%00=1"))
    assert_refused_as_bad_request(agent_client.get("/contacts/history/?contact=a%00b"))


def test_nul_in_a_login_or_a_form_is_a_400(client):
    user_make(username="agent", password=PASSWORD)

    assert_refused_as_bad_request(login_post(client, AGENT_LOGIN, "agent\x00", PASSWORD))
    assert_refused_as_bad_request(login_post(client, ADMIN_LOGIN, "boss", "pw\x00"))


def test_nul_in_the_path_is_a_400(agent_client):
    assert_refused_as_bad_request(agent_client.get("/contacts/%00/"))


def test_nul_refusal_is_in_the_visitors_language(agent_client):
    response = agent_client.get("/contacts/?q=%00", HTTP_ACCEPT_LANGUAGE="th")

    assert response.status_code == 400
    with translation.override("th"):
        expected = translation.gettext(
            "The request contains a NUL character, which is not allowed."
        )
    assert page_text(response) == expected


def test_requests_without_nul_go_through(agent_client):
    assert agent_client.get("/contacts/?q=Ann").status_code == 200


# --- HTTPS behind a proxy --------------------------------------------------------------------


def test_with_ssl_redirect_plain_http_is_redirected_and_the_proxys_https_is_trusted(settings):
    settings.SECURE_SSL_REDIRECT = True
    settings.SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    settings.SECURE_HSTS_SECONDS = 3600
    client = Client()

    plain = client.get(AGENT_LOGIN)
    proxied = client.get(AGENT_LOGIN, HTTP_X_FORWARDED_PROTO="https")

    assert plain.status_code == 301
    assert plain.url == f"https://testserver{AGENT_LOGIN}"
    assert proxied.status_code == 200
    assert proxied.headers["Strict-Transport-Security"] == "max-age=3600"


# --- In a real browser: nothing the policy blocks ------------------------------------------------

CHROMIUM = Path("/usr/bin/chromium")


@pytest.fixture
def chromium_page(live_server) -> Iterator:
    """A headless Chromium page on the live server, and the CSP violations its console reports."""
    if not os.access(CHROMIUM, os.X_OK):
        pytest.fail(
            f"This test needs Debian's Chromium at {CHROMIUM} (scripts/ensure-chromium.sh)."
        )
    from playwright.sync_api import expect, sync_playwright

    with pytest.MonkeyPatch.context() as patch, sync_playwright() as playwright:
        patch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM),
            headless=True,
            args=["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"],
        )
        expect.set_options(timeout=10_000)
        context = browser.new_context(base_url=live_server.url, locale="en-US")
        page = context.new_page()
        page.violations = []
        page.on(
            "console",
            lambda message: (
                "Content Security Policy" in message.text
                and page.violations.append(f"{page.url}: {message.text}")
            ),
        )
        yield page
        context.close()
        browser.close()


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_agent_pages_and_the_admin_run_under_the_policy_in_chromium(chromium_page, sandbox):
    from playwright.sync_api import expect

    page = chromium_page
    get_user_model().objects.create_superuser(
        username="boss", email="boss@example.com", password=PASSWORD
    )
    contact = contact_synced(
        sandbox=sandbox,
        name="Ann Lee",
        thumbnail="https://images.example.com/ann.png",
        custom_attributes={"plan": "basic"},
    )

    page.goto(ADMIN_LOGIN)
    page.get_by_label("Username").fill("boss")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("heading", name="Site administration")).to_be_visible()

    # The agent pages: the edit page's script adds a custom attribute row.
    page.goto(reverse("contacts:edit", args=[contact.remote_id]))
    custom = page.get_by_role("group", name="Custom attributes")
    keys = custom.get_by_role("textbox", name="Key", exact=True)
    before = keys.count()
    custom.get_by_role("button", name="Add an attribute").click()
    expect(keys).to_have_count(before + 1)
    page.get_by_role("button", name="Save").first.click()
    for url in (
        reverse("contacts:list"),
        reverse("contacts:detail", args=[contact.remote_id]),
        reverse("contacts:history"),
    ):
        page.goto(url)
        expect(
            page.get_by_role("link", name="Log out").or_(page.get_by_role("button", name="Log out"))
        ).to_be_visible()

    # The admin: the contact's change page takes its styles from the static file.
    page.goto(change_url(contact))
    caption_align = page.locator("table.custom-rows caption").evaluate(
        "element => getComputedStyle(element).textAlign"
    )
    assert caption_align == "start"
    edit = ContactEdit.objects.filter(contact=contact).first()
    for url in (
        CONTACTS_URL,
        EDITS_URL,
        *([reverse("admin:contacts_contactedit_change", args=[edit.pk])] if edit else []),
        reverse("admin:contacts_customattributedefinition_add"),
        reverse("admin:auth_user_change", args=[get_user_model().objects.get().pk]),
    ):
        page.goto(url)
        expect(page.locator("#content")).to_be_visible()

    assert page.violations == []
