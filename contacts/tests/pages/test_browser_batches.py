"""The batch pages in a real browser: a bulk edit over every contact matching a filter, through
its preview, confirmed and followed live while the worker's deliveries land; and an import with
one bad row. Debian's Chromium, driven by Playwright, against the live server and a LiveDesk
sandbox on loopback sockets."""

from __future__ import annotations

import csv
import io
import re

import pytest
from playwright.sync_api import Page, expect

from contacts import selectors, services
from contacts.models import Contact, EditBatch
from contacts.tests.factories import (
    LEAD_PERMISSIONS,
    batch_delivered,
    contacts_synced,
    patch_bodies,
    user_make,
)
from contacts.tests.pages.conftest import logged_in

pytestmark = pytest.mark.browser

PHONE = {"width": 390, "height": 844}


@pytest.fixture
def lead_page(page, live_server) -> Page:
    lead = user_make(username="lead", perms=LEAD_PERMISSIONS)
    return logged_in(page, lead, live_server)


def test_bulk_edit_over_all_matching_with_preview_and_live_progress(lead_page, sandbox, settings):
    settings.LIVEDESK_BULK_RATE = 20.0
    page = lead_page
    thai = contacts_synced(sandbox, 55, prefix="T", additional_attributes={"country": "Thailand"})
    contacts_synced(sandbox, 2, prefix="S", additional_attributes={"country": "Singapore"})
    sandbox.clear_recorded()

    page.goto("/contacts/?country=Thailand")
    page.get_by_label("Select all matching contacts (55)").check()
    page.get_by_role("button", name="Bulk edit").click()

    expect(page.get_by_role("heading", name="Bulk edit", level=1)).to_be_visible()
    expect(page.get_by_text("All 55 contacts matching the list's search")).to_be_visible()
    first = page.get_by_role("group", name="Operation 1")
    first.get_by_label("Field").select_option(label="Country code")
    first.get_by_label("Value").fill("XX")
    page.get_by_role("button", name="Preview the changes").click()

    summary = page.get_by_role("alert")
    expect(summary).to_be_focused()
    expect(summary).to_contain_text("Enter a two-letter ISO 3166 country code")
    value = page.get_by_role("group", name="Operation 1").get_by_label("Value")
    expect(value).to_have_attribute("aria-invalid", "true")
    expect(value).to_have_accessible_description(re.compile("two-letter ISO 3166"))
    value.fill("th")
    page.get_by_role("button", name="Preview the changes").click()

    expect(page.get_by_role("heading", name="Preview: Bulk edit", level=1)).to_be_visible()
    expect(page.locator("#count-changed")).to_have_text("55")
    expect(page.locator("#count-selected")).to_have_text("55")
    sample = page.get_by_role("region", name=re.compile("before and after"))
    expect(sample.get_by_role("row").filter(has_text="T 000")).to_contain_text("TH")
    assert sandbox.requests == []
    page.get_by_role("button", name="Confirm: change 55 contacts").click()

    expect(page.get_by_role("heading", name=re.compile(r"Batch #\d+: Bulk edit"))).to_be_visible()
    delivery = page.get_by_role("region", name="Delivery to LiveDesk")
    expect(delivery.locator('[data-count="waiting"]')).to_have_text("55")
    expect(delivery.locator('[data-count="delivered"]')).to_have_text("0")
    expect(page.get_by_role("button", name="Undo this batch…")).to_be_hidden()

    # The worker's delivery, run here at 20 calls a second (10 pushes) for about a second,
    # while the page asks for the counts every 2 seconds: they change with no reload.
    batch = EditBatch.objects.get()
    first_run = services.batch_delivery_run(seconds=1.0)
    delivered = selectors.batch_progress(batch).delivered
    assert 0 < first_run.delivered == delivered < 55
    expect(delivery.locator('[data-count="delivered"]')).to_have_text(str(delivered))
    expect(delivery.locator('[data-count="waiting"]')).to_have_text(str(55 - delivered))
    expect(delivery.get_by_role("progressbar")).to_have_attribute("value", str(delivered))
    expect(page.get_by_role("button", name="Undo this batch…")).to_be_hidden()

    services.batch_delivery_run(seconds=30.0)
    expect(delivery.get_by_role("status")).to_contain_text("Finished")
    expect(delivery.locator('[data-count="delivered"]')).to_have_text("55")
    expect(page.get_by_role("button", name="Undo this batch…")).to_be_visible()
    expect(delivery.get_by_role("link", name="Reload for the latest counts")).to_be_hidden()

    assert len(patch_bodies(sandbox)) == 55
    assert {
        sandbox.store.get_contact(contact.remote_id)["additional_attributes"]["country_code"]
        for contact in thai
    } == {"TH"}


def test_the_progress_page_fits_a_phone_and_works_without_javascript(browser, live_server, sandbox):
    lead = user_make(username="lead", perms=LEAD_PERMISSIONS)
    contacts_synced(sandbox, 3, additional_attributes={"city": "Bangkok"})

    draft = services.batch_draft_bulk_edit(
        by=lead,
        operations=[
            services.BulkOperation(key="additional_attributes.city", action="set", value="Nara")
        ],
        contacts=Contact.objects.all(),
        selection={"filters": {}, "remote_ids": None},
    )
    batch = services.batch_confirm(batch=draft, by=lead)
    context = browser.new_context(
        base_url=live_server.url, locale="en-US", viewport=PHONE, java_script_enabled=False
    )
    page = logged_in(context.new_page(), lead, live_server)

    page.goto(batch.get_absolute_url())
    delivery = page.get_by_role("region", name="Delivery to LiveDesk")
    expect(delivery.locator('[data-count="waiting"]')).to_have_text("3")
    batch_delivered(batch)
    delivery.get_by_role("link", name="Reload for the latest counts").click()

    expect(delivery.locator('[data-count="delivered"]')).to_have_text("3")
    expect(page.get_by_role("button", name="Undo this batch…")).to_be_visible()
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    context.close()


def exported_csv(page: Page) -> list[dict[str, str]]:
    with page.expect_download() as download_info:
        page.get_by_role("link", name="Export CSV").click()
    path = download_info.value.path()
    with open(path, encoding="utf-8", newline="") as exported:
        return list(csv.DictReader(exported))


def test_an_import_with_one_bad_row_shows_it_and_sends_only_the_good_rows(lead_page, sandbox):
    page = lead_page
    contacts = contacts_synced(sandbox, 3, additional_attributes={"city": "Bangkok"})
    page.goto("/contacts/")
    rows = exported_csv(page)
    rows[0]["city"] = "Chiang Mai"
    rows[1]["email"] = "not an email"
    rows[2]["company"] = "Acme"
    spreadsheet = io.StringIO()
    writer = csv.DictWriter(spreadsheet, fieldnames=list(rows[0]))
    writer.writeheader()
    writer.writerows(rows)
    sandbox.clear_recorded()

    page.get_by_role("link", name="Import").click()
    expect(page.get_by_role("heading", name="Import a spreadsheet", level=1)).to_be_visible()
    page.get_by_label("Spreadsheet (CSV or XLSX)").set_input_files(
        {"name": "contacts.csv", "mimeType": "text/csv", "buffer": spreadsheet.getvalue().encode()}
    )
    page.get_by_role("button", name="Preview the import").click()

    errors = page.get_by_role("region", name=re.compile("1 row has errors"))
    expect(errors).to_be_focused()
    expect(errors.get_by_role("row").filter(has_text="email")).to_contain_text(
        "Enter a valid email address"
    )
    changed = page.get_by_role("region", name="Changed cells, row by row")
    expect(changed.get_by_role("row").filter(has_text="Chiang Mai")).to_contain_text("Bangkok")
    expect(changed.get_by_role("row").filter(has_text="Acme")).to_have_count(1)
    assert sandbox.requests == []
    page.get_by_role("button", name="Confirm: change 2 contacts").click()

    expect(page.get_by_role("heading", name=re.compile(r"Batch #\d+: Import"))).to_be_visible()
    batch_delivered(EditBatch.objects.get())
    expect(page.get_by_role("status").filter(has_text="Finished")).to_be_visible()
    assert sorted(patch_bodies(sandbox), key=str) == [
        {"additional_attributes": {"city": "Chiang Mai"}},
        {"additional_attributes": {"company_name": "Acme"}},
    ]
    assert sandbox.store.get_contact(contacts[1].remote_id)["email"] != "not an email"
