"""The Django admin against a real LiveDesk sandbox: edits, actions, the view-only history."""

from __future__ import annotations

import csv
import io
from typing import Any

import pytest
from django import forms
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.core.cache import cache
from django.core.exceptions import PermissionDenied
from django.urls import reverse

from contacts import services
from contacts.models import Contact, ContactEdit, CustomAttributeDefinition
from contacts.tests.factories import contact_synced, edit_failed_transiently, patch_bodies

pytestmark = pytest.mark.django_db

CONTACTS_URL = reverse("admin:contacts_contact_changelist")
EDITS_URL = reverse("admin:contacts_contactedit_changelist")
DEFINITION_ADD_URL = reverse("admin:contacts_customattributedefinition_add")


@pytest.fixture(autouse=True)
def _countries_not_cached():
    cache.clear()


# --- Factories and helpers ---------------------------------------------------------------------


def staff_make(*, username: str = "staff", permissions: tuple[str, ...] = ()):
    user = get_user_model().objects.create_user(username=username, is_staff=True)
    user.user_permissions.add(*Permission.objects.filter(codename__in=permissions))
    return user


def change_url(contact: Contact) -> str:
    return reverse("admin:contacts_contact_change", args=[contact.pk])


def edit_url(edit: ContactEdit, view: str = "change") -> str:
    return reverse(f"admin:contacts_contactedit_{view}", args=[edit.pk])


def form_post_data(form) -> dict[str, Any]:
    """What a browser posts for the admin's edit form as it was rendered, rows included."""
    data: dict[str, Any] = {}
    rows = form.custom_rows
    for bound in [*form, *rows.management_form, *(b for row in rows.forms for b in row)]:
        if bound.field.disabled:
            continue
        value = bound.value()
        if isinstance(bound.field.widget, forms.CheckboxInput):
            if value:
                data[bound.html_name] = "on"
        else:
            data[bound.html_name] = "" if value is None else value
    return data


def admin_edit_post(client, contact: Contact, **changes: Any):
    """Open the contact's admin change page, change some fields and save it."""
    page = client.get(change_url(contact))
    data = form_post_data(page.context["form"])
    for name, value in changes.items():
        if value is False:
            data.pop(name, None)
        else:
            data[name] = "on" if value is True else value
    return client.post(change_url(contact), data, follow=True)


def action_post(client, action: str, contacts: list[Contact]):
    return client.post(
        CONTACTS_URL,
        {"action": action, "_selected_action": [c.pk for c in contacts], "index": 0},
        follow=True,
    )


def messages_of(response) -> list[tuple[str, str]]:
    return [(message.level_tag, str(message)) for message in response.context["messages"]]


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
    data = {**form_post_data(page.context["form"]), "name": "Ann Yours"}
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
    data = {**form_post_data(page.context["form"]), "name": "Ann Yours", "city": "Nan"}
    sandbox.store.update_contact(contact.remote_id, {"name": "Ann Theirs"})
    services.contacts_sync()
    admin_client.post(change_url(contact), data)

    reloaded = admin_client.post(change_url(contact), {**data, "reload": "Reload"})
    saved = admin_client.post(
        change_url(contact), {**form_post_data(reloaded.context["form"]), "_continue": "Save"}
    )

    assert reloaded.context["form"]["name"].value() == "Ann Yours"
    assert saved.status_code == 302
    assert patch_bodies(sandbox) == [
        {"name": "Ann Yours", "additional_attributes": {"city": "Nan"}}
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


# --- The contact list: search and filters ----------------------------------------------------


def test_contact_search_matches_name_prefix_ignoring_case_and_exact_email(sandbox, admin_client):
    ann = contact_synced(sandbox=sandbox, name="Ann Lee", email="ann@example.com")
    anna = contact_synced(sandbox=sandbox, name="anna Smith", email="a.smith@example.com")
    contact_synced(sandbox=sandbox, name="Joanne Ann", email="jo@example.com")

    by_name = admin_client.get(CONTACTS_URL, {"q": "ANN"}).context["cl"].result_list
    by_email = admin_client.get(CONTACTS_URL, {"q": "Ann@Example.com"}).context["cl"].result_list
    by_id = admin_client.get(CONTACTS_URL, {"q": str(anna.remote_id)}).context["cl"].result_list

    assert set(by_name) == {ann, anna}
    assert list(by_email) == [ann]
    assert list(by_id) == [anna]


def test_contact_country_and_gone_filters_narrow_the_list(sandbox, admin_client):
    thai = contact_synced(
        sandbox=sandbox, name="Ann", additional_attributes={"country": "Thailand"}
    )
    contact_synced(sandbox=sandbox, name="Bob", additional_attributes={"country": "Japan"})
    Contact.objects.filter(pk=thai.pk).update(gone_at="2024-01-01T00:00:00Z")

    by_country = admin_client.get(CONTACTS_URL, {"country": "Thailand"}).context["cl"]
    gone = admin_client.get(CONTACTS_URL, {"gone": "yes"}).context["cl"]

    assert list(by_country.result_list) == [thai]
    assert list(gone.result_list) == [thai]
    [country_filter] = [spec for spec in by_country.filter_specs if spec.title == "country"]
    choices = [choice["display"] for choice in country_filter.choices(by_country)]
    assert choices == ["All", "Japan", "Thailand"]


# --- Actions ----------------------------------------------------------------------------------


def test_refresh_action_brings_in_the_changed_remote_value(sandbox, admin_client):
    contact = contact_synced(sandbox=sandbox, name="Ann Lee")
    sandbox.store.update_contact(contact.remote_id, {"name": "Ann Remote"})

    response = action_post(admin_client, "refresh_from_livedesk", [contact])

    contact.refresh_from_db()
    assert contact.name == "Ann Remote"
    assert messages_of(response) == [("success", "1 contact updated from LiveDesk: Ann Remote.")]


def test_refresh_action_flags_a_contact_gone_from_livedesk(sandbox, admin_client):
    kept = contact_synced(sandbox=sandbox, name="Ann Lee")
    deleted = contact_synced(sandbox=sandbox, name="Bob Gone")
    sandbox.store.delete_contact(deleted.remote_id)

    response = action_post(admin_client, "refresh_from_livedesk", [kept, deleted])

    deleted.refresh_from_db()
    kept.refresh_from_db()
    assert deleted.is_gone and not kept.is_gone
    assert messages_of(response) == [
        ("success", "1 contact already up to date: Ann Lee."),
        ("warning", "1 contact is gone from LiveDesk and was flagged: Bob Gone."),
    ]


def test_retry_action_delivers_a_failed_edit(sandbox, admin_client, admin_user):
    contact = contact_synced(sandbox=sandbox, name="Ann Lee")
    idle = contact_synced(sandbox=sandbox, name="Bob Idle")
    edit = edit_failed_transiently(
        sandbox=sandbox, contact=contact, editor=admin_user, changes={"name": "Ann Retried"}
    )

    response = action_post(admin_client, "retry_failed_pushes", [contact, idle])

    edit.refresh_from_db()
    assert edit.state == ContactEdit.State.SUCCEEDED
    assert sandbox.store.get_contact(contact.remote_id)["name"] == "Ann Retried"
    assert messages_of(response) == [
        ("success", "1 failed edit delivered to LiveDesk: Ann Lee."),
        ("warning", "1 contact has no failed edit to retry: Bob Idle."),
    ]


@pytest.mark.parametrize(
    ("action", "blocked"), [("block_contacts", True), ("unblock_contacts", False)]
)
def test_block_actions_patch_blocked_and_record_one_edit_each(
    sandbox, admin_client, admin_user, action, blocked
):
    ann = contact_synced(sandbox=sandbox, name="Ann Lee", blocked=not blocked)
    bob = contact_synced(sandbox=sandbox, name="Bob Lee", blocked=not blocked)

    response = action_post(admin_client, action, [ann, bob])

    assert patch_bodies(sandbox) == [{"blocked": blocked}, {"blocked": blocked}]
    edits = ContactEdit.objects.order_by("contact__name")
    assert [(e.contact, e.source, e.editor, e.state) for e in edits] == [
        (contact, ContactEdit.Source.ADMIN_ACTION, admin_user, ContactEdit.State.SUCCEEDED)
        for contact in (ann, bob)
    ]
    assert Contact.objects.filter(blocked=blocked).count() == 2
    verb = "blocked" if blocked else "unblocked"
    assert messages_of(response) == [
        ("success", f"2 contacts {verb} in LiveDesk: Ann Lee, Bob Lee.")
    ]


def test_block_action_reports_a_failure_per_contact(sandbox, admin_client):
    contact = contact_synced(sandbox=sandbox, name="Ann Lee")
    sandbox.store.delete_contact(contact.remote_id)

    response = action_post(admin_client, "block_contacts", [contact])

    [(level, text)] = messages_of(response)
    assert level == "error"
    assert text.startswith("1 contact could not be changed: Ann Lee (")


def test_export_csv_streams_the_selected_contacts(sandbox, admin_client):
    ann = contact_synced(
        sandbox=sandbox,
        name="Ann Lee",
        email="ann@example.com",
        identifier="cus-1",
        additional_attributes={"company_name": "Acme", "city": "Bangkok", "country_code": "TH"},
    )
    contact_synced(sandbox=sandbox, name="Not Selected")

    response = action_post(admin_client, "export_csv", [ann])

    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"].startswith('attachment; filename="contacts-')
    rows = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert rows[0] == [
        "remote_id",
        "name",
        "email",
        "phone",
        "identifier",
        "thumbnail",
        "blocked",
        "availability",
        "description",
        "company",
        "telegram",
        "city",
        "country",
        "country_code",
        "facebook",
        "github",
        "instagram",
        "linkedin",
        "twitter",
        "push_state",
        "last_synced",
    ]
    row = dict(zip(rows[0], rows[1], strict=True))
    assert row == {
        **dict.fromkeys(rows[0], ""),
        "remote_id": str(ann.remote_id),
        "name": "Ann Lee",
        "email": "ann@example.com",
        "identifier": "cus-1",
        "blocked": "false",
        "availability": "offline",
        "company": "Acme",
        "city": "Bangkok",
        "country_code": "TH",
        "push_state": "in_sync",
        "last_synced": row["last_synced"],
    }
    assert row["last_synced"].startswith(str(ann.synced_at.year))
    assert len(rows) == 2


def test_export_csv_defuses_spreadsheet_formulas(sandbox, admin_client):
    contact = contact_synced(
        sandbox=sandbox,
        name='=HYPERLINK("http://evil.example","x")',
        phone_number="+66812345678",
        identifier="@SUM(A1)",
        additional_attributes={"company_name": "-2+3", "city": "Bangkok=1"},
    )

    response = action_post(admin_client, "export_csv", [contact])

    [row] = list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert row["name"] == '\'=HYPERLINK("http://evil.example","x")'
    assert row["phone"] == "'+66812345678"
    assert row["identifier"] == "'@SUM(A1)"
    assert row["company"] == "'-2+3"
    assert row["city"] == "Bangkok=1"


def test_actions_refuse_more_contacts_than_one_request_should_call_livedesk_for(
    sandbox, admin_client, monkeypatch
):
    monkeypatch.setattr("contacts.admin.actions.ACTION_LIMIT", 1)
    contacts = [contact_synced(sandbox=sandbox, name=name) for name in ("Ann", "Bob")]

    response = action_post(admin_client, "block_contacts", contacts)

    assert messages_of(response)[0][0] == "error"
    assert patch_bodies(sandbox) == []


# --- The edit history: view only -------------------------------------------------------------


def test_edit_history_refuses_add_change_and_delete_to_a_superuser(
    sandbox, admin_client, admin_user
):
    contact = contact_synced(sandbox=sandbox, name="Ann Lee")
    edit = edit_failed_transiently(
        sandbox=sandbox, contact=contact, editor=admin_user, changes={"name": "Ann B"}
    )

    add = admin_client.get(reverse("admin:contacts_contactedit_add"))
    change = admin_client.post(edit_url(edit), {"state": "succeeded", "attempts": "9"})
    delete_page = admin_client.get(edit_url(edit, "delete"))
    delete = admin_client.post(edit_url(edit, "delete"), {"post": "yes"})

    assert (add.status_code, change.status_code) == (403, 403)
    assert (delete_page.status_code, delete.status_code) == (403, 403)
    edit.refresh_from_db()
    assert (edit.state, edit.attempts) == (ContactEdit.State.FAILED, 1)


def test_edit_history_list_offers_no_actions_and_no_add(sandbox, admin_client, admin_user):
    contact = contact_synced(sandbox=sandbox, name="Ann Lee")
    edit_failed_transiently(
        sandbox=sandbox, contact=contact, editor=admin_user, changes={"name": "Ann B"}
    )

    response = admin_client.get(EDITS_URL)

    assert response.status_code == 200
    assert response.context["action_form"] is None
    assert reverse("admin:contacts_contactedit_add") not in response.content.decode()


def test_edit_history_detail_shows_the_change_request_and_response_formatted(sandbox, admin_client):
    contact = contact_synced(sandbox=sandbox, name="Ann Lee")
    admin_edit_post(admin_client, contact, name="<b>Ann</b>")
    edit = ContactEdit.objects.get()

    page = admin_client.get(edit_url(edit)).content.decode()

    assert '<th scope="row">Name</th><td>Ann Lee</td><td>&lt;b&gt;Ann&lt;/b&gt;</td>' in page
    assert (
        '<pre class="json-body">{\n  &quot;name&quot;: &quot;&lt;b&gt;Ann&lt;/b&gt;&quot;\n}</pre>'
        in page
    )
    assert '<pre class="json-body">{\n  &quot;payload&quot;: {\n' in page
    assert "<b>Ann</b>" not in page


def test_edit_history_search_by_remote_id_and_filter_by_contact(sandbox, admin_client, admin_user):
    ann = contact_synced(sandbox=sandbox, name="Ann Lee")
    bob = contact_synced(sandbox=sandbox, name="Bob Lee")
    ann_edit = edit_failed_transiently(
        sandbox=sandbox, contact=ann, editor=admin_user, changes={"name": "Ann B"}
    )
    edit_failed_transiently(
        sandbox=sandbox, contact=bob, editor=admin_user, changes={"name": "Bob B"}
    )

    by_id = admin_client.get(EDITS_URL, {"q": str(ann.remote_id)})
    by_contact = admin_client.get(EDITS_URL, {"contact__id__exact": ann.pk})
    by_state = admin_client.get(EDITS_URL, {"state__exact": "succeeded"})

    assert list(by_id.context["cl"].result_list) == [ann_edit]
    assert list(by_contact.context["cl"].result_list) == [ann_edit]
    assert list(by_state.context["cl"].result_list) == []


def test_contact_history_button_opens_its_filtered_edit_history(sandbox, admin_client):
    contact = contact_synced(sandbox=sandbox, name="Ann Lee")

    response = admin_client.get(reverse("admin:contacts_contact_history", args=[contact.pk]))

    assert response.status_code == 302
    assert response["Location"] == f"{EDITS_URL}?contact__id__exact={contact.pk}"
    assert admin_client.get(response["Location"]).context["subtitle"] == "Edits of Ann Lee"


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
