"""The agent pages over HTTP, against a real LiveDesk sandbox where an edit is pushed."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from contacts import services
from contacts.models import Contact, ContactEdit
from contacts.tests.factories import (
    client_for,
    contact_make,
    contact_synced,
    patch_bodies,
    user_make,
)
from contacts.tests.test_forms import form_data

pytestmark = pytest.mark.django_db

HOSTILE = "<script>alert(1)</script>"


# --- Factories and helpers ---------------------------------------------------------------------


def edit_post(client: Client, contact: Contact, *, query: str = "", **changes: Any):
    """Open the edit page, change some fields (by HTML name), and post it."""
    url = reverse("contacts:edit", args=[contact.remote_id]) + query
    opened = client.get(url)
    assert opened.status_code == 200
    return client.post(url, form_data(opened.context["form"], **changes), follow=True)


def page_text(response) -> str:
    return response.content.decode()


@pytest.fixture
def agent():
    return user_make()


@pytest.fixture
def agent_client(agent) -> Client:
    return client_for(agent)


@pytest.fixture
def no_client_retries(settings):
    settings.LIVEDESK_RETRIES = 0


# --- Access -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        reverse("contacts:list"),
        reverse("contacts:history"),
        reverse("contacts:detail", args=[318001]),
        reverse("contacts:edit", args=[318001]),
    ],
)
def test_anonymous_visitor_is_sent_to_the_login_page(client, url):
    response = client.get(url)

    assert response.status_code == 302
    assert response.url == f"{reverse('login')}?next={url}"


def test_login_page_logs_an_agent_in(client):
    user_make(username="agent", password="pw-for-tests")

    response = client.post(
        reverse("login"), {"username": "agent", "password": "pw-for-tests"}, follow=True
    )

    assert response.redirect_chain[-1][0] == reverse("contacts:list")
    assert "Log out" in page_text(response)


@pytest.mark.parametrize("name", ["contacts:list", "contacts:history", "contacts:detail"])
def test_user_without_view_permission_is_refused(name):
    contact_make(remote_id=318001, name="Ann")
    client = client_for(user_make(username="outsider", perms=()))
    args = [318001] if name == "contacts:detail" else []

    response = client.get(reverse(name, args=args))

    assert response.status_code == 403


def test_viewer_cannot_open_the_edit_page():
    contact_make(remote_id=318001, name="Ann")
    client = client_for(user_make(username="viewer", perms=("view_contact",)))

    response = client.get(reverse("contacts:edit", args=[318001]))

    assert response.status_code == 403


@pytest.mark.parametrize("name", ["contacts:edit_retry", "contacts:edit_discard"])
def test_viewer_cannot_retry_or_discard(sandbox, agent, name, no_client_retries):
    contact = contact_synced(sandbox=sandbox, name="Ann")
    sandbox.faults.fail_next = 1
    edit_post(client_for(agent), contact, name="Ann Smith")
    edit = ContactEdit.objects.get()
    client = client_for(user_make(username="viewer", perms=("view_contact",)))

    response = client.post(reverse(name, args=[edit.pk]))

    assert response.status_code == 403
    edit.refresh_from_db()
    assert edit.state == ContactEdit.State.FAILED
    assert edit.attempts == 1


def test_viewer_sees_no_edit_buttons(sandbox):
    contact = contact_synced(sandbox=sandbox, name="Ann")
    client = client_for(user_make(username="viewer", perms=("view_contact",)))

    response = client.get(contact.get_absolute_url())

    assert response.status_code == 200
    assert reverse("contacts:edit", args=[contact.remote_id]) not in page_text(response)


def test_staff_see_the_admin_link(agent):
    agent.is_staff = True
    agent.save()

    response = client_for(agent).get(reverse("contacts:list"))

    assert reverse("admin:index") in page_text(response)


# --- List ---------------------------------------------------------------------------------------


@pytest.fixture
def listed_contacts():
    return [
        contact_make(
            remote_id=1,
            name="Ann Lee",
            email="ann@example.com",
            phone_number="+66812345678",
            company_name="Acme",
            country="Thailand",
            last_activity_at=timezone.now() - timedelta(days=1),
        ),
        contact_make(
            remote_id=2,
            name="Bob Stone",
            email="bob@globex.com",
            identifier="CRM-7",
            company_name="Globex",
            country="Singapore",
            blocked=True,
            last_activity_at=timezone.now(),
        ),
        contact_make(
            remote_id=3,
            name="Carla Diaz",
            email="carla@example.com",
            country="Thailand",
            gone_at=timezone.now(),
            push_state=Contact.PushState.FAILED,
            availability_status="online",
        ),
    ]


def listed_names(client: Client, **params: str) -> list[str]:
    response = client.get(reverse("contacts:list"), params)
    assert response.status_code == 200
    return [contact.name for contact in response.context["page"].object_list]


@pytest.mark.parametrize(
    ("q", "expected"),
    [
        ("ann", ["Ann Lee"]),
        ("BOB@", ["Bob Stone"]),
        ("glob", ["Bob Stone"]),
        ("+66 81 234 5678", ["Ann Lee"]),
        ("CRM-7", ["Bob Stone"]),
        ("nobody", []),
    ],
)
def test_list_search_matches_name_email_company_phone_and_identifier(
    agent_client, listed_contacts, q, expected
):
    assert listed_names(agent_client, q=q) == expected


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"blocked": "yes"}, ["Bob Stone"]),
        ({"blocked": "no"}, ["Ann Lee", "Carla Diaz"]),
        ({"country": "Thailand"}, ["Ann Lee", "Carla Diaz"]),
        ({"availability": "online"}, ["Carla Diaz"]),
        ({"push_state": "failed"}, ["Carla Diaz"]),
        ({"gone": "yes"}, ["Carla Diaz"]),
        ({"gone": "no", "country": "Thailand"}, ["Ann Lee"]),
    ],
)
def test_list_filters(agent_client, listed_contacts, params, expected):
    assert listed_names(agent_client, **params) == expected


@pytest.mark.parametrize(
    ("sort", "expected"),
    [
        ("-name", ["Carla Diaz", "Bob Stone", "Ann Lee"]),
        ("email", ["Ann Lee", "Bob Stone", "Carla Diaz"]),
        ("-last_activity", ["Bob Stone", "Ann Lee", "Carla Diaz"]),
        ("last_activity", ["Ann Lee", "Bob Stone", "Carla Diaz"]),
        ("company", ["Carla Diaz", "Ann Lee", "Bob Stone"]),
    ],
)
def test_list_sorts(agent_client, listed_contacts, sort, expected):
    assert listed_names(agent_client, sort=sort) == expected


def test_list_shows_fifty_contacts_a_page(agent_client):
    Contact.objects.bulk_create(Contact(remote_id=i, name=f"Contact {i:03}") for i in range(1, 121))

    first = agent_client.get(reverse("contacts:list"))
    last = agent_client.get(reverse("contacts:list"), {"page": 3})

    assert len(first.context["page"].object_list) == 50
    assert [c.name for c in last.context["page"].object_list][0] == "Contact 101"
    assert len(last.context["page"].object_list) == 20
    assert "Page 3 of 3" in page_text(last)


def test_list_escapes_contact_data(agent_client):
    contact_make(remote_id=1, name=HOSTILE)

    response = agent_client.get(reverse("contacts:list"))

    assert HOSTILE not in page_text(response)
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page_text(response)


# --- Detail -------------------------------------------------------------------------------------


def test_detail_shows_every_section(sandbox, agent_client):
    contact = contact_synced(
        sandbox=sandbox,
        name="Ann Lee",
        email="ann@example.com",
        phone_number="+66812345678",
        identifier="CRM-1",
        inbox_id=2,
        additional_attributes={
            "company_name": "Acme",
            "city": "Chiang Mai",
            "country_code": "TH",
            "social_profiles": {"github": "annlee", "twitter": "javascript:alert(1)"},
        },
        custom_attributes={"plan": "gold", "seats": 12, "removed": None},
    )

    text = page_text(agent_client.get(contact.get_absolute_url()))

    for expected in ("Ann Lee", "ann@example.com", "+66812345678", "CRM-1", "Acme", "Chiang Mai"):
        assert expected in text
    assert 'href="https://github.com/annlee"' in text
    assert 'href="https://x.com/javascript%3Aalert%281%29"' in text
    assert "plan" in text and "gold" in text and "seats" in text
    assert "removed" not in text
    assert "LINE OA" in text and "Api" in text
    assert "Last synced" in text


def test_detail_escapes_a_hostile_name(sandbox, agent_client):
    contact = contact_synced(sandbox=sandbox, name=HOSTILE, custom_attributes={"note": HOSTILE})

    text = page_text(agent_client.get(contact.get_absolute_url()))

    assert HOSTILE not in text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in text


def test_detail_of_an_unknown_contact_is_not_found(agent_client):
    assert agent_client.get(reverse("contacts:detail", args=[999])).status_code == 404


def test_detail_flags_a_contact_gone_from_livedesk(agent_client):
    contact = contact_make(remote_id=5, name="Ann", gone_at=timezone.now())

    assert "LiveDesk no longer lists this contact" in page_text(
        agent_client.get(contact.get_absolute_url())
    )


# --- Editing ------------------------------------------------------------------------------------


def test_edit_page_shows_the_four_sections(sandbox, agent_client):
    contact = contact_synced(sandbox=sandbox, name="Ann")

    text = page_text(agent_client.get(reverse("contacts:edit", args=[contact.remote_id])))

    for heading in ("Core", "Additional attributes", "Social profiles", "Custom attributes"):
        assert f">{heading}</legend>" in text
    assert 'name="custom-TOTAL_FORMS" value="2"' in text
    assert 'name="base_values"' in text


def test_saving_an_edit_pushes_a_patch_and_shows_it_in_the_history(sandbox, agent_client):
    contact = contact_synced(sandbox=sandbox, name="Ann", email="ann@example.com")

    response = edit_post(agent_client, contact, name="Ann Smith", city="Chiang Mai")

    assert patch_bodies(sandbox) == [
        {"name": "Ann Smith", "additional_attributes": {"city": "Chiang Mai"}}
    ]
    assert response.redirect_chain[-1][0] == contact.get_absolute_url()
    text = page_text(response)
    assert "Saved: LiveDesk accepted the changes to Ann Smith." in text
    assert "Succeeded" in text and "Chiang Mai" in text
    edit = ContactEdit.objects.get()
    assert edit.state == ContactEdit.State.SUCCEEDED
    assert edit.source == ContactEdit.Source.AGENT
    assert edit.editor_username == "agent"
    contact.refresh_from_db()
    assert contact.name == "Ann Smith"


def test_saving_without_changes_sends_nothing(sandbox, agent_client):
    contact = contact_synced(sandbox=sandbox, name="Ann", custom_attributes={"seats": 3})

    response = edit_post(agent_client, contact)

    assert patch_bodies(sandbox) == []
    assert not ContactEdit.objects.exists()
    assert "No changes to save: nothing was sent to LiveDesk." in page_text(response)


def test_removing_a_custom_attribute_sends_null(sandbox, agent_client):
    contact = contact_synced(sandbox=sandbox, name="Ann", custom_attributes={"plan": "gold"})

    edit_post(agent_client, contact, **{"custom-0-remove": True})

    assert patch_bodies(sandbox) == [{"custom_attributes": {"plan": None}}]


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        ({"email": "ann@"}, "email", "Enter a valid email address."),
        ({"phone_number": "0812345678"}, "phone_number", "Start the number with +"),
        ({"country_code": "XX"}, "country_code", "ISO 3166 country code"),
        ({"thumbnail": "javascript:alert(1)"}, "thumbnail", "http:// or https://"),
        (
            {"custom-0-key": "Bad Key", "custom-0-value": "x"},
            "custom-0-key",
            "lower-case letters",
        ),
    ],
)
def test_bad_input_is_explained_and_kept(sandbox, agent_client, changes, field, message):
    contact = contact_synced(sandbox=sandbox, name="Ann")

    response = edit_post(agent_client, contact, **changes)

    assert response.redirect_chain == []
    assert patch_bodies(sandbox) == []
    text = page_text(response)
    assert message in text
    kept = response.context["form"]
    if field.startswith("custom-"):
        assert kept.custom_rows.forms[0]["key"].value() == changes[field]
    else:
        assert kept[field].value() == changes[field]


def test_livedesk_rejection_is_shown_on_the_field_with_the_input_kept(sandbox, agent_client):
    sandbox.store.create_contact(name="Bob", email="bob@example.com")
    contact = contact_synced(sandbox=sandbox, name="Ann", email="ann@example.com")

    response = edit_post(agent_client, contact, email="bob@example.com", city="Phuket")

    assert response.redirect_chain == []
    form = response.context["form"]
    assert form.errors["email"] == ["LiveDesk: Email has already been taken"]
    assert form["email"].value() == "bob@example.com"
    assert form["city"].value() == "Phuket"
    assert "LiveDesk rejected the changes" in page_text(response)
    edit = ContactEdit.objects.get()
    assert (edit.state, edit.http_status) == (ContactEdit.State.FAILED, 422)


def test_transient_failure_keeps_the_edit_and_shows_it_on_the_contact(
    sandbox, agent_client, no_client_retries
):
    contact = contact_synced(sandbox=sandbox, name="Ann")
    sandbox.faults.fail_next = 1
    sandbox.faults.failure_status = 503

    response = edit_post(agent_client, contact, name="Ann Smith")

    assert response.redirect_chain[-1][0] == contact.get_absolute_url()
    text = page_text(response)
    assert "LiveDesk could not be reached; your edit is saved and will be retried" in text
    assert "This edit did not reach LiveDesk" in text
    assert "Retry now" in text and "Edit and resend" in text and "Discard" in text
    assert "HTTP 503" in text
    edit = ContactEdit.objects.get()
    assert edit.state == ContactEdit.State.FAILED
    assert edit.failure_kind == ContactEdit.FailureKind.TRANSIENT


def test_edit_of_a_contact_deleted_in_livedesk_fails_and_is_kept(sandbox, agent_client):
    contact = contact_synced(sandbox=sandbox, name="Ann")
    sandbox.store.delete_contact(contact.remote_id)

    response = edit_post(agent_client, contact, name="Ann Smith")

    assert response.redirect_chain[-1][0] == contact.get_absolute_url()
    text = page_text(response)
    assert "LiveDesk did not accept the edit" in text
    assert "LiveDesk no longer lists this contact" in text
    assert "HTTP 404" in text
    assert ContactEdit.objects.get().failure_kind == ContactEdit.FailureKind.PERMANENT


def test_hanging_livedesk_keeps_the_edit_as_failed(sandbox, agent_client, settings):
    contact = contact_synced(sandbox=sandbox, name="Ann")
    settings.LIVEDESK_RETRIES = 0
    settings.LIVEDESK_TIMEOUT = (1.0, 0.3)
    sandbox.faults.hang_next = 1
    sandbox.faults.hang_seconds = 3

    response = edit_post(agent_client, contact, name="Ann Smith")

    assert "will be retried automatically" in page_text(response)
    assert ContactEdit.objects.get().state == ContactEdit.State.FAILED


def test_retry_now_delivers_a_failed_edit(sandbox, agent_client, no_client_retries):
    contact = contact_synced(sandbox=sandbox, name="Ann")
    sandbox.faults.fail_next = 1
    edit_post(agent_client, contact, name="Ann Smith")
    edit = ContactEdit.objects.get()

    response = agent_client.post(reverse("contacts:edit_retry", args=[edit.pk]), follow=True)

    edit.refresh_from_db()
    assert edit.state == ContactEdit.State.SUCCEEDED
    assert edit.attempts == 2
    assert "Sent again: LiveDesk accepted the edit." in page_text(response)
    assert "This edit did not reach LiveDesk" not in page_text(response)
    assert sandbox.store.get_contact(contact.remote_id)["name"] == "Ann Smith"


def test_discard_gives_up_a_failed_edit_and_keeps_it_in_the_history(
    sandbox, agent_client, no_client_retries
):
    contact = contact_synced(sandbox=sandbox, name="Ann")
    sandbox.faults.fail_next = 1
    edit_post(agent_client, contact, name="Ann Smith")
    edit = ContactEdit.objects.get()

    response = agent_client.post(reverse("contacts:edit_discard", args=[edit.pk]), follow=True)

    edit.refresh_from_db()
    contact.refresh_from_db()
    assert edit.state == ContactEdit.State.DISCARDED
    assert contact.push_state == Contact.PushState.IN_SYNC
    text = page_text(response)
    assert "Edit discarded" in text
    assert "Discarded by agent" in text
    assert len(patch_bodies(sandbox)) == 1


def test_retry_and_discard_need_post(sandbox, agent_client, no_client_retries):
    contact = contact_synced(sandbox=sandbox, name="Ann")
    sandbox.faults.fail_next = 1
    edit_post(agent_client, contact, name="Ann Smith")
    edit = ContactEdit.objects.get()

    assert agent_client.get(reverse("contacts:edit_retry", args=[edit.pk])).status_code == 405
    assert agent_client.get(reverse("contacts:edit_discard", args=[edit.pk])).status_code == 405


def test_edit_page_reopens_an_unfinished_edit(sandbox, agent_client, no_client_retries):
    contact = contact_synced(sandbox=sandbox, name="Ann", custom_attributes={"plan": "gold"})
    sandbox.faults.fail_next = 1
    edit_post(agent_client, contact, name="Ann Smith", **{"custom-0-remove": True})
    edit = ContactEdit.objects.get()

    response = agent_client.get(
        reverse("contacts:edit", args=[contact.remote_id]) + f"?edit={edit.pk}"
    )

    form = response.context["form"]
    assert form["name"].value() == "Ann Smith"
    assert [row.initial.get("key") for row in form.custom_rows.forms] == [None, None]
    assert "has not reached LiveDesk" in page_text(response)


def test_resending_an_unfinished_edit_supersedes_it(sandbox, agent_client, no_client_retries):
    contact = contact_synced(sandbox=sandbox, name="Ann")
    sandbox.faults.fail_next = 1
    edit_post(agent_client, contact, name="Ann Smith")
    failed = ContactEdit.objects.get()

    response = edit_post(agent_client, contact, query=f"?edit={failed.pk}", city="Phuket")

    failed.refresh_from_db()
    assert failed.state == ContactEdit.State.SUPERSEDED
    assert patch_bodies(sandbox)[-1] == {
        "name": "Ann Smith",
        "additional_attributes": {"city": "Phuket"},
    }
    assert "Saved" in page_text(response)


def test_conflict_shows_their_value_and_yours(sandbox, agent_client):
    contact = contact_synced(sandbox=sandbox, name="Ann", email="ann@example.com")
    url = reverse("contacts:edit", args=[contact.remote_id])
    opened = agent_client.get(url).context["form"]
    sandbox.store.update_contact(contact.remote_id, {"name": "Ann Theirs"})
    services.contacts_sync()

    response = agent_client.post(url, form_data(opened, name="Ann Yours", city="Phuket"))

    assert response.status_code == 200
    assert patch_bodies(sandbox) == []
    text = page_text(response)
    assert "Their value now" in text and "Your value" in text
    assert "Ann Theirs" in text
    assert response.context["form"]["name"].value() == "Ann Yours"
    assert [c.field for c in response.context["conflicts"]] == ["name"]
    assert "Reload the form with the current values" in text


def test_reloading_after_a_conflict_keeps_your_changes_on_the_current_values(sandbox, agent_client):
    contact = contact_synced(sandbox=sandbox, name="Ann", email="ann@example.com")
    url = reverse("contacts:edit", args=[contact.remote_id])
    opened = agent_client.get(url).context["form"]
    sandbox.store.update_contact(
        contact.remote_id, {"name": "Ann Theirs", "email": "ann.new@example.com"}
    )
    services.contacts_sync()
    data = form_data(opened, name="Ann Yours", city="Phuket")

    reloaded = agent_client.post(url, {**data, "reload": "1"})
    form = reloaded.context["form"]
    saved = agent_client.post(url, form_data(form), follow=True)

    assert form["name"].value() == "Ann Yours"
    assert form["city"].value() == "Phuket"
    assert form["email"].value() == "ann.new@example.com"
    assert patch_bodies(sandbox) == [
        {"name": "Ann Yours", "additional_attributes": {"city": "Phuket"}}
    ]
    assert "Saved" in page_text(saved)


def test_edit_form_enforces_csrf(sandbox, agent):
    contact = contact_synced(sandbox=sandbox, name="Ann")
    client = Client(enforce_csrf_checks=True)
    client.force_login(agent)
    url = reverse("contacts:edit", args=[contact.remote_id])
    data = form_data(client.get(url).context["form"], name="Ann Smith")

    refused = client.post(url, data)
    accepted = client.post(url, {**data, "csrfmiddlewaretoken": client.cookies["csrftoken"].value})

    assert refused.status_code == 403
    assert accepted.status_code == 302
    assert patch_bodies(sandbox) == [{"name": "Ann Smith"}]


# --- History ------------------------------------------------------------------------------------


@pytest.fixture
def history(sandbox, agent, no_client_retries):
    ann = contact_synced(sandbox=sandbox, name="Ann", email="ann@example.com")
    bob = contact_synced(sandbox=sandbox, name="Bob", email="bob@example.com")
    colleague = user_make(username="colleague")
    edit_post(client_for(agent), ann, name="Ann Smith")
    sandbox.faults.fail_next = 1
    edit_post(client_for(colleague), bob, name="Bob Stone")
    return ann, bob


def history_rows(client: Client, **params: str) -> list[tuple[str, str]]:
    response = client.get(reverse("contacts:history"), params)
    assert response.status_code == 200
    return [(e.editor_username, e.contact.name) for e in response.context["page"].object_list]


def test_history_lists_every_edit_newest_first(agent_client, history):
    assert history_rows(agent_client) == [("colleague", "Bob"), ("agent", "Ann Smith")]


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"agent": "colleague"}, [("colleague", "Bob")]),
        ({"contact": "ann"}, [("agent", "Ann Smith")]),
        ({"state": "failed"}, [("colleague", "Bob")]),
        ({"state": "succeeded", "agent": "colleague"}, []),
    ],
)
def test_history_filters(agent_client, history, params, expected):
    assert history_rows(agent_client, **params) == expected


def test_history_filters_by_remote_id_and_dates(agent_client, history):
    ann, _bob = history
    today = timezone.localdate()

    assert history_rows(agent_client, contact=str(ann.remote_id)) == [("agent", "Ann Smith")]
    assert len(history_rows(agent_client, date_from=str(today), date_to=str(today))) == 2
    assert history_rows(agent_client, date_to=str(today - timedelta(days=1))) == []
    assert history_rows(agent_client, date_from=str(today + timedelta(days=1))) == []


def test_history_row_shows_the_change_the_outcome_and_the_exchange(agent_client, history):
    text = page_text(agent_client.get(reverse("contacts:history"), {"agent": "agent"}))

    assert "Ann" in text and "Ann Smith" in text
    assert "HTTP 200" in text and "1 attempt" in text
    assert "<summary" in text and "Request and response" in text
    assert "&quot;name&quot;: &quot;Ann Smith&quot;" in text


def test_history_escapes_hostile_json(sandbox, agent_client):
    contact = contact_synced(sandbox=sandbox, name="Ann")

    edit_post(agent_client, contact, name=HOSTILE)

    text = page_text(agent_client.get(reverse("contacts:history")))
    assert HOSTILE not in text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in text


def test_history_is_read_only(agent_client, history):
    edit = ContactEdit.objects.first()

    response = agent_client.post(reverse("contacts:history"), {"delete": edit.pk})

    assert response.status_code == 405
    assert ContactEdit.objects.count() == 2
