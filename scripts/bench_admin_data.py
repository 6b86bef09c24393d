"""The rows the admin benchmark times pages on: contacts added in big batches, and edits.

The contacts look like the sandbox seed's: Thai names (in Thai script or romanised) for 60%,
English ones for the rest, E.164 phones of their country, custom attributes of the seed's keys
(with their definitions), so a search for a surname or a phone's last digits finds as many
rows as it would in a real list.
"""

from __future__ import annotations

import contextlib
import json
import random
import sys
import time
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from contacts.sandbox import seed  # noqa: E402  (stdlib only: no Django needed)

# The names of the audit benchmark's editors and edits (bench_audit_data).
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
EDIT_STATES = (
    ("succeeded", 90),
    ("failed", 4),
    ("superseded", 3),
    ("discarded", 2),
    ("pending", 1),
)
EDITORS = 25
BATCH = 20_000


# Thai surnames are often two words joined (ศรี + สุข): 16 x 16 of them make 256 surnames, so
# one matches about 0.1-0.3% of the contacts, as a real surname does (seed.THAI_LAST_NAMES has
# only 20: one would match 3% of the list).
THAI_SURNAME_HEADS = (
    ("ศรี", "Sri"),
    ("แก้ว", "Kaew"),
    ("ทอง", "Thong"),
    ("บุญ", "Boon"),
    ("ชัย", "Chai"),
    ("สุข", "Suk"),
    ("วงศ์", "Wong"),
    ("รัตน", "Rattana"),
    ("เพชร", "Phet"),
    ("นาค", "Nak"),
    ("จันทร์", "Chan"),
    ("กาญจน", "Kanchana"),
    ("อินทร์", "In"),
    ("มหา", "Maha"),
    ("พรหม", "Prom"),
    ("เรือง", "Ruang"),
)
THAI_SURNAME_TAILS = (
    ("สุข", "suk"),
    ("สวัสดิ์", "sawat"),
    ("มณี", "manee"),
    ("เจริญ", "charoen"),
    ("ดี", "dee"),
    ("มา", "ma"),
    ("เพ็ญ", "pen"),
    ("พันธ์", "phan"),
    ("วงศ์", "wong"),
    ("มงคล", "mongkol"),
    ("แก้ว", "kaew"),
    ("ทอง", "thong"),
    ("รัตน์", "rat"),
    ("สาร", "san"),
    ("ศรี", "sri"),
    ("ปัญญา", "panya"),
)
ENGLISH_SURNAMES = (
    *seed.ENGLISH_LAST_NAMES,
    *[
        "Baker",
        "Carter",
        "Collins",
        "Cooper",
        "Edwards",
        "Fisher",
        "Foster",
        "Gibson",
        "Graham",
        "Harris",
        "Hughes",
        "Hunter",
        "Kelly",
        "Knight",
        "Lawson",
        "Marshall",
        "Mason",
        "Morgan",
        "Murray",
        "Palmer",
        "Parker",
        "Phillips",
        "Powell",
        "Reed",
        "Richards",
        "Russell",
        "Shaw",
        "Simpson",
        "Stevens",
        "Turner",
        "Ward",
        "Watson",
        "Webb",
        "Wells",
        "Young",
        "Dickinson",
        "Hopkins",
        "Watkins",
        "Fletcher",
        "Holland",
        "Lambert",
        "Walsh",
        "Barnes",
        "Chapman",
        "Ellis",
        "Gray",
        "Hudson",
    ],
)
# Country, code, share (%), the city list: Thailand and the region first, as the sandbox's.
COUNTRY_SHARES = (
    ("Thailand", "TH", 40),
    ("United States", "US", 20),
    ("United Kingdom", "GB", 10),
    ("Singapore", "SG", 6),
    ("Malaysia", "MY", 4),
    ("Japan", "JP", 4),
    ("Australia", "AU", 3),
    ("Germany", "DE", 3),
    ("Canada", "CA", 2),
    ("", "", 8),
)
COUNTRY_NAMES = [(country, code) for country, code, _share in COUNTRY_SHARES]
COUNTRY_WEIGHTS = [share for _country, _code, share in COUNTRY_SHARES]
CITIES = {
    "TH": ("Bangkok", "กรุงเทพมหานคร", "Chiang Mai", "เชียงใหม่", "Phuket", "Khon Kaen"),
    "GB": ("London", "Manchester", "Edinburgh"),
    "US": ("New York", "San Francisco", "Chicago"),
    "SG": ("Singapore",),
    "MY": ("Kuala Lumpur",),
    "JP": ("Tokyo",),
    "AU": ("Sydney",),
    "DE": ("Berlin",),
    "CA": ("Toronto",),
    "": ("",),
}
# The custom attributes' definitions, for the sandbox seed's keys (seed._custom_attributes).
ATTRIBUTE_DEFINITIONS = (
    ("plan", "Plan", "list", list(seed.PLANS)),
    ("lifetime_value", "Lifetime value", "currency", []),
    ("signed_up", "Signed up", "date", []),
    ("newsletter", "Newsletter", "checkbox", []),
    ("vip_level", "VIP level", "list", list(seed.VIP_LEVELS)),
    ("preferred_language", "Preferred language", "list", ["th", "en"]),
)


def person(rng: random.Random) -> tuple[str, str, str, str, str]:
    """(name, first name, last name, the romanised first and last names for the email):
    a Thai name for 60% of contacts, in Thai script for half of them, English for the rest."""
    if rng.random() < 0.6:
        first_th, first_en = rng.choice(seed.THAI_FIRST_NAMES)
        head_th, head_en = rng.choice(THAI_SURNAME_HEADS)
        tail_th, tail_en = rng.choice(THAI_SURNAME_TAILS)
        last_th, last_en = head_th + tail_th, head_en + tail_en
        if rng.random() < 0.5:
            return f"{first_th} {last_th}", first_th, last_th, first_en, last_en
        return f"{first_en} {last_en}", first_en, last_en, first_en, last_en
    first, last = rng.choice(seed.ENGLISH_FIRST_NAMES), rng.choice(ENGLISH_SURNAMES)
    return f"{first} {last}", first, last, first, last


def phone_of(code: str, rng: random.Random) -> str:
    """An E.164 number of the country: +66 mobiles for Thailand (and the unknown), +1 in
    North America, +44 7 in the UK, ... (as the sandbox seed's)."""
    if code in ("US", "CA"):
        return f"+1{rng.randint(201, 989)}{rng.randint(2_000_000, 9_999_999)}"
    if code == "GB":
        return f"+447{rng.randint(100_000_000, 999_999_999)}"
    if code == "SG":
        return f"+65{rng.choice('89')}{rng.randint(1_000_000, 9_999_999)}"
    if code == "MY":
        return f"+601{rng.randint(10_000_000, 99_999_999)}"
    if code == "JP":
        return f"+81{rng.choice(('80', '90'))}{rng.randint(10_000_000, 99_999_999)}"
    if code == "AU":
        return f"+614{rng.randint(10_000_000, 99_999_999)}"
    if code == "DE":
        return f"+4915{rng.randint(100_000_000, 999_999_999)}"
    return f"+66{rng.choice('689')}{rng.randint(10_000_000, 99_999_999)}"


def custom_attributes_of(created_at: datetime, rng: random.Random) -> dict:
    """Custom attributes shaped as the sandbox seed's (seed.ContactGenerator._custom_attributes)."""
    if rng.random() < 0.15:
        return {}
    attributes: dict = {
        "plan": rng.choice(seed.PLANS),
        "lifetime_value": round(rng.uniform(0, 250_000), 2),
        "signed_up": created_at.strftime("%Y-%m-%d"),
        "newsletter": rng.random() < 0.4,
    }
    if rng.random() < 0.5:
        attributes["vip_level"] = rng.choice(seed.VIP_LEVELS)
    if rng.random() < 0.3:
        attributes["preferred_language"] = rng.choice(("th", "en"))
    return attributes


def contact_row(number: int, rng: random.Random, now: datetime) -> dict:
    """Contact number `number` as its columns' values (JSON as Python values)."""
    from contacts.services.mirror import mirror_digest

    name, first, last, first_en, last_en = person(rng)
    country, code = rng.choices(COUNTRY_NAMES, COUNTRY_WEIGHTS)[0]
    city = rng.choice(CITIES[code])
    companies = seed.THAI_COMPANIES if code == "TH" else seed.FOREIGN_COMPANIES
    company = rng.choice(companies) if rng.random() < 0.65 else ""
    remote_id = 1000 + number
    local = rng.choice(
        (f"{first_en}.{last_en}", f"{first_en}{last_en[0]}", f"{first_en[0]}{last_en}")
    ).lower()
    if rng.random() < 0.5:
        local += str(rng.randint(1, 999))
    email = f"{local}@{rng.choice(seed.EMAIL_DOMAINS)}" if rng.random() < 0.88 else ""
    phone = phone_of(code, rng) if rng.random() < 0.85 else ""
    identifier = f"CRM-{rng.randint(100_000, 9_999_999)}" if rng.random() < 0.7 else ""
    created_at = now - timedelta(days=rng.randint(30, 900))
    additional = {
        "company_name": company,
        "city": city,
        "country": country,
        "country_code": code,
        "description": "",
        "social_profiles": {"github": "", "twitter": f"{first_en.lower()}{number}"},
    }
    row = {
        "remote_id": remote_id,
        "name": name,
        "first_name": first,
        "last_name": last,
        "email": email,
        "phone_number": phone,
        "identifier": identifier,
        "thumbnail": "",
        "availability_status": rng.choice(("online", "offline", "offline", "busy")),
        "blocked": rng.random() < 0.02,
        "company_name": company,
        "city": city,
        "country": country,
        "country_code": code,
        "additional_attributes": additional,
        "custom_attributes": custom_attributes_of(created_at, rng),
        "contact_inboxes": [],
        "created_at": created_at,
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


def attribute_definitions_add() -> None:
    """The definitions of the seed's custom attribute keys, typed as `make run` makes them."""
    from contacts.models import CustomAttributeDefinition

    for position, (key, label, kind, options) in enumerate(ATTRIBUTE_DEFINITIONS):
        CustomAttributeDefinition.objects.get_or_create(
            key=key,
            defaults={
                "label": label,
                "attribute_type": kind,
                "list_options": options,
                "position": position,
            },
        )


@contextlib.contextmanager
def search_indexes_deferred() -> Iterator[None]:
    """Contacts loaded without their search indexes, which are then made in one pass, as a
    restore does: PostgreSQL's GIN indexes on contacts_contact dropped and created again,
    SQLite's triggers on it dropped, made again, and its FTS5 tables rebuilt. The indexes
    end as the migrations leave them; filling them row by row would take minutes at 1M."""
    from django.db import connection

    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(
                "SELECT indexname, indexdef FROM pg_indexes "
                "WHERE tablename = 'contacts_contact' AND indexdef LIKE '%%USING gin%%'"
            )
            indexes = cursor.fetchall()
            for name, _definition in indexes:
                cursor.execute(f'DROP INDEX "{name}"')
            triggers, fts_tables = [], []
        else:
            indexes = []
            cursor.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table' "
                "AND sql LIKE '%fts5%' AND sql LIKE '%contacts_contact''%'"
            )
            fts_tables = [name for (name,) in cursor.fetchall()]
            cursor.execute(
                "SELECT name, sql FROM sqlite_master "
                "WHERE type = 'trigger' AND tbl_name = 'contacts_contact'"
            )
            triggers = [
                (name, sql)
                for name, sql in cursor.fetchall()
                if any(table in sql for table in fts_tables)
            ]
            for name, _sql in triggers:
                cursor.execute(f'DROP TRIGGER "{name}"')
    try:
        yield
    finally:
        with connection.cursor() as cursor:
            if indexes:
                cursor.execute("SET maintenance_work_mem = '256MB'")
            for _name, definition in indexes:
                cursor.execute(definition)
            for _name, sql in triggers:
                cursor.execute(sql)
            for name in fts_tables:
                cursor.execute(f'INSERT INTO "{name}" ("{name}") VALUES (\'rebuild\')')


def data_grow(contacts: int, edits_per_contact: float, rng: random.Random) -> None:
    """Bring the database to `contacts` contacts (adding to those there), then analyze it."""
    from django.db import connection

    from contacts.models import Contact, ContactEdit

    have = Contact.objects.count()
    if have >= contacts:
        print(f"Reusing the {have:,} contacts already in the database.", flush=True)
        return
    began = time.perf_counter()
    attribute_definitions_add()
    with search_indexes_deferred():
        contacts_add(have, contacts - have, rng)
    edits_add(int(contacts * edits_per_contact) - ContactEdit.objects.count(), rng)
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE" if connection.vendor == "postgresql" else "ANALYZE")
    print(
        f"Filled to {contacts:,} contacts and {ContactEdit.objects.count():,} edits "
        f"in {time.perf_counter() - began:.0f} s.",
        flush=True,
    )
