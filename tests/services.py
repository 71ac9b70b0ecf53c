"""Run the test suite against real PostgreSQL and Redis.

Uses ``DATABASE_URL`` and ``REDIS_URL`` when set, else the local servers on
127.0.0.1. When a server is not reachable and its binaries are installed
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
import time
from pathlib import Path
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/test"
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/15"
THROWAWAY_PG_PORT = 55432
THROWAWAY_REDIS_PORT = 56379


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


def wait_for_port(port: int, seconds: float = 30) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), 1):
                return True
        except OSError:
            time.sleep(0.2)
    return False


def start_postgres(cleanups: list) -> str:
    initdb, pg_ctl = find_binary("initdb"), find_binary("pg_ctl")
    if not (initdb and pg_ctl):
        sys.exit(
            "PostgreSQL is not reachable at DATABASE_URL (default 127.0.0.1:5432) and its "
            "server binaries are not installed. Install PostgreSQL (Debian: apt-get install "
            "postgresql) or set DATABASE_URL to a server you can use."
        )
    data = Path(tempfile.mkdtemp(prefix="tracker-pg-"))
    run_as: list[str] = []
    if os.geteuid() == 0:  # initdb refuses to run as root
        shutil.chown(data, "postgres", "postgres")
        run_as = ["runuser", "-u", "postgres", "--"]
    log = data / "server.log"
    subprocess.run(
        [*run_as, initdb, "-D", str(data), "-A", "trust", "-U", "postgres"],
        check=True,
        stdout=subprocess.DEVNULL,
    )
    subprocess.run(
        [
            *run_as,
            pg_ctl,
            "-D",
            str(data),
            "-l",
            str(log),
            "-w",
            "-o",
            f"-p {THROWAWAY_PG_PORT} -k {data} -h 127.0.0.1",
            "start",
        ],
        check=True,
        stdout=subprocess.DEVNULL,
    )
    cleanups.append(
        lambda: (
            subprocess.run(
                [*run_as, pg_ctl, "-D", str(data), "-m", "fast", "stop"],
                stdout=subprocess.DEVNULL,
                check=False,
            ),
            shutil.rmtree(data, ignore_errors=True),
        )
    )
    print(f"Started a throwaway PostgreSQL on 127.0.0.1:{THROWAWAY_PG_PORT}", file=sys.stderr)
    return f"postgres://postgres@127.0.0.1:{THROWAWAY_PG_PORT}/postgres"


def start_redis(cleanups: list) -> str:
    redis_server = find_binary("redis-server")
    if not redis_server:
        sys.exit(
            "Redis is not reachable at REDIS_URL (default 127.0.0.1:6379) and redis-server is "
            "not installed. Install Redis (Debian: apt-get install redis-server) or set "
            "REDIS_URL to a server you can use."
        )
    process = subprocess.Popen(
        [
            redis_server,
            "--port",
            str(THROWAWAY_REDIS_PORT),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
        ],
        stdout=subprocess.DEVNULL,
    )
    cleanups.append(lambda: (process.terminate(), process.wait(10)))
    if not wait_for_port(THROWAWAY_REDIS_PORT):
        sys.exit("The throwaway Redis did not start.")
    print(f"Started a throwaway Redis on 127.0.0.1:{THROWAWAY_REDIS_PORT}", file=sys.stderr)
    return f"redis://127.0.0.1:{THROWAWAY_REDIS_PORT}/15"


def main(argv: list[str]) -> int:
    env = dict(os.environ)
    cleanups: list = []
    database_url = env.get("DATABASE_URL") or DEFAULT_DATABASE_URL
    redis_url = env.get("REDIS_URL") or DEFAULT_REDIS_URL
    if not database_url.startswith(("postgres://", "postgresql://")):
        sys.exit(f"The tests run on PostgreSQL; DATABASE_URL={database_url!r} is not one.")
    try:
        if not reachable(database_url, 5432):
            if env.get("DATABASE_URL"):
                sys.exit(f"PostgreSQL at DATABASE_URL={database_url!r} is not reachable.")
            database_url = start_postgres(cleanups)
        if not reachable(redis_url, 6379):
            if env.get("REDIS_URL"):
                sys.exit(f"Redis at REDIS_URL={redis_url!r} is not reachable.")
            redis_url = start_redis(cleanups)
        env.update(DATABASE_URL=database_url, REDIS_URL=redis_url)
        env.setdefault("DJANGO_SETTINGS_MODULE", "tracker.settings.test")
        return subprocess.call([sys.executable, "-m", "pytest", *argv], cwd=ROOT, env=env)
    finally:
        for cleanup in reversed(cleanups):
            cleanup()


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
