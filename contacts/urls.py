from django.urls import path

from contacts import views

app_name = "contacts"

urlpatterns = [
    path("", views.contact_list, name="list"),
    path("history/", views.edit_history, name="history"),
    path("edits/<int:edit_id>/retry/", views.edit_retry, name="edit_retry"),
    path("edits/<int:edit_id>/discard/", views.edit_discard, name="edit_discard"),
    path("<int:remote_id>/", views.contact_detail, name="detail"),
    path("<int:remote_id>/edit/", views.contact_edit, name="edit"),
    path("<int:remote_id>/audit.jsonl", views.audit_download, name="audit_download"),
]
