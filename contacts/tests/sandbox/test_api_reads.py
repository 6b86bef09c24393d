"""The LiveDesk sandbox over a real loopback socket: authentication, routing, listing, get and
create."""

import base64
import json
import urllib.error
import urllib.request

import pytest

from contacts.tests.factories import API_KEY, CONTACTS_PATH, sandbox_call, sandbox_contact_make


def ids_of(answer):
    return [contact["id"] for contact in answer["payload"]]


# Authentication and routing


def test_api_call_without_credentials_is_401_invalid_access_token(server):
    status, _, body = sandbox_call(server, "GET", CONTACTS_PATH, auth=False)
    assert (status, body) == (401, {"error": "Invalid Access Token"})


def test_api_call_with_a_wrong_secret_is_401(server):
    token = base64.b64encode(f"{API_KEY}:wrong".encode()).decode()
    request = urllib.request.Request(
        server.base_url + CONTACTS_PATH, headers={"Authorization": f"Basic {token}"}
    )
    with pytest.raises(urllib.error.HTTPError) as raised:
        urllib.request.urlopen(request, timeout=5)
    assert raised.value.code == 401
    assert json.loads(raised.value.read()) == {"error": "Invalid Access Token"}


def test_unknown_contact_and_unknown_path_are_404_resource_could_not_be_found(server):
    not_found = {"error": "Resource could not be found"}
    assert sandbox_call(server, "GET", f"{CONTACTS_PATH}/999")[::2] == (404, not_found)
    assert sandbox_call(server, "PATCH", f"{CONTACTS_PATH}/999", {"name": "x"})[::2] == (
        404,
        not_found,
    )
    assert sandbox_call(server, "GET", "/api/v2/accounts/conversations")[::2] == (404, not_found)


def test_invalid_json_body_is_400_with_an_error(server, store):
    contact = sandbox_contact_make(store)
    status, _, body = sandbox_call(
        server, "PATCH", f"{CONTACTS_PATH}/{contact['id']}", raw=b"{not json"
    )
    assert status == 400
    assert set(body) == {"error"}


# Listing, searching, sorting


def test_list_answers_15_contacts_a_page_with_the_count_over_all_pages(server, store):
    store.seed(40, random_seed=1)
    status, _, first = sandbox_call(server, "GET", CONTACTS_PATH)
    _, _, third = sandbox_call(server, "GET", f"{CONTACTS_PATH}?page=3")
    assert status == 200
    assert first["meta"] == {"count": 40, "current_page": 1}
    assert len(first["payload"]) == 15
    assert third["meta"] == {"count": 40, "current_page": 3}
    assert len(third["payload"]) == 10
    _, _, second = sandbox_call(server, "GET", f"{CONTACTS_PATH}?page=2")
    all_ids = ids_of(first) + ids_of(second) + ids_of(third)
    assert len(set(all_ids)) == 40


def test_list_honours_page_size_and_caps_it_at_100(server, store):
    store.seed(120, random_seed=1)
    assert len(sandbox_call(server, "GET", f"{CONTACTS_PATH}?page_size=10")[2]["payload"]) == 10
    assert len(sandbox_call(server, "GET", f"{CONTACTS_PATH}?page_size=500")[2]["payload"]) == 100


def test_list_page_past_the_end_is_empty_but_still_counts(server, store):
    store.seed(5, random_seed=1)
    _, _, body = sandbox_call(server, "GET", f"{CONTACTS_PATH}?page=9")
    assert body == {"meta": {"count": 5, "current_page": 9}, "payload": []}


def test_search_q_matches_name_email_phone_and_identifier_case_insensitively(server, store):
    by_name = sandbox_contact_make(store, name="Pimchanok Thongdee")
    by_email = sandbox_contact_make(store, name="A", email="ploy.shop@example.co.th")
    by_phone = sandbox_contact_make(store, name="B", phone_number="+66812345678")
    by_identifier = sandbox_contact_make(store, name="C", identifier="CRM-77123")
    sandbox_contact_make(store, name="Someone Else", email="else@example.com")

    def found(q):
        return ids_of(sandbox_call(server, "GET", f"{CONTACTS_PATH}?q={q}")[2])

    assert found("PIMCHANOK") == [by_name["id"]]
    assert found("Ploy.Shop") == [by_email["id"]]
    assert found("%2B6681234") == [by_phone["id"]]
    assert found("crm-77") == [by_identifier["id"]]
    assert sandbox_call(server, "GET", f"{CONTACTS_PATH}?q=crm-77")[2]["meta"]["count"] == 1


def test_search_q_matches_thai_script(server, store):
    thai = sandbox_contact_make(store, name="สมชาย ศรีสุข")
    sandbox_contact_make(store, name="Somchai Srisuk")
    q = urllib.request.quote("ศรีสุข")
    assert ids_of(sandbox_call(server, "GET", f"{CONTACTS_PATH}?q={q}")[2]) == [thai["id"]]


def test_labels_filter_matches_any_label_whichever_way_they_are_sent(server, store):
    vip = sandbox_contact_make(store, name="V", labels=["vip"])
    lead = sandbox_contact_make(store, name="L", labels=["lead", "follow-up"])
    sandbox_contact_make(store, name="N", labels=["complaint"])
    sandbox_contact_make(store, name="None")
    expected = sorted([vip["id"], lead["id"]])
    for query in ("labels=vip&labels=lead", "labels[]=vip&labels[]=lead", "labels=vip,lead"):
        _, _, body = sandbox_call(server, "GET", f"{CONTACTS_PATH}?{query}&sort=name")
        assert sorted(ids_of(body)) == expected, query
        assert body["meta"]["count"] == 2
    assert "labels" not in body["payload"][0]


def test_sort_by_name_both_directions_with_id_as_tie_breaker(server, store):
    bee = sandbox_contact_make(store, name="bee")
    ann_1 = sandbox_contact_make(store, name="Ann")
    ann_2 = sandbox_contact_make(store, name="ann")
    cat = sandbox_contact_make(store, name="Cat")
    _, _, ascending = sandbox_call(server, "GET", f"{CONTACTS_PATH}?sort=name&direction=asc")
    _, _, descending = sandbox_call(server, "GET", f"{CONTACTS_PATH}?sort=name&direction=desc")
    assert ids_of(ascending) == [ann_1["id"], ann_2["id"], bee["id"], cat["id"]]
    assert ids_of(descending) == [cat["id"], bee["id"], ann_2["id"], ann_1["id"]]


def test_sort_by_company_uses_additional_attributes_and_puts_missing_last(server, store):
    zeta = sandbox_contact_make(store, additional_attributes={"company_name": "Zeta Co"})
    alpha = sandbox_contact_make(store, additional_attributes={"company_name": "Alpha Ltd"})
    missing = sandbox_contact_make(store)
    _, _, ascending = sandbox_call(server, "GET", f"{CONTACTS_PATH}?sort=company&direction=asc")
    _, _, descending = sandbox_call(server, "GET", f"{CONTACTS_PATH}?sort=company&direction=desc")
    assert ids_of(ascending) == [alpha["id"], zeta["id"], missing["id"]]
    assert ids_of(descending) == [zeta["id"], alpha["id"], missing["id"]]


def test_sort_by_last_activity_at_desc_by_default(server, store):
    old = sandbox_contact_make(store, last_activity_at=1_700_000_000)
    new = sandbox_contact_make(store, last_activity_at=1_760_000_000)
    never = sandbox_contact_make(store)
    assert ids_of(sandbox_call(server, "GET", CONTACTS_PATH)[2]) == [
        new["id"],
        old["id"],
        never["id"],
    ]


def test_list_includes_contact_inboxes_unless_asked_not_to(server, store):
    sandbox_contact_make(store, inbox_id=2)
    _, _, with_inboxes = sandbox_call(server, "GET", CONTACTS_PATH)
    _, _, without = sandbox_call(server, "GET", f"{CONTACTS_PATH}?include_contact_inboxes=false")
    assert with_inboxes["payload"][0]["contact_inboxes"][0]["inbox"] == {
        "id": 2,
        "name": "LINE OA",
        "channel_type": "Channel::Api",
    }
    assert "contact_inboxes" not in without["payload"][0]


# Get and create


def test_get_one_answers_the_contact_with_its_inboxes(server, store):
    contact = sandbox_contact_make(store, name="Nok", email="nok@example.com", inbox_id=1)
    status, _, body = sandbox_call(server, "GET", f"{CONTACTS_PATH}/{contact['id']}")
    assert status == 200
    payload = body["payload"]
    assert payload["id"] == contact["id"]
    assert payload["email"] == "nok@example.com"
    assert payload["contact_inboxes"][0]["inbox"]["channel_type"] == "Channel::WebWidget"
    assert isinstance(payload["created_at"], int)
    assert payload["availability_status"] == "offline"


def test_create_answers_the_contact_and_its_contact_inbox(server, store):
    status, _, body = sandbox_call(
        server,
        "POST",
        CONTACTS_PATH,
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
    status, _, body = sandbox_call(server, "POST", CONTACTS_PATH, {"name": "No inbox"})
    assert (status, body) == (422, {"message": "Inbox can't be blank", "attributes": ["inbox_id"]})
    status, _, body = sandbox_call(server, "POST", CONTACTS_PATH, {"name": "Bad", "inbox_id": 99})
    assert status == 422
    assert body["attributes"] == ["inbox_id"]
    assert store.count() == 0
