"""Real server processes for tests: throwaway PostgreSQL and Redis servers and
the service itself, on free loopback ports."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from contextlib import contextmanager
from pathlib import Path

from tests.services import find_binary

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for_port(port: int, seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), 0.5):
                return
        except OSError:
            time.sleep(0.1)
    raise TimeoutError(f"nothing listens on port {port} after {seconds} s")


class ThrowawayPostgres:
    def __init__(self) -> None:
        self.port = free_port()
        self.data = Path(tempfile.mkdtemp(prefix="tracker-test-pg-"))
        self.run_as: list[str] = []
        if os.geteuid() == 0:  # initdb and postgres refuse to run as root
            shutil.chown(self.data, "postgres", "postgres")
            self.run_as = ["runuser", "-u", "postgres", "--"]
        self.pg_ctl = find_binary("pg_ctl")
        initdb = find_binary("initdb")
        if not (self.pg_ctl and initdb):
            raise RuntimeError("PostgreSQL server binaries (initdb, pg_ctl) are not installed")
        subprocess.run(
            [*self.run_as, initdb, "-D", str(self.data), "-A", "trust", "-U", "postgres"],
            check=True,
            stdout=subprocess.DEVNULL,
        )

    @property
    def url(self) -> str:
        return f"postgres://postgres@127.0.0.1:{self.port}/postgres"

    def start(self) -> None:
        subprocess.run(
            [
                *self.run_as,
                self.pg_ctl,
                "-D",
                str(self.data),
                "-l",
                str(self.data / "log"),
                "-w",
                "-o",
                f"-p {self.port} -k {self.data} -h 127.0.0.1",
                "start",
            ],
            check=True,
            stdout=subprocess.DEVNULL,
        )

    def stop(self) -> None:
        subprocess.run(
            [*self.run_as, self.pg_ctl, "-D", str(self.data), "-m", "immediate", "-w", "stop"],
            check=False,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )

    def remove(self) -> None:
        self.stop()
        shutil.rmtree(self.data, ignore_errors=True)


class ThrowawayRedis:
    def __init__(self) -> None:
        self.port = free_port()
        self.binary = find_binary("redis-server")
        if not self.binary:
            raise RuntimeError("redis-server is not installed")
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.process = subprocess.Popen(
            [self.binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", ""],
            stdout=subprocess.DEVNULL,
        )
        wait_for_port(self.port)

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(10)
            self.process = None


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


def get(url: str, headers: dict[str, str] | None = None, timeout: float = 10):
    request = urllib.request.Request(url, headers=headers or {})  # noqa: S310
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), error.read()
