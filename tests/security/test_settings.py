"""Production settings pass ``manage.py check --deploy`` with no warning, and
DEBUG cannot be on against a production database by accident: each case starts
manage.py in its own process with only the environment it names."""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
STRONG_KEY = secrets.token_urlsafe(50)
REMOTE_DATABASE = "postgres://tracker@db.example.org:5432/tracker"
_CLEARED = {
    "DATABASE_URL",
    "REDIS_URL",
    "SECRET_KEY",
    "DEBUG",
    "ALLOWED_HOSTS",
    "ALLOW_DEBUG_WITH_REMOTE_DATABASE",
    "SECURE_SSL_REDIRECT",
    "SECURE_HSTS_SECONDS",
    "SECURE_HSTS_INCLUDE_SUBDOMAINS",
    "SECURE_HSTS_PRELOAD",
}


def manage(settings: str, *args: str, tmp_path: Path, **env: str) -> subprocess.CompletedProcess:
    environment = {k: v for k, v in os.environ.items() if k not in _CLEARED}
    environment.update(
        DJANGO_SETTINGS_MODULE=f"tracker.settings.{settings}", TRACKER_VAR_DIR=str(tmp_path), **env
    )
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_production_settings_pass_the_deploy_check_with_no_warning(tmp_path):
    result = manage(
        "production",
        "check",
        "--deploy",
        "--fail-level",
        "WARNING",
        tmp_path=tmp_path,
        SECRET_KEY=STRONG_KEY,
        DATABASE_URL=REMOTE_DATABASE,
        ALLOWED_HOSTS="tracker.example.org",
    )

    assert result.returncode == 0, result.stderr
    assert "System check identified no issues (0 silenced)." in result.stdout


def test_the_deploy_check_would_catch_a_weakened_setting(tmp_path):
    # The check above can fail: turning HSTS off is reported.
    result = manage(
        "production",
        "check",
        "--deploy",
        "--fail-level",
        "WARNING",
        tmp_path=tmp_path,
        SECRET_KEY=STRONG_KEY,
        DATABASE_URL=REMOTE_DATABASE,
        SECURE_HSTS_SECONDS="0",
    )

    assert result.returncode != 0
    assert "security.W004" in result.stderr


@pytest.mark.parametrize(
    ("key", "why"),
    [
        ("short-key", "too short"),
        ("change-me-to-a-long-random-string-as-deploy-env-example-says-0123456789", "placeholder"),
        ("a" * 25 + "b" * 25 + "c" * 10, "few distinct characters"),
    ],
)
def test_production_refuses_a_weak_secret_key(tmp_path, key, why):
    result = manage(
        "production", "check", tmp_path=tmp_path, SECRET_KEY=key, DATABASE_URL=REMOTE_DATABASE
    )

    assert result.returncode != 0, why
    assert "ImproperlyConfigured: SECRET_KEY is too weak for production" in result.stderr


def test_production_refuses_debug_even_when_asked_for_it(tmp_path):
    result = manage(
        "production",
        "check",
        tmp_path=tmp_path,
        SECRET_KEY=STRONG_KEY,
        DATABASE_URL=REMOTE_DATABASE,
        DEBUG="1",
        ALLOW_DEBUG_WITH_REMOTE_DATABASE="1",
    )

    assert result.returncode != 0
    assert "DEBUG=1 is refused by the production settings" in result.stderr


@pytest.mark.parametrize(
    ("env", "started"),
    [
        ({"DEBUG": "1", "DATABASE_URL": REMOTE_DATABASE}, False),
        ({"DEBUG": "1", "DATABASE_URL": "postgres://tracker@10.0.0.5/tracker"}, False),
        (
            {
                "DEBUG": "1",
                "DATABASE_URL": REMOTE_DATABASE,
                "ALLOW_DEBUG_WITH_REMOTE_DATABASE": "1",
            },
            True,
        ),
        ({"DEBUG": "1", "DATABASE_URL": "postgres://postgres@127.0.0.1:5432/tracker"}, True),
        ({"DEBUG": "1", "DATABASE_URL": "postgres://postgres@[::1]:5432/tracker"}, True),
        ({"DEBUG": "1", "DATABASE_URL": "postgres://postgres@localhost/tracker"}, True),
        ({"DEBUG": "1"}, True),  # the embedded SQLite file
        ({"DEBUG": "0", "SECRET_KEY": STRONG_KEY, "DATABASE_URL": REMOTE_DATABASE}, True),
    ],
    ids=[
        "debug-remote-host",
        "debug-private-address",
        "debug-remote-allowed-explicitly",
        "debug-loopback",
        "debug-ipv6-loopback",
        "debug-localhost",
        "debug-sqlite",
        "no-debug-remote",
    ],
)
def test_local_settings_refuse_debug_with_a_remote_database_unless_told(tmp_path, env, started):
    result = manage("local", "check", tmp_path=tmp_path, **env)

    assert (result.returncode == 0) is started, result.stderr
    if not started:
        assert "ALLOW_DEBUG_WITH_REMOTE_DATABASE=1" in result.stderr
