"""The LiveDesk client against the sandbox over a real socket and scripted servers: listing,
one contact."""

from __future__ import annotations

import pytest

from contacts.livedesk import ContactUpdateAnswer, LiveDeskProtocolError
from contacts.tests.factories import (
    CONTACTS_PATH,
    api_requests,
    json_answer,
    remote_item,
    sandbox_contact_make,
)

# --- Listing ----------------------------------------------------------------------------------


def test_list_answers_one_page_of_fifteen_and_the_total_count(sandbox, client):
    for number in range(20):
        sandbox_contact_make(sandbox.store, name=f"Contact {number:02}")

    first = client.contacts_list(page=1)
    second = client.contacts_list(page=2)

    assert (len(first.contacts), first.count, first.current_page) == (15, 20, 1)
    assert (len(second.contacts), second.count, second.current_page) == (5, 20, 2)
    assert not {c.remote_id for c in first.contacts} & {c.remote_id for c in second.contacts}


def test_list_sends_page_size_and_the_sandbox_honours_it(sandbox, client):
    for number in range(12):
        sandbox_contact_make(sandbox.store, name=f"Contact {number:02}")

    page = client.contacts_list(page_size=5)

    assert len(page.contacts) == 5
    assert api_requests(sandbox)[-1]["query"]["page_size"] == "5"


def test_list_searches_name_email_phone_and_identifier_with_q(sandbox, client):
    somchai = sandbox_contact_make(
        sandbox.store, name="Somchai Srisuk", email="somchai@example.co.th"
    )
    by_phone = sandbox_contact_make(sandbox.store, name="Malee Boonma", phone_number="+66812345678")
    sandbox_contact_make(sandbox.store, name="Oliver Smith", email="oliver@example.com")

    assert [c.remote_id for c in client.contacts_list(q="somchai").contacts] == [somchai["id"]]
    assert [c.remote_id for c in client.contacts_list(q="812345").contacts] == [by_phone["id"]]
    assert api_requests(sandbox)[-1]["query"]["q"] == "812345"


def test_list_sorts_by_the_field_and_direction_asked(sandbox, client):
    for name in ("Banana", "Apple", "Cherry"):
        sandbox_contact_make(sandbox.store, name=name)

    descending = client.contacts_list(sort="name", direction="desc")
    ascending = client.contacts_list(sort="name", direction="asc")

    assert [c.name for c in descending.contacts] == ["Cherry", "Banana", "Apple"]
    assert [c.name for c in ascending.contacts] == ["Apple", "Banana", "Cherry"]
    query = api_requests(sandbox)[-1]["query"]
    assert (query["sort"], query["direction"]) == ("name", "asc")


def test_list_filters_by_any_of_the_labels(sandbox, client):
    vip = sandbox_contact_make(sandbox.store, name="Vip", labels=["vip"])
    lead = sandbox_contact_make(sandbox.store, name="Lead", labels=["lead", "bangkok"])
    sandbox_contact_make(sandbox.store, name="Plain", labels=["newsletter"])

    page = client.contacts_list(labels=["vip", "lead"])

    assert sorted(c.remote_id for c in page.contacts) == sorted([vip["id"], lead["id"]])
    assert page.count == 2


def test_list_refuses_an_unknown_sort_without_calling_livedesk(sandbox, client):
    with pytest.raises(ValueError, match="cannot sort"):
        client.contacts_list(sort="favourite_colour")

    assert api_requests(sandbox) == []


def test_contacts_iter_walks_every_page_in_creation_order(sandbox, client):
    created = [
        sandbox_contact_make(sandbox.store, name=f"Contact {n}", created_at=1_700_000_000 + n)
        for n in range(23)
    ]

    pages = list(client.contacts_iter(page_size=10))

    assert [len(page.contacts) for page in pages] == [10, 10, 3]
    assert [c.remote_id for page in pages for c in page.contacts] == [c["id"] for c in created]
    assert [r["query"]["page"] for r in api_requests(sandbox)] == ["1", "2", "3"]
    assert {(r["query"]["sort"], r["query"]["direction"]) for r in api_requests(sandbox)} == {
        ("created_at", "asc")
    }


def test_contacts_iter_without_a_count_stops_at_the_first_short_page(scripted):
    server = scripted(
        json_answer({"payload": [remote_item(1), remote_item(2)]}),
        json_answer({"payload": [remote_item(3)]}),
        json_answer({"payload": [remote_item(99)]}),
    )

    pages = list(server.client().contacts_iter(page_size=2))

    assert [c.remote_id for page in pages for c in page.contacts] == [1, 2, 3]
    assert pages[0].count is None
    assert len(server.paths) == 2


def test_contacts_iter_refuses_a_server_that_repeats_the_same_page(scripted):
    server = scripted(json_answer({"payload": [remote_item(1), remote_item(2)]}))

    with pytest.raises(LiveDeskProtocolError, match="same page"):
        list(server.client().contacts_iter(page_size=2))


def test_list_keeps_contacts_it_cannot_parse_apart_as_rejected(scripted):
    server = scripted(
        json_answer({"meta": {"count": 2}, "payload": [remote_item(7), {"name": "no id"}]})
    )

    page = server.client().contacts_list()

    assert [c.remote_id for c in page.contacts] == [7]
    assert page.rejected == [({"name": "no id"}, "LiveDesk sent a contact without a valid id.")]


# --- One contact ------------------------------------------------------------------------------


def test_contact_get_returns_the_contact_with_its_inboxes(sandbox, client):
    created = sandbox_contact_make(
        sandbox.store, name="Malee Boonma", email="malee@example.com", inbox_id=3, labels=["vip"]
    )

    contact = client.contact_get(created["id"])

    assert contact.remote_id == created["id"]
    assert (contact.name, contact.first_name, contact.last_name) == (
        "Malee Boonma",
        "Malee",
        "Boonma",
    )
    assert contact.contact_inboxes == [
        {
            "source_id": "malee@example.com",
            "inbox": {"id": 3, "name": "Email support", "channel_type": "Channel::Email"},
        }
    ]
    assert api_requests(sandbox)[-1]["query"]["include_contact_inboxes"] == "true"


def test_contact_update_sends_the_body_as_given_and_asks_for_inboxes(sandbox, client):
    created = sandbox_contact_make(
        sandbox.store,
        name="Wichai Kaewmanee",
        inbox_id=2,
        additional_attributes={"city": "Chiang Mai", "source_id": "crm"},
        custom_attributes={"plan": "free"},
    )
    body = {
        "name": "Wichai K.",
        "additional_attributes": {"city": "Bangkok"},
        "custom_attributes": {"plan": "pro", "old_key": None},
    }

    answer = client.contact_update(created["id"], body)

    contact = answer.contact
    patch = api_requests(sandbox, "PATCH")[-1]
    assert patch["body"] == body
    assert patch["path"] == f"{CONTACTS_PATH}/{created['id']}"
    assert patch["query"]["include_contact_inboxes"] == "true"
    assert contact.name == "Wichai K."
    assert contact.additional_attributes == {"city": "Bangkok", "source_id": "crm"}
    assert contact.custom_attributes == {"plan": "pro", "old_key": None}
    assert [link["inbox"]["id"] for link in contact.contact_inboxes] == [2]
    assert answer.status == 200
    assert not hasattr(client, "last_status")


def test_contact_update_answers_the_2xx_status_livedesk_sent_with_the_contact(scripted):
    server = scripted(json_answer({"payload": remote_item(41, name="Kitti")}, status=202))

    answer = server.client().contact_update(41, {"name": "Kitti"})

    assert isinstance(answer, ContactUpdateAnswer)
    assert answer.status == 202
    assert (answer.contact.remote_id, answer.contact.name) == (41, "Kitti")
    assert server.paths == ["/api/v2/accounts/contacts/41?include_contact_inboxes=true"]
    with pytest.raises(AttributeError):
        answer.status = 200


def test_contact_update_answer_without_a_payload_object_is_a_protocol_error(scripted):
    server = scripted(json_answer({"payload": [remote_item(41)]}))

    with pytest.raises(LiveDeskProtocolError, match="payload"):
        server.client().contact_update(41, {"name": "Kitti"})


def test_list_page_carries_the_status_it_came_with(scripted):
    server = scripted(json_answer({"meta": {"count": 1}, "payload": [remote_item(5)]}, 203))

    page = server.client().contacts_list()

    assert (page.status, page.count, [c.remote_id for c in page.contacts]) == (203, 1, [5])


# --- The environment's proxy ------------------------------------------------------------------


@pytest.mark.parametrize("no_proxy, reached", [("", False), ("127.0.0.1", True)])
def test_the_environments_proxy_and_no_proxy_are_honoured(sandbox, monkeypatch, no_proxy, reached):
    """Read once when the client is made (not on every call), as requests reads them."""
    from contacts.livedesk import LiveDeskClient, LiveDeskUnavailable

    remote_id = sandbox_contact_make(sandbox.store, name="Ann")["id"]
    for name in ("http_proxy", "HTTP_PROXY", "no_proxy", "NO_PROXY", "all_proxy", "ALL_PROXY"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HTTP_PROXY", "http://127.0.0.1:9")  # the discard port: nobody answers
    monkeypatch.setenv("NO_PROXY", no_proxy)

    with LiveDeskClient(retries=0) as client:
        if reached:
            assert client.contact_get(remote_id).name == "Ann"
        else:
            with pytest.raises(LiveDeskUnavailable):
                client.contact_get(remote_id)
