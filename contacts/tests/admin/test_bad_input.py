"""Hostile input in the admin over HTTP: filters on ids that are not ids, and markup in a custom
attribute's definition. The admin answers as it does for any invalid lookup, never a 500."""

from __future__ import annotations

import pytest
from django.urls import reverse

from contacts.models import CustomAttributeDefinition
from contacts.tests.factories import (
    EDITS_URL,
    admin_edit_post,
    change_url,
    contact_synced,
    edit_failed_transiently,
    page_text,
)

pytestmark = pytest.mark.django_db

# Digits Python's str.isdigit() accepts but int() refuses, and other text that is no id.
NOT_NUMBERS = ["²", "1²", "1e3", "0x1F"]
# Numbers int() reads but no id is: the admin's own contact filter reads them, and finds nothing.
NOT_IDS = ["٣", "１２", "-1", str(2**63), str(10**30)]
IMG = "<img src=x onerror=alert(1)>"
IMG_ESCAPED = "&lt;img src=x onerror=alert(1)&gt;"
# Where the change page shows each part of the definition, escaped once.
ESCAPED_ON_CHANGE_PAGE = {
    "description": f"<div>{IMG_ESCAPED}</div>",
    "label": f"Code {IMG_ESCAPED}:</label>",
    "hint": f"<li>{IMG_ESCAPED}</li>",
}


@pytest.fixture
def edit(sandbox, admin_user):
    contact = contact_synced(sandbox=sandbox, name="Ann Lee")
    return edit_failed_transiently(
        sandbox=sandbox, contact=contact, editor=admin_user, changes={"name": "Ann B"}
    )


# --- Ids in the edit history's filters -----------------------------------------------------------


@pytest.mark.parametrize("editor", NOT_NUMBERS + NOT_IDS)
def test_editor_filter_that_is_not_an_id_is_an_invalid_lookup(edit, admin_client, editor):
    response = admin_client.get(EDITS_URL, {"editor": editor})

    assert response.status_code == 302
    assert response["Location"] == f"{EDITS_URL}?e=1"


def test_editor_filter_on_an_unknown_user_lists_no_edits(edit, admin_client):
    response = admin_client.get(EDITS_URL, {"editor": str(2**63 - 1)})

    assert response.status_code == 200
    assert list(response.context["cl"].result_list) == []


@pytest.mark.parametrize("contact_id", NOT_NUMBERS)
def test_contact_filter_that_is_not_a_number_is_an_invalid_lookup(edit, admin_client, contact_id):
    response = admin_client.get(EDITS_URL, {"contact__id__exact": contact_id})

    assert response.status_code == 302
    assert response["Location"] == f"{EDITS_URL}?e=1"


@pytest.mark.parametrize("contact_id", [*NOT_IDS, str(2**63 - 1)])
def test_contact_filter_on_a_number_that_is_no_contact_names_none(edit, admin_client, contact_id):
    response = admin_client.get(EDITS_URL, {"contact__id__exact": contact_id})

    assert response.status_code == 200
    assert "Edits of" not in page_text(response)


def test_contact_filter_still_names_the_contact(edit, admin_client):
    response = admin_client.get(EDITS_URL, {"contact__id__exact": edit.contact_id})

    assert list(response.context["cl"].result_list) == [edit]
    assert "Edits of Ann Lee" in page_text(response)


# --- Markup in a definition ----------------------------------------------------------------------


@pytest.fixture
def marked_up(sandbox):
    """A contact, and a definition with markup in its label, description and hint."""
    CustomAttributeDefinition.objects.create(
        key="code", label=f"Code {IMG}", description=IMG, regex_pattern="^C$", regex_hint=IMG
    )
    return contact_synced(sandbox=sandbox, name="Ann Lee")


def test_definition_markup_is_shown_as_text_on_the_change_page(marked_up, admin_client):
    text = page_text(admin_edit_post(admin_client, marked_up, custom_code="D"))

    shown = {part: escaped in text for part, escaped in ESCAPED_ON_CHANGE_PAGE.items()}
    assert shown == dict.fromkeys(ESCAPED_ON_CHANGE_PAGE, True)
    assert "<img" not in text
    assert "&amp;lt;" not in text


def test_definition_markup_is_shown_as_text_on_the_opened_change_page(marked_up, admin_client):
    text = page_text(admin_client.get(change_url(marked_up)))

    assert ESCAPED_ON_CHANGE_PAGE["description"] in text
    assert "<img" not in text


def test_definition_admin_refuses_a_repeat_too_large_to_compile(admin_client):
    response = admin_client.post(
        reverse("admin:contacts_customattributedefinition_add"),
        {"key": "code", "label": "Code", "attribute_type": "text", "position": "0"}
        | {"regex_pattern": "a{99999999999}"},
    )

    assert response.status_code == 200
    assert response.context["adminform"].form.errors["regex_pattern"]
