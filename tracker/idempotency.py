"""``Idempotency-Key`` on creating requests: a repeat returns the first answer.

Only successful answers are kept: a refused request creates nothing, so the
client may correct it and send it again under the same key.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from datetime import timedelta

from django.db import IntegrityError, transaction
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter
from rest_framework.request import Request
from rest_framework.response import Response

from tracker.errors import DomainError
from tracker.models import IdempotencyKey

HEADER = "Idempotency-Key"
KEPT_FOR = timedelta(hours=24)
IDEMPOTENCY_KEY = OpenApiParameter(
    HEADER,
    OpenApiTypes.STR,
    OpenApiParameter.HEADER,
    description="Repeat a creation safely: a repeat with the same key, within 24 hours, "
    "returns the first answer and creates nothing.",
)


class IdempotencyKeyReused(DomainError):
    status_code = 422

    def __init__(self) -> None:
        super().__init__(
            f"This {HEADER} was used for a different request; use a new key for new content.",
            field=HEADER,
            code="idempotency_key_reused",
        )


def _fingerprint(request: Request) -> str:
    try:
        body = json.dumps(request.data, sort_keys=True, default=str)
    except (TypeError, ValueError):
        body = repr(request.data)
    raw = f"{request.method} {request.path}\n{body}"
    return hashlib.sha256(raw.encode("utf-8", "surrogatepass")).hexdigest()


def idempotent(request: Request, create: Callable[[], Response]) -> Response:
    """Run ``create`` once per key and user; repeats get the stored answer."""
    key = request.headers.get(HEADER, "").strip()
    if not key or not request.user.is_authenticated:
        return create()
    if len(key) > 255 or not key.isprintable():
        raise DomainError(
            f"An {HEADER} is up to 255 printable characters.", field=HEADER, code="invalid"
        )
    fingerprint = _fingerprint(request)
    with transaction.atomic():
        IdempotencyKey.objects.filter(
            user=request.user, key=key, created_at__lt=timezone.now() - KEPT_FOR
        ).delete()
        try:
            with transaction.atomic():
                record = IdempotencyKey.objects.create(
                    user=request.user, key=key, fingerprint=fingerprint
                )
        except IntegrityError:
            # A first request with this key has committed (a concurrent one waited
            # on the unique index until it did): answer as it was answered.
            stored = IdempotencyKey.objects.get(user=request.user, key=key)
            if stored.fingerprint != fingerprint:
                raise IdempotencyKeyReused() from None
            headers = {"Idempotent-Replayed": "true"}
            if stored.location:
                headers["Location"] = stored.location
            return Response(stored.response, status=stored.status_code, headers=headers)
        response = create()
        if response.status_code >= 300:
            transaction.set_rollback(True)
            return response
        record.status_code = response.status_code
        record.response = response.data
        record.location = response.headers.get("Location", "")[:1000]
        record.save(update_fields=["status_code", "response", "location"])
        return response
