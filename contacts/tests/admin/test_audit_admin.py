"""The admin's audit log: view-only for everybody, superusers included; its list shows the
chain's state and verifies the chain on demand."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from contacts.models import AuditCheck, AuditEvent, ContactEdit
from contacts.tests.factories import (
    audit_events_appended,
    audit_tampered,
    chain_written_by_the_app,
    client_for,
    messages_of,
    page_text,
    user_make,
)

pytestmark = pytest.mark.django_db

EVENTS_URL = reverse("admin:contacts_auditevent_changelist")
VERIFY_URL = reverse("admin:contacts_auditevent_verify")
CHECKS_URL = reverse("admin:contacts_auditcheck_changelist")


def event_url(event: AuditEvent, view: str = "change") -> str:
    return reverse(f"admin:contacts_auditevent_{view}", args=[event.pk])


def staff_client(*perms: str):
    user = user_make(username="auditor", perms=perms)
    user.is_staff = True
    user.save()
    return client_for(user)


def test_the_log_refuses_add_change_and_delete_to_a_superuser(admin_client):
    [event] = audit_events_appended(1)

    add = admin_client.get(reverse("admin:contacts_auditevent_add"))
    change = admin_client.post(event_url(event), {"kind": "edit.discarded", "actor": "x"})
    delete_page = admin_client.get(event_url(event, "delete"))
    delete = admin_client.post(event_url(event, "delete"), {"post": "yes"})

    assert (add.status_code, change.status_code) == (403, 403)
    assert (delete_page.status_code, delete.status_code) == (403, 403)
    stored = AuditEvent.objects.get()
    assert (stored.kind, stored.actor, stored.hash) == (event.kind, event.actor, event.hash)


def test_an_events_page_shows_its_data_pretty_printed_with_no_save_or_delete(admin_client):
    [event] = audit_events_appended(1)

    page = page_text(admin_client.get(event_url(event)))

    assert '<pre class="json-body">{\n  &quot;name&quot;: &quot;Ann Lée&quot;,\n' in page
    assert event.hash in page and event.prev_hash in page
    assert 'name="_save"' not in page and 'name="_continue"' not in page
    assert event_url(event, "delete") not in page
    assert reverse("admin:contacts_auditevent_history", args=[event.pk]) not in page


def test_the_list_shows_the_chain_state_and_offers_verify_now_but_no_add_or_actions(
    admin_client,
):
    events = audit_events_appended(3)

    response = admin_client.get(EVENTS_URL)

    page = page_text(response)
    assert response.status_code == 200
    assert f"Head: event #3, hash <code>{events[-1].hash}</code>" in page
    assert "Never verified yet." in page
    assert f'<form method="post" action="{VERIFY_URL}">' in page
    assert ">Verify now</button>" in page
    assert response.context["action_form"] is None
    assert reverse("admin:contacts_auditevent_add") not in page


def test_verify_now_checks_the_chain_and_the_list_shows_the_result(admin_client):
    events = audit_events_appended(3)

    response = admin_client.post(VERIFY_URL, follow=True)

    assert response.redirect_chain == [(EVENTS_URL, 302)]
    assert messages_of(response) == [
        ("success", f"The chain is intact: 3 events, head {events[-1].hash}.")
    ]
    check = AuditCheck.objects.get()
    assert (check.ok, check.count, check.head) == (True, 3, events[-1].hash)
    assert f"intact, 3 events, head <code>{events[-1].hash}</code>" in page_text(response)


def test_verify_now_reports_a_broken_chain(admin_client):
    audit_events_appended(4)
    audit_tampered(f"UPDATE {AuditEvent._meta.db_table} SET kind = %s WHERE seq = %s", ["x", 3])

    response = admin_client.post(VERIFY_URL, follow=True)

    [(level, message)] = messages_of(response)
    assert level == "error"
    assert message.startswith("The chain is broken at event #3: content does not match its hash")
    assert "BROKEN at event #3: content does not match its hash (2 sound events before it)" in (
        page_text(response)
    )


def test_verify_now_is_only_a_post(admin_client):
    assert admin_client.get(VERIFY_URL).status_code == 405
    assert not AuditCheck.objects.exists()


def test_staff_with_the_view_permission_see_the_log_and_may_verify_it():
    audit_events_appended(2)
    auditor = staff_client("view_auditevent")

    listed = auditor.get(EVENTS_URL)
    verified = auditor.post(VERIFY_URL)

    assert listed.status_code == 200
    assert "Verify now" in page_text(listed)
    assert verified.status_code == 302
    assert AuditCheck.objects.get().count == 2


def test_staff_without_the_view_permission_can_neither_see_nor_verify():
    audit_events_appended(2)
    outsider = staff_client("view_contact")

    assert outsider.get(EVENTS_URL).status_code == 403
    assert outsider.post(VERIFY_URL).status_code == 403
    assert not AuditCheck.objects.exists()


def test_the_list_links_each_event_to_its_contact_and_edit(sandbox, agent, admin_client):
    ann, _bob = chain_written_by_the_app(sandbox=sandbox, agent=agent)
    edit = ContactEdit.objects.filter(contact=ann).earliest("created_at")

    page = page_text(admin_client.get(EVENTS_URL))

    contact_url = reverse("admin:contacts_contact_change", args=[ann.pk])
    edit_url = reverse("admin:contacts_contactedit_change", args=[edit.pk])
    assert f'<a href="{contact_url}">{ann.remote_id}</a>' in page
    assert f'<a href="{edit_url}">{edit.pk}</a>' in page


def test_the_list_filters_by_kind_and_searches_by_contact_id(admin_client):
    audit_events_appended(2, contact=7)
    audit_events_appended(1, contact=8)

    by_contact = admin_client.get(EVENTS_URL, {"q": "8"})
    by_kind = admin_client.get(EVENTS_URL, {"kind": "edit.discarded"})
    by_text = admin_client.get(EVENTS_URL, {"q": "Ann"})

    assert [event.seq for event in by_contact.context["cl"].result_list] == [3]
    assert list(by_kind.context["cl"].result_list) == []
    assert list(by_text.context["cl"].result_list) == []


def test_the_list_never_counts_the_whole_log(admin_client):
    audit_events_appended(3)

    with CaptureQueriesContext(connection) as queries:
        response = admin_client.get(EVENTS_URL)

    assert response.status_code == 200
    counts = [query["sql"] for query in queries if "COUNT(" in query["sql"].upper()]
    assert counts and all("LIMIT" in sql.upper() for sql in counts), counts
    assert "3 events" in page_text(response)


def test_the_checks_are_listed_view_only(admin_client):
    audit_events_appended(1)
    admin_client.post(VERIFY_URL)
    check = AuditCheck.objects.get()

    listed = admin_client.get(CHECKS_URL)
    delete = admin_client.post(
        reverse("admin:contacts_auditcheck_delete", args=[check.pk]), {"post": "yes"}
    )

    assert listed.status_code == 200
    assert check.head[:12] in page_text(listed)
    assert delete.status_code == 403
    assert AuditCheck.objects.filter(pk=check.pk).exists()
