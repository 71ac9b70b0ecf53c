"""The second generator of the matcher benchmarks (bench/matching_data_alt.py),
run as a program, as the benchmarks run it: its entries are the same whatever
the hash seed, keep the truth straight, and carry each kind of variant at about
the rate it is meant to, as its labels say."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections import Counter, defaultdict
from pathlib import Path

import pytest
from rapidfuzz.distance import OSA
from unidecode import unidecode

ROOT = Path(__file__).resolve().parents[2]
NAME_KINDS = {
    "nickname",
    "initials",
    "typo1",
    "typo2",
    "swap",
    "comma",
    "no_given",
    "case",
    "accents_dropped",
    "surname_dropped",
    "middle_dropped",
    "middle_initial",
    "honorific",
}


def start(records: int, seed: int, hash_seed: int) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "bench.matching_data_alt", "--records", str(records)]
        + ["--seed", str(seed)],
        cwd=ROOT,
        env={**os.environ, "PYTHONHASHSEED": str(hash_seed)},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


@pytest.fixture(scope="module")
def runs() -> dict[str, str]:
    """The program's output for a few sizes, seeds and hash seeds, run side by side."""
    wanted = {
        "1000, seed 1": (1000, 1, 1),
        "1000, seed 1, other hash seed": (1000, 1, 2),
        "100, seed 2": (100, 2, 1),
        "10000, seed 1": (10000, 1, 3),
    }
    processes = {label: start(*args) for label, args in wanted.items()}
    out = {}
    for label, process in processes.items():
        stdout, stderr = process.communicate(timeout=120)
        assert process.returncode == 0, stderr
        out[label] = stdout
    return out


def rows(text: str) -> list[dict]:
    return [json.loads(line) for line in text.splitlines()]


def canonical(row: dict) -> str:
    return " ".join(p for p in (row["given"], row["middle"], row["family"]) if p)


def name_kinds(row: dict) -> set[str]:
    return set(row["kinds"]) & NAME_KINDS


def test_it_gives_the_same_entries_for_a_seed_whatever_the_hash_seed(runs):
    assert runs["1000, seed 1"] == runs["1000, seed 1, other hash seed"]
    assert not runs["1000, seed 1"].startswith(runs["100, seed 2"][:1000])


def test_entries_carry_their_person_letter_and_source(runs):
    entries = rows(runs["1000, seed 1"])
    assert len(entries) == 1000
    assert {e["source"] for e in entries} == set(range(6))
    assert all(isinstance(e["letter"], int) and e["letter"] >= 0 for e in entries)
    people = defaultdict(set)
    for e in entries:
        people[e["entity"]].add((e["locale"], canonical(e)))
    assert all(len(truths) == 1 for truths in people.values())
    # A list names each person once: the matcher keeps two entries of one list apart.
    listings = Counter((e["entity"], e["letter"], e["source"]) for e in entries)
    assert max(listings.values()) == 1
    assert 150 < len(people) < 500
    assert len({locale for truths in people.values() for locale, _ in truths}) == 15


def test_each_kind_of_variant_comes_at_about_its_rate(runs):
    entries = rows(runs["1000, seed 1"])
    share = Counter(kind for e in entries for kind in set(e["kinds"]))
    intended = {  # share of entries, as measured on 100,000 of them
        "comma": 0.22,
        "case": 0.09,
        "initials": 0.083,
        "accents_dropped": 0.055,
        "typo1": 0.027,
        "surname_dropped": 0.025,
        "middle_dropped": 0.028,
        "middle_initial": 0.019,
        "honorific": 0.015,
        "swap": 0.013,
        "no_given": 0.011,
        "nickname": 0.008,
        "typo2": 0.007,
        "aff_missing": 0.295,
        "aff_abbreviated": 0.115,
        "aff_acronym": 0.03,
        "aff_misspelt": 0.024,
    }
    for kind, rate in intended.items():
        assert rate / 2.5 <= share[kind] / len(entries) <= rate * 2.5, kind
    # About half the names are written exactly as the person's name.
    as_given = sum(1 for e in entries if not name_kinds(e))
    assert 0.4 < as_given / len(entries) < 0.7
    assert sum(1 for e in entries if not name_kinds(e) and e["name"] == canonical(e)) == as_given


def test_the_labels_say_what_was_done_to_the_name(runs):
    entries = rows(runs["1000, seed 1"]) + rows(runs["10000, seed 1"])
    checked = Counter()
    for e in entries:
        kinds, name, given, family = name_kinds(e), e["name"], e["given"], e["family"]
        full_given = " ".join(p for p in (given, e["middle"]) if p)
        if kinds == {"typo1"}:
            assert OSA.distance(name, canonical(e)) == 1, e
        elif kinds == {"typo2"}:
            assert OSA.distance(name, canonical(e)) == 2, e
        elif kinds == {"comma"}:
            assert name == f"{family}, {full_given}"
        elif kinds == {"swap"}:
            assert name == f"{family} {full_given}"
        elif kinds == {"no_given"}:
            assert name == family
        elif kinds == {"accents_dropped"}:
            assert name.isascii() and name != canonical(e)
            assert unidecode(name) == unidecode(canonical(e)) or e["locale"] == "de_DE"
        elif kinds == {"case"}:
            assert name in (canonical(e).lower(), canonical(e).upper())
        elif kinds == {"initials"}:
            initials = " ".join("-".join(p[0] + "." for p in w.split("-")) for w in given.split())
            middle = e["middle"][:1] + "." if e["middle"] else ""
            assert name == " ".join(p for p in (initials, middle, family) if p)
        elif kinds == {"nickname"}:
            assert name.endswith(" " + family) and not name.startswith(given + " ")
        elif kinds == {"surname_dropped"}:
            kept = name.removeprefix(full_given + " ")
            assert family.startswith(kept + " ") or family.endswith(" " + kept), e
        else:
            continue
        checked[frozenset(kinds)] += 1
    assert len(checked) == 10, checked


def test_affiliations_are_written_as_labelled(runs):
    entries = rows(runs["10000, seed 1"])
    for e in entries:
        kinds = set(e["kinds"])
        if "aff_missing" in kinds:
            assert e["affiliation"] == "" and e["org"] == ""
        elif not kinds & {"aff_abbreviated", "aff_acronym", "aff_misspelt"}:
            assert e["affiliation"] == e["org"] != ""
        elif "aff_acronym" in kinds:
            assert len(e["affiliation"]) < len(e["org"]) and " " not in e["affiliation"]
        elif "aff_abbreviated" in kinds:
            assert e["affiliation"] != e["org"]
        else:
            assert OSA.distance(e["affiliation"], e["org"]) == 1
    # People who move, or hold a second post, are listed with more than one.
    orgs = defaultdict(set)
    for e in entries:
        if e["org"]:
            orgs[e["entity"]].add(e["org"])
    assert sum(1 for stated in orgs.values() if len(stated) > 1) > 50


def test_namesakes_come_as_often_as_the_locales_name_lists_make_them(runs):
    entries = rows(runs["10000, seed 1"])
    people = {e["entity"]: (e["locale"], canonical(e)) for e in entries}
    holders = defaultdict(set)
    for entity, (_, name) in people.items():
        holders[name].add(entity)
    with_namesake = Counter(
        locale for entity, (locale, name) in people.items() if len(holders[name]) > 1
    )
    everyone = Counter(locale for locale, _ in people.values())
    assert sum(with_namesake.values()) >= 4
    # Faker romanises 51 given and 50 family names for Japan: namesakes abound
    # there; elsewhere the lists are long and namesakes rare.
    japanese = with_namesake["ja_JP"] / everyone["ja_JP"]
    others = (sum(with_namesake.values()) - with_namesake["ja_JP"]) / (
        len(people) - everyone["ja_JP"]
    )
    assert japanese > 5 * others
