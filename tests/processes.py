"""Real server processes for tests: throwaway PostgreSQL and Redis servers and
the service itself, on free loopback ports."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
import urllib.error
import urllib.request
from contextlib import contextmanager
from pathlib import Path

from tests.services import ThrowawayPostgres, ThrowawayRedis  # noqa: F401 - shared with the tests
from tracker.testing.servers import free_port, wait_for_port

ROOT = Path(__file__).resolve().parent.parent


def current_database_url() -> str:
    """The URL of the database pytest-django created for this run."""
    from django.db import connection

    database = connection.settings_dict
    password = f":{database['PASSWORD']}" if database.get("PASSWORD") else ""
    return (
        f"postgres://{database['USER']}{password}@{database['HOST'] or '127.0.0.1'}:"
        f"{database['PORT'] or 5432}/{database['NAME']}"
    )


def service_env(**overrides: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST")}
    env.pop("DJANGO_SETTINGS_MODULE", None)
    env.update(
        SECRET_KEY="process-test-secret-key",
        DJANGO_SETTINGS_MODULE="tracker.settings.local",
        LOG_FORMAT="json",
    )
    env.update(overrides)
    return env


def manage(*args: str, env: dict[str, str], timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def on_sqlite(tmp_path, function: str, *, commands: tuple[tuple[str, ...], ...] = ()) -> object:
    """What ``function`` (``"module:name"``, returning JSON-able data) returns
    when run in a process of its own on a new SQLite database, as ``make run``
    serves it: migrated, then ``commands`` (such as ``("load_demo",)``) run."""
    env = service_env(
        DEBUG="1",
        DATABASE_URL=f"sqlite:///{tmp_path / 'tracker.sqlite3'}",
        TRACKER_VAR_DIR=str(tmp_path),
        REDIS_URL="",
    )
    for command in (("migrate", "--no-input"), *commands):
        done = manage(*command, "-v0", env=env, timeout=300)
        assert done.returncode == 0, done.stderr
    module, name = function.split(":")
    script = f"import json; from {module} import {name}; print('RESULT' + json.dumps({name}()))"
    ran = manage("shell", "-c", script, env=env, timeout=300)
    assert ran.returncode == 0, ran.stderr
    [line] = [line for line in ran.stdout.splitlines() if line.startswith("RESULT")]
    return json.loads(line.removeprefix("RESULT"))


@contextmanager
def web_server(env: dict[str, str], port: int | None = None):
    """gunicorn with the production config file, on a free loopback port."""
    port = port or free_port()
    handle, log_name = tempfile.mkstemp(prefix="tracker-web-", suffix=".log")
    log = os.fdopen(handle, "wb")
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "gunicorn",
            "tracker.wsgi",
            "--config",
            "deploy/gunicorn.conf.py",
        ],
        cwd=ROOT,
        env={**env, "WEB_BIND": f"127.0.0.1:{port}", "WEB_CONCURRENCY": "2"},
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        wait_for_port(port, 60)
        yield f"http://127.0.0.1:{port}", Path(log_name)
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(30)
        log.close()


def get(url: str, headers: dict[str, str] | None = None, timeout: float = 60):
    request = urllib.request.Request(url, headers=headers or {})  # noqa: S310
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), error.read()
