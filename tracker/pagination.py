"""Pagination: numbered pages for the small lists, keyset cursors for the large.

The cursor encodes the ordering values of the last row seen, so each page is an
index range scan however deep the client goes, and rows added meanwhile never
shift a page.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from django.core.paginator import Paginator
from django.db.models import Count, Q, QuerySet, Window
from django.utils.dateparse import parse_datetime
from rest_framework.exceptions import NotFound
from rest_framework.pagination import BasePagination, PageNumberPagination
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.utils.urls import remove_query_param, replace_query_param


class PagePagination(PageNumberPagination):
    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 500


# The annotation that carries the count of the whole list on each row of its page.
_TOTAL = "page_list_total"


class _CountedWithPagePaginator(Paginator):
    """Reads the count with the page (``COUNT(*) OVER ()``): one query, where a
    separate COUNT would find every row of the list a second time. A page past the
    end has no row to carry the count, and is counted apart to be refused."""

    def page(self, number: Any) -> Any:
        try:
            start = (int(number) - 1) * self.per_page
        except (TypeError, ValueError):
            return super().page(number)
        if start < 0:
            return super().page(number)
        counted = self.object_list.annotate(**{_TOTAL: Window(Count("*"))})
        rows = list(counted[start : start + self.per_page])
        if not rows and start > 0:
            return super().page(number)
        self.count = getattr(rows[0], _TOTAL) if rows else 0
        return self._get_page(rows, self.validate_number(number), self)


class SearchPagePagination(PagePagination):
    """Numbered pages of a search, counted with the page: finding the matches
    (a trigram index scan and a recheck of each) is most of a search's cost."""

    django_paginator_class = _CountedWithPagePaginator


class KeysetPagination(BasePagination):
    """Cursor pagination over a unique ordering such as ``("first_seen_at", "id")``.

    Unlike REST framework's cursor pagination, which keys on the first field only
    and skips ties by offset, this compares the whole tuple, so thousands of rows
    sharing a timestamp (one sync run) cost nothing extra.
    """

    ordering: Sequence[str] = ("id",)
    # Where a row of values keeps an ordering field under another name (a time
    # PostgreSQL wrote as text, say): {field: key}.
    row_keys: Mapping[str, str] = {}
    page_size = 100
    max_page_size = 1000
    cursor_query_param = "cursor"
    page_size_query_param = "page_size"
    invalid_cursor_message = "This cursor is not one the API gave; start again without it."
    # What ``count`` counts when it is not the queryset paged: the same rows without
    # the joins that only read their columns (set by the view, per request).
    counted: QuerySet | None = None

    def get_page_size(self, request: Request) -> int:
        raw = request.query_params.get(self.page_size_query_param)
        if raw is None:
            return self.page_size
        try:
            size = int(raw)
        except ValueError:
            return self.page_size
        return max(1, min(size, self.max_page_size))

    # --- cursor encoding ---------------------------------------------------------

    def _encode(self, values: list[Any], reverse: bool) -> str:
        payload = [value.isoformat() if isinstance(value, datetime) else value for value in values]
        raw = json.dumps({"p": payload, "r": reverse}, separators=(",", ":")).encode()
        return base64.urlsafe_b64encode(raw).decode().rstrip("=")

    def _decode(self, cursor: str) -> tuple[list[Any], bool]:
        try:
            raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
            data = json.loads(raw)
            values, reverse = data["p"], bool(data["r"])
        except (binascii.Error, ValueError, KeyError, TypeError, UnicodeDecodeError):
            raise NotFound(self.invalid_cursor_message) from None
        if not isinstance(values, list) or len(values) != len(self.ordering):
            raise NotFound(self.invalid_cursor_message)
        decoded = []
        for field, value in zip(self._fields(), values, strict=True):
            if field.endswith("_at"):
                try:
                    parsed = parse_datetime(value) if isinstance(value, str) else None
                except ValueError:  # well formed but impossible, such as month 13
                    parsed = None
                if parsed is None:
                    raise NotFound(self.invalid_cursor_message)
                value = parsed
            elif isinstance(value, bool) or not isinstance(value, int if field == "id" else str):
                raise NotFound(self.invalid_cursor_message)
            decoded.append(value)
        return decoded, reverse

    # --- the query ---------------------------------------------------------------

    def _fields(self) -> list[str]:
        return [name.lstrip("-") for name in self.ordering]

    def _after(self, values: list[Any], reverse: bool) -> Q:
        """Rows strictly after ``values`` in the ordering (before, when reversed)."""
        condition = Q()
        fields = self.ordering
        for index in range(len(fields) - 1, -1, -1):
            name = fields[index].lstrip("-")
            descending = fields[index].startswith("-") != reverse
            op = "lt" if descending else "gt"
            step = Q(**{f"{name}__{op}": values[index]})
            if index < len(fields) - 1:
                step |= Q(**{name: values[index]}) & condition
            condition = step
        # A redundant bound on the first column lets the planner start an index
        # range scan there instead of filtering the whole letter.
        first = fields[0].lstrip("-")
        descending = fields[0].startswith("-") != reverse
        bound = Q(**{f"{first}__{'lte' if descending else 'gte'}": values[0]})
        return bound & condition

    def paginate_queryset(
        self, queryset: QuerySet, request: Request, view: Any = None
    ) -> list[Any]:
        self.request = request
        self.page_size_value = self.get_page_size(request)
        raw_cursor = request.query_params.get(self.cursor_query_param)
        reverse = False
        counted = queryset if self.counted is None else self.counted
        self.count = counted.order_by().count()
        if raw_cursor:
            values, reverse = self._decode(raw_cursor)
            queryset = queryset.filter(self._after(values, reverse))
        order = [
            (name[1:] if name.startswith("-") else f"-{name}") if reverse else name
            for name in self.ordering
        ]
        rows = list(queryset.order_by(*order)[: self.page_size_value + 1])
        has_more = len(rows) > self.page_size_value
        rows = rows[: self.page_size_value]
        if reverse:
            rows.reverse()
            self.has_next, self.has_previous = bool(rows), has_more
        else:
            self.has_next, self.has_previous = has_more, bool(raw_cursor) and bool(rows)
        self.rows = rows
        return rows

    def _position(self, row: Any) -> list[Any]:
        if not isinstance(row, dict):
            return [getattr(row, name) for name in self._fields()]
        position = []
        for name in self._fields():
            value = row[self.row_keys.get(name, name)]
            if name.endswith("_at") and isinstance(value, str):
                value = datetime.fromisoformat(value)  # a time PostgreSQL wrote as text
            position.append(value)
        return position

    def _link(self, cursor: str | None) -> str | None:
        url = self.request.build_absolute_uri()
        if cursor is None:
            return None
        return replace_query_param(url, self.cursor_query_param, cursor)

    def get_next_link(self) -> str | None:
        if not self.has_next or not self.rows:
            return None
        return self._link(self._encode(self._position(self.rows[-1]), reverse=False))

    def get_previous_link(self) -> str | None:
        if not self.has_previous:
            return None
        if not self.rows:
            return remove_query_param(self.request.build_absolute_uri(), self.cursor_query_param)
        return self._link(self._encode(self._position(self.rows[0]), reverse=True))

    def get_paginated_response(self, data: Any) -> Response:
        return Response(
            {
                "count": self.count,
                "next": self.get_next_link(),
                "previous": self.get_previous_link(),
                "results": data,
            }
        )

    def get_paginated_response_schema(self, schema: dict) -> dict:
        link = {"type": "string", "nullable": True, "format": "uri"}
        return {
            "type": "object",
            "required": ["count", "next", "previous", "results"],
            "properties": {
                "count": {
                    "type": "integer",
                    "description": "Rows in the whole filtered list, on every page.",
                    "example": 412,
                },
                "next": {**link, "example": "https://tracker.example.org/api/...?cursor=WzE"},
                "previous": {**link, "example": None},
                "results": schema,
            },
        }

    def get_schema_operation_parameters(self, view: Any) -> list[dict]:
        return [
            {
                "name": self.cursor_query_param,
                "required": False,
                "in": "query",
                "description": "The cursor of the page, as given by `next` or `previous`.",
                "schema": {"type": "string"},
            },
            {
                "name": self.page_size_query_param,
                "required": False,
                "in": "query",
                "description": f"Rows per page, at most {self.max_page_size}.",
                "schema": {"type": "integer", "minimum": 1, "maximum": self.max_page_size},
            },
        ]
