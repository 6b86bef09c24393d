"""English and Thai: the pages switch language, and the Thai catalogue is complete and compiled."""

from __future__ import annotations

import ast
import gettext
import re
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.test import Client
from django.urls import reverse

from contacts.models import Contact
from contacts.tests.factories import edit_form_data

CATALOGUE = Path(settings.BASE_DIR) / "contacts" / "locale" / "th" / "LC_MESSAGES" / "django.po"
COMPILED = CATALOGUE.with_suffix(".mo")
# printf-style (named or not), str.format-style, and HTML tags: each must survive translation.
PLACEHOLDER = re.compile(r"%\(\w+\)[sdifr]|%[sdifr]|\{\w*\}|<[^>]+>")


# --- A tiny .po reader (enough for what makemessages writes) ------------------------------------


@dataclass
class CatalogueEntry:
    line: int
    msgid: str | None = None
    msgid_plural: str | None = None
    msgctxt: str | None = None
    msgstrs: dict[int, str] = field(default_factory=dict)
    flags: set[str] = field(default_factory=set)

    @property
    def source_texts(self) -> list[str]:
        return [self.msgid] + ([self.msgid_plural] if self.msgid_plural is not None else [])


def catalogue_read(path: Path) -> list[CatalogueEntry]:
    """Every entry of a .po file (entries are separated by blank lines), header first."""
    entries: list[CatalogueEntry] = []
    entry: CatalogueEntry | None = None
    target: tuple[str, int] = ("msgid", 0)
    lines = path.read_text(encoding="utf-8").splitlines()
    for number, line in enumerate([*lines, ""], start=1):
        if not line.strip():
            if entry is not None and entry.msgid is not None:
                entries.append(entry)
            entry = None
            continue
        entry = entry or CatalogueEntry(line=number)
        if line.startswith("#,"):
            entry.flags.update(flag.strip() for flag in line[2:].split(","))
        elif line.startswith("#"):  # comments, references, and obsolete (#~) entries
            continue
        elif line.startswith('"'):
            _append(entry, target, ast.literal_eval(line))
        else:
            keyword, _, text = line.partition(" ")
            name, _, index = keyword.partition("[")
            target = (name, int(index.rstrip("]") or 0))
            _append(entry, target, ast.literal_eval(text))
    return entries


def _append(entry: CatalogueEntry, target: tuple[str, int], text: str) -> None:
    name, index = target
    if name == "msgstr":
        entry.msgstrs[index] = entry.msgstrs.get(index, "") + text
    else:
        setattr(entry, name, (getattr(entry, name) or "") + text)


@pytest.fixture(scope="module")
def catalogue() -> list[CatalogueEntry]:
    return catalogue_read(CATALOGUE)


@pytest.fixture(scope="module")
def messages(catalogue) -> list[CatalogueEntry]:
    return [entry for entry in catalogue if entry.msgid != ""]


# --- Pages --------------------------------------------------------------------------------------


@pytest.fixture
def agent_client(db) -> Client:
    agent = get_user_model().objects.create_user(username="agent")
    agent.user_permissions.add(
        *Permission.objects.filter(
            content_type__app_label="contacts", codename__in=["view_contact", "change_contact"]
        )
    )
    client = Client()
    client.force_login(agent)
    return client


@pytest.fixture
def contact(db) -> Contact:
    return Contact.objects.create(
        remote_id=318001,
        name="Somchai Jaidee",
        availability_status=Contact.AvailabilityStatus.ONLINE,
        blocked=True,
    )


def test_contact_list_is_english_by_default(agent_client, contact):
    response = agent_client.get(reverse("contacts:list"))

    page = response.content.decode()
    assert '<html lang="en">' in page
    assert "Phone number" in page
    assert "Online" in page
    assert "หมายเลขโทรศัพท์" not in page


def test_contact_list_is_english_for_a_language_we_do_not_ship(agent_client, contact):
    response = agent_client.get(reverse("contacts:list"), headers={"accept-language": "fr"})

    page = response.content.decode()
    assert '<html lang="en">' in page
    assert "Phone number" in page


def test_contact_list_is_thai_for_a_thai_browser(agent_client, contact):
    response = agent_client.get(reverse("contacts:list"), headers={"accept-language": "th"})

    page = response.content.decode()
    assert '<html lang="th">' in page
    assert "หมายเลขโทรศัพท์" in page  # Phone number
    assert "ออนไลน์" in page  # Online (a model choice)
    assert "ถูกบล็อก" in page  # Blocked
    assert "ชื่อ (A-Z)" in page  # a sort option of the filter form
    assert "Phone number" not in page


def test_language_switcher_turns_the_pages_thai(agent_client, contact):
    list_url = reverse("contacts:list")

    response = agent_client.post(
        reverse("set_language"), {"language": "th", "next": list_url}, follow=True
    )

    assert response.redirect_chain[-1][0] == list_url
    page = response.content.decode()
    assert '<html lang="th">' in page
    assert "ผู้ติดต่อ" in page  # Contacts
    assert "ออกจากระบบ" in page  # Log out
    # The choice sticks for the next page without any Accept-Language header.
    detail = agent_client.get(reverse("contacts:detail", args=[contact.remote_id]))
    assert "แอตทริบิวต์ที่กำหนดเอง" in detail.content.decode()  # Custom attributes


def test_form_validation_message_is_thai(agent_client, contact):
    url = reverse("contacts:edit", args=[contact.remote_id])
    thai = {"accept-language": "th"}
    opened = agent_client.get(url, headers=thai)

    response = agent_client.post(
        url, edit_form_data(opened.context["form"], country_code="XX"), headers=thai
    )

    assert response.status_code == 200
    page = response.content.decode()
    assert "กรอกรหัสประเทศ ISO 3166 แบบสองตัวอักษร เช่น TH, SG หรือ GB" in page
    assert "Enter a two-letter ISO 3166 country code" not in page


# --- The catalogue ------------------------------------------------------------------------------


def test_catalogue_declares_thai_with_one_plural_form(catalogue):
    header = catalogue[0]

    assert header.msgid == ""
    assert "Language: th\n" in header.msgstrs[0]
    assert "Plural-Forms: nplurals=1; plural=0;\n" in header.msgstrs[0]


def test_catalogue_reader_sees_every_entry(messages):
    text = CATALOGUE.read_text(encoding="utf-8")

    assert len(messages) == len(re.findall(r"^msgid ", text, flags=re.MULTILINE)) - 1
    assert any(entry.msgid_plural for entry in messages)


def test_catalogue_has_no_untranslated_entries(messages):
    untranslated = [
        (entry.line, entry.msgid)
        for entry in messages
        if not entry.msgstrs or not all(entry.msgstrs.values())
    ]

    assert untranslated == []


def test_catalogue_has_no_fuzzy_entries(catalogue):
    fuzzy = [(entry.line, entry.msgid) for entry in catalogue if "fuzzy" in entry.flags]

    assert fuzzy == []


def test_plural_entries_have_the_one_thai_form(messages):
    wrong = [
        (entry.line, entry.msgid)
        for entry in messages
        if entry.msgid_plural is not None and sorted(entry.msgstrs) != [0]
    ]

    assert wrong == []


def test_translations_keep_every_placeholder(messages):
    broken = []
    for entry in messages:
        expected = sorted(set(PLACEHOLDER.findall(" ".join(entry.source_texts))))
        for translation in entry.msgstrs.values():
            if sorted(set(PLACEHOLDER.findall(translation))) != expected:
                broken.append((entry.line, entry.msgid, translation))

    assert broken == []


def test_compiled_catalogue_matches_the_po_file(messages):
    with COMPILED.open("rb") as compiled_file:
        compiled = gettext.GNUTranslations(compiled_file)

    stale = []
    for entry in messages:
        if entry.msgid_plural is not None:
            got = compiled.ngettext(entry.msgid, entry.msgid_plural, 1)
        elif entry.msgctxt is not None:
            got = compiled.pgettext(entry.msgctxt, entry.msgid)
        else:
            got = compiled.gettext(entry.msgid)
        if got != entry.msgstrs[0]:
            stale.append(entry.msgid)

    assert stale == []
