"""Streaming CSV: rows go out in chunks as they are read, never all at once."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Iterator
from typing import Any

from django.http import StreamingHttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse
from rest_framework.renderers import BaseRenderer

# A spreadsheet runs a cell that starts with one of these as a formula.
_FORMULA_STARTS = frozenset("=+-@\t\r")


def neutralise(value: Any) -> Any:
    """Prefix a quote to text a spreadsheet would take for a formula (CSV injection)."""
    if value.__class__ is str and value[:1] in _FORMULA_STARTS:
        return "'" + value
    return value


ROWS_PER_CHUNK = 1000


def csv_chunks(header: list[str], rows: Iterable[list]) -> Iterator[str]:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(header)
    for count, row in enumerate(rows, start=1):
        writer.writerow([neutralise(value) for value in row])
        if count % ROWS_PER_CHUNK == 0:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue()


def csv_response(filename: str, header: list[str], rows: Iterable[list]) -> StreamingHttpResponse:
    response = StreamingHttpResponse(
        csv_chunks(header, rows), content_type="text/csv; charset=utf-8"
    )
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


class CSVRenderer(BaseRenderer):
    """Lets ``?format=csv`` select the export; the lists stream their rows
    themselves, so nothing reaches this renderer but a body-less answer."""

    media_type = "text/csv"
    format = "csv"
    charset = "utf-8"

    def render(self, data: Any, accepted_media_type: str | None = None, renderer_context=None):
        return b""


def csv_schema(header: list[str], what: str) -> dict:
    """What a ``?format=csv`` export is, for the schema: its own response type
    (text/csv), next to the JSON page, and the ``format`` and ``bom`` parameters."""
    columns = ", ".join(f"`{name}`" for name in header)
    return {
        "parameters": [
            OpenApiParameter(
                "format",
                OpenApiTypes.STR,
                enum=["json", "csv"],
                description=f"`csv` exports {what} (all pages, streamed) instead of a JSON "
                "page. The same as sending `Accept: text/csv`.",
            ),
        ],
        "response": OpenApiResponse(
            OpenApiTypes.STR,
            description=f"With `format=csv`: {what} as CSV with a header row: {columns}. "
            "Cells that a spreadsheet would run as formulas start with a quote.",
        ),
    }
