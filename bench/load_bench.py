"""Load: readers and writers at once against gunicorn over real PostgreSQL.

    .venv/bin/python bench/load_bench.py [--seconds 60] [--readers 50] [--writers 10]

Creates (again) the PostgreSQL database ``bench_load`` with the demo letters and a
few thousand signatures imported through the sync pipeline, serves the API with
gunicorn on loopback (deploy/gunicorn.conf.py, its default number of workers),
then for ``--seconds`` runs ``--readers`` clients reading the public endpoints
(letters, a letter's signatures with filters and search, every signature,
people, organizations) and ``--writers`` editors posting signatures to the same
letters for the same people, by name and by person id, so that they collide.

Prints requests served, p50/p95/p99 latency of reads and writes, answers by
status, and the integrity checks: no 5xx, one signature per letter and person,
one person per name written, and every answer about one (letter, name) naming
the same signature. Exits 1 when a check fails.

The clients all come from 127.0.0.1, so the per-address throttles are lifted
for the run (API_THROTTLE_ANON and API_THROTTLE_USER); nothing else differs
from the deployed configuration.

The scenario itself is tracker/testing/load.py, which
tests/reliability/test_load.py runs in short.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import psycopg

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from people.matching.normalize import parse_name  # noqa: E402
from tracker.testing.load import (  # noqa: E402
    fill,
    gunicorn,
    integrity_problems,
    run_load,
    service_env,
    summary,
)

SERVER = "postgres://postgres@127.0.0.1:5432"
DATABASE = "bench_load"
REDIS_URL = "redis://127.0.0.1:6379/12"


def recreate_database(name: str) -> str:
    with psycopg.connect(f"{SERVER}/postgres", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')
    return f"{SERVER}/{name}"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--readers", type=int, default=50)
    parser.add_argument("--writers", type=int, default=10)
    parser.add_argument("--signatures", type=int, default=4000)
    parser.add_argument("--web-workers", type=int, default=0, help="Default: the config's.")
    args = parser.parse_args()

    database_url = recreate_database(DATABASE)
    env = service_env(database_url, REDIS_URL)
    started = time.perf_counter()
    setup = fill(env, signatures=args.signatures, writers=args.writers, migrate=True)
    print(
        f"Filled {DATABASE} in {time.perf_counter() - started:.0f} s: "
        f"{len(setup.letters)} letters, {args.signatures} imported signatures.",
        flush=True,
    )
    with gunicorn(env, args.web_workers or None, keep_log=True) as url:
        load_before = os.getloadavg()
        result = run_load(
            url, setup, seconds=args.seconds, readers=args.readers, writers=args.writers
        )
        load_after = os.getloadavg()
    figures = summary(result)
    figures["load_average_before"] = [round(value, 2) for value in load_before]
    figures["load_average_after"] = [round(value, 2) for value in load_after]
    with psycopg.connect(database_url) as conn:
        figures["signatures_after"] = conn.execute(
            "SELECT count(*) FROM letters_signature"
        ).fetchone()[0]
    problems = integrity_problems(database_url, result, lambda name: parse_name(name).key)
    figures["problems"] = problems
    print(json.dumps(figures, indent=2, ensure_ascii=False))
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
