"""The choices of the list filters, kept in the database so every process shows the same.

Sync and webhooks change countries in the worker and the webhook view; the list pages read
the stored choices (one primary-key read) instead of a DISTINCT over every contact.
"""

from __future__ import annotations

from django.db import transaction
from django.utils import timezone

from contacts import selectors
from contacts.models import ListFacet

COUNTRIES = "contact_countries"


def contact_countries() -> list[str]:
    """The countries of the list filters: the stored copy, filled on first use."""
    stored = ListFacet.objects.filter(name=COUNTRIES).values_list("choices", flat=True).first()
    if stored is not None:
        return stored
    return contact_countries_refresh()


def contact_countries_refresh() -> list[str]:
    """Read the contacts' countries again and store them (after a sync: gone ones leave)."""
    countries = selectors.contact_countries()
    ListFacet.objects.bulk_create(  # one upsert statement
        [ListFacet(name=COUNTRIES, choices=countries, refreshed_at=timezone.now())],
        update_conflicts=True,
        unique_fields=["name"],
        update_fields=["choices", "refreshed_at"],
    )
    return countries


def contact_country_seen(country: str) -> None:
    """Add one contact's country to the stored choices if it is new (a webhook, a push answer).

    Only a country missing from the list costs a write; a country no contact has any more
    stays until the next sync refreshes the list.
    """
    if not country:
        return
    with transaction.atomic():
        facet = ListFacet.objects.select_for_update().filter(name=COUNTRIES).first()
        # None: never stored yet, and the first list page reads every country, this one too.
        if facet is not None and country not in facet.choices:
            facet.choices = sorted({*facet.choices, country})
            facet.refreshed_at = timezone.now()
            facet.save(update_fields=["choices", "refreshed_at"])
