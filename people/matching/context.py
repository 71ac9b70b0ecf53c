"""Context compared beside names: organisations and the fields of stated titles.

An organisation is compared by a key that ignores case, accents, word order
and filler words, so "University of Oxford" and "Oxford University" agree. A
title is reduced to the fields its words name ("Actor and director" ->
acting, film) from ``data/fields.csv``; a title naming no known field says
nothing, so it can never disagree.
"""

from __future__ import annotations

import csv
from functools import cache, lru_cache
from pathlib import Path

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


@cache
def _field_words() -> dict[str, str]:
    with _FIELDS.open(encoding="utf-8") as handle:
        return {row["word"]: row["field"] for row in csv.DictReader(handle)}


@lru_cache(maxsize=65536)
def title_fields(title: str) -> frozenset[str]:
    """The fields a stated title names: "Radio host" -> {"broadcasting"}."""
    words = _field_words()
    return frozenset(words[word] for word in fold(title).split() if word in words)
