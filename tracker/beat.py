"""Beat's heartbeat: the scheduler touches a file on every tick, so that a health
check can tell a beat that schedules from one that hangs or has stopped."""

from __future__ import annotations

import time
from pathlib import Path

from celery.beat import DEFAULT_MAX_INTERVAL, PersistentScheduler
from django.conf import settings


def beat_heartbeat_path() -> Path:
    return Path(settings.VAR_DIR) / "beat-heartbeat"


def beat_heartbeat_age() -> float | None:
    """Seconds since beat last ticked, or None when it never has."""
    try:
        return time.time() - beat_heartbeat_path().stat().st_mtime
    except FileNotFoundError:
        return None


def beat_heartbeat_limit() -> float:
    """Beat wakes at least every tick period (at most every 5 minutes): three missed
    wake-ups, and a margin for a slow machine, mean it is not scheduling."""
    return 3 * min(settings.TRACKER_BEAT_TICK_SECONDS, DEFAULT_MAX_INTERVAL) + 30


class HeartbeatScheduler(PersistentScheduler):
    def tick(self, *args, **kwargs):
        beat_heartbeat_path().touch()
        return super().tick(*args, **kwargs)
