"""Jobs the broker could not take, or lost, are sent again: one mechanism for
every kind of run.

The database, not the broker, says what is left to do. A run whose job cannot
be sent (Redis down) is marked ``UNSENT`` instead of failing the request; the
beat's periodic check claims the runs that wait to be sent, or that made no
progress for too long (a job lost with a restarted Redis), each with a
conditional update so that two checks at once send each job once, and sends
their next step again. Every step is idempotent, so a step sent twice does its
work once.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from django.db import models
from django.db.models import Q
from kombu.exceptions import OperationalError as BrokerError
from redis.exceptions import RedisError

logger = logging.getLogger(__name__)

# The error a run shows while its job waits to be sent again.
UNSENT = "Not sent to a worker yet: the broker could not be reached. It will be sent again."
# What a broker that cannot be reached raises when a job is sent.
BROKER_ERRORS = (BrokerError, RedisError, OSError)


def send(send_job: Callable[[], Any], *, run: models.QuerySet, what: str) -> bool:
    """Send a job; when the broker cannot take it, mark ``run`` (a queryset of
    the one run it belongs to) as unsent for the periodic check, and say so."""
    try:
        send_job()
    except BROKER_ERRORS:
        logger.exception("Could not send %s; it will be sent again", what)
        run.update(error=UNSENT)
        return False
    return True


def claim(rows: models.QuerySet, *, stale: Q, **changes: Any) -> list[int]:
    """The ids of ``rows`` that wait to be sent again (marked unsent, or
    ``stale``), each claimed with a conditional update that clears the mark
    and applies ``changes``."""
    due = Q(error=UNSENT) | stale
    claimed = []
    for pk in rows.filter(due).order_by("pk").values_list("pk", flat=True):
        if rows.filter(due, pk=pk).update(error="", **changes):
            claimed.append(pk)
    return claimed
