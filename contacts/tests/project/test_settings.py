"""Start-up settings, each case in a fresh interpreter with a controlled environment."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

PROJECT_ROOT = Path(__file__).resolve().parents[3]
SETUP_AND_REPORT = (
    "import json, django\n"
    "from django.conf import settings\n"
    "django.setup()\n"
    "print(json.dumps({name: getattr(settings, name) for name in ("
    "'DEBUG', 'SECRET_KEY', 'LIVEDESK_BASE_URL', 'LIVEDESK_API_KEY', 'LIVEDESK_API_SECRET')}))\n"
)
LIVE = {
    "DEBUG": "false",
    "SECRET_KEY": "a-long-random-production-secret-key",
    "LIVEDESK_BASE_URL": "https://livedesk-api.engagelab.com",
    "LIVEDESK_API_KEY": "live-key",
    "LIVEDESK_API_SECRET": "live-secret",
}


def start_up(tmp_path: Path, **variables: str) -> subprocess.CompletedProcess:
    """Run django.setup() in a new interpreter with only these variables set.

    Every setting read here is passed, empty when unset, so a developer's `.env` (read without
    overwriting the environment) cannot fill it in.
    """
    environment = {
        "PATH": os.environ.get("PATH", ""),
        "DJANGO_SETTINGS_MODULE": "livedesk_admin.settings",
        "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}",
        **dict.fromkeys(LIVE, ""),
        **variables,
    }
    return subprocess.run(
        [sys.executable, "-c", SETUP_AND_REPORT],
        cwd=PROJECT_ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=60,
    )


def reported(process: subprocess.CompletedProcess) -> dict:
    assert process.returncode == 0, process.stderr
    return json.loads(process.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize(
    "missing", ["SECRET_KEY", "LIVEDESK_BASE_URL", "LIVEDESK_API_KEY", "LIVEDESK_API_SECRET"]
)
def test_with_debug_off_start_up_refuses_a_missing_setting_and_names_it(tmp_path, missing):
    process = start_up(tmp_path, **{**LIVE, missing: ""})

    assert process.returncode != 0
    last_line = process.stderr.strip().splitlines()[-1]
    assert last_line.startswith("django.core.exceptions.ImproperlyConfigured")
    assert f"Set the {missing} environment variable" in last_line


def test_with_debug_off_and_everything_set_start_up_uses_the_environment(tmp_path):
    settings = reported(start_up(tmp_path, **LIVE))

    assert settings == {
        "DEBUG": False,
        "SECRET_KEY": LIVE["SECRET_KEY"],
        "LIVEDESK_BASE_URL": LIVE["LIVEDESK_BASE_URL"],
        "LIVEDESK_API_KEY": LIVE["LIVEDESK_API_KEY"],
        "LIVEDESK_API_SECRET": LIVE["LIVEDESK_API_SECRET"],
    }


def test_with_debug_on_the_local_defaults_work(tmp_path):
    settings = reported(start_up(tmp_path, DEBUG="true"))

    assert settings["DEBUG"] is True
    assert settings["SECRET_KEY"]
    assert settings["LIVEDESK_BASE_URL"] == "http://127.0.0.1:8765"
    assert settings["LIVEDESK_API_KEY"] and settings["LIVEDESK_API_SECRET"]
