"""The production image, built and run as deploy/README.md says.

deploy/Dockerfile is built with podman over the stand-in base image that
deploy/base-image.sh makes (no registry is reachable here), then migrate, web,
worker and beat are started with the commands and health checks of
deploy/docker-compose.yml and the env file made from deploy/env.example, against
the test PostgreSQL and Redis (a database and a Redis index of their own). One
sync goes through the worker; then everything stops cleanly.

Podman here needs `--runtime runc`, `--ulimit` at the hard limits, `--format
docker` (OCI drops HEALTHCHECK) and `podman healthcheck run` by hand (no systemd).
"""

from __future__ import annotations

import json
import os
import re
import resource
import secrets
import shlex
import shutil
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path
from urllib.parse import urlsplit

import psycopg
import pytest
import yaml
from django.conf import settings
from django.db import connection

from tracker.testing.servers import FeedServer, free_port

pytestmark = [pytest.mark.image, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
IMAGE = "localhost/signatory-tracker:test"
BASE = "docker.io/library/python:3.11-slim-bookworm"
HOST = "tracker.example.org"  # ALLOWED_HOSTS as env.example has it, sent as nginx would
CSV = 'name,affiliation\nCate Blanchett,\n"McCartney, Sir Paul",\n"Erivo, Cynthia",Studio\n'
SERVICES = ("web", "worker", "beat")


def podman(*args: str, timeout: float = 120, check: bool = True) -> subprocess.CompletedProcess:
    result = subprocess.run(
        ["podman", "--runtime", "runc", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    if check and result.returncode != 0:
        pytest.fail(f"podman {' '.join(args)} exited {result.returncode}:\n{result.stderr[-3000:]}")
    return result


def ulimits() -> list[str]:
    # Hard limits cannot be raised here, and podman asks for more than them by default.
    hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    return ["--ulimit", f"nofile={hard}:{hard}", "--ulimit", "nproc=32768:32768"]


@pytest.fixture(scope="module")
def image() -> str:
    """The stand-in base (made once, kept), then the app image with layer caching."""
    made = subprocess.run(
        ["bash", str(DEPLOY / "base-image.sh")],
        capture_output=True,
        text=True,
        timeout=1200,
        check=False,
        env={**os.environ, "BASE_TAG": BASE},
    )
    if shutil.which("podman") is None:
        pytest.skip(
            "podman is not installed and could not be (apt-get install podman runc "
            f"debootstrap fuse-overlayfs uidmap): {made.stderr.strip()[-500:]}"
        )
    assert made.returncode == 0, made.stdout + made.stderr
    built = podman(
        "build",
        "--format",
        "docker",
        "--pull=never",
        "--network",
        "host",
        *ulimits(),
        "--file",
        str(DEPLOY / "Dockerfile"),
        "--tag",
        IMAGE,
        str(ROOT),
        timeout=1800,
    )
    assert built.returncode == 0
    return IMAGE


def env_file_from_example(path: Path, values: dict[str, str]) -> None:
    """deploy/env.example filled in as its header says; the rest left as documented."""
    lines = (DEPLOY / "env.example").read_text().splitlines()
    remaining = dict(values)
    for index, line in enumerate(lines):
        match = re.match(r"^#?\s*([A-Z][A-Z0-9_]+)=", line)
        if match and match.group(1) in remaining:
            lines[index] = f"{match.group(1)}={remaining.pop(match.group(1))}"
    lines += [f"{name}={value}" for name, value in remaining.items()]
    path.write_text("\n".join(lines) + "\n")


@pytest.fixture
def deployment(image, tmp_path):
    """A database and a Redis index of the deployment's own, a volume, an env file."""
    server = connection.settings_dict
    name = f"{server['NAME']}_image"[:60]
    admin = {
        "host": server["HOST"] or "127.0.0.1",
        "port": int(server["PORT"] or 5432),
        "user": server["USER"],
        "password": server["PASSWORD"] or None,
    }
    with psycopg.connect(dbname="postgres", autocommit=True, **admin) as pg:
        pg.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        pg.execute(f'CREATE DATABASE "{name}"')
    # Four indexes after the suite's own, so that this deployment's worker takes no job
    # the other tests queue.
    redis = urlsplit(settings.REDIS_URL)
    index = (int(redis.path.strip("/") or 0) + 4) % 16
    redis_url = f"redis://{redis.netloc}/{index}"
    password = f":{admin['password']}" if admin["password"] else ""
    database_url = f"postgres://{admin['user']}{password}@{admin['host']}:{admin['port']}/{name}"
    port = free_port()
    env_file = tmp_path / ".env"
    env_file_from_example(
        env_file,
        {
            "SECRET_KEY": secrets.token_urlsafe(50),
            "DATABASE_URL": database_url,
            "REDIS_URL": redis_url,
            "POSTGRES_PASSWORD": secrets.token_urlsafe(16),
            # --network host: a free loopback port instead of the image's 0.0.0.0:8000.
            "WEB_BIND": f"127.0.0.1:{port}",
            "WEB_CONCURRENCY": "2",
            "WORKER_CONCURRENCY": "1",
            # The feed is served on loopback.
            "TRACKER_ALLOW_PRIVATE_SOURCES": "1",
        },
    )
    tag = f"tracker-image-{os.getpid()}"
    podman("volume", "create", f"{tag}-data")
    yield {
        "tag": tag,
        "env_file": env_file,
        "url": f"http://127.0.0.1:{port}",
        "volume": f"{tag}-data",
    }
    for service in ("migrate", *SERVICES):
        podman("rm", "--force", "--volumes", "--time", "0", f"{tag}-{service}", check=False)
    podman("volume", "rm", "--force", f"{tag}-data", check=False)
    with psycopg.connect(dbname="postgres", autocommit=True, **admin) as pg:
        pg.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def run_args(service: str, spec: dict, deployment: dict, network: str = "host") -> list[str]:
    """`podman run` for one compose service: its command and health check; host
    networking and the test's servers in place of compose's network and services."""
    args = [
        "--name",
        f"{deployment['tag']}-{service}",
        "--network",
        network,
        "--env-file",
        str(deployment["env_file"]),
        "--volume",
        f"{deployment['volume']}:/var/lib/tracker",
        *ulimits(),
    ]
    if spec.get("init"):
        args.append("--init")
    health = spec.get("healthcheck")
    if health and health.get("disable"):
        args.append("--no-healthcheck")
    elif health:
        # No systemd to run it on a timer: `podman healthcheck run` runs it by hand.
        kind, *command = health["test"]
        command = shlex.join(command) if kind == "CMD" else command[0]
        args += ["--health-cmd", command, "--health-interval", "disable"]
        args += ["--health-timeout", health.get("timeout", "30s")]
        args += ["--health-retries", str(health.get("retries", 3))]
    return [*args, IMAGE, *spec["command"]]


def request(url: str, method: str = "GET", body: dict | None = None, token: str = ""):
    headers = {"Host": HOST, "X-Forwarded-Proto": "https", "Accept": "application/json"}
    if token:
        headers["Authorization"] = f"Token {token}"
    data = None
    if body is not None:
        data = json.dumps(body).encode()
        headers["Content-Type"] = "application/json"
    call = urllib.request.Request(url, data=data, method=method, headers=headers)  # noqa: S310
    try:
        with urllib.request.urlopen(call, timeout=15) as response:  # noqa: S310
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


def wait_for(what: str, probe, seconds: float, logs=lambda: ""):
    deadline = time.monotonic() + seconds
    last = None
    while time.monotonic() < deadline:
        try:
            last = probe()
        except OSError as error:
            last = error
        else:
            if last:
                return last
        time.sleep(1)
    pytest.fail(f"{what} did not happen in {seconds:g} s (last: {last!r})\n{logs()}")


def test_the_image_runs_migrate_web_worker_and_beat_with_the_documented_env_file(deployment):
    services = yaml.safe_load((DEPLOY / "docker-compose.yml").read_text())["services"]
    tag = deployment["tag"]

    def logs() -> str:
        return "\n".join(
            f"--- {service}\n" + podman("logs", f"{tag}-{service}", check=False).stderr[-2500:]
            for service in SERVICES
        )

    migrate = podman("run", *run_args("migrate", services["migrate"], deployment), timeout=300)
    assert "Applying letters." in migrate.stdout, migrate.stdout + migrate.stderr
    for service in SERVICES:
        podman("run", "--detach", *run_args(service, services[service], deployment))

    # Ready: database, migrations, Redis and broker, through gunicorn at WEB_BIND.
    base = deployment["url"]
    status, body = wait_for(
        "web answering /health/ready",
        lambda: (answer := request(f"{base}/health/ready"))[0] == 200 and answer,
        90,
        logs,
    )
    checks = json.loads(body)["checks"]
    assert all(check["ok"] for check in checks.values()), checks

    # Each service's own health check, as compose declares it, passes.
    for service in SERVICES:
        wait_for(
            f"{service}'s health check passing",
            lambda service=service: (
                podman("healthcheck", "run", f"{tag}-{service}", check=False).returncode == 0
            ),
            90,
            logs,
        )
    state = json.loads(podman("inspect", f"{tag}-beat").stdout)[0]["State"]
    assert state["Health"]["Status"] == "healthy"
    # The image's own HEALTHCHECK (kept by --format docker) suits every service too.
    built = json.loads(podman("image", "inspect", IMAGE).stdout)[0]
    assert "deploy/healthcheck.py" in " ".join(built["Healthcheck"]["Test"])
    for service in SERVICES:
        probe = podman("exec", f"{tag}-{service}", "python", "deploy/healthcheck.py", check=False)
        assert probe.returncode == 0, (service, probe.stdout, probe.stderr)

    # Static files come from the image, not from the data volume.
    assert request(f"{base}/static/admin/css/base.css")[0] == 200
    listing = podman("exec", f"{tag}-web", "ls", "-A", "/var/lib/tracker").stdout.split()
    assert "static" not in listing, listing

    # One sync through the worker: an editor's token, a letter, a source, "sync now".
    password = secrets.token_urlsafe(16)
    made = podman(
        "exec",
        "--env",
        "DJANGO_SUPERUSER_USERNAME=editor",
        "--env",
        f"DJANGO_SUPERUSER_PASSWORD={password}",
        f"{tag}-web",
        "python",
        "manage.py",
        "ensure_admin",
    )
    assert "Admin login created: editor" in made.stdout
    status, body = request(
        f"{base}/api/auth/token/", "POST", {"username": "editor", "password": password}
    )
    assert status == 200, body
    token = json.loads(body)["token"]
    with FeedServer() as feeds:
        feeds.serve("/signatories.csv", CSV)
        status, body = request(
            f"{base}/api/letters/",
            "POST",
            {"title": "Image letter", "slug": "image-letter"},
            token,
        )
        assert status == 201, body
        status, body = request(
            f"{base}/api/sources/",
            "POST",
            {
                "letter": "image-letter",
                "name": "Organisers feed",
                "kind": "feed",
                "url": feeds.url("/signatories.csv"),
                "format": "csv",
            },
            token,
        )
        assert status == 201, body
        source = json.loads(body)["id"]
        status, body = request(f"{base}/api/sources/{source}/sync/", "POST", {}, token)
        assert status == 202, body

        def succeeded():
            runs = json.loads(request(f"{base}/api/sync-runs/?source={source}", token=token)[1])
            return [run for run in runs["results"] if run["outcome"] == "succeeded"]

        runs = wait_for("a sync run succeeding", succeeded, 120, logs)
        assert feeds.asked("/signatories.csv")
    assert runs[0]["added"] == 3, runs
    status, body = request(f"{base}/api/letters/image-letter/signatures/")
    assert status == 200, body
    assert len(json.loads(body)["results"]) == 3, body

    # A clean stop: each process exits 0 on SIGTERM within its grace period.
    for service in SERVICES:
        podman("stop", "--time", "60", f"{tag}-{service}", timeout=90)
    for service in SERVICES:
        state = json.loads(podman("inspect", f"{tag}-{service}").stdout)[0]["State"]
        assert state["ExitCode"] == 0, (service, state, logs())

    web_log = podman("logs", f"{tag}-web").stderr
    worker_log = podman("logs", f"{tag}-worker").stdout + podman("logs", f"{tag}-worker").stderr
    assert "Permission denied" not in web_log, web_log[-3000:]
    assert "Traceback" not in web_log, web_log[-3000:]
    # compose's worker takes WORKER_CONCURRENCY from the env file.
    assert re.search(r"concurrency: 1 \(prefork\)", worker_log), worker_log[-3000:]


def test_web_answers_through_the_port_compose_publishes(image, tmp_path):
    """On compose's own network, not the host's: the documented env file leaves
    gunicorn on the image's WEB_BIND, which the published port reaches."""
    web = yaml.safe_load((DEPLOY / "docker-compose.yml").read_text())["services"]["web"]
    address, _host_port, container_port = web["ports"][0].rsplit(":", 2)
    port = free_port()
    env_file = tmp_path / ".env"
    env_file_from_example(
        env_file,
        {
            "SECRET_KEY": secrets.token_urlsafe(50),
            "POSTGRES_PASSWORD": secrets.token_urlsafe(16),
            "WEB_CONCURRENCY": "1",
        },
    )
    name = f"tracker-image-{os.getpid()}-published"
    try:
        podman(
            "run",
            "--detach",
            "--name",
            name,
            "--publish",
            f"{address}:{port}:{container_port}",
            "--env-file",
            str(env_file),
            *ulimits(),
            "--health-interval",
            "disable",
            image,
            *web["command"],
        )
        status, body = wait_for(
            "web answering through the published port",
            lambda: (
                (answer := request(f"http://{address}:{port}/health/live"))[0] == 200 and answer
            ),
            60,
            lambda: podman("logs", name, check=False).stderr[-3000:],
        )
        assert json.loads(body) == {"status": "ok"}
        # The image's own health check asks gunicorn where it listens.
        probe = podman("healthcheck", "run", name, check=False)
        assert probe.returncode == 0, probe.stdout + probe.stderr
    finally:
        podman("rm", "--force", "--volumes", "--time", "0", name, check=False)


def test_a_service_stopped_in_its_first_seconds_stops_at_once(image, tmp_path):
    """PID 1 ignores SIGTERM until the process installs a handler; compose's init
    passes it on, so a stop right after a start does not wait out the grace period."""
    beat = yaml.safe_load((DEPLOY / "docker-compose.yml").read_text())["services"]["beat"]
    env_file = tmp_path / ".env"
    env_file_from_example(env_file, {"SECRET_KEY": secrets.token_urlsafe(50)})
    name = f"tracker-image-{os.getpid()}-early-stop"
    deployment = {"tag": name, "env_file": env_file, "volume": f"{name}-data"}
    try:
        podman("run", "--detach", *run_args("beat", beat, deployment, network="bridge"))
        started = time.monotonic()
        podman("stop", "--time", "30", f"{name}-beat", timeout=60)
        assert time.monotonic() - started < 15
    finally:
        podman("rm", "--force", "--volumes", "--time", "0", f"{name}-beat", check=False)
        podman("volume", "rm", "--force", f"{name}-data", check=False)
