"""The whole worker killed (``kill -KILL`` of its process group, as a lost
machine or an OOM kill of the cgroup would) in the middle of a sync or a match
run. Its job waits in Redis for the visibility timeout (an hour); the run must
not wait with it: once a worker is back, the run is carried out again, once,
within seconds of beat's next tick. Real processes on servers of their own."""

from __future__ import annotations

import os
import signal
import threading
import time

import psycopg
import pytest

from tests.reliability.conftest import (
    Process,
    dump_difference,
    process_env,
    shell,
    start_worker,
    table_dump,
    wait_until,
)
from tests.reliability.test_faults import (
    NO_BROKER,
    hold_person,
    lock_waiter,
    match_request,
    match_run_end,
    match_run_state,
    matching_databases,
    run_state,
    start_beat,
)
from tracker.testing.servers import FeedServer

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

ROWS = 3_000
LIST = b"name,affiliation\n" + b"".join(
    f"Signatory Number{i},Studio {i % 7}\n".encode() for i in range(ROWS)
)
# Beat ticks every 2 s here (every minute by default).
FAST = {"TRACKER_BEAT_TICK_SECONDS": "2", "MATCHING_STEP_LOST_AFTER_SECONDS": "3"}
QUEUES = "celery,sync,matching"


def kill_whole_worker(worker: Process) -> None:
    os.killpg(worker.process.pid, signal.SIGKILL)
    worker.process.wait(30)


def sync_runs(url: str, source_id: int) -> list[tuple]:
    with psycopg.connect(url) as conn:
        return conn.execute(
            "SELECT outcome, attempts, added FROM letters_syncrun WHERE source_id = %s ORDER BY id",
            [source_id],
        ).fetchall()


@pytest.mark.parametrize("phase", ["fetch", "write"])
def test_a_sync_whose_whole_worker_is_killed_is_carried_out_once_soon_after_a_worker_is_back(
    postgres, redis_server, phase
):
    faulty = postgres.copy("base", f"killed_sync_{phase}")
    with FeedServer() as feeds:
        source_id = shell(
            "from tests.factories import make_letter, make_source\n"
            "from datetime import timedelta\n"
            "from django.utils import timezone\n"
            "from letters.models import Source\n"
            "source = make_source(make_letter(slug='killed'), kind='feed', "
            f"url={feeds.url('/list.csv')!r}, format='csv')\n"
            "# Not due: only the request below syncs it.\n"
            "Source.objects.filter(pk=source.pk).update(\n"
            "    next_sync_at=timezone.now() + timedelta(days=1))\n"
            "print(source.pk)",
            process_env(faulty, NO_BROKER),
        )
        clean = postgres.copy(f"killed_sync_{phase}", f"killed_sync_{phase}_clean")
        feeds.serve("/list.csv", LIST)
        shell(
            f"from letters.sync import source_sync\nsource_sync(source_id={source_id})\nprint(1)",
            process_env(clean, NO_BROKER),
        )
        after = table_dump(clean)

        hold = threading.Event()
        feeds.serve("/list.csv", LIST, hold=hold if phase == "fetch" else None)
        env = process_env(faulty, redis_server.url, **FAST)
        worker = start_worker(env, QUEUES, f"killed-{phase}", concurrency=2)
        blocker = beat = again = None
        try:
            if phase == "write":
                # The run stops at its last write, inside its transaction.
                blocker = psycopg.connect(faulty)
                blocker.execute(
                    "SELECT 1 FROM letters_source WHERE id = %s FOR NO KEY UPDATE", [source_id]
                )
            run_id = shell(
                "from letters.models import Source\n"
                "from letters.sync import sync_request\n"
                f"print(sync_request(source=Source.objects.get(pk={source_id})).pk)",
                env,
            )
            if phase == "fetch":
                wait_until(lambda: feeds.asked("/list.csv"), 60, worker.text)
            else:
                wait_until(lambda: lock_waiter(faulty, "letters_source"), 60, worker.text)
            kill_whole_worker(worker)
            hold.set()
            if blocker is not None:
                blocker.rollback()
            time.sleep(1)
            assert run_state(faulty, run_id)[0] == "running"

            again = start_worker(env, QUEUES, f"back-{phase}", concurrency=2)
            beat = start_beat(env, f"beat-{phase}")
            back = time.monotonic()
            outcome, attempts, error = wait_until(
                lambda: (
                    (s := run_state(faulty, run_id)) and s[0] not in ("queued", "running") and s
                ),
                60,
                lambda: f"the run did not end:\n{again.text()[-5000:]}",
                0.5,
            )
            ended = time.monotonic() - back
            time.sleep(5)  # a few more ticks: nothing more is carried out
            runs = sync_runs(faulty, source_id)
        finally:
            if blocker is not None:
                blocker.close()
            for process in (beat, again, worker):
                if process is not None:
                    process.stop()
    final = table_dump(faulty)
    assert (outcome, attempts) == ("succeeded", 2), error
    assert runs == [("succeeded", 2, ROWS)]
    assert final == after, dump_difference(final, after)
    print(f"\nWhole worker killed during the {phase}: run {outcome} {ended:.1f} s after restart")


def test_a_match_run_whose_whole_worker_is_killed_ends_as_one_clean_run_soon_after(
    postgres, redis_server
):
    faulty, before, after, people = matching_databases(postgres, "match_worker_killed")
    env = process_env(faulty, redis_server.url, **FAST)
    worker = start_worker(env, QUEUES, "match-killed-whole", concurrency=2)
    blocker = hold_person(faulty, people["Robert Smith"])
    beat = again = None
    try:
        run_id = match_request(env)
        wait_until(lambda: lock_waiter(faulty, "people_person"), 60, worker.text)
        kill_whole_worker(worker)
        blocker.rollback()
        time.sleep(1)
        assert match_run_state(faulty, run_id)[0] == "running"

        again = start_worker(env, QUEUES, "match-back", concurrency=2)
        beat = start_beat(env, "match-beat")
        back = time.monotonic()
        status, merged, error = match_run_end(faulty, run_id, again)
        ended = time.monotonic() - back
    finally:
        blocker.close()
        for process in (beat, again, worker):
            if process is not None:
                process.stop()
    final = table_dump(faulty)
    assert final in (before, after), dump_difference(final, after)
    assert (status, merged, final == after) == ("succeeded", 5, True), error
    print(f"\nWhole worker killed mid-merge: the run {status} {ended:.1f} s after restart")


def test_the_sweep_sends_again_only_a_quiet_run_that_no_live_worker_holds():
    from datetime import timedelta

    import redis
    from django.conf import settings
    from django.db import connections
    from django.utils import timezone

    from people.merging import runs
    from people.models import MatchRun
    from tracker.locks import match_run_step_lock

    quiet = timezone.now() - timedelta(seconds=settings.MATCHING_STEP_LOST_AFTER_SECONDS + 5)
    run = MatchRun.objects.create(mode="full", status="running")
    MatchRun.objects.filter(pk=run.pk).update(started_at=quiet)
    hour = timedelta(hours=1)
    lost = timedelta(seconds=settings.MATCHING_STEP_LOST_AFTER_SECONDS)
    held: list[list[int]] = []

    def sweep_elsewhere() -> None:
        try:
            held.append(runs.runs_resend(stalled_after=hour, lost_after=lost))
        finally:
            connections.close_all()

    with match_run_step_lock(run.pk):  # a live worker at one of its steps
        sweeper = threading.Thread(target=sweep_elsewhere)
        sweeper.start()
        sweeper.join(30)
    broker = redis.Redis.from_url(settings.REDIS_URL)
    broker.delete("matching")
    try:
        freed = runs.runs_resend(stalled_after=hour, lost_after=lost)
        again = runs.runs_resend(stalled_after=hour, lost_after=lost)
        sent = broker.llen("matching")
    finally:
        broker.delete("matching")

    assert (held, freed, again, sent) == ([[]], [run.pk], [], 1)
