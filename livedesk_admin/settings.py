"""Settings for LiveDesk Contacts Admin, read from the environment and an optional `.env`.

Every setting has a safe local default so `make run` works on a fresh machine against the
bundled sandbox. With DEBUG off, the secret key and the LiveDesk credentials must be given.
"""

from pathlib import Path

import environ
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
SESSION_COOKIE_SECURE = CSRF_COOKIE_SECURE = env.bool("SECURE_COOKIES", default=not DEBUG)

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
    "contacts",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
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
