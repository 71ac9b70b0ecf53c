"""Fan-out of change-feed events to webhook subscriptions.

    python bench/webhook_bench.py --events 1000 --subscriptions 10

On the database named by BENCH_DATABASE_URL (default
postgres://postgres@127.0.0.1:5432/bench_webhooks, created and migrated if
needed) and the Redis named by BENCH_REDIS_URL (default
redis://127.0.0.1:6379/6, its Celery queues emptied first). Starts Celery beat
and one worker (``--concurrency`` processes) as the ``Procfile`` does, and
``--subscriptions`` receivers on loopback (real HTTP servers in this process),
each with a subscription of its own. Then imports a list of ``--events`` new
signatories through the sync pipeline (one ``signature_added`` event each) and
waits until every receiver has acknowledged every event.

Prints the wall time from the first event written to the last delivery
acknowledged, the requests made, the events delivered (and how many were
repeats), and the median and 95th percentile delivery latency (event written to
acknowledged). Beside it, in the same run, the floor: the very bodies the
receivers got, POSTed again directly to them, one after another, with the same
HTTP client and address checks (``letters.webhooks``), timed alone.
"""

from __future__ import annotations

import argparse
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tracker.settings.test")
DATABASE_URL = os.environ.get(
    "BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/bench_webhooks"
)
REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/6")
os.environ["TEST_DATABASE_URL"] = DATABASE_URL
os.environ["TEST_REDIS_URL"] = REDIS_URL
os.environ["TRACKER_ALLOW_PRIVATE_SOURCES"] = "1"

import django  # noqa: E402
import psycopg  # noqa: E402

_name = DATABASE_URL.rsplit("/", 1)[1]
with psycopg.connect(DATABASE_URL.rsplit("/", 1)[0] + "/postgres", autocommit=True) as _conn:
    if not _conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [_name]).fetchone():
        _conn.execute(f'CREATE DATABASE "{_name}"')

django.setup()

import json  # noqa: E402

import redis  # noqa: E402
from django.core.management import call_command  # noqa: E402

from letters import webhooks  # noqa: E402
from letters.models import SignatureStatusChange, WebhookDelivery, WebhookSubscription  # noqa: E402
from letters.services import letter_create, source_create  # noqa: E402
from letters.sync import import_file  # noqa: E402
from tracker.testing.servers import WebhookReceiver  # noqa: E402

WALL_OFFSET = time.time() - time.monotonic()


def start(args: list[str], env: dict[str, str], log: Path) -> subprocess.Popen:
    with log.open("wb") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "celery", "--app", "tracker", *args],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


def wait_for(log: Path, text: str, seconds: float = 90) -> None:
    deadline = time.monotonic() + seconds
    while text not in log.read_text(errors="replace"):
        if time.monotonic() > deadline:
            raise SystemExit(f"{log.name} did not say {text!r}:\n{log.read_text()[-3000:]}")
        time.sleep(0.2)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--events", type=int, default=1000)
    parser.add_argument("--subscriptions", type=int, default=10)
    parser.add_argument("--batch-seconds", type=int, default=1)
    parser.add_argument("--concurrency", type=int, default=2)
    args = parser.parse_args()
    call_command("migrate", verbosity=0)
    WebhookSubscription.objects.all().delete()
    redis.Redis.from_url(REDIS_URL).delete("celery", "sync", "matching")

    scratch = Path(tempfile.mkdtemp(prefix="webhook-bench-"))
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TEST_", "PYTEST"))}
    env.update(
        DJANGO_SETTINGS_MODULE="tracker.settings.local",
        SECRET_KEY="bench-secret-key",
        DATABASE_URL=DATABASE_URL,
        REDIS_URL=REDIS_URL,
        TRACKER_ALLOW_PRIVATE_SOURCES="1",
        TRACKER_VAR_DIR=str(scratch),
        LOG_FORMAT="plain",
        WEBHOOK_BATCH_SECONDS=str(args.batch_seconds),
        WEBHOOK_MAX_EVENTS=str(max(1000, args.events)),
        # Matching of the new names waits; only webhooks are measured.
        MATCHING_DEBOUNCE_SECONDS="3600",
    )
    receivers = [WebhookReceiver().start() for _ in range(args.subscriptions)]
    processes = []
    try:
        beat = start(["beat", "--loglevel", "INFO"], env, scratch / "beat.log")
        processes.append(beat)
        worker = start(
            [
                "worker",
                "--queues",
                "celery",
                "--pool",
                "prefork",
                "--concurrency",
                str(args.concurrency),
                "--without-gossip",
                "--without-mingle",
                "--loglevel",
                "INFO",
            ],
            env,
            scratch / "worker.log",
        )
        processes.append(worker)
        wait_for(scratch / "beat.log", "beat: Starting")
        wait_for(scratch / "worker.log", "ready.")
        for receiver in receivers:
            webhooks.webhook_subscription_create(url=receiver.url())

        letter = letter_create(title="Webhook benchmark", slug=f"webhook-bench-{os.getpid()}")
        source = source_create(letter=letter, name="Organisers", kind="feed", format="csv")
        rows = "".join(f"Signatory Number{i},Studio {i % 7}\n" for i in range(args.events))
        content = ("name,affiliation\n" + rows).encode()
        load_before = os.getloadavg()
        began = time.time()
        run = import_file(source=source, content=content, format="csv")
        written = time.time()
        assert run.added == args.events, run.error
        changes = SignatureStatusChange.objects.filter(signature__letter=letter)
        at = {f"c{pk}": when.timestamp() for pk, when in changes.values_list("pk", "changed_at")}
        first_event = min(at.values())

        # Each request's events are read once, as it arrives: the receivers share
        # this process's two cores with the worker.
        seen: list[set[str]] = [set() for _ in receivers]
        read: list[int] = [0 for _ in receivers]
        deadline = time.monotonic() + 300
        while True:
            for number, receiver in enumerate(receivers):
                for request in receiver.received[read[number] :]:
                    seen[number].update(e["id"] for e in json.loads(request.body)["events"])
                    read[number] += 1
            done = all(len(ids) >= args.events for ids in seen)
            if done or time.monotonic() > deadline:
                break
            time.sleep(0.1)
        load_after = os.getloadavg()
        if not done:
            raise SystemExit("Not every event was delivered within 300 s.")

        requests = [r for rc in receivers for r in rc.received]
        latencies, delivered, last_ack = [], 0, 0.0
        for request in requests:
            acknowledged = request.at + WALL_OFFSET
            last_ack = max(last_ack, acknowledged)
            for event in json.loads(request.body)["events"]:
                delivered += 1
                latencies.append(acknowledged - at[event["id"]])
        distinct = args.events * len(receivers)
        outcomes = sorted(set(WebhookDelivery.objects.values_list("outcome", flat=True)))

        # The floor: the same bodies, POSTed directly with the same client.
        floor_times = []
        for receiver in receivers:
            for request in list(receiver.received):
                started = time.monotonic()
                answer = webhooks._post(receiver.url(), request.body, dict(request.headers))
                floor_times.append(time.monotonic() - started)
                assert answer.ok, answer.error
        body_sizes = [len(r.body) for r in requests]

        wall = last_ack - first_event
        print(
            f"{args.events:,} events to {len(receivers)} subscriptions; "
            f"batch period {args.batch_seconds} s; worker concurrency {args.concurrency}; "
            f"{os.cpu_count()} cores; load average {load_before[0]:.2f} before, "
            f"{load_after[0]:.2f} after"
        )
        print(f"events written (sync pipeline import): {written - began:.2f} s")
        print(f"wall time, first event written to last delivery acknowledged: {wall:.2f} s")
        print(
            f"requests made: {len(requests)} (bodies {min(body_sizes):,} to "
            f"{max(body_sizes):,} bytes); deliveries: {outcomes}"
        )
        print(
            f"events delivered: {delivered:,} ({delivered - distinct:,} repeats; "
            f"{distinct:,} distinct expected)"
        )
        print(
            f"delivery latency (event written to acknowledged): median "
            f"{statistics.median(latencies):.2f} s, p95 "
            f"{statistics.quantiles(latencies, n=20)[-1]:.2f} s, max {max(latencies):.2f} s"
        )
        floor_median = statistics.median(floor_times) * 1000
        print(
            f"floor, the same {len(floor_times)} bodies POSTed directly one after another: "
            f"{sum(floor_times):.3f} s in all, median {floor_median:.1f} ms a request"
        )
    finally:
        for process in processes:
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
                try:
                    process.wait(30)
                except subprocess.TimeoutExpired:
                    os.killpg(process.pid, signal.SIGKILL)
        for receiver in receivers:
            receiver.stop()


if __name__ == "__main__":
    main()
