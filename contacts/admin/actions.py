"""The contact list's actions: each writes through a service and reports per contact."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponseRedirect, StreamingHttpResponse
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext, ngettext_lazy
from django.utils.translation import gettext_lazy as _

from contacts import services
from contacts.admin.filters import search_term_clean
from contacts.exports import contacts_csv_lines
from contacts.forms.filters import CONDITION_PARAMS, DAY_FIELDS
from contacts.models import Contact, ContactEdit
from contacts.services import EditOutcome, Refreshed

# One action makes one LiveDesk call per contact inside the request: keep it to a page or so.
ACTION_LIMIT = 200
# Names listed in one action message before "and N more".
NAMES_SHOWN = 10


def names_text(items: Iterable[Any]) -> str:
    """ "Ann, Bob and 3 more": the first few names of a list, for an action's message."""
    names = [str(item) for item in items]
    shown = ", ".join(names[:NAMES_SHOWN])
    hidden = len(names) - NAMES_SHOWN
    if hidden > 0:
        return gettext("%(names)s and %(count)d more") % {"names": shown, "count": hidden}
    return shown


def failures_text(failures: list[tuple[Contact, str]]) -> str:
    """ "Ann (LiveDesk is unreachable), Bob (...)": names with their reasons."""
    return names_text(f"{contact} ({reason})" for contact, reason in failures)


@dataclass(frozen=True)
class ReportLine:
    """One line of an action's summary: its level and words ("%(count)d ... %(names)s")."""

    level: int
    message: Any
    # The group holds (contact, reason) pairs, named with their reasons.
    with_reasons: bool = False


def action_report(modeladmin, request, groups: dict[Any, list], lines: dict[Any, ReportLine]):
    """Say each group's line, naming its contacts; an empty group says nothing."""
    for key, line in lines.items():
        items = groups.get(key)
        if items:
            names = failures_text(items) if line.with_reasons else names_text(items)
            text = line.message % {"count": len(items), "names": names}
            modeladmin.message_user(request, text, line.level)


def action_contacts(modeladmin, request: HttpRequest, queryset: QuerySet) -> list[Contact] | None:
    """The selected contacts, or None (and a message) when there are too many for one request."""
    contacts = list(queryset[: ACTION_LIMIT + 1])
    if len(contacts) > ACTION_LIMIT:
        modeladmin.message_user(
            request,
            gettext(
                "Select at most %(limit)d contacts for this action: each one is a call to "
                "LiveDesk. Nothing was done."
            )
            % {"limit": ACTION_LIMIT},
            messages.ERROR,
        )
        return None
    return contacts


REFRESH_LINES = {
    Refreshed.CHANGED: ReportLine(
        messages.SUCCESS,
        ngettext_lazy(
            "%(count)d contact updated from LiveDesk: %(names)s.",
            "%(count)d contacts updated from LiveDesk: %(names)s.",
            "count",
        ),
    ),
    Refreshed.UNCHANGED: ReportLine(
        messages.SUCCESS,
        ngettext_lazy(
            "%(count)d contact already up to date: %(names)s.",
            "%(count)d contacts already up to date: %(names)s.",
            "count",
        ),
    ),
    Refreshed.GONE: ReportLine(
        messages.WARNING,
        ngettext_lazy(
            "%(count)d contact is gone from LiveDesk and was flagged: %(names)s.",
            "%(count)d contacts are gone from LiveDesk and were flagged: %(names)s.",
            "count",
        ),
    ),
    Refreshed.FAILED: ReportLine(
        messages.ERROR,
        ngettext_lazy(
            "%(count)d contact could not be refreshed: %(names)s.",
            "%(count)d contacts could not be refreshed: %(names)s.",
            "count",
        ),
        with_reasons=True,
    ),
}


@admin.action(description=_("Refresh from LiveDesk"), permissions=["change"])
def refresh_from_livedesk(modeladmin, request, queryset):
    contacts = action_contacts(modeladmin, request, queryset)
    if contacts is None:
        return
    groups: dict[Any, list] = defaultdict(list)
    for result in services.contacts_refresh(contacts=contacts):
        failed = result.outcome == Refreshed.FAILED
        groups[result.outcome].append(
            (result.contact, result.error_message) if failed else result.contact
        )
    action_report(modeladmin, request, groups, REFRESH_LINES)


RETRY_LINES = {
    "delivered": ReportLine(
        messages.SUCCESS,
        ngettext_lazy(
            "%(count)d failed edit delivered to LiveDesk: %(names)s.",
            "%(count)d failed edits delivered to LiveDesk: %(names)s.",
            "count",
        ),
    ),
    "failing": ReportLine(
        messages.ERROR,
        ngettext_lazy(
            "%(count)d edit failed again: %(names)s.",
            "%(count)d edits failed again: %(names)s.",
            "count",
        ),
        with_reasons=True,
    ),
    "nothing": ReportLine(
        messages.WARNING,
        ngettext_lazy(
            "%(count)d contact has no failed edit to retry: %(names)s.",
            "%(count)d contacts have no failed edit to retry: %(names)s.",
            "count",
        ),
    ),
}


@admin.action(description=_("Retry failed pushes"), permissions=["change"])
def retry_failed_pushes(modeladmin, request, queryset):
    contacts = action_contacts(modeladmin, request, queryset)
    if contacts is None:
        return
    by_id = {contact.pk: contact for contact in contacts}
    failed_edits = ContactEdit.objects.filter(
        contact_id__in=by_id, state=ContactEdit.State.FAILED
    ).order_by("created_at", "id")
    groups: dict[Any, list] = defaultdict(list)
    retried = set()
    for edit in failed_edits:
        contact = by_id[edit.contact_id]
        retried.add(contact.pk)
        result = services.edit_retry(edit=edit).edit
        if result.state == ContactEdit.State.SUCCEEDED:
            groups["delivered"].append(contact)
        else:
            reason = result.error_message or gettext("another edit is on its way first")
            groups["failing"].append((contact, reason))
    groups["nothing"] = [contact for contact in contacts if contact.pk not in retried]
    action_report(modeladmin, request, groups, RETRY_LINES)


def _block_lines(*, blocked: bool) -> dict[Any, ReportLine]:
    if blocked:
        done = ngettext_lazy(
            "%(count)d contact blocked in LiveDesk: %(names)s.",
            "%(count)d contacts blocked in LiveDesk: %(names)s.",
            "count",
        )
        already = ngettext_lazy(
            "%(count)d contact was already blocked: %(names)s.",
            "%(count)d contacts were already blocked: %(names)s.",
            "count",
        )
    else:
        done = ngettext_lazy(
            "%(count)d contact unblocked in LiveDesk: %(names)s.",
            "%(count)d contacts unblocked in LiveDesk: %(names)s.",
            "count",
        )
        already = ngettext_lazy(
            "%(count)d contact was not blocked: %(names)s.",
            "%(count)d contacts were not blocked: %(names)s.",
            "count",
        )
    return {
        EditOutcome.SAVED: ReportLine(messages.SUCCESS, done),
        EditOutcome.NO_CHANGE: ReportLine(messages.SUCCESS, already),
        EditOutcome.QUEUED: ReportLine(
            messages.WARNING,
            ngettext_lazy(
                "%(count)d contact's change is saved but has not reached LiveDesk yet; it is "
                "sent automatically: %(names)s.",
                "%(count)d contacts' changes are saved but have not reached LiveDesk yet; they "
                "are sent automatically: %(names)s.",
                "count",
            ),
        ),
        EditOutcome.FAILED: ReportLine(
            messages.ERROR,
            ngettext_lazy(
                "%(count)d contact could not be changed: %(names)s.",
                "%(count)d contacts could not be changed: %(names)s.",
                "count",
            ),
            with_reasons=True,
        ),
    }


def _set_blocked(modeladmin, request, queryset, *, blocked: bool) -> None:
    contacts = action_contacts(modeladmin, request, queryset)
    if contacts is None:
        return
    groups: dict[Any, list] = defaultdict(list)
    outcomes = services.contacts_set_blocked(
        contacts=contacts, blocked=blocked, editor=request.user
    )
    for contact, submission in outcomes:
        if submission.outcome == EditOutcome.CONFLICT:
            reason = gettext("changed in LiveDesk meanwhile: refresh it and try again")
            groups[EditOutcome.FAILED].append((contact, reason))
        elif submission.outcome in (EditOutcome.REJECTED, EditOutcome.FAILED):
            groups[EditOutcome.FAILED].append((contact, submission.edit.error_message))
        else:
            groups[submission.outcome].append(contact)
    action_report(modeladmin, request, groups, _block_lines(blocked=blocked))


@admin.action(description=_("Block in LiveDesk"), permissions=["change"])
def block_contacts(modeladmin, request, queryset):
    _set_blocked(modeladmin, request, queryset, blocked=True)


@admin.action(description=_("Unblock in LiveDesk"), permissions=["change"])
def unblock_contacts(modeladmin, request, queryset):
    _set_blocked(modeladmin, request, queryset, blocked=False)


@admin.action(description=_("Export as CSV"), permissions=["view"])
def export_csv(modeladmin, request, queryset):
    response = StreamingHttpResponse(
        contacts_csv_lines(queryset), content_type="text/csv; charset=utf-8"
    )
    filename = f"contacts-{timezone.localdate():%Y-%m-%d}.csv"
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


# The contact changelist's filters (their query parameters) as the agent list names them.
AGENT_LIST_FILTERS = {
    "availability_status__exact": "availability",
    "country": "country",
    "push_state__exact": "push_state",
    "gone": "gone",
}


def agent_list_params(changelist_query) -> list[tuple[str, str]]:
    """The changelist's search and filters as the agent list's query: the same contacts."""
    params: list[tuple[str, str]] = []
    term = search_term_clean(changelist_query.get("q", ""))
    if term:
        params.append(("q", term))
    blocked = changelist_query.get("blocked__exact")
    if blocked in ("1", "0"):
        params.append(("blocked", "yes" if blocked == "1" else "no"))
    for name, agent_name in AGENT_LIST_FILTERS.items():
        if changelist_query.get(name):
            params.append((agent_name, changelist_query[name]))
    # Day ranges and custom-attribute conditions: the same parameters, conditions repeated.
    for name in DAY_FIELDS:
        if changelist_query.get(name):
            params.append((name, changelist_query[name]))
    for name in CONDITION_PARAMS:
        params += [(name, value) for value in changelist_query.getlist(name)]
    return params


@admin.action(description=_("Bulk edit"), permissions=["change_in_bulk"])
def bulk_edit(modeladmin, request, queryset):
    """To the agent's bulk edit page with the selection: the contacts ticked, or, when "select
    all" chose every contact matching, the changelist's search and filters."""
    if request.POST.get("select_across") == "1":
        params = [*agent_list_params(request.GET), ("all", "1")]
    else:
        remote_ids = queryset.order_by("remote_id").values_list("remote_id", flat=True)
        params = [("contact", str(remote_id)) for remote_id in remote_ids]
    return HttpResponseRedirect(f"{reverse('contacts:bulk_edit')}?{urlencode(params)}")
