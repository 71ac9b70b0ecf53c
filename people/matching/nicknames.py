"""Given names that stand for one another: Bob and Robert, Kate and Katherine.

The English table is the ``nicknames`` package (a hand-curated list of given
names and their diminutives). ``data/nicknames_extra.csv`` adds, in the same
"name1,relationship,name2" layout, common Italian, Spanish, Portuguese, German
and Russian diminutives the English list lacks (Beppe for Giuseppe, Paco for
Francisco); it was compiled for this project from general reference works on
given names.
"""

from __future__ import annotations

import csv
from functools import cache, lru_cache
from pathlib import Path

from nicknames import NickNamer

_EXTRA = Path(__file__).with_name("data") / "nicknames_extra.csv"


def _key(name: str) -> str:
    from people.matching.normalize import fold

    return fold(name).replace(" ", "")


@cache
def _tables() -> tuple[NickNamer, dict[str, frozenset[str]], dict[str, frozenset[str]]]:
    """The package's table and the extra one, as name -> diminutives and back."""
    diminutives: dict[str, set[str]] = {}
    full_names: dict[str, set[str]] = {}
    with _EXTRA.open(encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            if row["relationship"] != "has_nickname":
                continue
            full, short = _key(row["name1"]), _key(row["name2"])
            diminutives.setdefault(full, set()).add(short)
            full_names.setdefault(short, set()).add(full)
    freeze = {name: frozenset(values) for name, values in diminutives.items()}
    back = {name: frozenset(values) for name, values in full_names.items()}
    return NickNamer(), freeze, back


@lru_cache(maxsize=65536)
def full_names_of(given: str) -> frozenset[str]:
    """The full names a folded given name may be short for ("bob" -> robert...)."""
    if not given or len(given) < 2:
        return frozenset()
    namer, _diminutives, full_names = _tables()
    return frozenset(namer.canonicals_of(given)) | full_names.get(given, frozenset())


@lru_cache(maxsize=65536)
def _diminutives_of(given: str) -> frozenset[str]:
    namer, diminutives, _full_names = _tables()
    return frozenset(namer.nicknames_of(given)) | diminutives.get(given, frozenset())


@lru_cache(maxsize=262144)
def are_nicknames(first: str, second: str) -> bool:
    """Whether one folded given name is a listed diminutive of the other.

    Only direct pairs count: Bob-Robert and Bob-Bobby do, Bobby-Bert through
    Robert does not, because chains of diminutives join unrelated names.
    """
    if not first or not second or first == second or min(len(first), len(second)) < 2:
        return False
    return (
        second in _diminutives_of(first)
        or first in _diminutives_of(second)
        or second in full_names_of(first)
        or first in full_names_of(second)
    )


def blocking_names(given: str) -> tuple[str, ...]:
    """The given name and the full names it may be short for, for blocking:
    "bob" and "robert" then share the key "robert"."""
    if not given:
        return ()
    return (given, *sorted(full_names_of(given))[:8])
