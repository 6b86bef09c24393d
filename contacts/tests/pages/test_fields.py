"""The field registry: one entry makes a field appear everywhere a contact's fields are."""

from __future__ import annotations

import csv
import io

import pytest
from django.urls import reverse

from contacts import fields
from contacts.fields import ADDITIONAL_PREFIX, SOCIAL_PREFIX, ContactField, Kind, Section
from contacts.models import ContactEdit
from contacts.tests.factories import (
    client_for,
    contact_synced,
    edit_form_data,
    patch_bodies,
    user_make,
)

pytestmark = pytest.mark.django_db

TIKTOK = ContactField(
    key=SOCIAL_PREFIX + "tiktok",
    label="TikTok",
    section=Section.SOCIAL,
    kind=Kind.SOCIAL,
    export_as="tiktok",
    profile_url="https://www.tiktok.com/@{}",
)
LANGUAGE = ContactField(
    key=ADDITIONAL_PREFIX + "language", label="Language", section=Section.ADDITIONAL
)


@pytest.fixture
def registry_extended(monkeypatch):
    """The registry with one more social network and one more additional attribute."""
    monkeypatch.setattr(fields, "FIELDS", (*fields.FIELDS, TIKTOK, LANGUAGE))


def test_a_new_network_and_attribute_appear_in_form_page_patch_history_admin_and_csv(
    sandbox, registry_extended, admin_user
):
    contact = contact_synced(
        sandbox=sandbox,
        name="Ann Lee",
        additional_attributes={
            "language": "th",
            "social_profiles": {"tiktok": "ann.dance", "github": "annlee"},
        },
    )
    agent = client_for(user_make(perms=("view_contact", "change_contact", "view_contactedit")))

    page = agent.get(contact.get_absolute_url())
    assert b'href="https://www.tiktok.com/@ann.dance"' in page.content
    assert "Language" in page.text and "TikTok" in page.text

    edit_url = reverse("contacts:edit", args=[contact.remote_id])
    form = agent.get(edit_url).context["form"]
    assert form["social_tiktok"].value() == "ann.dance"
    assert form["language"].value() == "th"
    saved = agent.post(
        edit_url, edit_form_data(form, social_tiktok="ann.new", language="en"), follow=True
    )

    assert "Saved" in saved.text
    [body] = patch_bodies(sandbox)
    assert body["additional_attributes"]["language"] == "en"
    assert body["additional_attributes"]["social_profiles"]["tiktok"] == "ann.new"
    assert body["additional_attributes"]["social_profiles"]["github"] == "annlee"
    stored = sandbox.store.get_contact(contact.remote_id)["additional_attributes"]
    assert (stored["language"], stored["social_profiles"]["tiktok"]) == ("en", "ann.new")
    [edit] = ContactEdit.objects.all()
    assert [change["label"] for change in edit.changes] == ["TikTok", "Language"]

    history = agent.get(reverse("contacts:history"))
    assert "TikTok" in history.text and "Language" in history.text

    admin = client_for(admin_user)
    change_page = admin.get(reverse("admin:contacts_contact_change", args=[contact.pk]))
    assert change_page.context["form"]["social_tiktok"].value() == "ann.new"
    assert "TikTok" in change_page.text
    exported = admin.post(
        reverse("admin:contacts_contact_changelist"),
        {"action": "export_csv", "_selected_action": [contact.pk], "index": 0},
    )
    [row] = csv.DictReader(io.StringIO(b"".join(exported.streaming_content).decode()))
    assert (row["tiktok"], row["language"]) == ("ann.new", "en")


def test_a_field_livedesk_sets_alone_is_never_put_in_a_patch_body(sandbox):
    contact = contact_synced(sandbox=sandbox, name="Ann")

    with pytest.raises(ValueError, match="availability_status"):
        fields.patch_body_build(
            changes={"availability_status": ("offline", "online")},
            social_profiles=contact.social_profiles,
        )


@pytest.mark.parametrize(
    ("livedesk_name", "key"),
    [
        ("avatar_url", "thumbnail"),
        ("email", "email"),
        ("company_name", ADDITIONAL_PREFIX + "company_name"),
        ("additional_attributes.social_profiles.github", SOCIAL_PREFIX + "github"),
        ("custom_attributes.plan", "custom_attributes.plan"),
        ("availability_status", None),
        ("no_such_field", None),
    ],
)
def test_livedesk_names_in_a_rejection_map_to_field_keys(livedesk_name, key):
    assert fields.livedesk_name_key(livedesk_name) == key
