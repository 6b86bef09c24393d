"""The edit service against a real LiveDesk sandbox: minimal PATCH bodies, and blocking from
the admin."""

from __future__ import annotations

import pytest

from contacts import fields, services
from contacts.models import Contact, ContactEdit
from contacts.tests.factories import contact_synced, edit_submit, patch_bodies

pytestmark = pytest.mark.django_db


# --- Minimal PATCH bodies ----------------------------------------------------------------------


def test_changing_the_name_sends_only_the_name(sandbox, agent):
    contact = contact_synced(
        sandbox=sandbox, name="Ann Lee", email="ann@example.com", phone_number="+66812345678"
    )

    edit = edit_submit(contact=contact, editor=agent, changes={"name": "Ann Smith"})

    assert patch_bodies(sandbox) == [{"name": "Ann Smith"}]
    assert edit.request_body == {"name": "Ann Smith"}


def test_changing_one_additional_attribute_sends_only_that_key(sandbox, agent):
    contact = contact_synced(
        sandbox=sandbox,
        name="Ann",
        additional_attributes={"city": "Bangkok", "company_name": "Acme", "source_id": "web"},
    )

    edit = edit_submit(
        contact=contact, editor=agent, changes={"additional_attributes.city": "Chiang Mai"}
    )

    assert patch_bodies(sandbox) == [{"additional_attributes": {"city": "Chiang Mai"}}]
    assert edit.request_body == {"additional_attributes": {"city": "Chiang Mai"}}
    contact.refresh_from_db()
    assert contact.additional_attributes == {
        "city": "Chiang Mai",
        "company_name": "Acme",
        "source_id": "web",
    }


def test_changing_one_network_sends_livedesks_profiles_with_it_and_no_empty_networks(
    sandbox, agent
):
    contact = contact_synced(
        sandbox=sandbox,
        name="Ann",
        additional_attributes={
            "social_profiles": {"github": "ann-old", "twitter": "ann_tw", "mastodon": "@ann"}
        },
    )

    edit = edit_submit(contact=contact, editor=agent, changes={"social_profiles.github": "ann-new"})

    expected = {
        "additional_attributes": {
            "social_profiles": {"github": "ann-new", "twitter": "ann_tw", "mastodon": "@ann"}
        }
    }
    assert patch_bodies(sandbox) == [expected]
    assert edit.request_body == expected
    contact.refresh_from_db()
    assert contact.social_profiles["twitter"] == "ann_tw"
    assert contact.social_profiles["mastodon"] == "@ann"


def test_a_network_changed_in_livedesk_meanwhile_is_kept_when_another_is_sent(sandbox, agent):
    """The defect as found: Twitter set in LiveDesk's dashboard, then GitHub saved here."""
    contact = contact_synced(sandbox=sandbox, name="Ann")
    opened = fields.contact_values(contact)
    sandbox.store.update_contact(
        contact.remote_id, {"additional_attributes": {"social_profiles": {"twitter": "ann_tw"}}}
    )

    edit = edit_submit(
        contact=contact,
        editor=agent,
        changes={"social_profiles.github": "octocat"},
        base_values=opened,
        base_version=contact.version,
    )

    assert edit.state == ContactEdit.State.SUCCEEDED
    assert patch_bodies(sandbox) == [
        {"additional_attributes": {"social_profiles": {"twitter": "ann_tw", "github": "octocat"}}}
    ]
    stored = sandbox.store.get_contact(contact.remote_id)["additional_attributes"]
    assert stored["social_profiles"] == {"twitter": "ann_tw", "github": "octocat"}
    assert edit.livedesk_before["additional_attributes"]["social_profiles"] == {"twitter": "ann_tw"}


def test_changing_one_custom_attribute_sends_only_that_key(sandbox, agent):
    contact = contact_synced(
        sandbox=sandbox, name="Ann", custom_attributes={"plan": "gold", "seats": 5, "vip": True}
    )

    edit = edit_submit(contact=contact, editor=agent, changes={"custom_attributes.seats": 7})

    assert patch_bodies(sandbox) == [{"custom_attributes": {"seats": 7}}]
    assert edit.request_body == {"custom_attributes": {"seats": 7}}
    contact.refresh_from_db()
    assert contact.custom_attributes == {"plan": "gold", "seats": 7, "vip": True}


def test_removed_custom_attribute_is_sent_as_null_then_shown_as_absent(sandbox, agent):
    contact = contact_synced(
        sandbox=sandbox, name="Ann", custom_attributes={"plan": "gold", "seats": 5}
    )

    edit = edit_submit(contact=contact, editor=agent, removed=("custom_attributes.plan",))

    assert patch_bodies(sandbox) == [{"custom_attributes": {"plan": None}}]
    assert edit.request_body == {"custom_attributes": {"plan": None}}
    contact.refresh_from_db()
    assert contact.custom_attributes == {"plan": None, "seats": 5}
    assert contact.visible_custom_attributes == {"seats": 5}
    assert "custom_attributes.plan" not in fields.contact_values(contact)


def test_thumbnail_is_sent_as_avatar_url(sandbox, agent):
    contact = contact_synced(sandbox=sandbox, name="Ann")
    url = "https://cdn.example.com/avatars/ann.png"

    edit = edit_submit(contact=contact, editor=agent, changes={"thumbnail": url})

    assert patch_bodies(sandbox) == [{"avatar_url": url}]
    assert edit.request_body == {"avatar_url": url}
    contact.refresh_from_db()
    assert contact.thumbnail == url


def test_blocked_is_sent_as_a_bool(sandbox, agent):
    contact = contact_synced(sandbox=sandbox, name="Ann")

    edit = edit_submit(contact=contact, editor=agent, changes={"blocked": True})

    assert patch_bodies(sandbox) == [{"blocked": True}]
    assert edit.request_body["blocked"] is True
    contact.refresh_from_db()
    assert contact.blocked is True


def test_saving_without_changes_sends_nothing_and_records_nothing(sandbox, agent):
    contact = contact_synced(
        sandbox=sandbox, name="Ann", custom_attributes={"plan": "gold"}, blocked=False
    )

    edit = edit_submit(contact=contact, editor=agent)

    assert edit is None
    assert patch_bodies(sandbox) == []
    assert not ContactEdit.objects.exists()


# --- Admin action: block or unblock ------------------------------------------------------------


def test_blocking_contacts_pushes_one_recorded_edit_each(sandbox, agent):
    sandbox.store.create_contact(name="Ann")
    sandbox.store.create_contact(name="Bob")
    services.contacts_sync()

    outcomes = services.contacts_set_blocked(
        contacts=Contact.objects.order_by("remote_id"), blocked=True, editor=agent
    )

    assert [submission.outcome for _contact, submission in outcomes] == [
        services.EditOutcome.SAVED
    ] * 2
    assert patch_bodies(sandbox) == [{"blocked": True}, {"blocked": True}]
    edits = ContactEdit.objects.order_by("contact__remote_id")
    assert [(edit.source, edit.request_body) for edit in edits] == [
        (ContactEdit.Source.ADMIN_ACTION, {"blocked": True})
    ] * 2
    assert list(Contact.objects.values_list("blocked", flat=True)) == [True, True]


def test_blocking_an_already_blocked_contact_records_nothing(sandbox, agent):
    contact = contact_synced(sandbox=sandbox, name="Ann", blocked=True)

    [(_contact, submission)] = services.contacts_set_blocked(
        contacts=[contact], blocked=True, editor=agent
    )

    assert submission.outcome == services.EditOutcome.NO_CHANGE
    assert submission.edit is None
    assert patch_bodies(sandbox) == []
    assert not ContactEdit.objects.exists()


def test_a_history_row_reads_as_who_changed_which_fields_of_whom(sandbox, agent):
    contact = contact_synced(sandbox=sandbox, name="Ann")

    edit = edit_submit(
        contact=contact,
        editor=agent,
        changes={"additional_attributes.city": "Khon Kaen", "social_profiles.github": "ann"},
    )

    assert str(edit) == "agent changed City, GitHub of Ann (succeeded)"
