"""The batch pages: bulk edit, its preview and confirmation, a batch's progress and its undo,
the batches, a spreadsheet's import, the list's export, and the revert of one edit.

Changing contacts in bulk (bulk edit, import, undo) needs `contacts.change_in_bulk`; following a
batch needs the view permission, like every agent page. A draft batch is a preview: nothing is
recorded in the outbox or sent until it is confirmed.
"""

from __future__ import annotations

from urllib.parse import urlencode

from django.contrib import messages
from django.contrib.auth.decorators import login_required, permission_required
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse, StreamingHttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from contacts import selectors, services
from contacts.edit_flow import NOT_REVERTABLE, revert_message
from contacts.exports import contacts_csv_lines
from contacts.forms import ContactFilterForm
from contacts.forms.bulk import (
    BulkOperationFormSet,
    BulkSelectionForm,
    ImportUploadForm,
    bulk_key_choices,
    value_hints,
)
from contacts.forms.filters import filter_params
from contacts.models import ContactEdit, CustomAttributeDefinition, EditBatch
from contacts.services.batch_import import batch_draft_import
from contacts.services.facets import contact_countries

BATCHES_PER_PAGE = 25
# The preview shows this many changed contacts, before -> after.
PREVIEW_SAMPLE = 50
# The browser asks for a batch's progress this often while it is delivered.
POLL_SECONDS = 2


def _can_view(view):
    return login_required(permission_required("contacts.view_contact", raise_exception=True)(view))


def _can_change(view):
    return login_required(
        permission_required("contacts.change_contact", raise_exception=True)(view)
    )


def _can_change_in_bulk(view):
    return login_required(
        permission_required(
            ["contacts.view_contact", "contacts.change_in_bulk"], raise_exception=True
        )(view)
    )


# --- Bulk edit -----------------------------------------------------------------------------------


@require_http_methods(["GET", "POST"])
@_can_change_in_bulk
def bulk_edit(request: HttpRequest) -> HttpResponse:
    data = request.POST if request.method == "POST" else request.GET
    selection = BulkSelectionForm(data, countries=contact_countries())
    if not selection.is_valid():
        for error in selection.errors.values():
            messages.error(request, " ".join(error))
        return redirect("contacts:list")
    definitions = list(CustomAttributeDefinition.objects.all())
    formset = BulkOperationFormSet(
        request.POST if request.method == "POST" else None,
        prefix="operation",
        key_choices=bulk_key_choices(definitions),
    )
    if request.method == "POST" and formset.is_valid():
        try:
            operations = services.bulk_operations_validate(
                [services.BulkOperation.from_dict(row) for row in formset.operations()]
            )
        except services.BulkInvalid as invalid:
            filled = formset.filled_forms()
            for index, errors in invalid.errors.items():
                for error in errors:
                    filled[index].add_error("value", error)
        else:
            batch = services.batch_draft_bulk_edit(
                by=request.user,
                operations=operations,
                contacts=selection.contacts(),
                selection=selection.selection(),
            )
            return redirect("contacts:batch_preview", batch_id=batch.pk)
    return render(
        request,
        "contacts/batches/bulk_edit.html",
        {
            "formset": formset,
            "selection": selection,
            "selected_count": selection.contacts().count(),
            "value_hints": value_hints(definitions),
            "list_url": _list_url(selection.list_params()),
            "has_errors": formset.is_bound and formset.has_errors,
        },
    )


def _list_url(params: list[tuple[str, str]]) -> str:
    url = reverse("contacts:list")
    return f"{url}?{urlencode(params)}" if params else url


# --- A draft: its preview and its confirmation ---------------------------------------------------


@require_GET
@_can_change_in_bulk
def batch_preview(request: HttpRequest, batch_id: int) -> HttpResponse:
    batch = get_object_or_404(EditBatch.objects.select_related("undoes"), pk=batch_id)
    if batch.state != EditBatch.State.DRAFT:
        return redirect(batch)
    return render(
        request,
        "contacts/batches/preview.html",
        {
            "batch": batch,
            "preview": services.batch_preview(batch, sample=PREVIEW_SAMPLE),
            "cancel_url": _cancel_url(batch),
        },
    )


def _cancel_url(batch: EditBatch) -> str:
    """Where a draft's Cancel goes: the batch it would undo, the import page, or the list."""
    if batch.kind == EditBatch.Kind.UNDO and batch.undoes is not None:
        return batch.undoes.get_absolute_url()
    if batch.kind == EditBatch.Kind.IMPORT:
        return reverse("contacts:import")
    return _list_url(_filter_params((batch.selection or {}).get("filters") or {}))


def _filter_params(filters: dict) -> list[tuple[str, str]]:
    """A stored selection's filters (selectors.contact_list's arguments) as the list's query."""
    return filter_params(filters)


@require_POST
@_can_change_in_bulk
def batch_confirm(request: HttpRequest, batch_id: int) -> HttpResponse:
    batch = get_object_or_404(EditBatch, pk=batch_id)
    if batch.state != EditBatch.State.DRAFT:
        messages.info(request, _("This batch was already confirmed: nothing more was recorded."))
        return redirect(batch)
    batch = services.batch_confirm(batch=batch, by=request.user)
    messages.success(
        request,
        _(
            "Confirmed: %(count)s contacts will be changed. The worker sends the changes to "
            "LiveDesk at the configured rate; follow them here."
        )
        % {"count": batch.changed_count},
    )
    return redirect(batch)


# --- A batch: its progress, its undo -------------------------------------------------------------


@require_GET
@_can_view
def batch_detail(request: HttpRequest, batch_id: int) -> HttpResponse:
    batch = get_object_or_404(EditBatch.objects.select_related("undoes", "created_by"), pk=batch_id)
    if batch.state == EditBatch.State.DRAFT:
        # A draft is a preview, not a batch yet: only those who may confirm it see it.
        if not request.user.has_perm("contacts.change_in_bulk"):
            raise Http404
        return redirect("contacts:batch_preview", batch_id=batch.pk)
    progress = selectors.batch_progress(batch)
    return render(
        request,
        "contacts/batches/batch_detail.html",
        {
            "batch": batch,
            "progress": progress,
            "done": batch.changed_count - progress.waiting,
            "undone_by": batch.undone_by.filter(state=EditBatch.State.CONFIRMED).first(),
            "can_undo": request.user.has_perm("contacts.change_in_bulk"),
            "poll_seconds": POLL_SECONDS,
        },
    )


@require_GET
@_can_view
def batch_progress(request: HttpRequest, batch_id: int) -> JsonResponse:
    """The batch's progress as JSON, for the progress page's script."""
    batch = get_object_or_404(EditBatch, pk=batch_id, state=EditBatch.State.CONFIRMED)
    progress = selectors.batch_progress(batch)
    return JsonResponse(
        {
            "batch": batch.pk,
            "changed": batch.changed_count,
            "done": batch.changed_count - progress.waiting,
            "delivered": progress.delivered,
            "failed": progress.failed,
            "conflicts": progress.conflicts,
            "waiting": progress.waiting,
            "carried": progress.carried,
            "discarded": progress.discarded,
            "finished": progress.finished,
        },
        headers={"Cache-Control": "no-store"},
    )


@require_POST
@_can_change_in_bulk
def batch_undo(request: HttpRequest, batch_id: int) -> HttpResponse:
    batch = get_object_or_404(EditBatch, pk=batch_id, state=EditBatch.State.CONFIRMED)
    try:
        undo = services.batch_undo_draft(batch=batch, by=request.user)
    except services.BatchNotUndoable:
        messages.warning(
            request,
            _(
                "This batch is still being sent to LiveDesk: undo it when every change has "
                "arrived or failed."
            ),
        )
        return redirect(batch)
    return redirect("contacts:batch_preview", batch_id=undo.pk)


@require_GET
@_can_view
def batch_list(request: HttpRequest) -> HttpResponse:
    confirmed = EditBatch.objects.filter(state=EditBatch.State.CONFIRMED).select_related("undoes")
    page = Paginator(confirmed, BATCHES_PER_PAGE).get_page(request.GET.get("page"))
    return render(
        request,
        "contacts/batches/batch_list.html",
        {"page": page, "can_change_in_bulk": request.user.has_perm("contacts.change_in_bulk")},
    )


# --- Import and export ---------------------------------------------------------------------------


@require_http_methods(["GET", "POST"])
@_can_change_in_bulk
def batch_import(request: HttpRequest) -> HttpResponse:
    form = ImportUploadForm(request.POST or None, request.FILES or None)
    problem = ""
    if request.method == "POST" and form.is_valid():
        result = batch_draft_import(by=request.user, upload=form.cleaned_data["spreadsheet"])
        problem = result.preview.problem
        if not problem:
            return render(
                request,
                "contacts/batches/import_preview.html",
                {
                    "preview": result.preview,
                    "batch": result.batch,
                    "error_rows": result.preview.errors_by_row(),
                },
            )
    return render(
        request,
        "contacts/batches/import.html",
        {"form": form, "problem": problem, "export_url": reverse("contacts:export")},
    )


@require_GET
@_can_view
def contacts_export(request: HttpRequest) -> StreamingHttpResponse:
    """The contacts matching the list's search and filters as CSV, in the columns the import
    reads."""
    filters = ContactFilterForm(request.GET, countries=contact_countries()).filters()
    response = StreamingHttpResponse(
        contacts_csv_lines(selectors.contact_list(**filters)),
        content_type="text/csv; charset=utf-8",
    )
    filename = f"contacts-{timezone.localdate():%Y-%m-%d}.csv"
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


# --- The revert of one edit ----------------------------------------------------------------------


@require_POST
@_can_change
def edit_revert(request: HttpRequest, edit_id: int) -> HttpResponse:
    edit = get_object_or_404(ContactEdit.objects.select_related("contact"), pk=edit_id)
    back = request.POST.get("next", "")
    if not url_has_allowed_host_and_scheme(
        back, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        back = edit.contact.get_absolute_url()
    try:
        submission = services.edit_revert(edit=edit, by=request.user)
    except services.EditNotRevertable:
        messages.info(request, NOT_REVERTABLE)
        return redirect(back)
    level, message = revert_message(submission)
    messages.add_message(request, level, message)
    return redirect(back)
