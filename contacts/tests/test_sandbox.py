"""The LiveDesk sandbox over a real loopback socket: API, update rules, faults, storage."""

import base64
import json
import os
import re
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from types import SimpleNamespace

import pytest

from contacts.sandbox.seed import LABELS
from contacts.sandbox.server import Faults, SandboxServer
from contacts.sandbox.store import SandboxStore
from contacts.sandbox.validation import ValidationFailed

API_KEY = "sandbox-test-key"
API_SECRET = "sandbox-test-secret"
CONTACTS = "/api/v2/accounts/contacts"

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

SOCIAL = {"facebook": "fb.nok", "github": "nokdev", "instagram": "", "linkedin": "", "twitter": ""}


@pytest.fixture
def store(tmp_path):
    store = SandboxStore(tmp_path / "sandbox.sqlite3")
    yield store
    store.close()


@pytest.fixture
def server(store):
    server = SandboxServer(
        store=store, host="127.0.0.1", port=0, api_key=API_KEY, api_secret=API_SECRET
    )
    server.start()
    yield server
    server.stop()


def call(server, method, path, body=None, *, auth=True, raw=None, timeout=5.0):
    """(status, headers, parsed JSON or text) for one request over the socket."""
    headers = {"Content-Type": "application/json"}
    if auth:
        token = base64.b64encode(f"{API_KEY}:{API_SECRET}".encode()).decode()
        headers["Authorization"] = f"Basic {token}"
    data = raw if raw is not None else (None if body is None else json.dumps(body).encode())
    request = urllib.request.Request(
        server.base_url + path, data=data, method=method, headers=headers
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            status, answer_headers, payload = response.status, response.headers, response.read()
    except urllib.error.HTTPError as error:
        status, answer_headers, payload = error.code, error.headers, error.read()
    text = payload.decode()
    if answer_headers.get("Content-Type", "").startswith("application/json"):
        return status, answer_headers, json.loads(text)
    return status, answer_headers, text


def make_contact(store, **fields):
    fields.setdefault("name", "Somchai Srisuk")
    return store.create_contact(**fields)


def ids_of(answer):
    return [contact["id"] for contact in answer["payload"]]


# Authentication and routing


def test_api_call_without_credentials_is_401_invalid_access_token(server):
    status, _, body = call(server, "GET", CONTACTS, auth=False)
    assert (status, body) == (401, {"error": "Invalid Access Token"})


def test_api_call_with_a_wrong_secret_is_401(server):
    token = base64.b64encode(f"{API_KEY}:wrong".encode()).decode()
    request = urllib.request.Request(
        server.base_url + CONTACTS, headers={"Authorization": f"Basic {token}"}
    )
    with pytest.raises(urllib.error.HTTPError) as raised:
        urllib.request.urlopen(request, timeout=5)
    assert raised.value.code == 401
    assert json.loads(raised.value.read()) == {"error": "Invalid Access Token"}


def test_unknown_contact_and_unknown_path_are_404_resource_could_not_be_found(server):
    not_found = {"error": "Resource could not be found"}
    assert call(server, "GET", f"{CONTACTS}/999")[::2] == (404, not_found)
    assert call(server, "PATCH", f"{CONTACTS}/999", {"name": "x"})[::2] == (404, not_found)
    assert call(server, "GET", "/api/v2/accounts/conversations")[::2] == (404, not_found)


def test_invalid_json_body_is_400_with_an_error(server, store):
    contact = make_contact(store)
    status, _, body = call(server, "PATCH", f"{CONTACTS}/{contact['id']}", raw=b"{not json")
    assert status == 400
    assert set(body) == {"error"}


# Listing, searching, sorting


def test_list_answers_15_contacts_a_page_with_the_count_over_all_pages(server, store):
    store.seed(40, random_seed=1)
    status, _, first = call(server, "GET", CONTACTS)
    _, _, third = call(server, "GET", f"{CONTACTS}?page=3")
    assert status == 200
    assert first["meta"] == {"count": 40, "current_page": 1}
    assert len(first["payload"]) == 15
    assert third["meta"] == {"count": 40, "current_page": 3}
    assert len(third["payload"]) == 10
    _, _, second = call(server, "GET", f"{CONTACTS}?page=2")
    all_ids = ids_of(first) + ids_of(second) + ids_of(third)
    assert len(set(all_ids)) == 40


def test_list_honours_page_size_and_caps_it_at_100(server, store):
    store.seed(120, random_seed=1)
    assert len(call(server, "GET", f"{CONTACTS}?page_size=10")[2]["payload"]) == 10
    assert len(call(server, "GET", f"{CONTACTS}?page_size=500")[2]["payload"]) == 100


def test_list_page_past_the_end_is_empty_but_still_counts(server, store):
    store.seed(5, random_seed=1)
    _, _, body = call(server, "GET", f"{CONTACTS}?page=9")
    assert body == {"meta": {"count": 5, "current_page": 9}, "payload": []}


def test_search_q_matches_name_email_phone_and_identifier_case_insensitively(server, store):
    by_name = make_contact(store, name="Pimchanok Thongdee")
    by_email = make_contact(store, name="A", email="ploy.shop@example.co.th")
    by_phone = make_contact(store, name="B", phone_number="+66812345678")
    by_identifier = make_contact(store, name="C", identifier="CRM-77123")
    make_contact(store, name="Someone Else", email="else@example.com")

    def found(q):
        return ids_of(call(server, "GET", f"{CONTACTS}?q={q}")[2])

    assert found("PIMCHANOK") == [by_name["id"]]
    assert found("Ploy.Shop") == [by_email["id"]]
    assert found("%2B6681234") == [by_phone["id"]]
    assert found("crm-77") == [by_identifier["id"]]
    assert call(server, "GET", f"{CONTACTS}?q=crm-77")[2]["meta"]["count"] == 1


def test_search_q_matches_thai_script(server, store):
    thai = make_contact(store, name="สมชาย ศรีสุข")
    make_contact(store, name="Somchai Srisuk")
    q = urllib.request.quote("ศรีสุข")
    assert ids_of(call(server, "GET", f"{CONTACTS}?q={q}")[2]) == [thai["id"]]


def test_labels_filter_matches_any_label_whichever_way_they_are_sent(server, store):
    vip = make_contact(store, name="V", labels=["vip"])
    lead = make_contact(store, name="L", labels=["lead", "follow-up"])
    make_contact(store, name="N", labels=["complaint"])
    make_contact(store, name="None")
    expected = sorted([vip["id"], lead["id"]])
    for query in ("labels=vip&labels=lead", "labels[]=vip&labels[]=lead", "labels=vip,lead"):
        _, _, body = call(server, "GET", f"{CONTACTS}?{query}&sort=name")
        assert sorted(ids_of(body)) == expected, query
        assert body["meta"]["count"] == 2
    assert "labels" not in body["payload"][0]


def test_sort_by_name_both_directions_with_id_as_tie_breaker(server, store):
    bee = make_contact(store, name="bee")
    ann_1 = make_contact(store, name="Ann")
    ann_2 = make_contact(store, name="ann")
    cat = make_contact(store, name="Cat")
    _, _, ascending = call(server, "GET", f"{CONTACTS}?sort=name&direction=asc")
    _, _, descending = call(server, "GET", f"{CONTACTS}?sort=name&direction=desc")
    assert ids_of(ascending) == [ann_1["id"], ann_2["id"], bee["id"], cat["id"]]
    assert ids_of(descending) == [cat["id"], bee["id"], ann_2["id"], ann_1["id"]]


def test_sort_by_company_uses_additional_attributes_and_puts_missing_last(server, store):
    zeta = make_contact(store, additional_attributes={"company_name": "Zeta Co"})
    alpha = make_contact(store, additional_attributes={"company_name": "Alpha Ltd"})
    missing = make_contact(store)
    _, _, ascending = call(server, "GET", f"{CONTACTS}?sort=company&direction=asc")
    _, _, descending = call(server, "GET", f"{CONTACTS}?sort=company&direction=desc")
    assert ids_of(ascending) == [alpha["id"], zeta["id"], missing["id"]]
    assert ids_of(descending) == [zeta["id"], alpha["id"], missing["id"]]


def test_sort_by_last_activity_at_desc_by_default(server, store):
    old = make_contact(store, last_activity_at=1_700_000_000)
    new = make_contact(store, last_activity_at=1_760_000_000)
    never = make_contact(store)
    assert ids_of(call(server, "GET", CONTACTS)[2]) == [new["id"], old["id"], never["id"]]


def test_list_includes_contact_inboxes_unless_asked_not_to(server, store):
    make_contact(store, inbox_id=2)
    _, _, with_inboxes = call(server, "GET", CONTACTS)
    _, _, without = call(server, "GET", f"{CONTACTS}?include_contact_inboxes=false")
    assert with_inboxes["payload"][0]["contact_inboxes"][0]["inbox"] == {
        "id": 2,
        "name": "LINE OA",
        "channel_type": "Channel::Api",
    }
    assert "contact_inboxes" not in without["payload"][0]


# Get and create


def test_get_one_answers_the_contact_with_its_inboxes(server, store):
    contact = make_contact(store, name="Nok", email="nok@example.com", inbox_id=1)
    status, _, body = call(server, "GET", f"{CONTACTS}/{contact['id']}")
    assert status == 200
    payload = body["payload"]
    assert payload["id"] == contact["id"]
    assert payload["email"] == "nok@example.com"
    assert payload["contact_inboxes"][0]["inbox"]["channel_type"] == "Channel::WebWidget"
    assert isinstance(payload["created_at"], int)
    assert payload["availability_status"] == "offline"


def test_create_answers_the_contact_and_its_contact_inbox(server, store):
    status, _, body = call(
        server,
        "POST",
        CONTACTS,
        {
            "inbox_id": 3,
            "name": "Oliver Smith",
            "email": "Oliver.Smith@Example.com",
            "phone_number": "+447700900123",
            "identifier": "CRM-1",
            "custom_attributes": {"plan": "pro"},
        },
    )
    assert status == 200
    contact, contact_inbox = body["payload"]["contact"], body["payload"]["contact_inbox"]
    assert contact["email"] == "oliver.smith@example.com"
    assert (contact["first_name"], contact["last_name"]) == ("Oliver", "Smith")
    assert contact["custom_attributes"] == {"plan": "pro"}
    assert contact_inbox == {
        "source_id": "oliver.smith@example.com",
        "inbox": {"id": 3, "name": "Email support", "channel_type": "Channel::Email"},
    }
    assert store.get_contact(contact["id"])["identifier"] == "CRM-1"


def test_create_without_a_known_inbox_is_422_and_creates_nothing(server, store):
    status, _, body = call(server, "POST", CONTACTS, {"name": "No inbox"})
    assert (status, body) == (422, {"message": "Inbox can't be blank", "attributes": ["inbox_id"]})
    status, _, body = call(server, "POST", CONTACTS, {"name": "Bad", "inbox_id": 99})
    assert status == 422
    assert body["attributes"] == ["inbox_id"]
    assert store.count() == 0


# Update: merge rules


def patch(server, contact, body, query=""):
    return call(server, "PATCH", f"{CONTACTS}/{contact['id']}{query}", body)


def test_patch_keeps_additional_attributes_that_are_not_sent(server, store):
    contact = make_contact(
        store,
        additional_attributes={"city": "Bangkok", "company_name": "Siam", "source_id": "x1"},
    )
    status, _, body = patch(server, contact, {"additional_attributes": {"city": "Chiang Mai"}})
    assert status == 200
    assert body["payload"]["additional_attributes"] == {
        "city": "Chiang Mai",
        "company_name": "Siam",
        "source_id": "x1",
    }


def test_patch_replaces_social_profiles_whole(server, store):
    contact = make_contact(store, additional_attributes={"social_profiles": SOCIAL})
    _, _, body = patch(server, contact, {"additional_attributes": {"social_profiles": {"x": 1}}})
    assert body["payload"]["additional_attributes"]["social_profiles"] == {"x": 1}


def test_patch_stores_a_key_sent_as_null_as_null(server, store):
    contact = make_contact(
        store, additional_attributes={"city": "Phuket"}, custom_attributes={"plan": "pro"}
    )
    _, _, body = patch(
        server,
        contact,
        {"additional_attributes": {"city": None}, "custom_attributes": {"plan": None}},
    )
    assert body["payload"]["additional_attributes"] == {"city": None}
    assert body["payload"]["custom_attributes"] == {"plan": None}
    assert store.get_contact(contact["id"])["custom_attributes"] == {"plan": None}


def test_patch_merges_custom_attributes_key_by_key(server, store):
    contact = make_contact(store, custom_attributes={"plan": "pro", "lifetime_value": 120.5})
    _, _, body = patch(server, contact, {"custom_attributes": {"vip_level": "gold"}})
    assert body["payload"]["custom_attributes"] == {
        "plan": "pro",
        "lifetime_value": 120.5,
        "vip_level": "gold",
    }


def test_patch_ignores_read_only_and_unknown_fields(server, store):
    contact = make_contact(store, name="Kitti Boonma", created_at=1_700_000_000)
    _, _, body = patch(
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
    contact = make_contact(store)
    _, _, body = patch(server, contact, {"name": "Anna Maria de Souza"})
    payload = body["payload"]
    assert (payload["first_name"], payload["last_name"]) == ("Anna", "Maria de Souza")


def test_patch_stores_email_lower_cased_and_a_blank_email_as_null(server, store):
    contact = make_contact(store)
    assert patch(server, contact, {"email": "Nok.Shop@Example.COM"})[2]["payload"]["email"] == (
        "nok.shop@example.com"
    )
    assert patch(server, contact, {"email": "  "})[2]["payload"]["email"] is None


def test_patch_avatar_url_sets_the_thumbnail_and_empty_clears_it(server, store):
    contact = make_contact(store)
    url = "https://example.com/avatar.png"
    assert patch(server, contact, {"avatar_url": url})[2]["payload"]["thumbnail"] == url
    assert patch(server, contact, {"avatar_url": ""})[2]["payload"]["thumbnail"] == ""


def test_patch_accepts_blocked_as_a_boolean_or_a_string(server, store):
    contact = make_contact(store)
    assert patch(server, contact, {"blocked": "true"})[2]["payload"]["blocked"] is True
    assert patch(server, contact, {"blocked": False})[2]["payload"]["blocked"] is False


def test_patch_answers_contact_inboxes_only_when_asked(server, store):
    contact = make_contact(store, inbox_id=1)
    assert "contact_inboxes" not in patch(server, contact, {"name": "A"})[2]["payload"]
    _, _, body = patch(server, contact, {"name": "B"}, "?include_contact_inboxes=true")
    assert len(body["payload"]["contact_inboxes"]) == 1


def test_patch_leaves_last_activity_at_alone(server, store):
    contact = make_contact(store, last_activity_at=1_750_000_000)
    assert patch(server, contact, {"name": "Changed"})[2]["payload"]["last_activity_at"] == (
        1_750_000_000
    )


# Update: validation


def test_patch_with_an_invalid_email_is_422_email_invalid_email(server, store):
    contact = make_contact(store)
    status, _, body = patch(server, contact, {"email": "not-an-email"})
    assert (status, body) == (422, {"message": "Email Invalid email", "attributes": ["email"]})


def test_patch_with_a_taken_email_in_another_case_is_422(server, store):
    make_contact(store, email="taken@example.com")
    contact = make_contact(store, name="Other")
    status, _, body = patch(server, contact, {"email": "TAKEN@example.com"})
    assert (status, body) == (
        422,
        {"message": "Email has already been taken", "attributes": ["email"]},
    )


def test_patch_keeping_its_own_email_is_not_a_clash(server, store):
    contact = make_contact(store, email="mine@example.com")
    assert patch(server, contact, {"email": "MINE@example.com"})[0] == 200


def test_patch_with_a_phone_not_in_e164_is_422(server, store):
    contact = make_contact(store)
    for phone in ("0812345678", "+0812345678", "+66 81 234 5678", "+1234567890123456"):
        status, _, body = patch(server, contact, {"phone_number": phone})
        assert (status, body) == (
            422,
            {"message": "Phone number should be in e164 format", "attributes": ["phone_number"]},
        ), phone


def test_patch_with_a_taken_phone_is_422(server, store):
    make_contact(store, phone_number="+66811111111")
    contact = make_contact(store, name="Other")
    status, _, body = patch(server, contact, {"phone_number": "+66811111111"})
    assert (status, body) == (
        422,
        {"message": "Phone number has already been taken", "attributes": ["phone_number"]},
    )


def test_patch_with_a_taken_identifier_is_422_but_identifiers_are_case_sensitive(server, store):
    make_contact(store, identifier="CRM-42")
    contact = make_contact(store, name="Other")
    status, _, body = patch(server, contact, {"identifier": "CRM-42"})
    assert (status, body) == (
        422,
        {"message": "Identifier has already been taken", "attributes": ["identifier"]},
    )
    assert patch(server, contact, {"identifier": "crm-42"})[0] == 200


def test_patch_validation_is_all_or_nothing_and_reports_every_field(server, store):
    contact = make_contact(store, name="Before", email="before@example.com")
    status, _, body = patch(
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
    make_contact(store, name="Other", email=None, phone_number=None, identifier=None)
    contact = make_contact(store, email="a@example.com", phone_number="+66812222222")
    status, _, body = patch(server, contact, {"email": "", "phone_number": "", "identifier": ""})
    assert status == 200
    payload = body["payload"]
    assert (payload["email"], payload["phone_number"], payload["identifier"]) == (None, None, None)


def test_patch_with_non_object_attributes_is_422(server, store):
    contact = make_contact(store)
    status, _, body = patch(
        server, contact, {"additional_attributes": "x", "custom_attributes": [1]}
    )
    assert status == 422
    assert body["attributes"] == ["additional_attributes", "custom_attributes"]


def test_store_update_contact_raises_validation_failed_with_message_and_attributes(store):
    contact = make_contact(store)
    with pytest.raises(ValidationFailed) as raised:
        store.update_contact(contact["id"], {"phone_number": "081"})
    assert raised.value.message == "Phone number should be in e164 format"
    assert raised.value.attributes == ["phone_number"]


def test_seed_page_example_is_accepted_and_answered_in_the_documented_shape(server, store):
    contact = make_contact(
        store,
        name="Before",
        inbox_id=2,
        custom_attributes={"plan": "pro"},
        last_activity_at=1_765_000_000,
    )
    status, _, body = call(
        server,
        "PATCH",
        f"{CONTACTS}/{contact['id']}?include_contact_inboxes=true",
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


# Faults


def test_fail_next_fails_exactly_that_many_calls_with_json_503(server):
    server.faults.fail_next = 2
    assert call(server, "GET", CONTACTS)[::2] == (503, {"error": "Service Unavailable"})
    assert call(server, "GET", CONTACTS)[0] == 503
    assert call(server, "GET", CONTACTS)[0] == 200


def test_a_failed_patch_changes_nothing(server, store):
    contact = make_contact(store, name="Before")
    server.faults.fail_next = 1
    assert patch(server, contact, {"name": "After"})[0] == 503
    assert store.get_contact(contact["id"])["name"] == "Before"


def test_502_answers_an_html_page_not_json(server):
    server.faults.fail_next = 1
    server.faults.failure_status = 502
    status, headers, body = call(server, "GET", CONTACTS)
    assert status == 502
    assert headers["Content-Type"].startswith("text/html")
    assert body.startswith("<html>")
    with pytest.raises(json.JSONDecodeError):
        json.loads(body)


def test_rate_limit_next_answers_429_with_retry_after(server):
    server.faults.rate_limit_next = 1
    server.faults.retry_after = 3
    status, headers, _ = call(server, "GET", CONTACTS)
    assert (status, headers["Retry-After"]) == (429, "3")
    assert call(server, "GET", CONTACTS)[0] == 200


def test_hang_next_outlasts_the_clients_read_timeout_once(server):
    server.faults.hang_next = 1
    server.faults.hang_seconds = 1.0
    with pytest.raises((TimeoutError, socket.timeout, urllib.error.URLError)):
        call(server, "GET", CONTACTS, timeout=0.2)
    assert call(server, "GET", CONTACTS, timeout=2)[0] == 200


def test_latency_delays_every_api_call(server):
    server.faults.latency_ms = 150
    started = time.monotonic()
    assert call(server, "GET", CONTACTS)[0] == 200
    assert time.monotonic() - started >= 0.15


def test_failure_rate_one_fails_every_call_with_the_failure_status(server):
    server.faults.failure_rate = 1.0
    server.faults.failure_status = 500
    for _ in range(3):
        assert call(server, "GET", CONTACTS)[::2] == (500, {"error": "Internal Server Error"})


def test_a_failure_rate_of_429_answers_with_retry_after(server):
    server.faults.failure_rate = 1.0
    server.faults.failure_status = 429
    server.faults.retry_after = 2
    status, headers, _ = call(server, "GET", CONTACTS)
    assert (status, headers["Retry-After"]) == (429, "2")


def test_the_command_has_one_flag_per_fault():
    from contacts.management.commands.livedesk_sandbox import Command

    parser = Command().create_parser("manage.py", "livedesk_sandbox")
    options = vars(
        parser.parse_args(
            [
                "--hang-next",
                "2",
                "--hang-seconds",
                "5",
                "--rate-limit-next",
                "1",
                "--retry-after",
                "4",
                "--fail-next",
                "3",
                "--failure-rate",
                "0.5",
                "--failure-status",
                "502",
                "--latency-ms",
                "20",
                "--quirks",
            ]
        )
    )
    faults = Faults.from_dict({name: options[name] for name in Faults().as_dict()})

    assert faults == Faults(
        latency_ms=20,
        failure_rate=0.5,
        failure_status=502,
        fail_next=3,
        rate_limit_next=1,
        retry_after=4,
        hang_next=2,
        hang_seconds=5.0,
        quirks=True,
    )


def test_quirks_answer_the_documented_loose_types(server, store):
    contact = make_contact(store, name="Somchai Srisuk", last_activity_at=1_765_441_908)
    server.faults.quirks = True
    _, _, listed = call(server, "GET", CONTACTS)
    quirky = listed["payload"][0]
    assert listed["meta"]["current_page"] == "1"
    assert quirky["id"] == str(contact["id"])
    assert quirky["blocked"] == "false"
    assert quirky["created_at"] == str(contact["created_at"])
    assert quirky["last_activity_at"] == "1765441908"
    assert quirky["last_name"] == ["Srisuk"]
    assert patch(server, contact, {"blocked": True})[2]["payload"]["blocked"] == "true"


def test_faults_never_apply_to_control_endpoints(server):
    server.faults.fail_next = 5
    server.faults.rate_limit_next = 5
    assert call(server, "GET", "/_sandbox/faults", auth=False)[0] == 200
    assert call(server, "GET", "/_sandbox/requests", auth=False)[0] == 200
    assert server.faults.fail_next == 5


def test_faults_endpoint_reads_replaces_and_resets_the_settings(server):
    status, _, current = call(server, "GET", "/_sandbox/faults", auth=False)
    assert (status, current) == (200, Faults().as_dict())
    status, _, replaced = call(
        server, "PUT", "/_sandbox/faults", {"fail_next": 1, "quirks": True}, auth=False
    )
    assert status == 200
    assert replaced == {**Faults().as_dict(), "fail_next": 1, "quirks": True}
    assert (server.faults.fail_next, server.faults.quirks) == (1, True)
    assert call(server, "PUT", "/_sandbox/faults", {"latency_ms": 0}, auth=False)[2] == (
        Faults().as_dict()
    )
    server.faults.fail_next = 3
    assert call(server, "DELETE", "/_sandbox/faults", auth=False)[2] == Faults().as_dict()
    assert server.faults == Faults()


def test_faults_endpoint_rejects_unknown_keys_and_bad_values(server):
    for body in ({"explode": True}, {"failure_rate": 2}, {"fail_next": "1"}, [1]):
        status, _, answer = call(server, "PUT", "/_sandbox/faults", body, auth=False)
        assert status == 400, body
        assert "error" in answer


# Control endpoints


def test_requests_endpoint_records_api_calls_without_credentials(server, store):
    contact = make_contact(store)
    patch(server, contact, {"name": "New"}, "?include_contact_inboxes=true")
    call(server, "GET", f"{CONTACTS}?q=new&labels[]=a&labels[]=b", auth=False)
    status, _, recorded = call(server, "GET", "/_sandbox/requests", auth=False)
    assert status == 200
    assert recorded == [
        {
            "method": "PATCH",
            "path": f"{CONTACTS}/{contact['id']}",
            "query": {"include_contact_inboxes": "true"},
            "body": {"name": "New"},
        },
        {
            "method": "GET",
            "path": CONTACTS,
            "query": {"q": "new", "labels[]": ["a", "b"]},
            "body": None,
        },
    ]
    assert API_SECRET not in json.dumps(recorded)
    assert call(server, "DELETE", "/_sandbox/requests", auth=False)[0] == 200
    assert server.requests == []


def test_deleting_a_contact_through_control_makes_the_api_answer_404(server, store):
    contact = make_contact(store)
    status, _, _ = call(server, "DELETE", f"/_sandbox/contacts/{contact['id']}", auth=False)
    assert status == 200
    assert call(server, "GET", f"{CONTACTS}/{contact['id']}")[0] == 404
    assert call(server, "DELETE", f"/_sandbox/contacts/{contact['id']}", auth=False)[0] == 404


def test_control_patch_applies_an_edit_as_another_user_with_the_same_rules(server, store):
    contact = make_contact(store, additional_attributes={"city": "Bangkok", "country": "Thailand"})
    server.faults.fail_next = 1
    status, _, body = call(
        server,
        "PATCH",
        f"/_sandbox/contacts/{contact['id']}",
        {"additional_attributes": {"city": "Khon Kaen"}, "email": "X@Example.com"},
        auth=False,
    )
    assert status == 200
    assert body["payload"]["additional_attributes"] == {"city": "Khon Kaen", "country": "Thailand"}
    assert body["payload"]["email"] == "x@example.com"
    assert server.faults.fail_next == 1
    assert server.requests == []
    status, _, body = call(
        server, "PATCH", f"/_sandbox/contacts/{contact['id']}", {"email": "bad"}, auth=False
    )
    assert (status, body["attributes"]) == (422, ["email"])


# Storage and seeding


def test_contacts_persist_across_a_restart(tmp_path):
    path = tmp_path / "persist.sqlite3"
    first = SandboxStore(path)
    contact = first.create_contact(name="Persistent", email="p@example.com", labels=["vip"])
    first.update_contact(contact["id"], {"custom_attributes": {"plan": "pro"}})
    first.close()
    second = SandboxStore(path)
    try:
        again = second.get_contact(contact["id"])
        assert again["custom_attributes"] == {"plan": "pro"}
        assert second.count() == 1
        assert [c["id"] for c in second.list_contacts(labels=["vip"])[1]] == [contact["id"]]
    finally:
        second.close()


def test_seed_is_deterministic_for_a_random_seed(tmp_path):
    one, two = SandboxStore(tmp_path / "one.sqlite3"), SandboxStore(tmp_path / "two.sqlite3")
    try:
        assert one.seed(60, random_seed=7) == 60
        two.seed(60, random_seed=7)
        first = one.list_contacts(sort="created_at", page_size=100)
        assert first == two.list_contacts(sort="created_at", page_size=100)
        for label in LABELS:
            assert one.list_contacts(labels=[label], sort="created_at", page_size=100) == (
                two.list_contacts(labels=[label], sort="created_at", page_size=100)
            )
    finally:
        one.close()
        two.close()


def test_seeded_contacts_are_unique_and_well_formed(store):
    store.seed(400, random_seed=3)
    store.seed(400, random_seed=3)
    _, contacts = store.list_contacts(page_size=100)
    everyone = [
        contact
        for page in range(1, 9)
        for contact in store.list_contacts(page=page, page_size=100)[1]
    ]
    assert len(everyone) == store.count() == 800
    for field in ("email", "phone_number", "identifier"):
        values = [contact[field] for contact in everyone if contact[field] is not None]
        assert len(values) == len(set(values)), field
        assert len(values) < len(everyone), f"some {field} should be null"
    assert all(
        re.fullmatch(r"\+[1-9]\d{1,14}", contact["phone_number"])
        for contact in everyone
        if contact["phone_number"]
    )
    assert {c["phone_number"][:3] for c in everyone if c["phone_number"]} >= {"+66", "+44"}
    assert any(re.search("[\u0e00-\u0e7f]", contact["name"]) for contact in everyone)
    assert all(1 <= len(contact["contact_inboxes"]) <= 2 for contact in everyone)
    sample = contacts[0]
    assert set(sample["additional_attributes"]) >= {
        "description",
        "company_name",
        "city",
        "country",
        "country_code",
        "telegram",
        "social_profiles",
    }
    assert set(sample["additional_attributes"]["social_profiles"]) == set(SOCIAL)
    kinds = {key: type(value) for c in everyone for key, value in c["custom_attributes"].items()}
    assert kinds["lifetime_value"] is float
    assert kinds["newsletter"] is bool
    assert kinds["vip_level"] is str


# The management command


def test_management_command_serves_the_store_and_never_prints_the_secret(tmp_path):
    root = Path(__file__).resolve().parents[2]
    command = [
        sys.executable,
        str(root / "manage.py"),
        "livedesk_sandbox",
        "--port",
        "0",
        "--seed",
        "20",
        "--store",
        str(tmp_path / "command.sqlite3"),
        "--api-key",
        API_KEY,
        "--api-secret",
        API_SECRET,
    ]
    process = subprocess.Popen(
        command,
        cwd=root,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:
        line = process.stdout.readline()
        assert "20 contacts" in line, line
        assert API_SECRET not in line
        base_url = re.search(r"http://[\d.]+:\d+", line).group(0)
        status, _, body = call(SimpleNamespace(base_url=base_url), "GET", CONTACTS)
        assert (status, body["meta"]["count"]) == (200, 20)
    finally:
        process.terminate()
        process.wait(timeout=10)
