"""Streaming exports, CSV and NDJSON: rows go out in chunks as they are read,
never all at once."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Iterator
from itertools import islice
from typing import Any

from django.http import StreamingHttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse
from rest_framework.exceptions import ValidationError
from rest_framework.renderers import BaseRenderer
from rest_framework.response import Response

from tracker.renderers import JSONRenderer

# A spreadsheet runs a cell that starts with one of these as a formula.
_FORMULA_STARTS = frozenset("=+-@\t\r")


def neutralise(value: Any) -> Any:
    """Prefix a quote to text a spreadsheet would take for a formula (CSV injection)."""
    if value.__class__ is str and value[:1] in _FORMULA_STARTS:
        return "'" + value
    return value


ROWS_PER_CHUNK = 1000


# Excel reads a CSV as UTF-8 only when it starts with this mark ("Cuarón", not "CuarÃ³n").
BOM = "\ufeff"
_TRUE, _FALSE = {"1", "true", "yes"}, {"", "0", "false", "no"}


def csv_bom(request: Any) -> bool:
    """Whether the export should start with a byte order mark (``?bom=1``)."""
    raw = (request.query_params.get("bom") or "").strip().lower()
    if raw in _TRUE:
        return True
    if raw in _FALSE:
        return False
    raise ValidationError({"bom": ["Give 1 (start the CSV with a byte order mark) or 0."]})


def csv_chunks(header: list[str], rows: Iterable[list], *, bom: bool = False) -> Iterator[str]:
    """The CSV text of ``rows``, their formulas neutralised, in chunks of ``ROWS_PER_CHUNK``."""
    buffer = io.StringIO()
    if bom:
        buffer.write(BOM)
    writer = csv.writer(buffer)
    writer.writerow(header)
    rows = iter([neutralise(value) for value in row] for row in rows)
    while True:
        before = buffer.tell()
        writer.writerows(islice(rows, ROWS_PER_CHUNK))
        if buffer.tell() == before:
            break
        yield buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()
    yield buffer.getvalue()


def csv_records(rows: Iterable[list]) -> Iterator[bytes]:
    """Each of ``rows`` as one CSV record, written by ``csv.writer``, as UTF-8."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    for row in rows:
        writer.writerow(row)
        yield buffer.getvalue().encode()
        buffer.seek(0)
        buffer.truncate()


def _record_chunks(header: list[str], records: Iterable[bytes], *, bom: bool) -> Iterator[bytes]:
    """The header, then ``records`` already written (``csv_records``,
    ``tracker.db.csv_copy``) ``ROWS_PER_CHUNK`` at a time."""
    head = io.StringIO()
    if bom:
        head.write(BOM)
    csv.writer(head).writerow(header)
    first = head.getvalue().encode()
    records = iter(records)
    while chunk := b"".join(islice(records, ROWS_PER_CHUNK)):
        yield first + chunk
        first = b""
    if first:
        yield first


def csv_response(
    filename: str,
    header: list[str],
    rows: Iterable,
    *,
    bom: bool = False,
    written: bool = False,
) -> StreamingHttpResponse:
    """A streamed CSV download of ``rows``: lists of values, or with ``written`` CSV
    records already written, their formulas neutralised (``csv_records``,
    ``tracker.db.csv_copy``)."""
    chunks = _record_chunks(header, rows, bom=bom) if written else csv_chunks(header, rows, bom=bom)
    response = StreamingHttpResponse(chunks, content_type="text/csv; charset=utf-8")
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


def export_schema(header: list[str], what: str, *, ndjson: bool = False) -> dict:
    """What the exports of a list are, for the schema: their own response types
    next to the JSON page, and the ``format`` and ``bom`` parameters."""
    formats = ["json", "csv", *(["ndjson"] if ndjson else [])]
    columns = ", ".join(f"`{name}`" for name in header)
    responses = {
        "text/csv": OpenApiResponse(
            OpenApiTypes.STR,
            description=f"With `format=csv`: {what} as CSV with a header row: {columns}. "
            "Cells that a spreadsheet would run as formulas start with a quote.",
        )
    }
    if ndjson:
        responses[NDJSON_MEDIA_TYPE] = OpenApiResponse(
            OpenApiTypes.STR,
            description=f"With `format=ndjson`: {what}, one JSON object a line, with the "
            f"keys {columns}.",
        )
    return {
        "parameters": [
            OpenApiParameter(
                "format",
                OpenApiTypes.STR,
                enum=formats,
                description=f"`csv` exports {what} (all pages, streamed) instead of a JSON "
                "page; so does `Accept: text/csv`."
                + (" `ndjson`: one JSON object a line." if ndjson else ""),
            ),
            OpenApiParameter(
                "bom",
                OpenApiTypes.INT,
                enum=[0, 1],
                description="With `format=csv`: 1 starts the file with a byte order mark, "
                "so that Excel reads accents right (Cuarón).",
            ),
        ],
        "responses": responses,
    }


NDJSON_MEDIA_TYPE = "application/x-ndjson"


def ndjson_response(filename: str, rows: Iterable[dict]) -> StreamingHttpResponse:
    def lines() -> Iterator[str]:
        chunk: list[str] = []
        for row in rows:
            chunk.append(json.dumps(row, ensure_ascii=False, default=str) + "\n")
            if len(chunk) == ROWS_PER_CHUNK:
                yield "".join(chunk)
                chunk = []
        yield "".join(chunk)

    response = StreamingHttpResponse(lines(), content_type=f"{NDJSON_MEDIA_TYPE}; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


def export_response(
    request: Any, name: str, header: list[str], rows: Iterable[dict], export: str
) -> StreamingHttpResponse:
    """``rows`` (dicts with the ``header`` keys) as the export asked for: NDJSON
    as they are, CSV with lists joined by "; " and objects as JSON text."""
    if export == "ndjson":
        return ndjson_response(f"{name}.ndjson", rows)
    bom = csv_bom(request)

    def cells(row: dict) -> list:
        return [_cell(row[key]) for key in header]

    return csv_response(f"{name}.csv", header, (cells(row) for row in rows), bom=bom)


def _cell(value: Any) -> Any:
    if isinstance(value, list):
        return "; ".join(str(item) for item in value)
    if isinstance(value, dict):
        return json.dumps(value, ensure_ascii=False, sort_keys=True) if value else ""
    return "" if value is None else value


class NDJSONRenderer(CSVRenderer):
    """Lets ``?format=ndjson`` select the export (see CSVRenderer)."""

    media_type = NDJSON_MEDIA_TYPE
    format = "ndjson"


class ExportListMixin:
    """A list that exports, as well as JSON pages, in ``export_renderers``'
    formats; an export that cannot start answers in the API's JSON error format."""

    export_renderers: tuple[type[BaseRenderer], ...] = (CSVRenderer,)

    def get_renderers(self) -> list:
        renderers = super().get_renderers()
        if getattr(self, "action", None) == "list":
            renderers.extend(renderer() for renderer in self.export_renderers)
        return renderers

    def export_format(self) -> str | None:
        """``csv`` or ``ndjson`` when the list is asked for as an export."""
        renderer_format = self.request.accepted_renderer.format
        exports = {renderer.format for renderer in self.export_renderers}
        return renderer_format if renderer_format in exports else None

    def finalize_response(self, request, response, *args, **kwargs):
        response = super().finalize_response(request, response, *args, **kwargs)
        failed = isinstance(response, Response) and response.status_code >= 400
        if failed and isinstance(response.accepted_renderer, CSVRenderer):
            response.accepted_renderer = JSONRenderer()
            response.accepted_media_type = JSONRenderer.media_type
        return response
