"""Deployment settings, each case in a fresh interpreter with a controlled environment:
`manage.py check --deploy` passes with a production environment, and the security settings
(HTTPS, HSTS, the proxy, the login lockout) follow the environment."""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[3]
# Every variable the security settings read, passed empty when unset so that a developer's
# `.env` (read without overwriting the environment) cannot fill it in.
READ = (
    "DEBUG",
    "SECRET_KEY",
    "ALLOWED_HOSTS",
    "SECURE_COOKIES",
    "LIVEDESK_BASE_URL",
    "LIVEDESK_API_KEY",
    "LIVEDESK_API_SECRET",
    "SECURE_SSL_REDIRECT",
    "SECURE_PROXY_SSL_HEADER",
    "SECURE_HSTS_SECONDS",
    "SECURE_HSTS_INCLUDE_SUBDOMAINS",
    "SECURE_HSTS_PRELOAD",
    "TRUSTED_PROXY_COUNT",
    "AXES_ENABLED",
    "AXES_FAILURE_LIMIT",
    "AXES_COOLOFF_MINUTES",
    "AXES_LOCKOUT_PARAMETERS",
)
LIVE = {
    "DEBUG": "false",
    "SECRET_KEY": secrets.token_urlsafe(50),
    "ALLOWED_HOSTS": "contacts.example.com",
    "LIVEDESK_BASE_URL": "https://livedesk-api.engagelab.com",
    "LIVEDESK_API_KEY": "live-key",
    "LIVEDESK_API_SECRET": "live-secret",
}
TLS = {
    "SECURE_PROXY_SSL_HEADER": "X-Forwarded-Proto",
    "SECURE_HSTS_SECONDS": "31536000",
    "SECURE_HSTS_INCLUDE_SUBDOMAINS": "true",
    "SECURE_HSTS_PRELOAD": "true",
}
REPORTED = (
    "DEBUG",
    "SECURE_SSL_REDIRECT",
    "SECURE_PROXY_SSL_HEADER",
    "SECURE_HSTS_SECONDS",
    "SECURE_HSTS_INCLUDE_SUBDOMAINS",
    "SECURE_HSTS_PRELOAD",
    "SESSION_COOKIE_SECURE",
    "CSRF_COOKIE_SECURE",
    "TRUSTED_PROXY_COUNT",
    "AXES_ENABLED",
    "AXES_FAILURE_LIMIT",
    "AXES_LOCKOUT_PARAMETERS",
    "AXES_RESET_ON_SUCCESS",
)
SETUP_AND_REPORT = (
    "import json, django\n"
    "from django.conf import settings\n"
    "django.setup()\n"
    "cool_off = settings.AXES_COOLOFF_TIME\n"
    f"report = {{name: getattr(settings, name) for name in {REPORTED!r}}}\n"
    "report['AXES_COOLOFF_SECONDS'] = cool_off.total_seconds() if cool_off else None\n"
    "print(json.dumps(report))\n"
)


def run(tmp_path: Path, arguments: list[str], **variables: str) -> subprocess.CompletedProcess:
    environment = {
        "PATH": os.environ.get("PATH", ""),
        "DJANGO_SETTINGS_MODULE": "livedesk_admin.settings",
        "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}",
        **dict.fromkeys(READ, ""),
        **variables,
    }
    return subprocess.run(
        [sys.executable, *arguments],
        cwd=PROJECT_ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
    )


def settings_with(tmp_path: Path, **variables: str) -> dict:
    process = run(tmp_path, ["-c", SETUP_AND_REPORT], **variables)
    assert process.returncode == 0, process.stderr
    return json.loads(process.stdout.strip().splitlines()[-1])


def test_check_deploy_reports_no_issue_with_a_production_environment(tmp_path):
    process = run(tmp_path, ["manage.py", "check", "--deploy"], **LIVE, **TLS)

    output = process.stdout + process.stderr
    assert process.returncode == 0, output
    assert "System check identified no issues (0 silenced)." in output, output


def test_check_deploy_warns_when_hsts_is_turned_off(tmp_path):
    environment = {**LIVE, **TLS, "SECURE_HSTS_SECONDS": "0"}

    process = run(tmp_path, ["manage.py", "check", "--deploy"], **environment)

    assert "security.W004" in process.stdout + process.stderr


def test_with_debug_off_https_is_on_by_default_and_hsts_starts_short(tmp_path):
    settings = settings_with(tmp_path, **LIVE)

    assert settings["SECURE_SSL_REDIRECT"] is True
    assert settings["SESSION_COOKIE_SECURE"] is True
    assert settings["CSRF_COOKIE_SECURE"] is True
    assert settings["SECURE_HSTS_SECONDS"] == 3600
    assert settings["SECURE_HSTS_INCLUDE_SUBDOMAINS"] is False
    assert settings["SECURE_HSTS_PRELOAD"] is False
    assert settings["SECURE_PROXY_SSL_HEADER"] is None
    assert settings["TRUSTED_PROXY_COUNT"] == 0


def test_with_debug_on_https_redirect_and_hsts_are_off(tmp_path):
    settings = settings_with(tmp_path, DEBUG="true")

    assert settings["SECURE_SSL_REDIRECT"] is False
    assert settings["SECURE_HSTS_SECONDS"] == 0
    assert settings["SESSION_COOKIE_SECURE"] is False


def test_the_tls_settings_follow_the_environment(tmp_path):
    settings = settings_with(
        tmp_path, **LIVE, **TLS, SECURE_SSL_REDIRECT="false", TRUSTED_PROXY_COUNT="2"
    )

    assert settings["SECURE_PROXY_SSL_HEADER"] == ["HTTP_X_FORWARDED_PROTO", "https"]
    assert settings["SECURE_HSTS_SECONDS"] == 31536000
    assert settings["SECURE_HSTS_INCLUDE_SUBDOMAINS"] is True
    assert settings["SECURE_HSTS_PRELOAD"] is True
    assert settings["SECURE_SSL_REDIRECT"] is False
    assert settings["TRUSTED_PROXY_COUNT"] == 2


def test_the_login_lockout_defaults_to_five_failures_per_username_and_address_for_15_minutes(
    tmp_path,
):
    settings = settings_with(tmp_path, DEBUG="true")

    assert settings["AXES_ENABLED"] is True
    assert settings["AXES_FAILURE_LIMIT"] == 5
    assert settings["AXES_COOLOFF_SECONDS"] == 15 * 60
    assert settings["AXES_LOCKOUT_PARAMETERS"] == [["username", "ip_address"]]
    assert settings["AXES_RESET_ON_SUCCESS"] is True


def test_the_login_lockout_follows_the_environment(tmp_path):
    settings = settings_with(
        tmp_path,
        DEBUG="true",
        AXES_FAILURE_LIMIT="10",
        AXES_COOLOFF_MINUTES="60",
        AXES_LOCKOUT_PARAMETERS="ip_address, username+user_agent",
    )

    assert settings["AXES_FAILURE_LIMIT"] == 10
    assert settings["AXES_COOLOFF_SECONDS"] == 3600
    assert settings["AXES_LOCKOUT_PARAMETERS"] == ["ip_address", ["username", "user_agent"]]


def test_a_cool_off_of_zero_minutes_locks_until_an_administrator_unlocks(tmp_path):
    settings = settings_with(tmp_path, DEBUG="true", AXES_COOLOFF_MINUTES="0")

    assert settings["AXES_COOLOFF_SECONDS"] is None
