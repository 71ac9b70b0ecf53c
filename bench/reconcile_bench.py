"""Reconciliation batches on a database of many people.

    python bench/reconcile_bench.py --people 100000 --batch 50 --repeat 5

On the database named by BENCH_DATABASE_URL (default
postgres://postgres@127.0.0.1:5432/bench_reconcile), emptied first. Creates
``--people`` people from the distinct names of the project's generated lists
(``bench/matching_data.py``, seed 11) with ``person_create_many``, lets the
duplicate finder read every name once (its kept name index, from which
reconciliation takes the names' frequencies), then times batches of
``--batch`` queries: other spellings of known people as the generated lists
write them (initials, "Last, First", typos, capitals), half of them with the
affiliation stated, through the API (``POST /api/reconcile/``, form-encoded as
OpenRefine sends it, with Django's test client, in process: routing, parsing,
serialising included).

Beside it, in the same run, the floor: the same number of candidate searches
alone (the trigram search of each query's name, the first step of each query),
as plain SQL through the ORM. Prints medians and the ratio.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import sys
import time
from pathlib import Path
from urllib.parse import urlencode

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tracker.settings.test")
os.environ["TEST_DATABASE_URL"] = os.environ.get(
    "BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/bench_reconcile"
)
os.environ["TEST_REDIS_URL"] = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/13")
# One client sends every batch: the anonymous throttle is raised, as for the load benchmark.
os.environ["API_THROTTLE_ANON"] = "100000/minute"

import django  # noqa: E402

django.setup()

from django.core.management import call_command  # noqa: E402
from django.db import connection  # noqa: E402
from django.test import Client  # noqa: E402
from django.test.utils import override_settings  # noqa: E402
from django.utils import timezone  # noqa: E402

from bench.matching_data import generate  # noqa: E402
from people.matching.index import NameIndex  # noqa: E402
from people.matching.normalize import parse_name  # noqa: E402
from people.matching.records import Prepared, collection_paused  # noqa: E402
from people.merging import runs  # noqa: E402
from people.models import Person  # noqa: E402
from people.selectors import queryset_search  # noqa: E402
from people.services import person_create_many  # noqa: E402


def empty() -> None:
    with connection.cursor() as cursor:
        cursor.execute(
            "TRUNCATE people_namekey, people_affiliation, people_personname, people_person "
            "RESTART IDENTITY CASCADE"
        )


def load(people: int) -> list:
    """Distinct people of the generated lists; returns the entries of those created."""
    entries = generate(people * 3, seed=11)
    first: dict[int, object] = {}
    for entry in entries:
        first.setdefault(entry.entity, entry)
    chosen = list(first.values())[:people]
    started = time.perf_counter()
    person_create_many(people=[(e.name, []) for e in chosen], at=timezone.now())
    print(f"created {len(chosen):,} people in {time.perf_counter() - started:.1f} s")
    started = time.perf_counter()
    with collection_paused():
        index = NameIndex()
        Prepared(runs.load_names(), index=index)
        runs.save_name_index(index)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE people_person, people_personname, people_namekey")
    print(f"the finder read every name in {time.perf_counter() - started:.1f} s")
    wanted = {e.entity for e in chosen}
    return [e for e in entries if e.entity in wanted]


def queries(entries: list, batch: int, rng: random.Random) -> dict:
    """Spellings other than the one stored, half with the affiliation stated."""
    stored = {}
    for entry in entries:
        stored.setdefault(entry.entity, parse_name(entry.name).key)
    others = [e for e in entries if parse_name(e.name).key != stored[e.entity]]
    picked = rng.sample(others, batch)
    batch_queries = {}
    for number, entry in enumerate(picked):
        query: dict = {"query": entry.name, "type": "person", "limit": 3}
        if number % 2 and entry.affiliation:
            query["properties"] = [{"pid": "affiliation", "v": entry.affiliation}]
        batch_queries[f"q{number}"] = query
    return batch_queries


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--people", type=int, default=100_000)
    parser.add_argument("--batch", type=int, default=50)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    call_command("migrate", verbosity=0)
    empty()
    entries = load(args.people)
    print(f"{Person.objects.count():,} people; {os.cpu_count()} cores")
    rng = random.Random(5)
    client = Client()
    service, floor, found = [], [], 0
    with override_settings(ALLOWED_HOSTS=["testserver"]):
        for _ in range(args.repeat):
            batch = queries(entries, args.batch, rng)
            load_average = os.getloadavg()[0]
            started = time.perf_counter()
            response = client.post(
                "/api/reconcile/",
                urlencode({"queries": json.dumps(batch)}),
                content_type="application/x-www-form-urlencoded",
            )
            service.append(time.perf_counter() - started)
            assert response.status_code == 200, response.content[:500]
            found += sum(1 for answer in response.json().values() if answer["result"])
            started = time.perf_counter()
            active = Person.objects.filter(merged_into__isnull=True)
            for query in batch.values():
                list(queryset_search(active, query["query"]).values_list("pk", flat=True)[:20])
            floor.append(time.perf_counter() - started)
            print(
                f"  batch of {args.batch}: {service[-1]:.3f} s; the searches alone "
                f"{floor[-1]:.3f} s (load {load_average:.2f})"
            )
    service_median, floor_median = statistics.median(service), statistics.median(floor)
    print(
        f"median of {args.repeat}: batch of {args.batch} queries at {args.people:,} people "
        f"{service_median:.3f} s; the candidate searches alone {floor_median:.3f} s "
        f"({service_median / floor_median:.2f}x); queries with candidates "
        f"{found}/{args.batch * args.repeat}"
    )


if __name__ == "__main__":
    main()
