"""Saved segments on the agent pages: saved from the list, listed beside it (own and shared),
opened, counted, renamed and deleted by their owner; bulk edit and export act on an open
segment as on any filter."""

from __future__ import annotations

import csv
import html
import io
import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from contacts import services
from contacts.models import EditBatch, Segment
from contacts.services.segments import segment_save
from contacts.tests.factories import client_for, contacts_made, messages_of, page_text, user_make

pytestmark = pytest.mark.django_db

LIST_URL = reverse("contacts:list")
SAVE_URL = reverse("contacts:segment_save")
CITY = "additional_attributes.city"


@pytest.fixture
def colleague():
    return user_make(username="colleague")


@pytest.fixture
def colleague_client(colleague):
    return client_for(colleague)


def segment_of(owner, name: str = "Thai Anns", query: str = "q=Ann", *, shared: bool = False):
    return segment_save(owner=owner, name=name, query=query, shared=shared).segment


def listed_names(response) -> list[str]:
    return [segment.name for segment in response.context["segments"]]


def count_url(segment: Segment) -> str:
    return reverse("contacts:segment_count", args=[segment.pk])


def bulk_selection(response) -> dict[str, str]:
    """The hidden inputs of the list's "Select all matching contacts" form, as it submits them."""
    form = re.search(r'<form id="bulk-selection".*?</form>', page_text(response), re.S)
    assert form, "the list offers no bulk selection"
    inputs = re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)">', form.group(0))
    return {name: html.unescape(value) for name, value in inputs}


def export_url(response) -> str:
    found = re.search(r'href="([^"]*export\.csv[^"]*)"', page_text(response))
    assert found, "the list offers no export"
    return html.unescape(found.group(1))


# --- Who sees what -----------------------------------------------------------------------------


def test_a_shared_segment_is_listed_and_opened_for_a_colleague(agent, colleague_client):
    segment = segment_of(agent, "Thai Anns", "q=Ann&country=Thailand", shared=True)

    listed = colleague_client.get(LIST_URL)
    opened = colleague_client.get(segment.get_absolute_url())

    assert listed_names(listed) == ["Thai Anns"]
    assert "shared by agent" in page_text(listed)
    assert opened.status_code == 302
    assert opened.url == f"{LIST_URL}?q=Ann&country=Thailand&segment={segment.pk}"
    assert colleague_client.get(count_url(segment)).status_code == 200


def test_a_private_segment_is_neither_listed_nor_opened_for_a_colleague(agent, colleague_client):
    segment = segment_of(agent, "Mine", shared=False)

    listed = colleague_client.get(LIST_URL)

    assert listed_names(listed) == []
    assert "Mine" not in page_text(listed)
    assert colleague_client.get(segment.get_absolute_url()).status_code == 404
    assert colleague_client.get(count_url(segment)).status_code == 404
    # Naming it in the list's address marks nothing either.
    marked = colleague_client.get(LIST_URL, {"q": "Ann", "segment": segment.pk})
    assert marked.context["open_segment"] is None


def test_own_segments_come_first_then_shared_ones_each_by_name(agent, colleague, agent_client):
    segment_of(colleague, "Alpha", shared=True)
    segment_of(colleague, "Secret", shared=False)
    segment_of(agent, "Zulu", shared=False)
    segment_of(agent, "Bravo", shared=True)

    assert listed_names(agent_client.get(LIST_URL)) == ["Bravo", "Zulu", "Alpha"]


def test_an_open_segment_is_marked_on_the_list_it_filters(agent, agent_client):
    contacts_made(2, prefix="Ann", country="Thailand")
    contacts_made(2, prefix="Bob", country="Thailand", start=100)
    segment = segment_of(agent, "Thai Anns", "q=Ann")
    other = segment_of(agent, "Everyone", "")

    listed = agent_client.get(agent_client.get(segment.get_absolute_url()).url)

    page = page_text(listed)
    assert listed.context["open_segment"] == segment
    assert [contact.name for contact in listed.context["page"].object_list] == [
        "Ann 000",
        "Ann 001",
    ]
    assert f'href="{segment.get_absolute_url()}" aria-current="true"' in page
    assert f'href="{other.get_absolute_url()}" aria-current' not in page
    assert page.count('aria-current="true"') == 1


def test_a_segment_without_filters_opens_the_whole_list(agent, agent_client):
    segment = segment_of(agent, "Everyone", "")

    assert agent_client.get(segment.get_absolute_url()).url == f"{LIST_URL}?segment={segment.pk}"


@pytest.mark.parametrize("action", ["segment_rename", "segment_delete"])
def test_a_colleague_may_not_rename_or_delete_a_shared_segment(agent, colleague_client, action):
    segment = segment_of(agent, "Thai Anns", shared=True)

    response = colleague_client.post(
        reverse(f"contacts:{action}", args=[segment.pk]), {"name": "Taken over"}
    )

    assert response.status_code == 403
    assert Segment.objects.get().name == "Thai Anns"


@pytest.mark.parametrize("action", ["segment_rename", "segment_delete"])
def test_someone_elses_private_segment_is_not_found_to_rename_or_delete(
    agent, colleague_client, action
):
    segment = segment_of(agent, "Mine", shared=False)

    response = colleague_client.post(
        reverse(f"contacts:{action}", args=[segment.pk]), {"name": "Taken over"}
    )

    assert response.status_code == 404
    assert Segment.objects.get().name == "Mine"


def test_a_colleague_sees_no_rename_or_delete_on_a_shared_segment(agent, colleague_client):
    segment = segment_of(agent, "Thai Anns", shared=True)

    page = page_text(colleague_client.get(LIST_URL))

    assert reverse("contacts:segment_rename", args=[segment.pk]) not in page
    assert reverse("contacts:segment_delete", args=[segment.pk]) not in page


@pytest.mark.parametrize(
    "url",
    [
        SAVE_URL,
        reverse("contacts:segment_open", args=[1]),
        reverse("contacts:segment_count", args=[1]),
    ],
)
def test_segments_need_a_login(client, url):
    response = client.get(url)

    assert response.status_code == 302
    assert response.url.startswith(reverse("login"))


def test_segments_need_the_permission_to_read_contacts(agent):
    segment = segment_of(agent, "Thai Anns", shared=True)
    stranger = client_for(user_make(username="stranger", perms=()))

    assert stranger.get(segment.get_absolute_url()).status_code == 403
    assert stranger.get(count_url(segment)).status_code == 403
    assert stranger.post(f"{SAVE_URL}?q=Ann", {"name": "Mine"}).status_code == 403
    assert Segment.objects.count() == 1


# --- Save, rename, delete from the list --------------------------------------------------------


def test_save_keeps_the_lists_search_and_filters_and_opens_the_segment(agent, agent_client):
    response = agent_client.post(
        f"{SAVE_URL}?q=Ann&country=&blocked=no&page=3&after=abc&segment=9",
        {"name": "Unblocked Anns", "shared": "on"},
    )

    segment = Segment.objects.get()
    assert (segment.name, segment.owner, segment.query, segment.shared) == (
        "Unblocked Anns",
        agent,
        "q=Ann&blocked=no",
        True,
    )
    assert response.status_code == 302
    assert response.url == segment.get_absolute_url()
    assert messages_of(agent_client.get(response.url, follow=True)) == [
        ("success", "Segment “Unblocked Anns” saved.")
    ]


def test_the_lists_save_form_posts_the_lists_query(agent_client):
    page = page_text(agent_client.get(LIST_URL, {"q": "Ann", "country": "Japan"}))

    assert f'action="{SAVE_URL}?q=Ann&amp;country=Japan"' in page


def test_save_under_the_same_name_replaces_the_segment_and_says_so(agent, agent_client):
    first = segment_of(agent, "Thai", "country=Thailand", shared=True)

    response = agent_client.post(f"{SAVE_URL}?q=Ann", {"name": "Thai"}, follow=True)

    segment = Segment.objects.get()
    assert segment.pk == first.pk
    assert (segment.query, segment.shared) == ("q=Ann", False)
    assert ("success", "Segment “Thai” replaced with this search.") in messages_of(response)


@pytest.mark.parametrize(
    ("name", "error"),
    [
        ("", "Give the segment a name."),
        ("   ", "Give the segment a name."),
        ("x" * 101, "Keep the name to 100 characters or fewer."),
    ],
)
def test_a_blank_or_too_long_name_is_a_form_error(agent_client, name, error):
    response = agent_client.post(f"{SAVE_URL}?q=Ann", {"name": name})

    page = page_text(response)
    assert response.status_code == 200
    assert error in page
    assert 'aria-invalid="true"' in page
    assert f'action="{SAVE_URL}?q=Ann"' in page
    assert not Segment.objects.exists()


def test_a_search_too_long_to_keep_is_a_form_error(agent_client):
    response = agent_client.post(
        f"{SAVE_URL}?q={'x' * 255}&sort=name" + "&attr=a&op=eq&value=" + "v" * 4000,
        {"name": "Long"},
    )

    assert response.status_code == 200
    assert "This search is too long to save: remove some filters." in page_text(response)
    assert not Segment.objects.exists()


@pytest.mark.parametrize("segment", ["abc", "٣", "-1", "99999999999999999999", "1 OR 1=1", "%00"])
def test_a_hostile_segment_in_the_lists_address_marks_nothing(agent, agent_client, segment):
    segment_of(agent, "Thai")

    response = agent_client.get(LIST_URL, {"segment": segment})

    assert response.status_code == 200
    assert response.context["open_segment"] is None


def test_the_owner_renames_a_segment_and_returns_to_the_list(agent, agent_client):
    segment = segment_of(agent, "Thai")
    back = f"{LIST_URL}?q=Ann&segment={segment.pk}"

    response = agent_client.post(
        reverse("contacts:segment_rename", args=[segment.pk]),
        {"name": "Thai Anns", "next": back},
    )

    assert response.url == back
    assert Segment.objects.get().name == "Thai Anns"


def test_a_rename_onto_another_own_segments_name_is_a_form_error(agent, agent_client):
    segment_of(agent, "Japan", "country=Japan")
    segment = segment_of(agent, "Thai")

    response = agent_client.post(
        reverse("contacts:segment_rename", args=[segment.pk]), {"name": "Japan"}
    )

    assert response.status_code == 200
    assert "You already have a segment of this name" in page_text(response)
    assert sorted(Segment.objects.values_list("name", flat=True)) == ["Japan", "Thai"]


def test_the_owner_deletes_a_segment_and_an_outside_next_is_ignored(agent, agent_client):
    segment = segment_of(agent, "Thai")

    response = agent_client.post(
        reverse("contacts:segment_delete", args=[segment.pk]),
        {"next": "https://elsewhere.example/"},
    )

    assert response.url == LIST_URL
    assert not Segment.objects.exists()


# --- Counts --------------------------------------------------------------------------------------


def test_a_segments_count_is_exact_when_small(agent, agent_client):
    contacts_made(3, prefix="Ann", country="Thailand")
    contacts_made(2, prefix="Ann", country="Japan", start=100)
    contacts_made(4, prefix="Bob", country="Thailand", start=200)
    segment = segment_of(agent, "Thai Anns", "q=Ann&country=Thailand")

    response = agent_client.get(count_url(segment))

    assert response.json() == {"segment": segment.pk, "count": 3, "kind": "exact", "label": "3"}


def test_a_large_segments_count_is_capped(agent, agent_client):
    contacts_made(1001, prefix="Ann", country="Thailand")
    contacts_made(5, prefix="Bob", country="Thailand", start=5000)
    segment = segment_of(agent, "Thai Anns", "q=Ann&country=Thailand")

    response = agent_client.get(count_url(segment))

    assert response.json() == {
        "segment": segment.pk,
        "count": 1000,
        "kind": "more_than",
        "label": "more than 1,000",
    }


def test_the_list_reads_its_segments_in_one_query_however_many(agent, colleague, agent_client):
    contacts_made(3, prefix="Ann", country="Thailand")
    segment_of(agent, "First", "q=Ann")
    agent_client.get(LIST_URL)  # the session and the country choices stored

    def list_queries() -> list[str]:
        with CaptureQueriesContext(connection) as captured:
            response = agent_client.get(LIST_URL, {"q": "Ann"})
        assert response.status_code == 200
        return [query["sql"] for query in captured.captured_queries]

    with_one = list_queries()
    for number in range(12):
        segment_of(agent, f"Own {number}", f"q=Ann{number}")
        segment_of(colleague, f"Shared {number}", "country=Thailand", shared=True)
    with_many = list_queries()

    assert len(with_many) == len(with_one)
    assert len([sql for sql in with_many if "contacts_segment" in sql]) == 1
    assert len(agent_client.get(LIST_URL).context["segments"]) == 25


# --- Bulk edit and export act on a segment -----------------------------------------------------


@pytest.fixture
def thai_anns(lead):
    """Three contacts matching a search and a filter among others matching one or neither, and
    a segment of that search and filter."""
    matching = contacts_made(3, prefix="Ann", country="Thailand")
    contacts_made(2, prefix="Ann", country="Japan", start=100)
    contacts_made(2, prefix="Bob", country="Thailand", start=200)
    contacts_made(1, prefix="Carol", country="Japan", start=300)
    return matching, segment_of(lead, "Thai Anns", "q=Ann&country=Thailand")


def test_bulk_edit_of_all_matching_an_open_segment_selects_exactly_its_contacts(
    thai_anns, lead_client
):
    matching, segment = thai_anns
    listed = lead_client.get(segment.get_absolute_url(), follow=True)
    selection = bulk_selection(listed) | {"all": "1"}

    drafted = lead_client.post(
        reverse("contacts:bulk_edit"),
        {
            **selection,
            "operation-TOTAL_FORMS": "1",
            "operation-INITIAL_FORMS": "0",
            "operation-MIN_NUM_FORMS": "0",
            "operation-MAX_NUM_FORMS": "4",
            "operation-0-key": CITY,
            "operation-0-action": "set",
            "operation-0-value": "Chiang Mai",
        },
    )
    batch = EditBatch.objects.get()
    preview = page_text(lead_client.get(drafted.url))

    assert drafted.url == reverse("contacts:batch_preview", args=[batch.pk])
    assert (batch.selected_count, batch.changed_count) == (3, 3)
    assert 'data-count="selected">3<' in preview
    assert [contact.remote_id for contact in services.batch_contacts(batch)] == [
        contact.remote_id for contact in matching
    ]
    assert batch.selection["filters"]["q"] == "Ann"
    assert batch.selection["filters"]["country"] == "Thailand"


def test_export_from_an_open_segment_has_exactly_its_contacts(thai_anns, lead_client):
    matching, segment = thai_anns
    listed = lead_client.get(segment.get_absolute_url(), follow=True)

    response = lead_client.get(export_url(listed))
    rows = list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))

    assert [row["name"] for row in rows] == [contact.name for contact in matching]
    assert {row["remote_id"] for row in rows} == {str(contact.remote_id) for contact in matching}
