"""The Procfile's processes (what `make run` starts) run together on the
embedded defaults, and beat syncs a due source on schedule."""

import contextlib
import http.server
import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from tests.processes import ROOT, free_port, get, manage, service_env

pytestmark = pytest.mark.slow

CSV = 'name,affiliation\nCate Blanchett,\n"McCartney, Sir Paul",\n"Erivo, Cynthia",\n'


class _Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):  # noqa: N802 - the standard library's name
        body = CSV.encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/csv; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture
def feed():
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/signatories.csv"
    server.shutdown()


def query(database: Path, sql: str) -> list[tuple]:
    with sqlite3.connect(database, timeout=10) as connection:
        return connection.execute(sql).fetchall()


def test_the_procfile_processes_start_together_and_sync_on_schedule(tmp_path, feed):
    web_port = free_port()
    bin_dir = str(Path(sys.executable).parent)
    env = service_env(
        TRACKER_VAR_DIR=str(tmp_path),
        TRACKER_ALLOW_PRIVATE_SOURCES="1",
        WEB_BIND=f"127.0.0.1:{web_port}",
        WEB_CONCURRENCY="1",
        WORKER_CONCURRENCY="1",
        PATH=f"{bin_dir}{os.pathsep}{os.environ['PATH']}",
    )
    env.pop("DATABASE_URL", None)
    env.pop("REDIS_URL", None)
    assert manage("migrate", "--no-input", env=env).returncode == 0
    created = manage(
        "shell",
        "-c",
        "from letters.services import letter_create, source_create;"
        "letter = letter_create(title='Feed letter', slug='feed-letter');"
        f"source_create(letter=letter, name='Organisers feed', kind='feed', url='{feed}',"
        " format='csv')",
        env=env,
    )
    assert created.returncode == 0, created.stderr
    database = tmp_path / "tracker.sqlite3"

    log = (tmp_path / "honcho.log").open("wb")
    honcho = subprocess.Popen(
        [os.path.join(bin_dir, "honcho"), "start", "-f", "Procfile"],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if get(f"http://127.0.0.1:{web_port}/health/live", timeout=2)[0] == 200:
                    break
            except OSError:
                pass
            time.sleep(0.5)
        else:
            pytest.fail("the web process did not answer")

        # Beat ticks every minute; the source is due from the start.
        deadline = time.monotonic() + 150
        outcomes: list[tuple] = []
        while time.monotonic() < deadline:
            outcomes = query(database, "SELECT outcome, added FROM letters_syncrun")
            if any(outcome in {"succeeded", "failed"} for outcome, _added in outcomes):
                break
            time.sleep(2)
        assert outcomes and outcomes[0] == ("succeeded", 3), (
            outcomes,
            (tmp_path / "honcho.log").read_text()[-3000:],
        )
        names = {row[0] for row in query(database, "SELECT name FROM letters_sighting")}
        assert names == {"Cate Blanchett", "McCartney, Sir Paul", "Erivo, Cynthia"}
    finally:
        os.killpg(honcho.pid, signal.SIGINT)
        try:
            honcho.wait(30)
        finally:
            log.close()
    # Ctrl-C stops everything honcho started.
    time.sleep(1)
    survivors = subprocess.run(
        ["pgrep", "-g", str(honcho.pid)], capture_output=True, text=True, check=False
    )
    assert survivors.stdout.strip() == ""


# --- Stopping: quickly, cleanly, and nothing left behind ----------------------------


def processes_with(marker: str) -> list[int]:
    """The live processes whose environment holds ``marker`` (their var folder)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            if marker.encode() in (entry / "environ").read_bytes():
                status = (entry / "status").read_text()
                if "State:\tZ" not in status:
                    found.append(int(entry.name))
        except OSError:
            continue
    return found


def start_procfile(tmp_path: Path) -> tuple[subprocess.Popen, Path, str]:
    """honcho and the Procfile in a process group of their own, as under `make run`."""
    web_port = free_port()
    bin_dir = str(Path(sys.executable).parent)
    env = service_env(
        TRACKER_VAR_DIR=str(tmp_path),
        WEB_BIND=f"127.0.0.1:{web_port}",
        WEB_CONCURRENCY="2",
        LOG_FORMAT="plain",
        DEBUG="1",
        PATH=f"{bin_dir}{os.pathsep}{os.environ['PATH']}",
    )
    env.pop("DATABASE_URL", None)
    env.pop("REDIS_URL", None)
    assert manage("migrate", "--no-input", env=env).returncode == 0
    log_path = tmp_path / "honcho.log"
    with log_path.open("wb") as log:
        honcho = subprocess.Popen(
            [os.path.join(bin_dir, "honcho"), "start", "-f", "Procfile"],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        text = log_path.read_text(errors="replace")
        try:
            web = get(f"http://127.0.0.1:{web_port}/health/live", timeout=2)[0] == 200
        except OSError:
            web = False
        if web and "ready." in text and "beat: Starting" in text:
            break
        time.sleep(0.5)
    else:
        os.killpg(honcho.pid, signal.SIGKILL)
        pytest.fail(f"the processes did not start:\n{log_path.read_text()[-3000:]}")
    return honcho, log_path, str(tmp_path)


def wait_gone(marker: str, seconds: float) -> list[int]:
    deadline = time.monotonic() + seconds
    while (left := processes_with(marker)) and time.monotonic() < deadline:
        time.sleep(0.2)
    return left


def test_sigterm_stops_every_process_within_honchos_five_seconds(tmp_path):
    honcho, log_path, marker = start_procfile(tmp_path)
    assert len(processes_with(marker)) >= 5  # honcho's, gunicorn's, the worker, beat

    os.killpg(honcho.pid, signal.SIGTERM)
    started = time.monotonic()
    honcho.wait(30)
    stopped = time.monotonic() - started
    left = wait_gone(marker, 5)

    text = log_path.read_text(errors="replace")
    assert left == [], text[-3000:]
    assert stopped < 5, text[-3000:]
    assert "SIGKILL" not in text, text[-3000:]
    assert "ERROR" not in text, text[-3000:]
    assert "No hostname was supplied" not in text
    print(f"\nThe Procfile's processes stopped {stopped:.1f} s after SIGTERM")


@pytest.mark.parametrize("warning", [3.0, 0.0], ids=["sigterm-then-sigkill", "sigkill"])
def test_no_process_outlives_a_killed_make_run(tmp_path, warning):
    honcho, log_path, marker = start_procfile(tmp_path)

    if warning:
        os.killpg(honcho.pid, signal.SIGTERM)
        time.sleep(warning)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(honcho.pid, signal.SIGKILL)
    honcho.wait(30)
    left = wait_gone(marker, 10)

    assert left == [], log_path.read_text(errors="replace")[-3000:]
