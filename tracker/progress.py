"""Where a long job stands, for the pages that follow it.

Kept in the cache (Redis in production, files on the embedded default), never
in the job's own transaction: a sync writes its rows all at once at its end,
and a page reads how far it got while it is still writing. Progress is
advisory: when the cache cannot be reached the job goes on, unreported.
"""

from __future__ import annotations

import logging
from typing import Any

from django.core.cache import cache

logger = logging.getLogger(__name__)

# A job's progress is forgotten an hour after its last report.
PROGRESS_SECONDS = 3600


def _key(kind: str, pk: int) -> str:
    return f"progress:{kind}:{pk}"


def progress_report(kind: str, pk: int, **values: Any) -> bool:
    """Record where job ``pk`` of ``kind`` stands, keeping what earlier reports
    said; False when the cache could not take it (a job then stops reporting,
    rather than wait on the cache at every step)."""
    try:
        current = cache.get(_key(kind, pk)) or {}
        cache.set(_key(kind, pk), {**current, **values}, PROGRESS_SECONDS)
    except Exception:  # noqa: BLE001 - any cache failure: the job goes on unreported
        logger.warning("Could not record the progress of %s %s", kind, pk, exc_info=True)
        return False
    return True


def progress_read(kind: str, pk: int) -> dict[str, Any]:
    """What the job last reported; empty when nothing is known."""
    try:
        return cache.get(_key(kind, pk)) or {}
    except Exception:  # noqa: BLE001 - a page shows no progress rather than an error
        logger.warning("Could not read the progress of %s %s", kind, pk, exc_info=True)
        return {}
