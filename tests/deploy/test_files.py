"""The production files parse and agree with the code: no Docker engine runs
on the test machines, so the Dockerfile is parsed with the official parser
(the `dockerfile` package) and the compose file as YAML."""

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
    assert "/health/live" in healthcheck
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
    for name in ("web", "worker", "postgres", "redis"):
        assert "healthcheck" in services[name], name
    assert "/health/ready" in " ".join(services["web"]["healthcheck"]["test"])
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
    assert read - documented == set()
