"""Time the admin's and the agent's list pages on large tables: 100,000 contacts, 1,000,000 edits.

    .venv/bin/python scripts/bench_admin.py        # a temporary SQLite database
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/bench_admin \
        .venv/bin/python scripts/bench_admin.py

Without DATABASE_URL the data goes to a temporary SQLite file, deleted afterwards (--keep keeps
it and prints its path; pass it back with --sqlite to time again without filling it again). With
DATABASE_URL the database must be empty or hold exactly what this script put there (then it is
reused). Each page is fetched once to warm up, then --runs times with the Django test Client
logged in as a superuser; the script prints the median in ms and the SQL queries of one page.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path
from urllib.parse import quote

BASE_DIR = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(BASE_DIR))

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
BATCH = 5000


def arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--contacts", type=int, default=100_000)
    parser.add_argument("--edits", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--sqlite", help="an SQLite file to use (filled when empty)")
    parser.add_argument("--keep", action="store_true", help="keep the temporary SQLite file")
    return parser.parse_args()


def database_choose(args: argparse.Namespace) -> Path | None:
    """Point DATABASE_URL at the database to use; answers a temporary file to delete, or None."""
    if os.environ.get("DATABASE_URL") and not args.sqlite:
        return None
    if args.sqlite:
        path = Path(args.sqlite).resolve()
        temporary = None
    else:
        path = Path(tempfile.mkdtemp(prefix="bench_admin_")) / "bench.sqlite3"
        temporary = None if args.keep else path
    os.environ["DATABASE_URL"] = f"sqlite:///{path}"
    return temporary


def contacts_fill(count: int, rng: random.Random) -> None:
    from django.utils import timezone

    from contacts.livedesk import parse_contact
    from contacts.models import Contact
    from contacts.services.mirror import mirror_digest, mirror_values

    now = timezone.now()

    def batch(start: int) -> list[Contact]:
        rows = []
        for number in range(start, min(start + BATCH, count)):
            first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
            country, code, city = rng.choice(COUNTRIES)
            company = f"{rng.choice(LAST_NAMES)} {rng.choice(('Co', 'Ltd', 'Group', 'Trading'))}"
            remote_id = 1000 + number
            email = f"{first}.{last}.{number}@example.com".lower()
            phone = f"+66{800000000 + number}"
            identifier = f"cus-{number:07d}"
            additional = {
                "company_name": company,
                "city": city,
                "country": country,
                "country_code": code,
                "description": "",
                "social_profiles": {"github": "", "twitter": f"{first.lower()}{number}"},
            }
            custom = {"plan": rng.choice(("free", "pro", "team")), "seats": rng.randint(1, 50)}
            payload = {
                "id": remote_id,
                "name": f"{first} {last}",
                "email": email,
                "phone_number": phone,
                "identifier": identifier,
                "thumbnail": "",
                "availability_status": "offline",
                "blocked": False,
                "additional_attributes": additional,
                "custom_attributes": custom,
                "created_at": 1_700_000_000 + number,
                "last_activity_at": 1_700_000_000 + number * 7,
            }
            gone = rng.random() < 0.01
            rows.append(
                Contact(
                    remote_id=remote_id,
                    name=f"{first} {last}",
                    first_name=first,
                    last_name=last,
                    email=email,
                    phone_number=phone,
                    identifier=identifier,
                    availability_status=rng.choice(("online", "offline", "offline", "busy")),
                    blocked=rng.random() < 0.02,
                    company_name=company,
                    city=city,
                    country=country,
                    country_code=code,
                    additional_attributes=additional,
                    custom_attributes=custom,
                    created_at=now - timedelta(days=rng.randint(30, 900)),
                    last_activity_at=now - timedelta(minutes=rng.randint(1, 500_000)),
                    mirror_digest=mirror_digest(mirror_values(parse_contact(payload))),
                    synced_at=now - timedelta(minutes=rng.randint(1, 600)),
                    push_state=rng.choices(("in_sync", "failed", "pending"), (97, 2, 1))[0],
                    gone_at=now - timedelta(days=1) if gone else None,
                )
            )
        return rows

    for start in range(0, count, BATCH):
        Contact.objects.bulk_create(batch(start), batch_size=1000)


def edits_fill(count: int, rng: random.Random) -> None:
    from django.contrib.auth import get_user_model
    from django.utils import timezone

    from contacts.models import Contact, ContactEdit

    editors = [
        get_user_model().objects.create_user(username=f"agent{number:02d}")
        for number in range(EDITORS)
    ]
    contact_ids = list(Contact.objects.values_list("pk", flat=True))
    states, weights = zip(*EDIT_STATES, strict=True)
    start = timezone.now() - timedelta(days=730)
    step = timedelta(days=730) / count
    fields = (
        ("name", "Ann Lee", "Ann Smith"),
        ("email", "ann@example.com", "ann.smith@example.com"),
        ("additional_attributes.city", "Bangkok", "Chiang Mai"),
        ("custom_attributes.plan", "free", "pro"),
        ("blocked", False, True),
    )

    def batch(first: int) -> list[ContactEdit]:
        rows = []
        for number in range(first, min(first + BATCH, count)):
            editor = rng.choice(editors)
            state = rng.choices(states, weights)[0]
            picked = rng.sample(fields, rng.randint(1, 3))
            changes = [
                {"field": name, "label": name, "before": before, "after": after}
                for name, before, after in picked
            ]
            body = {name.split(".")[-1]: after for name, _before, after in picked}
            created_at = start + step * number
            succeeded = state == "succeeded"
            rows.append(
                ContactEdit(
                    created_at=created_at,
                    contact_id=rng.choice(contact_ids),
                    editor=editor,
                    editor_username=editor.username,
                    source=rng.choices(("agent", "admin", "admin_action"), (90, 7, 3))[0],
                    base_version=rng.randint(1, 20),
                    changes=changes,
                    request_body=body,
                    state=state,
                    failure_kind="" if succeeded else "transient",
                    http_status=200 if succeeded else rng.choice((422, 503, None)),
                    response_body=(
                        {"payload": {"id": number, **body, "availability_status": "offline"}}
                        if succeeded
                        else {"message": "Email has already been taken", "attributes": ["email"]}
                    ),
                    error_message="" if succeeded else "LiveDesk rejected the values (422).",
                    attempts=1,
                    last_attempt_at=created_at,
                    finished_at=created_at if state != "pending" else None,
                )
            )
        return rows

    for first in range(0, count, BATCH):
        ContactEdit.objects.bulk_create(batch(first), batch_size=1000)
        if first and first % 100_000 == 0:
            print(f"  {first:,} edits", flush=True)


def data_ensure(contacts: int, edits: int) -> None:
    from django.core.management import call_command
    from django.db import connection

    from contacts.models import Contact, ContactEdit

    call_command("migrate", verbosity=0)
    have = (Contact.objects.count(), ContactEdit.objects.count())
    if have == (contacts, edits):
        print(f"Reusing {contacts:,} contacts and {edits:,} edits already in the database.")
        return
    if have != (0, 0):
        sys.exit(
            f"The database holds {have[0]:,} contacts and {have[1]:,} edits: give an empty one "
            "(or one this script filled with the same counts)."
        )
    rng = random.Random(20240601)
    began = time.perf_counter()
    print(f"Creating {contacts:,} contacts ...", flush=True)
    contacts_fill(contacts, rng)
    print(f"Creating {edits:,} edits ...", flush=True)
    edits_fill(edits, rng)
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("VACUUM ANALYZE")
    else:
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")
    print(f"Filled in {time.perf_counter() - began:.0f} s.")


def pages(contacts: int, edits: int) -> list[tuple[str, str]]:
    from contacts.models import Contact

    sample = Contact.objects.order_by("remote_id")[777]
    contact_late = max(1, min(500, contacts // 50))
    edit_late = max(1, min(5000, edits // 100))
    failed_late = max(1, min(200, edits * 4 // 100 // 100))
    people, history = "/admin/contacts/contact/", "/admin/contacts/contactedit/"
    return [
        ("Contact list, page 1", people),
        (f"Contact list, page {contact_late}", f"{people}?p={contact_late}"),
        ("Contact search: name prefix", f"{people}?q=Somchai+Sae"),
        ("Contact search: exact email", f"{people}?q={sample.email}"),
        ("Contact search: phone number", f"{people}?q={sample.phone_number}"),
        ("Contact filter: country", f"{people}?country=Japan"),
        (
            "Contact filter: blocked and failed",
            f"{people}?blocked__exact=1&push_state__exact=failed",
        ),
        ("Contact change page", f"{people}{sample.pk}/change/"),
        ("Edit history, page 1", history),
        (f"Edit history, page {edit_late:,}", f"{history}?p={edit_late}"),
        ("Edit history filter: failed", f"{history}?state__exact=failed"),
        (
            f"Edit history filter: failed, page {failed_late}",
            f"{history}?state__exact=failed&p={failed_late}",
        ),
        ("Edit history filter: editor", f"{history}?editor=3"),
        ("Edit history filter: past 7 days", history + "?created_at__gte={week}"),
        ("Edit history search: remote id", f"{history}?q={sample.remote_id}"),
        ("Edit history search: name prefix", f"{history}?q=Somchai+Sae"),
        ("Edit history search: exact email", f"{history}?q={sample.email}"),
        ("Edit history detail", history + "{edit}/change/"),
        # The agent pages, on the same tables.
        ("Agent contact list, page 1", "/contacts/"),
        (f"Agent contact list, page {contact_late // 2}", f"/contacts/?page={contact_late // 2}"),
        ("Agent contact search: name prefix", "/contacts/?q=Somchai+Sae"),
        ("Agent contact filter: country", "/contacts/?country=Japan"),
        ("Agent contact page", f"/contacts/{sample.remote_id}/"),
        ("Agent edit page", f"/contacts/{sample.remote_id}/edit/"),
        ("Agent edit history, page 1", "/contacts/history/"),
        ("Agent edit history filter: failed", "/contacts/history/?state=failed"),
    ]


def measure(*, contacts: int, edits: int, runs: int) -> None:
    from django.conf import settings
    from django.contrib.auth import get_user_model
    from django.core.cache import cache
    from django.test import Client
    from django.utils import timezone

    from contacts.models import ContactEdit

    settings.ALLOWED_HOSTS = [*settings.ALLOWED_HOSTS, "testserver"]
    admin, _created = get_user_model().objects.get_or_create(
        username="bench-admin", defaults={"is_staff": True, "is_superuser": True}
    )
    client = Client()
    client.force_login(admin)
    midnight = timezone.localtime().replace(hour=0, minute=0, second=0, microsecond=0)
    week = quote(str(midnight - timedelta(days=7)))
    edit = ContactEdit.objects.order_by("-created_at", "-id").values_list("pk", flat=True)[
        min(12345, edits - 1)
    ]

    print(f"\n{'page':<44} {'median ms':>10} {'min ms':>8} {'queries':>8}")
    for label, url in pages(contacts, edits):
        url = url.format(week=week, edit=edit)
        page_time(client, label, url, runs=runs)
    page_time(
        client,
        "Contact list, page 1, countries not cached",
        "/admin/contacts/contact/",
        runs=runs,
        before=cache.clear,
    )


def page_time(client, label: str, url: str, *, runs: int, before=lambda: None) -> None:
    """Fetch a page once to warm up, then `runs` times; print the median, min and queries."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    response = client.get(url)
    if response.status_code != 200:
        sys.exit(f"{label}: {url} answered {response.status_code}")
    timings = []
    for _run in range(runs):
        before()
        began = time.perf_counter()
        client.get(url)
        timings.append((time.perf_counter() - began) * 1000)
    before()
    with CaptureQueriesContext(connection) as queries:
        client.get(url)
    print(
        f"{label:<44} {statistics.median(timings):>10.1f} {min(timings):>8.1f} {len(queries):>8}",
        flush=True,
    )


def main() -> None:
    args = arguments()
    temporary = database_choose(args)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "livedesk_admin.settings")
    import django

    django.setup()
    from django.db import connection

    print(f"Database: {connection.vendor} {connection.settings_dict['NAME']}")
    try:
        data_ensure(args.contacts, args.edits)
        measure(contacts=args.contacts, edits=args.edits, runs=args.runs)
    finally:
        connection.close()
        if temporary is not None:
            for path in temporary.parent.glob(temporary.name + "*"):
                path.unlink()
            temporary.parent.rmdir()
        elif not os.environ.get("DATABASE_URL", "").startswith("postgres"):
            print(f"\nKept {os.environ['DATABASE_URL']}")


if __name__ == "__main__":
    main()
