"""A contact as the LiveDesk API shows it, built from its row in the contacts table."""

import json
import sqlite3


def split_name(name: str | None) -> tuple[str, str]:
    """First word and the rest, as LiveDesk derives first_name and last_name."""
    parts = (name or "").split(maxsplit=1)
    return (parts[0] if parts else "", parts[1] if len(parts) > 1 else "")


def contact_payload(row: sqlite3.Row, contact_inboxes: list[dict] | None) -> dict:
    """The contact's payload; contact_inboxes is left out when None."""
    first_name, last_name = split_name(row["name"])
    contact = {
        "additional_attributes": json.loads(row["additional_attributes"]),
        "availability_status": row["availability_status"],
        "email": row["email"],
        "id": row["id"],
        "name": row["name"],
        "first_name": first_name,
        "last_name": last_name,
        "phone_number": row["phone_number"],
        "blocked": bool(row["blocked"]),
        "identifier": row["identifier"],
        "thumbnail": row["thumbnail"],
        "custom_attributes": json.loads(row["custom_attributes"]),
        "last_activity_at": row["last_activity_at"],
        "created_at": row["created_at"],
    }
    if contact_inboxes is not None:
        contact["contact_inboxes"] = contact_inboxes
    return contact
