"""Name normalisation: the parts of a name and the folded forms compared.

Honorifics ("Sir", "Dr") and post-nominals ("CBE", "PhD") are kept aside in
their own fields rather than compared; "Last, First" is put in order; case,
accents, punctuation and hyphens are folded.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

from nameparser import HumanName
from unidecode import unidecode

_NON_ALNUM = re.compile(r"[^0-9a-z]+")
_SPACES = re.compile(r"\s+")
# A lone "M." before a full name is the French "Monsieur", which nameparser
# takes for an initial.
_FRENCH_HONORIFICS = {"m.", "mme", "mme.", "mlle", "mlle."}


def fold(text: str) -> str:
    """Lower-case ASCII words separated by single spaces: "Cuarón" -> "cuaron"."""
    if not text:
        return ""
    normalised = unicodedata.normalize("NFKC", text)
    ascii_text = unidecode(normalised).casefold()
    return _NON_ALNUM.sub(" ", ascii_text).strip()


def clean_whitespace(text: str) -> str:
    return _SPACES.sub(" ", unicodedata.normalize("NFC", text or "")).strip()


@dataclass(frozen=True)
class ParsedName:
    written: str
    given: str
    middle: str
    family: str
    honorific: str
    suffix: str

    @property
    def display(self) -> str:
        return " ".join(part for part in (self.given, self.middle, self.family) if part)

    @property
    def sort_name(self) -> str:
        rest = " ".join(part for part in (self.given, self.middle) if part)
        if self.family and rest:
            return f"{self.family}, {rest}"
        return self.family or rest

    @property
    def key(self) -> str:
        """The folded full name without honorifics or post-nominals."""
        return fold(self.display) or fold(self.written)


def parse_name(written: str) -> ParsedName:
    text = clean_whitespace(written)
    human = HumanName(text)
    honorific = human.title
    given, middle, family = human.first, human.middle, human.last
    if not honorific and given.lower() in _FRENCH_HONORIFICS and family:
        honorific, given, middle = given, middle, ""
        if not given:
            given, family = family, ""
    if text.isupper() or text.islower():
        # "MAGGIE GYLLENHAAL": restore a readable case for display.
        human = HumanName(" ".join(p for p in (given, middle, family) if p))
        human.capitalize(force=True)
        given, middle, family = human.first, human.middle, human.last
    return ParsedName(
        written=text,
        given=given,
        middle=middle,
        family=family,
        honorific=honorific,
        suffix=human.suffix if human.suffix else HumanName(text).suffix,
    )


def name_key(written: str) -> str:
    return parse_name(written).key
