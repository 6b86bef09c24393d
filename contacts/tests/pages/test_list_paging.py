"""The contact list pages by keyset cursors and counts without reading the whole table."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection
from django.urls import reverse
from django.utils import timezone

from contacts import pagination, selectors
from contacts.models import Contact, CustomAttributeDefinition
from contacts.pagination import CountKind, ListCount, keyset_page, list_count
from contacts.tests.factories import page_text

pytestmark = pytest.mark.django_db

SORTS = [key for key, _label in selectors.CONTACT_SORTS.items()]
SORTS += [f"-{key}" for key in SORTS]


@pytest.fixture
def crowd():
    """Contacts with ties in every sort column and NULL last activities among them."""
    now = timezone.now()
    Contact.objects.bulk_create(
        Contact(
            remote_id=1000 - number,
            name=["Ann", "Bob", "ann", "Émile", ""][number % 5],
            email=f"user{number % 7}@example.com",
            company_name=["Acme", "Globex", ""][number % 3],
            country=["Thailand", "Japan", ""][number % 3],
            last_activity_at=None if number % 4 == 0 else now - timedelta(hours=number % 6),
        )
        for number in range(47)
    )


def walk_forward(sort: str, per_page: int) -> list[int]:
    contacts, order = selectors.contact_list(sort=sort), selectors.contact_list_sort(sort)
    page = keyset_page(contacts, sort=order, per_page=per_page)
    seen = [contact.pk for contact in page.object_list]
    assert not page.has_previous
    while page.has_next:
        page = keyset_page(contacts, sort=order, per_page=per_page, after=page.next_cursor)
        assert page.has_previous
        seen += [contact.pk for contact in page.object_list]
    return seen


def walk_back(sort: str, per_page: int, last_cursor: str) -> list[int]:
    contacts, order = selectors.contact_list(sort=sort), selectors.contact_list_sort(sort)
    page = keyset_page(contacts, sort=order, per_page=per_page, before=last_cursor)
    seen = [contact.pk for contact in reversed(page.object_list)]
    while page.has_previous:
        page = keyset_page(contacts, sort=order, per_page=per_page, before=page.previous_cursor)
        seen += [contact.pk for contact in reversed(page.object_list)]
    return seen


@pytest.mark.parametrize("sort", SORTS)
def test_next_pages_cover_every_contact_once_in_the_lists_order(crowd, sort):
    expected = [contact.pk for contact in selectors.contact_list(sort=sort)]

    assert walk_forward(sort, per_page=6) == expected


@pytest.mark.parametrize("sort", SORTS)
def test_previous_pages_walk_back_over_every_contact_once(crowd, sort):
    expected = [contact.pk for contact in selectors.contact_list(sort=sort)]
    order = selectors.contact_list_sort(sort)
    after_last = pagination.cursor_of(Contact, order, Contact.objects.get(pk=expected[-1]))
    # "before" the last contact's cursor: everything but the last one, walking back.
    assert walk_back(sort, per_page=5, last_cursor=after_last) == expected[-2::-1]


def test_the_nulls_of_last_activity_come_last_both_ways(crowd):
    for sort in ("last_activity", "-last_activity"):
        pks = walk_forward(sort, per_page=4)
        activities = [Contact.objects.get(pk=pk).last_activity_at for pk in pks]
        first_null = activities.index(None)
        assert all(value is None for value in activities[first_null:])
        assert None not in activities[:first_null]


@pytest.mark.parametrize("cursor", ["", "garbage", "WyJ4Il0", "W251bGwsMV0", "WzEsMiwzXQ"])
def test_an_unreadable_cursor_gives_the_first_page(agent_client, crowd, cursor):
    response = agent_client.get(reverse("contacts:list"), {"after": cursor, "sort": "name"})

    first = [contact.pk for contact in selectors.contact_list(sort="name")[:50]]
    assert response.status_code == 200
    assert [contact.pk for contact in response.context["page"].object_list] == first


def test_next_and_previous_links_page_through_the_list(agent_client):
    Contact.objects.bulk_create(Contact(remote_id=i, name=f"Contact {i:03}") for i in range(1, 121))

    first = agent_client.get(reverse("contacts:list"))
    second = agent_client.get(
        reverse("contacts:list"), {"after": first.context["page"].next_cursor, "page": 2}
    )
    third = agent_client.get(
        reverse("contacts:list"), {"after": second.context["page"].next_cursor, "page": 3}
    )
    back = agent_client.get(
        reverse("contacts:list"), {"before": third.context["page"].previous_cursor, "page": 2}
    )

    def names(response):
        return [contact.name for contact in response.context["page"].object_list]

    assert names(second)[0] == "Contact 051"
    assert names(third) == [f"Contact {i:03}" for i in range(101, 121)]
    assert names(back) == names(second)
    assert "Page 3 of 3" in page_text(third)
    assert "Showing 101–120 of 120" in page_text(third)
    assert not third.context["page"].has_next
    assert 'rel="next"' not in page_text(third)


def test_the_list_says_more_than_the_cap_instead_of_counting_on(agent_client, monkeypatch):
    monkeypatch.setattr(pagination, "COUNT_CAP", 60)
    Contact.objects.bulk_create(
        Contact(remote_id=i, name=f"Ann {i:03}", country="Japan") for i in range(1, 131)
    )

    response = agent_client.get(reverse("contacts:list"), {"country": "Japan"})

    assert response.context["count"] == ListCount(60, CountKind.MORE_THAN)
    assert "Showing 1–50 of more than 60" in page_text(response)
    assert "Page 1" in page_text(response) and "Page 1 of" not in page_text(response)


def test_count_labels():
    assert ListCount(1234).label == "1,234"
    assert ListCount(1234, CountKind.ABOUT).label == "about 1,234"
    assert ListCount(5000, CountKind.MORE_THAN).label == "more than 5,000"


def test_a_count_stops_at_the_cap_and_counts_from_a_deep_page():
    Contact.objects.bulk_create(Contact(remote_id=i, name=f"C{i}") for i in range(1, 31))
    contacts = Contact.objects.filter(name__startswith="C")

    assert list_count(contacts, cap=100) == ListCount(30)
    assert list_count(contacts, cap=10) == ListCount(10, CountKind.MORE_THAN)
    assert list_count(contacts, start=25, cap=10) == ListCount(30)
    assert list_count(contacts, start=10, cap=10) == ListCount(20, CountKind.MORE_THAN)
    # Past the end: counted from the start again.
    assert list_count(contacts, start=40, cap=100) == ListCount(30)


@pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL's estimate")
def test_an_unfiltered_count_past_the_cap_is_postgresqls_estimate():
    Contact.objects.bulk_create(Contact(remote_id=i, name=f"C{i}") for i in range(1, 41))
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE contacts_contact")

    assert list_count(Contact.objects.all(), cap=10) == ListCount(40, CountKind.ABOUT)
    assert list_count(Contact.objects.filter(name__gte="C"), cap=10).kind == CountKind.MORE_THAN


@pytest.mark.parametrize(
    "params",
    [
        {},
        {"q": "Ann"},
        {"q": "ann.lee@example.com"},
        {"country": "Japan"},
        {"push_state": "failed"},
        {"attr": "plan", "op": "eq", "value": "gold"},
        {"attr": "plan", "op": "present", "created_from": "2020-01-01", "q": "ann"},
    ],
)
def test_the_list_runs_at_most_eight_queries(agent_client, django_assert_max_num_queries, params):
    """Six for the page, one for the saved segments beside it (however many: test_segments),
    one for the custom attribute definitions the filter form offers and its conditions use."""
    CustomAttributeDefinition.objects.create(
        key="plan", label="Plan", attribute_type="list", list_options=["gold", "free"]
    )
    Contact.objects.bulk_create(
        Contact(remote_id=i, name=f"Ann {i:03}", country="Japan", email=f"a{i}@example.com")
        for i in range(1, 121)
    )
    agent_client.get(reverse("contacts:list"))  # the session and the country choices stored
    with django_assert_max_num_queries(8):
        first = agent_client.get(reverse("contacts:list"), params)
    with django_assert_max_num_queries(8):
        agent_client.get(
            reverse("contacts:list"), {**params, "after": first.context["page"].next_cursor}
        )
