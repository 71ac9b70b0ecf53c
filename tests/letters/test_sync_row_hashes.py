"""Rows listed exactly as before, recognised by their hash and not read again
(letters/sync/rows.py, letters/sync/parse.py): a run gives the same outcome
as reading every row, and reads only what changed."""

from __future__ import annotations

import gzip
import json
import re
from datetime import datetime

import pytest
from django.apps import apps
from django.db import connection

from letters.models import Sighting, Source, SyncRun
from letters.services import Entry, letter_create, signature_record
from letters.sync import import_file
from letters.sync.names import Names
from letters.sync.parse import UnbuiltEntry, parse
from letters.sync.rows import load_existing, load_values, row_hashes, rows_by_key
from tests.factories import make_source

pytestmark = pytest.mark.django_db

HEADER = "name,affiliation,title,notes\n"
# One file after another: a respelling, a change, duplicates, two people of one
# name, the same values written otherwise, rows gone and back, a source's
# configuration changed, and namesakes listed in another order.
CSV_FILES = [
    HEADER + "Chris Evans,Marvel,Actor,\nRon Howard,,Director,\nChris Evans,Marvel,Actor,\n"
    "Chris Evans,Senate,,\nMaggie Gylenhall,Sony,,\nAva DuVernay,Array,,x\nCate Blanchett,,,\n",
    HEADER + "Chris Evans,Marvel,Actor,\nRon Howard,,Producer,\nChris Evans,Senate,,\n"
    "Maggie Gyllenhaal,Sony,,\nCate  Blanchett ,,,\nPaul McCartney,,,\n",
    HEADER + "Chris Evans,Marvel,Actor,\nRon Howard,,Producer,\nChris Evans,Senate,,\n"
    "Maggie Gyllenhaal,Sony,,\nCate  Blanchett ,,,\nPaul McCartney,,,\nAva DuVernay,Array,,x\n",
    # The source's columns renamed: its configuration, and so every row's hash, changes.
    "Full name,Org,title,notes\nChris Evans,Marvel,Actor,\nRon Howard,,Producer,\n"
    "Chris Evans,Senate,,\nMaggie Gyllenhaal,Sony,,\nCate Blanchett,,,\nPaul McCartney,,,\n"
    "Ava DuVernay,Array,,x\n",
    "Full name,Org,title,notes\nChris Evans,Senate,,\nChris Evans,Marvel,Actor,\n"
    "Ron Howard,,Producer,\nMaggie Gyllenhaal,Sony,,\nCate Blanchett,,,\nPaul McCartney,,,\n"
    "Ava DuVernay,Array,,x\nAgnès Varda,,,\n",
    "Full name,Org,title,notes\nChris Evans,Senate,,\nChris Evans,Marvel,Actor,\n"
    "Ron Howard,,Producer,\nMaggie Gyllenhaal,Sony,,\nCate Blanchett,,,\nPaul McCartney,,,\n"
    "Agnès Varda,,,\nAgnès Varda,,,\n",
]
JSON_FILES = [
    [
        {"id": 1, "name": "Lana Wachowski", "org": "Warner"},
        {"id": 2, "name": "Lilly Wachowski", "org": "Warner", "n": 1.5},
        {"id": 2, "name": "Lilly Wachowski", "org": "Warner", "n": 1.5},
        {"id": 3, "name": "Jake Gyllenhaal"},
        {"id": 4, "name": "Pedro Almodóvar", "tags": ["a", {"b": None}]},
    ],
    [
        {"id": 1, "name": "Lana Wachowski", "org": "Warner"},
        {"id": 2, "name": "Lilly Wachowski", "org": "Warner", "n": 1.5},
        {"id": 2, "name": "Lilly Wachowsky", "org": "Netflix"},
        {"id": 4, "name": "Pedro Almodóvar", "tags": ["a", {"b": None}]},
        {"id": 5, "name": "François Ozon"},
    ],
    [
        {"id": 1, "name": "Lana Wachowski", "org": "Warner"},
        {"id": 2, "name": "Lilly Wachowski", "org": "Warner", "n": 1.5},
        {"id": 3, "name": "Jake Gyllenhaal"},
        {"id": 4, "name": "Pedro Almodóvar", "tags": ["a", {"b": None}]},
        {"id": 5, "name": "François Ozon", "org": "Mandarin"},
    ],
]
HTML_FILES = [
    "<ul><li><b>Céline Sciamma</b> <i>Lilies</i></li><li><b>Alfonso Cuarón</b></li>"
    "<li><b>Agnès Varda</b></li></ul>",
    "<ul><li><b>Céline Sciamma</b> <i>Lilies</i></li><li><b>Alfonso Cuaron</b></li>"
    "<li><b>Zoë Kravitz</b></li></ul>",
    "<ul><li><b>Céline Sciamma</b> <i>Lilies</i></li><li><b>Alfonso Cuaron</b></li>"
    "<li><b>Agnès Varda</b></li></ul>",
]


def empty_database() -> None:
    tables = [
        model._meta.db_table
        for model in apps.get_models()
        if model._meta.app_label in ("letters", "people")
    ]
    with connection.cursor() as cursor:
        # The test's transaction has deferred checks pending, which TRUNCATE refuses.
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
        cursor.execute(f"TRUNCATE {', '.join(tables)} RESTART IDENTITY CASCADE")


_TIME = re.compile(rb"\d{4}-\d\d-\d\d[T ]\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)?")
# Digests of what holds times (a published list's file).
_TIMED = {"content_sha256", "previous_hash", "hash", "size"}


def rows_written() -> dict:
    """Every row of the letters and people apps, times aside (each sequence has its own)."""

    def value(v):
        if isinstance(v, datetime):
            return "at"
        if isinstance(v, memoryview | bytes) and bytes(v[:2]) == b"\x1f\x8b":
            return _TIME.sub(b"at", gzip.decompress(bytes(v)))
        return bytes(v) if isinstance(v, memoryview) else v

    return {
        model.__name__: [
            {k: value(v) for k, v in row.items() if k not in _TIMED}
            for row in model.objects.order_by("pk").values()
        ]
        for model in apps.get_models()
        if model._meta.app_label in ("letters", "people")
    }


def run_sequence() -> tuple[dict, list[tuple]]:
    empty_database()
    letter = letter_create(title="AI and copyright", slug="ai-copyright")
    csv_source = make_source(letter, name="List", kind=Source.Kind.PRESS, format="csv")
    json_source = make_source(
        letter, name="Feed", kind=Source.Kind.PRESS, format="json", options={"key": "id"}
    )
    html_source = make_source(
        letter,
        name="Page",
        kind=Source.Kind.PRESS,
        format="html",
        options={"selectors": {"entry": "li", "name": "b", "affiliation": "i"}},
    )
    for number, content in enumerate(CSV_FILES):
        if number == 3:
            Source.objects.filter(pk=csv_source.pk).update(
                options={"columns": {"Full name": "name", "Org": "affiliation"}}
            )
        import_file(source=csv_source, content=content.encode())
    for content in JSON_FILES:
        import_file(source=json_source, content=json.dumps(content).encode())
    for content in HTML_FILES:
        import_file(source=html_source, content=content.encode())
    runs = [
        (run.outcome, run.seen, run.added, run.changed, run.gone, run.back, run.diff, run.error)
        for run in SyncRun.objects.order_by("pk")
    ]
    return rows_written(), runs


def both_ways(settings, sequence) -> tuple[tuple[dict, list], tuple[dict, list]]:
    """What ``sequence`` writes skipping rows listed as before, and reading every row."""
    settings.TRACKER_SYNC_SKIP_UNCHANGED = True
    skipping = sequence()
    settings.TRACKER_SYNC_SKIP_UNCHANGED = False
    return skipping, sequence()


def test_a_run_that_skips_rows_listed_as_before_writes_what_reading_every_row_does(settings):
    (skipping, skipping_runs), (reading_all, reading_all_runs) = both_ways(settings, run_sequence)

    assert [run[0] for run in skipping_runs] == ["succeeded"] * len(skipping_runs)
    assert skipping_runs == reading_all_runs
    assert skipping == reading_all
    # The sequence has what it is meant to: respellings, duplicates, namesakes, back.
    assert any(run[6]["duplicates"] for run in skipping_runs)
    assert any(run[5] for run in skipping_runs)
    assert {"name:chris evans", "name:chris evans#2"} <= {
        row["key"] for row in skipping["Sighting"]
    }
    assert all(row["row_hash"] for row in skipping["Sighting"] if row["present"])


def sighting_source(content: str, name: str = "List") -> Source:
    letter = letter_create(title="AI and copyright", slug="ai-copyright")
    source = make_source(letter, name=name, kind=Source.Kind.PRESS, format="csv")
    import_file(source=source, content=content.encode())
    return source


def read(source: Source, content: str) -> tuple[list, dict, dict]:
    entries = parse(content.encode(), format="csv", options={}, known=row_hashes(source))
    existing = load_existing(source, values=False)
    rows, _ = rows_by_key(list(entries), existing, Names())
    load_values(rows, existing)
    return entries, rows, existing


FILE = HEADER + "Chris Evans,Marvel,,\nChris Evans,Senate,,\nRon Howard,,,\nAva DuVernay,,,\n"


def test_a_run_of_rows_listed_as_before_builds_compares_and_loads_none_of_them():
    source = sighting_source(FILE)

    entries, rows, existing = read(source, FILE)

    assert [isinstance(entry, UnbuiltEntry) for entry in entries] == [True] * 4
    # A namesake's key (#2) depends on the rows before it: that row is read in full.
    assert {key: row.unchanged for key, row in rows.items()} == {
        "name:chris evans": True,
        "name:chris evans#2": False,
        "name:ron howard": True,
        "name:ava duvernay": True,
    }
    # Built to be told apart from its namesake, but not compared.
    assert rows["name:chris evans"].values["affiliation"] == "Marvel"
    assert (rows["name:ron howard"].values, rows["name:ava duvernay"].values) == (None, None)
    assert {key for key, sighting in existing.items() if sighting.values is not None} == {
        "name:chris evans#2"
    }


def test_a_run_builds_and_loads_only_the_rows_that_changed_came_or_went():
    source = sighting_source(FILE)
    changed = (
        HEADER
        + "Chris Evans,Marvel,,\nChris Evans,Senate,Senator,\nRon Howard,,,\nAgnès Varda,,,\n"
    )

    entries, rows, existing = read(source, changed)

    assert [isinstance(entry, UnbuiltEntry) for entry in entries] == [True, False, True, False]
    assert {key for key, row in rows.items() if not row.unchanged} == {
        "name:chris evans#2",
        "name:agnes varda",
    }
    assert {key for key, sighting in existing.items() if sighting.values is not None} == {
        "name:chris evans#2",  # changed
        "name:ava duvernay",  # gone: perhaps respelled
    }


def test_a_row_listed_before_is_read_again_when_another_row_takes_its_key_first():
    source = sighting_source(FILE)
    # Senate's row first: it takes the name's key, and Marvel's row becomes #2.
    swapped = (
        HEADER + "Chris Evans,Senate,,\nChris Evans,Marvel,,\nRon Howard,,,\nAva DuVernay,,,\n"
    )

    _, rows, _ = read(source, swapped)

    assert rows["name:chris evans"].values["affiliation"] == "Senate"
    assert rows["name:chris evans#2"].values["affiliation"] == "Marvel"
    assert not rows["name:chris evans"].unchanged
    assert not rows["name:chris evans#2"].unchanged
    assert rows["name:ron howard"].unchanged


def test_sightings_without_a_row_hash_are_read_in_full_and_then_get_one():
    source = sighting_source(FILE)
    Sighting.objects.update(row_hash=None)

    entries, rows, _ = read(source, FILE)
    assert not any(isinstance(entry, UnbuiltEntry) for entry in entries)
    assert not any(row.unchanged for row in rows.values())

    run = import_file(source=source, content=(FILE + "Agnès Varda,,,\n").encode())

    assert (run.outcome, run.added, run.changed, run.gone) == ("succeeded", 1, 0, 0)
    assert not source.sightings.filter(row_hash__isnull=True).exists()
    entries, rows, _ = read(source, FILE + "Agnès Varda,,,\n")
    assert [key for key, row in rows.items() if not row.unchanged] == ["name:chris evans#2"]


def test_a_row_hash_stands_for_its_reading_only():
    one = parse(b"name,notes\nRon Howard,1\n", format="csv")[0]
    spaced = parse(b"name,notes\nRon  Howard,1\n", format="csv")[0]
    renamed = parse(
        b"name,notes\nRon Howard,1\n", format="csv", options={"columns": {"notes": "title"}}
    )[0]
    as_number = parse(b'[{"name": "Ron Howard", "notes": 1}]', format="json")[0]
    as_text = parse(b'[{"name": "Ron Howard", "notes": "1"}]', format="json")[0]

    assert one.values() == spaced.values()
    assert len({one.row_hash, spaced.row_hash, renamed.row_hash}) == 3
    assert as_number.row_hash != as_text.row_hash
    assert one.row_hash == parse(b"name,notes\nRon Howard,1\n", format="csv")[0].row_hash


def test_an_entry_recorded_by_hand_clears_its_sightings_row_hash():
    source = sighting_source(HEADER + "Ron Howard,,,\n")
    sighting = source.sightings.get()
    assert sighting.row_hash is not None

    signature_record(
        letter=source.letter, source=source, entry=Entry(name="Ron Howard", title="Director")
    )

    sighting.refresh_from_db()
    assert (sighting.title, sighting.row_hash) == ("Director", None)


def test_a_row_takes_the_key_of_the_oldest_sighting_of_its_name_either_way(settings):
    def sequence():
        empty_database()
        source = sighting_source(HEADER + "Ava DuVernay,,,\nRon Howard,,,\n")
        # An older sighting, keyed otherwise, has come to have the same name.
        Sighting.objects.filter(key="name:ava duvernay").update(name="Ron Howard", row_hash=None)
        import_file(source=source, content=(HEADER + "Ron Howard,,,\nAgnès Varda,,,\n").encode())
        return rows_written(), [
            (run.seen, run.added, run.changed, run.gone, run.diff)
            for run in SyncRun.objects.order_by("pk")
        ]

    skipping, reading_all = both_ways(settings, sequence)

    assert skipping == reading_all
    # Ron Howard's row is the older sighting's; the one it was read into is gone.
    assert skipping[1][1][:4] == (2, 1, 0, 1)
    assert [(row["key"], row["present"]) for row in skipping[0]["Sighting"][:2]] == [
        ("name:ava duvernay", True),
        ("name:ron howard", False),
    ]
