"""Settings for LiveDesk Contacts Admin, read from the environment and an optional `.env`.

Every setting has a safe local default so `make run` works on a fresh machine against the
bundled sandbox. With DEBUG off, the secret key and the LiveDesk credentials must be given.
"""

from datetime import timedelta
from pathlib import Path

import environ
from csp.constants import NONE, SELF
from django.core.exceptions import ImproperlyConfigured
from django.utils.translation import gettext_lazy as _

BASE_DIR = Path(__file__).resolve().parent.parent
# Local state, never committed: SQLite files, the sandbox store, collected static files.
VAR_DIR = BASE_DIR / "var"
VAR_DIR.mkdir(exist_ok=True)

SANDBOX_BASE_URL = "http://127.0.0.1:8765"
SANDBOX_API_KEY = "sandbox-demo-key"
SANDBOX_API_SECRET = "sandbox-demo-secret"

env = environ.Env()
environ.Env.read_env(BASE_DIR / ".env", overwrite=False)

DEBUG = env.bool("DEBUG", default=True)


def _env(cast, name: str, default):
    """`cast(name)` (env.int, env.bool...), or the default when the variable is unset or empty:
    an empty `NAME=` in `.env` never turns a protection off."""
    return cast(name) if env.str(name, default="") else default


def _required_when_live(name: str, demo_default: str) -> str:
    """A value that has a demo default while DEBUG is on and must be set when it is off."""
    value = env.str(name, default="")
    if value:
        return value
    if DEBUG:
        return demo_default
    raise ImproperlyConfigured(
        f"Set the {name} environment variable: it is required when DEBUG is off."
    )


SECRET_KEY = _required_when_live(
    "SECRET_KEY", "django-insecure-local-demo-key-do-not-use-in-production"
)
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["127.0.0.1", "localhost", "[::1]"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])
# In production the app is served over HTTPS: its cookies never travel in clear.
SESSION_COOKIE_SECURE = CSRF_COOKIE_SECURE = _env(env.bool, "SECURE_COOKIES", not DEBUG)

# --- HTTPS and browser protections (see `manage.py check --deploy`) ----------------------------
# Behind a proxy that terminates TLS: the name of the header it sets to "https" on the requests
# it received over HTTPS, e.g. X-Forwarded-Proto. Set it only when that proxy always sets or
# overwrites the header: a client could otherwise claim HTTPS.
_proxy_ssl_header = env.str("SECURE_PROXY_SSL_HEADER", default="")
SECURE_PROXY_SSL_HEADER = (
    ("HTTP_" + _proxy_ssl_header.upper().replace("-", "_"), "https") if _proxy_ssl_header else None
)
# How many reverse proxies, each appending to X-Forwarded-For, stand before the app: the login
# lockout then counts attempts per client address, not per proxy. 0: REMOTE_ADDR is the client.
TRUSTED_PROXY_COUNT = _env(env.int, "TRUSTED_PROXY_COUNT", 0)
SECURE_SSL_REDIRECT = _env(env.bool, "SECURE_SSL_REDIRECT", not DEBUG)
# HSTS: browsers then refuse plain HTTP to this host for that long. An hour when DEBUG is off;
# raise it (a year: 31536000) once HTTPS works, and opt in to subdomains and preloading only
# when every subdomain serves HTTPS too.
SECURE_HSTS_SECONDS = _env(env.int, "SECURE_HSTS_SECONDS", 0 if DEBUG else 3600)
SECURE_HSTS_INCLUDE_SUBDOMAINS = _env(env.bool, "SECURE_HSTS_INCLUDE_SUBDOMAINS", False)
SECURE_HSTS_PRELOAD = _env(env.bool, "SECURE_HSTS_PRELOAD", False)
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"

# Content-Security-Policy, sent with every response (django-csp): scripts and styles only from
# the app's own static files, no inline ones; contact pictures are https images elsewhere.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF],
        "style-src": [SELF],
        "img-src": [SELF, "https:", "data:"],
        "object-src": [NONE],
        "base-uri": [SELF],
        "form-action": [SELF],
        "frame-ancestors": [NONE],
    },
}


def _lockout_parameters(text: str) -> list:
    """AXES_LOCKOUT_PARAMETERS from "username+ip_address,ip_address": commas separate the
    alternatives, each counted on its own; + joins the parameters counted together."""
    alternatives = [part.strip() for part in text.split(",") if part.strip()]
    return [
        [name.strip() for name in part.split("+")] if "+" in part else part for part in alternatives
    ]


# Login throttling (django-axes), on the agent login and the admin login alike: after
# AXES_FAILURE_LIMIT failures of one username from one address, that pair is refused for
# AXES_COOLOFF_MINUTES (0: until an administrator deletes the attempt in the admin, or
# `manage.py axes_reset_username NAME`). A successful login resets the count.
AXES_ENABLED = _env(env.bool, "AXES_ENABLED", True)
AXES_FAILURE_LIMIT = _env(env.int, "AXES_FAILURE_LIMIT", 5)
_cool_off_minutes = _env(env.float, "AXES_COOLOFF_MINUTES", 15.0)
AXES_COOLOFF_TIME = timedelta(minutes=_cool_off_minutes) if _cool_off_minutes > 0 else None
AXES_LOCKOUT_PARAMETERS = _lockout_parameters(
    _env(env.str, "AXES_LOCKOUT_PARAMETERS", "username+ip_address")
)
AXES_RESET_ON_SUCCESS = True
AXES_HTTP_RESPONSE_CODE = 429
AXES_LOCKOUT_CALLABLE = "contacts.middleware.locked_out_response"
AXES_CLIENT_IP_CALLABLE = "contacts.middleware.client_ip_address"

LIVEDESK_BASE_URL = env.str("LIVEDESK_BASE_URL", default="") or (SANDBOX_BASE_URL if DEBUG else "")
if not LIVEDESK_BASE_URL:
    raise ImproperlyConfigured(
        "Set the LIVEDESK_BASE_URL environment variable: it is required when DEBUG is off."
    )
LIVEDESK_API_KEY = _required_when_live("LIVEDESK_API_KEY", SANDBOX_API_KEY)
LIVEDESK_API_SECRET = _required_when_live("LIVEDESK_API_SECRET", SANDBOX_API_SECRET)
# (connect, read) seconds for every call to LiveDesk.
LIVEDESK_TIMEOUT = (
    env.float("LIVEDESK_CONNECT_TIMEOUT", default=3.05),
    env.float("LIVEDESK_READ_TIMEOUT", default=15.0),
)
LIVEDESK_RETRIES = env.int("LIVEDESK_RETRIES", default=3)
LIVEDESK_RETRY_AFTER_CAP = env.float("LIVEDESK_RETRY_AFTER_CAP", default=30.0)
LIVEDESK_BACKOFF_FACTOR = env.float("LIVEDESK_BACKOFF_FACTOR", default=0.5)
# Background re-delivery of edits that failed for a transient reason.
LIVEDESK_PUSH_MAX_ATTEMPTS = env.int("LIVEDESK_PUSH_MAX_ATTEMPTS", default=6)
LIVEDESK_PUSH_BACKOFF_SECONDS = env.int("LIVEDESK_PUSH_BACKOFF_SECONDS", default=10)
LIVEDESK_PUSH_BACKOFF_MAX_SECONDS = env.int("LIVEDESK_PUSH_BACKOFF_MAX_SECONDS", default=600)
LIVEDESK_SYNC_PAGE_SIZE = env.int("LIVEDESK_SYNC_PAGE_SIZE", default=100)
# Pages of contacts a sync asks LiveDesk for at once (1: one page at a time).
LIVEDESK_SYNC_CONCURRENCY = env.int("LIVEDESK_SYNC_CONCURRENCY", default=4)
# How long an agent's Save may wait for LiveDesk (and for an earlier edit of the same contact)
# before it is told the edit is queued for the worker.
LIVEDESK_SAVE_BUDGET_SECONDS = env.float("LIVEDESK_SAVE_BUDGET_SECONDS", default=5.0)
# A push in flight holds its contact this long at most: past it, its process is taken for dead
# and the edit is due again. Longer than one call can last with all its retries.
LIVEDESK_PUSH_LEASE_SECONDS = env.int("LIVEDESK_PUSH_LEASE_SECONDS", default=180)
# The worker sweeps the outbox this often (0: never by itself): it pushes the edits whose lease
# ran out (their process died mid-call), orphans and retries whose task was lost.
LIVEDESK_PUSH_SWEEP_SECONDS = env.int("LIVEDESK_PUSH_SWEEP_SECONDS", default=30)
# The longest Retry-After the worker honours before trying again (a hostile or broken value of
# years is cut to this).
LIVEDESK_RETRY_AFTER_MAX = env.int("LIVEDESK_RETRY_AFTER_MAX", default=3600)
# After a call sent without an answer (a timeout, a reset, a gateway's 502/504) LiveDesk may
# still apply it: no other push of that contact goes out for this long.
LIVEDESK_UNKNOWN_OUTCOME_GRACE_SECONDS = env.int(
    "LIVEDESK_UNKNOWN_OUTCOME_GRACE_SECONDS", default=60
)
# The largest answer read from LiveDesk; a larger one is refused, never stored.
LIVEDESK_MAX_RESPONSE_BYTES = env.int("LIVEDESK_MAX_RESPONSE_BYTES", default=10 * 1024 * 1024)
# A contact's page and edit form refresh it from LiveDesk first when the mirror's copy is older
# than this (0: every time), waiting this long at most (connect, then read) before showing the
# mirror's copy and saying as of when.
LIVEDESK_FRESH_SECONDS = env.int("LIVEDESK_FRESH_SECONDS", default=60)
LIVEDESK_FRESH_TIMEOUT_SECONDS = env.float("LIVEDESK_FRESH_TIMEOUT_SECONDS", default=2.0)
# The worker syncs the whole mirror this often (0: never by itself; `manage.py schedule_sync`
# starts the chain).
LIVEDESK_SYNC_INTERVAL_SECONDS = env.int("LIVEDESK_SYNC_INTERVAL_SECONDS", default=6 * 60 * 60)
# The worker verifies the audit log's hash chain this often (0: never by itself; `manage.py
# schedule_sync` starts the chain, `manage.py verify_audit` verifies at once).
LIVEDESK_AUDIT_VERIFY_SECONDS = env.int("LIVEDESK_AUDIT_VERIFY_SECONDS", default=60 * 60)
# A batch's edits (bulk edit, import, undo) reach LiveDesk at most this many calls a second
# (a push is two calls: the read before it and the PATCH), one contact at a time, and slower
# after a 429 with Retry-After.
LIVEDESK_BULK_RATE = env.float("LIVEDESK_BULK_RATE", default=5.0)
# LiveDesk's webhook, POST /webhooks/livedesk/: a delivery is accepted with a valid
# X-Chatwoot-Signature (HMAC-SHA256 of "<timestamp>.<body>" with this secret) or with
# ?token=<this secret> in the URL. Empty (the default, DEBUG or not): webhooks are off and the
# endpoint answers 404. `make run` sets a demo secret for the sandbox.
LIVEDESK_WEBHOOK_SECRET = env.str("LIVEDESK_WEBHOOK_SECRET", default="")
# A signature's X-Chatwoot-Timestamp further than this from now (either way) is refused.
LIVEDESK_WEBHOOK_MAX_SKEW_SECONDS = _env(env.int, "LIVEDESK_WEBHOOK_MAX_SKEW_SECONDS", 300)
# The largest webhook body read; a larger one is answered 413.
LIVEDESK_WEBHOOK_MAX_BYTES = _env(env.int, "LIVEDESK_WEBHOOK_MAX_BYTES", 1024 * 1024)
# The country (ISO 3166 code) a phone number typed without "+" is read in when its contact has
# no country code: "081 234 5678" becomes +66812345678 with TH. Searches read one there too.
LIVEDESK_DEFAULT_PHONE_REGION = _env(env.str, "LIVEDESK_DEFAULT_PHONE_REGION", "TH").upper()

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "crispy_forms",
    "crispy_bootstrap5",
    "django_tasks",
    "django_tasks_db",
    "csp",
    "django_htmx",
    "axes",
    "pgtrigger",
    "contacts",
]

AUTHENTICATION_BACKENDS = [
    # First, as django-axes asks: a locked-out login is refused before any password is checked.
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "csp.middleware.CSPMiddleware",
    # Before anything reads the query or the form: a NUL would make PostgreSQL fail.
    "contacts.middleware.RejectNulCharactersMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    # request.htmx: the contact list answers an htmx request with its results only.
    "django_htmx.middleware.HtmxMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # Last, as django-axes asks: it turns a locked-out login into the lockout page.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "livedesk_admin.urls"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

WSGI_APPLICATION = "livedesk_admin.wsgi.application"

DATABASES = {
    "default": env.db("DATABASE_URL", default=f"sqlite:///{VAR_DIR / 'livedesk_admin.sqlite3'}"),
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # The web app, the worker and sync write to one file: wait for the lock, don't fail.
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {"timeout": 20, "transaction_mode": "IMMEDIATE", "init_command": "PRAGMA journal_mode=WAL;"}
    )

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "contacts:list"
LOGOUT_REDIRECT_URL = "login"

LANGUAGE_CODE = "en"
LANGUAGES = [("en", _("English")), ("th", _("Thai"))]
LOCALE_PATHS = [BASE_DIR / "contacts" / "locale"]
TIME_ZONE = env.str("TIME_ZONE", default="Asia/Bangkok")
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = VAR_DIR / "staticfiles"
STATIC_ROOT.mkdir(exist_ok=True)
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": (
            "django.contrib.staticfiles.storage.StaticFilesStorage"
            if DEBUG
            else "whitenoise.storage.CompressedManifestStaticFilesStorage"
        )
    },
}

CRISPY_ALLOWED_TEMPLATE_PACKS = "bootstrap5"
CRISPY_TEMPLATE_PACK = "bootstrap5"

TASKS = {
    "default": {
        "BACKEND": "django_tasks_db.DatabaseBackend",
        "QUEUES": ["default"],
    }
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "loggers": {
        "contacts": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")}
    },
}
