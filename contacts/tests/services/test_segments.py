"""Saved segments' use cases: the query kept (the list's filters only), save or replace by name,
rename and delete by the owner alone."""

from __future__ import annotations

from urllib.parse import parse_qsl

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import QueryDict

from contacts.models import Segment
from contacts.services.segments import (
    SegmentNameTaken,
    segment_delete,
    segment_query,
    segment_rename,
    segment_save,
)
from contacts.tests.factories import user_make

pytestmark = pytest.mark.django_db


@pytest.fixture
def colleague():
    return user_make(username="colleague")


# --- The query kept ------------------------------------------------------------------------------


def test_the_query_keeps_the_lists_filters_and_drops_paging_the_segment_and_blanks():
    query = segment_query(
        QueryDict(
            "page=3&after=abc&before=def&segment=7&q=Ann&country=&blocked=no&sort=-name"
            "&contact=12&all=1&csrfmiddlewaretoken=x&gone=%20"
        )
    )

    assert parse_qsl(query) == [("q", "Ann"), ("blocked", "no"), ("sort", "-name")]


def test_the_query_is_in_the_list_forms_order_whatever_the_order_given():
    assert segment_query("sort=email&country=Japan&q=Ann") == "q=Ann&country=Japan&sort=email"


def test_attribute_conditions_are_kept_whole_in_order_even_with_an_empty_value():
    query = segment_query(
        "attr=vip&op=yes&value=&attr=plan&op=eq&value=Gold&attr=&op=eq&value=x&attr=tier&op="
        "&value=3"
    )

    assert parse_qsl(query, keep_blank_values=True) == [
        ("attr", "vip"),
        ("op", "yes"),
        ("value", ""),
        ("attr", "plan"),
        ("op", "eq"),
        ("value", "Gold"),
    ]


def test_the_query_keeps_thai_and_symbols_as_typed():
    query = segment_query(QueryDict("q=%E0%B8%A8%E0%B8%A3%E0%B8%B5+%25_%27%26"))

    assert QueryDict(query)["q"] == "ศรี %_'&"


# --- Save, or replace ----------------------------------------------------------------------------


def test_save_creates_a_segment_with_the_lists_query(agent):
    saved = segment_save(owner=agent, name=" Thai VIPs ", query="q=Ann&page=2", shared=True)

    assert not saved.replaced
    segment = Segment.objects.get()
    assert (segment.name, segment.owner, segment.query, segment.shared) == (
        "Thai VIPs",
        agent,
        "q=Ann",
        True,
    )


def test_save_under_an_own_name_replaces_that_segment(agent):
    first = segment_save(owner=agent, name="Thai", query="country=Thailand", shared=True).segment

    saved = segment_save(owner=agent, name="Thai", query="q=Ann&country=Thailand", shared=False)

    assert saved.replaced
    assert saved.segment.pk == first.pk
    assert list(Segment.objects.values_list("query", "shared")) == [
        ("q=Ann&country=Thailand", False)
    ]


def test_the_same_name_by_another_agent_is_another_segment(agent, colleague):
    segment_save(owner=agent, name="Thai", query="country=Thailand", shared=True)

    saved = segment_save(owner=colleague, name="Thai", query="q=Ann", shared=False)

    assert not saved.replaced
    assert Segment.objects.count() == 2


@pytest.mark.parametrize(
    ("name", "code"), [("", "required"), ("   ", "required"), ("x" * 101, "max_length")]
)
def test_a_blank_or_too_long_name_is_refused(agent, name, code):
    with pytest.raises(ValidationError) as refused:
        segment_save(owner=agent, name=name, query="q=Ann", shared=False)

    assert refused.value.code == code
    assert not Segment.objects.exists()


def test_a_query_too_long_to_keep_is_refused(agent):
    with pytest.raises(ValidationError) as refused:
        segment_save(owner=agent, name="Long", query=f"q={'x' * 4000}", shared=False)

    assert refused.value.code == "query_too_long"


# --- Rename and delete: the owner only -----------------------------------------------------------


def test_the_owner_renames_a_segment(agent):
    segment = segment_save(owner=agent, name="Thai", query="q=Ann", shared=True).segment

    segment_rename(segment=segment, by=agent, name="Thai Anns")

    assert Segment.objects.get().name == "Thai Anns"


def test_a_rename_onto_another_own_segments_name_is_refused(agent):
    segment_save(owner=agent, name="Japan", query="country=Japan", shared=False)
    segment = segment_save(owner=agent, name="Thai", query="q=Ann", shared=True).segment

    with pytest.raises(SegmentNameTaken):
        segment_rename(segment=segment, by=agent, name="Japan")

    assert sorted(Segment.objects.values_list("name", flat=True)) == ["Japan", "Thai"]


def test_a_colleague_can_neither_rename_nor_delete_a_shared_segment(agent, colleague):
    segment = segment_save(owner=agent, name="Thai", query="q=Ann", shared=True).segment

    with pytest.raises(PermissionDenied):
        segment_rename(segment=segment, by=colleague, name="Mine now")
    with pytest.raises(PermissionDenied):
        segment_delete(segment=segment, by=colleague)

    assert Segment.objects.get().name == "Thai"


def test_the_owner_deletes_a_segment(agent):
    segment = segment_save(owner=agent, name="Thai", query="q=Ann", shared=True).segment

    segment_delete(segment=segment, by=agent)

    assert not Segment.objects.exists()
