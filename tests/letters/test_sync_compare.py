"""Sorting a run's rows into added, changed, back, gone and seen
(letters/sync/compare.py)."""

from __future__ import annotations

import json

import pytest
from django.db import connection

from letters.models import Sighting
from letters.sync.compare import compare, jsonb_text, pair_respellings
from letters.sync.rows import Existing, Row
from people.models import Person
from tests.letters.fixtures.syncs import source_for, sync

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("private_sources_allowed")]

EMPTY = {
    "name": "",
    "title": "",
    "affiliation": "",
    "country": "",
    "signed_on": None,
    "url": "",
    "extra": {},
}


def new(name: str, key: str = "", **fields) -> Row:
    """A row of this run."""
    return Row(
        key=key or f"name:{name.lower()}", values=EMPTY | {"name": name} | fields, position=1
    )


def old(name: str, id_: int, key: str = "", present: bool = True, **fields) -> Existing:
    """A sighting the source had before."""
    return Existing(
        key=key or f"name:{name.lower()}",
        id=id_,
        signature_id=id_,
        present=present,
        values=EMPTY | {"name": name} | fields,
    )


def test_it_sorts_rows_and_sightings_into_what_the_run_writes():
    rows = [
        new("Ron Howard"),
        new("Ava DuVernay", affiliation="ARRAY"),
        new("Cate Blanchett"),
        new("Paul McCartney"),
    ]
    before = [
        old("Ron Howard", 1),
        old("Ava DuVernay", 2),
        old("Cate Blanchett", 3, present=False),
        old("Jane Fonda", 4),
        old("Lana Wachowski", 5, present=False),
    ]

    found = compare({r.key: r for r in rows}, {s.key: s for s in before})

    assert [r.values["name"] for r in found.added] == ["Paul McCartney"]
    assert [(r.values["name"], s.id, fields) for r, s, fields in found.changed] == [
        ("Ava DuVernay", 2, {"affiliation"})
    ]
    assert [(r.values["name"], s.id) for r, s in found.back] == [("Cate Blanchett", 3)]
    assert [s.id for s in found.gone] == [4]
    assert [s.id for _, s in found.seen] == [1, 2, 3]


def test_a_respelling_is_not_paired_when_the_affiliations_disagree_or_two_names_are_as_close():
    assert (
        pair_respellings(
            [new("Maggie Gyllenhaal", affiliation="ARRAY")],
            [old("Maggie Gylenhall", 1, affiliation="Imagine")],
        )
        == []
    )
    assert (
        pair_respellings([new("Chris Evens")], [old("Chris Evans", 1), old("Chris Evins", 2)]) == []
    )
    assert pair_respellings([new("Ava Duvernay", key="id:1")], [old("Ava DuVernay", 2)]) == []


def test_it_takes_a_corrected_typo_for_the_entry_it_corrects(letter, feeds):
    source = source_for(letter, feeds, b"name\nCate Blanchett\nMaggie Gylenhall\n")
    sync(source)

    feeds.serve("/signatories.csv", b"name\nCate Blanchett\nMaggie Gyllenhaal\n")
    run = sync(source)

    assert (run.changed, run.added, run.gone) == (1, 0, 0)
    sighting = Sighting.objects.get(name="Maggie Gyllenhaal")
    assert sighting.key == "name:maggie gyllenhaal"
    assert sighting.events.get(kind="changed").before == {
        "key": "name:maggie gylenhall",
        "name": "Maggie Gylenhall",
    }
    assert Person.objects.count() == 2
    assert sighting.signature.needs_review is False


def test_it_does_not_take_a_sibling_for_a_corrected_typo(letter, feeds):
    source = source_for(letter, feeds, b"name\nLana Wachowski\n")
    sync(source)

    feeds.serve("/signatories.csv", b"name\nLilly Wachowski\n")
    run = sync(source)

    assert (run.changed, run.added, run.gone) == (0, 1, 1)
    assert Person.objects.count() == 2


def test_it_writes_extra_fields_as_postgresql_does_to_compare_them_quickly():
    extra = {"Notes": 'said "yes"\n', "reference": "ref-1", "Prénom": "Zoë", "n": 1.5, "x": [1, {}]}

    with connection.cursor() as cursor:
        cursor.execute("SELECT %s::jsonb::text", [json.dumps(extra)])
        assert cursor.fetchone()[0] == jsonb_text(extra)


def test_extra_fields_read_as_the_databases_text_compare_equal_when_they_are():
    extra = {"reference": "ref-1", "Notes": "yes"}
    rows = [new("Ron Howard", extra=extra), new("Ava DuVernay", extra={"Notes": "no"})]
    before = [
        old("Ron Howard", 1, extra=jsonb_text(extra)),
        old("Ava DuVernay", 2, extra=json.dumps({"Notes": "yes"})),
    ]

    found = compare({r.key: r for r in rows}, {s.key: s for s in before})

    assert [(s.id, fields) for _, s, fields in found.changed] == [(2, {"extra"})]
    assert before[0].values["extra"] == extra
