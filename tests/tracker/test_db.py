"""tracker.db: a queryset compiled once and run with another value bound."""

from __future__ import annotations

import pytest

from people.models import Person
from tests.factories import make_person
from tracker.db import CompiledQuery

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
