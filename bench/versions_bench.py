"""Benchmark: publishing and serving versions of a 100,000-signature list.

    .venv/bin/python bench/versions_bench.py [--entries 100000] [--repeat 3]

Uses the database named by BENCH_DATABASE_URL (default
postgres://postgres@127.0.0.1:5432/bench_versions), which it migrates and
empties first. One sync of the sync benchmark's generated CSV makes the
letter's list (and its first version); then it measures what a version costs:
checking a list that did not change (no version), publishing one after a
retraction, the same with a sync of 3% changes around it, serving a version's
CSV and the versions list, and ``verify_list`` over the chain.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import random
import statistics
import time

import redis

os.environ.setdefault("BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/bench_versions")

from django.core.management import call_command  # noqa: E402
from django.db import connection  # noqa: E402
from django.test import Client  # noqa: E402

from bench.sync_bench import empty_database, entries, to_csv  # noqa: E402 - sets Django up
from letters.models import ListVersion, Signature, Source  # noqa: E402
from letters.services import letter_create, signature_change_status, source_create  # noqa: E402
from letters.sync import source_sync  # noqa: E402
from letters.versions import record_version, verify  # noqa: E402
from tracker.testing.servers import FeedServer  # noqa: E402


class Queries:
    def __enter__(self):
        self.before = len(connection.queries)
        return self

    def __exit__(self, *exc):
        self.count = len(connection.queries) - self.before


def timed(function, repeat: int) -> tuple[float, object]:
    times, result = [], None
    for _ in range(repeat):
        started = time.perf_counter()
        result = function()
        times.append(time.perf_counter() - started)
    return statistics.median(times), result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--entries", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    rng = random.Random(20261202)

    call_command("migrate", verbosity=0)
    empty_database()
    rows = entries(args.entries, rng)
    print(f"{len(rows):,} entries, {os.cpu_count()} cores, load {os.getloadavg()[0]:.2f}")
    with FeedServer() as feeds:
        feeds.serve("/list.csv", to_csv(rows))
        letter = letter_create(title="Versions benchmark", slug="versions-benchmark")
        source = source_create(
            letter=letter,
            name="Benchmark list",
            kind=Source.Kind.PRESS,
            url=feeds.url("/list.csv"),
            format=Source.Format.CSV,
        )
        started = time.perf_counter()
        run = source_sync(source_id=source.pk)
        print(
            f"  first sync (with version 1): {time.perf_counter() - started:.1f} s, {run.outcome}"
        )
        first = ListVersion.objects.get(letter=letter, number=1)
        print(f"  version 1: {first.count:,} rows, {first.size / 1e6:.2f} MB of CSV, "
              f"{len(first.data) / 1e6:.2f} MB stored")  # fmt: skip

        connection.force_debug_cursor = True
        with Queries() as queries:
            record_version(letter)
        seconds, made = timed(lambda: record_version(letter), args.repeat)
        assert made is None
        print(f"  list unchanged, no version: {seconds:.2f} s, {queries.count} queries")

        signatures = list(
            Signature.objects.filter(letter=letter).order_by("id").values_list("pk", flat=True)
        )
        publish = []
        for round_ in range(args.repeat):
            signature = Signature.objects.get(pk=signatures[round_])
            signature_change_status(signature=signature, status="retracted", reason="Bench.")
            with Queries() as queries:
                started = time.perf_counter()
                assert record_version(letter, reason="retraction") is not None
                publish.append(time.perf_counter() - started)
        print(f"  a retraction, new version: {statistics.median(publish):.2f} s, "
              f"{queries.count} queries")  # fmt: skip
        connection.force_debug_cursor = False

        for round_ in range(args.repeat):
            one_percent = len(rows) // 100
            rows = list(rows)
            for index in rng.sample(range(len(rows)), one_percent):
                rows[index] = [rows[index][0], rows[index][1], f"Title {round_}", *rows[index][3:]]
            gone = set(rng.sample(range(len(rows)), one_percent))
            rows = [row for index, row in enumerate(rows) if index not in gone]
            rows += entries(one_percent, random.Random(1000 + round_))
            feeds.serve("/list.csv", to_csv(rows))
            started = time.perf_counter()
            run = source_sync(source_id=source.pk)
            took = time.perf_counter() - started
            version = ListVersion.objects.filter(run=run).first()
            print(f"  sync of 1% changed, 1% gone, 1% new: {took:.1f} s, "
                  f"version {version.number if version else None}")  # fmt: skip

    client = Client(SERVER_NAME="127.0.0.1")
    latest = ListVersion.objects.filter(letter=letter).order_by("-number").first()
    url = f"/api/letters/{letter.slug}/versions/{latest.number}/list.csv"
    seconds, response = timed(lambda: client.get(url), args.repeat)
    assert hashlib.sha256(response.content).hexdigest() == latest.content_sha256
    print(f"  GET list.csv ({len(response.content) / 1e6:.2f} MB): {seconds * 1000:.0f} ms")
    listing = f"/api/letters/{letter.slug}/versions/"
    seconds, response = timed(lambda: client.get(listing), args.repeat)
    assert response.status_code == 200
    print(f"  GET versions/ ({response.json()['count']} versions): {seconds * 1000:.0f} ms")
    seconds, found = timed(lambda: verify(letter), 1)
    assert not found.breaks
    print(f"  verify_list ({found.versions} versions): {seconds:.2f} s")
    # The jobs the retractions queued are not for any worker.
    redis.Redis.from_url(os.environ["REDIS_URL"]).delete("sync", "celery", "matching")


if __name__ == "__main__":
    main()
