"""deploy/healthcheck.py, the image's health check, against real processes: gunicorn
where WEB_BIND says, behind the production ALLOWED_HOSTS, and beat's heartbeat."""

import os
import signal
import subprocess
import sys
import time

import pytest

from tests.processes import ROOT, free_port, service_env, web_server

pytestmark = pytest.mark.slow


def healthcheck(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "deploy/healthcheck.py", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_the_web_check_asks_where_web_bind_says_with_an_allowed_host(tmp_path):
    port = free_port()
    env = service_env(
        TRACKER_VAR_DIR=str(tmp_path),
        DJANGO_SETTINGS_MODULE="tracker.settings.production",
        SECRET_KEY="a-long-random-secret-key-for-the-health-check-test-0123456789",
        DATABASE_URL=os.environ["DATABASE_URL"],
        ALLOWED_HOSTS="tracker.example.org,www.example.org",
    )
    with web_server(env, port=port):
        # Django answers 400 to any other Host than those allowed.
        deadline = time.monotonic() + 60
        while (
            passed := healthcheck("web", env={**env, "WEB_BIND": f"127.0.0.1:{port}"})
        ).returncode:
            assert time.monotonic() < deadline, passed.stderr
            time.sleep(1)
        assert "/health/live answered 200" in passed.stdout
        wildcard = healthcheck("web", env={**env, "WEB_BIND": f"0.0.0.0:{port}"})
        assert wildcard.returncode == 0, wildcard.stderr
    refused = healthcheck("web", env={**env, "WEB_BIND": f"127.0.0.1:{port}"})
    assert refused.returncode == 1
    assert "unhealthy: ConnectionRefusedError" in refused.stderr


def test_the_beat_check_passes_while_beat_ticks_and_fails_once_it_stops(tmp_path):
    env = service_env(
        TRACKER_VAR_DIR=str(tmp_path), TRACKER_BEAT_TICK_SECONDS="1", DEBUG="1", LOG_LEVEL="WARNING"
    )
    env.pop("DATABASE_URL", None)
    env.pop("REDIS_URL", None)
    before = healthcheck("beat", env=env)
    assert before.returncode == 1
    assert "beat has not ticked" in before.stderr

    beat = subprocess.Popen(
        [sys.executable, "-m", "celery", "--app", "tracker", "beat", "--loglevel", "WARNING"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        heartbeat = tmp_path / "beat-heartbeat"
        deadline = time.monotonic() + 60
        while not heartbeat.exists():
            assert time.monotonic() < deadline, "beat wrote no heartbeat"
            time.sleep(0.5)
        ticking = healthcheck("beat", env=env)
        assert ticking.returncode == 0, ticking.stderr
    finally:
        os.killpg(beat.pid, signal.SIGTERM)
        beat.wait(30)
    # A heartbeat older than three ticks and the margin: beat is not scheduling.
    stale = time.time() - 3 * 1 - 31
    os.utime(heartbeat, (stale, stale))
    stopped = healthcheck("beat", env=env)
    assert stopped.returncode == 1
    assert "beat last ticked" in stopped.stderr


def test_a_one_off_container_has_nothing_to_check(tmp_path):
    result = healthcheck("none", env=service_env(TRACKER_VAR_DIR=str(tmp_path)))
    assert result.returncode == 0
    assert "nothing to check" in result.stdout
