"""tracker.db: a queryset compiled once and run with another value bound; CSV written
by PostgreSQL."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta, timezone

import pytest
from django.db import connection

from people.models import Person
from tests.factories import make_person
from tracker.db import CompiledQuery, csv_copy, utc_iso_sql
from tracker.fields import iso_datetime

pytestmark = pytest.mark.django_db


def _named_after(pk: int):
    return Person.objects.filter(pk__gte=pk).order_by("-id").values_list("display_name", "id")


def test_a_compiled_query_gives_for_each_value_what_its_queryset_gives(
    django_assert_num_queries,
):
    people = [make_person(name) for name in ("Ava DuVernay", "Cate Blanchett", "Paul Dano")]
    query = CompiledQuery(_named_after)

    for person in people:
        with django_assert_num_queries(1):
            rows = query.rows(person.pk)
        assert rows == list(_named_after(person.pk))
    assert query.rows(people[-1].pk + 1) == []


def test_a_query_that_does_not_use_its_value_is_refused():
    query = CompiledQuery(lambda pk: Person.objects.values_list("id"))

    with pytest.raises(ValueError, match="does not use the value"):
        query.rows(1)


@pytest.mark.parametrize(
    "moment",
    [
        datetime(2025, 3, 17, 9, 12, tzinfo=UTC),
        datetime(2025, 3, 17, 9, 12, 0, 500000, tzinfo=UTC),
        datetime(2025, 3, 17, 9, 12, 5, 1, tzinfo=UTC),
        datetime(1999, 12, 31, 23, 59, 59, 999999, tzinfo=timezone(timedelta(hours=-5))),
    ],
)
def test_a_time_written_by_postgresql_is_what_the_api_writes(moment):
    with connection.cursor() as cursor:
        sql = f"SELECT {utc_iso_sql('t')} FROM (SELECT %s::timestamptz AS t) m"  # noqa: S608
        cursor.execute(sql, [moment])
        written = cursor.fetchone()[0]

    # The API writes the times it reads from the database, which come in UTC.
    assert written == iso_datetime(moment.astimezone(UTC))


def test_csv_written_by_postgresql_is_what_the_csv_module_writes():
    rows = [
        (1, "plain", None, 'say "hi"'),
        (2, "a,b", "line\nbreak", "cr\ronly"),
        (3, "Cuarón", "", "\\."),
    ]
    row = "(%s::int, %s::text, %s::text, %s::text)"
    sql = "SELECT n, a, NULLIF(b, ''), c FROM (VALUES {0}, {0}, {0}) v(n, a, b, c) ORDER BY n"
    sql = sql.format(row)

    records = list(csv_copy(sql, [value for row in rows for value in row]))

    written = io.StringIO()
    csv.writer(written).writerows(rows)
    assert b"".join(records).decode() == written.getvalue()
    assert len(records) == 3


def test_a_csv_copy_left_half_read_leaves_the_connection_usable():
    records = csv_copy("SELECT n, repeat('x', 200) FROM generate_series(1, %s) n", [200_000])

    assert next(records) == b"1," + b"x" * 200 + b"\r\n"
    records.close()  # the reader went away with most rows unsent

    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        assert cursor.fetchone() == (1,)
