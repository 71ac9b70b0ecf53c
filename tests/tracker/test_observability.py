"""Metrics at /metrics and request ids carried into queued tasks."""

import json
import uuid

import pytest
import redis
from django.conf import settings
from django.utils import timezone

from letters.models import SyncRun
from tests.factories import make_letter, make_source
from tracker.celery import app
from tracker.observability import request_id_var

pytestmark = pytest.mark.django_db


def metric_lines(client, **extra) -> list[str]:
    response = client.get("/metrics", **extra)
    assert response.status_code == 200
    return response.content.decode().splitlines()


def test_metrics_count_requests_and_sync_runs_by_outcome(client, staff_user):
    client.get("/health/live")
    source = make_source(make_letter(), url="https://example.org/list.csv", format="csv")
    SyncRun.objects.create(source=source, outcome="succeeded", finished_at=timezone.now())
    SyncRun.objects.create(source=source, outcome="failed", finished_at=timezone.now())
    SyncRun.objects.create(source=source, outcome="failed", finished_at=timezone.now())
    client.force_login(staff_user)

    lines = metric_lines(client)

    assert any(
        line.startswith("tracker_http_requests_total{")
        and 'route="health/live"' in line
        and 'status="200"' in line
        for line in lines
    )
    assert 'tracker_sync_runs_total{outcome="failed"} 2.0' in lines
    assert 'tracker_sync_runs_total{outcome="succeeded"} 1.0' in lines
    assert any(line.startswith("tracker_queue_length{") for line in lines)


def test_metrics_refuse_strangers_and_proxied_requests(client):
    assert client.get("/metrics", REMOTE_ADDR="203.0.113.7").status_code == 403
    assert client.get("/metrics", HTTP_X_FORWARDED_FOR="203.0.113.7").status_code == 403
    assert client.get("/metrics", REMOTE_ADDR="127.0.0.1").status_code == 200


def test_metrics_accept_the_bearer_token(client, settings):
    settings.METRICS_TOKEN = "scrape-secret"
    denied = client.get("/metrics", REMOTE_ADDR="203.0.113.7", HTTP_AUTHORIZATION="Bearer no")
    assert denied.status_code == 403
    allowed = client.get(
        "/metrics", REMOTE_ADDR="203.0.113.7", HTTP_AUTHORIZATION="Bearer scrape-secret"
    )
    assert allowed.status_code == 200


def test_a_request_id_is_echoed_or_made(client):
    given = client.get("/health/live", HTTP_X_REQUEST_ID="abc-123-def-456")
    assert given["X-Request-ID"] == "abc-123-def-456"
    made = client.get("/health/live", HTTP_X_REQUEST_ID="bad id with spaces")
    assert made["X-Request-ID"] != "bad id with spaces" and len(made["X-Request-ID"]) == 32


def test_a_task_queued_during_a_request_carries_its_request_id():
    queue = f"probe-{uuid.uuid4().hex}"
    token = request_id_var.set("req-carried-into-task")
    try:
        app.send_task("tracker.probe", queue=queue)
    finally:
        request_id_var.reset(token)
    client = redis.Redis.from_url(settings.CELERY_BROKER_URL)
    try:
        message = json.loads(client.lpop(queue))
    finally:
        client.delete(queue)
        client.close()
    assert message["headers"]["request_id"] == "req-carried-into-task"
