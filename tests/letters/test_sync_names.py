"""Parsing the names of a run once each, in other processes when there are
many (letters/sync/names.py)."""

from __future__ import annotations

import pytest

from letters.services import Entry, sighting_key_for
from letters.sync import names as names_module
from letters.sync.names import Names
from people.matching.normalize import fold, parse_name
from people.models import Person
from tests.letters.fixtures.syncs import source_for, sync

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("private_sources_allowed")]

NAMES = ["Blanchett, Cate", "McCartney, Sir Paul", "AVA DUVERNAY", "Dr. Émile Zola Jr."]


def test_it_parses_a_long_list_in_several_processes_like_one(letter, feeds, settings, caplog):
    # Titled names: plain ones are parsed here, without nameparser (see the next tests).
    names = [f"Dr. Signatory {number} Example{number % 13}" for number in range(300)]
    names += ["Blanchett, Cate", "McCartney, Sir Paul", "AVA DUVERNAY"]
    settings.TRACKER_SYNC_PARALLEL_PARSE_MIN = 100
    source = source_for(letter, feeds, ("name\n" + "\n".join(f'"{n}"' for n in names)).encode())

    run = sync(source)

    assert run.outcome == "succeeded", run.error
    assert "parsing them here" not in caplog.text
    assert sorted(Person.objects.values_list("name_key", flat=True)) == sorted(
        parse_name(name).key for name in names
    )
    assert set(source.sightings.values_list("key", flat=True)) == {
        sighting_key_for(Entry(name=name)) for name in names
    }


def test_names_parsed_in_other_processes_are_those_parsed_here(settings):
    settings.TRACKER_SYNC_PARALLEL_PARSE_MIN = 2
    names = Names()

    names.parse_many(NAMES)

    assert [names.parse(name) for name in NAMES] == [parse_name(name) for name in NAMES]
    assert [names.key(name) for name in NAMES] == [parse_name(name).key for name in NAMES]
    assert [names.fold(name) for name in NAMES] == [fold(name) for name in NAMES]


def test_it_parses_the_names_here_when_other_processes_cannot(settings, monkeypatch, caplog):
    settings.TRACKER_SYNC_PARALLEL_PARSE_MIN = 2

    def refuse(names, workers):
        raise OSError("no processes today")

    monkeypatch.setattr(names_module, "_parse_in_processes", refuse)
    monkeypatch.setattr(names_module.os, "cpu_count", lambda: 2)
    names = Names()

    names.parse_many(NAMES)

    assert "no processes today" in caplog.text
    assert [names.key(name) for name in NAMES] == [parse_name(name).key for name in NAMES]


@pytest.mark.parametrize("options", [{}, {"key": "ref"}], ids=["keyed-by-name", "keyed-by-ref"])
def test_a_first_run_parses_each_name_once_in_one_pool(
    letter, feeds, settings, monkeypatch, options
):
    """Keyed by name or by the source's own column, the names of a first run that
    need nameparser go to other processes once, all in one go, plain names are
    parsed here without it, and none is parsed again."""
    settings.TRACKER_SYNC_PARALLEL_PARSE_MIN = 50
    monkeypatch.setattr(names_module.os, "cpu_count", lambda: 2)
    titled = [f"Dr. Signatory {number} Example{number % 13}" for number in range(120)]
    plain = [f"Plain Example{number}" for number in range(60)]
    names = titled + plain
    pools: list[list[str]] = []
    here: list[str] = []
    in_processes, parse_here = names_module._parse_in_processes, names_module._parse_with_key

    def pool(todo, workers):
        pools.append(list(todo))
        return in_processes(todo, workers)

    def one(name):
        here.append(name)
        return parse_here(name)

    monkeypatch.setattr(names_module, "_parse_in_processes", pool)
    monkeypatch.setattr(names_module, "_parse_with_key", one)
    body = "name,ref\n" + "".join(f"{name},r{n}\n" for n, name in enumerate(names))
    source = source_for(letter, feeds, body.encode(), options=options)

    run = sync(source)

    assert (run.outcome, run.added) == ("succeeded", 180), run.error
    assert [sorted(todo) for todo in pools] == [sorted(titled)]
    assert here == []
    assert sorted(Person.objects.values_list("name_key", flat=True)) == sorted(
        parse_name(name).key for name in names
    )
