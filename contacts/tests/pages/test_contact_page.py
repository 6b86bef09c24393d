"""The contact's page over HTTP: who changed it last, its history under the header, where its
unfinished edits stand (in words naming what LiveDesk did), the poll that keeps it current and
the quick edit of one section, against a real LiveDesk sandbox."""

from __future__ import annotations

import re

import pytest
from django.urls import reverse

from contacts import services
from contacts.models import ContactEdit
from contacts.services.push import edit_push
from contacts.tests.factories import (
    contact_synced,
    edit_failed_transiently,
    edit_submit,
    page_text,
    patch_bodies,
    user_make,
)

pytestmark = pytest.mark.django_db

HTMX = {"HX-Request": "true"}


def visible_text(response) -> str:
    """The page's words as read: tags dropped, white space collapsed."""
    text = re.sub(r"<[^>]+>", " ", page_text(response))
    return re.sub(r"\s+", " ", text)


def contact_page(client, contact):
    response = client.get(contact.get_absolute_url())
    assert response.status_code == 200
    return response


def section_opened(client, contact, section: str):
    """The quick edit form of one section, as htmx loads it into the contact's page."""
    url = reverse("contacts:edit_section", args=[contact.remote_id, section])
    response = client.get(url, headers=HTMX)
    assert response.status_code == 200
    return response


def section_post(client, opened, **changes):
    """Post a section's form as the browser does: its own fields only, some changed."""
    form = opened.context["form"]
    data = {
        name: value
        for name, value in form.data_as_opened().items()
        if name in form.section_names | {"base_version", "base_values"}
        or (form.section == "custom" and name.startswith("custom-"))
    }
    for name, value in changes.items():
        if value is False:
            data.pop(name, None)
        else:
            data[name] = value
    url = reverse("contacts:edit_section", args=[form.contact.remote_id, form.section])
    return client.post(url, data, headers=HTMX)


# --- Who changed it, and its history -----------------------------------------------------------


def test_the_last_change_is_named_under_the_contacts_name(sandbox, agent_client, agent):
    contact = contact_synced(sandbox=sandbox, name="Ann")
    edit_submit(contact=contact, editor=agent, changes={"email": "ann@example.com"})

    text = visible_text(contact_page(agent_client, contact))

    assert f"Ann Last changed by {agent.username}, just now" in text


def test_a_change_made_in_livedesk_is_named_as_such(sandbox, agent_client):
    contact = contact_synced(sandbox=sandbox, name="Ann")
    sandbox.store.update_contact(contact.remote_id, {"name": "Ann Outside"})
    services.contacts_sync()

    text = visible_text(contact_page(agent_client, contact))

    assert "Last changed in LiveDesk, just now" in text


def test_the_history_comes_right_after_the_header_with_the_newest_events(
    sandbox, agent_client, agent
):
    contact = contact_synced(sandbox=sandbox, name="Ann")
    for number in range(4):
        edit_submit(contact=contact, editor=agent, changes={"identifier": f"id-{number}"})
        contact.refresh_from_db()

    response = contact_page(agent_client, contact)
    text = page_text(response)

    assert text.index('id="history-heading"') < text.index('id="contact-section-core-heading"')
    assert len(response.context["recent_history"]) == 5
    newest = text.index("id-2 → id-3")
    assert newest < text.index("earlier events")
    assert "All edits of this contact" in text


def test_a_contact_nobody_changed_has_no_last_change_line(sandbox, agent_client):
    contact = contact_synced(sandbox=sandbox, name="Ann")

    assert "Last changed" not in page_text(contact_page(agent_client, contact))


# --- Where unfinished edits stand --------------------------------------------------------------


def test_an_edit_livedesk_answered_503_to_shows_one_state_with_the_pending_value(
    sandbox, agent_client, agent
):
    contact = contact_synced(sandbox=sandbox, name="Ann", additional_attributes={"city": "Krabi"})
    edit_failed_transiently(
        sandbox=sandbox,
        contact=contact,
        editor=agent,
        changes={"additional_attributes.city": "Phuket"},
    )

    response = contact_page(agent_client, contact)
    text = visible_text(response)

    assert re.search(
        r"Not yet in LiveDesk: LiveDesk answered 503 at [^;]+; next try in \d+ s", text
    )
    assert "Failed" not in text
    assert "could not be reached" not in text
    assert re.search(r"City Krabi not yet in LiveDesk Phuket", text)
    assert 'data-settled="false"' in page_text(response)


def test_an_edit_livedesk_did_not_answer_in_time_says_so(sandbox, agent_client, agent, settings):
    contact = contact_synced(sandbox=sandbox, name="Ann")
    settings.LIVEDESK_RETRIES = 0
    settings.LIVEDESK_TIMEOUT = (1.0, 0.3)
    sandbox.faults.methods = "PATCH"
    sandbox.faults.hang_next = 1
    sandbox.faults.hang_seconds = 2
    edit_submit(contact=contact, editor=agent, changes={"name": "Ann Smith"})

    text = visible_text(contact_page(agent_client, contact))

    assert "Not yet in LiveDesk: LiveDesk did not answer in time at" in text


def test_an_edit_when_livedesk_cannot_be_reached_says_so(sandbox, agent_client, agent, settings):
    contact = contact_synced(sandbox=sandbox, name="Ann")
    settings.LIVEDESK_RETRIES = 0
    sandbox.stop()
    edit = edit_submit(contact=contact, editor=agent, changes={"name": "Ann Smith"})

    text = visible_text(agent_client.get(reverse("contacts:live", args=[contact.remote_id])))

    assert edit.state == ContactEdit.State.FAILED
    assert "Not yet in LiveDesk: LiveDesk could not be reached at" in text


def test_an_edit_that_failed_for_good_asks_for_the_agent_and_the_poll_stops(
    sandbox, agent_client, agent
):
    contact = contact_synced(sandbox=sandbox, name="Ann")
    sandbox.store.delete_contact(contact.remote_id)
    edit_submit(contact=contact, editor=agent, changes={"name": "Ann Smith"})

    response = agent_client.get(reverse("contacts:live", args=[contact.remote_id]))
    text = visible_text(response)

    assert "Not in LiveDesk: LiveDesk answered 404 at" in text
    assert "It will not be sent again by itself" in text
    assert "not in LiveDesk Ann Smith" in text
    assert 'data-settled="true"' in page_text(response)


def test_the_live_part_turns_delivered_when_the_edit_lands(sandbox, agent_client, agent):
    contact = contact_synced(sandbox=sandbox, name="Ann", additional_attributes={"city": "Krabi"})
    edit = edit_failed_transiently(
        sandbox=sandbox,
        contact=contact,
        editor=agent,
        changes={"additional_attributes.city": "Phuket"},
    )
    live = reverse("contacts:live", args=[contact.remote_id])
    assert 'data-settled="false"' in page_text(agent_client.get(live))

    edit_push(edit_id=edit.pk)
    response = agent_client.get(live)
    text = visible_text(response)

    assert 'data-settled="true"' in page_text(response)
    assert "not yet in LiveDesk" not in text.lower()
    assert re.search(r"City Phuket", text)
    assert "Delivered to LiveDesk" in text


def test_the_list_badges_poll_answers_each_contacts_state(sandbox, agent_client, agent):
    waiting = contact_synced(sandbox=sandbox, name="Ann")
    edit_failed_transiently(
        sandbox=sandbox, contact=waiting, editor=agent, changes={"name": "Ann Smith"}
    )
    quiet = contact_synced(sandbox=sandbox, name="Bee")

    response = agent_client.get(
        reverse("contacts:push_states"), {"ids": f"{waiting.remote_id},{quiet.remote_id},x,999"}
    )

    states = response.json()["contacts"]
    assert set(states) == {str(waiting.remote_id), str(quiet.remote_id)}
    assert states[str(waiting.remote_id)]["settled"] is False
    assert states[str(waiting.remote_id)]["unfinished"] == 1
    assert "Not yet in LiveDesk" in states[str(waiting.remote_id)]["badge_html"]
    assert (
        f'data-push-state-for="{waiting.remote_id}"' in states[str(waiting.remote_id)]["badge_html"]
    )
    assert states[str(quiet.remote_id)] == {
        "unfinished": 0,
        "settled": True,
        "needs_agent": False,
        "push_state": "in_sync",
        "badge_html": f'<span data-push-state-for="{quiet.remote_id}" data-push-state="in_sync" '
        "hidden></span>",
    }


def test_the_live_views_need_the_view_permission(sandbox, client):
    contact = contact_synced(sandbox=sandbox, name="Ann")
    client.force_login(user_make(username="nobody", perms=()))

    assert client.get(reverse("contacts:live", args=[contact.remote_id])).status_code == 403
    assert client.get(reverse("contacts:push_states")).status_code == 403


# --- Quick edits -------------------------------------------------------------------------------


def test_a_quick_edit_opens_one_sections_fields(sandbox, agent_client):
    contact = contact_synced(sandbox=sandbox, name="Ann", additional_attributes={"city": "Krabi"})

    response = section_opened(agent_client, contact, "additional")
    text = page_text(response)

    assert 'name="city"' in text and 'value="Krabi"' in text
    assert 'name="name"' not in text and 'name="social_github"' not in text
    assert 'name="base_values"' in text
    assert "<html" not in text


def test_without_htmx_the_quick_edit_is_the_full_form_at_its_section(sandbox, agent_client):
    contact = contact_synced(sandbox=sandbox, name="Ann")
    url = reverse("contacts:edit_section", args=[contact.remote_id, "social"])

    response = agent_client.get(url)

    assert response.status_code == 302
    assert response["Location"] == (
        reverse("contacts:edit", args=[contact.remote_id]) + "#section-social"
    )


def test_the_contact_page_has_an_edit_button_per_section_that_works_without_js(
    sandbox, agent_client
):
    contact = contact_synced(sandbox=sandbox, name="Ann")

    text = page_text(contact_page(agent_client, contact))

    for section in ("core", "additional", "social", "custom"):
        assert f'href="/contacts/{contact.remote_id}/edit/#section-{section}"' in text
        assert f'hx-get="/contacts/{contact.remote_id}/edit/{section}/"' in text


def test_a_quick_edit_sends_only_its_change_through_the_edit_flow(sandbox, agent_client):
    contact = contact_synced(
        sandbox=sandbox,
        name="Ann",
        email="ann@example.com",
        additional_attributes={"city": "Krabi", "company_name": "Acme"},
    )
    opened = section_opened(agent_client, contact, "additional")

    response = section_post(agent_client, opened, city="Phuket")

    assert response.status_code == 200
    assert response["HX-Redirect"] == contact.get_absolute_url()
    assert patch_bodies(sandbox) == [{"additional_attributes": {"city": "Phuket"}}]
    stored = sandbox.store.get_contact(contact.remote_id)
    assert stored["additional_attributes"]["city"] == "Phuket"
    assert stored["additional_attributes"]["company_name"] == "Acme"
    assert stored["email"] == "ann@example.com"
    edit = ContactEdit.objects.get()
    assert edit.source == ContactEdit.Source.AGENT
    assert [change["field"] for change in edit.changes] == ["additional_attributes.city"]
    followed = agent_client.get(contact.get_absolute_url())
    assert "Saved: LiveDesk accepted the changes to Ann." in page_text(followed)


def test_a_quick_edit_of_a_switch_can_untick_it(sandbox, agent_client):
    contact = contact_synced(sandbox=sandbox, name="Ann", blocked=True)
    opened = section_opened(agent_client, contact, "core")

    section_post(agent_client, opened, blocked=False)

    assert patch_bodies(sandbox) == [{"blocked": False}]


def test_a_quick_edit_shows_the_fields_error_and_sends_nothing(sandbox, agent_client):
    contact = contact_synced(sandbox=sandbox, name="Ann")
    opened = section_opened(agent_client, contact, "core")

    response = section_post(agent_client, opened, email="not an email")

    assert response.status_code == 200
    assert "HX-Redirect" not in response
    text = page_text(response)
    assert "Nothing was sent to LiveDesk" in text
    assert 'aria-invalid="true"' in text
    assert "<html" not in text
    assert patch_bodies(sandbox) == []


def test_a_quick_edit_meets_a_conflict_as_the_full_form_does(sandbox, agent_client):
    contact = contact_synced(sandbox=sandbox, name="Ann")
    opened = section_opened(agent_client, contact, "core")
    sandbox.store.update_contact(contact.remote_id, {"name": "Ann Theirs"})
    services.contacts_sync()

    response = section_post(agent_client, opened, name="Ann Yours")

    text = page_text(response)
    assert patch_bodies(sandbox) == []
    assert "Their value now" in text and "Ann Theirs" in text and "Ann Yours" in text
    assert "Reload the form with the current values" in text

    form = response.context["form"]
    reloaded = agent_client.post(
        reverse("contacts:edit_section", args=[contact.remote_id, "core"]),
        {**section_data(form), "reload": "1"},
        headers=HTMX,
    )
    assert reloaded.context["form"]["name"].value() == "Ann Yours"
    saved = section_post(agent_client, reloaded)
    assert saved["HX-Redirect"] == contact.get_absolute_url()
    assert patch_bodies(sandbox) == [{"name": "Ann Yours"}]


def section_data(form) -> dict:
    return {
        name: value
        for name, value in form.data_as_opened().items()
        if name in form.section_names | {"base_version", "base_values"}
    }


def test_a_quick_edit_of_custom_attributes_keeps_the_other_sections(sandbox, agent_client):
    contact = contact_synced(
        sandbox=sandbox, name="Ann", email="ann@example.com", custom_attributes={"plan": "basic"}
    )
    opened = section_opened(agent_client, contact, "custom")
    form = opened.context["form"]
    row = next(
        index
        for index, row in enumerate(form.custom_rows.forms)
        if row.initial.get("key") == "plan"
    )

    section_post(agent_client, opened, **{f"custom-{row}-value": "pro"})

    assert patch_bodies(sandbox) == [{"custom_attributes": {"plan": "pro"}}]


def test_an_unknown_section_is_not_found(sandbox, agent_client):
    contact = contact_synced(sandbox=sandbox, name="Ann")
    url = reverse("contacts:edit_section", args=[contact.remote_id, "inboxes"])

    assert agent_client.get(url, headers=HTMX).status_code == 404


def test_a_quick_edit_needs_the_change_permission(sandbox, client):
    contact = contact_synced(sandbox=sandbox, name="Ann")
    client.force_login(user_make(username="viewer", perms=("view_contact",)))
    url = reverse("contacts:edit_section", args=[contact.remote_id, "core"])

    assert client.get(url, headers=HTMX).status_code == 403
    assert "hx-get" not in page_text(client.get(contact.get_absolute_url()))


def test_a_quick_edit_livedesk_rejects_stays_open_with_its_words(sandbox, agent_client):
    contact = contact_synced(sandbox=sandbox, name="Ann")
    opened = section_opened(agent_client, contact, "core")
    sandbox.faults.methods = "PATCH"
    sandbox.faults.fail_next = 1
    sandbox.faults.failure_status = 422

    response = section_post(agent_client, opened, name="Ann Smith")

    assert "HX-Redirect" not in response
    text = page_text(response)
    assert "LiveDesk rejected the changes, so nothing was saved there." in text
    assert 'value="Ann Smith"' in text
    # Said once, in the section: not again on the next page.
    assert "LiveDesk rejected the changes" not in page_text(contact_page(agent_client, contact))
