"""Batches: a bulk edit over many contacts, previewed, confirmed into the outbox, delivered
through the same push as any edit to the sandbox over loopback; and the undo of a batch."""

from __future__ import annotations

import threading

import pytest
from django.db import connections

from contacts import selectors, services
from contacts.audit_story import event_line
from contacts.fields import contact_values
from contacts.forms import ContactEditForm
from contacts.models import AuditEvent, Contact, ContactEdit, CustomAttributeDefinition, EditBatch
from contacts.services import BulkInvalid, BulkOperation, batch_plans, batches
from contacts.tests.factories import (
    audit_chain_checked,
    audit_events,
    contact_synced,
    edit_form_data,
    edit_recorded_unsent,
    edit_submit,
    patch_bodies,
    user_make,
)

pytestmark = pytest.mark.django_db

LEAD_PERMISSIONS = ("view_contact", "change_contact", "change_in_bulk")
CITY = "additional_attributes.city"
COMPANY = "additional_attributes.company_name"


@pytest.fixture
def lead():
    return user_make(username="lead", perms=LEAD_PERMISSIONS)


@pytest.fixture
def small_chunks(monkeypatch):
    """Chunks of 20 contacts: a batch of 60 crosses chunk boundaries as 10,000 would."""
    monkeypatch.setattr(batch_plans, "CHUNK_SIZE", 20)


def contacts_synced(sandbox, count: int, **fields) -> list[Contact]:
    """`count` contacts created in the sandbox, then one sync; their mirror rows."""
    remote_ids = [
        sandbox.store.create_contact(name=f"{fields.get('country', 'C')} {n:03d}", **fields)["id"]
        for n in range(count)
    ]
    services.contacts_sync()
    return list(Contact.objects.filter(remote_id__in=remote_ids).order_by("pk"))


def in_livedesk(sandbox, contact: Contact) -> dict:
    return sandbox.store.get_contact(contact.remote_id)


def delivered(batch: EditBatch) -> list[services.PushResult]:
    """Each edit of the batch pushed in turn, as the batch delivery does at its rate."""
    return [
        services.edit_push(edit_id=edit_id)
        for edit_id in batch.edits.order_by("pk").values_list("pk", flat=True)
    ]


def bulk_drafted(lead, contacts, *operations: BulkOperation, selection=None) -> EditBatch:
    return services.batch_draft_bulk_edit(
        by=lead,
        operations=list(operations),
        contacts=contacts,
        selection=selection if selection is not None else {"filters": {}},
    )


def set_op(key: str, value) -> BulkOperation:
    return BulkOperation(key=key, action=BulkOperation.SET, value=value)


# --- A bulk set over "all matching" ------------------------------------------------------------


def test_bulk_set_over_all_matching_changes_exactly_those_contacts(sandbox, lead, small_chunks):
    thai = contacts_synced(
        sandbox, 55, additional_attributes={"country": "Thailand", "city": "Bangkok"}
    )
    others = contacts_synced(
        sandbox, 5, additional_attributes={"country": "Singapore", "city": "Singapore"}
    )
    filters = {"country": "Thailand"}

    batch = bulk_drafted(
        lead,
        selectors.contact_list(**filters),
        set_op(CITY, "Chiang Mai"),
        selection={"all_matching": True, "filters": filters},
    )
    confirmed = services.batch_confirm(batch=batch, by=lead)
    results = delivered(confirmed)

    assert (confirmed.selected_count, confirmed.changed_count, confirmed.unchanged_count) == (
        55,
        55,
        0,
    )
    assert [result.outcome for result in results] == [services.Push.DELIVERED] * 55
    assert patch_bodies(sandbox) == [{"additional_attributes": {"city": "Chiang Mai"}}] * 55
    assert {in_livedesk(sandbox, c)["additional_attributes"]["city"] for c in thai} == {
        "Chiang Mai"
    }
    assert {in_livedesk(sandbox, c)["additional_attributes"]["city"] for c in others} == {
        "Singapore"
    }
    assert set(Contact.objects.values_list("push_state", flat=True)) == {Contact.PushState.IN_SYNC}


def test_confirm_selects_the_filters_again_as_they_match_then(sandbox, lead, small_chunks):
    contacts_synced(sandbox, 30, additional_attributes={"country": "Thailand"})
    filters = {"country": "Thailand"}
    batch = bulk_drafted(
        lead,
        selectors.contact_list(**filters),
        set_op(COMPANY, "Acme"),
        selection={"all_matching": True, "filters": filters},
    )
    drafted_count = batch.selected_count
    late = contacts_synced(sandbox, 1, additional_attributes={"country": "Thailand"})

    confirmed = services.batch_confirm(batch=batch, by=lead)

    assert drafted_count == 30
    assert confirmed.changed_count == 31
    assert confirmed.edits.filter(contact=late[0]).exists()


# --- Preview -----------------------------------------------------------------------------------


def test_preview_sends_nothing_and_records_no_edit(sandbox, lead, small_chunks):
    contacts = contacts_synced(sandbox, 25, additional_attributes={"city": "Bangkok"})
    events_before = AuditEvent.objects.count()
    requests_before = len(sandbox.recorded())

    batch = bulk_drafted(
        lead,
        Contact.objects.all(),
        set_op(CITY, "Phuket"),
        BulkOperation(key="name", action=BulkOperation.CLEAR),
    )
    preview = services.batch_preview(batch, sample=3)

    assert batch.state == EditBatch.State.DRAFT
    assert (preview.selected, preview.changed, preview.unchanged) == (25, 25, 0)
    assert [row.contact.pk for row in preview.sample] == [c.pk for c in contacts[:3]]
    assert preview.sample[0].changes == [
        (CITY, "City", "Bangkok", "Phuket"),
        ("name", "Name", contacts[0].name, ""),
    ]
    assert ContactEdit.objects.count() == 0
    assert AuditEvent.objects.count() == events_before
    assert len(sandbox.recorded()) == requests_before
    assert {in_livedesk(sandbox, c)["additional_attributes"]["city"] for c in contacts} == {
        "Bangkok"
    }


# --- Values checked as the edit form checks them -------------------------------------------------


@pytest.fixture
def definitions():
    CustomAttributeDefinition.objects.create(
        key="score", label="Score", attribute_type=CustomAttributeDefinition.AttributeType.PERCENT
    )
    CustomAttributeDefinition.objects.create(
        key="tier",
        label="Tier",
        attribute_type=CustomAttributeDefinition.AttributeType.LIST,
        list_options=["gold", "silver"],
    )


def form_errors(contact: Contact, **posted) -> dict[str, list[str]]:
    """The single edit form's messages for the same values, posted by HTML name."""
    opened = ContactEditForm(contact=contact)
    form = ContactEditForm(edit_form_data(opened, **posted), contact=contact)
    assert not form.is_valid()
    return form.errors


def test_invalid_values_are_refused_with_the_edit_forms_messages(sandbox, definitions):
    contact = contact_synced(sandbox=sandbox, name="Ann")
    operations = [
        set_op("email", "not an address"),
        set_op("additional_attributes.country_code", "XX"),
        set_op("phone_number", "081 234"),
        set_op("custom_attributes.score", "150"),
        set_op("custom_attributes.tier", "bronze"),
        set_op(CITY, "Chiang Mai"),
        set_op("custom_attributes.Bad Key", "x"),
        set_op("availability_status", "online"),
    ]

    with pytest.raises(BulkInvalid) as refused:
        services.bulk_operations_validate(operations)

    expected = form_errors(
        contact,
        email="not an address",
        country_code="XX",
        phone_number="081 234",
        custom_score="150",
        custom_tier="bronze",
    )
    errors = refused.value.errors
    assert errors[0] == expected["email"]
    assert errors[1] == expected["country_code"]
    assert errors[2] == expected["phone_number"]
    assert errors[3] == expected["custom_score"]
    assert errors[4] == expected["custom_tier"]
    assert 5 not in errors
    assert errors[6] == [
        "Use only lower-case letters, digits and _ in a key, for example vip_level."
    ]
    assert errors[7] == ["availability_status is not a field that can be changed."]


def test_a_refused_operation_drafts_no_batch(sandbox, lead):
    contacts_synced(sandbox, 3)

    with pytest.raises(BulkInvalid):
        bulk_drafted(lead, Contact.objects.all(), set_op("email", "nope"))

    assert EditBatch.objects.count() == 0


def test_values_are_normalised_as_the_edit_form_saves_them(definitions):
    operations = services.bulk_operations_validate(
        [
            set_op("phone_number", "+66 81 234 5678"),
            set_op("email", "Ann@Example.COM"),
            set_op("additional_attributes.country_code", "th"),
            set_op("custom_attributes.score", "42.50"),
            set_op("blocked", "true"),
            BulkOperation(key="custom_attributes.tier", action=BulkOperation.CLEAR),
            BulkOperation(key=COMPANY, action=BulkOperation.CLEAR),
        ]
    )

    assert [operation.value for operation in operations] == [
        "+66812345678",
        "ann@example.com",
        "TH",
        42.5,
        True,
        None,
        "",
    ]


@pytest.mark.parametrize(
    ("typed", "blocked"),
    [("true", True), ("Yes", True), ("1", True), ("false", False), ("no", False), ("0", False)],
)
def test_a_yes_or_no_takes_the_words_for_yes_or_no(typed, blocked):
    (operation,) = services.bulk_operations_validate([set_op("blocked", typed)])

    assert operation.value is blocked


def test_a_yes_or_no_refuses_anything_else():
    """A checkbox form field takes any text but "false" and "0" for yes: "nein" would block."""
    with pytest.raises(BulkInvalid) as refused:
        services.bulk_operations_validate([set_op("blocked", "nein")])

    assert refused.value.errors == {0: ["Enter true or false."]}


def test_the_same_key_twice_is_refused():
    with pytest.raises(BulkInvalid) as refused:
        services.bulk_operations_validate([set_op(CITY, "A"), set_op(CITY, "B")])

    assert refused.value.errors == {1: ["City is changed twice: keep one change."]}


# --- Unchanged contacts, values on their way ------------------------------------------------------


def test_unchanged_contacts_are_counted_not_recorded(sandbox, lead, small_chunks):
    already = contacts_synced(sandbox, 23, additional_attributes={"company_name": "Acme"})
    others = contacts_synced(sandbox, 30, additional_attributes={"company_name": "Initech"})

    batch = services.batch_confirm(
        batch=bulk_drafted(lead, Contact.objects.all(), set_op(COMPANY, "Acme")), by=lead
    )

    assert (batch.selected_count, batch.changed_count, batch.unchanged_count) == (53, 30, 23)
    assert set(batch.edits.values_list("contact_id", flat=True)) == {c.pk for c in others}
    assert not ContactEdit.objects.filter(contact__in=already).exists()


def test_a_value_on_its_way_is_what_the_batch_expects(sandbox, lead, agent):
    on_its_way, other = contacts_synced(sandbox, 2, additional_attributes={"city": "Bangkok"})
    edit_recorded_unsent(contact=on_its_way, editor=agent, changes={CITY: "Phuket"})
    edit_recorded_unsent(contact=other, editor=agent, changes={CITY: "Krabi"})

    batch = services.batch_confirm(
        batch=bulk_drafted(lead, Contact.objects.all(), set_op(CITY, "Phuket")), by=lead
    )
    [edit] = batch.edits.all()
    on_its_way.refresh_from_db()
    other.refresh_from_db()

    assert (batch.changed_count, batch.unchanged_count) == (1, 1)
    assert edit.contact == other
    assert edit.changes == [
        {"field": CITY, "label": "City", "before": "Bangkok", "after": "Phuket", "base": "Krabi"}
    ]
    assert (other.pending_edits, other.push_state) == (2, Contact.PushState.PENDING)
    assert on_its_way.pending_edits == 1


def test_a_batch_edit_waits_for_the_edit_before_it_and_then_lands(sandbox, lead, agent):
    [contact] = contacts_synced(sandbox, 1, additional_attributes={"city": "Bangkok"})
    first = edit_recorded_unsent(contact=contact, editor=agent, changes={CITY: "Krabi"})
    batch = services.batch_confirm(
        batch=bulk_drafted(lead, Contact.objects.all(), set_op(CITY, "Phuket")), by=lead
    )
    [edit] = batch.edits.all()

    waiting = services.edit_push(edit_id=edit.pk)
    services.edit_push(edit_id=first.pk)
    landed = services.edit_push(edit_id=edit.pk)

    assert waiting.outcome == services.Push.WAITING
    assert landed.outcome == services.Push.DELIVERED
    assert patch_bodies(sandbox) == [
        {"additional_attributes": {"city": "Krabi"}},
        {"additional_attributes": {"city": "Phuket"}},
    ]


def test_a_value_changed_in_livedesk_after_confirm_is_not_overwritten(sandbox, lead):
    [contact] = contacts_synced(sandbox, 1, additional_attributes={"city": "Bangkok"})
    batch = services.batch_confirm(
        batch=bulk_drafted(lead, Contact.objects.all(), set_op(CITY, "Phuket")), by=lead
    )
    sandbox.store.update_contact(contact.remote_id, {"additional_attributes": {"city": "Krabi"}})

    [result] = delivered(batch)

    assert result.outcome == services.Push.CONFLICT
    assert result.edit.failure_kind == ContactEdit.FailureKind.CONFLICT
    assert patch_bodies(sandbox) == []
    assert in_livedesk(sandbox, contact)["additional_attributes"]["city"] == "Krabi"


def test_clearing_a_custom_attribute_removes_it(sandbox, lead):
    [contact] = contacts_synced(sandbox, 1, custom_attributes={"plan": "gold", "seats": 3})

    batch = services.batch_confirm(
        batch=bulk_drafted(
            lead,
            Contact.objects.all(),
            BulkOperation(key="custom_attributes.plan", action=BulkOperation.CLEAR),
        ),
        by=lead,
    )
    delivered(batch)

    assert patch_bodies(sandbox) == [{"custom_attributes": {"plan": None}}]
    contact.refresh_from_db()
    assert "custom_attributes.plan" not in contact_values(contact)
    assert contact_values(contact)["custom_attributes.seats"] == 3


def test_contacts_gone_from_livedesk_are_left_out(sandbox, lead):
    kept, gone = contacts_synced(sandbox, 2)
    Contact.objects.filter(pk=gone.pk).update(gone_at=gone.synced_at)

    batch = services.batch_confirm(
        batch=bulk_drafted(lead, Contact.objects.all(), set_op(COMPANY, "Acme")), by=lead
    )

    assert batch.selected_count == 1
    assert [edit.contact_id for edit in batch.edits.all()] == [kept.pk]


# --- Confirm: once, audited, delivery asked for -------------------------------------------------


def test_confirming_twice_records_the_edits_once(sandbox, lead, small_chunks):
    contacts_synced(sandbox, 45)
    batch = bulk_drafted(lead, Contact.objects.all(), set_op(COMPANY, "Acme"))

    first = services.batch_confirm(batch=batch, by=lead)
    again = services.batch_confirm(batch=batch, by=lead)

    assert first.state == again.state == EditBatch.State.CONFIRMED
    assert ContactEdit.objects.filter(batch=batch).count() == 45
    assert set(Contact.objects.values_list("pending_edits", flat=True)) == {1}
    assert len(audit_events(kind="batch.confirmed")) == 1
    assert len(audit_events(kind="edit.recorded")) == 45


def test_confirm_records_an_audit_event_per_edit_and_one_for_the_batch(sandbox, lead, small_chunks):
    contacts = contacts_synced(sandbox, 41, additional_attributes={"city": "Bangkok"})
    contacts_synced(sandbox, 2, additional_attributes={"city": "Phuket"})
    batch = bulk_drafted(
        lead, Contact.objects.all(), set_op(CITY, "Phuket"), selection={"filters": {}}
    )

    services.batch_confirm(batch=batch, by=lead)

    recorded = audit_events(kind="edit.recorded")
    [confirmed] = audit_events(kind="batch.confirmed")
    edits = {edit.pk: edit for edit in batch.edits.select_related("contact")}
    assert sorted(event.edit_id for event in recorded) == sorted(edits)
    for event in recorded:
        edit = edits[event.edit_id]
        assert event.contact_remote_id == edit.contact.remote_id
        assert event.actor == "lead"
        assert event.values["batch"] == batch.pk
        assert event.values["source"] == ContactEdit.Source.BULK
        assert event.values["changes"] == edit.changes
        assert event.values["request_body"] == {"additional_attributes": {"city": "Phuket"}}
    assert {edit.contact_id for edit in edits.values()} == {c.pk for c in contacts}
    assert confirmed.seq > max(event.seq for event in recorded)
    assert confirmed.actor == "lead"
    assert confirmed.values == {
        "batch": batch.pk,
        "kind": "bulk_edit",
        "description": "City = Phuket",
        "operations": [{"key": CITY, "action": "set", "value": "Phuket"}],
        "selection": {"filters": {}, "remote_ids": None},
        "selected": 43,
        "changed": 41,
        "unchanged": 2,
        "conflicts": 0,
        "undoes": None,
    }
    assert event_line(confirmed).sentence == (
        f"Batch #{batch.pk} confirmed by lead: City = Phuket; 41 contacts to change, 2 already so"
    )
    assert event_line(recorded[0]).sentence.endswith(f"(part of batch #{batch.pk})")
    assert audit_chain_checked().ok


def test_confirm_asks_the_delivery_to_start_once_committed(
    sandbox, lead, monkeypatch, django_capture_on_commit_callbacks
):
    starts = []
    monkeypatch.setattr(batches, "batch_delivery_start", lambda: starts.append("start"))
    contacts_synced(sandbox, 2)
    batch = bulk_drafted(lead, Contact.objects.all(), set_op(COMPANY, "Acme"))

    with django_capture_on_commit_callbacks(execute=True):
        services.batch_confirm(batch=batch, by=lead)
        assert starts == []
    with django_capture_on_commit_callbacks(execute=True):
        services.batch_confirm(batch=batch, by=lead)

    assert starts == ["start"]


# --- Rows: explicit values per contact ------------------------------------------------------------


def test_rows_send_only_the_values_that_differ(sandbox, lead):
    ann, bob = contacts_synced(sandbox, 2, additional_attributes={"city": "Bangkok"})
    rows = [
        {"contact": ann.pk, "set": {CITY: "Bangkok", "name": "Ann Lee"}},
        {"contact": bob.pk, "set": {CITY: "Bangkok"}},
    ]

    batch = services.batch_draft_rows(
        by=lead, kind=EditBatch.Kind.IMPORT, description="contacts.csv", rows=rows
    )
    services.batch_confirm(batch=batch, by=lead)
    delivered(batch)

    assert (batch.selected_count, batch.changed_count, batch.unchanged_count) == (2, 1, 1)
    assert [edit.source for edit in batch.edits.all()] == [ContactEdit.Source.IMPORT]
    assert patch_bodies(sandbox) == [{"name": "Ann Lee"}]


def test_a_draft_of_rows_must_be_an_import_or_an_undo(lead):
    with pytest.raises(ValueError):
        services.batch_draft_rows(by=lead, kind=EditBatch.Kind.BULK_EDIT, description="", rows=[])


# --- Undo --------------------------------------------------------------------------------------


@pytest.fixture
def batch_delivered(sandbox, lead, small_chunks) -> tuple[EditBatch, list[Contact]]:
    """A bulk edit of 30 contacts (company and city set), delivered to the sandbox."""
    contacts = contacts_synced(
        sandbox, 30, additional_attributes={"company_name": "Initech", "city": "Bangkok"}
    )
    batch = bulk_drafted(
        lead, Contact.objects.all(), set_op(COMPANY, "Acme"), set_op(CITY, "Phuket")
    )
    services.batch_confirm(batch=batch, by=lead)
    assert {result.outcome for result in delivered(batch)} == {services.Push.DELIVERED}
    sandbox.requests.clear()
    return batch, contacts


def test_undo_restores_the_values_the_batch_replaced(sandbox, lead, batch_delivered):
    batch, contacts = batch_delivered

    undo = services.batch_undo_draft(batch=batch, by=lead)
    services.batch_confirm(batch=undo, by=lead)
    results = delivered(undo)

    assert (undo.kind, undo.undoes, undo.state) == (
        EditBatch.Kind.UNDO,
        batch,
        EditBatch.State.CONFIRMED,
    )
    assert (undo.changed_count, undo.conflict_count) == (30, 0)
    assert {result.outcome for result in results} == {services.Push.DELIVERED}
    assert (
        patch_bodies(sandbox)
        == [{"additional_attributes": {"company_name": "Initech", "city": "Bangkok"}}] * 30
    )
    assert {
        (c["additional_attributes"]["company_name"], c["additional_attributes"]["city"])
        for c in (in_livedesk(sandbox, contact) for contact in contacts)
    } == {("Initech", "Bangkok")}
    assert {edit.source for edit in undo.edits.all()} == {ContactEdit.Source.UNDO}
    [confirmed] = audit_events(kind="batch.confirmed", data__contains=f'"batch":{undo.pk},')
    assert confirmed.values["undoes"] == batch.pk


def test_undo_skips_keys_changed_since_and_lists_them(sandbox, lead, agent, batch_delivered):
    batch, contacts = batch_delivered
    changed_in_livedesk, changed_by_an_agent = contacts[3], contacts[17]
    sandbox.store.update_contact(
        changed_in_livedesk.remote_id, {"additional_attributes": {"city": "Krabi"}}
    )
    services.contacts_sync()
    changed_by_an_agent.refresh_from_db()
    edit = edit_submit(contact=changed_by_an_agent, editor=agent, changes={COMPANY: "Globex"})
    assert edit.state == ContactEdit.State.SUCCEEDED
    sandbox.requests.clear()

    undo = services.batch_undo_draft(batch=batch, by=lead)
    services.batch_confirm(batch=undo, by=lead)
    delivered(undo)

    assert undo.conflict_count == 2
    assert undo.conflicts == [
        {
            "contact": changed_in_livedesk.remote_id,
            "key": CITY,
            "label": "City",
            "batch_value": "Phuket",
            "current": "Krabi",
        },
        {
            "contact": changed_by_an_agent.remote_id,
            "key": COMPANY,
            "label": "Company name",
            "batch_value": "Acme",
            "current": "Globex",
        },
    ]
    assert undo.changed_count == 30
    livedesk = {contact.pk: in_livedesk(sandbox, contact) for contact in contacts}
    assert livedesk[changed_in_livedesk.pk]["additional_attributes"]["city"] == "Krabi"
    assert livedesk[changed_in_livedesk.pk]["additional_attributes"]["company_name"] == "Initech"
    assert livedesk[changed_by_an_agent.pk]["additional_attributes"]["company_name"] == "Globex"
    assert livedesk[changed_by_an_agent.pk]["additional_attributes"]["city"] == "Bangkok"
    untouched = [c for c in contacts if c not in (changed_in_livedesk, changed_by_an_agent)]
    assert {
        (
            livedesk[c.pk]["additional_attributes"]["company_name"],
            livedesk[c.pk]["additional_attributes"]["city"],
        )
        for c in untouched
    } == {("Initech", "Bangkok")}


def test_undo_leaves_alone_a_key_changed_between_its_preview_and_confirm(
    sandbox, lead, batch_delivered
):
    batch, contacts = batch_delivered
    undo = services.batch_undo_draft(batch=batch, by=lead)
    sandbox.store.update_contact(
        contacts[0].remote_id, {"additional_attributes": {"company_name": "Hooli"}}
    )
    services.contacts_sync()

    services.batch_confirm(batch=undo, by=lead)
    delivered(undo)

    assert undo.conflict_count == 1
    assert undo.conflicts[0]["key"] == COMPANY
    assert undo.conflicts[0]["current"] == "Hooli"
    first = in_livedesk(sandbox, contacts[0])["additional_attributes"]
    assert (first["company_name"], first["city"]) == ("Hooli", "Bangkok")


def test_undo_is_refused_while_edits_of_the_batch_are_on_their_way(sandbox, lead):
    contacts_synced(sandbox, 2)
    batch = services.batch_confirm(
        batch=bulk_drafted(lead, Contact.objects.all(), set_op(COMPANY, "Acme")), by=lead
    )
    services.edit_push(edit_id=batch.edits.order_by("pk").first().pk)

    with pytest.raises(services.BatchNotUndoable):
        services.batch_undo_draft(batch=batch, by=lead)
    delivered(batch)
    undo = services.batch_undo_draft(batch=batch, by=lead)

    assert undo.changed_count == 2


def test_a_draft_cannot_be_undone(sandbox, lead):
    contacts_synced(sandbox, 1)
    draft = bulk_drafted(lead, Contact.objects.all(), set_op(COMPANY, "Acme"))

    with pytest.raises(services.BatchNotUndoable):
        services.batch_undo_draft(batch=draft, by=lead)


def test_undo_leaves_out_edits_that_never_reached_livedesk(sandbox, lead, agent):
    delivered_one, refused_one = contacts_synced(
        sandbox, 2, additional_attributes={"city": "Bangkok"}
    )
    batch = services.batch_confirm(
        batch=bulk_drafted(lead, Contact.objects.all(), set_op(CITY, "Phuket")), by=lead
    )
    sandbox.store.update_contact(
        refused_one.remote_id, {"additional_attributes": {"city": "Krabi"}}
    )
    outcomes = [result.outcome for result in delivered(batch)]

    undo = services.batch_undo_draft(batch=batch, by=lead)

    assert outcomes == [services.Push.DELIVERED, services.Push.CONFLICT]
    assert undo.rows == [
        {"contact": delivered_one.pk, "set": {CITY: "Bangkok"}, "expect": {CITY: "Phuket"}}
    ]
    assert undo.conflict_count == 0


def test_two_rows_of_one_contact_are_refused(sandbox, lead):
    [contact] = contacts_synced(sandbox, 1)

    with pytest.raises(ValueError):
        services.batch_draft_rows(
            by=lead,
            kind=EditBatch.Kind.IMPORT,
            description="twice.csv",
            rows=[
                {"contact": contact.pk, "set": {"name": "A"}},
                {"contact": contact.pk, "set": {"name": "B"}},
            ],
        )


# --- Selection, preview of a confirmed batch, many contacts at once -----------------------------


def test_contacts_ticked_by_id_are_selected_again_by_their_ids(sandbox, lead):
    ann, bob, _carol = contacts_synced(sandbox, 3)
    ticked = [ann.remote_id, bob.remote_id]

    batch = bulk_drafted(
        lead,
        Contact.objects.filter(remote_id__in=ticked),
        set_op(COMPANY, "Acme"),
        selection={"ids": ticked},
    )
    services.batch_confirm(batch=batch, by=lead)

    assert batch.selection == {"filters": {}, "remote_ids": ticked}
    assert sorted(batch.edits.values_list("contact_id", flat=True)) == [ann.pk, bob.pk]


def test_the_preview_of_a_confirmed_batch_shows_what_its_edits_recorded(sandbox, lead):
    contacts_synced(sandbox, 3, additional_attributes={"city": "Bangkok"})
    batch = bulk_drafted(lead, Contact.objects.all(), set_op(CITY, "Phuket"))
    services.batch_confirm(batch=batch, by=lead)
    Contact.objects.update(city="Hidden")  # the mirror changed: a draft's preview would show it

    preview = services.batch_preview(batch, sample=2)

    assert (preview.selected, preview.changed) == (3, 3)
    assert [row.changes for row in preview.sample] == [[(CITY, "City", "Bangkok", "Phuket")]] * 2


def test_a_batch_of_many_contacts_keeps_the_audit_chain_whole(sandbox, lead):
    """Chunks of 500: a chunk's 150 events are appended at once (by COPY on PostgreSQL)."""
    contacts_synced(sandbox, 150)

    batch = services.batch_confirm(
        batch=bulk_drafted(lead, Contact.objects.all(), set_op(COMPANY, "Acme")), by=lead
    )

    recorded = audit_events(kind="edit.recorded")
    assert len(recorded) == 150
    assert {event.edit_id for event in recorded} == set(batch.edits.values_list("pk", flat=True))
    assert all(event.values["batch"] == batch.pk for event in recorded)
    report = audit_chain_checked()
    assert report.ok
    assert report.count == AuditEvent.objects.count()


@pytest.mark.django_db(transaction=True)
def test_two_confirms_at_once_record_the_edits_once(sandbox, lead, monkeypatch):
    monkeypatch.setattr(batches, "batch_delivery_start", lambda: None)
    contacts_synced(sandbox, 40)
    batch = bulk_drafted(lead, Contact.objects.all(), set_op(COMPANY, "Acme"))
    start = threading.Barrier(2)
    errors = []

    def confirm() -> None:
        try:
            start.wait()
            services.batch_confirm(batch=EditBatch.objects.get(pk=batch.pk), by=lead)
        except Exception as error:  # reported below
            errors.append(error)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=confirm) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    assert ContactEdit.objects.filter(batch=batch).count() == 40
    assert set(Contact.objects.values_list("pending_edits", flat=True)) == {1}
    assert len(audit_events(kind="batch.confirmed")) == 1
    assert audit_chain_checked().ok


def test_a_bulk_phone_in_national_format_is_read_in_the_default_region(settings, definitions):
    settings.LIVEDESK_DEFAULT_PHONE_REGION = "GB"

    operations = services.bulk_operations_validate([set_op("phone_number", "020 7946 0018")])

    assert [operation.value for operation in operations] == ["+442079460018"]
