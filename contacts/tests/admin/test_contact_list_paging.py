"""The admin's contact list at scale: its count, deep pages, the columns read, its rows' HTML."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.contrib.admin.templatetags.admin_list import results
from django.utils import timezone

from contacts import pagination
from contacts.models import Contact
from contacts.pagination import CountKind, ListCount
from contacts.templatetags.contact_admin_list import contact_rows
from contacts.tests.factories import CONTACTS_URL, HOSTILE, page_text

pytestmark = pytest.mark.django_db


@pytest.fixture
def hundred_twenty():
    now = timezone.now()
    Contact.objects.bulk_create(
        Contact(
            remote_id=i,
            name=f"Contact {i:03}",
            email=f"c{i}@example.com" if i % 3 else "",
            country="Japan" if i % 2 else "Thailand",
            blocked=i % 5 == 0,
            push_state=Contact.PushState.FAILED if i % 7 == 0 else Contact.PushState.IN_SYNC,
            synced_at=now - timedelta(minutes=i),
            custom_attributes={"plan": "pro"},
        )
        for i in range(1, 121)
    )


def names(response) -> list[str]:
    return [contact.name for contact in response.context["cl"].result_list]


def test_a_deep_page_shows_its_rows_without_reading_the_json_columns(admin_client, hundred_twenty):
    response = admin_client.get(CONTACTS_URL, {"p": 3})

    assert names(response) == [f"Contact {i:03}" for i in range(101, 121)]
    shown = list(response.context["cl"].result_list)
    assert {"custom_attributes", "additional_attributes"} <= shown[0].get_deferred_fields()


def test_a_page_past_the_count_cap_is_reachable_and_right(
    admin_client, hundred_twenty, monkeypatch
):
    monkeypatch.setattr(pagination, "COUNT_CAP", 30)

    first = admin_client.get(CONTACTS_URL, {"country": "Japan"})
    deep = admin_client.get(CONTACTS_URL, {"country": "Japan", "p": 2})

    assert first.context["cl"].paginator.list_count == ListCount(30, CountKind.MORE_THAN)
    assert "more than 30 contacts" in page_text(first)
    japan = [f"Contact {i:03}" for i in range(1, 121) if i % 2]
    assert names(deep) == japan[50:60]
    assert "60 contacts" in page_text(deep)


def test_the_count_is_exact_under_the_cap(admin_client, hundred_twenty):
    response = admin_client.get(CONTACTS_URL, {"push_state__exact": "failed"})

    assert response.context["cl"].paginator.list_count == ListCount(17)
    assert "17 contacts" in page_text(response)


@pytest.mark.parametrize(
    "params",
    [{}, {"q": "Contact 00"}, {"q": "c4@example.com"}, {"country": "Japan"}, {"p": 2}],
)
def test_the_list_runs_at_most_seven_queries(
    admin_client, hundred_twenty, django_assert_max_num_queries, params
):
    admin_client.get(CONTACTS_URL)  # the country choices stored
    # Six, and the custom attribute definitions of the days-and-attributes filter's form.
    with django_assert_max_num_queries(7):
        response = admin_client.get(CONTACTS_URL, params)
    assert response.status_code == 200


@pytest.mark.parametrize(
    ("params", "rows"), [({}, 50), ({"o": "-2.1"}, 50), ({"country": "Japan", "p": 2}, 10)]
)
def test_rows_are_the_html_djangos_changelist_renders(admin_client, hundred_twenty, params, rows):
    Contact.objects.filter(remote_id=1).update(name=HOSTILE)
    response = admin_client.get(CONTACTS_URL, params)
    cl = response.context["cl"]

    ours = ["".join(row) for row in contact_rows(cl)]
    djangos = ["".join(row) for row in results(cl)]

    assert ours == djangos
    assert len(ours) == rows


def test_rows_keep_links_checkboxes_and_filters_in_the_change_links(admin_client, hundred_twenty):
    contact = Contact.objects.get(remote_id=2)

    response = admin_client.get(CONTACTS_URL, {"country": "Thailand"})

    html = page_text(response)
    assert f'value="{contact.pk}" class="action-select"' in html
    assert f"/admin/contacts/contact/{contact.pk}/change/?_changelist_filters=country" in html
