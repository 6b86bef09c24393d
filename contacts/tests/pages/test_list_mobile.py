"""The list's filters folded on a phone unless one applies, and the history's contact filter
shown by name: as the server renders them."""

from __future__ import annotations

import pytest
from django.urls import reverse

from contacts import selectors
from contacts.forms import ContactFilterForm
from contacts.tests.factories import contact_make, edit_recorded_unsent, page_text

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    ("query", "count"),
    [
        ({}, 0),
        ({"q": "ann", "sort": "-name"}, 0),
        ({"country": "Japan"}, 1),
        ({"blocked": "yes", "created_from": "2026-01-01"}, 2),
        ({"attr": ["tier"], "op": ["eq"], "value": ["gold"]}, 1),
    ],
)
def test_the_filters_applied_are_counted_beside_the_search(query, count):
    form = ContactFilterForm(query or None, countries=["Japan"], definitions=[])
    assert form.active_filter_count == count
    assert form.filters_open == (count > 0)


def test_a_refused_filter_opens_the_filters():
    form = ContactFilterForm({"created_from": "not a day"}, definitions=[])
    assert form.filters_open


def test_the_list_folds_its_filters_unless_one_applies(agent_client):
    folded = agent_client.get(reverse("contacts:list")).content.decode()
    assert 'aria-expanded="false"' in folded
    assert "list-filter collapse d-md-block show" not in folded

    opened = agent_client.get(reverse("contacts:list"), {"blocked": "yes"}).content.decode()
    assert 'id="filters-toggle"' in opened
    assert 'aria-expanded="true"' in opened
    assert "list-filter collapse d-md-block show" in opened


def test_the_history_names_the_contact_its_filter_gives_by_id(agent_client, agent):
    contact = contact_make(remote_id=4242, name="Somchai Jaidee", email="s@example.com")
    edit_recorded_unsent(contact=contact, editor=agent, changes={"email": "new@example.com"})

    response = agent_client.get(reverse("contacts:history"), {"contact": "4242"})

    text = page_text(response)
    assert "Edit history of Somchai Jaidee" in text
    html = response.content.decode()
    assert '<input type="hidden" name="contact" value="4242">' in html
    assert 'value="4242"' not in html.replace('type="hidden" name="contact" value="4242"', "")


def test_a_name_or_an_unknown_id_stays_as_typed(agent_client):
    contact_make(remote_id=4242, name="Somchai Jaidee")
    assert selectors.edit_history_contact(contact="#4242").name == "Somchai Jaidee"
    assert selectors.edit_history_contact(contact="Somchai") is None
    assert selectors.edit_history_contact(contact="999") is None
    assert selectors.edit_history_contact(contact="") is None

    html = agent_client.get(reverse("contacts:history"), {"contact": "Somchai"}).content.decode()
    assert 'type="text" name="contact" value="Somchai"' in html
