"""Set-based writes."""

import pytest

from people.models import Person, PersonName
from people.services import person_create
from tracker.bulk import among, chunked, insert_rows, update_rows

pytestmark = pytest.mark.django_db


def test_it_inserts_rows_and_gives_their_ids_in_order():
    person = person_create(name="Cate Blanchett")
    ids = insert_rows(
        PersonName,
        ["person_id", "name", "name_key", "first_seen_at"],
        [
            (person.pk, "Blanchett, Cate", "cate blanchett", person.created_at),
            (person.pk, "C. Blanchett", "c blanchett", person.created_at),
        ],
    )
    assert [PersonName.objects.get(pk=pk).name for pk in ids] == ["Blanchett, Cate", "C. Blanchett"]


def test_it_updates_many_rows_in_one_call_including_json():
    first, second = person_create(name="Ava DuVernay"), person_create(name="Eva Mendes")
    update_rows(
        Person,
        ["notes", "external_ids"],
        [(first.pk, "Director.", {"wikidata": "Q1"}), (second.pk, "Actor.", {})],
    )
    first.refresh_from_db(), second.refresh_from_db()
    assert (first.notes, first.external_ids) == ("Director.", {"wikidata": "Q1"})
    assert (second.notes, second.external_ids) == ("Actor.", {})


def test_among_selects_exactly_the_ids_given():
    people = [person_create(name=name) for name in ("Lana Wachowski", "Lilly Wachowski", "X Y")]
    chosen = [people[0].pk, people[2].pk]
    assert sorted(
        Person.objects.filter(among(Person, "id", chosen)).values_list("pk", flat=True)
    ) == (chosen)


def test_chunked_covers_every_item_once():
    items = list(range(25))
    assert [x for chunk in chunked(items, 10) for x in chunk] == items
    assert [len(chunk) for chunk in chunked(items, 10)] == [10, 10, 5]
