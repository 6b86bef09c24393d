"""The list filters' countries: stored in the database, refreshed by sync, grown by webhooks.

The worker syncs and the web process shows: the copy lives in the database, so what one
process stores the next request of any process reads (no per-process memory in between).
"""

from __future__ import annotations

import io

import pytest
from django.core.management import call_command
from django.urls import reverse

from contacts.models import Contact, ListFacet
from contacts.sandbox.webhooks import contact_created_event, contact_updated_event
from contacts.services import facets
from contacts.tests.factories import contact_make, contact_synced
from contacts.tests.services.test_webhooks import SECRET, deliver

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def webhooks_on(settings):
    settings.LIVEDESK_WEBHOOK_SECRET = SECRET
    settings.LIVEDESK_WEBHOOK_MAX_SKEW_SECONDS = 300
    settings.LIVEDESK_WEBHOOK_MAX_BYTES = 1024 * 1024


def list_choices(client) -> list[str]:
    """The country choices the agent list's filter offers, as a web request reads them."""
    response = client.get(reverse("contacts:list"))
    return [value for value, _label in response.context["filter_form"].fields["country"].choices][
        1:
    ]


def test_the_first_read_stores_the_countries_and_later_reads_do_not_scan(
    django_assert_num_queries,
):
    contact_make(remote_id=1, name="Ann", country="Thailand")

    assert facets.contact_countries() == ["Thailand"]
    contact_make(remote_id=2, name="Bob", country="Japan")  # behind sync's and webhooks' back
    with django_assert_num_queries(1):
        assert facets.contact_countries() == ["Thailand"]
    assert facets.contact_countries_refresh() == ["Japan", "Thailand"]
    assert ListFacet.objects.get().choices == ["Japan", "Thailand"]


def test_a_sync_brings_new_countries_and_drops_gone_ones(sandbox, agent_client):
    ann = contact_synced(sandbox=sandbox, name="Ann", additional_attributes={"country": "Laos"})
    assert list_choices(agent_client) == ["Laos"]
    sandbox.store.update_contact(ann.remote_id, {"additional_attributes": {"country": "Japan"}})
    sandbox.store.create_contact(name="Bob", additional_attributes={"country": "Peru"})

    call_command("sync_contacts", "--no-progress", stdout=io.StringIO())

    assert list_choices(agent_client) == ["Japan", "Peru"]


def test_a_webhooks_new_contact_brings_its_country(sandbox, client, agent_client):
    contact_make(remote_id=1, name="Ann", country="Thailand")
    assert list_choices(agent_client) == ["Thailand"]
    remote = sandbox.store.create_contact(name="Niran", additional_attributes={"country": "Nepal"})

    assert deliver(client, contact_created_event(remote)).json()["status"] == "created"

    assert list_choices(agent_client) == ["Nepal", "Thailand"]


def test_a_webhooks_changed_country_is_added(sandbox, client, agent_client):
    ann = contact_synced(sandbox=sandbox, name="Ann", additional_attributes={"country": "Laos"})
    assert list_choices(agent_client) == ["Laos"]
    before = sandbox.store.get_contact(ann.remote_id, include_contact_inboxes=False)
    after = sandbox.store.update_contact(
        ann.remote_id, {"additional_attributes": {"country": "Chile"}}
    )

    assert deliver(client, contact_updated_event(before, after)).json()["status"] == "applied"

    assert Contact.objects.get(pk=ann.pk).country == "Chile"
    # Laos stays until the next sync reads every contact's country again.
    assert list_choices(agent_client) == ["Chile", "Laos"]


def test_the_admin_filter_offers_the_stored_countries(admin_client):
    contact_make(remote_id=1, name="Ann", country="Thailand")
    facets.contact_countries()
    contact_make(remote_id=2, name="Bob", country="Japan")
    facets.contact_country_seen("Japan")

    response = admin_client.get(reverse("admin:contacts_contact_changelist"))

    [country_filter] = [s for s in response.context["cl"].filter_specs if s.title == "country"]
    assert [value for value, _label in country_filter.lookup_choices] == ["Japan", "Thailand"]
