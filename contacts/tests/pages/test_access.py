"""The agent pages' access: login, permissions, and what viewers and staff are shown."""

from __future__ import annotations

import pytest
from django.urls import reverse

from contacts.models import ContactEdit
from contacts.tests.factories import (
    client_for,
    contact_make,
    contact_synced,
    edit_post,
    page_text,
    user_make,
)

pytestmark = pytest.mark.django_db


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
