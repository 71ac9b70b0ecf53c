"""One error format for every 4xx the API answers:

    {"status": 400, "code": "invalid", "message": "title: This field is required.",
     "field": "title", "errors": [{"field": "title", "code": "required",
                                   "message": "This field is required."}]}

``field`` names the first input at fault (null when the whole request is), and
``errors`` lists every problem found.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import RequestDataTooBig, TooManyFieldsSent
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import DataError, IntegrityError
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.settings import api_settings
from rest_framework.views import exception_handler as drf_exception_handler

from tracker.errors import DomainError

_NON_FIELD_KEYS = {api_settings.NON_FIELD_ERRORS_KEY, "__all__"}


def _flatten(detail: Any, prefix: str = "") -> list[dict[str, Any]]:
    """REST framework's nested error details as a flat list with dotted field names
    (``targets.0.role``)."""
    if isinstance(detail, dict):
        items = []
        for key, value in detail.items():
            name = prefix if str(key) in _NON_FIELD_KEYS else f"{prefix}.{key}".lstrip(".")
            items.extend(_flatten(value, name))
        return items
    if isinstance(detail, list):
        items = []
        nested = any(isinstance(value, dict | list) for value in detail)
        for index, value in enumerate(detail):
            if nested and isinstance(value, dict | list):
                items.extend(_flatten(value, f"{prefix}.{index}".lstrip(".")))
            else:
                items.extend(_flatten(value, prefix))
        return items
    return [
        {
            "field": prefix or None,
            "code": getattr(detail, "code", None) or "invalid",
            "message": str(detail),
        }
    ]


def error_body(status_code: int, errors: list[dict[str, Any]], code: str | None = None) -> dict:
    first = errors[0] if errors else {"field": None, "code": code or "error", "message": ""}
    message = " ".join(
        f"{error['field']}: {error['message']}" if error["field"] else error["message"]
        for error in errors
    )
    return {
        "status": status_code,
        "code": code or first["code"],
        "message": message,
        "field": first["field"],
        "errors": errors,
    }


def _domain_response(exc: DomainError) -> Response:
    errors = [{"field": exc.field, "code": exc.code, "message": exc.message}]
    return Response(error_body(exc.status_code, errors, exc.code), status=exc.status_code)


def too_large_message() -> str:
    return (
        f"The request body is larger than the {settings.DATA_UPLOAD_MAX_MEMORY_SIZE:,} byte "
        "limit; send less at a time."
    )


def _too_many_fields_message() -> str:
    return f"The request has more than {settings.DATA_UPLOAD_MAX_NUMBER_FIELDS:,} fields."


def _as_api_exception(exc: Exception) -> Exception:
    """Django's and the database's refusals as REST framework exceptions."""
    if isinstance(exc, Http404):
        return exceptions.NotFound(str(exc) or None)
    if isinstance(exc, DjangoPermissionDenied):
        return exceptions.PermissionDenied(str(exc) or None)
    if isinstance(exc, DjangoValidationError):
        return exceptions.ValidationError(
            exc.message_dict if hasattr(exc, "error_dict") else exc.messages
        )
    if isinstance(exc, RequestDataTooBig):
        too_large = exceptions.APIException(too_large_message(), code="too_large")
        too_large.status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
        return too_large
    if isinstance(exc, TooManyFieldsSent):
        return exceptions.ValidationError(_too_many_fields_message(), code="too_many_fields")
    if isinstance(exc, IntegrityError):
        # Two requests racing to create the same thing: the loser is told to retry.
        conflict = exceptions.APIException(
            "This conflicts with data written at the same moment; read it again and retry.",
            code="conflict",
        )
        conflict.status_code = status.HTTP_409_CONFLICT
        return conflict
    if isinstance(exc, DataError):
        return exceptions.ValidationError(
            "A value is out of the range or form the database accepts.", code="out_of_range"
        )
    return exc


def exception_handler(exc: Exception, context: dict) -> Response | None:
    if isinstance(exc, DomainError):
        return _domain_response(exc)
    exc = _as_api_exception(exc)
    response = drf_exception_handler(exc, context)
    if response is None or not isinstance(exc, exceptions.APIException):
        return response
    if isinstance(exc, exceptions.ValidationError):
        errors, code = _flatten(exc.detail), None
    else:
        errors = [
            {"field": None, "code": error["code"], "message": error["message"]}
            for error in _flatten(exc.detail)
        ]
        code = errors[0]["code"] if errors else exc.default_code
        if type(exc) is exceptions.Throttled and exc.wait is not None:
            errors[0]["message"] = (
                f"Too many requests; wait {int(exc.wait) + 1} seconds before the next one."
            )
    response.data = error_body(response.status_code, errors, code)
    return response


def json_error(status_code: int, code: str, message: str) -> JsonResponse:
    errors = [{"field": None, "code": code, "message": message}]
    return JsonResponse(error_body(status_code, errors, code), status=status_code)


def not_found(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    """Unknown addresses under /api/ answer in the API's error format."""
    if request.path.startswith("/api/"):
        return json_error(404, "not_found", f"Nothing at {request.path}; see /api/ for the list.")
    from django.views.defaults import page_not_found

    return page_not_found(request, exception)


class ApiNotFoundMiddleware:
    """A 404 that Django answers itself under /api/ (an unknown address, and
    with DEBUG its HTML page of URL patterns) in the API's JSON error format.
    REST framework's own answers, which may be the browsable API, pass as they are."""

    def __init__(self, get_response) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if (
            response.status_code == 404
            and request.path.startswith("/api/")
            and not isinstance(response, Response | JsonResponse)
        ):
            return not_found(request)
        return response


def bad_request(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    if request.path.startswith("/api/") and isinstance(exception, RequestDataTooBig):
        return json_error(413, "too_large", too_large_message())
    if request.path.startswith("/api/") and isinstance(exception, TooManyFieldsSent):
        return json_error(400, "too_many_fields", _too_many_fields_message())
    if request.path.startswith("/api/"):
        return json_error(400, "bad_request", "The request is malformed.")
    from django.views.defaults import bad_request as default_bad_request

    return default_bad_request(request, exception)


def server_error(request: HttpRequest) -> HttpResponse:
    """A 500 under /api/ in the API's error format, naming the request id to quote;
    never the exception, which may hold what the client sent."""
    if request.path.startswith("/api/"):
        request_id = getattr(request, "request_id", "")
        reference = f" (request id {request_id})" if request_id else ""
        return json_error(
            500, "server_error", f"Something went wrong on our side{reference}; it was logged."
        )
    from django.views.defaults import server_error as default_server_error

    return default_server_error(request)
