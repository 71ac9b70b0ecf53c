"""Settings come from the environment; a malformed value stops start-up."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def start(**env: str) -> subprocess.CompletedProcess:
    environment = {
        key: value
        for key, value in os.environ.items()
        if key not in {"DATABASE_URL", "REDIS_URL", "SECRET_KEY", "DEBUG", "ALLOWED_HOSTS"}
    }
    environment.update(DJANGO_SETTINGS_MODULE="tracker.settings.local", **env)
    return subprocess.run(
        [sys.executable, "manage.py", "check"],
        cwd=ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("DEBUG", "maybe"),
        ("DATABASE_URL", "mysql//nowhere"),
        ("DATABASE_URL", "postgres://postgres@127.0.0.1:notaport/test"),
        ("REDIS_URL", "http://127.0.0.1:6379"),
        ("REDIS_URL", "redis://127.0.0.1:port/0"),
        ("ALLOWED_HOSTS", "example.org,,www.example.org"),
        ("CELERY_TASK_TIME_LIMIT", "ten"),
        ("MATCHING_MERGE_AT", "high"),
        ("MATCHING_REVIEW_AT", "nan"),
    ],
)
def test_it_stops_start_up_naming_the_malformed_variable(variable, value):
    result = start(**{"DEBUG": "1", variable: value})
    assert result.returncode != 0
    assert f"{variable}=" in result.stderr
    assert "ImproperlyConfigured" in result.stderr


def test_it_refuses_a_review_threshold_above_the_merge_threshold(tmp_path):
    result = start(
        DEBUG="1", TRACKER_VAR_DIR=str(tmp_path), MATCHING_MERGE_AT="6", MATCHING_REVIEW_AT="8"
    )
    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr
    assert "MATCHING_REVIEW_AT=8 is above MATCHING_MERGE_AT=6" in result.stderr


def test_it_refuses_to_start_without_a_secret_key_unless_debugging(tmp_path):
    refused = start(TRACKER_VAR_DIR=str(tmp_path))
    assert refused.returncode != 0
    assert "SECRET_KEY" in refused.stderr
    accepted = start(DEBUG="1", TRACKER_VAR_DIR=str(tmp_path))
    assert accepted.returncode == 0, accepted.stderr


def test_it_starts_on_the_embedded_defaults(tmp_path):
    result = start(SECRET_KEY="x" * 50, TRACKER_VAR_DIR=str(tmp_path))
    assert result.returncode == 0, result.stderr


def test_the_test_settings_run_on_postgresql_and_redis(settings):
    assert settings.DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql"
    assert settings.CELERY_BROKER_URL.startswith("redis://")


def _test_settings_servers(**env: str) -> list[str]:
    """The database and Redis the test settings choose with ``env`` exported."""
    environment = {
        key: value
        for key, value in os.environ.items()
        if key not in {"DATABASE_URL", "REDIS_URL", "TEST_DATABASE_URL", "TEST_REDIS_URL"}
    }
    environment.update(DJANGO_SETTINGS_MODULE="tracker.settings.test", **env)
    code = (
        "import django, os; django.setup(); from django.conf import settings; "
        "db = settings.DATABASES['default']; "
        "print(db['HOST'], db['NAME'], settings.REDIS_URL, os.environ['REDIS_URL'])"
    )
    done = subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.split()


def test_the_tests_never_use_the_services_own_servers():
    service = {
        "DATABASE_URL": "postgres://tracker@10.9.8.7:5432/tracker",
        "REDIS_URL": "redis://10.9.8.7:6379/0",
    }
    assert _test_settings_servers(**service) == [
        "127.0.0.1",
        "test",
        "redis://127.0.0.1:6379/15",
        "redis://127.0.0.1:6379/15",
    ]
    chosen = _test_settings_servers(
        **service,
        TEST_DATABASE_URL="postgres://postgres@127.0.0.1:5432/elsewhere",
        TEST_REDIS_URL="redis://127.0.0.1:6379/9",
    )
    assert chosen == ["127.0.0.1", "elsewhere", *["redis://127.0.0.1:6379/9"] * 2]


def test_an_empty_list_of_allowed_source_networks_means_none(tmp_path):
    """`TRACKER_SOURCE_ALLOWED_NETWORKS=` as an env file writes it; other lists stay strict."""
    result = start(DEBUG="1", TRACKER_VAR_DIR=str(tmp_path), TRACKER_SOURCE_ALLOWED_NETWORKS="")
    assert result.returncode == 0, result.stderr
    refused = start(DEBUG="1", TRACKER_VAR_DIR=str(tmp_path), ALLOWED_HOSTS="")
    assert refused.returncode != 0
    assert "ALLOWED_HOSTS=" in refused.stderr


def test_static_files_can_live_outside_the_data_folder(tmp_path):
    static = tmp_path / "image-static"
    environment = {
        key: value for key, value in os.environ.items() if key not in {"DATABASE_URL", "REDIS_URL"}
    }
    environment.update(
        DJANGO_SETTINGS_MODULE="tracker.settings.local",
        DEBUG="1",
        TRACKER_VAR_DIR=str(tmp_path / "var"),
        TRACKER_STATIC_ROOT=str(static),
    )
    result = subprocess.run(
        [sys.executable, "manage.py", "collectstatic", "--no-input", "-v0"],
        cwd=ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert (static / "admin" / "css" / "base.css").exists()
    assert not (tmp_path / "var" / "static").exists()


def test_a_worker_takes_its_concurrency_from_the_environment(tmp_path):
    environment = {
        key: value for key, value in os.environ.items() if key not in {"DATABASE_URL", "REDIS_URL"}
    }
    environment.update(
        DJANGO_SETTINGS_MODULE="tracker.settings.local",
        DEBUG="1",
        TRACKER_VAR_DIR=str(tmp_path),
        WORKER_CONCURRENCY="3",
    )
    result = subprocess.run(
        [
            sys.executable,
            "-c",
            "from tracker.celery import app; print(app.conf.worker_concurrency)",
        ],
        cwd=ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.stdout.strip() == "3", result.stderr
