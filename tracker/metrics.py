"""Prometheus metrics at /metrics: requests and latencies from a middleware;
sync runs, matching runs and queue lengths read at scrape time (runs are never
deleted, so their counts only grow and serve as counters).

Under gunicorn the workers share counters through PROMETHEUS_MULTIPROC_DIR
(set by deploy/gunicorn.conf.py).
"""

from __future__ import annotations

import ipaddress
import os
import secrets
import time
from typing import Any

from django.conf import settings
from django.http import HttpResponse, HttpResponseForbidden
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
    multiprocess,
)
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

REQUESTS = Counter(
    "tracker_http_requests_total", "HTTP requests answered.", ["method", "route", "status"]
)
LATENCY = Histogram(
    "tracker_http_request_duration_seconds",
    "Time to answer an HTTP request.",
    ["method", "route"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
QUEUES = ("celery", "sync", "matching")


class MetricsMiddleware:
    def __init__(self, get_response: Any) -> None:
        self.get_response = get_response

    def __call__(self, request: Any) -> Any:
        started = time.perf_counter()
        response = self.get_response(request)
        match = getattr(request, "resolver_match", None)
        route = match.route if match and match.route else "unmatched"
        if route == "metrics":
            return response
        LATENCY.labels(request.method, route).observe(time.perf_counter() - started)
        REQUESTS.labels(request.method, route, str(response.status_code)).inc()
        return response


class StoredRunsCollector:
    """Counts read from the database and the broker when Prometheus scrapes."""

    def collect(self):
        from django.db.models import Count

        from letters.models import SyncRun
        from people.models import MatchRun

        sync_runs = CounterMetricFamily(
            "tracker_sync_runs", "Sync runs recorded, by outcome.", labels=["outcome"]
        )
        for row in SyncRun.objects.values("outcome").annotate(n=Count("id")).order_by():
            sync_runs.add_metric([row["outcome"]], row["n"])
        yield sync_runs
        match_runs = CounterMetricFamily(
            "tracker_match_runs", "Matching runs recorded, by status.", labels=["status"]
        )
        for row in MatchRun.objects.values("status").annotate(n=Count("id")).order_by():
            match_runs.add_metric([row["status"]], row["n"])
        yield match_runs
        lengths = GaugeMetricFamily(
            "tracker_queue_length", "Tasks waiting in each Celery queue.", labels=["queue"]
        )
        for queue, length in queue_lengths().items():
            lengths.add_metric([queue], length)
        yield lengths


def queue_lengths() -> dict[str, int]:
    if not settings.REDIS_URL:
        return {}
    import redis

    client = redis.Redis.from_url(settings.REDIS_URL, socket_connect_timeout=1, socket_timeout=1)
    try:
        return {queue: int(client.llen(queue)) for queue in QUEUES}
    except redis.RedisError:
        return {}
    finally:
        client.close()


def _allowed(request: Any) -> bool:
    user = getattr(request, "user", None)
    if user is not None and user.is_authenticated and user.is_staff:
        return True
    token = settings.METRICS_TOKEN
    given = request.headers.get("Authorization", "")
    if token and secrets.compare_digest(given, f"Bearer {token}"):
        return True
    # A proxied request comes from the proxy's own address: never trust that.
    if "X-Forwarded-For" in request.headers:
        return False
    try:
        address = ipaddress.ip_address(request.META.get("REMOTE_ADDR", ""))
    except ValueError:
        return False
    return any(address in network for network in settings.METRICS_ALLOWED_NETWORKS)


def metrics_view(request: Any) -> HttpResponse:
    if not _allowed(request):
        return HttpResponseForbidden(
            "Metrics are for staff, a METRICS_TOKEN bearer, or METRICS_ALLOWED_NETWORKS.",
            content_type="text/plain",
        )
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        process_registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(process_registry)
    else:
        process_registry = REGISTRY
    stored = CollectorRegistry()
    stored.register(StoredRunsCollector())
    body = generate_latest(process_registry) + generate_latest(stored)
    return HttpResponse(body, content_type=CONTENT_TYPE_LATEST)
