"""Strong identifiers: date of birth, Wikidata QID, ORCID, e-mail, other external ids.

Each is read into one form under the key of what it identifies, as the text
``"key=value"`` ("orcid=0000-0002-1825-0097", "born=1956-01-25"), so that two
records carrying the same key can be compared: the same value says one person
far more surely than any name, another value says two people whatever the
names. A value that cannot be read (an ORCID whose check digit fails, a date
that is not one) is left out rather than allowed to disagree.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from datetime import date, datetime
from enum import IntEnum
from typing import Any

from people.matching.normalize import fold

BORN = "born"
WIKIDATA = "wikidata"
ORCID = "orcid"
EMAIL = "email"

# Keys as written (folded) -> the key compared. Any other key of a person's
# external ids is compared under its folded self; other columns of a list's
# entries only under these.
KEYS = {
    "born": BORN,
    "date of birth": BORN,
    "dob": BORN,
    "birth date": BORN,
    "birthdate": BORN,
    "birthday": BORN,
    "wikidata": WIKIDATA,
    "wikidata id": WIKIDATA,
    "wikidata qid": WIKIDATA,
    "qid": WIKIDATA,
    "orcid": ORCID,
    "orcid id": ORCID,
    "orcid ids": ORCID,
    "email": EMAIL,
    "e mail": EMAIL,
    "email address": EMAIL,
    "e mail address": EMAIL,
    "mail": EMAIL,
}

_QID = re.compile(r"(?:^|[/:=\s])(Q[1-9][0-9]*)$", re.IGNORECASE)
_ORCID_CHARS = re.compile(r"[^0-9X]")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_ISO_DATE = re.compile(r"^(\d{4})-?(\d{2})-?(\d{2})(?:[T ].*)?$")


class Agreement(IntEnum):
    NONE = 0
    BORN = 1  # the date of birth agrees, and no other identifier is shared
    AGREE = 2  # an identifier other than the date of birth agrees
    DISAGREE = 3  # some identifier both carry has no value in common


def _orcid(value: str) -> str:
    text = value.strip().upper()
    text = text.rsplit("/", 1)[-1]
    digits = _ORCID_CHARS.sub("", text)
    if len(digits) != 16 or "X" in digits[:15]:
        return ""
    total = 0
    for char in digits[:15]:
        total = (total + int(char)) * 2
    check = (12 - total % 11) % 11
    if digits[15] != ("X" if check == 10 else str(check)):
        return ""
    return "-".join(digits[i : i + 4] for i in range(0, 16, 4))


def _wikidata(value: str) -> str:
    found = _QID.search(value.strip().rstrip("/"))
    return found.group(1).upper() if found else ""


def _email(value: str) -> str:
    text = re.sub(r"\s+", "", value).lower()
    text = text.removeprefix("mailto:")
    return text if _EMAIL.match(text) else ""


def _born(value: Any) -> str:
    if isinstance(value, datetime):
        return value.date().isoformat()
    if isinstance(value, date):
        return value.isoformat()
    found = _ISO_DATE.match(str(value).strip())
    if not found:
        return ""
    try:
        return date(*(int(part) for part in found.groups())).isoformat()
    except ValueError:
        return ""


_READERS = {BORN: _born, WIKIDATA: _wikidata, ORCID: _orcid, EMAIL: _email}


def written_keys() -> list[str]:
    """The ways a list's column heading may spell an identifier's key, to find
    the entries that state one ("Date of birth", "date_of_birth", "ORCID")."""
    spelled = set()
    for key in KEYS:
        for joined in (key, key.replace(" ", "_"), key.replace(" ", "-"), key.replace(" ", "")):
            spelled.update((joined, joined.capitalize(), joined.title(), joined.upper()))
    spelled.update(("e-mail", "E-mail", "E-Mail", "E-MAIL", "ORCID iD", "Wikidata QID"))
    return sorted(spelled)


def identifier_key(written: str, *, any_key: bool) -> str:
    """The key a written key is compared under ("" for none): "E-mail" -> "email"."""
    key = fold(written)
    known = KEYS.get(key)
    if known:
        return known
    return key if any_key else ""


def identifiers(
    pairs: Iterable[tuple[str, Any]] | Mapping[str, Any], *, any_key: bool = True
) -> frozenset[str]:
    """Written (key, value) pairs as the identifiers compared, ``"key=value"``.

    With ``any_key`` (a person's external ids) every key counts; without (a
    list's other columns), only the keys of ``KEYS``.
    """
    items = pairs.items() if isinstance(pairs, Mapping) else pairs
    found = set()
    for written_key, value in items:
        if value is None or value == "" or not isinstance(written_key, str):
            continue
        key = identifier_key(written_key, any_key=any_key)
        if not key:
            continue
        reader = _READERS.get(key)
        if reader is not None:
            text = reader(value)
        elif isinstance(value, str | int):
            text = str(value).strip()
        else:
            text = ""
        if text:
            found.add(f"{key}={text}")
    return frozenset(found)


def _by_key(texts: Iterable[str]) -> dict[str, set[str]]:
    grouped: dict[str, set[str]] = {}
    for text in texts:
        key, _, value = text.partition("=")
        grouped.setdefault(key, set()).add(value)
    return grouped


def compare(left: frozenset[str], right: frozenset[str]) -> Agreement:
    """How two records' identifiers compare: a key both carry with no value in
    common disagrees, whatever else agrees."""
    if not left or not right:
        return Agreement.NONE
    one, other = _by_key(left), _by_key(right)
    shared = one.keys() & other.keys()
    if not shared:
        return Agreement.NONE
    if any(not one[key] & other[key] for key in shared):
        return Agreement.DISAGREE
    return Agreement.BORN if shared == {BORN} else Agreement.AGREE


def disagree(left: frozenset[str], right: frozenset[str]) -> bool:
    return compare(left, right) == Agreement.DISAGREE
