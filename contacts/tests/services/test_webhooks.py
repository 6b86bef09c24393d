"""LiveDesk's webhook, POST /webhooks/livedesk/: signature or token, order, replays, bad input.

The contacts come from the real sandbox over loopback (synced into the mirror); the events are
built as the sandbox's sender builds them (Chatwoot's shape) and posted through Django's client.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
import time
from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection
from django.utils import timezone

from contacts import services
from contacts.models import Contact, ContactEdit, WebhookDelivery
from contacts.sandbox.webhooks import contact_created_event, contact_updated_event
from contacts.services.webhooks import WebhookOutcome, webhook_authenticate, webhook_receive
from contacts.tests.factories import contact_synced, edit_failed_transiently

pytestmark = pytest.mark.django_db

SECRET = "test-webhook-secret-3f9a"
URL = "/webhooks/livedesk/"


@pytest.fixture(autouse=True)
def webhooks_on(settings):
    settings.LIVEDESK_WEBHOOK_SECRET = SECRET
    settings.LIVEDESK_WEBHOOK_MAX_SKEW_SECONDS = 300
    settings.LIVEDESK_WEBHOOK_MAX_BYTES = 1024 * 1024


def sign(timestamp: str, raw: bytes, secret: str = SECRET) -> str:
    """X-Chatwoot-Signature as documented: sha256= and the HMAC of "<timestamp>.<body>"."""
    message = f"{timestamp}.".encode() + raw
    return "sha256=" + hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def deliver(
    client,
    body,
    *,
    at: float | None = None,
    delivery: str | None = None,
    secret: str = SECRET,
    signed: bool = True,
    token: str | None = None,
    headers: dict | None = None,
    path: str = URL,
):
    """POST an event; `body` is JSON-encoded unless it is bytes already."""
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    sent = {}
    if signed:
        timestamp = str(int(time.time() if at is None else at))
        sent = {
            "X-Chatwoot-Timestamp": timestamp,
            "X-Chatwoot-Signature": sign(timestamp, raw, secret),
        }
    if delivery is not None:
        sent["X-Chatwoot-Delivery"] = delivery
    query = "" if token is None else f"?token={token}"
    return client.post(
        path + query, data=raw, content_type="application/json", headers={**sent, **(headers or {})}
    )


def changed_in_sandbox(sandbox, contact: Contact, changes: dict) -> dict:
    """Change the contact in the sandbox's store (no webhook); the contact_updated event."""
    before = sandbox.store.get_contact(contact.remote_id, include_contact_inboxes=False)
    after = sandbox.store.update_contact(contact.remote_id, changes)
    return contact_updated_event(before, after)


def outside_changes(contact: Contact) -> list[ContactEdit]:
    return list(
        ContactEdit.objects.filter(
            contact=contact,
            source=ContactEdit.Source.LIVEDESK,
            seen_via=ContactEdit.SeenVia.WEBHOOK,
        )
    )


def untouched(contact: Contact) -> bool:
    """Nothing the webhook could have written: the mirror row, its history, deliveries."""
    stored = Contact.objects.get(pk=contact.pk)
    return (
        stored.version == contact.version
        and stored.mirror_digest == contact.mirror_digest
        and not ContactEdit.objects.filter(contact=contact).exists()
        and not WebhookDelivery.objects.exists()
    )


@pytest.fixture
def ann(sandbox) -> Contact:
    return contact_synced(
        sandbox=sandbox,
        name="Ann Lee",
        email="ann@example.com",
        blocked=True,
        additional_attributes={"city": "Bangkok", "company_name": "Acme"},
        custom_attributes={"tier": "gold"},
    )


# --- Applied ------------------------------------------------------------------------------------


def test_a_signed_update_changes_the_mirror_and_records_one_outside_change(sandbox, client, ann):
    event = changed_in_sandbox(
        sandbox, ann, {"name": "Ann Smith", "additional_attributes": {"city": "Chiang Mai"}}
    )

    response = deliver(client, event, delivery="d-1")

    assert response.status_code == 200
    assert response.json() == {
        "status": "applied",
        "detail": "Mirror updated.",
        "event": "contact_updated",
        "contact": ann.remote_id,
    }
    mirror = Contact.objects.get(pk=ann.pk)
    assert (mirror.name, mirror.city, mirror.version) == (
        "Ann Smith",
        "Chiang Mai",
        ann.version + 1,
    )
    [row] = outside_changes(ann)
    assert row.editor_username == "LiveDesk" and row.state == ContactEdit.State.SUCCEEDED
    assert {change["field"] for change in row.changes} == {"name", "additional_attributes.city"}
    [delivery] = WebhookDelivery.objects.all()
    assert (delivery.delivery_id, delivery.event, delivery.remote_id, delivery.outcome) == (
        "d-1",
        "contact_updated",
        ann.remote_id,
        WebhookDelivery.Outcome.APPLIED,
    )


def test_fields_a_contact_event_leaves_out_keep_their_values(sandbox, client, ann):
    # Chatwoot's contact events carry no `blocked`, first or last name, or timestamps.
    event = changed_in_sandbox(sandbox, ann, {"email": "ann.lee@example.com"})
    assert "blocked" not in event and "first_name" not in event

    assert deliver(client, event).status_code == 200

    mirror = Contact.objects.get(pk=ann.pk)
    assert (mirror.email, mirror.blocked, mirror.first_name, mirror.last_name) == (
        "ann.lee@example.com",
        True,
        "Ann",
        "Lee",
    )
    assert mirror.created_at == ann.created_at
    [row] = outside_changes(ann)
    assert [change["field"] for change in row.changes] == ["email"]


def test_a_field_only_in_changed_attributes_is_applied(sandbox, client, ann):
    event = changed_in_sandbox(sandbox, ann, {"blocked": False})
    assert event["changed_attributes"] == [
        {"blocked": {"previous_value": True, "current_value": False}}
    ]

    assert deliver(client, event).json()["status"] == "applied"

    assert Contact.objects.get(pk=ann.pk).blocked is False
    [row] = outside_changes(ann)
    assert [change["field"] for change in row.changes] == ["blocked"]


def test_the_token_form_is_accepted_without_a_signature(sandbox, client, ann):
    event = changed_in_sandbox(sandbox, ann, {"name": "Ann Token"})

    response = deliver(client, event, signed=False, token=SECRET)

    assert (response.status_code, response.json()["status"]) == (200, "applied")
    assert Contact.objects.get(pk=ann.pk).name == "Ann Token"
    assert len(outside_changes(ann)) == 1


def test_the_path_without_its_final_slash_is_served_too(sandbox, client, ann):
    event = changed_in_sandbox(sandbox, ann, {"name": "Ann Slash"})

    assert deliver(client, event, path="/webhooks/livedesk").status_code == 200


def test_a_new_contact_is_created_in_the_mirror_without_a_history_row(sandbox, client):
    remote = sandbox.store.create_contact(name="Niran Chai", email="niran@example.com")

    response = deliver(client, contact_created_event(remote))

    assert (response.status_code, response.json()["status"]) == (200, "created")
    mirror = Contact.objects.get(remote_id=remote["id"])
    assert (mirror.name, mirror.email, mirror.version) == ("Niran Chai", "niran@example.com", 1)
    assert not ContactEdit.objects.exists()


def test_a_conversation_event_applies_its_meta_sender(sandbox, client, ann):
    sender = {
        "id": ann.remote_id,
        "name": "Ann Lee",
        "email": "ann@example.com",
        "phone_number": "",
        "identifier": "",
        "thumbnail": "",
        "blocked": False,
        "additional_attributes": ann.additional_attributes,
        "custom_attributes": {"tier": "platinum"},
        "type": "contact",
    }
    event = {"event": "conversation_created", "id": 77, "meta": {"sender": sender}}

    assert deliver(client, event).json()["status"] == "applied"

    mirror = Contact.objects.get(pk=ann.pk)
    assert (mirror.blocked, mirror.custom_attributes) == (False, {"tier": "platinum"})
    [row] = outside_changes(ann)
    assert {change["field"] for change in row.changes} == {"blocked", "custom_attributes.tier"}


def test_a_webhook_reporting_our_own_unanswered_edit_does_not_call_it_livedesks(
    sandbox, client, ann, agent
):
    edit = edit_failed_transiently(
        sandbox=sandbox, contact=ann, editor=agent, changes={"name": "Ann Agent"}
    )
    # LiveDesk applied the PATCH after all, and someone changed the city there too.
    event = changed_in_sandbox(
        sandbox, ann, {"name": "Ann Agent", "additional_attributes": {"city": "Phuket"}}
    )

    assert deliver(client, event).json()["status"] == "applied"

    [row] = outside_changes(ann)
    assert [change["field"] for change in row.changes] == ["additional_attributes.city"]
    assert Contact.objects.get(pk=ann.pk).name == "Ann Agent"
    edit.refresh_from_db()
    assert edit.state == ContactEdit.State.FAILED


# --- Order and replays ----------------------------------------------------------------------


def test_a_replayed_delivery_changes_nothing_and_is_recorded_once(sandbox, client, ann):
    event = changed_in_sandbox(sandbox, ann, {"name": "Ann Smith"})
    deliver(client, event, delivery="d-42")
    version = Contact.objects.get(pk=ann.pk).version

    response = deliver(client, event, delivery="d-42")

    assert (response.status_code, response.json()["status"]) == (200, "duplicate")
    assert Contact.objects.get(pk=ann.pk).version == version
    assert len(outside_changes(ann)) == 1
    assert WebhookDelivery.objects.count() == 1


def test_without_a_delivery_id_a_replay_is_known_by_its_body(sandbox, client, ann):
    event = changed_in_sandbox(sandbox, ann, {"name": "Ann Smith"})
    first = deliver(client, event, signed=False, token=SECRET)
    # Someone changes the contact back meanwhile (seen by a sync), then the same body comes again.
    second = deliver(client, event, signed=False, token=SECRET)

    assert [first.json()["status"], second.json()["status"]] == ["applied", "duplicate"]
    [delivery] = WebhookDelivery.objects.all()
    body = json.dumps(event).encode()
    assert delivery.delivery_id == "sha256:" + hashlib.sha256(body).hexdigest()


def test_an_older_event_after_a_newer_one_is_ignored(sandbox, client, ann):
    now = time.time()
    older = changed_in_sandbox(sandbox, ann, {"name": "Ann Older"})
    newer = changed_in_sandbox(sandbox, ann, {"name": "Ann Newer"})

    assert deliver(client, newer, at=now, delivery="new").json()["status"] == "applied"
    response = deliver(client, older, at=now - 60, delivery="old")

    assert (response.status_code, response.json()["status"]) == (200, "stale")
    assert Contact.objects.get(pk=ann.pk).name == "Ann Newer"
    assert len(outside_changes(ann)) == 1
    assert WebhookDelivery.objects.get(delivery_id="old").outcome == "stale"


def test_an_event_older_than_the_last_sync_is_ignored(sandbox, client, ann):
    event = changed_in_sandbox(sandbox, ann, {"name": "Ann Before The Sync"})

    response = deliver(client, event, at=time.time() - 120)

    assert response.json()["status"] == "stale"
    assert Contact.objects.get(pk=ann.pk).name == "Ann Lee"


def test_an_event_without_news_changes_nothing_but_is_recorded(sandbox, client, ann):
    before = sandbox.store.get_contact(ann.remote_id, include_contact_inboxes=False)
    event = {**contact_updated_event(before, {**before, "name": "x"}), "name": "Ann Lee"}

    assert deliver(client, event).json()["status"] == "unchanged"

    assert Contact.objects.get(pk=ann.pk).version == ann.version
    assert not ContactEdit.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_the_same_delivery_twice_at_once_is_applied_once(sandbox, ann):
    event = json.dumps(changed_in_sandbox(sandbox, ann, {"name": "Ann Twice"})).encode()
    results, barrier = [], threading.Barrier(2)

    def receive():
        try:
            barrier.wait()
            results.append(
                webhook_receive(body=event, event_at=timezone.now(), delivery_id="same").outcome
            )
        finally:
            connection.close()

    threads = [threading.Thread(target=receive) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    assert sorted(results) == [WebhookOutcome.APPLIED, WebhookOutcome.DUPLICATE]
    assert len(outside_changes(ann)) == 1
    assert WebhookDelivery.objects.count() == 1


# --- Refused: who sent it ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "tamper",
    [
        "wrong secret",
        "body changed",
        "no signature",
        "no timestamp",
        "no prefix",
        "wrong token",
        "nothing",
    ],
)
def test_a_delivery_not_signed_with_the_secret_is_401_and_changes_nothing(
    sandbox, client, ann, tamper
):
    event = changed_in_sandbox(sandbox, ann, {"name": "Mallory"})
    raw = json.dumps(event).encode()
    timestamp = str(int(time.time()))
    headers = {"X-Chatwoot-Timestamp": timestamp, "X-Chatwoot-Signature": sign(timestamp, raw)}
    path = URL
    if tamper == "wrong secret":
        headers["X-Chatwoot-Signature"] = sign(timestamp, raw, "not-the-secret")
    elif tamper == "body changed":
        raw = raw.replace(b"Mallory", b"Mallorx")
    elif tamper == "no signature":
        del headers["X-Chatwoot-Signature"]
    elif tamper == "no timestamp":
        del headers["X-Chatwoot-Timestamp"]
    elif tamper == "no prefix":
        headers["X-Chatwoot-Signature"] = headers["X-Chatwoot-Signature"].removeprefix("sha256=")
    elif tamper == "wrong token":
        headers, path = {}, URL + "?token=" + SECRET[:-1] + "x"
    else:
        headers = {}

    response = client.post(path, data=raw, content_type="application/json", headers=headers)

    assert response.status_code == 401
    assert response.json() == {"error": "Missing or invalid signature or token."}
    assert untouched(ann)


@pytest.mark.parametrize("offset", [-301, 301, -3600 * 24 * 365])
def test_a_signature_with_a_timestamp_out_of_the_window_is_401(sandbox, client, ann, offset):
    event = changed_in_sandbox(sandbox, ann, {"name": "Replayed Later"})

    response = deliver(client, event, at=time.time() + offset)

    assert response.status_code == 401
    assert "more than 300 seconds" in response.json()["error"]
    assert untouched(ann)


def test_a_token_with_characters_outside_ascii_is_401_not_500(sandbox, client, ann):
    event = changed_in_sandbox(sandbox, ann, {"name": "Unicode"})

    response = deliver(client, event, signed=False, token="ทดสอบ")

    assert response.status_code == 401
    assert untouched(ann)


def test_with_no_secret_set_webhooks_are_off_404(sandbox, client, ann, settings):
    settings.LIVEDESK_WEBHOOK_SECRET = ""
    event = changed_in_sandbox(sandbox, ann, {"name": "Nobody Listens"})

    response = deliver(client, event, token="")

    assert (response.status_code, response.json()) == (404, {"error": "Not found."})
    assert untouched(ann)


def test_only_post_is_allowed(client):
    response = client.get(URL + "?token=" + SECRET)

    assert (response.status_code, response["Allow"]) == (405, "POST")
    assert response.json() == {"error": "Only POST is allowed."}


# --- Refused: what it says ----------------------------------------------------------------------


def test_a_body_over_the_bound_is_413_before_anything_is_checked(sandbox, client, ann):
    raw = b'{"event": "contact_updated", "pad": "' + b"x" * (1024 * 1024) + b'"}'

    response = deliver(client, raw)

    assert response.status_code == 413
    assert response.json() == {"error": "The body is larger than 1048576 bytes."}
    assert untouched(ann)


@pytest.mark.parametrize(
    ("raw", "error"),
    [
        (b"{not json", "Unreadable body: a body that is not JSON."),
        (b"", "Unreadable body: a body that is not JSON."),
        (b"[1, 2]", "The body is not a JSON object."),
        (b'{"id": 1}', "The body names no event."),
        (b'{"event": 5}', "The body names no event."),
        (b"[" * 100_000 + b"]" * 100_000, "Unreadable body: JSON nested too deeply to read."),
        (b"\xff\xfe\x00garbage", "Unreadable body: a body that is not JSON."),
    ],
)
def test_a_body_that_is_not_an_event_is_400(sandbox, client, ann, raw, error):
    response = deliver(client, raw)

    assert (response.status_code, response.json()) == (400, {"error": error})
    assert untouched(ann)


@pytest.mark.parametrize(
    ("contact", "error"),
    [
        ({"id": None}, "without a valid id"),
        ({"id": 2**63}, "without a valid id"),
        ({"id": "12abc"}, "without a valid id"),
        ({"custom_attributes": {"score": float("nan")}}, "NaN"),
        ({"additional_attributes": json.loads("[" * 70 + "]" * 70)}, "nested deeper"),
    ],
)
def test_a_hostile_contact_is_400_with_the_reason_and_nothing_is_stored(
    sandbox, client, ann, contact, error
):
    event = {"event": "contact_updated", "id": ann.remote_id, "name": "Hostile", **contact}

    response = deliver(client, json.dumps(event).encode(), delivery="hostile")

    assert response.status_code == 400
    assert error in response.json()["error"]
    assert untouched(ann)


def test_a_nul_in_a_contact_is_stored_as_a_replacement_character(sandbox, client, ann):
    event = {**changed_in_sandbox(sandbox, ann, {"name": "Ann Nul"}), "name": "Ann\u0000Lee"}

    assert deliver(client, event).status_code == 200

    assert Contact.objects.get(pk=ann.pk).name == "Ann\ufffdLee"


def test_a_nul_in_the_event_name_is_stored_as_a_replacement_character(sandbox, client, ann):
    sender = {"id": ann.remote_id, "name": "Ann Nul Event", "type": "contact"}
    event = {"event": "conversation_\u0000created", "meta": {"sender": sender}}

    assert deliver(client, event).json()["status"] == "applied"

    assert WebhookDelivery.objects.get().event == "conversation_\ufffdcreated"


def test_a_bad_delivery_id_is_400(sandbox, client, ann):
    event = changed_in_sandbox(sandbox, ann, {"name": "Ann Smith"})

    response = deliver(client, event, delivery="x" * 201)

    assert response.status_code == 400
    assert untouched(ann)


@pytest.mark.parametrize(
    ("event", "detail"),
    [
        ({"event": "message_created", "content": "hi"}, "It carries no contact: ignored."),
        ({"event": "conversation_status_changed", "meta": {}}, "It carries no contact: ignored."),
        ({"event": "webwidget_triggered", "contact": {"id": 1}}, "This app does not use it"),
        ({"event": "contact_deleted", "id": 5}, "This app does not use it: ignored."),
    ],
)
def test_an_event_about_no_contact_is_accepted_and_ignored_202(sandbox, client, ann, event, detail):
    response = deliver(client, event)

    assert response.status_code == 202
    assert response.json()["status"] == "ignored"
    assert detail in response.json()["detail"]
    assert untouched(ann)


def test_an_agents_sender_in_a_conversation_event_is_ignored(sandbox, client, ann):
    event = {"event": "conversation_updated", "meta": {"sender": {"id": 3, "type": "user"}}}

    assert deliver(client, event).status_code == 202
    assert untouched(ann)


# --- The signature's rules, directly ---------------------------------------------------------


def authenticate(*, at: str, now: datetime, body: bytes = b"{}", token: str = ""):
    return webhook_authenticate(
        secret=SECRET,
        body=body,
        signature=sign(at, body),
        timestamp=at,
        token=token,
        now=now,
        max_skew_seconds=300,
    )


def test_a_signed_event_is_applied_as_of_the_end_of_its_second_never_later_than_now():
    now = datetime(2026, 11, 24, 12, 0, 30, 500_000, tzinfo=UTC)
    second = int(datetime(2026, 11, 24, 12, 0, 0, tzinfo=UTC).timestamp())

    earlier = authenticate(at=str(second), now=now)
    this_second = authenticate(at=str(second + 30), now=now)

    assert earlier.event_at == datetime(2026, 11, 24, 12, 0, 0, 999_999, tzinfo=UTC)
    assert earlier.signed
    assert this_second.event_at == now


def test_the_skew_window_is_inclusive_and_a_stale_signature_may_still_carry_the_token():
    now = datetime(2026, 11, 24, 12, 0, 0, tzinfo=UTC)
    edge = str(int(now.timestamp()) - 300)
    past = str(int(now.timestamp()) - 301)

    assert authenticate(at=edge, now=now).accepted
    assert not authenticate(at=past, now=now).accepted
    with_token = authenticate(at=past, now=now, token=SECRET)
    assert (with_token.event_at, with_token.signed) == (now, False)


def test_nothing_is_accepted_while_the_secret_is_empty():
    result = webhook_authenticate(
        secret="",
        body=b"{}",
        signature=sign("1", b"{}", ""),
        timestamp="1",
        token="",
        now=timezone.now(),
        max_skew_seconds=10**12,
    )

    assert not result.accepted


def test_event_at_is_stored_with_the_delivery(sandbox, ann):
    event_at = timezone.now() + timedelta(seconds=1)
    body = json.dumps({"event": "contact_updated", "id": ann.remote_id, "name": "Ann X"})

    result = webhook_receive(body=body.encode(), event_at=event_at, delivery_id="t-1")

    assert result.outcome == WebhookOutcome.APPLIED
    assert WebhookDelivery.objects.get().event_at == event_at


def test_a_sync_after_a_partial_event_finds_the_contact_unchanged(sandbox, client, ann):
    # The mirror rebuilt from its columns, the event laid over it: the same digest as sync's.
    event = changed_in_sandbox(sandbox, ann, {"email": "ann.lee@example.com"})
    assert deliver(client, event).status_code == 200
    version = Contact.objects.get(pk=ann.pk).version

    summary = services.contacts_sync()

    assert (summary.updated, summary.unchanged) == (0, 1)
    assert Contact.objects.get(pk=ann.pk).version == version
