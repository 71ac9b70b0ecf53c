"""Context compared beside names: organisations and the fields of stated titles.

An organisation is compared by a key that ignores case, accents, word order
and filler words, so "University of Oxford" and "Oxford University" agree. A
title is reduced to the fields its words name ("Actor and director" ->
acting, film) from ``data/fields.csv``; a title naming no known field says
nothing, so it can never disagree.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable
from functools import cache, lru_cache
from pathlib import Path

from rapidfuzz import fuzz

from people.matching.normalize import fold

_FIELDS = Path(__file__).with_name("data") / "fields.csv"
_ORG_FILLER = frozenset(
    {"the", "of", "and", "for", "at", "in", "a", "an", "inc", "ltd", "llc", "plc", "co"}
    | {"corp", "corporation", "gmbh", "sa", "ag", "limited"}
)
_ORG_ABBREVIATIONS = {"univ": "university", "uni": "university", "dept": "department"}


@lru_cache(maxsize=262144)
def org_key(text: str) -> str:
    """'The University of Oxford' -> 'oxford university'."""
    words = [_ORG_ABBREVIATIONS.get(word, word) for word in fold(text).split()]
    kept = [word for word in words if word not in _ORG_FILLER]
    return " ".join(sorted(kept or words))


def orgs_written_alike(left: Iterable[str], right: Iterable[str]) -> bool:
    """Some organisation key of one side is written like one of the other's (a
    slip, an abbreviation, "Oxford University Press" beside "Univ. of Oxford")."""
    right = tuple(right)
    return any(
        fuzz.token_set_ratio(x, y) >= 90 or fuzz.ratio(x, y) >= 85 for x in left for y in right
    )


@cache
def _field_words() -> dict[str, str]:
    with _FIELDS.open(encoding="utf-8") as handle:
        return {row["word"]: row["field"] for row in csv.DictReader(handle)}


@lru_cache(maxsize=65536)
def title_fields(title: str) -> frozenset[str]:
    """The fields a stated title names: "Radio host" -> {"broadcasting"}."""
    words = _field_words()
    return frozenset(words[word] for word in fold(title).split() if word in words)
