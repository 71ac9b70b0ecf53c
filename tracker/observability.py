"""Request ids: one per request, in every log line it causes, and carried into
the Celery tasks the request queued."""

from __future__ import annotations

import logging
import re
import uuid
from contextvars import ContextVar
from typing import Any

from celery.signals import before_task_publish, task_postrun, task_prerun

request_id_var: ContextVar[str] = ContextVar("request_id", default="")
_ACCEPTED_ID = re.compile(r"^[A-Za-z0-9._-]{8,64}$")
HEADER = "X-Request-ID"


def new_request_id() -> str:
    return uuid.uuid4().hex


class RequestIdMiddleware:
    """Take a well-formed X-Request-ID from the proxy, or make one; echo it back."""

    def __init__(self, get_response: Any) -> None:
        self.get_response = get_response

    def __call__(self, request: Any) -> Any:
        given = request.headers.get(HEADER, "")
        request_id = given if _ACCEPTED_ID.match(given) else new_request_id()
        request.request_id = request_id
        token = request_id_var.set(request_id)
        try:
            response = self.get_response(request)
        finally:
            request_id_var.reset(token)
        response[HEADER] = request_id
        return response


class RequestIdFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = request_id_var.get()
        return True


@before_task_publish.connect
def _carry_request_id(headers: dict | None = None, **kwargs: Any) -> None:
    request_id = request_id_var.get()
    if headers is not None and request_id and "request_id" not in headers:
        headers["request_id"] = request_id


@task_prerun.connect
def _adopt_request_id(task: Any = None, **kwargs: Any) -> None:
    request_id = getattr(task.request, "request_id", None) if task is not None else None
    task.request._tracker_token = request_id_var.set(request_id or new_request_id())


@task_postrun.connect
def _forget_request_id(task: Any = None, **kwargs: Any) -> None:
    token = getattr(task.request, "_tracker_token", None) if task is not None else None
    if token is not None:
        request_id_var.reset(token)
