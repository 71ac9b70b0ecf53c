"""The API's CPU per request, measured in one process, against the same reads in SQL.

    .venv/bin/python bench/api_inprocess.py [--only person,page,search] [--requests 300]
        [--urls urls.json] [--capture answers.json | --compare answers.json]
        [--profile person --sort tottime]

Each request goes through Django's WSGI handler as gunicorn hands it over
(production settings, every middleware, Redis throttling on with the rate
raised), against the database ``api_bench.py`` fills (``$BENCH_API_DATABASE``).
The figure is the median ``time.process_time()`` of a request after 30 warm-up
requests; the floor is ``api_bench.py``'s hand-written SQL through psycopg in
the same process (median wall time: its CPU is mostly PostgreSQL's).

``--urls`` keeps the sampled addresses in a file (written when absent), so that
two trees are measured on the same requests; ``--capture`` writes each answer's
status, headers (all but ``X-Request-ID``) and body hash, and ``--compare``
checks them against a capture made by other code. ``--profile`` prints where
one kind's requests spend their CPU (cProfile with a CPU clock).
"""

from __future__ import annotations

import argparse
import cProfile
import hashlib
import io
import json
import os
import pstats
import statistics
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench import api_bench  # noqa: E402

KINDS = ("person", "page", "search")
WARM_UP = 30


def _environment() -> None:
    os.environ.update(
        {
            "DJANGO_SETTINGS_MODULE": "tracker.settings.production",
            "SECRET_KEY": "bench-secret-key-not-for-production-" + "0123456789abcdef" * 4,
            "DATABASE_URL": f"postgres://postgres@127.0.0.1:5432/{api_bench.DATABASE}",
            "REDIS_URL": api_bench.REDIS_URL,
            "ALLOWED_HOSTS": "127.0.0.1,localhost",
            "SECURE_SSL_REDIRECT": "0",
            "LOG_LEVEL": "WARNING",
            "API_THROTTLE_ANON": "100000000/minute",
            "API_THROTTLE_USER": "100000000/minute",
        }
    )


def _urls(path: Path | None, count: int) -> dict[str, list[tuple[str, object]]]:
    """Addresses with the floor's parameter for each, per kind."""
    if path is not None and path.exists():
        return {
            kind: [tuple(pair) for pair in pairs]
            for kind, pairs in json.loads(path.read_text()).items()
        }
    data = api_bench.samples()
    urls = {
        "person": [(f"/api/people/{pid}/", pid) for pid in data["people"][:count]],
        "page": [
            (f"/api/letters/{slug}/signatures/?page_size=100", slug) for slug in data["slugs"]
        ],
        "search": [
            (f"/api/people/?search={api_bench.urllib.parse.quote(q)}", q) for q in data["queries"]
        ],
    }
    if path is not None:
        path.write_text(json.dumps(urls, indent=1) + "\n")
    return urls


class Caller:
    """Requests made through the WSGI handler, as a server would make them."""

    def __init__(self) -> None:
        from django.core.wsgi import get_wsgi_application

        self.application = get_wsgi_application()

    def get(self, url: str) -> tuple[str, list[tuple[str, str]], bytes]:
        parts = urlsplit(url)
        environ = {
            "REQUEST_METHOD": "GET",
            "PATH_INFO": parts.path,
            "QUERY_STRING": parts.query,
            "SERVER_NAME": "127.0.0.1",
            "SERVER_PORT": "8000",
            "SERVER_PROTOCOL": "HTTP/1.1",
            "REMOTE_ADDR": "127.0.0.1",
            "HTTP_HOST": "127.0.0.1:8000",
            "HTTP_ACCEPT": "*/*",
            "HTTP_USER_AGENT": "wrk",
            "wsgi.input": io.BytesIO(),
            "wsgi.errors": sys.stderr,
            "wsgi.url_scheme": "http",
            "wsgi.version": (1, 0),
            "wsgi.multithread": False,
            "wsgi.multiprocess": True,
            "wsgi.run_once": False,
        }
        answer: dict = {}

        def start_response(status: str, headers: list, exc_info=None) -> None:
            answer["status"], answer["headers"] = status, headers

        result = self.application(environ, start_response)
        try:
            body = b"".join(result)
        finally:
            if hasattr(result, "close"):
                result.close()
        return answer["status"], answer["headers"], body


def _answer(status: str, headers: list, body: bytes) -> dict:
    kept = sorted([name, value] for name, value in headers if name.lower() != "x-request-id")
    return {"status": status, "headers": kept, "sha256": hashlib.sha256(body).hexdigest()}


def _cpu(caller: Caller, urls: list[str]) -> list[float]:
    for url in urls[:WARM_UP]:
        caller.get(url)
    spent = []
    for url in urls:
        started = time.process_time()
        status, _, _ = caller.get(url)
        spent.append(time.process_time() - started)
        if not status.startswith("200"):
            raise SystemExit(f"{url}: {status}")
    return spent


def _floor(kind: str, params: list) -> list[float]:
    import psycopg

    spent = []
    with psycopg.connect(api_bench.DSN, autocommit=True) as conn:
        conn.execute("SELECT set_config('pg_trgm.word_similarity_threshold', '0.45', false)")
        run = api_bench.FLOORS[kind]
        for param in params[:WARM_UP]:
            run(conn, param)
        for param in params:
            started = time.perf_counter()
            run(conn, param)
            spent.append(time.perf_counter() - started)
    return spent


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", default=",".join(KINDS))
    parser.add_argument("--requests", type=int, default=300, help="person details sampled")
    parser.add_argument("--urls", type=Path, help="keep the sampled addresses in this file")
    parser.add_argument("--capture", type=Path, help="write each answer's hash to this file")
    parser.add_argument("--compare", type=Path, help="compare each answer with this capture")
    parser.add_argument("--profile", choices=KINDS, help="profile this kind's requests")
    parser.add_argument("--sort", default="tottime", help="cProfile sort key")
    parser.add_argument("--no-floor", action="store_true", help="leave the SQL floor out")
    args = parser.parse_args()

    _environment()
    import django

    django.setup()
    urls = _urls(args.urls, args.requests)
    kinds = [kind for kind in args.only.split(",") if kind in urls]
    caller = Caller()

    if args.capture or args.compare:
        answers = {url: _answer(*caller.get(url)) for kind in kinds for url, _ in urls[kind]}
        if args.capture:
            args.capture.write_text(json.dumps(answers, indent=1) + "\n")
            print(f"{len(answers)} answers written to {args.capture}")
            return 0
        expected = json.loads(args.compare.read_text())
        differ = [url for url, answer in answers.items() if expected.get(url) != answer]
        print(f"{len(answers) - len(differ)} of {len(answers)} answers identical")
        for url in differ[:20]:
            print("differs:", url, expected.get(url), answers[url])
        return 1 if differ else 0

    if args.profile:
        paths = [url for url, _ in urls[args.profile]]
        _cpu(caller, paths[:WARM_UP])
        profile = cProfile.Profile(time.process_time)
        profile.enable()
        for url in paths:
            caller.get(url)
        profile.disable()
        stats = pstats.Stats(profile)
        stats.sort_stats(args.sort).print_stats(45)
        return 0

    for kind in kinds:
        paths = [url for url, _ in urls[kind]]
        cpu = statistics.median(_cpu(caller, paths)) * 1000
        line = f"{kind:7} {len(paths)} requests: CPU median {cpu:6.2f} ms"
        if not args.no_floor:
            wall = statistics.median(_floor(kind, [param for _, param in urls[kind]])) * 1000
            line += f" | floor wall median {wall:6.2f} ms | x{cpu / wall:.2f}"
        print(line, flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
