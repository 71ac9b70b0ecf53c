"""Set-based writes: many rows per statement, for syncs and merges alike.

On PostgreSQL new rows go in with COPY, their ids drawn from the table's
sequence first so that the rows that point at them can be written the same
way; updates of many rows join arrays of values with ``unnest``; a list of ids
goes as one array parameter. Elsewhere (SQLite, the embedded default) the same
calls use ``bulk_create``, ``executemany`` and ``IN``.
"""

from __future__ import annotations

import datetime
import json
import queue
import threading
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

from django.db import connection, models, transaction
from django.db.models import BooleanField, Q
from django.db.models.expressions import DatabaseDefault, RawSQL
from django.utils import timezone

POSTGRES_CHUNK = 10_000
OTHER_CHUNK = 500


def is_postgres() -> bool:
    return connection.vendor == "postgresql"


def chunked(items: Sequence[Any], size: int | None = None) -> Iterator[Sequence[Any]]:
    """``items`` in slices small enough for one statement each."""
    size = size or (POSTGRES_CHUNK if is_postgres() else OTHER_CHUNK)
    for start in range(0, len(items), size):
        yield items[start : start + size]


def among(model: type[models.Model], field: str, ids: Sequence[int]) -> Q | RawSQL:
    """``field`` is one of ``ids``: on PostgreSQL one array parameter rather
    than a placeholder per id, which the driver would have to parse."""
    if not is_postgres():
        return Q(**{f"{field}__in": list(ids)})
    quote = connection.ops.quote_name
    column = f"{quote(model._meta.db_table)}.{quote(model._meta.get_field(field).column)}"
    ids = list(ids)
    if all(type(pk) is int for pk in ids):
        # The column names are ours; the ids go as one parameter, the text of an
        # array that the server parses (``_array_literal``), not a value each.
        sql = f"{column} = ANY(%s::bigint[])"
        return RawSQL(sql, (array_of(ids),), output_field=BooleanField())  # noqa: S611
    return RawSQL(f"{column} = ANY(%s)", (ids,), output_field=BooleanField())  # noqa: S611


def _field(model: type[models.Model], name: str) -> models.Field:
    return model._meta.get_field(name)


def _adapters(model: type[models.Model], fields: Sequence[str]) -> list[Any]:
    """Per column, a function that turns a Python value into what the driver
    takes, or None where the value goes as it is."""
    adapters: list[Any] = []
    for name in fields:
        field = _field(model, name)
        if isinstance(field, models.JSONField) or (
            not is_postgres() and isinstance(field, models.DateField | models.DateTimeField)
        ):
            adapters.append(lambda value, field=field: field.get_db_prep_value(value, connection))
        else:
            adapters.append(None)
    return adapters


def _adapt(row: Sequence[Any], adapters: list[Any]) -> Sequence[Any]:
    return [
        value if adapt is None else adapt(value) for value, adapt in zip(row, adapters, strict=True)
    ]


def insert_rows(
    model: type[models.Model],
    fields: Sequence[str],
    rows: Iterable[Sequence[Any]],
    *,
    count: int | None = None,
    ids: bool = True,
) -> list[int]:
    """Insert rows (values in the order of ``fields``, by attribute name such as
    ``person_id``) and return their new ids, in the same order. Given ``count``,
    ``rows`` may be a generator, so that they need not all be in memory at once.
    Without ``ids`` the table numbers the rows itself, in one statement, and
    nothing is returned (rows nothing else points at: a history)."""
    if count is None or not is_postgres():
        rows = list(rows)
        count = len(rows)
    if not count:
        return []
    if not is_postgres():
        objects = [model(**dict(zip(fields, row, strict=True))) for row in rows]
        model.objects.bulk_create(objects, batch_size=OTHER_CHUNK)
        return [obj.pk for obj in objects] if ids else []
    copy = _Copy(model, fields, with_ids=ids)
    with connection.cursor() as cursor:
        if not ids:
            copy.write(cursor, None, rows)
            return []
    with connection.cursor() as cursor:
        new = copy.draw_ids(cursor, count)
        copy.write(cursor, new, rows)
    return new


class _Copy:
    """The COPY of new rows into one table, its statements made up front (in the
    calling thread: ``Copies`` carries them out in another)."""

    def __init__(
        self, model: type[models.Model], fields: Sequence[str], *, with_ids: bool = True
    ) -> None:
        quote = connection.ops.quote_name
        self.table = model._meta.db_table
        self.quoted_table = quote(self.table)
        # Without ids the table numbers the rows itself (rows nothing points at).
        self.with_ids = with_ids
        names = ["id", *fields] if with_ids else list(fields)
        columns = ", ".join(quote(_field(model, name).column) for name in names)
        self.sql = f"COPY {self.quoted_table} ({columns}) FROM STDIN (FORMAT BINARY)"
        # JSON goes as its binary form, written here (see _jsonb): "bytea" dumps it as is.
        self.json = [
            i for i, name in enumerate(fields) if isinstance(_field(model, name), models.JSONField)
        ]
        self.types = [_copy_type(model, name) for name in names]
        for i in self.json:
            self.types[i + int(with_ids)] = "bytea"

    def draw_ids(self, cursor: Any, count: int) -> list[int]:
        # The sequence looked up once, not once per id (the lookup is most of the cost).
        cursor.execute(
            "WITH s AS MATERIALIZED (SELECT pg_get_serial_sequence(%s, 'id')::regclass AS seq) "
            "SELECT nextval(s.seq) FROM s, generate_series(1, %s)",
            [self.table, count],
        )
        return [row[0] for row in cursor.fetchall()]

    def write(self, cursor: Any, ids: Sequence[int] | None, rows: Iterable[Sequence[Any]]) -> None:
        """Write the rows, each after its id (``ids``, when the COPY has ids)."""
        # Binary COPY with the columns' types given: psycopg neither picks a dumper
        # per value nor writes text that the server parses again.
        json_columns = self.json
        numbered = (
            rows if ids is None else ((id_, *row) for id_, row in zip(ids, rows, strict=True))
        )
        at = int(ids is not None)
        with cursor.copy(self.sql) as copy:
            copy.set_types(self.types)
            if json_columns:
                for row in numbered:
                    row = list(row)
                    for i in json_columns:
                        row[i + at] = _jsonb(row[i + at])
                    copy.write_row(row)
            else:
                for row in numbered:
                    copy.write_row(row)

    def check_foreign_keys(self, cursor: Any) -> None:
        """Check the table's deferred foreign keys now, for the rows written so far,
        then defer them again for the rest of the transaction."""
        cursor.execute(
            "SELECT conname FROM pg_constraint WHERE conrelid = %s::regclass "
            "AND contype = 'f' AND condeferrable AND condeferred ORDER BY conname",
            [self.quoted_table],
        )
        # The cursor's own connection: this may run in another thread (Copies).
        quote = cursor.db.ops.quote_name
        names = ", ".join(quote(name) for (name,) in cursor.fetchall())
        if names:
            cursor.execute(f"SET CONSTRAINTS {names} IMMEDIATE")
            cursor.execute(f"SET CONSTRAINTS {names} DEFERRED")


_EMPTY_JSONB = b"\x01{}"


def _jsonb(value: Any) -> bytes:
    """A value as jsonb's binary form (version 1, then the JSON text): most are {},
    written once; json.dumps as psycopg's own dumper would call it for the others."""
    if isinstance(value, dict) and not value:
        return _EMPTY_JSONB
    return b"\x01" + json.dumps(value).encode()


class Copies:
    """New rows of several tables of one transaction, written by COPY from a
    thread of its own while the calling thread goes on, such as building the
    next table's rows: PostgreSQL's work on one table (its indexes, then its
    foreign-key checks) overlaps the Python that makes the next.

    One connection and one transaction: the thread uses the caller's cursor,
    and the connection's lock makes any statement of the caller wait for the
    COPY in progress, so nothing is ever read before it is written. The COPYs
    run in the order given. After each one the table's deferred foreign keys
    are checked (``SET CONSTRAINTS ... IMMEDIATE``, then ``DEFERRED`` again): the
    same checks that would otherwise all wait for the commit, now beside the
    caller's work. Leaving the block waits for all of them and raises the
    first error. Elsewhere than PostgreSQL each insert is made at once."""

    def __init__(self) -> None:
        self._jobs: queue.Queue[tuple[_Copy, list[int] | None, list[Sequence[Any]]] | None] = (
            queue.Queue()
        )
        self._thread: threading.Thread | None = None
        self._cursor: Any = None
        self._error: BaseException | None = None
        self._stop = False

    def __enter__(self) -> Copies:
        return self

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
        if exc_type is not None:
            self._stop = True  # the caller failed: what is left need not be written
        self._finish()
        if exc_type is None:
            self._raise()

    def insert(
        self,
        model: type[models.Model],
        fields: Sequence[str],
        rows: Iterable[Sequence[Any]],
        *,
        ids: bool = True,
    ) -> list[int]:
        """Queue the rows for their table and return their ids, drawn now (the
        caller's rows that point at them can be built at once); with ``ids=False``
        the table numbers them itself and an empty list is returned."""
        rows = list(rows)
        if not is_postgres():
            return insert_rows(model, fields, rows, ids=ids)
        self._raise()
        if not rows:
            return []
        copy = _Copy(model, fields, with_ids=ids)
        if self._cursor is None:
            self._cursor = connection.cursor()  # the thread's alone: a cursor keeps one result
        drawn = None
        if ids:
            with connection.cursor() as cursor:
                drawn = copy.draw_ids(cursor, len(rows))
        if self._thread is None:
            self._thread = threading.Thread(target=self._work, name="copies", daemon=True)
            self._thread.start()
        self._jobs.put((copy, drawn, rows))
        return drawn or []

    def _work(self) -> None:
        cursor = self._cursor
        while (job := self._jobs.get()) is not None:
            if self._stop or self._error is not None:
                continue
            copy, ids, rows = job
            try:
                with cursor.db.wrap_database_errors:
                    copy.write(cursor, ids, rows)
                    copy.check_foreign_keys(cursor)
            except BaseException as exc:  # noqa: BLE001 - raised in the caller's thread
                self._error = exc

    def _finish(self) -> None:
        if self._thread is not None:
            self._jobs.put(None)
            self._thread.join()
            self._thread = None
        if self._cursor is not None:
            self._cursor.close()
            self._cursor = None

    def _raise(self) -> None:
        if self._error is not None:
            error, self._error = self._error, None
            self._stop = True
            raise error


def _copy_type(model: type[models.Model], name: str) -> str:
    """The PostgreSQL type of a column as psycopg names it: "varchar(500)" -> "varchar"."""
    return _field(model, name).db_type(connection).split("(")[0].strip()


def _written_fields(objects: Sequence[models.Model]) -> list[models.Field]:
    """The columns written for instances of one model: all but the id and
    those the database fills (``db_default``); ``auto_now``/``auto_now_add``
    fields are set on every instance to one time."""
    now = timezone.now()
    fields = [
        field
        for field in type(objects[0])._meta.concrete_fields
        if not field.primary_key
        and not isinstance(getattr(objects[0], field.attname), DatabaseDefault)
    ]
    for field in fields:
        if getattr(field, "auto_now", False) or getattr(field, "auto_now_add", False):
            for obj in objects:
                setattr(obj, field.attname, now)
    return fields


def insert_objects(objects: Sequence[models.Model], *, ids: bool = True) -> list[models.Model]:
    """Insert unsaved instances of one model with ``insert_rows`` (COPY on
    PostgreSQL), setting their ids: for rows by the thousand, where
    ``bulk_create`` spends its time building statements. Field defaults are the
    instances' own; ``auto_now``/``auto_now_add`` fields get one time for all;
    a field the database fills (``db_default``) is left to it. Without ``ids``
    the instances get none (one statement fewer: rows nothing points at)."""
    if not objects:
        return []
    model = type(objects[0])
    fields = [field.attname for field in _written_fields(objects)]
    rows = ([getattr(obj, name) for name in fields] for obj in objects)
    if not ids:
        insert_rows(model, fields, rows, count=len(objects), ids=False)
        return list(objects)
    pks = insert_rows(model, fields, rows, count=len(objects))
    for obj, pk in zip(objects, pks, strict=True):
        obj.pk = pk
        obj._state.adding = False
    return list(objects)


def upsert_objects(
    objects: Sequence[models.Model], *, unique_fields: Sequence[str], update_fields: Sequence[str]
) -> list[models.Model]:
    """``bulk_create(update_conflicts=True)`` for rows by the thousand: on
    PostgreSQL the rows go by binary COPY into a temporary table, then one
    ``INSERT ... SELECT ... ON CONFLICT DO UPDATE`` (the driver builds no
    arrays of values in Python); each instance gets the id of its row, new or
    updated. Two instances with the same unique values end as the last one
    says, as one upsert after another would. ``auto_now`` fields get one time
    for all."""
    if not objects:
        return []
    model = type(objects[0])
    if not is_postgres():
        return model.objects.bulk_create(
            objects,
            batch_size=OTHER_CHUNK,
            update_conflicts=True,
            unique_fields=unique_fields,
            update_fields=update_fields,
        )
    meta = model._meta
    fields = _written_fields(objects)
    key_of = [meta.get_field(name).attname for name in unique_fields]
    # The last instance of each unique key is what the table ends with.
    last = {tuple(getattr(obj, name) for name in key_of): obj for obj in objects}
    ids = _upsert_staged(
        model,
        fields,
        ([getattr(obj, field.attname) for field in fields] for obj in last.values()),
        unique_fields=unique_fields,
        update_fields=update_fields,
        returning=True,
    )
    for obj in objects:
        obj.pk = ids[tuple(getattr(obj, name) for name in key_of)]
        obj._state.adding = False
    return list(objects)


def upsert_rows(
    model: type[models.Model],
    fields: Sequence[str],
    rows: Iterable[Sequence[Any]],
    *,
    unique_fields: Sequence[str],
    update_fields: Sequence[str],
    ids: bool = False,
) -> dict[tuple, int]:
    """``upsert_objects`` of plain rows (values in the order of ``fields``, by
    attribute name), without making an instance per row: the other fields take
    the model's defaults (``auto_now`` ones one time for all). With ``ids``,
    returns the id of each row by its unique values."""
    rows = list(rows)
    if not rows:
        return {}
    if not is_postgres():
        objects = [model(**dict(zip(fields, row, strict=True))) for row in rows]
        upsert_objects(objects, unique_fields=unique_fields, update_fields=update_fields)
        key_of = [model._meta.get_field(name).attname for name in unique_fields]
        return {tuple(getattr(obj, name) for name in key_of): obj.pk for obj in objects}
    meta = model._meta
    now = timezone.now()
    given = {name: i for i, name in enumerate(fields)}
    columns = [
        field
        for field in meta.concrete_fields
        if not field.primary_key
        and (field.attname in given or field.db_default is models.NOT_PROVIDED)
    ]
    # Per column, where its value comes from: the row, or one value for all.
    sources = []
    for field in columns:
        if field.attname in given:
            sources.append((given[field.attname], None))
        elif getattr(field, "auto_now", False) or getattr(field, "auto_now_add", False):
            sources.append((None, now))
        else:
            sources.append((None, field.get_default()))
    key_at = [given[meta.get_field(name).attname] for name in unique_fields]
    # The last row of each unique key is what the table ends with.
    last = {tuple(row[i] for i in key_at): row for row in rows}
    return _upsert_staged(
        model,
        columns,
        ([row[i] if i is not None else value for i, value in sources] for row in last.values()),
        unique_fields=unique_fields,
        update_fields=update_fields,
        returning=ids,
    )


def _upsert_staged(
    model: type[models.Model],
    fields: Sequence[models.Field],
    rows: Iterable[Sequence[Any]],
    *,
    unique_fields: Sequence[str],
    update_fields: Sequence[str],
    returning: bool,
) -> dict[tuple, int]:
    """Binary COPY of the rows into a temporary table, one ``INSERT ... SELECT
    ... ON CONFLICT DO UPDATE`` from it; the ids by unique key, if ``returning``."""
    meta = model._meta
    quote = connection.ops.quote_name
    columns = ", ".join(quote(field.column) for field in fields)
    keys = ", ".join(quote(meta.get_field(name).column) for name in unique_fields)
    updates = ", ".join(
        f"{quote(meta.get_field(name).column)} = EXCLUDED.{quote(meta.get_field(name).column)}"
        for name in update_fields
    )
    temporary = quote(f"upsert_{meta.db_table}"[:63])
    ids: dict[tuple, int] = {}
    # In a transaction, so that the staging table is dropped even if this fails.
    with transaction.atomic(savepoint=False), connection.cursor() as cursor:
        cursor.execute(
            f"CREATE TEMPORARY TABLE {temporary} AS "  # noqa: S608 - names are ours
            f"SELECT {columns} FROM {quote(meta.db_table)} WITH NO DATA"
        )
        with cursor.copy(f"COPY {temporary} ({columns}) FROM STDIN (FORMAT BINARY)") as copy:
            copy.set_types([_copy_type(model, field.name) for field in fields])
            for row in rows:
                copy.write_row(row)
        cursor.execute(
            f"INSERT INTO {quote(meta.db_table)} ({columns}) "  # noqa: S608 - names are ours
            f"SELECT {columns} FROM {temporary} "
            f"ON CONFLICT ({keys}) DO UPDATE SET {updates}"
            + (f" RETURNING id, {keys}" if returning else "")
        )
        if returning:
            for row in cursor.fetchall():
                ids[tuple(row[1:])] = row[0]
        cursor.execute(f"DROP TABLE {temporary}")
    return ids


def update_rows(
    model: type[models.Model], fields: Sequence[str], rows: Iterable[Sequence[Any]]
) -> None:
    """For each row ``(id, value, ...)``, set ``fields`` to the values: on
    PostgreSQL one statement per chunk, joining arrays of the values."""
    rows = list(rows)
    if not rows:
        return
    table = model._meta.db_table
    quote = connection.ops.quote_name
    columns = [_field(model, name) for name in fields]
    if not is_postgres():
        assignments = ", ".join(f"{quote(field.column)} = %s" for field in columns)
        adapters = _adapters(model, fields)
        with connection.cursor() as cursor:
            cursor.executemany(
                f"UPDATE {quote(table)} SET {assignments} WHERE id = %s",  # noqa: S608 - names are ours
                [[*_adapt(row[1:], adapters), row[0]] for row in rows],
            )
        return
    pk_type = model._meta.pk.db_type(connection)
    is_json = [isinstance(field, models.JSONField) for field in columns]
    arrays = ", ".join(
        [
            f"%s::{pk_type}[]",
            *(
                "%s::text[]" if json_ else f"%s::{field.db_type(connection)}[]"
                for field, json_ in zip(columns, is_json, strict=True)
            ),
        ]
    )
    names = ", ".join(["id", *(f"v{i}" for i in range(len(columns)))])
    assignments = ", ".join(
        f"{quote(field.column)} = u.v{i}" + ("::jsonb" if json_ else "")
        for i, (field, json_) in enumerate(zip(columns, is_json, strict=True))
    )
    sql = (
        f"UPDATE {quote(table)} AS t SET {assignments} "  # noqa: S608 - names are ours
        f"FROM unnest({arrays}) AS u({names}) WHERE t.id = u.id"
    )
    with connection.cursor() as cursor:
        for part in chunked(rows):
            values = [list(column) for column in zip(*part, strict=True)]
            for i, json_ in enumerate(is_json, start=1):
                if json_:
                    values[i] = [json.dumps(value) for value in values[i]]
            cursor.execute(sql, [_array_literal(column) for column in values])


def _element(value: Any) -> str:
    """One element of a PostgreSQL array literal."""
    if value is None:
        return "NULL"
    if value is True:
        return "t"
    if value is False:
        return "f"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, datetime.date):  # dates and datetimes, with their offset
        return value.isoformat()
    text = str(value)
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _array_literal(values: list[Any]) -> str | list[Any]:
    """A column of values as the text of an array (``{1,2,"a b"}``), which the
    server parses, where psycopg would adapt each value in Python (seconds for
    a run's 100,000); values of other types go to psycopg as a list."""
    if all(type(value) is int for value in values):
        return "{" + ",".join(map(str, values)) + "}"
    if not all(value is None or type(value) in _LITERAL_TYPES for value in values):
        return values
    return "{" + ",".join(map(_element, values)) + "}"


_LITERAL_TYPES = (int, float, bool, str, datetime.datetime, datetime.date)


def array_of(ids: Sequence[int]) -> str:
    """Integer ids as the text of one array parameter (``%s::bigint[]``), for
    PostgreSQL: ``{1,2,3}``, which the server parses, instead of a list psycopg
    adapts id by id."""
    return "{" + ",".join(map(str, map(int, ids))) + "}"
