"""Run the test suite against real PostgreSQL and Redis.

Uses ``TEST_DATABASE_URL`` and ``TEST_REDIS_URL`` when set, else the local
servers on 127.0.0.1 (database ``test``, Redis database 15); never the service's
own ``DATABASE_URL`` and ``REDIS_URL``, since some tests empty their Redis
database. When a server is not reachable and its binaries are installed
(``initdb``/``pg_ctl``, ``redis-server``), a throwaway one is started under
``var/`` for the run and stopped afterwards. Otherwise the run stops with a
message saying what to install: database tests are never skipped.

Usage: python -m tests.services [pytest arguments...]
"""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import sys
import tempfile
from pathlib import Path
from urllib.parse import urlsplit

# Read before tracker is imported: its Celery application sets DJANGO_SETTINGS_MODULE
# to the local settings when the caller did not choose any.
CALLER_SETTINGS = os.environ.get("DJANGO_SETTINGS_MODULE")

from tracker.testing.servers import free_port, wait_for_port  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/test"
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/15"
# The service's variables, which the tests never read.
SERVICE_VARIABLES = ("DATABASE_URL", "REDIS_URL")


def reachable(url: str, default_port: int) -> bool:
    parts = urlsplit(url)
    try:
        with socket.create_connection(
            (parts.hostname or "127.0.0.1", parts.port or default_port), 2
        ):
            return True
    except OSError:
        return False


def find_binary(name: str) -> str | None:
    found = shutil.which(name)
    if found:
        return found
    candidates = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"), reverse=True)
    return candidates[0] if candidates else None


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


def start_postgres(cleanups: list) -> str:
    try:
        server = ThrowawayPostgres()
    except RuntimeError:
        sys.exit(
            "PostgreSQL is not reachable at TEST_DATABASE_URL (default 127.0.0.1:5432) and its "
            "server binaries are not installed. Install PostgreSQL (Debian: apt-get install "
            "postgresql) or set TEST_DATABASE_URL to a server you can use."
        )
    server.start()
    cleanups.append(server.remove)
    print(f"Started a throwaway PostgreSQL on 127.0.0.1:{server.port}", file=sys.stderr)
    return server.url


def start_redis(cleanups: list) -> str:
    try:
        server = ThrowawayRedis()
    except RuntimeError:
        sys.exit(
            "Redis is not reachable at TEST_REDIS_URL (default 127.0.0.1:6379) and redis-server is "
            "not installed. Install Redis (Debian: apt-get install redis-server) or set "
            "TEST_REDIS_URL to a server you can use."
        )
    server.start()
    cleanups.append(server.stop)
    print(f"Started a throwaway Redis on 127.0.0.1:{server.port}", file=sys.stderr)
    return server.url.removesuffix("/0") + "/15"


def main(argv: list[str]) -> int:
    env = {key: value for key, value in os.environ.items() if key not in SERVICE_VARIABLES}
    cleanups: list = []
    database_url = env.get("TEST_DATABASE_URL") or DEFAULT_DATABASE_URL
    redis_url = env.get("TEST_REDIS_URL") or DEFAULT_REDIS_URL
    if not database_url.startswith(("postgres://", "postgresql://")):
        sys.exit(f"The tests run on PostgreSQL; TEST_DATABASE_URL={database_url!r} is not one.")
    try:
        if not reachable(database_url, 5432):
            if env.get("TEST_DATABASE_URL"):
                sys.exit(f"PostgreSQL at TEST_DATABASE_URL={database_url!r} is not reachable.")
            database_url = start_postgres(cleanups)
        if not reachable(redis_url, 6379):
            if env.get("TEST_REDIS_URL"):
                sys.exit(f"Redis at TEST_REDIS_URL={redis_url!r} is not reachable.")
            redis_url = start_redis(cleanups)
        env.update(TEST_DATABASE_URL=database_url, TEST_REDIS_URL=redis_url)
        env["DJANGO_SETTINGS_MODULE"] = CALLER_SETTINGS or "tracker.settings.test"
        return subprocess.call([sys.executable, "-m", "pytest", *argv], cwd=ROOT, env=env)
    finally:
        for cleanup in reversed(cleanups):
            cleanup()


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
