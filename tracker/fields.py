"""Serializer fields and checks shared by the apps' APIs."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from rest_framework import serializers

_MAX_JSON_DEPTH = 10


def _has_unstorable_text(value: Any, depth: int = 0) -> bool:
    """True for text PostgreSQL refuses in JSON: NUL and lone surrogates."""
    if depth > _MAX_JSON_DEPTH:
        return True
    if isinstance(value, str):
        return "\x00" in value or any("\ud800" <= char <= "\udfff" for char in value)
    if isinstance(value, dict):
        return any(
            _has_unstorable_text(k, depth + 1) or _has_unstorable_text(v, depth + 1)
            for k, v in value.items()
        )
    if isinstance(value, list):
        return any(_has_unstorable_text(item, depth + 1) for item in value)
    return False


def check_storable_json(value: Any) -> Any:
    if _has_unstorable_text(value):
        raise serializers.ValidationError(
            "Text may not contain NUL or unpaired surrogate characters, and nesting is "
            f"limited to {_MAX_JSON_DEPTH} levels."
        )
    return value


def iso_datetime(value: Any) -> str | None:
    """The form REST framework gives datetimes (UTC with a Z), without its per-field
    cost; also for datetimes PostgreSQL wrote as text inside JSON."""
    if value is None:
        return None
    if isinstance(value, str):
        # PostgreSQL drops a fraction's trailing zeros ("48.57524+00:00"): read
        # back, it is written as every other time is ("48.575240Z").
        value = datetime.fromisoformat(value)
    text = value.isoformat()
    return text[:-6] + "Z" if text.endswith("+00:00") else text
