"""The admin of saved segments: listed with their owner, searched by name, filtered by shared."""

from __future__ import annotations

import pytest
from django.urls import reverse

from contacts.services.segments import segment_save
from contacts.tests.factories import page_text, user_make

pytestmark = pytest.mark.django_db

SEGMENTS_URL = reverse("admin:contacts_segment_changelist")


@pytest.fixture
def segments():
    agent = user_make(username="somchai")
    colleague = user_make(username="wilai")
    return [
        segment_save(owner=agent, name="Thai VIPs", query="country=Thailand", shared=True).segment,
        segment_save(owner=agent, name="Unblocked", query="blocked=no", shared=False).segment,
        segment_save(owner=colleague, name="Japan", query="country=Japan", shared=False).segment,
    ]


def listed(response) -> list[str]:
    return sorted(segment.name for segment in response.context["cl"].result_list)


def test_the_changelist_shows_name_owner_shared_and_updated(admin_client, segments):
    response = admin_client.get(SEGMENTS_URL)

    page = page_text(response)
    assert listed(response) == ["Japan", "Thai VIPs", "Unblocked"]
    assert list(response.context["cl"].list_display)[1:] == [
        "name",
        "owner",
        "shared",
        "updated_at",
    ]
    assert "somchai" in page
    assert "wilai" in page


def test_the_changelist_searches_by_name(admin_client, segments):
    assert listed(admin_client.get(SEGMENTS_URL, {"q": "vip"})) == ["Thai VIPs"]


def test_the_changelist_filters_by_shared(admin_client, segments):
    assert listed(admin_client.get(SEGMENTS_URL, {"shared__exact": "1"})) == ["Thai VIPs"]
    assert listed(admin_client.get(SEGMENTS_URL, {"shared__exact": "0"})) == ["Japan", "Unblocked"]


def test_the_change_page_shows_the_query_and_opens_the_segment(admin_client, segments):
    segment = segments[0]

    response = admin_client.get(reverse("admin:contacts_segment_change", args=[segment.pk]))

    page = page_text(response)
    assert response.status_code == 200
    assert "country=Thailand" in page
    assert (
        reverse("admin:view_on_site", args=[response.context["content_type_id"], segment.pk])
        in page
    )
