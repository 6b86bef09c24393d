"""Sync of the mirror from the LiveDesk sandbox: services.contacts_sync and `sync_contacts`."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from contacts import services
from contacts.livedesk import ContactPage, LiveDeskNotFound, LiveDeskUnavailable, parse_contact
from contacts.models import Contact
from contacts.services.mirror import DIGESTED_FIELDS, mirror_digest
from contacts.tests.factories import sandbox_contact_make

pytestmark = pytest.mark.django_db


def contacts_make(store, count: int, *, first_created_at: int = 1_700_000_000) -> list[dict]:
    """`count` contacts created one second apart, so sync lists them in this order."""
    return [
        sandbox_contact_make(store, name=f"Contact {n:03}", created_at=first_created_at + n)
        for n in range(count)
    ]


def mirror(remote_id: int) -> Contact:
    return Contact.objects.get(remote_id=remote_id)


def counts(summary: services.SyncSummary) -> dict[str, int]:
    return {
        "total": summary.total,
        "created": summary.created,
        "updated": summary.updated,
        "unchanged": summary.unchanged,
        "failed": summary.failed,
        "gone": summary.gone,
    }


def once(action):
    """An on_page callback that runs `action` after the first page only."""
    calls = []

    def on_page(summary: services.SyncSummary) -> None:
        calls.append(summary.seen)
        if len(calls) == 1:
            action()

    return on_page


def test_first_sync_creates_every_contact(sandbox):
    sandbox.store.seed(30)

    summary = services.contacts_sync(page_size=10)

    assert counts(summary) == {
        "total": 30,
        "created": 30,
        "updated": 0,
        "unchanged": 0,
        "failed": 0,
        "gone": 0,
    }
    assert summary.completed
    assert Contact.objects.count() == 30
    assert set(Contact.objects.values_list("version", flat=True)) == {1}


def test_sync_reports_progress_after_each_page(sandbox):
    contacts_make(sandbox.store, 25)
    progress = []

    services.contacts_sync(
        page_size=10, on_page=lambda summary: progress.append((summary.seen, summary.total))
    )

    assert progress == [(10, 25), (20, 25), (25, 25)]


def test_sync_mirrors_every_field(sandbox):
    additional = {
        "description": "Wholesale buyer",
        "company_name": "Siam Rice Co.",
        "city": "Chiang Mai",
        "country": "Thailand",
        "country_code": "TH",
        "telegram": "@somchai",
        "social_profiles": {"facebook": "somchai.s", "github": "", "twitter": "somchai"},
        "source_id": "crm-7",
    }
    custom = {"plan": "pro", "lifetime_value": 1234.5, "newsletter": True, "note": None}
    created = sandbox_contact_make(
        sandbox.store,
        name="Somchai Srisuk",
        email="somchai@example.co.th",
        phone_number="+66812345678",
        identifier="CRM-1001",
        thumbnail="https://example.com/somchai.png",
        availability_status="busy",
        blocked=True,
        additional_attributes=additional,
        custom_attributes=custom,
        inbox_id=3,
        created_at=1_700_000_000,
        last_activity_at=1_700_000_500,
    )

    services.contacts_sync()

    contact = mirror(created["id"])
    assert (contact.name, contact.first_name, contact.last_name) == (
        "Somchai Srisuk",
        "Somchai",
        "Srisuk",
    )
    assert (contact.email, contact.phone_number, contact.identifier) == (
        "somchai@example.co.th",
        "+66812345678",
        "CRM-1001",
    )
    assert contact.thumbnail == "https://example.com/somchai.png"
    assert contact.availability_status == Contact.AvailabilityStatus.BUSY
    assert contact.blocked is True
    assert (contact.company_name, contact.city, contact.country, contact.country_code) == (
        "Siam Rice Co.",
        "Chiang Mai",
        "Thailand",
        "TH",
    )
    assert contact.additional_attributes == additional
    assert contact.custom_attributes == custom
    assert contact.contact_inboxes == [
        {
            "source_id": "somchai@example.co.th",
            "inbox": {"id": 3, "name": "Email support", "channel_type": "Channel::Email"},
        }
    ]
    assert contact.created_at == datetime(2023, 11, 14, 22, 13, 20, tzinfo=UTC)
    assert contact.last_activity_at == datetime(2023, 11, 14, 22, 21, 40, tzinfo=UTC)
    assert timezone.is_aware(contact.created_at) and timezone.is_aware(contact.last_activity_at)
    assert contact.mirror_digest == digest_of_columns(contact)
    assert contact.gone_at is None
    assert contact.push_state == Contact.PushState.IN_SYNC


def digest_of_columns(contact: Contact) -> str:
    return mirror_digest({name: getattr(contact, name) for name in DIGESTED_FIELDS})


def test_sync_parses_a_payload_of_quirky_types_into_the_columns(sandbox):
    created = sandbox_contact_make(sandbox.store, name="Malee Boonma", blocked=True)
    sandbox.faults.quirks = True

    services.contacts_sync()

    contact = mirror(created["id"])
    assert contact.blocked is True
    assert contact.last_name == "Boonma"
    assert contact.created_at == datetime.fromtimestamp(created["created_at"], tz=UTC)


def test_second_sync_changes_nothing(sandbox):
    sandbox.store.seed(30)
    services.contacts_sync(page_size=10)
    before = {c.remote_id: (c.version, c.mirror_digest, c.synced_at) for c in Contact.objects.all()}

    summary = services.contacts_sync(page_size=10)

    assert counts(summary) == {
        "total": 30,
        "created": 0,
        "updated": 0,
        "unchanged": 30,
        "failed": 0,
        "gone": 0,
    }
    for contact in Contact.objects.all():
        version, digest, synced_at = before[contact.remote_id]
        assert (contact.version, contact.mirror_digest) == (version, digest)
        assert contact.synced_at > synced_at


def test_contact_changed_remotely_is_updated_and_its_version_bumped(sandbox):
    changed, *others = contacts_make(sandbox.store, 12)
    services.contacts_sync(page_size=5)
    sandbox.store.update_contact(
        changed["id"], {"name": "Changed Elsewhere", "custom_attributes": {"plan": "enterprise"}}
    )

    summary = services.contacts_sync(page_size=5)

    assert (summary.updated, summary.unchanged) == (1, 11)
    contact = mirror(changed["id"])
    assert contact.version == 2
    assert contact.name == "Changed Elsewhere"
    assert contact.custom_attributes == {"plan": "enterprise"}
    assert contact.mirror_digest == digest_of_columns(contact)
    assert {mirror(other["id"]).version for other in others} == {1}


def test_contact_deleted_remotely_is_flagged_gone_and_kept(sandbox):
    deleted, *others = contacts_make(sandbox.store, 12)
    services.contacts_sync(page_size=5)
    sandbox.store.delete_contact(deleted["id"])

    summary = services.contacts_sync(page_size=5)

    assert (summary.gone, summary.unchanged, summary.total) == (1, 11, 11)
    contact = mirror(deleted["id"])
    assert contact.gone_at is not None
    assert contact.name == deleted["name"]
    assert Contact.objects.filter(gone_at__isnull=True).count() == 11


def test_contact_already_flagged_gone_is_not_counted_again(sandbox):
    deleted, *_others = contacts_make(sandbox.store, 3)
    services.contacts_sync()
    sandbox.store.delete_contact(deleted["id"])
    services.contacts_sync()
    gone_at = mirror(deleted["id"]).gone_at

    summary = services.contacts_sync()

    assert summary.gone == 0
    assert mirror(deleted["id"]).gone_at == gone_at


@pytest.mark.parametrize("changed_meanwhile", [False, True])
def test_contact_that_reappears_is_unflagged(sandbox, changed_meanwhile):
    reappearing, *_others = contacts_make(sandbox.store, 3)
    services.contacts_sync()
    Contact.objects.filter(remote_id=reappearing["id"]).update(gone_at=timezone.now())
    if changed_meanwhile:
        sandbox.store.update_contact(reappearing["id"], {"name": "Back Again"})

    services.contacts_sync()

    contact = mirror(reappearing["id"])
    assert contact.gone_at is None
    assert contact.version == (2 if changed_meanwhile else 1)


def test_interrupted_sync_flags_nothing_gone_and_a_rerun_completes(sandbox):
    created = contacts_make(sandbox.store, 30)
    services.contacts_sync(page_size=10)
    sandbox.store.delete_contact(created[-1]["id"])
    sandbox.store.update_contact(created[0]["id"], {"name": "Renamed"})
    sandbox.store.update_contact(created[-2]["id"], {"name": "Renamed Too"})

    def fail_from_now_on() -> None:
        sandbox.faults.fail_next = 100

    with pytest.raises(services.SyncInterrupted) as interrupted:
        services.contacts_sync(page_size=10, on_page=once(fail_from_now_on))

    assert isinstance(interrupted.value.__cause__, LiveDeskUnavailable)
    assert interrupted.value.summary.seen == 10

    assert not Contact.objects.filter(gone_at__isnull=False).exists()
    assert mirror(created[0]["id"]).name == "Renamed"  # the first page was committed
    assert mirror(created[-2]["id"]).name == "Contact 028"

    sandbox.reset_faults()
    summary = services.contacts_sync(page_size=10)

    assert summary.completed
    assert (summary.gone, summary.updated, summary.unchanged) == (1, 1, 28)
    assert mirror(created[-1]["id"]).gone_at is not None
    assert mirror(created[-2]["id"]).name == "Renamed Too"


def test_contact_skipped_by_a_deletion_during_the_run_is_not_flagged_gone(sandbox):
    created = contacts_make(sandbox.store, 30)
    services.contacts_sync(page_size=10)

    # Deleting a contact of page 1 once it is fetched moves the 11th contact onto page 1.
    summary = services.contacts_sync(
        page_size=10, on_page=once(lambda: sandbox.store.delete_contact(created[0]["id"]))
    )

    assert summary.gone == 0
    assert mirror(created[10]["id"]).gone_at is None
    assert summary.seen == 30
    assert services.contacts_sync(page_size=10).gone == 1
    assert mirror(created[0]["id"]).gone_at is not None
    assert mirror(created[10]["id"]).gone_at is None


def test_mass_deletion_is_flagged_gone_without_asking_for_each_contact(sandbox, monkeypatch):
    monkeypatch.setattr("contacts.services.sync.GONE_CHECK_LIMIT", 3)
    created = contacts_make(sandbox.store, 10)
    services.contacts_sync()
    for contact in created[:4]:
        sandbox.store.delete_contact(contact["id"])
    sandbox.clear_recorded()

    summary = services.contacts_sync()

    assert summary.gone == 4
    assert Contact.objects.filter(gone_at__isnull=False).count() == 4
    assert [request["path"] for request in sandbox.recorded()] == ["/api/v2/accounts/contacts"]


def test_sync_counts_contacts_without_a_usable_id_as_failed(sandbox):
    class OnePageClient:
        def contacts_iter(self, *, page_size):
            yield ContactPage(
                contacts=[parse_contact({"id": 318_001, "name": "Fine"})],
                count=2,
                current_page=1,
                rejected=[({"name": "No id"}, "LiveDesk sent a contact without a valid id.")],
            )

        def contact_get(self, remote_id):
            raise LiveDeskNotFound()

    summary = services.contacts_sync(client=OnePageClient())

    assert (summary.created, summary.failed, summary.total) == (1, 1, 2)
    assert summary.errors == ["LiveDesk sent a contact without a valid id. ({'name': 'No id'})"]


def test_sync_command_prints_the_summary_line(sandbox):
    contacts_make(sandbox.store, 20)
    stdout = StringIO()

    call_command("sync_contacts", "--no-progress", "--page-size", "8", stdout=stdout)

    assert re.fullmatch(
        r"Synced 20 of 20 contacts in \d+\.\d+s: 20 created, 0 updated, 0 unchanged, "
        r"0 failed, 0 flagged gone from LiveDesk\.\n",
        stdout.getvalue(),
    )
    assert Contact.objects.count() == 20


def test_sync_command_stops_with_livedesk_s_message_when_it_cannot_go_on(sandbox):
    contacts_make(sandbox.store, 3)
    sandbox.faults.fail_next = 100

    with pytest.raises(CommandError, match=r"Sync stopped: LiveDesk failed with HTTP 503"):
        call_command("sync_contacts", "--no-progress", stdout=StringIO())


def test_contact_refresh_takes_livedesk_s_state_and_bumps_the_version(sandbox):
    created = sandbox_contact_make(sandbox.store, name="Before")
    services.contacts_sync()
    sandbox.store.update_contact(created["id"], {"name": "After"})
    contact = mirror(created["id"])

    assert services.contact_refresh(contact=contact).outcome == services.Refreshed.CHANGED
    assert (contact.name, contact.version) == ("After", 2)
    assert services.contact_refresh(contact=contact).outcome == services.Refreshed.UNCHANGED
    assert contact.version == 2


def test_contact_refresh_flags_a_deleted_contact_gone(sandbox):
    created = sandbox_contact_make(sandbox.store, name="Gone Soon")
    services.contacts_sync()
    sandbox.store.delete_contact(created["id"])
    contact = mirror(created["id"])

    assert services.contact_refresh(contact=contact).outcome == services.Refreshed.GONE

    assert contact.gone_at is not None
