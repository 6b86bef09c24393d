"""The sandbox's Update Contact over a real loopback socket: how it merges, how it validates."""

import json

import pytest

from contacts.sandbox.validation import ValidationFailed
from contacts.tests.factories import (
    CONTACTS_PATH,
    SOCIAL,
    sandbox_call,
    sandbox_contact_make,
    sandbox_patch,
)

# The request body from LiveDesk's Update Contact page, its // comment removed.
SEED_PAGE_REQUEST = """
{
    "additional_attributes":
     {
        "description": "",
        "company_name": "",
        "city": "",
        "telegram": "",
        "country": "",
        "country_code": "",
        "social_profiles":
        {
            "facebook": "",
            "github": "",
            "instagram": "",
            "linkedin": "",
            "twitter": ""
        }
    },
    "availability_status": "offline",
    "email": "support@jiguang.cn",
    "name": "support",
    "phone_number": null,
    "blocked": false,
    "identifier": "2222",
    "thumbnail": "",
    "last_activity_at": 1765441908,
    "custom_attributes":
    {
    "vip_level": "platinum"
    },
    "created_at": 1765441895,
    "first_name": "support",
    "last_name": ""
}
"""
# The response example from the same page.
SEED_PAGE_RESPONSE = """
{
    "payload": {
        "additional_attributes": {
            "description": "", "company_name": "", "city": "", "telegram": "",
            "country": "", "country_code": "",
            "social_profiles": {
                "facebook": "", "github": "", "instagram": "", "linkedin": "", "twitter": ""
            }
        },
        "availability_status": "offline",
        "email": "support@jiguang.cn",
        "id": 318763,
        "name": "support",
        "phone_number": null,
        "blocked": false,
        "identifier": "2222",
        "thumbnail": "",
        "custom_attributes": {},
        "last_activity_at": 1765441908,
        "created_at": 1765441895,
        "contact_inboxes": [
            {
                "source_id": "src_001",
                "inbox": {"id": 10, "name": "ช่องทางบริการลูกค้า", "channel_type": "Channel::Api"}
            }
        ]
    }
}
"""


# Update: merge rules


def test_patch_keeps_additional_attributes_that_are_not_sent(server, store):
    contact = sandbox_contact_make(
        store,
        additional_attributes={"city": "Bangkok", "company_name": "Siam", "source_id": "x1"},
    )
    status, _, body = sandbox_patch(
        server, contact, {"additional_attributes": {"city": "Chiang Mai"}}
    )
    assert status == 200
    assert body["payload"]["additional_attributes"] == {
        "city": "Chiang Mai",
        "company_name": "Siam",
        "source_id": "x1",
    }


def test_patch_replaces_social_profiles_whole(server, store):
    contact = sandbox_contact_make(store, additional_attributes={"social_profiles": SOCIAL})
    _, _, body = sandbox_patch(
        server, contact, {"additional_attributes": {"social_profiles": {"x": 1}}}
    )
    assert body["payload"]["additional_attributes"]["social_profiles"] == {"x": 1}


def test_patch_stores_a_key_sent_as_null_as_null(server, store):
    contact = sandbox_contact_make(
        store, additional_attributes={"city": "Phuket"}, custom_attributes={"plan": "pro"}
    )
    _, _, body = sandbox_patch(
        server,
        contact,
        {"additional_attributes": {"city": None}, "custom_attributes": {"plan": None}},
    )
    assert body["payload"]["additional_attributes"] == {"city": None}
    assert body["payload"]["custom_attributes"] == {"plan": None}
    assert store.get_contact(contact["id"])["custom_attributes"] == {"plan": None}


def test_patch_merges_custom_attributes_key_by_key(server, store):
    contact = sandbox_contact_make(
        store, custom_attributes={"plan": "pro", "lifetime_value": 120.5}
    )
    _, _, body = sandbox_patch(server, contact, {"custom_attributes": {"vip_level": "gold"}})
    assert body["payload"]["custom_attributes"] == {
        "plan": "pro",
        "lifetime_value": 120.5,
        "vip_level": "gold",
    }


def test_patch_ignores_read_only_and_unknown_fields(server, store):
    contact = sandbox_contact_make(store, name="Kitti Boonma", created_at=1_700_000_000)
    _, _, body = sandbox_patch(
        server,
        contact,
        {
            "id": 1,
            "availability_status": "busy",
            "thumbnail": "https://example.com/x.png",
            "created_at": 1,
            "last_activity_at": 2,
            "first_name": "Other",
            "last_name": "Person",
            "contact_inboxes": [],
            "unheard_of": True,
        },
    )
    payload = body["payload"]
    assert payload["id"] == contact["id"]
    assert payload["availability_status"] == "offline"
    assert payload["thumbnail"] == ""
    assert payload["created_at"] == 1_700_000_000
    assert payload["last_activity_at"] is None
    assert (payload["first_name"], payload["last_name"]) == ("Kitti", "Boonma")
    assert "unheard_of" not in payload


def test_patch_derives_first_and_last_name_from_name(server, store):
    contact = sandbox_contact_make(store)
    _, _, body = sandbox_patch(server, contact, {"name": "Anna Maria de Souza"})
    payload = body["payload"]
    assert (payload["first_name"], payload["last_name"]) == ("Anna", "Maria de Souza")


def test_patch_stores_email_lower_cased_and_a_blank_email_as_null(server, store):
    contact = sandbox_contact_make(store)
    assert sandbox_patch(server, contact, {"email": "Nok.Shop@Example.COM"})[2]["payload"][
        "email"
    ] == ("nok.shop@example.com")
    assert sandbox_patch(server, contact, {"email": "  "})[2]["payload"]["email"] is None


def test_patch_avatar_url_sets_the_thumbnail_and_empty_clears_it(server, store):
    contact = sandbox_contact_make(store)
    url = "https://example.com/avatar.png"
    assert sandbox_patch(server, contact, {"avatar_url": url})[2]["payload"]["thumbnail"] == url
    assert sandbox_patch(server, contact, {"avatar_url": ""})[2]["payload"]["thumbnail"] == ""


def test_patch_accepts_blocked_as_a_boolean_or_a_string(server, store):
    contact = sandbox_contact_make(store)
    assert sandbox_patch(server, contact, {"blocked": "true"})[2]["payload"]["blocked"] is True
    assert sandbox_patch(server, contact, {"blocked": False})[2]["payload"]["blocked"] is False


def test_patch_answers_contact_inboxes_only_when_asked(server, store):
    contact = sandbox_contact_make(store, inbox_id=1)
    assert "contact_inboxes" not in sandbox_patch(server, contact, {"name": "A"})[2]["payload"]
    _, _, body = sandbox_patch(server, contact, {"name": "B"}, "?include_contact_inboxes=true")
    assert len(body["payload"]["contact_inboxes"]) == 1


def test_patch_leaves_last_activity_at_alone(server, store):
    contact = sandbox_contact_make(store, last_activity_at=1_750_000_000)
    assert sandbox_patch(server, contact, {"name": "Changed"})[2]["payload"][
        "last_activity_at"
    ] == (1_750_000_000)


# Update: validation


def test_patch_with_an_invalid_email_is_422_email_invalid_email(server, store):
    contact = sandbox_contact_make(store)
    status, _, body = sandbox_patch(server, contact, {"email": "not-an-email"})
    assert (status, body) == (422, {"message": "Email Invalid email", "attributes": ["email"]})


def test_patch_with_a_taken_email_in_another_case_is_422(server, store):
    sandbox_contact_make(store, email="taken@example.com")
    contact = sandbox_contact_make(store, name="Other")
    status, _, body = sandbox_patch(server, contact, {"email": "TAKEN@example.com"})
    assert (status, body) == (
        422,
        {"message": "Email has already been taken", "attributes": ["email"]},
    )


def test_patch_keeping_its_own_email_is_not_a_clash(server, store):
    contact = sandbox_contact_make(store, email="mine@example.com")
    assert sandbox_patch(server, contact, {"email": "MINE@example.com"})[0] == 200


def test_patch_with_a_phone_not_in_e164_is_422(server, store):
    contact = sandbox_contact_make(store)
    for phone in ("0812345678", "+0812345678", "+66 81 234 5678", "+1234567890123456"):
        status, _, body = sandbox_patch(server, contact, {"phone_number": phone})
        assert (status, body) == (
            422,
            {"message": "Phone number should be in e164 format", "attributes": ["phone_number"]},
        ), phone


def test_patch_with_a_taken_phone_is_422(server, store):
    sandbox_contact_make(store, phone_number="+66811111111")
    contact = sandbox_contact_make(store, name="Other")
    status, _, body = sandbox_patch(server, contact, {"phone_number": "+66811111111"})
    assert (status, body) == (
        422,
        {"message": "Phone number has already been taken", "attributes": ["phone_number"]},
    )


def test_patch_with_a_taken_identifier_is_422_but_identifiers_are_case_sensitive(server, store):
    sandbox_contact_make(store, identifier="CRM-42")
    contact = sandbox_contact_make(store, name="Other")
    status, _, body = sandbox_patch(server, contact, {"identifier": "CRM-42"})
    assert (status, body) == (
        422,
        {"message": "Identifier has already been taken", "attributes": ["identifier"]},
    )
    assert sandbox_patch(server, contact, {"identifier": "crm-42"})[0] == 200


def test_patch_validation_is_all_or_nothing_and_reports_every_field(server, store):
    contact = sandbox_contact_make(store, name="Before", email="before@example.com")
    status, _, body = sandbox_patch(
        server, contact, {"name": "After", "email": "bad", "phone_number": "12345"}
    )
    assert (status, body) == (
        422,
        {
            "message": "Email Invalid email, Phone number should be in e164 format",
            "attributes": ["email", "phone_number"],
        },
    )
    unchanged = store.get_contact(contact["id"])
    assert (unchanged["name"], unchanged["email"]) == ("Before", "before@example.com")


def test_patch_blank_email_phone_and_identifier_pass_validation(server, store):
    sandbox_contact_make(store, name="Other", email=None, phone_number=None, identifier=None)
    contact = sandbox_contact_make(store, email="a@example.com", phone_number="+66812222222")
    status, _, body = sandbox_patch(
        server, contact, {"email": "", "phone_number": "", "identifier": ""}
    )
    assert status == 200
    payload = body["payload"]
    assert (payload["email"], payload["phone_number"], payload["identifier"]) == (None, None, None)


def test_patch_with_non_object_attributes_is_422(server, store):
    contact = sandbox_contact_make(store)
    status, _, body = sandbox_patch(
        server, contact, {"additional_attributes": "x", "custom_attributes": [1]}
    )
    assert status == 422
    assert body["attributes"] == ["additional_attributes", "custom_attributes"]


def test_store_update_contact_raises_validation_failed_with_message_and_attributes(store):
    contact = sandbox_contact_make(store)
    with pytest.raises(ValidationFailed) as raised:
        store.update_contact(contact["id"], {"phone_number": "081"})
    assert raised.value.message == "Phone number should be in e164 format"
    assert raised.value.attributes == ["phone_number"]


def test_seed_page_example_is_accepted_and_answered_in_the_documented_shape(server, store):
    contact = sandbox_contact_make(
        store,
        name="Before",
        inbox_id=2,
        custom_attributes={"plan": "pro"},
        last_activity_at=1_765_000_000,
    )
    status, _, body = sandbox_call(
        server,
        "PATCH",
        f"{CONTACTS_PATH}/{contact['id']}?include_contact_inboxes=true",
        raw=SEED_PAGE_REQUEST.encode(),
    )
    assert status == 200
    payload, documented = body["payload"], json.loads(SEED_PAGE_RESPONSE)["payload"]
    for key, example in documented.items():
        assert type(payload[key]) is type(example), key
    assert payload["additional_attributes"] == documented["additional_attributes"]
    assert payload["custom_attributes"] == {"plan": "pro", "vip_level": "platinum"}
    assert (payload["email"], payload["name"], payload["identifier"]) == (
        "support@jiguang.cn",
        "support",
        "2222",
    )
    inbox = payload["contact_inboxes"][0]
    assert set(inbox) == {"source_id", "inbox"}
    assert set(inbox["inbox"]) == {"id", "name", "channel_type"}
    assert payload["id"] == contact["id"]
    assert (payload["created_at"], payload["last_activity_at"]) == (
        contact["created_at"],
        1_765_000_000,
    )
