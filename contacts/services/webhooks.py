"""LiveDesk's webhook: contact events applied to the mirror, each delivery once, oldest never last.

LiveDesk (like Chatwoot) POSTs `contact_created` and `contact_updated` with the contact's fields
at the top level, and conversation and message events with the contact as `meta.sender`. Either
way the contact is parsed as an answer from LiveDesk is, laid over the mirror's last full copy
(the events leave fields out: no `blocked` in a contact event, no names split, no timestamps),
and applied as of the event's time: an event older than the mirror's state changes nothing, so
deliveries may come in any order. Each delivery is recorded once (`WebhookDelivery`); a replay
changes nothing.

`webhook_authenticate` checks a delivery's signature or token; `webhook_receive` applies it.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone

from contacts.fields import Values, contact_values
from contacts.livedesk import LiveDeskProtocolError, parse_contact
from contacts.livedesk.json_safety import Unreadable, json_decode, text_clean
from contacts.models import Contact, ContactEdit, WebhookDelivery
from contacts.services.facets import contact_country_seen
from contacts.services.mirror import (
    mirror_apply,
    mirror_payload,
    mirror_values,
    outside_change_record,
)

logger = logging.getLogger(__name__)

CONTACT_EVENTS = frozenset({"contact_created", "contact_updated"})
# Events whose `meta.sender` (or `conversation.meta.sender`) is the contact.
SENDER_EVENT_PREFIXES = ("conversation_", "message_")
# A contact's fields as LiveDesk answers them: the ones a webhook's contact may set.
CONTACT_KEYS = frozenset(
    {
        "id",
        "name",
        "first_name",
        "last_name",
        "email",
        "phone_number",
        "identifier",
        "thumbnail",
        "availability_status",
        "blocked",
        "additional_attributes",
        "custom_attributes",
        "contact_inboxes",
        "created_at",
        "last_activity_at",
    }
)
# The event's own keys around a contact event's fields, never part of the contact.
ENVELOPE_KEYS = frozenset({"event", "changed_attributes", "account", "avatar", "type"})
MAX_CHANGED_ATTRIBUTES = 200
SIGNATURE_PREFIX = "sha256="
_TIMESTAMP = re.compile(r"[0-9]{1,12}", re.ASCII)
_DELIVERY_ID = re.compile(r"[!-~]{1,200}", re.ASCII)  # printable ASCII, no spaces
# Chatwoot's timestamps are whole seconds: an event signed at second S happened before S + 1.
TIMESTAMP_RESOLUTION = timedelta(seconds=1) - timedelta(microseconds=1)

Outcome = WebhookDelivery.Outcome
# What the answer says (in English whatever the request's language: LiveDesk reads it).
DETAILS = {
    Outcome.CREATED: "Contact created in the mirror.",
    Outcome.APPLIED: "Mirror updated.",
    Outcome.UNCHANGED: "The mirror already held this state.",
    Outcome.STALE: "Older than the mirror's state: ignored.",
}


# --- Who sent it -------------------------------------------------------------------------------


@dataclass(frozen=True)
class WebhookAuthentication:
    """Whether a delivery is LiveDesk's and, if it is, the time its event is applied as of."""

    event_at: datetime | None
    reason: str = ""
    signed: bool = False

    @property
    def accepted(self) -> bool:
        return self.event_at is not None


def webhook_authenticate(
    *,
    secret: str,
    body: bytes,
    signature: str,
    timestamp: str,
    token: str,
    now: datetime,
    max_skew_seconds: int,
) -> WebhookAuthentication:
    """Accept a delivery with a valid signature whose timestamp is within `max_skew_seconds` of
    `now`, or with the secret as its URL's token; both compared in constant time.

    A signed event is applied as of its timestamp (the end of that second, never later than
    `now`), a token's as of `now`, when it was received.
    """
    if not secret:
        return WebhookAuthentication(None, "Webhooks are off.")
    if _signature_valid(secret=secret, body=body, signature=signature, timestamp=timestamp):
        sent = int(timestamp)
        if abs(sent - now.timestamp()) <= max_skew_seconds:
            sent_at = datetime.fromtimestamp(sent, tz=UTC)
            return WebhookAuthentication(min(sent_at + TIMESTAMP_RESOLUTION, now), signed=True)
        if not _token_valid(secret=secret, token=token):
            return WebhookAuthentication(
                None,
                f"The signature's timestamp is more than {max_skew_seconds} seconds from now.",
            )
    if _token_valid(secret=secret, token=token):
        return WebhookAuthentication(now)
    return WebhookAuthentication(None, "Missing or invalid signature or token.")


def _signature_valid(*, secret: str, body: bytes, signature: str, timestamp: str) -> bool:
    """X-Chatwoot-Signature is `sha256=` and the hex HMAC-SHA256 of "<timestamp>.<body>"."""
    signature, timestamp = signature.strip(), timestamp.strip()
    if not signature.startswith(SIGNATURE_PREFIX) or not _TIMESTAMP.fullmatch(timestamp):
        return False
    expected = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    given = signature.removeprefix(SIGNATURE_PREFIX).lower()
    return hmac.compare_digest(expected.hexdigest().encode(), given.encode("utf-8", "replace"))


def _token_valid(*, secret: str, token: str) -> bool:
    return bool(token) and hmac.compare_digest(
        token.encode("utf-8", "replace"), secret.encode("utf-8", "replace")
    )


# --- What it says ------------------------------------------------------------------------------


class WebhookOutcome(StrEnum):
    """What `webhook_receive` did with a delivery."""

    CREATED = Outcome.CREATED.value  # a contact new to the mirror
    APPLIED = Outcome.APPLIED.value  # the mirror changed
    UNCHANGED = Outcome.UNCHANGED.value  # the mirror already held it
    STALE = Outcome.STALE.value  # older than the mirror's state: nothing changed
    DUPLICATE = "duplicate"  # this delivery was received before: nothing changed
    IGNORED = "ignored"  # not an event about a contact
    REFUSED = "refused"  # unreadable, or a contact this app does not take: nothing stored


@dataclass(frozen=True)
class WebhookResult:
    outcome: WebhookOutcome
    detail: str
    event: str = ""
    remote_id: int | None = None


def webhook_receive(
    *, body: bytes, event_at: datetime, delivery_id: str = "", received_at: datetime | None = None
) -> WebhookResult:
    """Apply one authenticated delivery to the mirror, in one transaction.

    `delivery_id` is X-Chatwoot-Delivery; without one the delivery is known by its body's
    SHA-256. A delivery received before changes nothing (DUPLICATE). An event about no contact
    is IGNORED; an unreadable body or a contact LiveDeskProtocolError refuses is REFUSED, with
    nothing stored.
    """
    received_at = received_at or timezone.now()
    try:
        data = json_decode(body)
    except Unreadable as error:
        return WebhookResult(WebhookOutcome.REFUSED, f"Unreadable body: {error}.")
    if not isinstance(data, dict):
        return WebhookResult(WebhookOutcome.REFUSED, "The body is not a JSON object.")
    event = data.get("event")
    if not isinstance(event, str) or not event.strip():
        return WebhookResult(WebhookOutcome.REFUSED, "The body names no event.")
    event = text_clean(event.strip()[:64])
    fields = _contact_fields(event, data)
    if fields is None:
        known = event in CONTACT_EVENTS or event.startswith(SENDER_EVENT_PREFIXES)
        detail = "It carries no contact" if known else "This app does not use it"
        return WebhookResult(WebhookOutcome.IGNORED, f"{detail}: ignored.", event)
    key = _delivery_key(delivery_id, body)
    if key is None:
        return WebhookResult(
            WebhookOutcome.REFUSED,
            "X-Chatwoot-Delivery must be 1 to 200 printable ASCII characters.",
            event,
        )
    try:
        remote_id = parse_contact(_merged({}, fields)).remote_id
        with transaction.atomic():
            try:
                with transaction.atomic():
                    delivery = WebhookDelivery.objects.create(
                        delivery_id=key,
                        received_at=received_at,
                        event_at=event_at,
                        event=event,
                        remote_id=remote_id,
                        outcome=Outcome.UNCHANGED,
                    )
            except IntegrityError:
                return WebhookResult(
                    WebhookOutcome.DUPLICATE,
                    "This delivery was received before: nothing changed.",
                    event,
                    remote_id,
                )
            delivery.outcome = _contact_apply(remote_id=remote_id, fields=fields, event_at=event_at)
            delivery.save(update_fields=["outcome"])
    except LiveDeskProtocolError as error:
        return WebhookResult(WebhookOutcome.REFUSED, error.message, event)
    logger.info("Webhook %s for contact %s: %s", event, remote_id, delivery.outcome)
    outcome = Outcome(delivery.outcome)
    return WebhookResult(WebhookOutcome(outcome.value), DETAILS[outcome], event, remote_id)


def _contact_fields(event: str, data: dict[str, Any]) -> dict[str, Any] | None:
    """The contact an event carries, as a dict of its fields; None when it carries none.

    A contact event's fields are at the top level; a field it changed but left out there is
    taken from `changed_attributes` (`[{"<field>": {"current_value": ...}}]`).
    """
    if event in CONTACT_EVENTS:
        fields = {key: value for key, value in data.items() if key not in ENVELOPE_KEYS}
        for key, value in _changed_values(data.get("changed_attributes")).items():
            if key in CONTACT_KEYS:
                fields.setdefault(key, value)
        return fields
    if event.startswith(SENDER_EVENT_PREFIXES):
        meta = data.get("meta")
        if not isinstance(meta, dict) and isinstance(data.get("conversation"), dict):
            meta = data["conversation"].get("meta")
        sender = meta.get("sender") if isinstance(meta, dict) else None
        if isinstance(sender, dict) and sender.get("type", "contact") == "contact":
            return {key: value for key, value in sender.items() if key not in ENVELOPE_KEYS}
    return None


def _changed_values(changed: Any) -> dict[str, Any]:
    """Each changed field's current value, from a list of one-key objects or one object."""
    items = changed if isinstance(changed, list) else [changed]
    values: dict[str, Any] = {}
    for item in items[:MAX_CHANGED_ATTRIBUTES]:
        if not isinstance(item, dict):
            continue
        for key, change in list(item.items())[:MAX_CHANGED_ATTRIBUTES]:
            if isinstance(key, str) and isinstance(change, dict) and "current_value" in change:
                values[key] = change["current_value"]
    return values


def _merged(stored: dict[str, Any], fields: dict[str, Any]) -> dict[str, Any]:
    """The event's contact laid over the mirror's copy of the contact: the fields the
    event leaves out keep their values. Only a contact's own fields are taken."""
    known = CONTACT_KEYS | stored.keys()
    return {**stored, **{key: value for key, value in fields.items() if key in known}}


def _delivery_key(delivery_id: str, body: bytes) -> str | None:
    delivery_id = delivery_id.strip()
    if not delivery_id:
        return "sha256:" + hashlib.sha256(body).hexdigest()
    return delivery_id if _DELIVERY_ID.fullmatch(delivery_id) else None


def _contact_apply(*, remote_id: int, fields: dict[str, Any], event_at: datetime) -> str:
    """Apply the event's contact to its mirror row (created when new), as of `event_at`."""
    contact = Contact.objects.select_for_update().filter(remote_id=remote_id).first()
    if contact is None:
        remote = parse_contact(_merged({}, fields))
        try:
            with transaction.atomic():
                values = mirror_values(remote)
                Contact.objects.create(remote_id=remote_id, version=1, synced_at=event_at, **values)
                contact_country_seen(values["country"])
            return Outcome.CREATED
        except IntegrityError:  # created meanwhile by a sync or another delivery
            contact = Contact.objects.select_for_update().get(remote_id=remote_id)
    remote = parse_contact(_merged(mirror_payload(contact), fields))
    if contact.synced_at > event_at:
        return Outcome.STALE
    before = contact_values(contact)
    if not mirror_apply(contact=contact, remote=remote, as_of=event_at):
        return Outcome.UNCHANGED
    outside_change_record(
        contact=contact,
        before=_seen_before(contact, before=before, after=contact_values(contact)),
        seen_via=ContactEdit.SeenVia.WEBHOOK,
        now=event_at,
    )
    return Outcome.APPLIED


def _seen_before(contact: Contact, *, before: Values, after: Values) -> Values:
    """`before`, with each field one of this app's own edits sent (or is sending) to LiveDesk
    taken as already at its new value: LiveDesk's webhook reports our own PATCH too, and may
    do so before its answer is recorded. Only the rest is LiveDesk's change."""
    seen = dict(before)
    sent = contact.edits.filter(state__in=ContactEdit.UNFINISHED_STATES, attempts__gt=0)
    for changes in sent.values_list("changes", flat=True):
        for change in changes if isinstance(changes, list) else []:
            key = change.get("field") if isinstance(change, dict) else None
            if key is None or after.get(key) != change.get("after"):
                continue
            if after.get(key) is None:
                seen.pop(key, None)
            else:
                seen[key] = after[key]
    return seen
