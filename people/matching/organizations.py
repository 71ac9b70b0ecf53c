"""The key of an organization's name, to resolve a stated affiliation exactly.

Two writings of one name have one key: case, accents and punctuation are
folded, "&" is "and", the little words "the", "of", "and", "for" and "at" are
dropped, common abbreviations are written out ("Univ." and "Univ" are
"university", "Ctr." and "Centre" are "center", "Intl." is "international"...)
and initials written apart are joined ("W.G.A." is "wga").

Word order is kept, so that "University of California" and "California
University" stay two organizations; only the inverted forms of catalogues are
put back in order: "Beatles, The" is "The Beatles", "California, University
of" is "University of California".

A key is compared exactly, never by closeness: a wrong organization is worse
than none. (The matcher's ``context.org_key``, which weighs whether two
people's affiliations agree, is looser on purpose: it sorts the words and
drops legal forms.)
"""

from __future__ import annotations

import re

from people.matching.normalize import fold

# Written out, after folding (the full stop is gone): "univ" stands for "Univ." too.
ABBREVIATIONS = {
    "acad": "academy",
    "assn": "association",
    "assoc": "association",
    "bros": "brothers",
    "centre": "center",
    "cntr": "center",
    "coll": "college",
    "corp": "corporation",
    "ctr": "center",
    "dept": "department",
    "govt": "government",
    "hosp": "hospital",
    "inst": "institute",
    "intl": "international",
    "mgmt": "management",
    "natl": "national",
    "theatre": "theater",
    "univ": "university",
}
STOP_WORDS = frozenset({"the", "of", "and", "for", "at"})

_AMPERSAND = re.compile(r"\s*&\s*")
_APOSTROPHES = re.compile(r"['\u2019\u2018`\u00b4]")


def _in_order(text: str) -> str:
    """ "Beatles, The" -> "Beatles"; "California, University of" ->
    "University of California"; anything else as it is."""
    head, comma, tail = text.partition(",")
    if not comma or "," in tail or not fold(head):
        return text
    words = fold(tail).split()
    if words == ["the"]:
        return head
    if len(words) >= 2 and words[-1] == "of":
        return f"{tail} {head}"
    return text


def _join_initials(words: list[str]) -> list[str]:
    """Runs of single letters are one word: ["w", "g", "a"] -> ["wga"]."""
    joined: list[str] = []
    run = ""
    for word in words:
        if len(word) == 1 and word.isalpha():
            run += word
            continue
        if run:
            joined.append(run)
            run = ""
        joined.append(word)
    if run:
        joined.append(run)
    return joined


def organization_key(text: str) -> str:
    """The key of an organization's name or of an affiliation as stated.

    >>> organization_key("The Writers Guild of America")
    'writers guild america'
    >>> organization_key("California, Univ. of")
    'university california'
    """
    if not text:
        return ""
    text = _APOSTROPHES.sub("", _AMPERSAND.sub(" and ", text))
    words = [ABBREVIATIONS.get(word, word) for word in fold(_in_order(text)).split()]
    kept = [word for word in words if word not in STOP_WORDS] or words
    return " ".join(_join_initials(kept))
