"""Reverting one edit: the values it replaced put back by a new edit pointing to it, where
LiveDesk still holds the edit's own; a key changed since is left alone and reported."""

from __future__ import annotations

import pytest

from contacts import services
from contacts.models import ContactEdit
from contacts.tests.factories import (
    audit_events,
    contact_synced,
    edit_failed_transiently,
    edit_recorded_unsent,
    edit_submit,
    patch_bodies,
    user_make,
)

pytestmark = pytest.mark.django_db

CITY = "additional_attributes.city"


@pytest.fixture
def ann(sandbox):
    return contact_synced(
        sandbox=sandbox,
        name="Ann",
        email="ann@example.com",
        additional_attributes={"city": "Bangkok"},
        custom_attributes={"plan": "gold"},
    )


@pytest.fixture
def edit_delivered(sandbox, ann, agent) -> ContactEdit:
    """An agent's edit of three keys (one custom attribute added), delivered."""
    edit = edit_submit(
        contact=ann,
        editor=agent,
        changes={"name": "Ann Lee", CITY: "Phuket", "custom_attributes.seats": 5},
    )
    assert edit.state == ContactEdit.State.SUCCEEDED
    sandbox.requests.clear()
    ann.refresh_from_db()
    return edit


def in_livedesk(sandbox, contact) -> dict:
    return sandbox.store.get_contact(contact.remote_id)


def test_revert_puts_back_the_values_the_edit_replaced(sandbox, ann, edit_delivered):
    lead = user_make(username="lead")

    submission = services.edit_revert(edit=edit_delivered, by=lead)

    assert submission.outcome == services.EditOutcome.SAVED
    assert submission.conflicts == []
    revert = submission.edit
    assert (revert.source, revert.reverts, revert.editor) == (
        ContactEdit.Source.REVERT,
        edit_delivered,
        lead,
    )
    assert patch_bodies(sandbox) == [
        {
            "name": "Ann",
            "additional_attributes": {"city": "Bangkok"},
            "custom_attributes": {"seats": None},
        }
    ]
    livedesk = in_livedesk(sandbox, ann)
    assert (livedesk["name"], livedesk["additional_attributes"]["city"]) == ("Ann", "Bangkok")
    # LiveDesk keeps a removed custom attribute as null; the app shows it as absent.
    assert livedesk["custom_attributes"] == {"plan": "gold", "seats": None}
    [recorded] = audit_events(kind="edit.recorded", edit_id=revert.pk)
    assert recorded.values["reverts"] == edit_delivered.pk
    assert recorded.values["source"] == ContactEdit.Source.REVERT
    assert recorded.actor == "lead"


def test_revert_leaves_a_key_changed_since_and_reports_it(sandbox, ann, agent, edit_delivered):
    sandbox.store.update_contact(ann.remote_id, {"additional_attributes": {"city": "Krabi"}})
    services.contacts_sync()

    submission = services.edit_revert(edit=edit_delivered, by=agent)

    assert submission.outcome == services.EditOutcome.SAVED
    assert submission.conflicts == [
        services.FieldConflict(
            field=CITY, label="City", base="Phuket", theirs="Krabi", yours="Bangkok"
        )
    ]
    assert patch_bodies(sandbox) == [{"name": "Ann", "custom_attributes": {"seats": None}}]
    assert in_livedesk(sandbox, ann)["additional_attributes"]["city"] == "Krabi"


def test_a_value_on_its_way_counts_as_changed_since(sandbox, ann, agent, edit_delivered):
    queued = edit_recorded_unsent(contact=ann, editor=agent, changes={"name": "Ann Smith"})

    submission = services.edit_revert(edit=edit_delivered, by=agent)

    assert [conflict.field for conflict in submission.conflicts] == ["name"]
    assert submission.conflicts[0].theirs == "Ann Smith"
    queued.refresh_from_db()
    # The revert was recorded after the agent's edit, and carried it: both went in one PATCH.
    assert queued.state == ContactEdit.State.SUPERSEDED
    assert patch_bodies(sandbox) == [
        {
            "name": "Ann Smith",
            "additional_attributes": {"city": "Bangkok"},
            "custom_attributes": {"seats": None},
        }
    ]


def test_revert_with_every_key_changed_since_records_nothing(sandbox, ann, agent, edit_delivered):
    sandbox.store.update_contact(
        ann.remote_id,
        {
            "name": "Ann B",
            "additional_attributes": {"city": "Krabi"},
            "custom_attributes": {"seats": 9},
        },
    )
    services.contacts_sync()
    edits_before = ContactEdit.objects.count()

    submission = services.edit_revert(edit=edit_delivered, by=agent)

    assert submission.outcome == services.EditOutcome.CONFLICT
    assert {conflict.field for conflict in submission.conflicts} == {
        "name",
        CITY,
        "custom_attributes.seats",
    }
    assert submission.edit is None
    assert ContactEdit.objects.count() == edits_before
    assert patch_bodies(sandbox) == []


def test_reverting_twice_changes_nothing_the_second_time(sandbox, agent, edit_delivered):
    services.edit_revert(edit=edit_delivered, by=agent)
    sandbox.requests.clear()

    again = services.edit_revert(edit=edit_delivered, by=agent)

    assert again.outcome == services.EditOutcome.NO_CHANGE
    assert again.conflicts == []
    assert patch_bodies(sandbox) == []


def test_a_revert_can_itself_be_reverted(sandbox, ann, agent, edit_delivered):
    revert = services.edit_revert(edit=edit_delivered, by=agent).edit

    services.edit_revert(edit=revert, by=agent)

    livedesk = in_livedesk(sandbox, ann)
    assert (livedesk["name"], livedesk["additional_attributes"]["city"]) == ("Ann Lee", "Phuket")
    assert livedesk["custom_attributes"] == {"plan": "gold", "seats": 5}


def test_an_outside_change_can_be_reverted(sandbox, ann, agent):
    sandbox.store.update_contact(ann.remote_id, {"name": "Mallory"})
    services.contacts_sync()
    [outside] = ContactEdit.objects.filter(source=ContactEdit.Source.LIVEDESK)

    submission = services.edit_revert(edit=outside, by=agent)

    assert submission.outcome == services.EditOutcome.SAVED
    assert patch_bodies(sandbox) == [{"name": "Ann"}]


def test_an_edit_that_never_reached_livedesk_cannot_be_reverted(sandbox, ann, agent):
    failed = edit_failed_transiently(
        sandbox=sandbox, contact=ann, editor=agent, changes={"name": "Ann Lee"}
    )

    with pytest.raises(services.EditNotRevertable):
        services.edit_revert(edit=failed, by=agent)
