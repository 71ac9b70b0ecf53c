"""Scale-out as deploy/README.md describes it: two worker processes on separate
queues, against the same PostgreSQL and Redis, divide the work between them."""

import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection

from letters.models import SyncRun
from letters.sync import sync_request
from people.models import MatchRun
from tests.factories import make_letter, make_source
from tests.letters.fixtures.broker import broker_purge
from tracker.celery import app
from tracker.testing.servers import FeedServer

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

ROOT = Path(__file__).resolve().parents[2]
CSV = b"name,affiliation\n" + b"".join(
    f"Signatory Number{i},Studio {i % 5}\n".encode() for i in range(40)
)


def start_worker(queues: str, env: dict, tag: str) -> tuple[subprocess.Popen, str, Path]:
    name = f"{tag}-{os.getpid()}@{socket.gethostname()}"
    handle, log_name = tempfile.mkstemp(prefix=f"tracker-{tag}-", suffix=".log")
    with os.fdopen(handle, "wb") as log:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "celery",
                "--app",
                "tracker",
                "worker",
                "--queues",
                queues,
                "--concurrency",
                "1",
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
    return process, name, Path(log_name)


def test_two_workers_on_separate_queues_divide_syncs_and_matching():
    database = connection.settings_dict
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST")}
    env.update(
        # The test settings read the test servers' variables only.
        TEST_DATABASE_URL=f"postgres://{database['USER']}@{database['HOST'] or '127.0.0.1'}:"
        f"{database['PORT'] or 5432}/{database['NAME']}",
        TEST_REDIS_URL=settings.REDIS_URL,
        DJANGO_SETTINGS_MODULE="tracker.settings.test",
        TRACKER_ALLOW_PRIVATE_SOURCES="1",
    )
    settings.TRACKER_ALLOW_PRIVATE_SOURCES = True
    broker_purge()
    workers = [start_worker("celery,sync", env, "sync"), start_worker("matching", env, "matching")]
    try:
        deadline = time.monotonic() + 60
        names = [name for _process, name, _log in workers]
        while len(app.control.ping(destination=names, timeout=1)) < 2:
            assert time.monotonic() < deadline, [log.read_text() for *_, log in workers]
            time.sleep(0.5)

        with FeedServer() as feeds:
            feeds.serve("/list.csv", CSV)
            source = make_source(
                make_letter(), kind="feed", url=feeds.url("/list.csv"), format="csv"
            )
            run = sync_request(source=source)
            deadline = time.monotonic() + 120
            while True:
                run.refresh_from_db()
                matched = MatchRun.objects.filter(status="succeeded").exists()
                if run.outcome not in ("queued", "running") and matched:
                    break
                assert time.monotonic() < deadline, [log.read_text() for *_, log in workers]
                time.sleep(0.5)
        assert run.outcome == SyncRun.Outcome.SUCCEEDED and run.added == 40
    finally:
        for process, _name, _log in workers:
            os.killpg(process.pid, signal.SIGTERM)
        for process, _name, _log in workers:
            process.wait(30)
    sync_log, matching_log = (log.read_text() for *_, log in workers)
    # "Task NAME[id] received" lines; the start-up banner lists every task name.
    assert "Task letters.tasks.source_sync[" in sync_log
    assert "Task people.merging.tasks." not in sync_log
    assert "Task people.merging.tasks.match_" in matching_log
    assert "Task letters.tasks." not in matching_log
