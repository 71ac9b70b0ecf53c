"""Throttles: a fixed window per client that opens with its first request.

REST framework's own throttles keep every request's timestamp of the last
period in the cache and rewrite the whole list on each request, which costs in
proportion to the rate. Here a request costs one round trip to Redis, one script
(set the window if absent, count, read its time left), whatever the rate. Rates are read
from the settings on every request, so a change applies at once.

When Redis cannot be reached the API keeps answering, unthrottled: a missing
rate limit for a while does less harm than refusing every request. After a
failure Redis is left alone for a few seconds, so that requests do not each
wait on it.
"""

from __future__ import annotations

import logging
import math
import time
from functools import cache
from typing import Any

from django.conf import settings
from django.core.cache import cache as django_cache
from rest_framework.request import Request
from rest_framework.settings import api_settings
from rest_framework.throttling import BaseThrottle

logger = logging.getLogger(__name__)

_PERIODS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
REDIS_TIMEOUT_SECONDS = 0.5
REDIS_RETRY_AFTER_SECONDS = 5.0
_redis_down_until = 0.0


def parse_rate(rate: str) -> tuple[int, int]:
    """ "120/minute" -> (120, 60)."""
    count, period = rate.split("/")
    return int(count), _PERIODS[period[0]]


@cache
def _redis(url: str) -> Any:
    import redis

    return redis.Redis.from_url(
        url, socket_connect_timeout=REDIS_TIMEOUT_SECONDS, socket_timeout=REDIS_TIMEOUT_SECONDS
    )


# Open the window if absent, count, and read its time left: one command, whose
# sending and reading cost the client less than a pipeline of three.
_COUNT_SCRIPT = """
redis.call('SET', KEYS[1], 0, 'EX', ARGV[1], 'NX')
local count = redis.call('INCR', KEYS[1])
return {count, redis.call('PTTL', KEYS[1])}
"""


@cache
def _count_script(url: str) -> Any:
    return _redis(url).register_script(_COUNT_SCRIPT)


def _hit_redis(key: str, period: int) -> tuple[int, float] | None:
    """Count in Redis, or None when it cannot be reached."""
    import redis

    global _redis_down_until
    if time.monotonic() < _redis_down_until:
        return None
    try:
        count, left_ms = _count_script(settings.REDIS_URL)(keys=[key], args=[period])
    except redis.RedisError as exc:
        _redis_down_until = time.monotonic() + REDIS_RETRY_AFTER_SECONDS
        logger.warning("Throttling is off for %s s: Redis: %s", REDIS_RETRY_AFTER_SECONDS, exc)
        return None
    return count, max(left_ms, 0) / 1000


def _hit(key: str, period: int) -> tuple[int, float] | None:
    """Count a request in the window at ``key``; return the count so far and the
    seconds until the window closes, or None when there is nothing to count in."""
    if settings.REDIS_URL:
        return _hit_redis(key, period)
    # Without Redis (the embedded setup): the configured cache, less precise about
    # the time left, which it cannot tell.
    now = time.time()
    opened = django_cache.get_or_set(f"{key}:opened", now, timeout=period)
    if django_cache.add(key, 1, timeout=period):
        return 1, period - (now - opened)
    try:
        return django_cache.incr(key), period - (now - opened)
    except ValueError:  # the window closed between the two calls
        django_cache.set(key, 1, timeout=period)
        return 1, period


class _WindowThrottle(BaseThrottle):
    scope = ""

    def client_key(self, request: Request) -> str | None:
        raise NotImplementedError

    def allow_request(self, request: Request, view: Any) -> bool:
        rate = api_settings.DEFAULT_THROTTLE_RATES.get(self.scope)
        client = self.client_key(request)
        if rate is None or client is None:
            return True
        limit, period = parse_rate(rate)
        hit = _hit(f"throttle:{self.scope}:{period}:{client}", period)
        if hit is None:
            return True
        count, self.left = hit
        return count <= limit

    def wait(self) -> float:
        return max(1, math.ceil(self.left))


class AnonThrottle(_WindowThrottle):
    """Anonymous clients, per address."""

    scope = "anon"

    def client_key(self, request: Request) -> str | None:
        if request.user and request.user.is_authenticated:
            return None
        return self.get_ident(request)


class UserThrottle(_WindowThrottle):
    """Signed-in clients, per account."""

    scope = "user"

    def client_key(self, request: Request) -> str | None:
        if request.user and request.user.is_authenticated:
            return str(request.user.pk)
        return None


class TokenRequestThrottle(_WindowThrottle):
    """Asking for a token, per address, whoever asks: slows password guessing."""

    scope = "token"

    def client_key(self, request: Request) -> str | None:
        return self.get_ident(request)
