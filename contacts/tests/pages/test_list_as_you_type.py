"""The contact list's results as you type: htmx asks for the results alone, the page keeps them in
a region it replaces, and the URL htmx pushes reloads to the same results."""

from __future__ import annotations

import re

import pytest
from django.contrib.staticfiles import finders
from django.urls import reverse

from contacts.tests.factories import contact_make

pytestmark = pytest.mark.django_db

LIST_URL = reverse("contacts:list")
HTMX = {"HX-Request": "true"}


@pytest.fixture
def listed_contacts():
    return [
        contact_make(remote_id=1, name="Anchalee Naksawat", email="anchalee@example.com"),
        contact_make(remote_id=2, name="Annie Stone", email="annie@example.com", blocked=True),
        contact_make(remote_id=3, name="Bob Stone", email="bob@example.com", blocked=True),
    ]


def template_names(response) -> list[str]:
    return [template.name for template in response.templates]


def listed_names(response) -> list[str]:
    return [contact.name for contact in response.context["page"].object_list]


def test_an_htmx_request_gets_the_results_alone(agent_client, listed_contacts):
    response = agent_client.get(LIST_URL, {"q": "Anch"}, headers=HTMX)

    assert response.status_code == 200
    assert "contacts/includes/contact_results.html" in template_names(response)
    assert "contacts/contact_list.html" not in template_names(response)
    html = response.content.decode()
    assert "<html" not in html
    assert 'id="contact-filters"' not in html
    assert "Anchalee Naksawat" in html
    assert "Annie Stone" not in html
    # The count line above the results is outside them: htmx updates it out of band.
    assert re.search(r'id="contact-results-count"[^>]*hx-swap-oob="innerHTML"', html)
    assert "1 contact matches." in html


def test_the_page_holds_the_results_in_the_region_htmx_replaces(agent_client, listed_contacts):
    response = agent_client.get(LIST_URL, {"q": "Anch"})

    html = response.content.decode()
    assert "contacts/contact_list.html" in template_names(response)
    assert '<div id="contact-results" data-push-states-url="/contacts/push-states.json">' in html
    assert "Anchalee Naksawat" in html
    assert 'hx-target="#contact-results"' in html
    assert 'hx-trigger="input changed delay:300ms, search"' in html
    assert 'hx-push-url="true"' in html
    assert "hx-swap-oob" not in html
    assert re.search(r'<p id="contact-results-count"[^>]*role="status"', html)


def test_both_answers_vary_on_the_htmx_header(agent_client, listed_contacts):
    page = agent_client.get(LIST_URL)
    results = agent_client.get(LIST_URL, headers=HTMX)

    for response in (page, results):
        assert "HX-Request" in response["Vary"]


def test_a_history_restore_gets_the_whole_page(agent_client, listed_contacts):
    response = agent_client.get(
        LIST_URL, {"q": "Anch"}, headers={**HTMX, "HX-History-Restore-Request": "true"}
    )

    assert "contacts/contact_list.html" in template_names(response)
    assert "hx-swap-oob" not in response.content.decode()


def test_the_results_keep_the_filters_sent_beside_the_search(agent_client, listed_contacts):
    response = agent_client.get(LIST_URL, {"q": "Ann", "blocked": "yes"}, headers=HTMX)

    assert listed_names(response) == ["Annie Stone"]


def test_the_url_htmx_pushes_reloads_to_the_same_results(agent_client, listed_contacts):
    contact_make(remote_id=4, name="Anna Blocked", blocked=True)
    # hx-push-url puts the request's own URL in the address bar: reloading it asks for the page.
    query = {"q": "An", "blocked": "yes", "sort": "-name"}
    typed = agent_client.get(LIST_URL, query, headers=HTMX)
    reloaded = agent_client.get(LIST_URL, query)

    assert listed_names(typed) == ["Annie Stone", "Anna Blocked"]
    assert listed_names(reloaded) == listed_names(typed)
    assert reloaded.context["filter_form"]["q"].value() == "An"


def test_the_bulk_selection_follows_the_typed_search(lead_client, listed_contacts):
    html = lead_client.get(LIST_URL, {"q": "Bob"}, headers=HTMX).content.decode()

    assert 'id="bulk-selection"' in html
    assert '<input type="hidden" name="q" value="Bob">' in html


def test_htmx_and_the_shortcut_are_served_from_the_apps_static_files(agent_client):
    html = agent_client.get(LIST_URL).content.decode()

    scripts = re.findall(r'<script src="([^"]+)"', html)
    assert "/static/django_htmx/htmx-2.min.js" in scripts
    assert "/static/contacts/list_search.js" in scripts
    assert all(src.startswith("/static/") for src in scripts)
    assert finders.find("django_htmx/htmx-2.min.js")
    assert finders.find("contacts/list_search.js")
    assert "Press <kbd>/</kbd> to jump to the search box." in html
