"""Paths of the API's detail pages, built without reversing each one: a page of
results links every row, and reversing each link costs more than the rest of the
row."""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from django.urls import get_script_prefix, reverse
from django.utils.encoding import iri_to_uri

# Digits fit every detail route's argument, numeric ids and slugs alike.
_MARKER = "9876543210"


@lru_cache(maxsize=64)
def _path_around(name: str, script_prefix: str) -> tuple[str, str]:
    """What comes before and after the one argument of a detail path."""
    before, _, after = reverse(name, args=[_MARKER]).partition(_MARKER)
    return before, after


def detail_path(name: str, value: object) -> str:
    """``reverse(name, args=[value])`` for a route with one argument."""
    before, after = _path_around(name, get_script_prefix())
    return f"{before}{value}{after}"


def detail_url(request: Any, name: str, pk: int) -> str:
    """``request.build_absolute_uri(reverse(name, args=[pk]))``, with the parts
    around the id made absolute once per request."""
    around = request.__dict__.setdefault("_detail_url_parts", {})
    parts = around.get(name)
    if parts is None:
        before, after = _path_around(name, get_script_prefix())
        parts = around[name] = (request.build_absolute_uri(before), iri_to_uri(after))
    return f"{parts[0]}{int(pk)}{parts[1]}"
