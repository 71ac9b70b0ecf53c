"""Benchmark: sync a 100,000-entry CSV source served on loopback into PostgreSQL.

    .venv/bin/python bench/sync_bench.py [--entries 100000] [--repeat 3]

Uses the database named by BENCH_DATABASE_URL (default
postgres://postgres@127.0.0.1:5432/bench_sync), which it migrates and empties
first. Measures the first run, an unchanged re-run (304, and identical content
without an ETag), and a re-run where 1% of entries changed, 1% are gone and 1%
are new; compares the first run with PostgreSQL's own COPY of the same rows
into a plain table. Each measured run happens in a process of its own, whose
peak resident set is its peak memory (a first run's name parsers are processes
of their own, of about 15 MB each).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ["DATABASE_URL"] = os.environ.get(
    "BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/bench_sync"
)
os.environ.setdefault("SECRET_KEY", "bench-secret-key")
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tracker.settings.local")
os.environ.setdefault("TRACKER_VAR_DIR", "/tmp/tracker-bench-var")
os.environ["TRACKER_ALLOW_PRIVATE_SOURCES"] = "1"
os.environ.setdefault("LOG_LEVEL", "WARNING")
# Matching jobs the syncs queue go to this Redis database and are cleared at the end.
os.environ["REDIS_URL"] = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/12")

import django  # noqa: E402

django.setup()

import redis  # noqa: E402
from django.apps import apps  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.db import connection  # noqa: E402

from letters.models import Source  # noqa: E402
from letters.services import letter_create, source_create  # noqa: E402
from letters.sync import source_sync  # noqa: E402
from tracker.testing.servers import FeedServer  # noqa: E402

FIRST = [
    "Ava",
    "Cate",
    "Paul",
    "Maggie",
    "Jake",
    "Lana",
    "Lilly",
    "Chris",
    "Ron",
    "Alfonso",
    "Pedro",
    "Björk",
    "François",
    "Agnès",
    "Céline",
    "Zoë",
    "Søren",
    "José",
    "Ana",
    "María",
    "Li",
    "Wei",
    "Yuki",
    "Hiroshi",
    "Amara",
    "Kwame",
    "Nia",
    "Omar",
    "Leila",
    "Farah",
    "Ingrid",
    "Lars",
    "Astrid",
    "Mateo",
    "Lucía",
    "Diego",
    "Sofía",
    "Emma",
    "Noah",
    "Olivia",
    "Liam",
    "Mia",
    "Lucas",
    "Chloé",
    "Jules",
    "Hugo",
    "Léa",
    "Inès",
    "Tom",
    "Anna",
    "Ben",
    "Clara",
    "Felix",
    "Greta",
    "Jonas",
    "Marta",
    "Pablo",
    "Irene",
    "Bruno",
    "Elena",
    "Marco",
]
LAST = [
    "DuVernay",
    "Blanchett",
    "McCartney",
    "Gyllenhaal",
    "Wachowski",
    "Evans",
    "Howard",
    "Cuarón",
    "Almodóvar",
    "Ozon",
    "Varda",
    "Sciamma",
    "Kierkegaard",
    "García",
    "López",
    "Martínez",
    "Rossi",
    "Russo",
    "Bianchi",
    "Müller",
    "Schmidt",
    "Schneider",
    "Fischer",
    "Weber",
    "Meyer",
    "Wagner",
    "Becker",
    "Schulz",
    "Hoffmann",
    "Dubois",
    "Durand",
    "Lefèvre",
    "Moreau",
    "Laurent",
    "Simon",
    "Michel",
    "Nakamura",
    "Tanaka",
    "Suzuki",
    "Takahashi",
    "Watanabe",
    "Kim",
    "Lee",
    "Park",
    "Choi",
    "Chen",
    "Wang",
    "Zhang",
    "Liu",
    "Singh",
    "Kumar",
    "Sharma",
    "Patel",
    "Okafor",
    "Mensah",
    "Diallo",
    "Traoré",
    "Haddad",
    "Nasser",
    "Cohen",
    "Levi",
    "Novak",
    "Kowalski",
    "Nowak",
    "Horvat",
    "Popescu",
    "Ionescu",
    "Petrov",
    "Ivanova",
    "Smirnov",
    "Andersson",
    "Johansson",
    "Nilsson",
    "Hansen",
    "Jensen",
    "Nielsen",
    "O'Brien",
    "Murphy",
    "Kelly",
    "Walsh",
    "Byrne",
    "Ryan",
]
TITLES = ["Actor", "Director", "Writer", "Musician", "Producer", "Composer", "Editor", ""]
STUDIOS = [f"Studio {n}" for n in range(300)] + ["", "", ""]
COUNTRIES = ["US", "GB", "FR", "DE", "IT", "ES", "JP", "KR", "NG", "BR", ""]


def entries(count: int, rng: random.Random) -> list[list[str]]:
    """Distinct people: name pairs with a middle initial to go past 100,000."""
    seen: set[str] = set()
    rows = []
    while len(rows) < count:
        first, last = rng.choice(FIRST), rng.choice(LAST)
        middle = rng.choice("ABCDEFGHJKLMNPRSTVW")
        number = rng.randrange(1, 40)
        name = f"{first} {middle}. {last}-{number}"
        if name in seen:
            continue
        seen.add(name)
        if rng.random() < 0.1:
            name = f"{last}-{number}, {first} {middle}."
        rows.append(
            [
                name,
                rng.choice(STUDIOS),
                rng.choice(TITLES),
                rng.choice(COUNTRIES),
                f"2025-03-{rng.randrange(1, 29):02d}",
                f"ref-{len(rows)}",
            ]
        )
    return rows


def to_csv(rows: list[list[str]]) -> bytes:
    import csv
    import io

    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["name", "affiliation", "title", "country", "signed_at", "reference"])
    writer.writerows(rows)
    return out.getvalue().encode()


def peak_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def cpu_seconds(who: int) -> float:
    usage = resource.getrusage(who)
    return usage.ru_utime + usage.ru_stime


def backend_cpu_seconds(pid: int) -> float:
    """CPU time of the PostgreSQL backend serving this process (same machine)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def child_run(source_id: int) -> None:
    """One sync, in a process of its own, so that its peak memory is its own.
    Besides the time it took, it reports the CPU time it needed: the sync's
    own, its name parsers' and its PostgreSQL backend's, which depend less on
    what else the machine is doing."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        backend = cursor.fetchone()[0]
    before = (cpu_seconds(resource.RUSAGE_SELF), cpu_seconds(resource.RUSAGE_CHILDREN))
    backend_before = backend_cpu_seconds(backend)
    started = time.perf_counter()
    run = source_sync(source_id=source_id)
    seconds = time.perf_counter() - started
    cpu = {
        "sync": cpu_seconds(resource.RUSAGE_SELF) - before[0],
        "parsers": cpu_seconds(resource.RUSAGE_CHILDREN) - before[1],
        "postgres": backend_cpu_seconds(backend) - backend_before,
    }
    print(
        json.dumps(
            {
                "seconds": seconds,
                "cpu": cpu,
                "peak_mb": peak_mb(),
                "outcome": run.outcome,
                "error": run.error,
                "counts": [run.seen, run.added, run.changed, run.gone, run.back],
            }
        )
    )


def timed_run(source_id: int) -> dict:
    process = subprocess.run(
        [sys.executable, __file__, "--run", str(source_id)],
        capture_output=True,
        text=True,
        check=False,
    )
    if process.returncode:
        raise SystemExit(process.stderr[-3000:])
    return json.loads(process.stdout.strip().splitlines()[-1])


def empty_database() -> None:
    tables = [
        model._meta.db_table
        for model in apps.get_models()
        if model._meta.app_label in ("letters", "people")
    ]
    with connection.cursor() as cursor:
        cursor.execute(f"TRUNCATE {', '.join(tables)} RESTART IDENTITY CASCADE")


def copy_baseline(content: bytes) -> float:
    """PostgreSQL's own COPY of the same rows into a plain table."""
    with connection.cursor() as cursor:
        cursor.execute("DROP TABLE IF EXISTS bench_plain_copy")
        cursor.execute(
            "CREATE TABLE bench_plain_copy (name text, affiliation text, title text, "
            "country text, signed_at date, reference text)"
        )
        started = time.perf_counter()
        with cursor.copy("COPY bench_plain_copy FROM STDIN WITH (FORMAT csv, HEADER true)") as copy:
            copy.write(content)
        seconds = time.perf_counter() - started
        cursor.execute("SELECT count(*) FROM bench_plain_copy")
        assert cursor.fetchone()[0] == content.count(b"\n") - 1
        cursor.execute("DROP TABLE bench_plain_copy")
    return seconds


def check(run: dict, outcome: str) -> dict:
    if run["outcome"] != outcome:
        raise SystemExit(f"a run {run['outcome']}, expected {outcome}: {run['error']}")
    return run


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--entries", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--run", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.run:
        child_run(args.run)
        return
    rng = random.Random(20261122)

    call_command("migrate", verbosity=0)
    rows = entries(args.entries, rng)
    content = to_csv(rows)
    print(f"{len(rows):,} entries, {len(content) / 1e6:.1f} MB of CSV, {os.cpu_count()} cores")
    print(f"load average at the start: {os.getloadavg()[0]:.2f}")

    results: dict[str, list[dict]] = {}

    def record(name: str, run: dict) -> None:
        results.setdefault(name, []).append(run)
        cpu = run["cpu"]
        print(
            f"  {name:<34} {run['seconds']:6.2f} s   CPU: sync {cpu['sync']:5.2f} s,"
            f" parsers {cpu['parsers']:5.2f} s, PostgreSQL {cpu['postgres']:5.2f} s"
            f"   peak RSS {run['peak_mb']:4.0f} MB"
            f"   load {os.getloadavg()[0]:.2f}",
            flush=True,
        )

    with FeedServer() as feeds:
        feeds.serve("/list.csv", content)
        source: Source | None = None
        for _ in range(args.repeat):
            empty_database()
            seconds = copy_baseline(content)
            results.setdefault("copy", []).append({"seconds": seconds})
            print(f"  {'PostgreSQL COPY into a plain table':<34} {seconds:7.2f} s", flush=True)
            letter = letter_create(title="Sync benchmark", slug="sync-benchmark")
            source = source_create(
                letter=letter,
                name="Benchmark list",
                kind=Source.Kind.PRESS,
                url=feeds.url("/list.csv"),
                format=Source.Format.CSV,
            )
            record("first run", check(timed_run(source.pk), "succeeded"))
        assert source is not None

        for _ in range(args.repeat):
            record("unchanged re-run (304)", check(timed_run(source.pk), "unchanged"))
        feeds.documents["/list.csv"].etag = False
        for _ in range(args.repeat):
            record("unchanged re-run (same content)", check(timed_run(source.pk), "unchanged"))

        one_percent = len(rows) // 100
        for round_ in range(args.repeat):
            rows = list(rows)
            for index in rng.sample(range(len(rows)), one_percent):
                rows[index] = [*rows[index][:1], f"Moved Studio {round_}", *rows[index][2:]]
            gone = set(rng.sample(range(len(rows)), one_percent))
            rows = [row for index, row in enumerate(rows) if index not in gone]
            rows += entries(one_percent, random.Random(1000 + round_))
            feeds.serve("/list.csv", to_csv(rows))
            run = check(timed_run(source.pk), "succeeded")
            record("1% changed, 1% gone, 1% new", run)
            print("    seen {}, added {}, changed {}, gone {}, back {}".format(*run["counts"]))
    redis.Redis.from_url(os.environ["REDIS_URL"]).delete("sync", "celery", "matching")

    def median(name: str) -> float:
        return statistics.median(run["seconds"] for run in results[name])

    def cpu(name: str) -> str:
        runs = results[name]
        parts = {
            part: statistics.median(r["cpu"][part] for r in runs)
            for part in ("sync", "parsers", "postgres")
        }
        return "CPU " + ", ".join(f"{part} {value:.2f} s" for part, value in parts.items())

    def peak(name: str) -> str:
        return f"peak RSS {max(r['peak_mb'] for r in results[name]):.0f} MB"

    first, copy = median("first run"), median("copy")
    print()
    print(f"Medians of {args.repeat}; load average {os.getloadavg()[0]:.2f} at the end")
    for name, target in [
        ("first run", 20),
        ("unchanged re-run (304)", 1),
        ("unchanged re-run (same content)", 1),
        ("1% changed, 1% gone, 1% new", 5),
    ]:
        verdict = "ok" if median(name) < target else "OVER TARGET"
        print(f"{name:<34} {median(name):7.2f} s  (target < {target} s, {verdict})")
        print(f"{'':<34} {cpu(name)}; {peak(name)}")
    print(f"{'PostgreSQL COPY into a plain table':<34} {copy:7.2f} s")
    print(f"first run / COPY: {first / copy:.0f}x")


if __name__ == "__main__":
    main()
