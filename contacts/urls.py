from django.urls import path

from contacts import batch_views, segment_views, views

app_name = "contacts"

urlpatterns = [
    path("", views.contact_list, name="list"),
    path("export.csv", batch_views.contacts_export, name="export"),
    path("bulk-edit/", batch_views.bulk_edit, name="bulk_edit"),
    path("import/", batch_views.batch_import, name="import"),
    path("batches/", batch_views.batch_list, name="batches"),
    path("batches/<int:batch_id>/", batch_views.batch_detail, name="batch"),
    path(
        "batches/<int:batch_id>/progress.json",
        batch_views.batch_progress,
        name="batch_progress",
    ),
    path("batches/<int:batch_id>/preview/", batch_views.batch_preview, name="batch_preview"),
    path("batches/<int:batch_id>/confirm/", batch_views.batch_confirm, name="batch_confirm"),
    path("batches/<int:batch_id>/undo/", batch_views.batch_undo, name="batch_undo"),
    path("segments/save/", segment_views.segment_save, name="segment_save"),
    path("segments/<int:segment_id>/", segment_views.segment_open, name="segment_open"),
    path("segments/<int:segment_id>/count", segment_views.segment_count, name="segment_count"),
    path("segments/<int:segment_id>/rename/", segment_views.segment_rename, name="segment_rename"),
    path("segments/<int:segment_id>/delete/", segment_views.segment_delete, name="segment_delete"),
    path("history/", views.edit_history, name="history"),
    path("push-states.json", views.push_states, name="push_states"),
    path("edits/<int:edit_id>/retry/", views.edit_retry, name="edit_retry"),
    path("edits/<int:edit_id>/discard/", views.edit_discard, name="edit_discard"),
    path("edits/<int:edit_id>/revert/", batch_views.edit_revert, name="edit_revert"),
    path("<int:remote_id>/", views.contact_detail, name="detail"),
    path("<int:remote_id>/edit/", views.contact_edit, name="edit"),
    path("<int:remote_id>/live/", views.contact_live, name="live"),
    path(
        "<int:remote_id>/edit/<slug:section>/",
        views.contact_edit_section,
        name="edit_section",
    ),
    path("<int:remote_id>/audit.jsonl", views.audit_download, name="audit_download"),
]
