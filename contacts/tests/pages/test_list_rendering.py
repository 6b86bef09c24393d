"""The contact list's rows and filter selects, rendered in Python, are the HTML the template
language rendered before (round 2 of #13), whitespace aside."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django import forms
from django.template import Context, Template
from django.utils import timezone, translation

from contacts.forms.filters import ContactFilterForm, ListSelect
from contacts.models import Contact
from contacts.templatetags.contact_list_rows import contact_list_rows
from contacts.tests.factories import HOSTILE, contact_make

pytestmark = pytest.mark.django_db

# The rows as templates/contacts/contact_list.html rendered them before the tag.
TEMPLATE_ROWS = Template(
    """{% load i18n contact_tags when %}
{% for contact in contacts %}
  <tr>
    <td class="text-truncate-cell cell-name">
      <a class="fw-medium contact-link" href="{{ contact.get_absolute_url }}">{{ contact }}</a>
    </td>
    <td class="text-truncate-cell cell-email">{{ contact.email|default:"—" }}</td>
    <td class="cell-phone"><span class="font-monospace small">{{ contact.phone_number|default:"—" }}</span></td>
    <td class="text-truncate-cell cell-company">{{ contact.company_name|default:"—" }}</td>
    <td class="cell-country">{{ contact.country|default:"—" }}{% if contact.country_code %} <span class="text-body-secondary small">{{ contact.country_code }}</span>{% endif %}</td>
    <td class="cell-status">
      <span class="badge {{ contact.availability_status|availability_badge }}">{{ contact.get_availability_status_display }}</span>
      {% if contact.blocked %}<span class="badge text-bg-dark">{% translate "Blocked" %}</span>{% endif %}
      {% if contact.push_state != "in_sync" %}<span class="badge {{ contact.push_state|push_state_badge }}" data-push-state-for="{{ contact.remote_id }}" data-push-state="{{ contact.push_state }}">{{ contact.get_push_state_display }}</span>{% endif %}
      {% if contact.is_gone %}<span class="badge text-bg-warning">{% translate "Gone from LiveDesk" %}</span>{% endif %}
    </td>
    <td class="small cell-activity">{% if contact.last_activity_at %}<time datetime="{{ contact.last_activity_at|date:'c' }}" title="{{ contact.last_activity_at|when:'full' }}">{{ contact.last_activity_at|when:'date' }}</time>{% else %}—{% endif %}</td>
  </tr>
{% empty %}
  <tr><td colspan="7" class="text-center text-body-secondary py-5">{% translate "No contacts match." %}</td></tr>
{% endfor %}"""  # noqa: E501
)


def _squeezed(html: str) -> str:
    """Whitespace between tags and runs of it dropped: the template's indentation."""
    return re.sub(r"\s+", " ", re.sub(r">\s+<", "><", str(html))).strip()


@pytest.fixture
def varied_contacts():
    now = timezone.now()
    contacts = [
        contact_make(remote_id=1, name="Ann Lee", email="ann@example.com", country="Japan",
                     country_code="JP", last_activity_at=now - timedelta(days=3)),
        contact_make(remote_id=2, name=HOSTILE, company_name=f"{HOSTILE} & Co", city="Nara",
                     phone_number="+66 81", blocked=True, availability_status="busy"),
        contact_make(remote_id=3, email="only@mail.example", country="Côte d'Ivoire",
                     availability_status="online", last_activity_at=now - timedelta(days=400)),
        contact_make(remote_id=4, phone_number="+4412345"),
        contact_make(remote_id=5),
    ]  # fmt: skip
    Contact.objects.filter(remote_id=2).update(push_state=Contact.PushState.FAILED)
    Contact.objects.filter(remote_id=3).update(push_state=Contact.PushState.PENDING)
    Contact.objects.filter(remote_id=4).update(gone_at=now)
    return contacts


@pytest.mark.parametrize("language", ["en", "th"])
def test_rows_are_the_templates_html(varied_contacts, language, settings):
    settings.USE_TZ = True
    contacts = list(Contact.objects.order_by("remote_id"))
    with translation.override(language), timezone.override("Asia/Bangkok"):
        expected = TEMPLATE_ROWS.render(Context({"contacts": contacts}))
        rendered = contact_list_rows(contacts)
    assert _squeezed(rendered) == _squeezed(expected)
    assert HOSTILE not in rendered


# A lead's rows (contacts.change_in_bulk) start with a tick in the page's selection form.
TICK_CELL = (
    '<td class="tick-cell"><input class="form-check-input" type="checkbox" name="contact" '
    'value="{{ contact.remote_id }}" form="bulk-selection" '
    'aria-label="{% blocktranslate %}Select {{ contact }}{% endblocktranslate %}"></td>'
)


@pytest.mark.parametrize("language", ["en", "th"])
def test_selectable_rows_start_with_a_tick_named_after_the_contact(varied_contacts, language):
    contacts = list(Contact.objects.order_by("remote_id"))
    template = Template(
        TEMPLATE_ROWS.source.replace("  <tr>\n", "  <tr>\n" + TICK_CELL, 1).replace(
            'colspan="7"', 'colspan="8"'
        )
    )
    with translation.override(language):
        expected = template.render(Context({"contacts": contacts}))
        rendered = contact_list_rows(contacts, selectable=True)
        no_rows = contact_list_rows([], selectable=True)

    assert _squeezed(rendered) == _squeezed(expected)
    assert rendered.count('name="contact"') == len(contacts)
    assert HOSTILE not in rendered
    assert 'colspan="8"' in no_rows


def test_no_rows_say_none_match():
    assert _squeezed(contact_list_rows([])) == _squeezed(
        TEMPLATE_ROWS.render(Context({"contacts": []}))
    )


@pytest.mark.parametrize("value", ["", "a&b", "missing", None])
def test_list_select_is_djangos_select(value):
    choices = [("", "Any"), ("a&b", "A<b & c"), ("x", "X")]
    attrs = {"class": "form-select", "data-x": 'say "hi"'}
    django_html = forms.Select(attrs=attrs, choices=choices).render("f", value, {"id": "id_f"})
    ours = ListSelect(attrs=attrs, choices=choices).render("f", value, {"id": "id_f"})
    assert ours == _squeezed(django_html).replace("> <", "><")


def test_the_filter_form_selects_keep_the_chosen_values():
    form = ContactFilterForm({"country": "Japan", "sort": "-name"}, countries=["France", "Japan"])
    assert '<option value="Japan" selected>Japan</option>' in str(form["country"])
    assert '<option value="-name" selected>' in str(form["sort"])
    assert 'class="form-select"' in str(form["blocked"])
