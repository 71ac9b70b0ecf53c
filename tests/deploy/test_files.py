"""The production files parse and agree with the code: the Dockerfile parsed with
Docker's own parser (the `dockerfile` package) and the compose file as YAML. The
image is built and run in tests/deploy/test_image.py."""

import configparser
import re
from pathlib import Path

import dockerfile
import yaml

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"


def instructions() -> list:
    return list(dockerfile.parse_file(str(DEPLOY / "Dockerfile")))


def test_the_dockerfile_is_slim_runs_as_a_user_and_checks_its_health():
    commands = instructions()
    names = [c.cmd.upper() for c in commands]
    assert commands[0].value[0].startswith("python:3.11-slim")
    user_at = names.index("USER")
    assert commands[user_at].value[0] not in {"root", "0"}
    assert user_at < names.index("CMD")
    healthcheck = " ".join(commands[names.index("HEALTHCHECK")].value)
    assert "deploy/healthcheck.py" in healthcheck
    assert any("collectstatic" in " ".join(c.value) for c in commands if c.cmd.upper() == "RUN")


def test_every_path_the_dockerfile_copies_exists():
    for command in instructions():
        if command.cmd.upper() == "COPY":
            for source in command.value[:-1]:
                assert (ROOT / source).exists(), source


def compose() -> dict:
    return yaml.safe_load((DEPLOY / "docker-compose.yml").read_text())


def test_the_compose_file_runs_every_process_with_health_checks_and_volumes():
    services = compose()["services"]
    assert {"web", "worker", "beat", "postgres", "redis"} <= set(services)
    for name in ("web", "worker", "beat", "postgres", "redis"):
        assert "healthcheck" in services[name], name
    assert "/health/ready" in " ".join(services["web"]["healthcheck"]["test"])
    # A one-off has no process to check, rather than inheriting the image's check.
    assert services["migrate"]["healthcheck"] == {"disable": True}
    assert set(compose()["volumes"]) >= {"postgres-data", "redis-data"}
    assert services["web"]["depends_on"]["migrate"]["condition"] == (
        "service_completed_successfully"
    )


def test_the_compose_worker_takes_every_queue_the_tasks_are_routed_to():
    from django.conf import settings

    command = compose()["services"]["worker"]["command"]
    queues = set(command[command.index("--queues") + 1].split(","))
    routed = {route["queue"] for route in getattr(settings, "CELERY_TASK_ROUTES", {}).values()}
    assert routed <= queues


def test_the_systemd_units_parse_and_start_the_processes():
    units = sorted((DEPLOY / "systemd").glob("*.service"))
    assert len(units) == 3
    for unit in units:
        parser = configparser.ConfigParser(strict=False, interpolation=None)
        parser.read_string(unit.read_text())
        assert {"Unit", "Service", "Install"} <= set(parser.sections())
        assert parser["Service"]["User"] == "tracker"
        assert parser["Service"]["ExecStart"].startswith("/opt/signatory-tracker/.venv/bin/")


def test_env_example_documents_every_variable_the_settings_read():
    read = set()
    for path in [
        *(ROOT / "tracker" / "settings").glob("*.py"),
        ROOT / "deploy" / "gunicorn.conf.py",
    ]:
        text = path.read_text()
        read |= set(re.findall(r'env_\w+\(\s*"([A-Z][A-Z0-9_]+)"', text))
        read |= set(re.findall(r'os\.environ(?:\.get)?\(\s*"([A-Z][A-Z0-9_]+)"', text))
        read |= set(re.findall(r'os\.environ\[\s*"([A-Z][A-Z0-9_]+)"\]', text))
    documented = set(
        re.findall(r"^#?\s*([A-Z][A-Z0-9_]+)=", (DEPLOY / "env.example").read_text(), re.M)
    )
    read -= {"PROMETHEUS_MULTIPROC_DIR"}  # set by the gunicorn config itself
    read -= {"TEST_DATABASE_URL", "TEST_REDIS_URL"}  # the tests' own servers (settings/test.py)
    assert read - documented == set()


def test_the_image_builds_from_what_the_dockerignore_lets_in():
    """The build context holds only what the Dockerfile copies: never deploy/.env."""
    allowed = [
        line[1:]
        for line in (ROOT / ".dockerignore").read_text().splitlines()
        if line.startswith("!")
    ]
    for command in instructions():
        if command.cmd.upper() == "COPY":
            for source in command.value[:-1]:
                assert any(source == a or source.startswith(f"{a}/") for a in allowed), source
    assert not any(a.startswith("deploy/.env") or a in {".", "deploy"} for a in allowed)


def test_the_dockerfile_installs_at_the_versions_of_the_constraints_file():
    runs = " ".join(" ".join(c.value) for c in instructions() if c.cmd.upper() == "RUN")
    assert "--constraint constraints.txt" in runs
    pins = [
        line
        for line in (ROOT / "constraints.txt").read_text().splitlines()
        if line and not line.startswith("#")
    ]
    assert all(re.fullmatch(r"[A-Za-z0-9_.-]+==[A-Za-z0-9_.+-]+", pin) for pin in pins), pins
    pinned = {pin.split("==")[0].lower().replace("_", "-") for pin in pins}
    import tomllib

    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    for requirement in project["dependencies"] + project["optional-dependencies"]["dev"]:
        name = re.match(r"[A-Za-z0-9_.-]+", requirement).group(0).lower().replace("_", "-")
        assert name in pinned, requirement
