"""Sync tasks carried out by real Celery worker processes, through Redis."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
import redis
from django.conf import settings
from django.db import connection

from letters.models import (
    Sighting,
    SightingEvent,
    Signature,
    SignatureStatusChange,
    SyncRun,
    SyncRunContent,
)
from letters.sync import source_sync, sources_sync_due, sync_request
from letters.tasks import SYNC_QUEUE
from letters.tasks import source_sync as source_sync_task
from people.models import Person, PersonName
from tests.factories import make_letter, make_source
from tests.letters.fixtures.broker import broker_purge
from tracker.celery import app
from tracker.testing.servers import FeedServer

pytestmark = pytest.mark.django_db(transaction=True)

ROOT = Path(__file__).resolve().parents[2]
NAMES = "".join(f"Signatory Number{i},Studio {i % 7}\n" for i in range(300)).encode()
CSV = b"name,affiliation\n" + NAMES


class Worker:
    def __init__(self, process: subprocess.Popen, name: str, log: Path) -> None:
        self.process = process
        self.name = name
        self.log = log

    def inspect(self):
        return app.control.inspect(destination=[self.name], timeout=2)

    def answers(self) -> bool:
        return bool(app.control.ping(destination=[self.name], timeout=1))

    def pid_running(self, run: SyncRun, seconds: float = 30) -> int:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            for task in (self.inspect().active() or {}).get(self.name, []):
                if task["args"] == [run.source_id, run.pk]:
                    return task["worker_pid"]
            time.sleep(0.2)
        raise AssertionError(f"run {run.pk} is not active on {self.name}:\n{self.log.read_text()}")

    def idle(self, seconds: float = 60) -> None:
        broker = redis.Redis.from_url(settings.REDIS_URL)
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            active = (self.inspect().active() or {}).get(self.name, [])
            reserved = (self.inspect().reserved() or {}).get(self.name, [])
            if not active and not reserved and not broker.llen(SYNC_QUEUE):
                return
            time.sleep(0.3)
        raise AssertionError(f"{self.name} is still busy:\n{self.log.read_text()}")


@pytest.fixture(scope="module")
def worker(django_db_setup, django_db_blocker) -> Iterator[Worker]:
    """A celery worker, two processes, on the test database and the sync queue."""
    database = connection.settings_dict
    password = f":{database['PASSWORD']}" if database.get("PASSWORD") else ""
    database_url = (
        f"postgres://{database['USER']}{password}@{database['HOST'] or '127.0.0.1'}:"
        f"{database['PORT'] or 5432}/{database['NAME']}"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST")}
    env.update(
        # The test settings read the test servers' variables only.
        TEST_DATABASE_URL=database_url,
        TEST_REDIS_URL=settings.REDIS_URL,
        DJANGO_SETTINGS_MODULE="tracker.settings.test",
        TRACKER_ALLOW_PRIVATE_SOURCES="1",
        CELERY_TASK_ALWAYS_EAGER="0",
        # The runs here parse their names in processes of their own, as big ones do.
        TRACKER_SYNC_PARALLEL_PARSE_MIN="100",
    )
    broker_purge()
    name = f"sync-test-{os.getpid()}@{socket.gethostname()}"
    handle, log_name = tempfile.mkstemp(prefix="tracker-sync-worker-", suffix=".log")
    log = os.fdopen(handle, "wb")
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "celery",
            "--app",
            "tracker",
            "worker",
            "--queues",
            SYNC_QUEUE,
            "--concurrency",
            "2",
            "--pool",
            "prefork",
            "--hostname",
            name,
            "--without-gossip",
            "--without-mingle",
            "--loglevel",
            "INFO",
        ],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    worker = Worker(process, name, Path(log_name))
    try:
        deadline = time.monotonic() + 60
        while not worker.answers():
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"the worker did not start:\n{worker.log.read_text()}")
            time.sleep(0.5)
        yield worker
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(10)
        log.close()
        Path(log_name).unlink(missing_ok=True)


@pytest.fixture(autouse=True)
def private_sources_allowed(settings):
    settings.TRACKER_ALLOW_PRIVATE_SOURCES = True


@pytest.fixture(autouse=True)
def empty_queues():
    yield
    broker_purge()


@pytest.fixture
def feeds():
    with FeedServer() as server:
        yield server


def wait_for_end(run: SyncRun, seconds: float = 90) -> SyncRun:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        run.refresh_from_db()
        if run.outcome not in ("queued", "running"):
            return run
        time.sleep(0.2)
    raise AssertionError(f"run {run.pk} is still {run.outcome}")


def waiting_on_the_source_row() -> bool:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT 1 FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND query LIKE %s",
            ['UPDATE "letters_source"%'],
        )
        return cursor.fetchone() is not None


def result_of(source) -> dict:
    """What a run of the source left, independent of ids and times."""
    run = source.runs.get(outcome="succeeded")
    diff = {k: v for k, v in run.diff.items() if k != "previous_run"}
    return {
        "run": (run.seen, run.added, run.changed, run.gone, run.back, run.content_hash, diff),
        "sightings": list(
            source.sightings.order_by("key").values_list(
                "key", "name", "affiliation", "present", "position", "signature__person__name_key"
            )
        ),
        "events": sorted(
            SightingEvent.objects.filter(sighting__source=source).values_list(
                "sighting__key", "kind", "run__outcome"
            )
        ),
        "signatures": sorted(
            Signature.objects.filter(letter=source.letter).values_list(
                "person__name_key", "status", "affiliation", "needs_review"
            )
        ),
        "status_changes": SignatureStatusChange.objects.filter(
            signature__letter=source.letter
        ).count(),
        "names": sorted(
            PersonName.objects.filter(source=source).values_list("person__name_key", "name")
        ),
        "contents": SyncRunContent.objects.filter(run__source=source).count(),
    }


def test_it_retries_a_transient_error_and_then_records_the_failure(feeds):
    feeds.serve("/list.csv", b"busy", status=503)
    source = make_source(make_letter(), url=feeds.url("/list.csv"), format="csv")
    run = SyncRun.objects.create(source=source, outcome="queued")

    source_sync_task.apply(args=(source.pk, run.pk))

    run.refresh_from_db()
    assert (run.outcome, run.attempts) == ("failed", source_sync_task.max_retries + 1)
    assert "HTTP 503" in run.error
    assert len(feeds.requests) == source_sync_task.max_retries + 1


@pytest.mark.slow
def test_a_worker_carries_out_a_requested_sync_once_however_often_it_is_sent(worker, feeds):
    feeds.serve("/list.csv", CSV, delay=1.0)
    source = make_source(make_letter(), url=feeds.url("/list.csv"), format="csv")

    run = sync_request(source=source)
    source_sync_task.delay(source.pk, run.pk)  # the same job sent twice
    worker.pid_running(run)
    second = sync_request(source=source)
    tick = sources_sync_due()
    worker.idle()

    run = wait_for_end(run)
    assert (run.outcome, run.attempts, run.added) == ("succeeded", 1, 300), run.error
    assert len(feeds.requests) == 1
    assert second.outcome == tick[0].outcome == "skipped"
    assert Sighting.objects.count() == SightingEvent.objects.count() == 300
    assert "parsing them here" not in worker.log.read_text()


@pytest.mark.slow
def test_a_worker_killed_mid_run_leaves_the_same_result_as_one_clean_run(worker, feeds):
    feeds.serve("/clean.csv", CSV)
    feeds.serve("/killed.csv", CSV)
    clean = make_source(make_letter(), url=feeds.url("/clean.csv"), format="csv")
    killed = make_source(make_letter(), url=feeds.url("/killed.csv"), format="csv")
    assert source_sync(source_id=clean.pk).outcome == "succeeded"
    people = Person.objects.count()

    # Hold the source row so the worker stops at the run's last write, with
    # everything else written but not committed, and kill it there.
    database = connection.settings_dict
    blocker = psycopg.connect(
        host=database["HOST"] or "127.0.0.1",
        port=database["PORT"] or 5432,
        user=database["USER"],
        password=database.get("PASSWORD") or None,
        dbname=database["NAME"],
    )
    try:
        blocker.execute("SELECT 1 FROM letters_source WHERE id = %s FOR NO KEY UPDATE", [killed.pk])
        run = sync_request(source=killed)
        pid = worker.pid_running(run)
        deadline = time.monotonic() + 60
        while not waiting_on_the_source_row():
            assert time.monotonic() < deadline, worker.log.read_text()
            time.sleep(0.1)
        assert Sighting.objects.filter(source=killed).count() == 0
        os.kill(pid, signal.SIGKILL)
    finally:
        blocker.rollback()
        blocker.close()

    run = wait_for_end(run)
    worker.idle()
    assert (run.outcome, run.attempts) == ("succeeded", 2), run.error
    assert len(feeds.asked("/killed.csv")) == 2
    assert result_of(killed) == result_of(clean)
    assert Person.objects.count() == people
