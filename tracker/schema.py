"""OpenAPI additions: the one error format, documented on every operation."""

from __future__ import annotations

from typing import Any

from drf_spectacular.openapi import AutoSchema
from drf_spectacular.plumbing import get_doc, get_override

from tracker.filters import MAX_ID

ERROR_SCHEMA = {
    "type": "object",
    "description": "Every 4xx answer has this form.",
    "required": ["status", "code", "message", "field", "errors"],
    "properties": {
        "status": {"type": "integer", "example": 400},
        "code": {"type": "string", "example": "required"},
        "message": {"type": "string", "example": "title: This field is required."},
        "field": {"type": "string", "nullable": True, "example": "title"},
        "errors": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["field", "code", "message"],
                "properties": {
                    "field": {"type": "string", "nullable": True},
                    "code": {"type": "string"},
                    "message": {"type": "string"},
                },
            },
        },
    },
}

_ERRORS = {
    "400": "The input is invalid; `field` and `errors` say what to fix.",
    "401": "A token is needed: send `Authorization: Token KEY`.",
    "403": "The account may not do this.",
    "404": "Nothing here.",
    "405": "This method is not allowed here.",
    "406": "The requested format is not available.",
    "429": "Too many requests; `Retry-After` says how many seconds to wait.",
}
_WRITE_ERRORS = {
    "409": "Conflicts with the data as it stands: done already, changed meanwhile, or "
    "clashing with another record (`code` says which); read again before retrying.",
    "415": "Send JSON, a form or multipart data.",
    "422": "The Idempotency-Key was used for a different request.",
}


def add_error_responses(result: dict[str, Any], generator: Any, **kwargs: Any) -> dict[str, Any]:
    components = result.setdefault("components", {})
    components.setdefault("schemas", {})["Error"] = ERROR_SCHEMA
    reference = {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}
    retry_after = {
        "Retry-After": {
            "description": "Seconds to wait before the next request.",
            "schema": {"type": "integer"},
        }
    }
    for path_item in result.get("paths", {}).values():
        for method, operation in path_item.items():
            if method not in {"get", "post", "put", "patch", "delete"}:
                continue
            responses = operation.setdefault("responses", {})
            errors = dict(_ERRORS)
            if method != "get":
                errors.update(_WRITE_ERRORS)
            for code, description in errors.items():
                if code in responses:
                    continue
                responses[code] = {"description": description, "content": reference}
                if code == "429":
                    responses[code]["headers"] = retry_after
    return result


class TrackerAutoSchema(AutoSchema):
    """Descriptions come only from what the views and serializers write for users
    (``extend_schema``, ``help_text``): docstrings are notes for the code's readers
    and stay out of the published schema."""

    def get_description(self) -> str:
        return ""

    def _map_basic_serializer(self, serializer: Any, direction: str) -> dict[str, Any]:
        schema = super()._map_basic_serializer(serializer, direction)
        description = get_override(serializer, "description", None)
        if description:
            schema["description"] = description
        else:
            schema.pop("description", None)
        return schema

    def _map_response_type_hint(self, method: Any) -> dict[str, Any]:
        schema = super()._map_response_type_hint(method)
        if schema.get("description") == get_doc(getattr(method, "func", method)):
            schema.pop("description")
        return schema


_ID_PATTERNS = {"^[0-9]{1,19}$"}


def integer_path_ids(result: dict[str, Any], generator: Any, **kwargs: Any) -> dict[str, Any]:
    """Path ids as whole numbers: the routes take digits only, which the
    schema would otherwise call a string with a pattern."""
    for path_item in result.get("paths", {}).values():
        for method, operation in path_item.items():
            if method not in {"get", "post", "put", "patch", "delete"}:
                continue
            for parameter in operation.get("parameters", []):
                schema = parameter.get("schema", {})
                if parameter["in"] == "path" and schema.get("pattern") in _ID_PATTERNS:
                    parameter["schema"] = {
                        "type": "integer",
                        "format": "int64",
                        "minimum": 1,
                        "maximum": MAX_ID,
                    }
    return result
