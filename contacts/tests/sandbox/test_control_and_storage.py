"""The sandbox's control endpoints, its storage and seeding, and its management command."""

import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path
from types import SimpleNamespace

from contacts.sandbox.seed import LABELS
from contacts.sandbox.store import SandboxStore
from contacts.tests.factories import (
    API_KEY,
    API_SECRET,
    CONTACTS_PATH,
    SOCIAL,
    sandbox_call,
    sandbox_contact_make,
    sandbox_patch,
)

# Control endpoints


def test_requests_endpoint_records_api_calls_without_credentials(server, store):
    contact = sandbox_contact_make(store)
    before = time.time()
    sandbox_patch(server, contact, {"name": "New"}, "?include_contact_inboxes=true")
    sandbox_call(server, "GET", f"{CONTACTS_PATH}?q=new&labels[]=a&labels[]=b", auth=False)
    status, _, recorded = sandbox_call(server, "GET", "/_sandbox/requests", auth=False)
    assert status == 200
    # Each call with when it arrived (seconds since the epoch), in order.
    arrivals = [request.pop("at") for request in recorded]
    assert before <= arrivals[0] <= arrivals[1] <= time.time()
    assert recorded == [
        {
            "method": "PATCH",
            "path": f"{CONTACTS_PATH}/{contact['id']}",
            "query": {"include_contact_inboxes": "true"},
            "body": {"name": "New"},
        },
        {
            "method": "GET",
            "path": CONTACTS_PATH,
            "query": {"q": "new", "labels[]": ["a", "b"]},
            "body": None,
        },
    ]
    assert API_SECRET not in json.dumps(recorded)
    assert sandbox_call(server, "DELETE", "/_sandbox/requests", auth=False)[0] == 200
    assert server.requests == []


def test_deleting_a_contact_through_control_makes_the_api_answer_404(server, store):
    contact = sandbox_contact_make(store)
    status, _, _ = sandbox_call(server, "DELETE", f"/_sandbox/contacts/{contact['id']}", auth=False)
    assert status == 200
    assert sandbox_call(server, "GET", f"{CONTACTS_PATH}/{contact['id']}")[0] == 404
    assert (
        sandbox_call(server, "DELETE", f"/_sandbox/contacts/{contact['id']}", auth=False)[0] == 404
    )


def test_control_patch_applies_an_edit_as_another_user_with_the_same_rules(server, store):
    contact = sandbox_contact_make(
        store, additional_attributes={"city": "Bangkok", "country": "Thailand"}
    )
    server.faults.fail_next = 1
    status, _, body = sandbox_call(
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
    status, _, body = sandbox_call(
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
    root = Path(__file__).resolve().parents[3]
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
        status, _, body = sandbox_call(SimpleNamespace(base_url=base_url), "GET", CONTACTS_PATH)
        assert (status, body["meta"]["count"]) == (200, 20)
    finally:
        process.terminate()
        process.wait(timeout=10)
