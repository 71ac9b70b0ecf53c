"""Request body parsers that refuse, in one place for every serializer, what
PostgreSQL or Python would trip over later:

- JSON nested deeper than ``MAX_DEPTH`` (Python's decoder would otherwise hit its
  recursion limit and answer a 500);
- text holding NUL or an unpaired surrogate, anywhere in the body, keys
  included (PostgreSQL stores neither in text or JSON);
- form data that is not valid UTF-8 (Django would quietly turn it into U+FFFD).

Each refusal is a 400 in the API's error format naming the field.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import unquote_to_bytes

from django.conf import settings
from django.http import QueryDict
from rest_framework import exceptions, parsers
from rest_framework.parsers import DataAndFiles

MAX_DEPTH = 32

_NUL = "Text may not contain the NUL character (\\u0000)"
_SURROGATE = "Text may not contain unpaired surrogate characters (\\ud800-\\udfff)"


def _problem(text: str) -> tuple[str, str] | None:
    if "\x00" in text:
        return _NUL, "null_characters_not_allowed"
    if any("\ud800" <= char <= "\udfff" for char in text):
        return _SURROGATE, "surrogate_characters_not_allowed"
    return None


def find_unstorable(data: Any) -> tuple[tuple[str, ...], str, str] | None:
    """(path, message, code) of the first text PostgreSQL cannot store, or of a
    nesting deeper than MAX_DEPTH; None when all is well. Walks without
    recursion, so that no nesting can exhaust the stack here."""
    stack: list[tuple[Any, tuple[str, ...]]] = [(data, ())]
    while stack:
        value, path = stack.pop()
        if len(path) > MAX_DEPTH:
            return path, f"The JSON is nested deeper than {MAX_DEPTH} levels", "too_deep"
        if isinstance(value, str):
            texts = [value]
        elif isinstance(value, dict):
            texts = [key for key in value if isinstance(key, str)]
            stack.extend((item, (*path, str(key))) for key, item in value.items())
        elif isinstance(value, list | tuple):
            texts = []
            stack.extend((item, (*path, str(index))) for index, item in enumerate(value))
        else:
            texts = []
        for text in texts:
            problem = _problem(text)
            if problem:
                return path, *problem
    return None


def check_parsed(data: Any) -> None:
    """Raise a ValidationError naming the first field whose text PostgreSQL cannot
    store, or a ParseError when the data is nested deeper than MAX_DEPTH."""
    found = find_unstorable(data)
    if found is None:
        return
    path, message, code = found
    if code == "too_deep":
        raise exceptions.ParseError(message + ".", code=code)
    inside = f" (at {'.'.join(path)})" if len(path) > 1 else ""
    field = path[0] if path else "non_field_errors"
    raise exceptions.ValidationError(
        {field: [exceptions.ErrorDetail(message + inside + ".", code)]}
    )


class JSONParser(parsers.JSONParser):
    def parse(self, stream: Any, media_type: str | None = None, parser_context=None) -> Any:
        try:
            data = super().parse(stream, media_type, parser_context)
        except RecursionError:
            raise exceptions.ParseError(
                f"The JSON is nested deeper than {MAX_DEPTH} levels.", code="too_deep"
            ) from None
        check_parsed(data)
        return data


def _check_form_encoding(body: bytes, encoding: str) -> None:
    for pair in body.split(b"&"):
        for piece in pair.split(b"=", 1):
            try:
                unquote_to_bytes(piece.replace(b"+", b" ")).decode(encoding)
            except UnicodeDecodeError as exc:
                raise exceptions.ParseError(
                    f"The form data is not valid {encoding}: {exc.reason} "
                    f"in {piece[:40].decode('ascii', 'replace')!r}.",
                    code="invalid_encoding",
                ) from None


class FormParser(parsers.FormParser):
    def parse(self, stream: Any, media_type: str | None = None, parser_context=None) -> QueryDict:
        parser_context = parser_context or {}
        encoding = parser_context.get("encoding", settings.DEFAULT_CHARSET)
        body = stream.read()
        _check_form_encoding(body, encoding)
        data = QueryDict(body, encoding=encoding)
        check_parsed({key: data.getlist(key) for key in data})
        return data


class MultiPartParser(parsers.MultiPartParser):
    def parse(self, stream: Any, media_type: str | None = None, parser_context=None) -> Any:
        parsed: DataAndFiles = super().parse(stream, media_type, parser_context)
        check_parsed({key: parsed.data.getlist(key) for key in parsed.data})
        return parsed
