"""The agent pages: contact list, contact, edit form, edit actions and edit history."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required, permission_required
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from contacts import selectors, services
from contacts.forms import (
    ContactEditForm,
    ContactFilterForm,
    EditHistoryFilterForm,
    contact_edit_form_submit,
)
from contacts.models import Contact, ContactEdit

PAGE_SIZE = 50


def _can_view(view):
    return login_required(permission_required("contacts.view_contact", raise_exception=True)(view))


def _can_change(view):
    return login_required(
        permission_required("contacts.change_contact", raise_exception=True)(view)
    )


@require_GET
@_can_view
def contact_list(request: HttpRequest) -> HttpResponse:
    filter_form = ContactFilterForm(request.GET or None, countries=selectors.contact_countries())
    contacts = selectors.contact_list(**filter_form.filters())
    page = Paginator(contacts, PAGE_SIZE).get_page(request.GET.get("page"))
    return render(
        request,
        "contacts/contact_list.html",
        {"filter_form": filter_form, "page": page, "sort": filter_form.filters()["sort"]},
    )


@require_GET
@_can_view
def contact_detail(request: HttpRequest, remote_id: int) -> HttpResponse:
    contact = get_object_or_404(Contact, remote_id=remote_id)
    return render(
        request,
        "contacts/contact_detail.html",
        {
            "contact": contact,
            "unfinished_edits": selectors.contact_unfinished_edits(contact=contact),
            "history": selectors.contact_history(contact=contact),
            "custom_labels": selectors.custom_attribute_labels(),
            "social_networks": [
                (network, services.field_label(services.SOCIAL_PREFIX + network))
                for network in services.SOCIAL_NETWORKS
            ],
            "can_change": request.user.has_perm("contacts.change_contact"),
        },
    )


@require_http_methods(["GET", "POST"])
@_can_change
def contact_edit(request: HttpRequest, remote_id: int) -> HttpResponse:
    contact = get_object_or_404(Contact, remote_id=remote_id)
    open_edit = selectors.contact_open_edit(contact=contact, edit_id=request.GET.get("edit"))
    prefill = selectors.edit_prefill_values(edit=open_edit) if open_edit else None
    context = {"contact": contact, "open_edit": open_edit, "conflicts": []}
    if request.method == "GET":
        form = ContactEditForm(contact=contact, prefill=prefill)
        return render(request, "contacts/contact_edit.html", {**context, "form": form})

    form = ContactEditForm(request.POST, contact=contact, prefill=prefill)
    if "reload" in request.POST:
        if form.is_valid():
            form = ContactEditForm(contact=contact, prefill=form.values_rebased())
            context["open_edit"] = None
            messages.info(
                request,
                _(
                    "The form now shows the contact's current values with your changes on "
                    "top. Check them, then save."
                ),
            )
        return render(request, "contacts/contact_edit.html", {**context, "form": form})
    if not form.is_valid():
        return render(request, "contacts/contact_edit.html", {**context, "form": form})

    outcome = contact_edit_form_submit(form, editor=request.user, source=ContactEdit.Source.AGENT)
    if outcome.kind in ("conflict", "rejected"):
        context.update(outcome=outcome, conflicts=outcome.conflicts, open_edit=None)
        return render(request, "contacts/contact_edit.html", {**context, "form": form})
    level = {
        "saved": messages.SUCCESS,
        "no_change": messages.INFO,
        "queued": messages.WARNING,
    }.get(outcome.kind, messages.ERROR)
    messages.add_message(request, level, outcome.message)
    return redirect(contact)


@require_POST
@_can_change
def edit_retry(request: HttpRequest, edit_id: int) -> HttpResponse:
    edit = get_object_or_404(ContactEdit.objects.select_related("contact"), pk=edit_id)
    if not edit.is_unfinished:
        messages.info(request, _("This edit is already finished: nothing was sent."))
        return redirect(edit.contact)
    edit = services.edit_retry(edit=edit)
    if edit.state == ContactEdit.State.SUCCEEDED:
        messages.success(request, _("Sent again: LiveDesk accepted the edit."))
    else:
        messages.error(
            request,
            _("LiveDesk did not accept the edit this time either: %(error)s")
            % {"error": edit.error_message},
        )
    return redirect(edit.contact)


@require_POST
@_can_change
def edit_discard(request: HttpRequest, edit_id: int) -> HttpResponse:
    edit = get_object_or_404(ContactEdit.objects.select_related("contact"), pk=edit_id)
    if not edit.is_unfinished:
        messages.info(request, _("This edit is already finished: nothing was changed."))
        return redirect(edit.contact)
    services.edit_discard(edit=edit, user=request.user)
    messages.success(
        request, _("Edit discarded: it stays in the history and will not be sent to LiveDesk.")
    )
    return redirect(edit.contact)


@require_GET
@_can_view
def edit_history(request: HttpRequest) -> HttpResponse:
    filter_form = EditHistoryFilterForm(request.GET or None)
    edits = selectors.edit_history(**filter_form.filters())
    page = Paginator(edits, PAGE_SIZE).get_page(request.GET.get("page"))
    return render(request, "contacts/edit_history.html", {"filter_form": filter_form, "page": page})
