"""The saved segments' pages: save the list's search under a name, open a segment, its count
for the list's panel, rename and delete.

Every agent who may read the list may use segments. A private segment is someone else's
secret: another agent is answered 404, as if it did not exist; a shared one is read-only for
all but its owner (403 on rename or delete).
"""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required, permission_required
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse, JsonResponse, QueryDict
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from contacts import segment_selectors, selectors
from contacts.forms import ContactFilterForm
from contacts.forms.segments import SegmentRenameForm, SegmentSaveForm
from contacts.models import Segment
from contacts.pagination import list_count
from contacts.services import segments as segment_services
from contacts.services.facets import contact_countries


def _can_view(view):
    return login_required(permission_required("contacts.view_contact", raise_exception=True)(view))


def _visible(request: HttpRequest, segment_id: int) -> Segment:
    return get_object_or_404(segment_selectors.segments_visible(user=request.user), pk=segment_id)


def _back(request: HttpRequest) -> str:
    """Where a form of the list's panel returns: the page it was posted from, if ours."""
    back = request.POST.get("next", "")
    if url_has_allowed_host_and_scheme(
        back, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return back
    return reverse("contacts:list")


def _list_url(query: str) -> str:
    url = reverse("contacts:list")
    return f"{url}?{query}" if query else url


@require_http_methods(["GET", "POST"])
@_can_view
def segment_save(request: HttpRequest) -> HttpResponse:
    """Save the search and filters of the list (this URL's query) under a name."""
    form = SegmentSaveForm(request.POST if request.method == "POST" else None)
    if form.is_valid():
        try:
            saved = segment_services.segment_save(
                owner=request.user,
                name=form.cleaned_data["name"],
                query=request.GET,
                shared=form.cleaned_data["shared"],
            )
        except ValidationError as invalid:
            form.add_error(None, invalid)
        else:
            if saved.replaced:
                message = _("Segment “%(name)s” replaced with this search.")
            else:
                message = _("Segment “%(name)s” saved.")
            messages.success(request, message % {"name": saved.segment.name})
            return redirect(saved.segment)
    return render(
        request,
        "contacts/segment_form.html",
        {
            "form": form,
            "title": _("Save this search"),
            "action": request.get_full_path(),
            "back": _list_url(segment_services.segment_query(request.GET)),
        },
    )


@require_GET
@_can_view
def segment_open(request: HttpRequest, segment_id: int) -> HttpResponse:
    """The contact list with the segment's search and filters, the segment marked open."""
    segment = _visible(request, segment_id)
    query = "&".join(part for part in (segment.query, f"segment={segment.pk}") if part)
    return redirect(_list_url(query))


@require_GET
@_can_view
def segment_count(request: HttpRequest, segment_id: int) -> JsonResponse:
    """How many contacts the segment holds now, capped as the list counts ("more than N")."""
    segment = _visible(request, segment_id)
    filters = ContactFilterForm(QueryDict(segment.query), countries=contact_countries()).filters()
    count = list_count(selectors.contact_list(**filters))
    return JsonResponse(
        {"segment": segment.pk, "count": count.value, "kind": count.kind, "label": count.label},
        headers={"Cache-Control": "private, max-age=30"},
    )


@require_POST
@_can_view
def segment_rename(request: HttpRequest, segment_id: int) -> HttpResponse:
    segment = _visible(request, segment_id)
    form = SegmentRenameForm(request.POST)
    if form.is_valid():
        old_name = segment.name
        try:
            segment_services.segment_rename(
                segment=segment, by=request.user, name=form.cleaned_data["name"]
            )
        except segment_services.SegmentNameTaken:
            form.add_error("name", _("You already have a segment of this name: choose another."))
        except ValidationError as invalid:
            form.add_error("name", invalid)
        else:
            messages.success(
                request,
                _("Segment “%(old)s” renamed “%(new)s”.") % {"old": old_name, "new": segment.name},
            )
            return redirect(_back(request))
    return render(
        request,
        "contacts/segment_form.html",
        {
            "form": form,
            "title": _("Rename segment “%(name)s”") % {"name": segment.name},
            "action": reverse("contacts:segment_rename", args=[segment.pk]),
            "back": _back(request),
            "next": _back(request),
        },
    )


@require_POST
@_can_view
def segment_delete(request: HttpRequest, segment_id: int) -> HttpResponse:
    segment = _visible(request, segment_id)
    segment_services.segment_delete(segment=segment, by=request.user)
    messages.success(request, _("Segment “%(name)s” deleted.") % {"name": segment.name})
    # Back where it was deleted from: a list that had it open no longer finds it to mark.
    return redirect(_back(request))
