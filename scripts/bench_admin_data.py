"""The rows the admin benchmark times pages on: contacts added in big batches, and edits."""

from __future__ import annotations

import json
import random
import time
from datetime import datetime, timedelta

FIRST_NAMES = [
    "Ann",
    "Anong",
    "Arthit",
    "Ben",
    "Boon",
    "Chai",
    "Chanya",
    "Dao",
    "Dara",
    "Emma",
    "Ethan",
    "Fah",
    "Grace",
    "Hana",
    "Ian",
    "Jack",
    "Kanya",
    "Kit",
    "Lamai",
    "Liam",
    "Mali",
    "Mason",
    "Mia",
    "Nam",
    "Niran",
    "Noah",
    "Olivia",
    "Pim",
    "Ploy",
    "Rin",
    "Sakda",
    "Somchai",
    "Sophia",
    "Tan",
    "Wan",
    "Yui",
    "Zoe",
    "Somsak",
    "Kanokwan",
    "Anan",
]
LAST_NAMES = [
    "Lee",
    "Smith",
    "Tan",
    "Wong",
    "Chen",
    "Jones",
    "Brown",
    "Saetang",
    "Srisuk",
    "Boonmee",
    "Chaiyaporn",
    "Kittisak",
    "Nguyen",
    "Garcia",
    "Miller",
    "Davis",
    "Wilson",
    "Taylor",
    "Thomas",
    "Moore",
    "Martin",
    "Clark",
    "Lewis",
    "Walker",
    "Hall",
    "Young",
    "King",
    "Wright",
]
COUNTRIES = (
    ("Thailand", "TH", "Bangkok"),
    ("Singapore", "SG", "Singapore"),
    ("Malaysia", "MY", "Kuala Lumpur"),
    ("Vietnam", "VN", "Hanoi"),
    ("Indonesia", "ID", "Jakarta"),
    ("Philippines", "PH", "Manila"),
    ("Japan", "JP", "Tokyo"),
    ("United Kingdom", "GB", "London"),
    ("United States", "US", "New York"),
    ("Australia", "AU", "Sydney"),
    ("Germany", "DE", "Berlin"),
    ("France", "FR", "Paris"),
    ("India", "IN", "Mumbai"),
    ("China", "CN", "Shanghai"),
    ("", "", ""),
)
EDIT_STATES = (
    ("succeeded", 90),
    ("failed", 4),
    ("superseded", 3),
    ("discarded", 2),
    ("pending", 1),
)
EDITORS = 25
BATCH = 20_000


def contact_row(number: int, rng: random.Random, now: datetime) -> dict:
    """Contact number `number` as its columns' values (JSON as Python values)."""
    from contacts.services.mirror import mirror_digest

    first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
    country, code, city = rng.choice(COUNTRIES)
    company = f"{rng.choice(LAST_NAMES)} {rng.choice(('Co', 'Ltd', 'Group', 'Trading'))}"
    remote_id = 1000 + number
    email = f"{first}.{last}.{number}@example.com".lower()
    additional = {
        "company_name": company,
        "city": city,
        "country": country,
        "country_code": code,
        "description": "",
        "social_profiles": {"github": "", "twitter": f"{first.lower()}{number}"},
    }
    custom = {"plan": rng.choice(("free", "pro", "team")), "seats": rng.randint(1, 50)}
    row = {
        "remote_id": remote_id,
        "name": f"{first} {last}",
        "first_name": first,
        "last_name": last,
        "email": email,
        "phone_number": f"+66{800000000 + number}",
        "identifier": f"cus-{number:07d}",
        "thumbnail": "",
        "availability_status": rng.choice(("online", "offline", "offline", "busy")),
        "blocked": rng.random() < 0.02,
        "company_name": company,
        "city": city,
        "country": country,
        "country_code": code,
        "additional_attributes": additional,
        "custom_attributes": custom,
        "contact_inboxes": [],
        "created_at": now - timedelta(days=rng.randint(30, 900)),
        "last_activity_at": now - timedelta(minutes=rng.randint(1, 500_000)),
        "synced_at": now - timedelta(minutes=rng.randint(1, 600)),
        "version": 1,
        "push_state": rng.choices(("in_sync", "failed", "pending"), (97, 2, 1))[0],
        "gone_at": now - timedelta(days=1) if rng.random() < 0.01 else None,
    }
    row["pending_edits"] = int(row["push_state"] == "pending")
    row["failed_edits"] = int(row["push_state"] == "failed")
    row["mirror_digest"] = mirror_digest(row)
    return row


def contacts_add(first: int, count: int, rng: random.Random) -> None:
    """Insert contacts number `first` .. `first + count - 1` in big batches: COPY on
    PostgreSQL, executemany on SQLite (the ORM's objects would take minutes at a million)."""
    from django.db import connection, transaction
    from django.utils import timezone

    from contacts.models import Contact

    fields = [field for field in Contact._meta.concrete_fields if not field.primary_key]
    columns = ", ".join(connection.ops.quote_name(field.column) for field in fields)
    table = connection.ops.quote_name(Contact._meta.db_table)
    now = timezone.now()

    def database_value(field, value):
        if value is None:
            return None
        kind = field.get_internal_type()
        if kind == "JSONField":
            return json.dumps(value)
        if kind == "DateTimeField":
            return connection.ops.adapt_datetimefield_value(value)
        return value

    for start in range(first, first + count, BATCH):
        rows = []
        for number in range(start, min(start + BATCH, first + count)):
            row = contact_row(number, rng, now)
            rows.append(tuple(database_value(f, row.get(f.name, f.get_default())) for f in fields))
        with transaction.atomic(), connection.cursor() as cursor:
            if connection.vendor == "postgresql":
                with cursor.cursor.copy(f"COPY {table} ({columns}) FROM STDIN") as copy:
                    for row in rows:
                        copy.write_row(row)
            else:
                marks = ", ".join(["%s"] * len(fields))
                cursor.executemany(f"INSERT INTO {table} ({columns}) VALUES ({marks})", rows)


def edits_add(count: int, rng: random.Random) -> None:
    """`count` more edits of random contacts, through the ORM (the history is not timed here)."""
    from django.contrib.auth import get_user_model
    from django.utils import timezone

    from contacts.models import Contact, ContactEdit

    editors = [
        get_user_model().objects.get_or_create(username=f"agent{number:02d}")[0]
        for number in range(EDITORS)
    ]
    contact_ids = list(Contact.objects.values_list("pk", flat=True)[:100_000])
    states, weights = zip(*EDIT_STATES, strict=True)
    start = timezone.now() - timedelta(days=730)
    step = timedelta(days=730) / max(count, 1)
    rows = []
    for number in range(count):
        editor = rng.choice(editors)
        state = rng.choices(states, weights)[0]
        created_at = start + step * number
        rows.append(
            ContactEdit(
                created_at=created_at,
                contact_id=rng.choice(contact_ids),
                editor=editor,
                editor_username=editor.username,
                source="agent",
                base_version=1,
                changes=[{"field": "name", "label": "name", "before": "Ann", "after": "Ann Lee"}],
                request_body={"name": "Ann Lee"},
                state=state,
                attempts=1,
                last_attempt_at=created_at,
                finished_at=created_at if state != "pending" else None,
            )
        )
    ContactEdit.objects.bulk_create(rows, batch_size=2000)


def data_grow(contacts: int, edits_per_contact: float, rng: random.Random) -> None:
    """Bring the database to `contacts` contacts (adding to those there), then analyze it."""
    from django.db import connection

    from contacts.models import Contact, ContactEdit

    have = Contact.objects.count()
    if have >= contacts:
        print(f"Reusing the {have:,} contacts already in the database.", flush=True)
        return
    began = time.perf_counter()
    contacts_add(have, contacts - have, rng)
    edits_add(int(contacts * edits_per_contact) - ContactEdit.objects.count(), rng)
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE" if connection.vendor == "postgresql" else "ANALYZE")
    print(
        f"Filled to {contacts:,} contacts and {ContactEdit.objects.count():,} edits "
        f"in {time.perf_counter() - began:.0f} s.",
        flush=True,
    )
