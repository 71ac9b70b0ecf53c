"""Benchmark of the REST API at a million signatures, against the SQL floor.

    .venv/bin/python bench/api_bench.py [--duration 10] [--repeat 3] [--connections 8] [--workers 4]

Creates (once) and fills the PostgreSQL database ``bench_api`` (or
``$BENCH_API_DATABASE``; Redis: ``$BENCH_API_REDIS_URL``, see api_data.py),
serves the API with gunicorn on loopback, and loads it with wrk: a page of 100
signatures, a person's detail, a name search, a CSV export of 100,900
signatures, and the journalists' questions (with one client): the overlap of two
100,900-signature letters, the people who signed both, a person's timeline, an
organization's signatories, a page of the change feed, and a list as it stood.
The floor is the same data read by hand-written SQL through psycopg,
with the same number of concurrent clients, in the same run. Prints the figures
and writes them to bench/api_results.json.
"""

# The floor's SQL is put together from constants of this file only.
# ruff: noqa: S608

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import random
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
import urllib.request
from datetime import UTC, datetime
from pathlib import Path

import psycopg

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.api_data import ORGANIZATIONS, fill  # noqa: E402
from people.matching.normalize import fold  # noqa: E402
from tracker.testing.servers import free_port  # noqa: E402

SERVER = "postgresql://postgres@127.0.0.1:5432"
# BENCH_API_DATABASE and BENCH_API_REDIS_URL name another database and Redis
# database, so that two runs do not share them.
DATABASE = os.environ.get("BENCH_API_DATABASE", "bench_api")
DSN = f"{SERVER}/{DATABASE}"
REDIS_URL = os.environ.get("BENCH_API_REDIS_URL", "redis://127.0.0.1:6379/13")
SEED = 20261122

# --- the floor: the same reads in hand-written SQL -----------------------------

PAGE_SQL = [
    """SELECT s.id, l.slug, s.person_id, p.display_name, s.status, s.title, s.affiliation,
              s.first_seen_at, s.last_seen_at
       FROM letters_signature s
       JOIN letters_letter l ON l.id = s.letter_id
       JOIN people_person p ON p.id = s.person_id
       WHERE l.slug = %(slug)s AND s.merged_into_id IS NULL AND s.status <> 'removed'
       ORDER BY s.first_seen_at, s.id LIMIT 101""",
    """SELECT g.signature_id, src.name, g.name, g.title, g.affiliation, g.present,
              g.first_seen_at, g.last_seen_at
       FROM letters_sighting g JOIN letters_source src ON src.id = g.source_id
       WHERE g.signature_id = ANY(%(ids)s)
       ORDER BY g.signature_id, g.first_seen_at, g.id""",
]
PERSON_SQL = [
    "SELECT * FROM people_person WHERE id = %(id)s",
    """SELECT n.*, src.*, l.* FROM people_personname n
       LEFT JOIN letters_source src ON src.id = n.source_id
       LEFT JOIN letters_letter l ON l.id = src.letter_id
       WHERE n.person_id = %(id)s ORDER BY n.name, n.first_seen_at, n.id""",
    """SELECT a.*, o.*, src.* FROM people_affiliation a
       JOIN people_organization o ON o.id = a.organization_id
       LEFT JOIN letters_source src ON src.id = a.source_id
       WHERE a.person_id = %(id)s ORDER BY o.name, a.id""",
    """SELECT s.id, s.person_id, s.status, s.title, s.affiliation, s.first_seen_at,
              s.last_seen_at, l.slug, l.title
       FROM letters_signature s JOIN letters_letter l ON l.id = s.letter_id
       WHERE s.person_id = %(id)s AND s.merged_into_id IS NULL AND s.status <> 'removed'
       ORDER BY s.first_seen_at DESC, s.id""",
]
SEARCH_SQL = [
    """SELECT id, display_name, sort_name, external_ids FROM people_person
       WHERE merged_into_id IS NULL AND search_text %%> %(q)s
       ORDER BY word_similarity(%(q)s, search_text) DESC, id LIMIT 51""",
]
EXPORT_SQL = """
    COPY (
        SELECT s.id, l.slug, s.person_id, p.display_name, s.status, s.title, s.affiliation,
               s.first_seen_at, s.last_seen_at,
               (SELECT string_agg(DISTINCT src.name, '; ') FROM letters_sighting g
                  JOIN letters_source src ON src.id = g.source_id WHERE g.signature_id = s.id),
               (SELECT string_agg(DISTINCT g.name, '; ') FROM letters_sighting g
                  WHERE g.signature_id = s.id)
        FROM letters_signature s
        JOIN letters_letter l ON l.id = s.letter_id
        JOIN people_person p ON p.id = s.person_id
        WHERE l.slug = 'bench-big-letter' AND s.merged_into_id IS NULL
          AND s.status <> 'removed'
        ORDER BY s.first_seen_at, s.id
    ) TO STDOUT WITH CSV HEADER
"""


def _floor_page(conn, slug: str) -> None:
    rows = conn.execute(PAGE_SQL[0], {"slug": slug}).fetchall()
    conn.execute(PAGE_SQL[1], {"ids": [row[0] for row in rows[:100]]}).fetchall()


def _floor_person(conn, person_id: int) -> None:
    for sql in PERSON_SQL:
        conn.execute(sql, {"id": person_id}).fetchall()


def _floor_search(conn, query: str) -> None:
    for sql in SEARCH_SQL:
        conn.execute(sql, {"q": fold(query)}).fetchall()


# --- the journalists' questions, in hand-written SQL ------------------------------

SIGNED = "s.merged_into_id IS NULL AND s.status NOT IN ('retracted', 'removed')"
LETTER_ID_SQL = "SELECT id FROM letters_letter WHERE slug = %(slug)s"
OVERLAP_SQL = [
    f"""SELECT s.letter_id, count(DISTINCT s.person_id) FROM letters_signature s
        WHERE {SIGNED} AND s.letter_id <> %(id)s AND s.person_id IN (
            SELECT s.person_id FROM letters_signature s WHERE s.letter_id = %(id)s AND {SIGNED})
        GROUP BY s.letter_id""",
    f"""SELECT s.letter_id, count(DISTINCT s.person_id) FROM letters_signature s
        WHERE {SIGNED} AND s.letter_id = ANY(%(ids)s) GROUP BY s.letter_id""",
    "SELECT id, slug, title FROM letters_letter WHERE id = ANY(%(ids)s)",
]
_BOTH = f"""FROM people_person p
    WHERE EXISTS (SELECT 1 FROM letters_signature s WHERE s.person_id = p.id
                  AND s.letter_id = %(a)s AND {SIGNED})
      AND EXISTS (SELECT 1 FROM letters_signature s WHERE s.person_id = p.id
                  AND s.letter_id = %(b)s AND {SIGNED})"""
SIGNATURES_OF_SQL = f"""
    SELECT s.id, s.person_id, s.letter_id, l.slug, s.status, s.first_seen_at, s.last_seen_at
    FROM letters_signature s JOIN letters_letter l ON l.id = s.letter_id
    WHERE {SIGNED} AND s.person_id = ANY(%(people)s) AND (%(letters)s::bigint[] IS NULL
          OR s.letter_id = ANY(%(letters)s)) ORDER BY s.first_seen_at, s.id"""
SHARED_SQL = [
    f"SELECT count(*) {_BOTH}",
    f"SELECT p.id, p.display_name {_BOTH} ORDER BY p.sort_key, p.id LIMIT 50",
]
TIMELINE_SQL = [
    "SELECT id, merged_into_id, display_name FROM people_person WHERE id = %(id)s",
    """SELECT s.*, l.slug, l.title FROM letters_signature s
       JOIN letters_letter l ON l.id = s.letter_id
       WHERE s.person_id = %(id)s AND s.merged_into_id IS NULL AND s.status <> 'removed'
       ORDER BY s.first_seen_at, s.id""",
    """SELECT g.*, src.name FROM letters_sighting g JOIN letters_source src ON src.id = g.source_id
       WHERE g.signature_id IN (SELECT id FROM letters_signature WHERE person_id = %(id)s)
       ORDER BY g.first_seen_at, g.id""",
    """SELECT e.* FROM letters_sightingevent e JOIN letters_sighting g ON g.id = e.sighting_id
       JOIN letters_signature s ON s.id = g.signature_id
       WHERE s.person_id = %(id)s AND e.kind IN ('gone', 'back') ORDER BY e.at, e.id""",
    """SELECT c.* FROM letters_signaturestatuschange c
       JOIN letters_signature s ON s.id = c.signature_id
       WHERE s.person_id = %(id)s AND c.from_status <> '' ORDER BY c.changed_at, c.id""",
    "SELECT * FROM people_merge WHERE survivor_id = %(id)s OR merged_id = %(id)s",
    "SELECT * FROM people_split WHERE person_id = %(id)s OR new_person_id = %(id)s",
    "SELECT * FROM people_personrename WHERE person_id = %(id)s",
]
_AFFILIATED = f"""FROM people_person p
    WHERE p.merged_into_id IS NULL
      AND p.id IN (SELECT person_id FROM people_affiliation WHERE organization_id = ANY(%(orgs)s)
                   UNION SELECT s.person_id FROM letters_signature s
                   WHERE s.organization_id = ANY(%(orgs)s) AND {SIGNED})
      AND EXISTS (SELECT 1 FROM letters_signature s WHERE s.person_id = p.id AND {SIGNED})"""
ROLLUP_SQL = [
    """WITH RECURSIVE tree(id) AS (SELECT id FROM people_organization WHERE id = %(id)s
         UNION SELECT o.id FROM people_organization o JOIN tree ON o.parent_id = tree.id)
       SELECT id FROM tree""",
    f"SELECT count(*) {_AFFILIATED}",
    f"SELECT p.id, p.display_name {_AFFILIATED} ORDER BY p.sort_key, p.id LIMIT 50",
    f"""SELECT l.slug, l.title, count(DISTINCT s.person_id) FROM letters_signature s
        JOIN letters_letter l ON l.id = s.letter_id
        WHERE {SIGNED} AND s.person_id IN (SELECT p.id {_AFFILIATED})
        GROUP BY l.slug, l.title ORDER BY 3 DESC, 1""",
]
CHANGES_SQL = [
    """SELECT c.id, c.changed_at, c.from_status, c.to_status, c.reason, c.signature_id, l.slug,
              s.person_id, p.display_name
       FROM letters_signaturestatuschange c JOIN letters_signature s ON s.id = c.signature_id
       JOIN letters_letter l ON l.id = s.letter_id JOIN people_person p ON p.id = s.person_id
       WHERE c.changed_at >= %(since)s ORDER BY c.changed_at, c.id LIMIT 101""",
    "SELECT count(*) FROM letters_signaturestatuschange WHERE changed_at >= %(since)s",
    """SELECT e.*, g.signature_id, src.name FROM letters_sightingevent e
       JOIN letters_sighting g ON g.id = e.sighting_id
       JOIN letters_source src ON src.id = g.source_id
       WHERE e.at >= %(since)s ORDER BY e.at, e.id LIMIT 101""",
    "SELECT count(*) FROM letters_sightingevent WHERE at >= %(since)s",
    *(
        f"SELECT * FROM {table} WHERE {at} >= %(since)s ORDER BY {at}, id LIMIT 101"
        for table, at in (
            ("people_merge", "created_at"),
            ("people_merge", "undone_at"),
            ("people_split", "created_at"),
            ("people_personrename", "created_at"),
        )
    ),
    *(
        f"SELECT count(*) FROM {table} WHERE {at} >= %(since)s"
        for table, at in (
            ("people_merge", "created_at"),
            ("people_merge", "undone_at"),
            ("people_split", "created_at"),
            ("people_personrename", "created_at"),
        )
    ),
]
_AS_OF_ROWS = """
        FROM (
            SELECT s.*,
                   (SELECT c.to_status FROM letters_signaturestatuschange c
                    WHERE c.signature_id = s.id AND c.changed_at <= %(at)s
                    ORDER BY c.changed_at DESC, c.id DESC LIMIT 1) AS status_then,
                   (SELECT g.id FROM letters_sighting g WHERE g.signature_id = s.id
                      AND g.first_seen_at <= %(at)s
                      AND COALESCE((SELECT e.kind FROM letters_sightingevent e
                                    WHERE e.sighting_id = g.id AND e.kind IN ('gone', 'back')
                                      AND e.at <= %(at)s ORDER BY e.at DESC, e.id DESC LIMIT 1),
                                   'back') = 'back'
                    LIMIT 1) AS listed_then
            FROM letters_signature s
            WHERE s.letter_id = %(letter)s AND s.merged_into_id IS NULL
              AND s.status <> 'removed'
        ) s
        JOIN people_person p ON p.id = s.person_id
        WHERE s.status_then IS NOT NULL AND s.listed_then IS NOT NULL"""
AS_OF_SQL = [
    f"SELECT count(*) {_AS_OF_ROWS}",
    f"""SELECT s.id, s.person_id, p.display_name, s.title, s.affiliation, s.first_seen_at,
               s.last_seen_at, s.status_then {_AS_OF_ROWS}
        ORDER BY s.first_seen_at, s.id LIMIT 101""",
]


def _floor_overlap(conn, slug: str) -> None:
    (letter,) = conn.execute(LETTER_ID_SQL, {"slug": slug}).fetchone()
    shared = conn.execute(OVERLAP_SQL[0], {"id": letter}).fetchall()
    ids = [letter, *(row[0] for row in shared)]
    conn.execute(OVERLAP_SQL[1], {"ids": ids}).fetchall()
    conn.execute(OVERLAP_SQL[2], {"ids": ids}).fetchall()


def _floor_shared(conn, pair: tuple[str, str]) -> None:
    a, b = (conn.execute(LETTER_ID_SQL, {"slug": slug}).fetchone()[0] for slug in pair)
    conn.execute(SHARED_SQL[0], {"a": a, "b": b}).fetchone()
    people = [row[0] for row in conn.execute(SHARED_SQL[1], {"a": a, "b": b})]
    conn.execute(SIGNATURES_OF_SQL, {"people": people, "letters": [a, b]}).fetchall()


def _floor_timeline(conn, person_id: int) -> None:
    for sql in TIMELINE_SQL:
        conn.execute(sql, {"id": person_id}).fetchall()


def _floor_rollup(conn, organization_id: int) -> None:
    orgs = [row[0] for row in conn.execute(ROLLUP_SQL[0], {"id": organization_id})]
    conn.execute(ROLLUP_SQL[1], {"orgs": orgs}).fetchone()
    people = [row[0] for row in conn.execute(ROLLUP_SQL[2], {"orgs": orgs})]
    conn.execute(SIGNATURES_OF_SQL, {"people": people, "letters": None}).fetchall()
    conn.execute(ROLLUP_SQL[3], {"orgs": orgs}).fetchall()


def _floor_changes(conn, since: str) -> None:
    for sql in CHANGES_SQL:
        conn.execute(sql, {"since": since}).fetchall()


def _floor_as_of(conn, slug_at: tuple[str, str]) -> None:
    slug, at = slug_at
    (letter,) = conn.execute(LETTER_ID_SQL, {"slug": slug}).fetchone()
    conn.execute(AS_OF_SQL[0], {"letter": letter, "at": at}).fetchone()
    rows = conn.execute(AS_OF_SQL[1], {"letter": letter, "at": at}).fetchall()
    conn.execute(PAGE_SQL[1], {"ids": [row[0] for row in rows[:100]]}).fetchall()


FLOORS = {
    "page": _floor_page,
    "person": _floor_person,
    "search": _floor_search,
    "overlap": _floor_overlap,
    "shared": _floor_shared,
    "timeline": _floor_timeline,
    "rollup": _floor_rollup,
    "changes": _floor_changes,
    "as_of": _floor_as_of,
}
# The journalists' questions are measured with one client: each is one
# person's question, not a page many readers load at once.
QUESTIONS = ("overlap", "shared", "timeline", "rollup", "changes", "as_of")


def _floor_worker(kind: str, params: list, seconds: float, seed: int, out) -> None:
    rng = random.Random(seed)
    latencies = []
    with psycopg.connect(DSN, autocommit=True) as conn:
        conn.execute("SELECT set_config('pg_trgm.word_similarity_threshold', '0.45', false)")
        run = FLOORS[kind]
        deadline = time.perf_counter() + seconds
        while time.perf_counter() < deadline:
            param = rng.choice(params)
            started = time.perf_counter()
            run(conn, param)
            latencies.append(time.perf_counter() - started)
    out.put(latencies)


def floor(kind: str, params: list, *, seconds: float, clients: int) -> dict:
    queue: multiprocessing.Queue = multiprocessing.Queue()
    workers = [
        multiprocessing.Process(target=_floor_worker, args=(kind, params, seconds, SEED + n, queue))
        for n in range(clients)
    ]
    for worker in workers:
        worker.start()
    latencies = [value for _ in workers for value in queue.get()]
    for worker in workers:
        worker.join()
    return _summary(latencies, seconds)


def floor_export() -> dict:
    with psycopg.connect(DSN, autocommit=True) as conn, conn.cursor() as cursor:
        cursor.execute("SET jit = off")  # as the API does for exports
        started = time.perf_counter()
        size = rows = 0
        with cursor.copy(EXPORT_SQL) as copy:
            for block in copy:
                size += len(block)
                rows += bytes(block).count(b"\n")
        elapsed = time.perf_counter() - started
    return {"seconds": elapsed, "rows": rows - 1, "bytes": size}


def _medians(runs: list[dict]) -> dict:
    return {key: statistics.median(run[key] for run in runs) for key in runs[0]}


def _summary(latencies: list[float], seconds: float) -> dict:
    latencies.sort()
    return {
        "requests": len(latencies),
        "rps": len(latencies) / seconds,
        "p50_ms": 1000 * latencies[len(latencies) // 2],
        "p95_ms": 1000 * latencies[int(len(latencies) * 0.95)],
    }


# --- the API through gunicorn and wrk -------------------------------------------

WRK_SCRIPT = """
local paths = {%(paths)s}
local n = 0
local errors = 0
math.randomseed(%(seed)d)
request = function()
  n = n + 1
  return wrk.format("GET", paths[math.random(#paths)])
end
response = function(status, headers, body)
  if status ~= 200 then errors = errors + 1 end
end
done = function(summary, latency, requests)
  io.write(string.format('RESULT {"requests": %%d, "seconds": %%f, "p50_us": %%d, ' ..
    '"p95_us": %%d, "p99_us": %%d, "socket_errors": %%d}\\n',
    summary.requests, summary.duration / 1e6, latency:percentile(50),
    latency:percentile(95), latency:percentile(99),
    summary.errors.connect + summary.errors.read + summary.errors.write +
    summary.errors.status + summary.errors.timeout))
end
"""


def wrk(base: str, paths: list[str], *, seconds: float, connections: int) -> dict:
    script = WRK_SCRIPT % {
        "paths": ", ".join(json.dumps(path) for path in paths),
        "seed": SEED,
    }
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as handle:
        handle.write(script)
    threads = min(2, connections)
    output = subprocess.run(
        [
            "wrk",
            f"-t{threads}",
            f"-c{connections}",
            f"-d{round(seconds)}s",
            "--timeout",
            "10s",
            "-s",
            handle.name,
            base,
        ],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    os.unlink(handle.name)
    data = json.loads(re.search(r"RESULT (\{.*\})", output).group(1))
    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    return {
        "requests": data["requests"],
        "rps": data["requests"] / data["seconds"],
        "p50_ms": data["p50_us"] / 1000,
        "p95_ms": data["p95_us"] / 1000,
        "p99_ms": data["p99_us"] / 1000,
        "errors": data["socket_errors"] + (int(non_2xx.group(1)) if non_2xx else 0),
    }


def _rss_kb(pid: int) -> int:
    try:
        text = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return 0
    match = re.search(r"VmRSS:\s+(\d+)", text)
    return int(match.group(1)) if match else 0


def api_export(base: str, worker_pids: list[int]) -> dict:
    peak = {pid: _rss_kb(pid) for pid in worker_pids}
    before = dict(peak)
    stop = threading.Event()

    def watch() -> None:
        while not stop.is_set():
            for pid in worker_pids:
                peak[pid] = max(peak[pid], _rss_kb(pid))
            time.sleep(0.02)

    watcher = threading.Thread(target=watch)
    watcher.start()
    started = time.perf_counter()
    rows = size = 0
    with urllib.request.urlopen(  # noqa: S310 - loopback
        f"{base}/api/letters/bench-big-letter/signatures/?format=csv", timeout=120
    ) as response:
        while block := response.read(1 << 16):
            size += len(block)
            rows += block.count(b"\n")
    elapsed = time.perf_counter() - started
    stop.set()
    watcher.join()
    growth = max(peak[pid] - before[pid] for pid in worker_pids)
    return {"seconds": elapsed, "rows": rows - 1, "bytes": size, "rss_growth_kb": growth}


def _children(pid: int) -> list[int]:
    path = Path(f"/proc/{pid}/task/{pid}/children")
    return [int(child) for child in path.read_text().split()] if path.exists() else []


def start_server(port: int, workers: int, threads: int) -> subprocess.Popen:
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "tracker.settings.production",
        "SECRET_KEY": "bench-secret-key-not-for-production-" + "0123456789abcdef" * 4,
        "DATABASE_URL": f"{SERVER.replace('postgresql', 'postgres')}/{DATABASE}",
        "REDIS_URL": REDIS_URL,
        "ALLOWED_HOSTS": "127.0.0.1,localhost",
        "SECURE_SSL_REDIRECT": "0",
        "LOG_LEVEL": "WARNING",
        "PYTHONWARNINGS": "ignore::UserWarning",
        # The load comes from one address far above any client's fair share.
        "API_THROTTLE_ANON": "100000000/minute",
        "API_THROTTLE_USER": "100000000/minute",
    }
    command = [
        str(Path(sys.executable).parent / "gunicorn"),
        "tracker.wsgi:application",
        "--bind",
        f"127.0.0.1:{port}",
        "--workers",
        str(workers),
        "--worker-class",
        "gthread" if threads > 1 else "sync",
        "--threads",
        str(threads),
        "--config",
        "/dev/null",
        "--log-level",
        "warning",
    ]
    server = subprocess.Popen(command, cwd=ROOT, env=env)
    deadline = time.monotonic() + 120  # a loaded machine boots workers slowly
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/", timeout=2):  # noqa: S310
                return server
        except OSError:
            time.sleep(0.3)
    server.terminate()
    raise SystemExit("gunicorn did not answer within 120 seconds")


# --- the run ------------------------------------------------------------------------


def prepare() -> None:
    with psycopg.connect(f"{SERVER}/postgres", autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [DATABASE]).fetchone()
        if not exists:
            conn.execute(f"CREATE DATABASE {DATABASE}")
    env = {
        **os.environ,
        "DATABASE_URL": f"postgres://postgres@127.0.0.1:5432/{DATABASE}",
        "SECRET_KEY": "bench",
        "DJANGO_SETTINGS_MODULE": "tracker.settings.local",
    }
    subprocess.run(
        [sys.executable, "manage.py", "migrate", "--verbosity", "0"], cwd=ROOT, env=env, check=True
    )
    fill(DSN)


def samples() -> dict:
    rng = random.Random(SEED)
    with psycopg.connect(DSN, autocommit=True) as conn:
        slugs = [row[0] for row in conn.execute("SELECT slug FROM letters_letter WHERE id > 1")]
        people = [
            row[0]
            for row in conn.execute("SELECT id FROM people_person ORDER BY random() LIMIT 2000")
        ]
        names = [
            row[0]
            for row in conn.execute(
                "SELECT family_name FROM people_person ORDER BY random() LIMIT 300"
            )
        ]
    queries = []
    for name in names:
        cut = rng.randrange(1, len(name) - 1)
        typo = name[:cut] + name[cut + 1 :]  # one letter dropped: "gylenhall"
        queries.append(
            rng.choice([typo, name.lower(), f"{rng.choice(['ava', 'maggie', 'paul'])} {typo}"])
        )
    # Times within the signatures' history (2025-01-01 to about 2025-02-13).
    times = [
        (
            datetime(2025, 1, 1, tzinfo=UTC)
            + rng.random() * (datetime(2025, 2, 13, tzinfo=UTC) - datetime(2025, 1, 1, tzinfo=UTC))
        ).strftime("%Y-%m-%dT%H:%M:%SZ")
        for _ in range(300)
    ]
    big = ["bench-big-letter", "bench-big-letter-2"]
    return {
        "slugs": rng.sample(slugs, 300),
        "people": people,
        "queries": queries,
        "big": big,
        "pairs": [tuple(big), tuple(reversed(big))],
        "organizations": rng.sample(range(1, ORGANIZATIONS + 1), 300),
        "times": times,
        "as_of": [(rng.choice([*big, *slugs[:50]]), at) for at in times],
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=float, default=10, help="seconds per measurement")
    parser.add_argument("--connections", type=int, default=8, help="concurrent clients")
    parser.add_argument("--workers", type=int, default=4, help="gunicorn worker processes")
    parser.add_argument("--threads", type=int, default=1, help="threads per gunicorn worker")
    parser.add_argument("--repeat", type=int, default=3, help="runs of each measurement")
    parser.add_argument(
        "--only",
        default="",
        help="comma-separated measurements to run (page, person, search, overlap, shared, "
        "timeline, rollup, changes, as_of, export); all by default",
    )
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is not installed (Debian: apt-get install wrk).")

    prepare()
    data = samples()
    port = free_port()
    server = start_server(port, args.workers, args.threads)
    base = f"http://127.0.0.1:{port}"
    results: dict = {
        "date": datetime.now(UTC).date().isoformat(),
        "cores": os.cpu_count(),
        "connections": args.connections,
        "workers": args.workers,
        "threads": args.threads,
        "duration": args.duration,
        "repeat": args.repeat,
    }
    scenarios = {
        "page": (
            [f"/api/letters/{slug}/signatures/?page_size=100" for slug in data["slugs"]],
            data["slugs"],
        ),
        "person": ([f"/api/people/{pid}/" for pid in data["people"]], data["people"]),
        "search": (
            [f"/api/people/?search={urllib.parse.quote(q)}" for q in data["queries"]],
            data["queries"],
        ),
        "overlap": ([f"/api/letters/{slug}/overlap/" for slug in data["big"]], data["big"]),
        "shared": (
            [f"/api/letters/{a}/overlap/?with={b}" for a, b in data["pairs"]],
            data["pairs"],
        ),
        "timeline": ([f"/api/people/{pid}/timeline/" for pid in data["people"]], data["people"]),
        "rollup": (
            [f"/api/organizations/{oid}/signatories/" for oid in data["organizations"]],
            data["organizations"],
        ),
        "changes": ([f"/api/changes/?since={at}" for at in data["times"]], data["times"]),
        "as_of": (
            [
                f"/api/letters/{slug}/signatures/?page_size=100&as_of={at}"
                for slug, at in data["as_of"]
            ],
            data["as_of"],
        ),
    }
    if args.only:
        scenarios = {kind: scenarios[kind] for kind in args.only.split(",") if kind in scenarios}
    try:
        for paths, _ in scenarios.values():  # warm every worker's connection and caches
            wrk(base, paths, seconds=2, connections=args.connections)
        for kind, (paths, params) in scenarios.items():
            for clients in (1,) if kind in QUESTIONS else (1, args.connections):
                # API and floor alternate, so that both see the same neighbours on
                # a shared machine; each figure is the median of the repeats.
                runs = []
                for _ in range(args.repeat):
                    api = wrk(base, paths, seconds=args.duration, connections=clients)
                    sql = floor(kind, params, seconds=args.duration, clients=clients)
                    runs.append({"api": api, "floor": sql, "load": os.getloadavg()[0]})
                api, sql = _medians([r["api"] for r in runs]), _medians([r["floor"] for r in runs])
                load = statistics.median(r["load"] for r in runs)
                results[f"{kind}_c{clients}"] = {
                    "api": api,
                    "floor": sql,
                    "load": load,
                    "runs": runs,
                }
                print(
                    f"{kind:7} c={clients:<2} API p50 {api['p50_ms']:7.2f} ms  p95 "
                    f"{api['p95_ms']:7.2f} ms  {api['rps']:7.1f} req/s  errors {api['errors']} | "
                    f"floor p50 {sql['p50_ms']:6.2f} ms  p95 {sql['p95_ms']:6.2f} ms  "
                    f"{sql['rps']:7.1f} req/s | p50 x{api['p50_ms'] / sql['p50_ms']:.1f}  "
                    f"rps x{sql['rps'] / api['rps']:.1f} | load {load:.1f}",
                    flush=True,
                )
        if args.only and "export" not in args.only.split(","):
            return _write(results)
        pids = _children(server.pid)
        exports = [api_export(base, pids) for _ in range(3)]
        floors = [floor_export() for _ in range(3)]
        export = sorted(exports, key=lambda run: run["seconds"])[1]
        floor_run = sorted(floors, key=lambda run: run["seconds"])[1]
        results["export"] = {"api": export, "floor": floor_run, "runs": exports}
        print(
            f"export  {export['rows']:,} rows in {export['seconds']:.2f} s = "
            f"{export['rows'] / export['seconds']:,.0f} rows/s, worker RSS growth "
            f"{max(run['rss_growth_kb'] for run in exports) / 1024:.1f} MiB | floor (COPY) "
            f"{floor_run['seconds']:.2f} s = "
            f"{floor_run['rows'] / floor_run['seconds']:,.0f} rows/s | "
            f"x{export['seconds'] / floor_run['seconds']:.1f}",
            flush=True,
        )
    finally:
        server.terminate()
        server.wait(30)
    return _write(results)


def _write(results: dict) -> int:
    out = ROOT / "bench" / "api_results.json"
    previous = json.loads(out.read_text()) if out.exists() else {}
    out.write_text(json.dumps({**previous, **results}, indent=2) + "\n")
    print(f"figures written to {out.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
