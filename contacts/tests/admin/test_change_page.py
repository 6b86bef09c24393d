"""The admin's contact change page against a real LiveDesk sandbox: the shared form, through
the edit service."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.core.exceptions import PermissionDenied
from django.urls import reverse

from contacts import services
from contacts.models import Contact, ContactEdit, CustomAttributeDefinition
from contacts.tests.factories import (
    CONTACTS_URL,
    EDITS_URL,
    admin_edit_post,
    change_url,
    contact_synced,
    edit_form_data,
    messages_of,
    patch_bodies,
)

pytestmark = pytest.mark.django_db


# --- Factories and helpers ---------------------------------------------------------------------


def staff_make(*, username: str = "staff", permissions: tuple[str, ...] = ()):
    user = get_user_model().objects.create_user(username=username, is_staff=True)
    user.user_permissions.add(*Permission.objects.filter(codename__in=permissions))
    return user


# --- The change page: the shared form, through the edit service --------------------------------


def test_admin_edit_is_pushed_with_patch_and_recorded_with_source_admin(
    sandbox, admin_client, admin_user
):
    contact = contact_synced(sandbox=sandbox, name="Ann Lee", email="ann@example.com")

    response = admin_edit_post(admin_client, contact, name="Ann Admin", _save="Save")

    assert response.redirect_chain[-1][0] == CONTACTS_URL
    assert patch_bodies(sandbox) == [{"name": "Ann Admin"}]
    edit = ContactEdit.objects.get(contact=contact)
    assert (edit.source, edit.editor, edit.state) == (
        ContactEdit.Source.ADMIN,
        admin_user,
        ContactEdit.State.SUCCEEDED,
    )
    contact.refresh_from_db()
    assert contact.name == "Ann Admin"


def test_admin_change_page_shows_the_four_sections_and_the_recent_history(sandbox, admin_client):
    contact = contact_synced(sandbox=sandbox, name="Ann Lee")
    admin_edit_post(admin_client, contact, name="Ann <b>Admin</b>", _continue="Save")

    page = admin_client.get(change_url(contact)).content.decode()

    for section in ("section-core", "section-additional", "section-social", "section-custom"):
        assert f'id="{section}"' in page
    assert "Ann &lt;b&gt;Admin&lt;/b&gt;" in page
    assert f"{EDITS_URL}?contact__id__exact={contact.pk}" in page


def test_invalid_admin_edit_is_shown_with_errors_and_not_sent(sandbox, admin_client):
    contact = contact_synced(sandbox=sandbox, name="Ann Lee")

    response = admin_edit_post(admin_client, contact, email="not-an-email")

    assert response.status_code == 200
    assert response.context["form"].errors["email"]
    assert patch_bodies(sandbox) == []
    assert not ContactEdit.objects.exists()


def test_admin_edit_conflict_shows_theirs_and_yours_and_sends_nothing(sandbox, admin_client):
    contact = contact_synced(sandbox=sandbox, name="Ann Lee")
    page = admin_client.get(change_url(contact))
    data = {**edit_form_data(page.context["form"]), "name": "Ann Yours"}
    sandbox.store.update_contact(contact.remote_id, {"name": "Ann Theirs"})
    services.contacts_sync()

    response = admin_client.post(change_url(contact), data)

    assert response.status_code == 200
    conflict = response.context["conflicts"][0]
    assert (conflict["theirs"], conflict["yours"]) == ("Ann Theirs", "Ann Yours")
    assert "Ann Theirs" in response.content.decode()
    assert patch_bodies(sandbox) == []


def test_reloading_after_a_conflict_keeps_my_changes_on_the_current_values(sandbox, admin_client):
    contact = contact_synced(sandbox=sandbox, name="Ann Lee")
    page = admin_client.get(change_url(contact))
    data = {**edit_form_data(page.context["form"]), "name": "Ann Yours", "city": "Nan"}
    sandbox.store.update_contact(contact.remote_id, {"name": "Ann Theirs"})
    services.contacts_sync()
    admin_client.post(change_url(contact), data)

    reloaded = admin_client.post(change_url(contact), {**data, "reload": "Reload"})
    saved = admin_client.post(
        change_url(contact), {**edit_form_data(reloaded.context["form"]), "_continue": "Save"}
    )

    assert reloaded.context["form"]["name"].value() == "Ann Yours"
    assert saved.status_code == 302
    # The city, which nobody else changed, was delivered at the conflict; the name on reload.
    assert patch_bodies(sandbox) == [
        {"additional_attributes": {"city": "Nan"}},
        {"name": "Ann Yours"},
    ]


def test_admin_edit_rejected_by_livedesk_shows_its_message_on_the_field(sandbox, admin_client):
    contact_synced(sandbox=sandbox, name="Ann Lee", email="ann@example.com")
    bob = contact_synced(sandbox=sandbox, name="Bob Lee", email="bob@example.com")

    response = admin_edit_post(admin_client, bob, email="ann@example.com")

    assert response.status_code == 200
    assert response.context["form"].errors["email"] == ["LiveDesk: Email has already been taken"]
    assert ContactEdit.objects.get().http_status == 422
    assert messages_of(response)[0][0] == "error"


def test_admin_change_page_renders_typed_custom_attributes_as_typed_inputs(sandbox, admin_client):
    definitions_make()
    contact = contact_synced(sandbox=sandbox, name="Ann Lee")

    page = admin_client.get(change_url(contact)).content.decode()

    assert '<input type="number" name="custom_seats"' in page
    assert '<input type="checkbox" name="custom_vip"' in page
    assert '<input type="date" name="custom_renewal"' in page
    assert '<select name="custom_plan"' in page


def test_admin_edit_sends_typed_custom_attributes_as_json_types(sandbox, admin_client):
    definitions_make()
    contact = contact_synced(sandbox=sandbox, name="Ann Lee")

    admin_edit_post(
        admin_client,
        contact,
        custom_seats="12",
        custom_vip=True,
        custom_renewal="2025-03-01",
        custom_plan="pro",
    )

    assert patch_bodies(sandbox) == [
        {
            "custom_attributes": {
                "seats": 12,
                "vip": True,
                "renewal": "2025-03-01",
                "plan": "pro",
            }
        }
    ]
    contact.refresh_from_db()
    assert contact.custom_attributes == {
        "seats": 12,
        "vip": True,
        "renewal": "2025-03-01",
        "plan": "pro",
    }


def definitions_make() -> None:
    kinds = CustomAttributeDefinition.AttributeType
    CustomAttributeDefinition.objects.create(
        key="seats", label="Seats", attribute_type=kinds.NUMBER
    )
    CustomAttributeDefinition.objects.create(key="vip", label="VIP", attribute_type=kinds.CHECKBOX)
    CustomAttributeDefinition.objects.create(
        key="renewal", label="Renewal", attribute_type=kinds.DATE
    )
    CustomAttributeDefinition.objects.create(
        key="plan", label="Plan", attribute_type=kinds.LIST, list_options=["free", "pro"]
    )


def test_admin_never_saves_the_mirror_directly(sandbox, admin_user, rf):
    from django.contrib.admin.sites import site

    contact = contact_synced(sandbox=sandbox, name="Ann Lee")
    request = rf.post("/")
    request.user = admin_user

    with pytest.raises(PermissionDenied):
        site._registry[Contact].save_model(request, contact, None, True)


def test_contacts_cannot_be_added_or_deleted_in_the_admin(sandbox, admin_client):
    contact = contact_synced(sandbox=sandbox, name="Ann Lee")

    add = admin_client.get(reverse("admin:contacts_contact_add"))
    delete = admin_client.post(reverse("admin:contacts_contact_delete", args=[contact.pk]))
    changelist = admin_client.get(CONTACTS_URL)

    assert (add.status_code, delete.status_code) == (403, 403)
    actions = dict(changelist.context["action_form"].fields["action"].choices)
    assert "delete_selected" not in actions
    assert "refresh_from_livedesk" in actions
    assert reverse("admin:contacts_contact_add") not in changelist.content.decode()
    assert Contact.objects.filter(pk=contact.pk).exists()


def test_view_only_staff_sees_the_values_without_a_form(sandbox, client):
    contact = contact_synced(sandbox=sandbox, name="Ann Lee", email="ann@example.com")
    client.force_login(staff_make(permissions=("view_contact",)))

    page = client.get(change_url(contact))
    post = client.post(change_url(contact), {"name": "Changed"})

    assert page.status_code == 200
    assert page.context["form"] is None
    assert "ann@example.com" in page.content.decode()
    assert post.status_code == 403
    assert patch_bodies(sandbox) == []


def test_staff_without_contact_permissions_sees_no_contacts(sandbox, client):
    contact = contact_synced(sandbox=sandbox, name="Ann Lee")
    client.force_login(staff_make())

    index = client.get(reverse("admin:index"))

    assert index.status_code == 200
    assert index.context["app_list"] == []
    assert client.get(CONTACTS_URL).status_code == 403
    assert client.get(change_url(contact)).status_code == 403
    assert client.get(EDITS_URL).status_code == 403
