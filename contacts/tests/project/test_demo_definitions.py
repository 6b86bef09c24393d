"""demo_definitions: the sandbox's seed keys get typed definitions, once, through the service."""

from __future__ import annotations

import json
from io import StringIO
from random import Random

import pytest
from django.core.management import CommandError, call_command

from contacts.models import CustomAttributeDefinition
from contacts.sandbox.seed import PLANS, PREFERRED_LANGUAGES, VIP_LEVELS, ContactGenerator
from contacts.tests.factories import audit_events, user_make

pytestmark = pytest.mark.django_db

Type = CustomAttributeDefinition.AttributeType


def run_demo_definitions(*args: str) -> str:
    out = StringIO()
    call_command("demo_definitions", *args, stdout=out)
    return out.getvalue()


def definition_rows() -> list[dict]:
    return list(
        CustomAttributeDefinition.objects.order_by("key").values(
            "key", "label", "attribute_type", "list_options", "position"
        )
    )


@pytest.fixture
def admin():
    return user_make(username="admin")


def test_every_key_the_seed_writes_gets_a_typed_definition(admin):
    generator = ContactGenerator(Random(7))
    seed_keys = {key for _ in range(300) for key in generator.make().custom_attributes}

    run_demo_definitions()

    definitions = {row["key"]: row for row in definition_rows()}
    assert set(definitions) == seed_keys
    assert definitions["plan"]["attribute_type"] == Type.LIST
    assert definitions["plan"]["list_options"] == list(PLANS)
    assert definitions["vip_level"]["list_options"] == list(VIP_LEVELS)
    assert definitions["preferred_language"]["list_options"] == list(PREFERRED_LANGUAGES)
    assert definitions["lifetime_value"]["attribute_type"] == Type.CURRENCY
    assert definitions["signed_up"]["attribute_type"] == Type.DATE
    assert definitions["newsletter"]["attribute_type"] == Type.CHECKBOX


def test_each_new_definition_is_in_the_audit_log(admin):
    run_demo_definitions()

    events = audit_events(kind="definition.saved")
    assert sorted(json.loads(event.data)["key"] for event in events) == sorted(
        row["key"] for row in definition_rows()
    )
    assert {event.actor for event in events} == {"admin"}


def test_running_it_again_changes_nothing(admin):
    run_demo_definitions()
    rows = definition_rows()
    events = len(audit_events())

    output = run_demo_definitions()

    assert definition_rows() == rows
    assert len(audit_events()) == events
    assert "0 created, 6 kept" in output


def test_an_administrators_edit_of_a_definition_is_kept(admin):
    CustomAttributeDefinition.objects.create(
        key="plan", label="Subscription", attribute_type=Type.TEXT, position=9
    )

    run_demo_definitions()

    plan = CustomAttributeDefinition.objects.get(key="plan")
    assert (plan.label, plan.attribute_type, plan.list_options, plan.position) == (
        "Subscription",
        Type.TEXT,
        [],
        9,
    )
    assert CustomAttributeDefinition.objects.count() == 6


def test_it_needs_the_user_it_records(admin):
    with pytest.raises(CommandError, match="No user named nobody"):
        run_demo_definitions("--by", "nobody")
    assert not CustomAttributeDefinition.objects.exists()
