"""Request bodies, checked before anything reads them.

- A body larger than ``DATA_UPLOAD_MAX_MEMORY_SIZE`` is answered 413 whatever
  its content type, from its declared length, without reading it. (Django's
  own cap counts only the bytes it keeps in memory: a multipart upload's file
  parts escaped it.)
- A chunked body (``Transfer-Encoding: chunked``, no ``Content-Length``) is read
  here, up to one byte past the cap, when the server hands it over whole
  (gunicorn marks that with ``wsgi.input_terminated``); Django would otherwise
  take its missing length for an empty body. A server that cannot hand it over
  gets 411, asking for a length.
"""

from __future__ import annotations

from io import BytesIO
from typing import Any

from django.conf import settings
from django.core.handlers.wsgi import LimitedStream
from django.http import HttpResponse

from tracker.exceptions import json_error, too_large_message


def _refuse(request: Any, status: int, code: str, message: str) -> HttpResponse:
    if request.path.startswith("/api/"):
        response = json_error(status, code, message)
    else:
        response = HttpResponse(message, status=status, content_type="text/plain; charset=utf-8")
    return response


def _declared_length(meta: dict) -> int | None:
    try:
        return int(meta.get("CONTENT_LENGTH") or "")
    except ValueError:
        return None


class BodyLimitMiddleware:
    def __init__(self, get_response: Any) -> None:
        self.get_response = get_response

    def __call__(self, request: Any) -> Any:
        refusal = self.check(request)
        return refusal if refusal is not None else self.get_response(request)

    def check(self, request: Any) -> HttpResponse | None:
        cap = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        meta = request.META
        chunked = "chunked" in meta.get("HTTP_TRANSFER_ENCODING", "").lower()
        length = _declared_length(meta)
        if cap is not None and length is not None and length > cap:
            return _refuse(request, 413, "too_large", too_large_message())
        if not chunked or length:
            return None
        if not meta.get("wsgi.input_terminated"):
            return _refuse(
                request,
                411,
                "length_required",
                "Send the body with a Content-Length header; this server cannot read a "
                "chunked body.",
            )
        limit = cap + 1 if cap is not None else -1
        body = meta["wsgi.input"].read(limit)
        if cap is not None and len(body) > cap:
            return _refuse(request, 413, "too_large", too_large_message())
        request.META["CONTENT_LENGTH"] = str(len(body))
        request._stream = LimitedStream(BytesIO(body), len(body))
        return None
