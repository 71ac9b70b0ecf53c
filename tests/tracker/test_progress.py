"""Progress of long jobs, kept in the cache for the pages that follow them."""

from __future__ import annotations

from tracker.progress import progress_read, progress_report


def test_a_report_keeps_what_earlier_reports_said():
    progress_report("sync", 987654, phase="parse")
    progress_report("sync", 987654, rows=1200)
    progress_report("sync", 987654, phase="add")
    assert progress_read("sync", 987654) == {"phase": "add", "rows": 1200}
    assert progress_read("sync", 987655) == {}


def test_a_cache_out_of_reach_loses_the_progress_not_the_job(settings):
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": "redis://127.0.0.1:1/0",
        }
    }
    assert progress_report("sync", 1, phase="parse") is False
    assert progress_read("sync", 1) == {}
