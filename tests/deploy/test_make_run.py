"""`make run` as a first impression: what it prints, what it starts, and how
it stops. Runs the real Makefile with this test run's virtualenv (never
installing into it: the install step is taken as done)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.processes import ROOT, free_port, get, service_env

pytestmark = pytest.mark.slow

VENV = Path(sys.executable).parent.parent


def make_run(tmp_path: Path, port: int, tag: str) -> tuple[subprocess.Popen, Path]:
    env = service_env(TRACKER_VAR_DIR=str(tmp_path), WEB_BIND=f"127.0.0.1:{port}")
    for name in ("DATABASE_URL", "REDIS_URL", "DEBUG", "LOG_FORMAT", "WEB_CONCURRENCY"):
        env.pop(name, None)
    env.pop("DJANGO_SETTINGS_MODULE", None)
    log = tmp_path / f"{tag}.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            ["make", "--no-print-directory", "run", f"VENV={VENV}", "-o", f"{VENV}/.installed"],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        text = log.read_text(errors="replace")
        try:
            web = get(f"http://127.0.0.1:{port}/api/letters/", timeout=2)[0] == 200
        except OSError:
            web = False
        if web and "ready." in text and "beat: Starting" in text:
            break
        if process.poll() is not None:
            break
        time.sleep(0.5)
    else:
        os.killpg(process.pid, signal.SIGKILL)
        pytest.fail(f"make run did not start:\n{log.read_text()[-3000:]}")
    assert process.poll() is None, log.read_text()[-3000:]
    return process, log


def children(pid: int) -> list[int]:
    try:
        return [int(p) for p in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except FileNotFoundError:
        return []


def processes_named(word: str, marker: str) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            command = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
            if word in command and marker.encode() in (entry / "environ").read_bytes():
                found.append(int(entry.name))
        except OSError:
            continue
    return found


def stop(process: subprocess.Popen, log: Path) -> float:
    """Ctrl-C, as a terminal sends it to the foreground group; the seconds taken."""
    started = time.monotonic()
    os.killpg(process.pid, signal.SIGINT)
    process.wait(30)
    return time.monotonic() - started


def test_make_run_says_where_it_serves_starts_little_and_stops_cleanly(tmp_path):
    port = free_port()
    marker = str(tmp_path)
    process, log = make_run(tmp_path, port, "first")
    try:
        gunicorns = processes_named("gunicorn tracker.wsgi", marker)
        workers = processes_named("celery --app tracker worker", marker)
    finally:
        took = stop(process, log)
    text = log.read_text(errors="replace")

    assert f"Serving http://127.0.0.1:{port}/api/" in text
    assert "Demo loaded: 2 letters, 10 organizations, 28 people" in text
    password = (tmp_path / "admin-password.txt").read_text().strip()
    assert f"Admin login created: admin / {password}" in text
    assert "No hostname was supplied" not in text
    assert [line for line in text.splitlines() if '| {"' in line] == []  # no JSON lines
    assert len(gunicorns) == 3, gunicorns  # the master and two workers
    assert len(workers) == 1, workers  # one worker process, running jobs on threads
    assert took < 5, text[-3000:]
    assert "SIGKILL" not in text and "ERROR" not in text, text[-3000:]
    assert processes_named("tracker", marker) == []

    again, log = make_run(tmp_path, port, "second")
    stop(again, log)
    second = log.read_text(errors="replace")
    assert password not in second
    assert "Admin login: admin (its password is in" in second
    assert "Demo loaded: 2 letters, 10 organizations, 28 people" in second
