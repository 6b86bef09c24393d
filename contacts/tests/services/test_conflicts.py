"""Conflicts (optimistic locking): a field changed since the agent opened the form."""

from __future__ import annotations

import pytest

from contacts import fields, services
from contacts.models import ContactEdit
from contacts.tests.factories import (
    contact_synced,
    edit_submission,
    edit_submit,
    patch_bodies,
    user_make,
)

pytestmark = pytest.mark.django_db


# --- Conflicts (optimistic locking) ------------------------------------------------------------


def test_remote_change_to_the_same_field_is_a_conflict_and_sends_nothing(sandbox, agent):
    contact = contact_synced(sandbox=sandbox, name="Ann", email="ann@example.com")
    opened, opened_version = fields.contact_values(contact), contact.version
    sandbox.store.update_contact(contact.remote_id, {"name": "Ann Theirs"})
    services.contacts_sync()

    submission = edit_submission(
        contact=contact,
        editor=agent,
        changes={"name": "Ann Yours"},
        base_values=opened,
        base_version=opened_version,
    )

    assert submission.outcome == services.EditOutcome.CONFLICT
    assert submission.conflicts == [
        services.FieldConflict(
            field="name", label="Name", base="Ann", theirs="Ann Theirs", yours="Ann Yours"
        )
    ]
    assert patch_bodies(sandbox) == []
    [seen] = ContactEdit.objects.all()  # LiveDesk's own change, seen by the sync
    assert (seen.source, seen.seen_via) == (ContactEdit.Source.LIVEDESK, ContactEdit.SeenVia.SYNC)
    assert sandbox.store.get_contact(contact.remote_id)["name"] == "Ann Theirs"


def test_another_agents_edit_to_the_same_field_is_a_conflict(sandbox, agent):
    contact = contact_synced(sandbox=sandbox, name="Ann", custom_attributes={"plan": "gold"})
    opened, opened_version = fields.contact_values(contact), contact.version
    edit_submit(
        contact=contact,
        editor=user_make(username="colleague"),
        changes={"custom_attributes.plan": "silver"},
    )

    submission = edit_submission(
        contact=contact,
        editor=agent,
        removed=("custom_attributes.plan",),
        base_values=opened,
        base_version=opened_version,
    )

    [field_conflict] = submission.conflicts
    assert (field_conflict.field, field_conflict.base, field_conflict.theirs) == (
        "custom_attributes.plan",
        "gold",
        "silver",
    )
    assert field_conflict.yours is None
    assert patch_bodies(sandbox) == [{"custom_attributes": {"plan": "silver"}}]


def test_change_to_a_different_field_goes_through_without_undoing_the_other(sandbox, agent):
    contact = contact_synced(sandbox=sandbox, name="Ann", additional_attributes={"city": "Bangkok"})
    opened, opened_version = fields.contact_values(contact), contact.version
    sandbox.store.update_contact(contact.remote_id, {"additional_attributes": {"city": "Phuket"}})
    services.contacts_sync()

    edit = edit_submit(
        contact=contact,
        editor=agent,
        changes={"name": "Ann Smith"},
        base_values=opened,
        base_version=opened_version,
    )

    assert patch_bodies(sandbox) == [{"name": "Ann Smith"}]
    assert edit.state == ContactEdit.State.SUCCEEDED
    contact.refresh_from_db()
    assert (contact.name, contact.city) == ("Ann Smith", "Phuket")


def test_social_profile_change_keeps_a_concurrent_change_to_another_network(sandbox, agent):
    contact = contact_synced(
        sandbox=sandbox,
        name="Ann",
        additional_attributes={"social_profiles": {"github": "ann", "twitter": "ann_old"}},
    )
    opened, opened_version = fields.contact_values(contact), contact.version
    edit_submit(
        contact=contact,
        editor=user_make(username="colleague"),
        changes={"social_profiles.twitter": "ann_new"},
    )

    edit_submit(
        contact=contact,
        editor=agent,
        changes={"social_profiles.github": "ann-lee"},
        base_values=opened,
        base_version=opened_version,
    )

    sent_profiles = patch_bodies(sandbox)[-1]["additional_attributes"]["social_profiles"]
    assert (sent_profiles["github"], sent_profiles["twitter"]) == ("ann-lee", "ann_new")
    contact.refresh_from_db()
    assert contact.social_profiles["twitter"] == "ann_new"


def test_same_value_on_both_sides_is_not_a_conflict(sandbox, agent):
    contact = contact_synced(sandbox=sandbox, name="Ann", additional_attributes={"city": "Bangkok"})
    opened, opened_version = fields.contact_values(contact), contact.version
    sandbox.store.update_contact(contact.remote_id, {"name": "Ann Smith"})
    services.contacts_sync()

    edit = edit_submit(
        contact=contact,
        editor=agent,
        changes={"name": "Ann Smith", "additional_attributes.city": "Phuket"},
        base_values=opened,
        base_version=opened_version,
    )

    assert edit.state == ContactEdit.State.SUCCEEDED
    assert patch_bodies(sandbox) == [{"additional_attributes": {"city": "Phuket"}}]
    assert edit.changed_fields == ["additional_attributes.city"]


# --- Delivering the rest of a conflicting edit ----------------------------------------------------


def rest_submitted(contact, agent, opened, opened_version, **changes):
    """Submit as the edit page does: the conflicting fields held back, the rest delivered."""
    return services.contact_edit_submit(
        contact=contact,
        editor=agent,
        values={**opened, **changes},
        base_values=opened,
        base_version=opened_version,
        deliver_the_rest=True,
    )


def test_a_conflict_delivers_the_other_changes_and_holds_the_conflicting_one(sandbox, agent):
    contact = contact_synced(sandbox=sandbox, name="Ann", additional_attributes={"city": "Nan"})
    opened, opened_version = fields.contact_values(contact), contact.version
    sandbox.store.update_contact(contact.remote_id, {"name": "Ann Theirs"})
    services.contacts_sync()

    submission = rest_submitted(
        contact,
        agent,
        opened,
        opened_version,
        name="Ann Yours",
        **{"additional_attributes.city": "Phuket"},
    )

    assert submission.outcome == services.EditOutcome.CONFLICT
    assert submission.held == ["name"]
    assert submission.rest.outcome == services.EditOutcome.SAVED
    assert submission.rest.edit.changed_fields == ["additional_attributes.city"]
    assert patch_bodies(sandbox) == [{"additional_attributes": {"city": "Phuket"}}]
    remote = sandbox.store.get_contact(contact.remote_id)
    assert (remote["name"], remote["additional_attributes"]["city"]) == ("Ann Theirs", "Phuket")


def test_a_conflict_found_at_the_push_still_delivers_the_other_changes(sandbox, agent):
    contact = contact_synced(sandbox=sandbox, name="Ann", additional_attributes={"city": "Nan"})
    opened, opened_version = fields.contact_values(contact), contact.version
    # LiveDesk changes the name unseen by the mirror: the push's read finds it.
    sandbox.store.update_contact(contact.remote_id, {"name": "Ann Theirs"})

    submission = rest_submitted(
        contact,
        agent,
        opened,
        opened_version,
        name="Ann Yours",
        **{"additional_attributes.city": "Phuket"},
    )

    assert submission.held == ["name"]
    assert submission.rest.outcome == services.EditOutcome.SAVED
    assert patch_bodies(sandbox) == [{"additional_attributes": {"city": "Phuket"}}]
    assert sandbox.store.get_contact(contact.remote_id)["name"] == "Ann Theirs"
    first = ContactEdit.objects.filter(source=ContactEdit.Source.AGENT).earliest("created_at")
    assert first.state == ContactEdit.State.DISCARDED  # shown to the agent, never sent


def test_a_conflict_with_no_other_change_sends_nothing(sandbox, agent):
    contact = contact_synced(sandbox=sandbox, name="Ann")
    opened, opened_version = fields.contact_values(contact), contact.version
    sandbox.store.update_contact(contact.remote_id, {"name": "Ann Theirs"})
    services.contacts_sync()

    submission = rest_submitted(contact, agent, opened, opened_version, name="Ann Yours")

    assert submission.outcome == services.EditOutcome.CONFLICT
    assert submission.rest is None
    assert patch_bodies(sandbox) == []


def test_without_deliver_the_rest_a_conflict_still_sends_nothing(sandbox, agent):
    contact = contact_synced(sandbox=sandbox, name="Ann", additional_attributes={"city": "Nan"})
    opened, opened_version = fields.contact_values(contact), contact.version
    sandbox.store.update_contact(contact.remote_id, {"name": "Ann Theirs"})
    services.contacts_sync()

    submission = edit_submission(
        contact=contact,
        editor=agent,
        changes={"name": "Ann Yours", "additional_attributes.city": "Phuket"},
        base_values=opened,
        base_version=opened_version,
    )

    assert submission.outcome == services.EditOutcome.CONFLICT
    assert submission.rest is None
    assert patch_bodies(sandbox) == []
