"""Keying the entries of a run into rows, and loading the sightings the
source had before (letters/sync/rows.py)."""

from __future__ import annotations

from datetime import date

import pytest

from letters.models import Sighting
from letters.services import Entry
from letters.sync.names import Names
from letters.sync.rows import Existing, load_existing, rows_by_key
from tests.letters.fixtures.syncs import source_for, sync

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("private_sources_allowed")]


def existing(key: str, name: str, **fields) -> Existing:
    values = {
        "name": name,
        "title": "",
        "affiliation": "",
        "country": "",
        "signed_on": None,
        "url": "",
        "extra": {},
    }
    return Existing(key=key, id=1, signature_id=1, present=True, values=values | fields)


def test_it_treats_a_repeated_row_as_one_entry_and_a_namesake_as_another(letter, feeds):
    body = (
        b"name,affiliation\n"
        b"Chris Evans,Marvel\nRon Howard,\nChris Evans,Marvel\nChris Evans,Senate\n"
    )
    source = source_for(letter, feeds, body)

    run = sync(source)

    assert (run.seen, run.added) == (3, 3)
    assert run.diff["duplicates"] == [{"name": "Chris Evans", "position": 3}]
    assert list(source.sightings.order_by("position").values_list("key", "affiliation")) == [
        ("name:chris evans", "Marvel"),
        ("name:ron howard", ""),
        ("name:chris evans#2", "Senate"),
    ]
    assert sync(source).outcome == "unchanged"
    feeds.serve("/signatories.csv", body + b"\n")
    assert (sync(source).changed, Sighting.objects.count()) == (0, 3)


def test_it_keeps_spelling_fixes_in_one_sighting_when_the_source_gives_ids(letter, feeds):
    source = source_for(
        letter, feeds, b"id,name\n7,Maggie Gylenhall\n8,Jake Gyllenhaal\n", options={"key": "id"}
    )
    sync(source)

    feeds.serve("/signatories.csv", b"id,name\n7,Maggie Gyllenhaal\n8,Jake Gyllenhaal\n")
    run = sync(source)

    assert (run.changed, run.added, run.gone) == (1, 0, 0)
    assert list(Sighting.objects.order_by("key").values_list("key", "name")) == [
        ("id:7", "Maggie Gyllenhaal"),
        ("id:8", "Jake Gyllenhaal"),
    ]


def test_a_second_entry_of_a_long_key_its_source_gives_is_numbered_within_the_column(letter, feeds):
    # A key the source gives, as long as the column holds: its second entry's
    # number takes the key's last characters, not a place past the column's end.
    long_id = "x" * 420
    body = f"id,name,affiliation\n{long_id},Chris Evans,Marvel\n{long_id},Chris Evans,Senate\n"
    source = source_for(letter, feeds, body.encode(), options={"key": "id"})

    run = sync(source)

    first = f"id:{long_id}"[:400]
    assert (run.seen, run.added) == (2, 2)
    assert list(source.sightings.order_by("position").values_list("key", "affiliation")) == [
        (first, "Marvel"),
        (f"{first[:398]}#2", "Senate"),
    ]
    assert sync(source).outcome == "unchanged"


def test_an_entry_is_keyed_by_its_normalised_name_or_the_key_its_source_gives():
    entries = [
        Entry(name="McCartney, Sir Paul", position=1),
        Entry(name="Ava DuVernay", key="id:7", position=2),
    ]

    rows, duplicates = rows_by_key(entries, {}, Names())

    assert {key: (row.values["name"], row.position) for key, row in rows.items()} == {
        "name:paul mccartney": ("McCartney, Sir Paul", 1),
        "id:7": ("Ava DuVernay", 2),
    }
    assert duplicates == []


def test_a_name_written_as_before_keeps_the_key_of_its_sighting():
    # Keyed when the parser read the name otherwise: the sighting keeps its key.
    before = {"name:duvernay ava": existing("name:duvernay ava", "DuVernay, Ava")}

    rows, _ = rows_by_key([Entry(name="DuVernay, Ava")], before, Names())

    assert list(rows) == ["name:duvernay ava"]


def test_it_loads_every_sighting_of_the_source_with_the_values_to_compare(letter, feeds):
    body = b"name,affiliation,signed_on,notes\nRon Howard,Imagine,2025-03-14,yes\nAva DuVernay,,,\n"
    source = source_for(letter, feeds, body)
    sync(source)
    feeds.serve(
        "/signatories.csv", b"name,affiliation,signed_on,notes\nRon Howard,Imagine,2025-03-14,yes\n"
    )
    sync(source)
    ron, ava = (Sighting.objects.get(name=name) for name in ("Ron Howard", "Ava DuVernay"))

    loaded = load_existing(source)

    assert set(loaded) == {"name:ron howard", "name:ava duvernay"}
    assert (loaded["name:ron howard"].id, loaded["name:ron howard"].signature_id) == (
        ron.pk,
        ron.signature_id,
    )
    assert (loaded["name:ron howard"].present, loaded["name:ava duvernay"].present) == (True, False)
    values = loaded["name:ron howard"].values
    assert (values["name"], values["affiliation"], values["signed_on"]) == (
        "Ron Howard",
        "Imagine",
        date(2025, 3, 14),
    )
    assert ava.signature_id == loaded["name:ava duvernay"].signature_id
