"""Set-based writes."""

from datetime import timedelta

import pytest
from django.utils import timezone

from people.models import MatchJudgement, Person, PersonName
from people.services import person_create
from tracker.bulk import (
    among,
    chunked,
    insert_objects,
    insert_rows,
    update_rows,
    upsert_objects,
    upsert_rows,
)

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


def test_it_inserts_instances_with_their_defaults_and_sets_their_ids():
    person = person_create(name="Cate Blanchett")
    rows = insert_objects(
        [
            PersonName(person_id=person.pk, name="Blanchett, Cate", name_key="cate blanchett"),
            PersonName(person_id=person.pk, name="C. Blanchett", name_key="c blanchett"),
        ]
    )
    stored = [PersonName.objects.get(pk=row.pk) for row in rows]
    assert [(row.name, row.source_id) for row in stored] == [
        ("Blanchett, Cate", None),
        ("C. Blanchett", None),
    ]
    assert stored[0].first_seen_at is not None
    created = insert_objects([Person(display_name="Ava DuVernay", name_key="ava duvernay")])
    assert Person.objects.get(pk=created[0].pk).external_ids == {}


def test_it_upserts_instances_updating_only_the_fields_named():
    a, b, c = (person_create(name=name) for name in ("Lana Wachowski", "Lilly Wachowski", "X Y"))
    old = MatchJudgement.objects.create(person_a=a, person_b=b, score=0.5, reason="By hand.")
    rows = upsert_objects(
        [
            MatchJudgement(
                person_a=a, person_b=b, score=0.9, reason="Not kept.", explanation={"x": 1}
            ),
            MatchJudgement(person_a=a, person_b=c, score=0.7),
        ],
        unique_fields=["person_a", "person_b"],
        update_fields=["score", "explanation", "updated_at"],
    )
    assert rows[0].pk == old.pk
    old.refresh_from_db()
    assert (old.score, old.reason, old.explanation) == (0.9, "By hand.", {"x": 1})
    new = MatchJudgement.objects.get(pk=rows[1].pk)
    assert (new.person_a_id, new.person_b_id, new.score) == (a.pk, c.pk, 0.7)
    assert MatchJudgement.objects.count() == 2


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


def test_an_upsert_naming_one_row_twice_ends_as_the_last_says():
    a, b = (person_create(name=name) for name in ("Lana Wachowski", "Lilly Wachowski"))
    rows = upsert_objects(
        [
            MatchJudgement(person_a=a, person_b=b, score=0.4, explanation={"first": True}),
            MatchJudgement(person_a=a, person_b=b, score=0.8, explanation={"second": True}),
        ],
        unique_fields=["person_a", "person_b"],
        update_fields=["score", "explanation", "updated_at"],
    )
    stored = MatchJudgement.objects.get()
    assert rows[0].pk == rows[1].pk == stored.pk
    assert (stored.score, stored.explanation) == (0.8, {"second": True})
    # Twice in one transaction: the rows' staging table of the first call is gone.
    again = upsert_objects(
        [MatchJudgement(person_a=a, person_b=b, score=0.9)],
        unique_fields=["person_a", "person_b"],
        update_fields=["score", "updated_at"],
    )
    assert again[0].pk == stored.pk
    assert MatchJudgement.objects.get().score == 0.9


def test_it_updates_text_that_looks_like_array_syntax_times_and_nulls_as_given():
    first, second = person_create(name="Ava DuVernay"), person_create(name="Eva Mendes")
    awkward = 'Said "no", then {yes}; a \\ back\\slash, NULL, and , commas'
    moment = timezone.now() - timedelta(days=3, microseconds=7)
    update_rows(
        Person,
        ["notes", "merged_at", "sort_name"],
        [(first.pk, awkward, moment, "NULL"), (second.pk, "", None, " spaced ")],
    )
    first.refresh_from_db(), second.refresh_from_db()
    assert (first.notes, first.merged_at, first.sort_name) == (awkward, moment, "NULL")
    assert (second.notes, second.merged_at, second.sort_name) == ("", None, " spaced ")
    judgement = MatchJudgement.objects.create(person_a=first, person_b=second, score=0.5)
    update_rows(MatchJudgement, ["score", "automatic"], [(judgement.pk, 0.1 + 0.2, True)])
    judgement.refresh_from_db()
    assert (judgement.score, judgement.automatic) == (0.1 + 0.2, True)


def test_it_upserts_plain_rows_with_the_models_defaults_and_gives_ids_by_key():
    a, b, c = (person_create(name=name) for name in ("Lana Wachowski", "Lilly Wachowski", "X Y"))
    old = MatchJudgement.objects.create(person_a=a, person_b=b, score=0.5, reason="By hand.")
    ids = upsert_rows(
        MatchJudgement,
        ["person_a_id", "person_b_id", "score", "explanation"],
        [(a.pk, b.pk, 0.9, {"x": 1}), (a.pk, c.pk, 0.7, {}), (a.pk, c.pk, 0.75, {"last": 1})],
        unique_fields=["person_a", "person_b"],
        update_fields=["score", "explanation", "updated_at"],
        ids=True,
    )
    old.refresh_from_db()
    assert ids[(a.pk, b.pk)] == old.pk
    assert (old.score, old.reason, old.explanation) == (0.9, "By hand.", {"x": 1})
    new = MatchJudgement.objects.get(pk=ids[(a.pk, c.pk)])
    assert (new.score, new.explanation, new.reason, new.decision) == (
        0.75,
        {"last": 1},
        "",
        MatchJudgement.Decision.PENDING,
    )
    assert new.created_at is not None and MatchJudgement.objects.count() == 2


def test_it_inserts_rows_nothing_points_at_without_reading_ids():
    person = person_create(name="Cate Blanchett")
    before = PersonName.objects.count()
    assert (
        insert_rows(
            PersonName,
            ["person_id", "name", "name_key", "first_seen_at"],
            [(person.pk, "Blanchett, Cate", "cate blanchett", person.created_at)],
            ids=False,
        )
        == []
    )
    assert PersonName.objects.count() == before + 1
    assert PersonName.objects.filter(name="Blanchett, Cate", person=person).exists()
