"""The load scenario shared by tests/reliability/test_load.py and
bench/load_bench.py: readers and writers at once against the API under gunicorn
over real PostgreSQL.

``fill`` puts the demo letters, a few thousand signatures imported through the
sync pipeline and editor accounts in a database, through ``manage.py``;
``gunicorn`` serves the API on loopback with deploy/gunicorn.conf.py;
``run_load`` runs reading and writing clients over HTTP for a while, the writers
posting the same people to the same letters, by name (spelled in two ways) and
by person id, so that they collide; ``integrity_problems`` reads what went
wrong from the answers and the database, and ``summary`` gives the figures.

They run from a checkout: they use its manage.py and deploy/ folder. The
per-address throttles are lifted (every client comes from 127.0.0.1).
"""

from __future__ import annotations

import csv
import io
import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote

import httpx
import psycopg

from tracker.testing.servers import free_port, wait_for_port

ROOT = Path(__file__).resolve().parents[2]
SEED = 20261129
DEMO_LETTERS = ["hollywood-ai-copyright-ostp-2025", "mipcom-2025-kling-ai-opinion"]
WRITER_NAMES = [
    # (as most writers send it, as some send it): the same person either way.
    ("Ingrid Halvorsen", "ingrid halvorsen"),
    ("José Álvarez Ruiz", "Jose Alvarez Ruiz"),
    ("Mariam Haddad", "MARIAM HADDAD"),
    ("Tomasz Wieczorek", "Tomasz  Wieczorek"),
    ("Aoife Ní Bhraonáin", "Aoife Ni Bhraonain"),
    ("Kwame Mensah-Boateng", "Kwame Mensah-Boateng"),
    ("Léa Marchetti", "Lea Marchetti"),
    ("Rafael Quintanilla", "rafael quintanilla"),
    ("Sun-hee Park", "Sun-hee PARK"),
    ("Oluwaseun Adeyemi", "Oluwaseun Adeyemi"),
    ("Dagny Lindqvist", "dagny lindqvist"),
    ("Emeka Okonkwo-Reyes", "Emeka Okonkwo-Reyes"),
    ("Björk Sigurðardóttir Load", "Bjork Sigurdardottir Load"),
    ("Hiroshi Takemura", "HIROSHI TAKEMURA"),
    ("Anneliese Vogt", "Anneliese Vogt"),
    ("Catalina Restrepo", "catalina restrepo"),
]
_GIVEN = [
    "Amara", "Bruno", "Chiara", "Dmitri", "Elif", "Farid", "Greta", "Hugo", "Imani", "Jonas",
    "Kenji", "Lucia", "Mateo", "Nadia", "Omar", "Priya", "Quentin", "Rosa", "Stellan", "Tariq",
    "Ursula", "Viktor", "Wanjiru", "Xavier", "Yara", "Zoltan", "Ines", "Pavel", "Selin", "Theo",
]  # fmt: skip
_FAMILY = [
    "Abbasi", "Bergstrom", "Castellanos", "Dubois", "Eriksen", "Fontaine", "Grünewald",
    "Hakimi", "Ivanova", "Jovanovic", "Kowalczyk", "Lindahl", "Moreau", "Nakamura", "Oyelaran",
    "Petrosyan", "Quiroga", "Rasmussen", "Szabo", "Takahashi", "Underwood", "Valdivia",
    "Whitfield", "Yilmaz", "Zielinski", "Achterberg", "Bianchi", "Cardoso", "Delacroix",
    "Esposito", "Falk", "Gallagher", "Horvath", "Iglesias", "Janssen", "Kaur", "Lemaire",
    "Mbeki", "Novak", "Ortega",
]  # fmt: skip
_STUDIOS = ["Northlight Pictures", "Harbour Films", "Blue Finch Records", "Atlas Sound"]


@dataclass
class Setup:
    letters: list[str]
    people: list[int]
    organizations: list[int]
    tokens: list[str]
    searches: list[str]


@dataclass
class Outcome:
    kind: str  # "read" or "write"
    path: str
    status: int
    seconds: float
    body: dict | None = None
    sent: dict | None = None


@dataclass
class LoadResult:
    seconds: float
    outcomes: list[Outcome] = field(default_factory=list)

    def of(self, kind: str) -> list[Outcome]:
        return [outcome for outcome in self.outcomes if outcome.kind == kind]

    def statuses(self, kind: str) -> Counter:
        return Counter(outcome.status for outcome in self.of(kind))

    def server_errors(self) -> list[Outcome]:
        return [outcome for outcome in self.outcomes if outcome.status >= 500]


def percentile(values: list[float], fraction: float) -> float:
    """Nearest-rank percentile of ``values`` (0 when empty)."""
    if not values:
        return 0.0
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(fraction * len(ordered) + 0.5) - 1))
    return ordered[index]


# --- the data -------------------------------------------------------------------


def signatories_csv(count: int, seed: int) -> bytes:
    """``count`` distinct people, written the way organisers' sheets write them."""
    rng = random.Random(seed)
    pairs = [(given, family) for family in _FAMILY for given in _GIVEN]
    rng.shuffle(pairs)
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["name", "title", "affiliation"])
    for number in range(count):
        given, family = pairs[number % len(pairs)]
        if number >= len(pairs):
            family = f"{family}-{_FAMILY[number // len(pairs) % len(_FAMILY)]}"
        writer.writerow([f"{given} {family}", rng.choice(["Actor", "Composer", "", "Writer"]),
                         rng.choice([*_STUDIOS, ""])])  # fmt: skip
    return out.getvalue().encode()


_SETUP_SCRIPT = """
import json
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from rest_framework.authtoken.models import Token
from letters.models import Letter
from people.models import Organization, Person

tokens = []
for number in range(%(writers)d):
    user, _ = get_user_model().objects.get_or_create(
        username=f"load-editor-{number}", defaults={"is_staff": True}
    )
    user.user_permissions.set(
        Permission.objects.filter(content_type__app_label__in=["letters", "people"])
    )
    tokens.append(Token.objects.get_or_create(user=user)[0].key)
people = list(
    Person.objects.filter(merged_into__isnull=True).order_by("id").values_list("id", flat=True)
)
print(json.dumps({
    "letters": list(Letter.objects.order_by("id").values_list("slug", flat=True)),
    "people": people,
    "organizations": list(Organization.objects.order_by("id").values_list("id", flat=True)),
    "tokens": tokens,
}))
"""


def service_env(database_url: str, redis_url: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST")}
    env.update(
        DATABASE_URL=database_url,
        REDIS_URL=redis_url,
        DJANGO_SETTINGS_MODULE="tracker.settings.local",
        SECRET_KEY="load-secret-key",  # noqa: S106 - a throwaway server's key
        LOG_FORMAT="json",
        LOG_LEVEL="WARNING",
        WEB_ACCESS_LOG="/dev/null",
        API_THROTTLE_ANON="100000000/minute",
        API_THROTTLE_USER="100000000/minute",
    )
    return env


def manage(*args: str, env: dict[str, str], stdin: bytes | None = None) -> str:
    done = subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=env,
        input=stdin,
        capture_output=True,
        timeout=600,
        check=False,
    )
    if done.returncode:
        raise RuntimeError(f"manage.py {args[0]} failed:\n{done.stderr.decode()[-3000:]}")
    return done.stdout.decode()


def fill(env: dict[str, str], *, signatures: int, writers: int, migrate: bool) -> Setup:
    """Demo letters and ``signatures`` more signatures through the sync pipeline,
    ``writers`` editor accounts with tokens."""
    if migrate:
        manage("migrate", "--noinput", env=env)
    manage("load_demo", env=env)
    per_letter = signatures // len(DEMO_LETTERS)
    with tempfile.TemporaryDirectory(prefix="tracker-load-") as folder:
        for number, slug in enumerate(DEMO_LETTERS):
            path = Path(folder) / f"{slug}.csv"
            # Overlapping halves: many people signed both letters.
            path.write_bytes(signatories_csv(per_letter, SEED + number % 2))
            manage("import_signatures", slug, str(path), "--source", "Organisers' sheet", env=env)
    output = manage("shell", "-c", _SETUP_SCRIPT % {"writers": writers}, env=env)
    data = json.loads(output.strip().splitlines()[-1])
    rng = random.Random(SEED)
    searches = ["gyllenhaal", "Duvernay", "blanchet", "mccartney", "Moreau", "nakamura",
                "Ivanova", "bergstrom", "Kowalczyk", "amara", "Quiroga"]  # fmt: skip
    return Setup(
        letters=data["letters"],
        people=rng.sample(data["people"], min(400, len(data["people"]))),
        organizations=data["organizations"],
        tokens=data["tokens"],
        searches=searches,
    )


@contextmanager
def gunicorn(
    env: dict[str, str], workers: int | None = None, keep_log: bool = False
) -> Iterator[str]:
    """The API under gunicorn with the production config file, on loopback;
    its log is kept, and its path printed, with ``keep_log``."""
    port = free_port()
    run_env = {**env, "WEB_BIND": f"127.0.0.1:{port}"}
    if workers:
        run_env["WEB_CONCURRENCY"] = str(workers)
    handle, log_name = tempfile.mkstemp(prefix="tracker-load-web-", suffix=".log")
    with os.fdopen(handle, "wb") as log:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "gunicorn",
                "tracker.wsgi",
                "--config",
                "deploy/gunicorn.conf.py",
            ],  # fmt: skip
            cwd=ROOT,
            env=run_env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        try:
            wait_for_port(port, 60)
        except TimeoutError:
            raise RuntimeError(Path(log_name).read_text()[-3000:]) from None
        url = f"http://127.0.0.1:{port}"
        # A worker's first request loads the application: on a busy machine
        # that alone can take tens of seconds.
        deadline = time.monotonic() + 180
        while httpx.get(f"{url}/api/letters/", timeout=120).status_code != 200:
            assert time.monotonic() < deadline, Path(log_name).read_text()[-3000:]
            time.sleep(0.5)
        yield url
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(30)
        if keep_log:
            print(f"Server log: {log_name}", file=sys.stderr)
        else:
            Path(log_name).unlink(missing_ok=True)


# --- the clients ------------------------------------------------------------------


def read_paths(setup: Setup, rng: random.Random) -> str:
    letter = rng.choice(setup.letters)
    choice = rng.random()
    if choice < 0.10:
        return "/api/letters/"
    if choice < 0.22:
        return f"/api/letters/{letter}/"
    if choice < 0.40:
        return f"/api/letters/{letter}/signatures/"
    if choice < 0.50:
        status = rng.choice(["listed", "verified", "retracted"])
        return f"/api/letters/{letter}/signatures/?status={status}&page_size=50"
    if choice < 0.60:
        search = quote(rng.choice(setup.searches))
        return f"/api/letters/{letter}/signatures/?search={search}"
    if choice < 0.66:
        return f"/api/signatures/?letter={letter}&status=listed"
    if choice < 0.74:
        return f"/api/people/?search={quote(rng.choice(setup.searches))}"
    if choice < 0.80:
        return f"/api/people/?letter={letter}"
    if choice < 0.90:
        return f"/api/people/{rng.choice(setup.people)}/"
    if choice < 0.95:
        return "/api/organizations/"
    return f"/api/organizations/{rng.choice(setup.organizations)}/"


def write_request(setup: Setup, rng: random.Random) -> tuple[str, dict]:
    """A signature for one of few letters and few people, so writers collide."""
    letter = rng.choice(setup.letters)
    if rng.random() < 0.6:
        usual, other = rng.choice(WRITER_NAMES)
        name = other if rng.random() < 0.3 else usual
        return f"/api/letters/{letter}/signatures/", {"name": name, "title": "Composer"}
    person = rng.choice(setup.people[:40])
    return f"/api/letters/{letter}/signatures/", {"person": person}


def _reader(url: str, setup: Setup, seed: int, stop: float, out: list[Outcome]) -> None:
    rng = random.Random(seed)
    with httpx.Client(base_url=url, timeout=60) as client:
        while time.monotonic() < stop:
            path = read_paths(setup, rng)
            started = time.perf_counter()
            try:
                status = client.get(path).status_code
            except httpx.HTTPError:
                status = 0
            out.append(Outcome("read", path, status, time.perf_counter() - started))


def _writer(url: str, setup: Setup, token: str, seed: int, stop: float, out: list[Outcome]):
    rng = random.Random(seed)
    headers = {"Authorization": f"Token {token}"}
    with httpx.Client(base_url=url, timeout=60, headers=headers) as client:
        while time.monotonic() < stop:
            path, data = write_request(setup, rng)
            started = time.perf_counter()
            body = None
            try:
                response = client.post(path, json=data)
                status = response.status_code
                if response.headers.get("content-type", "").startswith("application/json"):
                    body = response.json()
            except httpx.HTTPError:
                status = 0
            out.append(Outcome("write", path, status, time.perf_counter() - started, body, data))


def run_load(url: str, setup: Setup, *, seconds: float, readers: int, writers: int) -> LoadResult:
    outcomes: list[Outcome] = []  # list.append is atomic
    stop = time.monotonic() + seconds
    threads = [
        threading.Thread(target=_reader, args=(url, setup, SEED + n, stop, outcomes))
        for n in range(readers)
    ] + [
        threading.Thread(
            target=_writer,
            args=(url, setup, setup.tokens[n % len(setup.tokens)], SEED + 1000 + n, stop, outcomes),
        )
        for n in range(writers)
    ]
    started = time.monotonic()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return LoadResult(seconds=time.monotonic() - started, outcomes=outcomes)


# --- the checks -------------------------------------------------------------------


def integrity_problems(
    database_url: str, result: LoadResult, name_key: Callable[[str], str]
) -> list[str]:
    """What the writers' answers and the database say went wrong, if anything.
    Names are compared by ``name_key``, the key the service resolves them by."""
    # A 409 would ask the client to retry what the API should have sorted out.
    problems = [
        f"{outcome.status} on {outcome.kind} {outcome.path}"
        for outcome in result.outcomes
        if outcome.status >= 500 or outcome.status in (0, 409)
    ]
    keys = sorted({name_key(name) for pair in WRITER_NAMES for name in pair})
    by_name: dict[tuple[str, str], set[int]] = defaultdict(set)
    created: Counter = Counter()
    for outcome in result.of("write"):
        if outcome.status not in (200, 201) or not outcome.body:
            continue
        letter = outcome.path.split("/")[3]
        if "name" in outcome.sent:
            what = name_key(outcome.sent["name"])
        else:
            what = f"person:{outcome.sent['person']}"
        by_name[letter, what].add(outcome.body["id"])
        created[letter, what] += outcome.status == 201
    for (letter, what), ids in sorted(by_name.items()):
        if len(ids) > 1:
            problems.append(f"{what!r} on {letter} answered with signatures {sorted(ids)}")
        if created[letter, what] > 1:
            problems.append(f"{what!r} on {letter} was created {created[letter, what]} times")
    with psycopg.connect(database_url) as conn:
        for name_key, count in conn.execute(
            """SELECT name_key, count(*) FROM people_person
               WHERE merged_into_id IS NULL AND name_key = ANY(%s)
               GROUP BY name_key HAVING count(*) > 1""",
            [keys],
        ):
            problems.append(f"{count} people named {name_key!r}")
        for slug, name_key, count in conn.execute(
            """SELECT l.slug, p.name_key, count(*) FROM letters_signature s
               JOIN people_person p ON p.id = s.person_id
               JOIN letters_letter l ON l.id = s.letter_id
               WHERE s.merged_into_id IS NULL AND p.name_key = ANY(%s)
               GROUP BY l.slug, p.name_key HAVING count(*) > 1""",
            [keys],
        ):
            problems.append(f"{count} signatures of {name_key!r} on {slug}")
        for slug, person, count in conn.execute(
            """SELECT l.slug, s.person_id, count(*) FROM letters_signature s
               JOIN letters_letter l ON l.id = s.letter_id
               GROUP BY l.slug, s.person_id HAVING count(*) > 1"""
        ):
            problems.append(f"{count} signatures of person {person} on {slug}")
    return problems


def summary(result: LoadResult) -> dict:
    figures: dict = {"seconds": round(result.seconds, 1)}
    for kind in ("read", "write"):
        outcomes = result.of(kind)
        latencies = [outcome.seconds for outcome in outcomes]
        figures[kind] = {
            "requests": len(outcomes),
            "per_second": round(len(outcomes) / result.seconds, 1),
            "p50_ms": round(1000 * percentile(latencies, 0.50), 1),
            "p95_ms": round(1000 * percentile(latencies, 0.95), 1),
            "p99_ms": round(1000 * percentile(latencies, 0.99), 1),
            "statuses": dict(sorted(result.statuses(kind).items())),
        }
    return figures
