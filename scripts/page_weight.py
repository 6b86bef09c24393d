"""Weigh the agent pages: the HTML and every static file a browser fetches to show each one.

    .venv/bin/python scripts/page_weight.py        # or: make bench-weight

A throwaway SQLite database gets demo rows written directly (no sandbox, no network): a page of
contacts, one contact with custom attributes and edits (one failed, so the edit form shows its
banner) and their audit events, and the history. The Django test Client, logged in as an agent,
fetches the contact list, a contact, its edit form and the history. Each page's HTML is parsed
for the stylesheets, scripts, images and SVG sprites (`<use href>`) it references, each
stylesheet for the fonts and images it loads (only the first source of an @font-face, the one a
current browser takes), and the script prints, per page, the bytes of each: raw, and
gzip-compressed at level 9 as whitenoise stores them. Source maps are not counted: only
developer tools fetch them.
"""

from __future__ import annotations

import gzip
import os
import re
import sys
import tempfile
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import urljoin, urlsplit

BASE_DIR = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(BASE_DIR))

CONTACTS_ON_LIST = 50
FONT_FACE = re.compile(r"@font-face\s*{([^}]*)}", re.IGNORECASE)
CSS_URL = re.compile(r"url\(\s*['\"]?([^'\")]+)['\"]?\s*\)")


class References(HTMLParser):
    """The static URLs one page's HTML makes a browser fetch, in document order."""

    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = {name: value or "" for name, value in attrs}
        if tag == "link" and "stylesheet" in attributes.get("rel", "").split():
            self.urls.append(attributes.get("href", ""))
        elif tag in ("script", "img"):
            self.urls.append(attributes.get("src", ""))
        elif tag == "use":
            self.urls.append(attributes.get("href") or attributes.get("xlink:href", ""))

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.handle_starttag(tag, attrs)


@dataclass(frozen=True)
class Resource:
    url: str
    raw: int
    gzipped: int


def gzipped_size(content: bytes) -> int:
    return len(gzip.compress(content, compresslevel=9, mtime=0))


def static_file(url: str) -> bytes | None:
    """The content of a same-site static URL, read from the app's static files."""
    from django.conf import settings
    from django.contrib.staticfiles import finders

    path = urlsplit(url).path
    static_prefix = "/" + settings.STATIC_URL.lstrip("/")
    if not path.startswith(static_prefix):
        return None
    found = finders.find(path.removeprefix(static_prefix))
    return Path(found).read_bytes() if found else None


def stylesheet_urls(css_url: str, css: str) -> list[str]:
    """What a stylesheet loads: each @font-face's first source, and other url()s (images)."""
    urls = []
    for face in FONT_FACE.finditer(css):
        first = CSS_URL.search(face.group(1))
        if first:
            urls.append(first.group(1))
    rest = FONT_FACE.sub("", css)
    urls += CSS_URL.findall(rest)
    return [urljoin(css_url, url) for url in urls if not url.startswith("data:")]


def page_resources(html: bytes, page_url: str) -> list[Resource]:
    """Every distinct static file the page references, directly or through its stylesheets."""
    parser = References()
    parser.feed(html.decode())
    pending = [urljoin(page_url, url.split("#", 1)[0]) for url in parser.urls if url]
    seen: set[str] = set()
    resources = []
    while pending:
        url = pending.pop(0)
        if url in seen:
            continue
        seen.add(url)
        content = static_file(url)
        if content is None:
            raise SystemExit(f"{page_url} references {url}, not a static file of the app")
        resources.append(Resource(url=url, raw=len(content), gzipped=gzipped_size(content)))
        if urlsplit(url).path.endswith(".css"):
            pending += stylesheet_urls(url, content.decode())
    return resources


def demo_rows() -> dict[str, str]:
    """Write the demo rows; answer the agent pages' URLs by name."""
    from datetime import timedelta

    from django.contrib.auth import get_user_model
    from django.contrib.auth.models import Permission
    from django.urls import reverse
    from django.utils import timezone

    from contacts.models import Contact, ContactEdit
    from contacts.services import audit

    now = timezone.now()
    agent = get_user_model().objects.create_user(username="somchai.agent")
    agent.user_permissions.add(
        *Permission.objects.filter(
            content_type__app_label="contacts", codename__in=("view_contact", "change_contact")
        )
    )
    cities = (("Bangkok", "Thailand", "TH"), ("Singapore", "Singapore", "SG"))
    for number in range(CONTACTS_ON_LIST):
        city, country, code = cities[number % 2]
        Contact.objects.create(
            remote_id=1000 + number,
            name=f"Contact {number:02d} Srisuk",
            email=f"contact{number}@example.com",
            phone_number=f"+66812{number:06d}",
            company_name="Acme Trading",
            city=city,
            country=country,
            country_code=code,
            additional_attributes={
                "company_name": "Acme Trading",
                "city": city,
                "country": country,
                "country_code": code,
                "description": "Prefers LINE",
                "social_profiles": {"facebook": f"contact.{number}", "github": ""},
            },
            custom_attributes={"plan": "pro", "seats": number + 1},
            synced_at=now,
        )
    contact = Contact.objects.get(remote_id=1000)
    for minutes, (state, city) in enumerate(
        (("succeeded", "Chiang Mai"), ("succeeded", "Krabi"), ("failed", "Phuket"))
    ):
        edit = ContactEdit.objects.create(
            contact=contact,
            editor=agent,
            editor_username=agent.username,
            source="agent",
            base_version=1,
            changes=[{"field": "city", "label": "City", "before": "Bangkok", "after": city}],
            request_body={"additional_attributes": {"city": city}},
            state=state,
            failure_kind="rejected" if state == "failed" else "",
            http_status=422 if state == "failed" else 200,
            error_message="City is not valid" if state == "failed" else "",
            attempts=1,
            created_at=now - timedelta(minutes=10 - minutes),
            finished_at=None if state == "failed" else now,
        )
        # Its story in the audit log, as a push writes it: recorded, then the attempt.
        path = f"/api/v2/accounts/contacts/{contact.remote_id}"
        failed = state == "failed"
        attempt = audit.edit_attempted(
            edit,
            read={"method": "GET", "path": path, "ms": 84.2, "body": {"id": contact.remote_id}},
            request={"method": "PATCH", "path": path, "body": edit.request_body, "ms": 121.7},
            response=None if failed else {"status": 200, "body": {"id": contact.remote_id}},
            error={"status": 422, "message": "City is not valid", "body": {}} if failed else None,
        )
        audit.events_append([*audit.edit_recorded(edit), attempt])
    return {
        "contact list": reverse("contacts:list"),
        "contact": reverse("contacts:detail", args=[contact.remote_id]),
        "edit form": reverse("contacts:edit", args=[contact.remote_id]),
        "history": reverse("contacts:history"),
    }


def kilobytes(size: int) -> str:
    return f"{size / 1000:8.1f}"


def table(name: str, html: bytes, resources: list[Resource]) -> None:
    print(f"\n{name}")
    print(f"  {'file':<58} {'raw kB':>8} {'gzip kB':>8}")
    print(f"  {'(HTML)':<58} {kilobytes(len(html))} {kilobytes(gzipped_size(html))}")
    for resource in resources:
        path = urlsplit(resource.url).path
        print(f"  {path:<58} {kilobytes(resource.raw)} {kilobytes(resource.gzipped)}")
    static_raw = sum(resource.raw for resource in resources)
    static_gzipped = sum(resource.gzipped for resource in resources)
    print(f"  {'static files':<58} {kilobytes(static_raw)} {kilobytes(static_gzipped)}")
    total_raw, total_gzipped = static_raw + len(html), static_gzipped + gzipped_size(html)
    print(f"  {'page total':<58} {kilobytes(total_raw)} {kilobytes(total_gzipped)}")


def main() -> None:
    directory = Path(tempfile.mkdtemp(prefix="page_weight_"))
    os.environ["DATABASE_URL"] = f"sqlite:///{directory / 'weight.sqlite3'}"
    os.environ["DEBUG"] = "true"  # static URLs without a manifest, read from the source files
    os.environ["LIVEDESK_FRESH_SECONDS"] = "86400"  # the rows are fresh: no LiveDesk read
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "livedesk_admin.settings")
    import django

    django.setup()
    from django.contrib.auth import get_user_model
    from django.core.management import call_command
    from django.test import Client
    from django.test.utils import setup_test_environment

    setup_test_environment()
    call_command("migrate", verbosity=0)
    pages = demo_rows()
    client = Client()
    client.force_login(get_user_model().objects.get())
    print("Agent pages, cold cache: the HTML and every static file it makes the browser fetch.")
    for name, url in pages.items():
        response = client.get(url)
        if response.status_code != 200:
            raise SystemExit(f"{name} ({url}) answered {response.status_code}")
        table(name, response.content, page_resources(response.content, url))
    for path in directory.iterdir():
        path.unlink()
    directory.rmdir()


if __name__ == "__main__":
    main()
