"""The agent pages: contact list, contact, edit form, edit actions and edit history."""

from __future__ import annotations

from dataclasses import dataclass

from django.contrib import messages
from django.contrib.auth.decorators import login_required, permission_required
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse, StreamingHttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django.views.decorators.vary import vary_on_headers
from django_htmx.http import HttpResponseClientRedirect

from contacts import audit_reads, audit_story, segment_selectors, selectors, services
from contacts.edit_flow import RELOAD_BUTTON, EditPage, contact_edit_page
from contacts.edit_status import Cause, contact_edit_state, failure_cause
from contacts.fields import Section, section_fields
from contacts.forms import ContactFilterForm, EditHistoryFilterForm
from contacts.models import Contact, ContactEdit
from contacts.pagination import keyset_page, list_count_of, with_list_count
from contacts.services import EditOutcome, facets
from contacts.services.sync import contact_refresh_if_stale

PAGE_SIZE = 50
# The newest events the contact's page shows under its header; the rest fold below them.
RECENT_HISTORY = 5
# The audit events that change a contact: its "last changed by" line.
CHANGE_KINDS = frozenset({"edit.recorded", "contact.outside_change"})
# The sections a quick edit opens on the contact's page.
QUICK_SECTIONS = tuple(section.value for section in Section)
# The contacts one poll of the list's badges may ask about: a page of the list.
PUSH_STATES_MAX = 100
# Past this a page number is a label too large to mean anything.
PAGE_NUMBER_MAX = 10**9


def _can_view(view):
    return login_required(permission_required("contacts.view_contact", raise_exception=True)(view))


def _can_change(view):
    return login_required(
        permission_required("contacts.change_contact", raise_exception=True)(view)
    )


# The page and its results alone share a URL: a cache must keep them apart.
@vary_on_headers("HX-Request")
@require_GET
@_can_view
def contact_list(request: HttpRequest) -> HttpResponse:
    filter_form = ContactFilterForm(request.GET or None, countries=facets.contact_countries())
    filters = filter_form.filters()
    contacts = selectors.contact_list(**filters, definitions=filter_form.definitions)
    # The page number only labels a cursor's page; alone, it pages by OFFSET near the start.
    number = min(selectors.parse_id(request.GET.get("page")) or 1, PAGE_NUMBER_MAX)
    page = keyset_page(
        with_list_count(contacts),
        sort=selectors.contact_list_sort(filters["sort"], q=filters["q"]),
        per_page=PAGE_SIZE,
        after=request.GET.get("after", ""),
        before=request.GET.get("before", ""),
        number=max(number, 1),
    )
    if not page.has_previous:
        number = 1
    count = list_count_of(page, contacts)
    segments = segment_selectors.segments_visible(user=request.user)
    # The search as you type asks for the results alone; a history restore needs the whole page.
    results_only = bool(request.htmx) and not request.htmx.history_restore_request
    return render(
        request,
        "contacts/includes/contact_results.html" if results_only else "contacts/contact_list.html",
        {
            "results_only": results_only,
            "filter_form": filter_form,
            "page": page,
            "sort": filters["sort"],
            "count": count,
            "page_number": number,
            "page_count": count.pages(PAGE_SIZE),
            "first_row": (number - 1) * PAGE_SIZE + 1,
            "last_row": (number - 1) * PAGE_SIZE + len(page.object_list),
            "segments": segments,
            "open_segment": segment_selectors.segment_open(segments, request.GET.get("segment")),
        },
    )


def _livedesk_unreachable(refreshed: services.RefreshResult | None) -> bool:
    """The page shows the mirror's copy because LiveDesk did not answer in time."""
    return refreshed is not None and refreshed.outcome == services.Refreshed.FAILED


def _refresh_failure(refreshed: services.RefreshResult | None) -> RefreshFailure | None:
    """Why the page shows the mirror's copy rather than LiveDesk's, if it does."""
    if not _livedesk_unreachable(refreshed):
        return None
    cause, status = failure_cause(status=None, message=refreshed.error_message)
    return RefreshFailure(cause=cause, status=status)


@dataclass(frozen=True)
class RefreshFailure:
    cause: Cause
    status: int | None


def _contact_page(contact: Contact, *, can_change: bool) -> dict:
    """What the contact's page shows of it and what its poll refreshes: its fields with the
    values its unfinished edits carry, where those edits stand, and its newest history."""
    edit_state = contact_edit_state(selectors.contact_unfinished_edits(contact=contact))
    history = audit_story.story_lines(selectors.contact_audit_events(contact=contact))
    return {
        "contact": contact,
        "edit_state": edit_state,
        "pending_values": edit_state.pending_values,
        "pending_custom_values": edit_state.pending_custom_values,
        "last_change": next((line for line in history if line.kind in CHANGE_KINDS), None),
        "recent_history": history[:RECENT_HISTORY],
        "earlier_history": history[RECENT_HISTORY:],
        "sections": [
            (section, section_fields(section))
            for section in (Section.CORE, Section.ADDITIONAL, Section.SOCIAL)
        ],
        "custom_labels": selectors.custom_attribute_labels(),
        "can_change": can_change,
        "quick_sections": QUICK_SECTIONS,
    }


@require_GET
@_can_view
def contact_detail(request: HttpRequest, remote_id: int) -> HttpResponse:
    contact = get_object_or_404(Contact, remote_id=remote_id)
    refreshed = contact_refresh_if_stale(contact=contact)
    context = _contact_page(contact, can_change=request.user.has_perm("contacts.change_contact"))
    context["refresh_failure"] = _refresh_failure(refreshed)
    return render(request, "contacts/contact_detail.html", context)


@require_GET
@_can_view
def contact_live(request: HttpRequest, remote_id: int) -> HttpResponse:
    """The parts of the contact's page that change as its edits land: polled by the page while
    an edit is on its way (contact_live.js)."""
    contact = get_object_or_404(Contact, remote_id=remote_id)
    context = _contact_page(contact, can_change=request.user.has_perm("contacts.change_contact"))
    return render(request, "contacts/includes/contact_live.html", context)


@require_GET
@_can_view
def push_states(request: HttpRequest) -> JsonResponse:
    """Where the edits of some contacts stand, by LiveDesk id (`?ids=1,2,3`): what the list's
    badges poll while a row has an edit on its way (contact_live.js, watchBadges)."""
    remote_ids = [selectors.parse_id(text) for text in request.GET.get("ids", "").split(",")]
    remote_ids = [remote_id for remote_id in remote_ids if remote_id is not None]
    states = {}
    for contact, edits in selectors.contacts_unfinished_edits(
        remote_ids=remote_ids[:PUSH_STATES_MAX]
    ).items():
        edit_state = contact_edit_state(edits)
        badge = render_to_string(
            "contacts/includes/push_state_badge.html",
            {"contact": contact, "edit_state": edit_state},
            request=request,
        )
        states[str(contact.remote_id)] = {
            **edit_state.as_json(),
            "push_state": contact.push_state,
            "badge_html": badge.strip(),
        }
    return JsonResponse({"contacts": states})


@require_http_methods(["GET", "POST"])
@_can_change
def contact_edit_section(request: HttpRequest, remote_id: int, section: str) -> HttpResponse:
    """A quick edit of one section from the contact's page, through the full form's edit flow.
    Without htmx it is the full edit page, at that section."""
    contact = get_object_or_404(Contact, remote_id=remote_id)
    if section not in QUICK_SECTIONS:
        raise Http404
    if not request.htmx and request.method == "GET":
        return redirect(f"{reverse('contacts:edit', args=[remote_id])}#section-{section}")
    page = contact_edit_page(
        request,
        contact=contact,
        editor=request.user,
        source=ContactEdit.Source.AGENT,
        section=Section(section),
    )
    if page.finished:
        _outcome_message(request, page)
        if request.htmx:
            return HttpResponseClientRedirect(contact.get_absolute_url())
        return redirect(contact)
    if page.message and not request.htmx:
        messages.add_message(request, page.level, page.message)
    return render(
        request,
        "contacts/includes/section_edit.html" if request.htmx else "contacts/section_edit.html",
        {
            "contact": contact,
            "form": page.form,
            "section": page.form.open_section,
            "outcome": page.outcome,
            "conflicts": page.conflicts,
            "reload_button": RELOAD_BUTTON,
            "page_message": page.message if request.htmx else "",
        },
    )


def _outcome_message(request: HttpRequest, page: EditPage) -> None:
    """Say what became of a saved edit, unless the contact's page says it: an edit not yet in
    LiveDesk is shown there, with why and what comes next."""
    if page.message and page.outcome != EditOutcome.QUEUED:
        messages.add_message(request, page.level, page.message)


@require_http_methods(["GET", "POST"])
@_can_change
def contact_edit(request: HttpRequest, remote_id: int) -> HttpResponse:
    contact = get_object_or_404(Contact, remote_id=remote_id)
    # The form opens on LiveDesk's current values. A save needs no refresh: its push reads
    # LiveDesk first.
    refreshed = contact_refresh_if_stale(contact=contact) if request.method == "GET" else None
    # "Edit and resend" opens one unfinished edit's values; a plain edit shows LiveDesk's.
    open_edit = selectors.contact_open_edit(contact=contact, edit_id=request.GET.get("edit"))
    page = contact_edit_page(
        request,
        contact=contact,
        editor=request.user,
        source=ContactEdit.Source.AGENT,
        reopened=open_edit,
    )
    if page.finished:
        _outcome_message(request, page)
        return redirect(contact)
    if page.message:
        messages.add_message(request, page.level, page.message)
    context = {
        "contact": contact,
        "livedesk_unreachable": _livedesk_unreachable(refreshed),
        "form": page.form,
        "outcome": page.outcome,
        "conflicts": page.conflicts,
        "open_edit": None if page.outcome or page.reloaded else open_edit,
        "unfinished_count": selectors.contact_unfinished_edits(contact=contact).count(),
        "reload_button": RELOAD_BUTTON,
    }
    return render(request, "contacts/contact_edit.html", context)


def _edit_finished(request: HttpRequest, edit: ContactEdit, message: str) -> HttpResponse:
    """Back to the contact of an edit that finished meanwhile, saying nothing was done."""
    messages.info(request, message)
    return redirect(edit.contact)


@require_POST
@_can_change
def edit_retry(request: HttpRequest, edit_id: int) -> HttpResponse:
    edit = get_object_or_404(ContactEdit.objects.select_related("contact"), pk=edit_id)
    if not edit.is_unfinished:
        return _edit_finished(request, edit, _("This edit is already finished: nothing was sent."))
    result = services.edit_retry(edit=edit)
    if result.edit.state == ContactEdit.State.SUCCEEDED:
        messages.success(request, _("Sent again: LiveDesk accepted the edit."))
    elif result.outcome in (services.Push.WAITING, services.Push.BUSY):
        messages.info(
            request,
            _(
                "Another edit of this contact is on its way to LiveDesk, so nothing was sent: "
                "retry this one when it has arrived."
            ),
        )
    else:
        messages.error(
            request,
            _("LiveDesk did not accept the edit this time either: %(error)s")
            % {"error": result.edit.error_message},
        )
    return redirect(edit.contact)


@require_POST
@_can_change
def edit_discard(request: HttpRequest, edit_id: int) -> HttpResponse:
    edit = get_object_or_404(ContactEdit.objects.select_related("contact"), pk=edit_id)
    if not edit.is_unfinished:
        return _edit_finished(
            request, edit, _("This edit is already finished: nothing was changed.")
        )
    try:
        services.edit_discard(edit=edit, user=request.user)
    except services.EditInFlight:
        messages.warning(
            request,
            _("This edit is being sent to LiveDesk right now, so it cannot be discarded."),
        )
        return redirect(edit.contact)
    messages.success(
        request, _("Edit discarded: it stays in the history and will not be sent to LiveDesk.")
    )
    return redirect(edit.contact)


@require_GET
@_can_view
def edit_history(request: HttpRequest) -> HttpResponse:
    filter_form = EditHistoryFilterForm(request.GET or None)
    filters = filter_form.filters()
    edits = selectors.edit_history(**filters)
    page = Paginator(edits, PAGE_SIZE).get_page(request.GET.get("page"))
    # Each row's story from the audit log: one query for the page, set on its edits.
    page.object_list = list(page.object_list)
    events = selectors.edits_audit_events(edit_ids=[edit.pk for edit in page.object_list])
    for edit in page.object_list:
        edit.story = audit_story.edit_story(events[edit.pk])
    return render(
        request,
        "contacts/edit_history.html",
        {
            "filter_form": filter_form,
            "page": page,
            "filtered_contact": selectors.edit_history_contact(contact=filters["contact"]),
        },
    )


@require_GET
@_can_view
def audit_download(request: HttpRequest, remote_id: int) -> StreamingHttpResponse:
    """The contact's audit events as JSON lines, with their hashes, for an auditor."""
    contact = get_object_or_404(Contact, remote_id=remote_id)
    response = StreamingHttpResponse(
        audit_reads.jsonl_lines(audit_reads.event_chunks(contact=contact.remote_id)),
        content_type="application/jsonl; charset=utf-8",
    )
    response["Content-Disposition"] = (
        f'attachment; filename="contact-{contact.remote_id}-audit.jsonl"'
    )
    return response
