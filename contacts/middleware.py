"""Request guards of the whole site: NUL characters refused, and what django-axes answers and
reads about a login (the locked-out page, the client's address behind trusted proxies)."""

from __future__ import annotations

import math
from collections.abc import Callable

from axes.helpers import get_cool_off
from django.conf import settings
from django.contrib import admin
from django.contrib.admin.forms import AdminAuthenticationForm
from django.contrib.auth import REDIRECT_FIELD_NAME
from django.contrib.auth.forms import AuthenticationForm
from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest
from django.template.response import TemplateResponse
from django.utils import translation
from django.utils.translation import gettext, ngettext

NUL = "\x00"


class RejectNulCharactersMiddleware:
    """Answer 400 to a request whose path, query or form data holds a NUL character.

    PostgreSQL refuses NUL in text, so such a value reaching a query (a filter, a search, the
    username of a login attempt) would fail as a 500. No browser sends one: it is refused here,
    before any view or query, with a short plain message in the visitor's language.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if NUL in request.path_info or _has_nul(request.GET) or _has_nul(request.POST):
            return _nul_refused(request)
        return self.get_response(request)


def _has_nul(data) -> bool:
    return any(NUL in key or any(NUL in value for value in values) for key, values in data.lists())


def _nul_refused(request: HttpRequest) -> HttpResponse:
    # LocaleMiddleware has not run yet: pick the visitor's language as it would.
    with translation.override(translation.get_language_from_request(request)):
        message = gettext("The request contains a NUL character, which is not allowed.")
    return HttpResponseBadRequest(message, content_type="text/plain; charset=utf-8")


def client_ip_address(request: HttpRequest) -> str | None:
    """The client's address for django-axes (AXES_CLIENT_IP_CALLABLE).

    With TRUSTED_PROXY_COUNT = 0 (no proxy) it is REMOTE_ADDR. Behind N reverse proxies, each
    of which appends the address it was reached from to X-Forwarded-For, it is the Nth address
    from the right: the one the outermost trusted proxy saw. Addresses left of it can be forged
    by the client and are never read. A header shorter than that means the request did not come
    through the proxies as configured: REMOTE_ADDR is used.
    """
    remote_addr = request.META.get("REMOTE_ADDR")
    count = settings.TRUSTED_PROXY_COUNT
    if count <= 0:
        return remote_addr
    forwarded = [
        address.strip()
        for address in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",")
        if address.strip()
    ]
    if len(forwarded) < count:
        return remote_addr
    return forwarded[-count]


def locked_out_response(
    request: HttpRequest, original_response: HttpResponse | None = None, credentials=None
) -> HttpResponse:
    """The login page again, saying why the login is refused (AXES_LOCKOUT_CALLABLE).

    The agent login and the admin login each answer their own page, with the username kept and
    the lockout as the form's error, and the status AXES_HTTP_RESPONSE_CODE (429).
    """
    message = lockout_message(request)
    username = request.POST.get("username", "")
    redirect_to = request.POST.get(REDIRECT_FIELD_NAME, request.GET.get(REDIRECT_FIELD_NAME, ""))
    match = getattr(request, "resolver_match", None)
    if match is not None and admin.site.name in match.namespaces:
        form = _form_saying(
            AdminAuthenticationForm(request, initial={"username": username}), message
        )
        context = {
            **admin.site.each_context(request),
            "title": gettext("Log in"),
            "subtitle": None,
            "app_path": request.get_full_path(),
            "username": request.user.get_username(),
            "form": form,
            REDIRECT_FIELD_NAME: redirect_to,
        }
        template = admin.site.login_template or "admin/login.html"
    else:
        form = _form_saying(AuthenticationForm(request, initial={"username": username}), message)
        context = {"form": form, REDIRECT_FIELD_NAME: redirect_to, "locked_out": True}
        template = "registration/login.html"
    response = TemplateResponse(request, template, context, status=settings.AXES_HTTP_RESPONSE_CODE)
    return response.render()


def _form_saying(form: AuthenticationForm, message: str) -> AuthenticationForm:
    """The empty login form with `message` as its error: the page shows it where it shows a
    wrong password. The form is not validated (that would count one more failed login)."""
    form.cleaned_data = {}
    form.add_error(None, message)
    return form


def lockout_message(request: HttpRequest) -> str:
    """Why the login is refused, and for how long."""
    cool_off = get_cool_off(request)
    if not cool_off:
        return gettext(
            "Too many failed login attempts: this account is locked. "
            "Ask an administrator to unlock it."
        )
    minutes = max(1, math.ceil(cool_off.total_seconds() / 60))
    return ngettext(
        "Too many failed login attempts: logging in to this account is blocked for "
        "%(minutes)d minute. Try again later, or ask an administrator to unlock it.",
        "Too many failed login attempts: logging in to this account is blocked for "
        "%(minutes)d minutes. Try again later, or ask an administrator to unlock it.",
        minutes,
    ) % {"minutes": minutes}
