"""The edit form after a problem, over HTTP: an error summary that links to each field, a
conflict that delivers the agent's other changes and marks the field that waits, and custom
attribute rows added on demand (without JavaScript too)."""

from __future__ import annotations

import re

import pytest
from django.urls import reverse

from contacts import services
from contacts.models import ContactEdit
from contacts.tests.factories import (
    admin_edit_post,
    change_url,
    contact_synced,
    edit_form_data,
    edit_post,
    page_text,
    patch_bodies,
)

pytestmark = pytest.mark.django_db


def edit_url(contact) -> str:
    return reverse("contacts:edit", args=[contact.remote_id])


def tag_of(text: str, element_id: str) -> str:
    """The opening tag of the element with this id."""
    match = re.search(rf'<[a-z]+\b[^>]*\bid="{re.escape(element_id)}"[^>]*>', text)
    assert match, f"No element has the id {element_id}"
    return match.group(0)


def error_summary(text: str) -> str:
    match = re.search(r'<div [^>]*id="error-summary".*?</ul>', text, re.S)
    assert match, "The page has no error summary"
    return match.group(0)


def conflict_opened(sandbox, agent_client, **theirs):
    """The edit page opened on Ann's contact, then LiveDesk changed `theirs` (seen by a sync)."""
    contact = contact_synced(sandbox=sandbox, name="Ann", email="ann@example.com")
    opened = agent_client.get(edit_url(contact)).context["form"]
    sandbox.store.update_contact(contact.remote_id, theirs)
    services.contacts_sync()
    return contact, opened


# --- The error summary ---------------------------------------------------------------------------


def test_invalid_values_are_listed_at_the_top_with_a_link_to_each_field(sandbox, agent_client):
    contact = contact_synced(sandbox=sandbox, name="Ann", email="ann@example.com")

    response = edit_post(agent_client, contact, email="not an email", country_code="XYZ")

    text = page_text(response)
    summary = error_summary(text)
    assert "Nothing was sent to LiveDesk: correct these values, then save" in summary
    link = '<a href="#id_email" class="alert-link" data-error-link>Email</a>'
    assert f"{link}: Enter a valid email address." in summary
    assert 'href="#id_country_code"' in summary
    assert summary.index("#id_email") < summary.index("#id_country_code")  # the page's order
    assert "autofocus" in tag_of(text, "error-summary")
    assert 'tabindex="-1"' in tag_of(text, "error-summary")
    assert patch_bodies(sandbox) == []


def test_an_invalid_field_is_marked_and_described_by_its_message(sandbox, agent_client):
    contact = contact_synced(sandbox=sandbox, name="Ann", email="ann@example.com")

    text = page_text(edit_post(agent_client, contact, email="not an email"))

    field = tag_of(text, "id_email")
    assert 'aria-invalid="true"' in field
    assert 'aria-describedby="id_email_error"' in field
    assert "Enter a valid email address." in text[text.index('id="id_email_error"') :][:300]
    assert 'aria-invalid="true"' not in tag_of(text, "id_name")


def test_an_invalid_custom_row_is_linked_from_the_summary(sandbox, agent_client):
    contact = contact_synced(sandbox=sandbox, name="Ann")

    text = page_text(
        edit_post(agent_client, contact, **{"custom-0-key": "Bad Key", "custom-0-value": "x"})
    )

    assert 'href="#id_custom-0-key"' in error_summary(text)
    key = tag_of(text, "id_custom-0-key")
    assert 'aria-invalid="true"' in key and 'aria-describedby="id_custom-0-key_error"' in key


def test_the_admin_form_shows_the_same_summary(sandbox, admin_client):
    contact = contact_synced(sandbox=sandbox, name="Ann", email="ann@example.com")

    text = page_text(admin_edit_post(admin_client, contact, email="not an email"))

    summary = error_summary(text)
    assert 'class="errornote error-summary"' in summary
    assert 'href="#id_email"' in summary
    assert 'aria-invalid="true"' in tag_of(text, "id_email")


def test_a_page_without_errors_has_no_summary(sandbox, agent_client):
    contact = contact_synced(sandbox=sandbox, name="Ann")

    assert 'id="error-summary"' not in page_text(agent_client.get(edit_url(contact)))


# --- Conflicts -----------------------------------------------------------------------------------


def test_conflict_delivers_the_other_changes_and_the_conflicting_one_waits(sandbox, agent_client):
    contact, opened = conflict_opened(sandbox, agent_client, name="Ann Theirs")

    response = agent_client.post(
        edit_url(contact), edit_form_data(opened, name="Ann Yours", city="Phuket")
    )

    assert response.status_code == 200
    assert patch_bodies(sandbox) == [{"additional_attributes": {"city": "Phuket"}}]
    assert sandbox.store.get_contact(contact.remote_id)["name"] == "Ann Theirs"
    contact.refresh_from_db()
    assert (contact.name, contact.city) == ("Ann Theirs", "Phuket")
    text = page_text(response)
    assert (
        "Delivered to LiveDesk: City. Waiting for you: Name, changed by someone else after you "
        "opened this form." in text
    )
    name = tag_of(text, "id_name")
    assert 'aria-invalid="true"' in name and "field-conflict" in name and "autofocus" in name
    assert "autofocus" not in tag_of(text, "error-summary")  # the conflicting field takes it
    assert "Changed by someone else to “Ann Theirs”" in text
    form = response.context["form"]
    assert (form["name"].value(), form["city"].value()) == ("Ann Yours", "Phuket")
    assert ContactEdit.objects.filter(state=ContactEdit.State.SUCCEEDED).count() == 2  # sync, city


def test_one_save_after_a_conflict_sends_the_waiting_value(sandbox, agent_client):
    contact, opened = conflict_opened(sandbox, agent_client, name="Ann Theirs")
    shown = agent_client.post(
        edit_url(contact), edit_form_data(opened, name="Ann Yours", city="Phuket")
    )

    saved = agent_client.post(edit_url(contact), edit_form_data(shown.context["form"]), follow=True)

    assert patch_bodies(sandbox) == [
        {"additional_attributes": {"city": "Phuket"}},
        {"name": "Ann Yours"},
    ]
    assert "Saved: LiveDesk accepted the changes" in page_text(saved)
    assert sandbox.store.get_contact(contact.remote_id)["name"] == "Ann Yours"


def test_after_a_conflict_entering_their_value_keeps_it_and_sends_nothing(sandbox, agent_client):
    contact, opened = conflict_opened(sandbox, agent_client, name="Ann Theirs")
    shown = agent_client.post(edit_url(contact), edit_form_data(opened, name="Ann Yours"))

    agent_client.post(edit_url(contact), edit_form_data(shown.context["form"], name="Ann Theirs"))

    assert patch_bodies(sandbox) == []
    assert sandbox.store.get_contact(contact.remote_id)["name"] == "Ann Theirs"


def test_conflict_while_livedesk_is_down_queues_the_other_changes(
    sandbox, agent_client, no_client_retries
):
    contact, opened = conflict_opened(sandbox, agent_client, name="Ann Theirs")
    sandbox.faults.methods = "PATCH"
    sandbox.faults.fail_next = 5
    sandbox.faults.failure_status = 503

    response = agent_client.post(
        edit_url(contact), edit_form_data(opened, name="Ann Yours", city="Phuket")
    )

    text = page_text(response)
    assert "Saved and on their way to LiveDesk, sent automatically: City." in text
    assert "Delivered to LiveDesk" not in text
    [queued] = ContactEdit.objects.filter(state=ContactEdit.State.FAILED)
    assert queued.changed_fields == ["additional_attributes.city"]


def test_admin_conflict_delivers_the_other_changes_too(sandbox, admin_client):
    contact = contact_synced(sandbox=sandbox, name="Ann Lee")
    page = admin_client.get(change_url(contact))
    data = {**edit_form_data(page.context["form"]), "name": "Ann Yours", "city": "Nan"}
    sandbox.store.update_contact(contact.remote_id, {"name": "Ann Theirs"})
    services.contacts_sync()

    response = admin_client.post(change_url(contact), data)

    assert response.status_code == 200
    assert patch_bodies(sandbox) == [{"additional_attributes": {"city": "Nan"}}]
    text = page_text(response)
    assert "Delivered to LiveDesk: City. Waiting for you: Name" in text
    assert 'aria-invalid="true"' in tag_of(text, "id_name")


# --- Custom attribute rows on demand --------------------------------------------------------------


def test_no_blank_custom_row_is_drawn(sandbox, agent_client):
    contact = contact_synced(sandbox=sandbox, name="Ann", custom_attributes={"plan": "gold"})

    text = page_text(agent_client.get(edit_url(contact)))

    assert 'name="custom-TOTAL_FORMS" value="1"' in text
    assert 'id="id_custom-0-key"' in text and 'id="id_custom-1-key"' not in text
    assert 'name="add_attribute"' in text


def test_add_attribute_without_javascript_adds_a_row_and_sends_nothing(sandbox, agent_client):
    contact = contact_synced(sandbox=sandbox, name="Ann")
    opened = agent_client.get(edit_url(contact)).context["form"]

    added = agent_client.post(
        edit_url(contact), {**edit_form_data(opened, name="Ann Smith"), "add_attribute": "1"}
    )

    assert added.status_code == 200
    assert patch_bodies(sandbox) == []
    text = page_text(added)
    assert 'name="custom-TOTAL_FORMS" value="1"' in text
    assert "autofocus" in tag_of(text, "id_custom-0-key")
    assert 'id="error-summary"' not in text
    form = added.context["form"]
    assert form["name"].value() == "Ann Smith"  # what the agent typed is kept

    data = edit_form_data(form, **{"custom-0-key": "vip_level", "custom-0-value": "3"})
    agent_client.post(edit_url(contact), data)

    assert patch_bodies(sandbox) == [{"name": "Ann Smith", "custom_attributes": {"vip_level": "3"}}]


def test_add_attribute_in_the_admin_adds_a_row(sandbox, admin_client):
    contact = contact_synced(sandbox=sandbox, name="Ann")
    page = admin_client.get(change_url(contact))

    added = admin_client.post(
        change_url(contact), {**edit_form_data(page.context["form"]), "add_attribute": "1"}
    )

    assert added.status_code == 200
    assert 'id="id_custom-0-key"' in page_text(added)
    assert patch_bodies(sandbox) == []


def test_a_reopened_edit_waits_with_its_conflicting_value_until_the_one_save(sandbox, agent_client):
    contact = contact_synced(sandbox=sandbox, name="Ann", email="ann@example.com")
    sandbox.store.create_contact(name="Bob", email="bob@example.com")
    edit_post(agent_client, contact, name="Ann Smith", email="bob@example.com")
    held = ContactEdit.objects.get(source=ContactEdit.Source.AGENT)
    assert held.failure_kind == ContactEdit.FailureKind.PERMANENT  # the email is taken
    url = edit_url(contact) + f"?edit={held.pk}"
    opened = agent_client.get(url).context["form"]
    sandbox.store.update_contact(contact.remote_id, {"name": "Ann Theirs"})
    services.contacts_sync()
    sandbox.clear_recorded()

    shown = agent_client.post(url, edit_form_data(opened, email="ann.new@example.com"))

    assert patch_bodies(sandbox) == [{"email": "ann.new@example.com"}]
    assert "Delivered to LiveDesk: Email. Waiting for you: Name" in page_text(shown)
    held.refresh_from_db()
    assert held.is_unfinished  # its name still waits on it, and in the form

    agent_client.post(url, edit_form_data(shown.context["form"]))

    assert patch_bodies(sandbox)[-1] == {"name": "Ann Smith"}
    held.refresh_from_db()
    assert held.state == ContactEdit.State.SUPERSEDED
    remote = sandbox.store.get_contact(contact.remote_id)
    assert (remote["name"], remote["email"]) == ("Ann Smith", "ann.new@example.com")
