"""The contact list and detail pages over HTTP."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from contacts.models import Contact
from contacts.tests.factories import HOSTILE, contact_make, contact_synced, page_text

pytestmark = pytest.mark.django_db


# --- List ---------------------------------------------------------------------------------------


@pytest.fixture
def listed_contacts():
    return [
        contact_make(
            remote_id=1,
            name="Ann Lee",
            email="ann@example.com",
            phone_number="+66812345678",
            company_name="Acme",
            country="Thailand",
            last_activity_at=timezone.now() - timedelta(days=1),
        ),
        contact_make(
            remote_id=2,
            name="Bob Stone",
            email="bob@globex.com",
            identifier="CRM-7",
            company_name="Globex",
            country="Singapore",
            blocked=True,
            last_activity_at=timezone.now(),
        ),
        contact_make(
            remote_id=3,
            name="Carla Diaz",
            email="carla@example.com",
            country="Thailand",
            gone_at=timezone.now(),
            push_state=Contact.PushState.FAILED,
            availability_status="online",
        ),
    ]


def listed_names(client: Client, **params: str) -> list[str]:
    response = client.get(reverse("contacts:list"), params)
    assert response.status_code == 200
    return [contact.name for contact in response.context["page"].object_list]


@pytest.mark.parametrize(
    ("q", "expected"),
    [
        ("ann", ["Ann Lee"]),
        ("BOB@", ["Bob Stone"]),
        ("glob", ["Bob Stone"]),
        ("+66 81 234 5678", ["Ann Lee"]),
        ("CRM-7", ["Bob Stone"]),
        ("nobody", []),
    ],
)
def test_list_search_matches_name_email_company_phone_and_identifier(
    agent_client, listed_contacts, q, expected
):
    assert listed_names(agent_client, q=q) == expected


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"blocked": "yes"}, ["Bob Stone"]),
        ({"blocked": "no"}, ["Ann Lee", "Carla Diaz"]),
        ({"country": "Thailand"}, ["Ann Lee", "Carla Diaz"]),
        ({"availability": "online"}, ["Carla Diaz"]),
        ({"push_state": "failed"}, ["Carla Diaz"]),
        ({"gone": "yes"}, ["Carla Diaz"]),
        ({"gone": "no", "country": "Thailand"}, ["Ann Lee"]),
    ],
)
def test_list_filters(agent_client, listed_contacts, params, expected):
    assert listed_names(agent_client, **params) == expected


@pytest.mark.parametrize(
    ("sort", "expected"),
    [
        ("-name", ["Carla Diaz", "Bob Stone", "Ann Lee"]),
        ("email", ["Ann Lee", "Bob Stone", "Carla Diaz"]),
        ("-last_activity", ["Bob Stone", "Ann Lee", "Carla Diaz"]),
        ("last_activity", ["Ann Lee", "Bob Stone", "Carla Diaz"]),
        ("company", ["Carla Diaz", "Ann Lee", "Bob Stone"]),
    ],
)
def test_list_sorts(agent_client, listed_contacts, sort, expected):
    assert listed_names(agent_client, sort=sort) == expected


def test_list_shows_fifty_contacts_a_page(agent_client):
    Contact.objects.bulk_create(Contact(remote_id=i, name=f"Contact {i:03}") for i in range(1, 121))

    first = agent_client.get(reverse("contacts:list"))
    last = agent_client.get(reverse("contacts:list"), {"page": 3})

    assert len(first.context["page"].object_list) == 50
    assert [c.name for c in last.context["page"].object_list][0] == "Contact 101"
    assert len(last.context["page"].object_list) == 20
    assert "Page 3 of 3" in page_text(last)


def test_list_escapes_contact_data(agent_client):
    contact_make(remote_id=1, name=HOSTILE)

    response = agent_client.get(reverse("contacts:list"))

    assert HOSTILE not in page_text(response)
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page_text(response)


# --- Detail -------------------------------------------------------------------------------------


def test_detail_shows_every_section(sandbox, agent_client):
    contact = contact_synced(
        sandbox=sandbox,
        name="Ann Lee",
        email="ann@example.com",
        phone_number="+66812345678",
        identifier="CRM-1",
        inbox_id=2,
        additional_attributes={
            "company_name": "Acme",
            "city": "Chiang Mai",
            "country_code": "TH",
            "social_profiles": {"github": "annlee", "twitter": "javascript:alert(1)"},
        },
        custom_attributes={"plan": "gold", "seats": 12, "removed": None},
    )

    text = page_text(agent_client.get(contact.get_absolute_url()))

    for expected in (
        "Ann Lee",
        "ann@example.com",
        "+66 81 234 5678",
        "CRM-1",
        "Acme",
        "Chiang Mai",
    ):
        assert expected in text
    assert 'href="https://github.com/annlee"' in text
    assert 'href="https://x.com/javascript%3Aalert%281%29"' in text
    assert "plan" in text and "gold" in text and "seats" in text
    assert "removed" not in text
    assert "LINE OA" in text and "Api" in text
    assert "Last synced" in text


def test_detail_escapes_a_hostile_name(sandbox, agent_client):
    contact = contact_synced(sandbox=sandbox, name=HOSTILE, custom_attributes={"note": HOSTILE})

    text = page_text(agent_client.get(contact.get_absolute_url()))

    assert HOSTILE not in text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in text


def test_detail_of_an_unknown_contact_is_not_found(agent_client):
    assert agent_client.get(reverse("contacts:detail", args=[999])).status_code == 404


def test_detail_flags_a_contact_gone_from_livedesk(agent_client):
    contact = contact_make(remote_id=5, name="Ann", gone_at=timezone.now())

    assert "LiveDesk no longer lists this contact" in page_text(
        agent_client.get(contact.get_absolute_url())
    )
