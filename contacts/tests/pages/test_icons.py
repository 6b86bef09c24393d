"""Icons come from one small SVG sprite holding exactly the icons the templates name, not from
the Bootstrap Icons font."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ElementTree
from pathlib import Path

import pytest
from django.conf import settings
from django.contrib.staticfiles import finders
from django.template import Context, Template, TemplateSyntaxError
from django.urls import reverse

from contacts.models import ContactEdit
from contacts.tests.factories import contact_filled

pytestmark = pytest.mark.django_db

SPRITE = "contacts/icons.svg"
ICON_TAG = re.compile(r"{%\s*icon\s+(\S+)")


def template_files() -> list[Path]:
    directories = [Path(directory) for engine in settings.TEMPLATES for directory in engine["DIRS"]]
    directories.append(Path(settings.BASE_DIR) / "contacts" / "templates")
    return sorted(path for directory in directories for path in directory.rglob("*.html"))


def icon_arguments() -> dict[str, list[Path]]:
    """Each first argument given to {% icon %} in the templates, with the files giving it."""
    found: dict[str, list[Path]] = {}
    for path in template_files():
        for argument in ICON_TAG.findall(path.read_text(encoding="utf-8")):
            found.setdefault(argument, []).append(path)
    return found


def sprite_symbols() -> list[str]:
    root = ElementTree.parse(finders.find(SPRITE)).getroot()
    return [element.get("id") for element in root.iter("{http://www.w3.org/2000/svg}symbol")]


def rendered(source: str) -> str:
    return Template("{% load icons %}" + source).render(Context())


def test_the_templates_name_their_icons_with_quoted_literals():
    arguments = icon_arguments()

    assert len(arguments) >= 20
    assert [name for name in arguments if not re.fullmatch(r'"[a-z0-9-]+"', name)] == []


def test_every_icon_the_templates_name_is_a_symbol_of_the_sprite():
    names = {argument.strip('"') for argument in icon_arguments()}

    assert sorted(names - set(sprite_symbols())) == []


def test_the_sprite_holds_each_icon_used_once_and_nothing_else():
    symbols = sprite_symbols()

    assert sorted(symbols) == sorted({argument.strip('"') for argument in icon_arguments()})


def test_the_icon_tag_draws_the_symbol_from_the_sprites_static_url(settings):
    settings.STATIC_URL = "/assets/"

    html = rendered('{% icon "pencil" class="me-1" %}')

    assert html == (
        '<svg class="bi me-1" aria-hidden="true" focusable="false">'
        '<use href="/assets/contacts/icons.svg#pencil"></use></svg>'
    )


def test_an_icon_without_extra_classes_has_only_the_bi_class():
    assert rendered('{% icon "search" %}').startswith('<svg class="bi" aria-hidden="true"')


def test_the_icon_tag_refuses_attributes_other_than_class():
    with pytest.raises(TemplateSyntaxError):
        rendered('{% icon "search" title="Search" %}')


def test_the_agent_pages_use_the_sprite_and_not_the_icon_font(agent_client, agent):
    contact = contact_filled()
    ContactEdit.objects.create(
        contact=contact,
        editor=agent,
        editor_username=agent.username,
        source="agent",
        base_version=1,
        changes=[{"field": "city", "label": "City", "before": "Bangkok", "after": "Krabi"}],
        request_body={"additional_attributes": {"city": "Krabi"}},
        state="failed",
    )
    symbols = set(sprite_symbols())
    urls = [
        reverse("contacts:list"),
        reverse("contacts:detail", args=[contact.remote_id]),
        reverse("contacts:edit", args=[contact.remote_id]),
        reverse("contacts:history"),
    ]

    for url in urls:
        text = agent_client.get(url).content.decode()
        used = re.findall(r'<use href="/static/contacts/icons\.svg#([a-z0-9-]+)"', text)
        assert "bootstrap-icons" not in text, url
        assert '<i class="bi' not in text, url
        assert used, url
        assert set(used) <= symbols, url
