"""The service when its servers fail: Redis stops under the API, PostgreSQL
restarts in the middle of a sync or a match run, a worker dies mid-run, two
beats tick at once. Each scenario runs real processes on servers of its own
and compares what the databases hold afterwards."""

from __future__ import annotations

import os
import signal
import socket
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from tempfile import mkdtemp

import httpx
import psycopg
import pytest
import redis
from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.hashers import PBKDF2PasswordHasher
from django.utils import timezone
from rest_framework.authtoken.models import Token

from letters.models import Sighting, Signature, Source, SyncRun
from people.merging.tasks import match_runs_resend
from people.models import MatchRun, Merge
from tests.factories import make_letter
from tests.processes import web_server
from tests.reliability.conftest import (
    Process,
    beat_tick,
    current_database_url,
    dump_difference,
    process_env,
    scratch,
    seed_signatories,
    serving,
    shell,
    start_worker,
    table_dump,
    wait_until,
)
from tracker import resend
from tracker.testing.servers import FeedServer

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

LIST = b"name,affiliation\n" + b"".join(
    f"Listed Signatory{i},Studio {i % 3}\n".encode() for i in range(30)
)
SYNC_DUE = ("letters.tasks.sources_sync_due", "sync")
MATCH_RESEND = ("people.merging.tasks.match_runs_resend", "matching")


def staff_token() -> str:
    user = get_user_model().objects.create_superuser(
        username="faults", email="faults@example.org", password=None
    )
    # Hashed as the served settings hash it (the test settings use a faster hasher).
    user.password = PBKDF2PasswordHasher().encode(
        "faults-password-123", "faultssalt", iterations=1000
    )
    user.save(update_fields=["password"])
    return Token.objects.create(user=user).key


def test_the_api_keeps_serving_while_redis_is_down_and_queued_work_runs_once_it_is_back(
    redis_server,
):
    token = staff_token()
    auth = {"Authorization": f"Token {token}"}
    seed_signatories()
    env = process_env(current_database_url(), redis_server.url)
    worker = None
    with FeedServer() as feeds, web_server(env) as (base, _log), httpx.Client(base_url=base) as api:
        serving(base)
        feeds.serve("/list.csv", LIST)
        source = Source.objects.create(
            letter=make_letter(),
            name="Organisers' feed",
            kind="feed",
            url=feeds.url("/list.csv"),
            format="csv",
            next_sync_at=timezone.now() + timedelta(days=1),  # only the request queues it
        )
        assert api.get("/api/letters/").status_code == 200

        redis_server.stop()
        started = time.monotonic()
        reads = [api.get(path) for path in ("/api/letters/", "/api/people/") * 10]
        assert [r.status_code for r in reads] == [200] * 20
        created = api.post(
            "/api/letters/",
            json={"title": "Written with Redis down", "slug": "no-redis"},
            headers=auth,
        )
        assert created.status_code == 201, created.text
        signed = api.post(
            "/api/letters/no-redis/signatures/", json={"name": "Ava DuVernay"}, headers=auth
        )
        assert signed.status_code == 201, signed.text
        login = api.post(
            "/api/auth/token/", data={"username": "faults", "password": "faults-password-123"}
        )
        assert (login.status_code, login.json().get("token")) == (200, token), login.text
        first = api.post(f"/api/sources/{source.pk}/sync/", headers=auth)
        again = api.post(f"/api/sources/{source.pk}/sync/", headers=auth)
        down_for_api = time.monotonic() - started
        assert (first.status_code, first.json()["outcome"]) == (202, "queued"), first.text
        assert (again.status_code, again.json()["outcome"]) == (202, "skipped"), again.text
        health = api.get("/health/ready")
        assert health.status_code == 503 and not health.json()["checks"]["redis"]["ok"]

        asked = api.post("/api/match-runs/", json={"full": True}, headers=auth)
        assert (asked.status_code, asked.json()["status"]) == (202, "running"), asked.text
        match_run = MatchRun.objects.get(pk=asked.json()["id"])
        assert match_run.error == resend.UNSENT
        run = SyncRun.objects.get(pk=first.json()["id"])
        assert run.outcome == "queued" and "broker could not be reached" in run.error
        assert len(feeds.requests) == 0

        redis_server.start()
        try:
            worker = start_worker(env, "celery,sync,matching", "redis-back", concurrency=2)
            # Two beat ticks at once, as after a restart of beat.
            beat_tick(redis_server.url, SYNC_DUE, MATCH_RESEND, SYNC_DUE, MATCH_RESEND)
            recovered = time.monotonic()
            wait_until(
                lambda: (
                    SyncRun.objects.filter(pk=run.pk, outcome="succeeded").exists()
                    and MatchRun.objects.filter(pk=match_run.pk, status="succeeded").exists()
                ),
                90,
                lambda: f"the queued runs did not run:\n{worker.text()[-5000:]}",
                0.5,
            )
            recovery = time.monotonic() - recovered
            # Later ticks find nothing left to send.
            beat_tick(redis_server.url, SYNC_DUE, MATCH_RESEND)
            time.sleep(3)
        finally:
            if worker is not None:
                worker.stop()

    run.refresh_from_db()
    match_run.refresh_from_db()
    assert (run.outcome, run.attempts, run.added, run.error) == ("succeeded", 1, 30, "")
    assert len(feeds.asked("/list.csv")) == 1
    outcomes = SyncRun.objects.filter(source=source).values_list("outcome", flat=True)
    assert sorted(outcomes) == ["skipped", "succeeded"]
    assert Sighting.objects.filter(source=source).count() == 30
    pairs = Signature.objects.values_list("letter_id", "person_id")
    assert len(pairs) == len(set(pairs))
    assert (match_run.merged, match_run.error) == (5, "")
    assert MatchRun.objects.filter(mode="full").count() == 1
    assert Merge.objects.filter(run=match_run).count() == 5
    print(f"\nAPI with Redis down: 25 requests in {down_for_api:.1f} s; recovery {recovery:.1f} s")


def test_a_redis_that_hangs_without_answering_does_not_hang_the_api():
    token = staff_token()
    auth = {"Authorization": f"Token {token}"}
    # A server that takes connections and never answers, as a hung Redis or a
    # firewall dropping packets would: the kernel completes the handshakes.
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(256)
    hung = f"redis://127.0.0.1:{silent.getsockname()[1]}/0"
    env = process_env(current_database_url(), hung, REDIS_SOCKET_TIMEOUT="2")
    try:
        source = Source.objects.create(
            letter=make_letter(),
            name="Organisers' feed",
            kind="feed",
            url="https://example.org/list.csv",
            format="csv",
            next_sync_at=timezone.now() + timedelta(days=1),
        )
        with web_server(env) as (base, _log), httpx.Client(base_url=base, timeout=60) as api:
            serving(base)
            started = time.monotonic()
            reads = [api.get("/api/letters/").status_code for _ in range(3)]
            read_seconds = time.monotonic() - started

            started = time.monotonic()
            queued = api.post(f"/api/sources/{source.pk}/sync/", headers=auth)
            asked = api.post("/api/match-runs/", json={"full": True}, headers=auth)
            queue_seconds = time.monotonic() - started
    finally:
        silent.close()

    assert reads == [200] * 3
    assert (queued.status_code, queued.json()["outcome"]) == (202, "queued"), queued.text
    assert (asked.status_code, asked.json()["status"]) == (202, "running"), asked.text
    # The runs wait in the database for beat to send them again.
    assert MatchRun.objects.get(pk=asked.json()["id"]).error == resend.UNSENT
    assert read_seconds < 15 and queue_seconds < 30, (read_seconds, queue_seconds)
    print(f"\nRedis hung: 3 reads in {read_seconds:.1f} s, 2 jobs queued in {queue_seconds:.1f} s")


def test_people_a_sync_adds_while_the_broker_is_down_are_matched_once_it_is_back(
    postgres, redis_server
):
    database = postgres.copy("base", "unsent_incremental")
    with FeedServer() as feeds:
        feeds.serve(
            "/list.csv", b"name,affiliation\nMaggie Gyllenhaal,\nLana Wachowski,\nAva DuVernay,\n"
        )
        # A sync run in this process (sync_sources) while the broker is away.
        done = shell(
            "import json\n"
            "from letters.sync import source_sync\n"
            "from people.models import MatchRun\n"
            "from tests.factories import make_letter, make_source\n"
            "source = make_source(make_letter(slug='unsent'), kind='feed', "
            f"url={feeds.url('/list.csv')!r}, format='csv')\n"
            "from people.models import MatchQueueEntry, MatchQueueSend\n"
            "run = source_sync(source_id=source.pk)\n"
            "runs = list(MatchRun.objects.values_list('mode', 'status', 'error', 'focus'))\n"
            "print(json.dumps([run.outcome, run.added, runs, MatchQueueEntry.objects.count(), "
            "MatchQueueSend.objects.get().error]))",
            process_env(database, NO_BROKER),
        )
    outcome, added, runs, queued, error = done
    assert (outcome, added) == ("succeeded", 3)
    # The people wait in the queue, and its job to be sent.
    assert (runs, queued, error) == ([], 3, resend.UNSENT)

    def match_runs() -> list[tuple]:
        with psycopg.connect(database) as conn:
            return conn.execute(
                "SELECT mode, status, error, people_considered FROM people_matchrun"
            ).fetchall()

    worker = start_worker(process_env(database, redis_server.url), "matching", "unsent")
    try:
        # Two ticks at once, as after a restart of beat: the run is sent once.
        beat_tick(redis_server.url, MATCH_RESEND, MATCH_RESEND)
        wait_until(
            lambda: [status for _mode, status, *_ in match_runs()] == ["succeeded"],
            60,
            lambda: f"the unsent run did not run: {match_runs()}\n{worker.text()[-4000:]}",
            0.5,
        )
        beat_tick(redis_server.url, MATCH_RESEND)
        time.sleep(2)
    finally:
        worker.stop()
    assert match_runs() == [("incremental", "succeeded", "", 3)]


# --- PostgreSQL restarts mid-run ------------------------------------------------------

FIRST_LIST = b"name,affiliation\n" + b"".join(
    f"Listed Signatory{i},Studio {i % 3}\n".encode() for i in range(40)
)
# Five gone, three respelled, ten new.
SECOND_LIST = (
    b"name,affiliation\n"
    + b"".join(f"Listed Signatory{i},Studio {i % 3}\n".encode() for i in range(5, 37))
    + b"".join(f"Listed Signatori{i},Studio {i % 3}\n".encode() for i in range(37, 40))
    + b"".join(f"Newly Listed{i},Studio 9\n".encode() for i in range(10))
)
NO_BROKER = "redis://127.0.0.1:1/0"


def run_state(url: str, run_id: int) -> tuple | None:
    """The run's outcome, attempts and error, or None while the server is away."""
    try:
        with psycopg.connect(url, connect_timeout=2) as conn:
            return conn.execute(
                "SELECT outcome, attempts, error FROM letters_syncrun WHERE id = %s", [run_id]
            ).fetchone()
    except psycopg.OperationalError:
        return None


def lock_waiter(url: str, table: str) -> bool:
    """Whether a session waits for a row lock of ``table``."""
    with psycopg.connect(url) as conn:
        return bool(
            conn.execute(
                "SELECT 1 FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND query ILIKE %s",
                [f"%{table}%"],
            ).fetchone()
        )


@pytest.mark.parametrize("phase", ["fetch", "write"])
def test_a_sync_during_which_postgresql_restarts_is_carried_out_again_as_one_clean_run(
    postgres, redis_server, phase
):
    faulty = postgres.copy("base", f"sync_{phase}")
    with FeedServer() as feeds:
        feeds.serve("/list.csv", FIRST_LIST)
        seeded = shell(
            "import json\n"
            "from letters.sync import source_sync\n"
            "from tests.factories import make_letter, make_source\n"
            "source = make_source(make_letter(slug='restart'), kind='feed', "
            f"url={feeds.url('/list.csv')!r}, format='csv')\n"
            "run = source_sync(source_id=source.pk)\n"
            "print(json.dumps([source.pk, run.outcome, run.added]))",
            process_env(faulty, NO_BROKER),
        )
        source_id = seeded[0]
        assert seeded[1:] == ["succeeded", 40]
        clean = postgres.copy(f"sync_{phase}", f"sync_{phase}_clean")
        before = table_dump(faulty)

        feeds.serve("/list.csv", SECOND_LIST)
        done = shell(
            "import json\n"
            "from letters.sync import source_sync\n"
            f"run = source_sync(source_id={source_id})\n"
            "print(json.dumps([run.outcome, run.added, run.changed, run.gone]))",
            process_env(clean, NO_BROKER),
        )
        assert done == ["succeeded", 10, 3, 5]
        after = table_dump(clean)
        assert after != before

        hold = threading.Event() if phase == "fetch" else None
        feeds.serve("/list.csv", SECOND_LIST, hold=hold)
        env = process_env(faulty, redis_server.url)
        worker = start_worker(env, "sync", f"restart-{phase}")
        blocker = None
        try:
            if phase == "write":
                # Hold the source row: the run stops at its last write, inside its
                # transaction, with everything else written but not committed.
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
            away = postgres.restart()
            restarted = time.monotonic()
            if hold is not None:
                hold.set()
            state = wait_until(
                lambda: (
                    (s := run_state(faulty, run_id)) and s[0] not in ("queued", "running") and s
                ),
                60,
                f"the run did not end:\n{worker.text()[-5000:]}",
                0.5,
            )
            ended = time.monotonic() - restarted
        finally:
            if blocker is not None:
                blocker.close()
            worker.stop()
    final = table_dump(faulty)
    outcome, attempts, error = state
    assert final in (before, after), dump_difference(final, after)
    assert (outcome, attempts, final == after) == ("succeeded", 2, True), error
    print(
        f"\nPostgreSQL restart during the {phase}: away {away:.1f} s, "
        f"run {outcome} after {attempts} attempts, {ended:.1f} s after the restart"
    )


def match_request(env: dict[str, str]) -> int:
    return shell(
        "from people.merging import runs\n"
        "from django.db import transaction\n"
        "with transaction.atomic():\n"
        "    run = runs.match_request(full=True)\n"
        "print(run.pk)",
        env,
    )


def matching_databases(postgres, name: str) -> tuple[str, dict, dict, dict[str, int]]:
    """A database with signatories to match, what it holds, and what one clean
    full run on a copy of it leaves."""
    faulty = postgres.copy("base", name)
    people = shell(
        "import json\n"
        "from tests.reliability.conftest import seed_signatories\n"
        "print(json.dumps(seed_signatories()))",
        process_env(faulty, NO_BROKER),
    )
    clean = postgres.copy(name, f"{name}_clean")
    done = shell(
        "import json\n"
        "from people.merging import runs\n"
        "run = runs.run_now(full=True)\n"
        "print(json.dumps([run.status, run.merged, run.queued]))",
        process_env(clean, NO_BROKER),
    )
    assert done[:2] == ["succeeded", 5], done
    before, after = table_dump(faulty), table_dump(clean)
    assert before != after
    return faulty, before, after, people


def match_run_state(url: str, run_id: int) -> tuple | None:
    try:
        with psycopg.connect(url, connect_timeout=2) as conn:
            return conn.execute(
                "SELECT status, merged, error FROM people_matchrun WHERE id = %s", [run_id]
            ).fetchone()
    except psycopg.OperationalError:
        return None


def match_run_end(url: str, run_id: int, worker, seconds: float = 60) -> tuple:
    return wait_until(
        lambda: (s := match_run_state(url, run_id)) and s[0] != "running" and s,
        seconds,
        lambda: f"match run {run_id} did not end:\n{worker.text()[-5000:]}",
        0.5,
    )


def hold_person(url: str, person_id: int) -> psycopg.Connection:
    """Lock a person the run merges, so that it waits inside its combining
    transaction, with its other merges written but not committed."""
    blocker = psycopg.connect(url)
    blocker.execute("SELECT 1 FROM people_person WHERE id = %s FOR UPDATE", [person_id])
    return blocker


def test_a_match_run_during_which_postgresql_restarts_ends_as_one_clean_run(postgres, redis_server):
    faulty, before, after, people = matching_databases(postgres, "match_restart")
    env = process_env(faulty, redis_server.url)
    worker = start_worker(env, "matching", "match-restart")
    blocker = hold_person(faulty, people["Robert Smith"])
    try:
        run_id = match_request(env)
        wait_until(lambda: lock_waiter(faulty, "people_person"), 60, worker.text)
        assert table_dump(faulty) == before
        away = postgres.restart()
        restarted = time.monotonic()
        status, merged, error = match_run_end(faulty, run_id, worker)
        ended = time.monotonic() - restarted
    finally:
        blocker.close()
        worker.stop()
    final = table_dump(faulty)
    assert final in (before, after), dump_difference(final, after)
    assert (status, merged, final == after) == ("succeeded", 5, True), error
    print(f"\nPostgreSQL restart mid-merge: away {away:.1f} s, run {status} {ended:.1f} s after")


def test_a_match_run_whose_worker_is_killed_mid_merge_runs_again_as_one_clean_run(
    postgres, redis_server
):
    faulty, before, after, people = matching_databases(postgres, "match_killed")
    env = process_env(faulty, redis_server.url)
    worker = start_worker(env, "matching", "match-killed")
    blocker = hold_person(faulty, people["Robert Smith"])
    try:
        run_id = match_request(env)
        wait_until(lambda: lock_waiter(faulty, "people_person"), 60, worker.text)
        [child] = worker.children()
        os.kill(child, signal.SIGKILL)
        killed = time.monotonic()
        blocker.rollback()
        status, merged, error = match_run_end(faulty, run_id, worker)
        ended = time.monotonic() - killed
    finally:
        blocker.close()
        worker.stop()
    final = table_dump(faulty)
    assert final in (before, after), dump_difference(final, after)
    assert (status, merged, final == after) == ("succeeded", 5, True), error
    assert "WorkerLostError" in worker.text() or "SIGKILL" in worker.text()
    print(f"\nWorker killed mid-merge: the run {status} {ended:.1f} s after")


# --- Many requests and two beats at once ------------------------------------------------


def start_beat(env: dict[str, str], tag: str) -> Process:
    beat = Process(["beat", "--loglevel", "INFO"], env, tag)
    wait_until(
        lambda: "beat: Starting" in beat.text() or beat.process.poll() is not None,
        60,
        beat.text,
        0.3,
    )
    assert beat.process.poll() is None, beat.text()
    return beat


def test_ten_sync_requests_and_two_beats_at_once_give_one_run_per_source(redis_server):
    auth = {"Authorization": f"Token {staff_token()}"}
    database = current_database_url()
    env = process_env(database, redis_server.url)
    processes: list[Process] = []
    with FeedServer() as feeds, web_server(env) as (base, _log):
        serving(base)
        feeds.serve("/asked.csv", LIST)
        feeds.serve("/due.csv", FIRST_LIST)
        letter = make_letter()
        asked = Source.objects.create(
            letter=letter,
            name="Asked for",
            kind="feed",
            url=feeds.url("/asked.csv"),
            format="csv",
            next_sync_at=timezone.now() + timedelta(days=1),
        )
        due = Source.objects.create(
            letter=letter, name="Due", kind="feed", url=feeds.url("/due.csv"), format="csv"
        )
        barrier = threading.Barrier(10)

        def ask(_: int) -> httpx.Response:
            barrier.wait()
            return httpx.post(f"{base}/api/sources/{asked.pk}/sync/", headers=auth, timeout=30)

        with ThreadPoolExecutor(10) as pool:
            answers = list(pool.map(ask, range(10)))
        assert [a.status_code for a in answers] == [202] * 10, [a.text for a in answers]
        outcomes = sorted(a.json()["outcome"] for a in answers)
        assert outcomes == ["queued"] + ["skipped"] * 9
        assert redis.Redis.from_url(redis_server.url).llen("sync") == 1

        try:
            ticking = dict(env, TRACKER_BEAT_TICK_SECONDS="1")
            for tag in ("beat-one", "beat-two"):
                # Each beat keeps its schedule in a folder of its own.
                processes.append(
                    start_beat(dict(ticking, TRACKER_VAR_DIR=mkdtemp(dir=scratch())), tag)
                )
            processes.append(start_worker(env, "celery,sync,matching", "beats", concurrency=2))
            time.sleep(8)
            for beat in processes[:2]:
                beat.stop()
            ticks = sum(
                beat.text().count("Sending due task sources-sync-due") for beat in processes[:2]
            )
            wait_until(
                lambda: SyncRun.objects.filter(outcome__in=["succeeded", "failed"]).count() == 2,
                60,
                lambda: processes[2].text()[-5000:],
                0.5,
            )
        finally:
            for process in processes:
                process.stop()
    runs = {
        source.name: sorted(source.runs.values_list("outcome", flat=True))
        for source in (asked, due)
    }
    assert runs == {"Asked for": ["skipped"] * 9 + ["succeeded"], "Due": ["succeeded"]}
    assert len(feeds.asked("/asked.csv")) == len(feeds.asked("/due.csv")) == 1
    assert ticks >= 8, ticks
    assert Sighting.objects.filter(source__in=[asked, due]).count() == 30 + 40
    print(f"\nTen requests at once: 1 queued, 9 skipped; two beats: {ticks} ticks, one run")


def test_the_sweep_sends_a_stalled_runs_next_step_again_once_and_leaves_live_runs_alone():
    broker = redis.Redis.from_url(settings.REDIS_URL)
    broker.delete("matching")
    stalled = MatchRun.objects.create(mode="full", status="running")
    long_ago = timezone.now() - timedelta(seconds=settings.CELERY_TASK_TIME_LIMIT + 60)
    MatchRun.objects.filter(pk=stalled.pk).update(started_at=long_ago)
    try:
        first = match_runs_resend()
        second = match_runs_resend()
        sent = broker.llen("matching")
        MatchRun.objects.filter(pk=stalled.pk).update(started_at=timezone.now())
        stalled.refresh_from_db()
        live = match_runs_resend()
    finally:
        broker.delete("matching")
    assert (first, second, sent, live) == ([stalled.pk], [], 1, [])
    assert "resent_at" in stalled.details
