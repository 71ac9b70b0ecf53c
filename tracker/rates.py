"""Throttle rates read from the environment; kept free of REST framework
imports because the settings module reads them."""

from __future__ import annotations

import os
import re

from django.core.exceptions import ImproperlyConfigured

_RATE = re.compile(r"^[1-9]\d*/(s|sec|second|m|min|minute|h|hour|d|day)$")


def env_rate(name: str, default: str) -> str:
    """A rate such as "120/minute"; a malformed value stops start-up."""
    value = os.environ.get(name)
    if value is None or value.strip() == "":
        return default
    value = value.strip()
    if not _RATE.match(value):
        raise ImproperlyConfigured(
            f"{name}={value!r} is not a rate; use a count per second, minute, hour or day, "
            "such as '120/minute'."
        )
    return value
