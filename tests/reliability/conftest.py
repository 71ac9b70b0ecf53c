"""Servers, workers and table dumps for the fault scenarios.

A scenario that stops a server runs on servers of its own (tests.services):
the shared PostgreSQL and Redis are never stopped. Work happens in real
processes (gunicorn, Celery workers and beat, ``manage.py``) on those servers;
the test reads the outcome from the databases and the HTTP answers.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest
import redis
from celery import Celery
from django.db import connection

from tests.processes import (  # noqa: F401 - current_database_url is shared from here too
    ROOT,
    ThrowawayPostgres,
    ThrowawayRedis,
    current_database_url,
    manage,
    service_env,
)

_scratch: list[Path] = []


def scratch() -> Path:
    """A folder for the scenarios' logs and var folders, removed after the session."""
    if not _scratch:
        _scratch.append(Path(tempfile.mkdtemp(prefix="tracker-faults-")))
    return _scratch[0]


@pytest.fixture(scope="session", autouse=True)
def _remove_scratch() -> Iterator[None]:
    yield
    for folder in _scratch:
        shutil.rmtree(folder, ignore_errors=True)


def wait_until(
    predicate: Callable[[], Any], seconds: float, what: str | Callable[[], str], pause: float = 0.2
) -> Any:
    """The first true value of ``predicate`` within ``seconds``; ``what`` says
    (or tells, when called) what did not happen."""
    deadline = time.monotonic() + seconds
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"after {seconds} s: {what() if callable(what) else what}")
        time.sleep(pause)


def a_session_waits_on_a_lock() -> bool:
    """Whether another session of the test database waits for a lock (read
    afresh: inside a transaction the activity view is otherwise read once)."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_stat_clear_snapshot()")
        cursor.execute(
            "SELECT count(*) FROM pg_stat_activity "
            "WHERE datname = current_database() AND wait_event_type = 'Lock'"
        )
        return cursor.fetchone()[0] > 0


def process_env(database_url: str, redis_url: str, **overrides: str) -> dict[str, str]:
    """The environment of the service's processes in a scenario."""
    return service_env(
        DATABASE_URL=database_url,
        REDIS_URL=redis_url,
        TRACKER_ALLOW_PRIVATE_SOURCES="1",
        TRACKER_VAR_DIR=str(tempfile.mkdtemp(prefix="var-", dir=scratch())),
        LOG_FORMAT="plain",
        **overrides,
    )


def shell(code: str, env: dict[str, str], timeout: float = 120) -> Any:
    """Run ``code`` in ``manage.py shell`` and return what it printed last, as JSON."""
    done = manage("shell", "-c", code, env=env, timeout=timeout)
    assert done.returncode == 0, done.stderr[-4000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


class Process:
    """A Celery worker or beat started in a session of its own, with its log."""

    def __init__(self, args: list[str], env: dict[str, str], tag: str) -> None:
        handle, log_name = tempfile.mkstemp(prefix=f"{tag}-", suffix=".log", dir=scratch())
        self.log = Path(log_name)
        with os.fdopen(handle, "wb") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "celery", "--app", "tracker", *args],
                cwd=ROOT,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    def text(self) -> str:
        return self.log.read_text(errors="replace")

    def children(self) -> list[int]:
        path = Path(f"/proc/{self.process.pid}/task/{self.process.pid}/children")
        try:
            return [int(pid) for pid in path.read_text().split()]
        except FileNotFoundError:
            return []

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(10)


def start_worker(env: dict[str, str], queues: str, tag: str, concurrency: int = 1) -> Process:
    worker = Process(
        [
            "worker",
            "--queues",
            queues,
            "--concurrency",
            str(concurrency),
            "--pool",
            "prefork",
            "--hostname",
            f"{tag}-{os.getpid()}@%h",
            "--without-gossip",
            "--without-mingle",
            "--loglevel",
            "INFO",
        ],
        env,
        tag,
    )
    wait_until(
        lambda: "ready." in worker.text() or worker.process.poll() is not None,
        60,
        "the worker did not start",
        0.3,
    )
    assert worker.process.poll() is None, worker.text()
    return worker


def broker(redis_url: str) -> Celery:
    """A client of the scenario's broker, as beat is: it only sends."""
    return Celery("faults", broker=redis_url, set_as_current=False)


def beat_tick(redis_url: str, *tasks: tuple[str, str]) -> None:
    """Send (task, queue) pairs as beat sends its periodic tasks."""
    client = broker(redis_url)
    try:
        for name, queue in tasks:
            client.send_task(name, queue=queue)
    finally:
        client.close()


def seed_signatories() -> dict[str, int]:
    """People the duplicate finder merges (five spellings fold into four people
    less) and keeps apart (Lana and Lilly Wachowski); returns their ids by name."""
    from tests.people.merging.test_runs import ostp_letter, sign

    _letter, site, press, feed = ostp_letter()
    entries = [
        (press, "Maggie Gylenhall", {"title": "Actor"}),
        (site, "Maggie Gyllenhaal", {"title": "Actor"}),
        (feed, "GYLLENHAAL, MAGGIE", {}),
        (site, "Sir Paul McCartney", {"title": "Musician"}),
        (press, "McCartney, Paul", {}),
        (press, "Alfonso Cuaron", {"title": "Film director"}),
        (site, "Alfonso Cuarón", {"title": "Director"}),
        (press, "Bob Smith", {"affiliation": "The Cure"}),
        (site, "Robert Smith", {"affiliation": "The Cure"}),
        (site, "Lana Wachowski", {"title": "Director"}),
        (site, "Lilly Wachowski", {"title": "Director"}),
    ]
    return {name: sign(source, name, **fields).pk for source, name, fields in entries}


# --- A throwaway PostgreSQL with a migrated template database -----------------------


class Postgres:
    """A throwaway PostgreSQL whose database ``base`` is migrated; each scenario
    copies it into databases of its own."""

    def __init__(self, server: ThrowawayPostgres) -> None:
        self.server = server

    def url(self, name: str) -> str:
        return self.server.url.rsplit("/", 1)[0] + f"/{name}"

    def execute(self, sql: str, database: str = "postgres") -> None:
        with psycopg.connect(self.url(database), autocommit=True) as conn:
            conn.execute(sql)

    def copy(self, template: str, name: str) -> str:
        self.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        self.execute(f'CREATE DATABASE "{name}" TEMPLATE "{template}"')
        return self.url(name)

    def restart(self) -> float:
        """Stop the server at once, as a crash would, and start it again; returns
        the seconds it was away."""
        started = time.monotonic()
        self.server.stop()
        self.server.start()
        return time.monotonic() - started


@pytest.fixture(scope="module")
def postgres() -> Iterator[Postgres]:
    server = ThrowawayPostgres()
    server.start()
    try:
        pg = Postgres(server)
        pg.execute('CREATE DATABASE "base"')
        done = manage(
            "migrate", "--no-input", env=process_env(pg.url("base"), "redis://127.0.0.1:1/0")
        )
        assert done.returncode == 0, done.stderr
        yield pg
    finally:
        server.remove()


@pytest.fixture(scope="module")
def _redis_for_module() -> Iterator[ThrowawayRedis]:
    server = ThrowawayRedis()
    server.start()
    yield server
    server.stop()


@pytest.fixture
def redis_server(_redis_for_module: ThrowawayRedis) -> Iterator[ThrowawayRedis]:
    """The module's throwaway Redis, running, emptied after each test so that no
    job of one scenario reaches another's worker."""
    yield _redis_for_module
    if _redis_for_module.process is None:
        _redis_for_module.start()
    redis.Redis.from_url(_redis_for_module.url).flushdb()


def serving(base: str) -> None:
    """Wait for gunicorn's workers to answer, not only for its socket."""

    def live() -> bool:
        try:
            return httpx.get(f"{base}/health/live", timeout=5).status_code == 200
        except httpx.HTTPError:
            return False

    wait_until(live, 60, f"{base} does not answer", 0.3)


# --- Whole tables, compared across databases ------------------------------------------

# Run records differ by design between a clean run and one that was retried; the
# rest of the data must not.
# Records of runs, and the matcher's kept name keys (derived from the names,
# written by any run's planning step), are not the data a run must leave as one
# clean run would.
RUN_TABLES = frozenset(
    {
        "letters_syncrun",
        "people_matchrun",
        "people_matchrunblock",
        "people_matchqueueentry",
        "people_matchqueuesend",
        "people_namekey",
        "django_session",
    }
)
_VOLATILE_TYPES = ("timestamp with time zone", "timestamp without time zone", "date", "bytea")
# Published list versions are left out: each names signatures and people by id
# (a failed attempt spends sequence values), and those made after a merge come
# from a queued job that a broker-less process does not send. Their chain has
# tests of its own (tests/letters/test_versions_chain.py).
_DERIVED_TABLES = ("letters_listversion",)


def table_dump(url: str, prefixes: tuple[str, ...] = ("letters_", "people_")) -> dict:
    """Every row of the application's tables, without what differs between two
    equal histories: surrogate keys (a foreign key shows the row it points at),
    times and compressed bytes. Run records are left out."""
    with psycopg.connect(url) as conn:
        tables = [
            name
            for (name,) in conn.execute(
                "SELECT table_name FROM information_schema.tables "
                "WHERE table_schema = 'public' AND table_type = 'BASE TABLE' ORDER BY 1"
            )
            if name.startswith(prefixes) and name not in _DERIVED_TABLES
        ]
        foreign = {
            (table, column): target
            for table, column, target in conn.execute(
                "SELECT c.conrelid::regclass::text, a.attname, c.confrelid::regclass::text "
                "FROM pg_constraint c JOIN pg_attribute a "
                "ON a.attrelid = c.conrelid AND a.attnum = c.conkey[1] WHERE c.contype = 'f'"
            )
        }
        kept: dict[str, list[str]] = {}
        rows: dict[str, dict[Any, dict]] = {}
        for table in tables:
            columns = conn.execute(
                "SELECT column_name, data_type FROM information_schema.columns "
                "WHERE table_schema = 'public' AND table_name = %s ORDER BY ordinal_position",
                [table],
            ).fetchall()
            kept[table] = [
                name
                for name, kind in columns
                if name != "id" and (table, name) not in foreign and kind not in _VOLATILE_TYPES
            ]
            cursor = conn.execute(f'SELECT * FROM "{table}"')  # noqa: S608 - names from the catalog
            names = [d.name for d in cursor.description]
            rows[table] = {}
            for number, values in enumerate(cursor):
                row = dict(zip(names, values, strict=True))
                rows[table][row.get("id", number)] = row

    def plain(table: str, row: dict) -> tuple:
        return tuple(json.dumps(row[c], sort_keys=True, default=str) for c in kept[table])

    dump = {}
    for table in tables:
        if table in RUN_TABLES:
            continue
        lines = []
        for row in rows[table].values():
            linked = []
            for (owner, column), target in sorted(foreign.items()):
                if owner != table:
                    continue
                pointed = rows.get(target, {}).get(row[column])
                if target in RUN_TABLES or pointed is None:
                    linked.append((column, target if pointed is not None else None))
                else:
                    linked.append((column, plain(target, pointed)))
            lines.append(repr((plain(table, row), linked)))
        dump[table] = sorted(lines)
    return dump


def dump_difference(left: dict, right: dict) -> dict:
    """Per table, how many rows only one side has: for assertion messages."""
    out = {}
    for table in sorted(set(left) | set(right)):
        a, b = set(left.get(table, [])), set(right.get(table, []))
        if a != b:
            out[table] = {"only_left": len(a - b), "only_right": len(b - a)}
    return out
