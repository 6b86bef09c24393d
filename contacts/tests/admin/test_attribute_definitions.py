"""The admin of custom attribute definitions."""

from __future__ import annotations

from typing import Any

import pytest
from django.urls import reverse

from contacts.models import CustomAttributeDefinition

pytestmark = pytest.mark.django_db


DEFINITION_ADD_URL = reverse("admin:contacts_customattributedefinition_add")


# --- Custom attribute definitions -------------------------------------------------------------


def definition_post(client, **fields: Any):
    data = {
        "key": "plan",
        "label": "Plan",
        "attribute_type": "text",
        "list_options": "",
        "regex_pattern": "",
        "regex_hint": "",
        "description": "",
        "position": "0",
        **fields,
    }
    return client.post(DEFINITION_ADD_URL, data)


def test_definition_admin_rejects_a_key_that_is_not_lower_case_digits_and_underscores(
    admin_client,
):
    response = definition_post(admin_client, key="Vip-Level")

    assert response.status_code == 200
    assert response.context["adminform"].form.errors["key"]
    assert not CustomAttributeDefinition.objects.exists()


def test_definition_admin_needs_options_for_a_list(admin_client):
    response = definition_post(admin_client, attribute_type="list", list_options="\n  \n")

    assert response.context["adminform"].form.errors["list_options"]
    assert not CustomAttributeDefinition.objects.exists()


def test_definition_admin_stores_options_one_per_line_as_a_json_list(admin_client):
    response = definition_post(
        admin_client, attribute_type="list", list_options="free\r\n pro \r\n\r\nfree\r\nteam"
    )

    assert response.status_code == 302
    assert CustomAttributeDefinition.objects.get().list_options == ["free", "pro", "team"]


def test_definition_admin_rejects_a_pattern_that_does_not_compile(admin_client):
    response = definition_post(admin_client, regex_pattern="[a-z")

    assert response.context["adminform"].form.errors["regex_pattern"]


def test_definition_admin_accepts_a_hint_only_with_a_pattern(admin_client):
    response = definition_post(admin_client, regex_hint="Three letters")

    assert response.context["adminform"].form.errors["regex_hint"]
