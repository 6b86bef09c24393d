"""Management commands: push_pending and demo_logins."""

from __future__ import annotations

from io import StringIO

import pytest
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command

from contacts.models import Contact, ContactEdit
from contacts.tests.factories import contact_synced, edit_failed_transiently, user_make

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def fast_password_hashing(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def run_command(name: str, *args: str) -> str:
    out = StringIO()
    call_command(name, *args, stdout=out)
    return out.getvalue()


# --- push_pending ------------------------------------------------------------------------------


def test_push_pending_delivers_due_edits(sandbox, settings):
    settings.LIVEDESK_RETRIES = 0
    settings.LIVEDESK_PUSH_BACKOFF_SECONDS = 0
    edit = edit_failed_transiently(
        sandbox=sandbox,
        contact=contact_synced(sandbox=sandbox, name="Ann"),
        editor=user_make(),
        changes={"name": "Ann Smith"},
    )

    output = run_command("push_pending")

    assert output.strip() == "Pushed 1 edit: 1 delivered, 0 failed."
    edit.refresh_from_db()
    assert edit.state == ContactEdit.State.SUCCEEDED
    assert Contact.objects.get().name == "Ann Smith"
    assert sandbox.store.get_contact(edit.contact.remote_id)["name"] == "Ann Smith"


def test_push_pending_leaves_edits_not_yet_due(sandbox, settings):
    settings.LIVEDESK_RETRIES = 0
    edit = edit_failed_transiently(
        sandbox=sandbox,
        contact=contact_synced(sandbox=sandbox, name="Ann"),
        editor=user_make(),
        changes={"name": "Ann Smith"},
    )

    output = run_command("push_pending")

    assert output.strip() == "Pushed 0 edits: 0 delivered, 0 failed."
    edit.refresh_from_db()
    assert edit.state == ContactEdit.State.FAILED
    assert edit.attempts == 1


# --- demo_logins -------------------------------------------------------------------------------


def test_demo_logins_creates_an_agent_a_lead_and_an_admin(settings):
    settings.DEBUG = True

    run_command("demo_logins")

    User = get_user_model()
    agent = User.objects.get(username="agent")
    lead = User.objects.get(username="lead")
    assert list(lead.groups.values_list("name", flat=True)) == ["LiveDesk leads"]
    assert lead.has_perm("contacts.change_in_bulk")
    assert lead.has_perm("contacts.change_contact")
    assert not agent.has_perm("contacts.change_in_bulk")
    admin = User.objects.get(username="admin")
    assert list(agent.groups.values_list("name", flat=True)) == ["LiveDesk agents"]
    assert agent.has_perm("contacts.view_contact")
    assert agent.has_perm("contacts.change_contact")
    assert not agent.is_staff
    assert agent.check_password("livedesk-demo")
    assert admin.is_staff and admin.is_superuser
    assert admin.check_password("livedesk-demo")


def test_demo_logins_can_run_twice(settings):
    settings.DEBUG = True
    run_command("demo_logins")

    output = run_command("demo_logins", "--password", "another-password")

    User = get_user_model()
    assert User.objects.filter(username__in=["agent", "admin"]).count() == 2
    assert User.objects.get(username="agent").groups.count() == 1
    assert User.objects.get(username="admin").check_password("another-password")
    assert "agent, lead and admin" in output


def test_demo_logins_refuses_the_published_password_when_debug_is_off(settings):
    settings.DEBUG = False

    with pytest.raises(CommandError):
        run_command("demo_logins")

    assert not get_user_model().objects.filter(username="admin").exists()
