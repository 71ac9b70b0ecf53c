"""Health checks: /health/live (the process answers) and /health/ready (the
database, migrations, Redis and the broker), as JSON with each check's latency."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

from django.conf import settings
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.http import JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

CHECK_TIMEOUT = 2.0


def _database() -> str:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    return "reachable"


def _migrations() -> str:
    executor = MigrationExecutor(connection)
    plan = executor.migration_plan(executor.loader.graph.leaf_nodes())
    if plan:
        raise RuntimeError(f"{len(plan)} migrations not applied")
    return "applied"


def _redis() -> str:
    if not settings.REDIS_URL:
        return "not configured (embedded broker)"
    import redis

    client = redis.Redis.from_url(
        settings.REDIS_URL, socket_connect_timeout=CHECK_TIMEOUT, socket_timeout=CHECK_TIMEOUT
    )
    try:
        client.ping()
    finally:
        client.close()
    return "reachable"


def _broker() -> str:
    if not settings.REDIS_URL:
        folder = Path(settings.CELERY_BROKER_TRANSPORT_OPTIONS["data_folder_in"])
        folder.mkdir(parents=True, exist_ok=True)
        probe = folder / ".ready-probe"
        probe.write_text("ok")
        probe.unlink()
        return "file-system broker writable"
    from tracker.celery import app

    with app.connection_for_write() as conn:
        conn.ensure_connection(max_retries=1, timeout=CHECK_TIMEOUT)
    return "reachable"


CHECKS: dict[str, Callable[[], str]] = {
    "database": _database,
    "migrations": _migrations,
    "redis": _redis,
    "broker": _broker,
}


def run_checks() -> tuple[bool, dict[str, dict]]:
    results: dict[str, dict] = {}
    healthy = True
    for name, check in CHECKS.items():
        started = time.perf_counter()
        try:
            detail, ok = check(), True
        except Exception as exc:  # any failure of a dependency means "not ready"
            detail, ok = f"{type(exc).__name__}: {exc}"[:300], False
        healthy = healthy and ok
        results[name] = {
            "ok": ok,
            "detail": detail,
            "latency_ms": round((time.perf_counter() - started) * 1000, 1),
        }
    return healthy, results


@never_cache
@require_GET
def live(request):
    return JsonResponse({"status": "ok"})


@never_cache
@require_GET
def ready(request):
    healthy, checks = run_checks()
    return JsonResponse(
        {"status": "ok" if healthy else "unavailable", "checks": checks},
        status=200 if healthy else 503,
    )
