from django.contrib import admin
from django.urls import include, path, re_path
from django.views.generic import RedirectView

from contacts.webhooks import livedesk_webhook

urlpatterns = [
    path("", RedirectView.as_view(pattern_name="contacts:list", permanent=False)),
    path("contacts/", include("contacts.urls")),
    path("accounts/", include("django.contrib.auth.urls")),
    path("i18n/", include("django.conf.urls.i18n")),
    path("admin/", admin.site.urls),
    # LiveDesk's webhook; with or without the final slash (a POST is never redirected).
    re_path(r"^webhooks/livedesk/?$", livedesk_webhook, name="livedesk_webhook"),
]
