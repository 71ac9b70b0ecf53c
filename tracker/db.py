"""PostgreSQL expressions for the API's hot paths: rows that PostgreSQL shapes
itself, so that Python does not convert them value by value."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any
from weakref import WeakKeyDictionary

from django.db import DEFAULT_DB_ALIAS, connections, transaction
from django.db.models import Func, JSONField, QuerySet, TextField, Value


class LoadedJSON(JSONField):
    """JSON that psycopg has already parsed (the ``json`` type, unlike ``jsonb``)."""

    def from_db_value(self, value: Any, expression: Any, connection: Any) -> Any:
        return json.loads(value) if isinstance(value, str) else value


class UTCText(Func):
    """A timestamp as ISO 8601 text in UTC ("2025-03-17T09:12:00.000000Z")."""

    template = "to_char(%(expressions)s AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"')"
    output_field = TextField()


def utc_iso_sql(expression: str) -> str:
    """SQL writing a timestamp as ``tracker.fields.iso_datetime`` writes it: UTC with
    a Z, the microseconds only when there are some ("2025-03-17T09:12:00Z",
    "2025-03-17T09:12:00.500000Z"), so that Python need not read and write it again.
    (``mod``, not ``%``, which a query with parameters would take for one.)"""
    utc = f"({expression}) AT TIME ZONE 'UTC'"
    return (
        f"to_char({utc}, 'YYYY-MM-DD\"T\"HH24:MI:SS') || CASE WHEN "
        f"mod(extract(microseconds FROM {expression})::bigint, 1000000) = 0 THEN '' "
        f"ELSE to_char({utc}, '.US') END || 'Z'"
    )


class APITime(Func):
    """A timestamp written by PostgreSQL as the API writes it (``utc_iso_sql``)."""

    template = utc_iso_sql("%(expressions)s")
    output_field = TextField()


# --- Queries compiled once --------------------------------------------------------

# Stands for the value a compiled query is later run with: an integer no id takes.
_BOUND = -7_302_915_486_113


class CompiledQuery:
    """A ``values_list`` queryset compiled into SQL once per connection and then run
    with one value bound where ``build`` was given its argument.

    Building a queryset and compiling it costs more CPU than a small query takes to
    run; a read made on every request of a page keeps the SQL and the converters of
    its columns and binds only the value (such as the id of the person shown).
    ``build(value)`` must return the same query for every value; ``marker`` stands
    for the value while it is compiled (for a text, give one no real value takes).
    """

    def __init__(self, build: Callable[[Any], QuerySet], marker: Any = _BOUND) -> None:
        self._build = build
        self._marker = marker
        self._compiled: WeakKeyDictionary = WeakKeyDictionary()

    def _compile(self, connection: Any) -> tuple:
        queryset = self._build(self._marker)
        query = queryset.query
        compiler = query.get_compiler(connection=connection)
        sql, params = compiler.as_sql()
        bound = [index for index, param in enumerate(params) if param == self._marker]
        if not bound:
            raise ValueError("the query does not use the value it was built with")
        # The columns come as the query selects them (annotations last), the rows
        # as values_list names them.
        selected = [*query.extra_select, *query.values_select, *query.annotation_select]
        order = [selected.index(name) for name in queryset._fields]
        converters = compiler.get_converters([s[0] for s in compiler.select[: compiler.col_count]])
        if compiler.has_composite_fields([s[0] for s in compiler.select]):
            raise ValueError("a compiled query cannot select a composite key")
        return compiler, sql, tuple(params), bound, order, converters

    def rows(self, value: Any) -> list[tuple]:
        """The query's rows for ``value``, as the queryset would give them."""
        connection = connections[DEFAULT_DB_ALIAS]  # this thread's
        compiled = self._compiled.get(connection)
        if compiled is None:
            compiled = self._compiled[connection] = self._compile(connection)
        compiler, sql, params, bound, order, converters = compiled
        params = list(params)
        for index in bound:
            params[index] = value
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
            fetched = cursor.fetchall()
        # The column converters found once, as results_iter would find them each time.
        rows = compiler.apply_converters(fetched, converters) if converters else fetched
        return [tuple(row[index] for index in order) for row in rows]


# ``regexp_replace(text, FORMULA_START, FORMULA_QUOTED)`` puts a quote before a first
# character that makes a spreadsheet run the cell as a formula.
FORMULA_START = "^([=+@\t\r-])"
FORMULA_QUOTED = "'\\1"


class Neutralised(Func):
    """Text with a quote put before a first character that makes a spreadsheet run
    the cell as a formula: ``tracker.csv.neutralise`` done by PostgreSQL, once per
    cell, for exports too long to check value by value in Python."""

    function = "regexp_replace"
    output_field = TextField()

    def __init__(self, expression: Any) -> None:
        super().__init__(expression, Value(FORMULA_START), Value(FORMULA_QUOTED))


# --- CSV written by PostgreSQL ------------------------------------------------------


def csv_copy(sql: str, params: list | tuple) -> Iterator[bytes]:
    """The rows of a query as CSV records written by PostgreSQL (``COPY ... TO STDOUT``),
    one record at a time, each as ``csv.writer`` writes it (``tracker.csv``).

    Both quote a cell only when it holds a comma, a double quote or a line break, and
    double its quotes; PostgreSQL ends a record with ``\\n`` and quotes an empty
    text (to tell it from NULL), so each record gets ``csv.writer``'s ``\\r\\n`` and
    the query must give NULL for empty text (``NULLIF(text, '')``), which both write
    as nothing. A record comes as one message of its own, so its last byte is its
    end, whatever line breaks its cells hold.

    The query runs in a transaction, without JIT compilation: the estimated cost of
    a long export makes PostgreSQL compile the query first, which took longer than
    running it.
    """
    connection = connections[DEFAULT_DB_ALIAS]
    statement = f"COPY ({connection.ops.compose_sql(sql, params)}) TO STDOUT (FORMAT csv)"
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SET LOCAL jit = off")
        with cursor.copy(statement) as copy:
            for record in copy:
                yield bytes(record[:-1]) + b"\r\n"
