"""/health/live and /health/ready against real servers that go down and come back."""

import json

import pytest

from tests.processes import ThrowawayPostgres, ThrowawayRedis, get, manage, service_env, web_server

pytestmark = pytest.mark.slow


@pytest.fixture
def servers():
    postgres, redis = ThrowawayPostgres(), ThrowawayRedis()
    postgres.start()
    redis.start()
    yield postgres, redis
    redis.stop()
    postgres.remove()


def ready(base: str) -> tuple[int, dict]:
    status, _headers, body = get(f"{base}/health/ready")
    return status, json.loads(body)


def failing(report: dict) -> set[str]:
    return {name for name, check in report["checks"].items() if not check["ok"]}


def test_ready_reports_each_dependency_going_down_and_coming_back(servers, tmp_path):
    postgres, redis = servers
    env = service_env(DATABASE_URL=postgres.url, REDIS_URL=redis.url, TRACKER_VAR_DIR=str(tmp_path))
    with web_server(env) as (base, _log):
        status, _headers, body = get(f"{base}/health/live")
        assert (status, json.loads(body)) == (200, {"status": "ok"})

        status, report = ready(base)
        assert status == 503 and failing(report) == {"migrations"}

        migrated = manage("migrate", "--no-input", env=env)
        assert migrated.returncode == 0, migrated.stderr
        status, report = ready(base)
        assert status == 200, report
        assert all(check["latency_ms"] >= 0 for check in report["checks"].values())

        redis.stop()
        status, report = ready(base)
        assert status == 503 and failing(report) == {"redis", "broker"}
        redis.start()
        assert ready(base)[0] == 200

        postgres.stop()
        status, report = ready(base)
        assert status == 503 and "database" in failing(report)
        postgres.start()
        status, report = ready(base)
        assert status == 200, report


def test_access_log_lines_are_json_with_the_request_id(servers, tmp_path):
    postgres, redis = servers
    env = service_env(DATABASE_URL=postgres.url, REDIS_URL=redis.url, TRACKER_VAR_DIR=str(tmp_path))
    with web_server(env) as (base, log):
        status, headers, _body = get(f"{base}/health/live", {"X-Request-ID": "req-0123456789"})
        assert status == 200 and headers["X-Request-ID"] == "req-0123456789"
        status, headers, _body = get(f"{base}/health/live")
        generated = headers["X-Request-ID"]
    lines = [json.loads(line) for line in log.read_text().splitlines() if line.startswith("{")]
    ids = {line.get("request_id") for line in lines if line.get("logger") == "access"}
    assert {"req-0123456789", generated} <= ids
