"""Slowing password guessing at every login: the admin, the browsable API and
``POST /api/auth/token/``.

Failed logins are counted in Redis (the cache without it) for each address and
username together, and for each address over all usernames. Past
``LOGIN_FAILURE_LIMIT`` failures for one account from one address, or
``LOGIN_ADDRESS_FAILURE_LIMIT`` from one address, logins from there are refused
without the password being checked until ``LOGIN_LOCKOUT_SECONDS`` after the
first failure. A success clears its own count; other accounts and addresses are
never locked by someone else's failures (so nobody can lock a person out from
elsewhere).
"""

from __future__ import annotations

import hashlib
import logging
import math
from typing import Any

from django.conf import settings
from django.contrib.auth.backends import ModelBackend
from django.contrib.auth.signals import user_logged_in, user_login_failed
from django.core.cache import cache
from django.core.exceptions import PermissionDenied
from django.dispatch import receiver
from django.http import HttpRequest, HttpResponse
from rest_framework.throttling import BaseThrottle

logger = logging.getLogger(__name__)


def client_address(request: HttpRequest) -> str:
    """The client's address as the throttles see it (REST framework's
    ``NUM_PROXIES`` decides how far X-Forwarded-For is trusted)."""
    return BaseThrottle().get_ident(request) or "unknown"


def _key(kind: str, *parts: str) -> str:
    digest = hashlib.sha256("\x00".join(parts).encode()).hexdigest()[:32]
    return f"login-failures:{kind}:{digest}"


def _keys(request: HttpRequest, username: str) -> tuple[str, str]:
    address = client_address(request)
    return _key("account", address, username.strip()), _key("address", address)


def _redis() -> Any:
    from tracker.throttling import _redis as connect

    return connect(settings.REDIS_URL)


def _counts(keys: tuple[str, ...]) -> list[tuple[int, float]]:
    """(failures so far, seconds until the count is forgotten) for each key."""
    if settings.REDIS_URL:
        pipe = _redis().pipeline(transaction=False)
        for key in keys:
            pipe.get(key)
            pipe.pttl(key)
        answers = pipe.execute()
        return [
            (int(answers[i] or 0), max(answers[i + 1], 0) / 1000) for i in range(0, len(answers), 2)
        ]
    return [(int(cache.get(key) or 0), settings.LOGIN_LOCKOUT_SECONDS) for key in keys]


def _count_failure(keys: tuple[str, ...]) -> None:
    period = settings.LOGIN_LOCKOUT_SECONDS
    if settings.REDIS_URL:
        pipe = _redis().pipeline(transaction=False)
        for key in keys:
            pipe.set(key, 0, ex=period, nx=True)
            pipe.incr(key)
        pipe.execute()
        return
    for key in keys:
        if not cache.add(key, 1, timeout=period):
            try:
                cache.incr(key)
            except ValueError:  # expired between the two calls
                cache.set(key, 1, timeout=period)


def locked_for(request: HttpRequest, username: str) -> int:
    """Seconds until a login for ``username`` from this request's address may be
    tried again; 0 when it may now."""
    try:
        (account, account_left), (address, address_left) = _counts(_keys(request, username))
    except Exception as exc:  # Redis down: logins go on; the throttles say the same
        logger.warning("Login failures cannot be read: %s", exc)
        return 0
    waits = []
    if account >= settings.LOGIN_FAILURE_LIMIT:
        waits.append(account_left)
    if address >= settings.LOGIN_ADDRESS_FAILURE_LIMIT:
        waits.append(address_left)
    return max(1, math.ceil(max(waits))) if waits else 0


def refusal_message(wait: int) -> str:
    minutes = math.ceil(wait / 60)
    return (
        "Too many failed logins from this address; try again in "
        f"{minutes} minute{'s' if minutes != 1 else ''}."
    )


@receiver(user_login_failed)
def _failed(sender: Any, credentials: dict, request: HttpRequest | None = None, **kwargs) -> None:
    if request is None:
        return
    try:
        _count_failure(_keys(request, str(credentials.get("username") or "")))
    except Exception as exc:
        logger.warning("A failed login cannot be counted: %s", exc)


def failures_clear(request: HttpRequest, username: str) -> None:
    """Forget the failures of this account from this address, after a success."""
    account_key, _ = _keys(request, username)
    try:
        if settings.REDIS_URL:
            _redis().delete(account_key)
        else:
            cache.delete(account_key)
    except Exception as exc:
        logger.warning("A login's failures cannot be cleared: %s", exc)


@receiver(user_logged_in)
def _succeeded(sender: Any, request: HttpRequest | None, user: Any, **kwargs) -> None:
    if request is not None:
        failures_clear(request, user.get_username())


class LoginGuardBackend(ModelBackend):
    """First in AUTHENTICATION_BACKENDS: refuses a locked login before any
    backend checks its password."""

    def authenticate(self, request: HttpRequest | None, username: str | None = None, **kwargs):
        wait = locked_for(request, username) if request and username is not None else 0
        if wait:
            raise PermissionDenied(refusal_message(wait))
        return None


def guarded_login(view: Any) -> Any:
    """Wraps a login page (the admin's) so that a locked login is answered 429
    with the time to wait, instead of the form's usual wrong-password error."""

    def login(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if request.method == "POST":
            wait = locked_for(request, request.POST.get("username", ""))
            if wait:
                response = HttpResponse(
                    refusal_message(wait), status=429, content_type="text/plain"
                )
                response["Retry-After"] = str(wait)
                return response
        return view(request, *args, **kwargs)

    return login
