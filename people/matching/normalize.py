"""Name normalisation: the parts of a name and the folded forms compared.

Honorifics ("Sir", "Dr") and post-nominals ("CBE", "PhD") are kept aside in
their own fields rather than compared; "Last, First" is put in order; case,
accents, punctuation and hyphens are folded.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from functools import cache, lru_cache

from nameparser import HumanName
from nameparser.config import CONSTANTS
from unidecode import unidecode

_NON_ALNUM = re.compile(r"[^0-9a-z]+")
_SPACES = re.compile(r"\s+")
# A lone "M." before a full name is the French "Monsieur", which nameparser
# takes for an initial.
_FRENCH_HONORIFICS = {"m.", "mme", "mme.", "mlle", "mlle."}
# Post-nominals of learned societies and offices that nameparser does not list:
# "Gabrielle Buro FRS" is Gabrielle Buro, not someone whose family name is FRS.
CONSTANTS.suffix_acronyms.add(
    "frs",
    "fba",
    "frse",
    "freng",
    "fmedsci",
    "frsl",
    "frsa",
    "frsc",
    "facss",
    "frcp",
    "frcs",
    "frcpath",
    "frhists",
    "frs(can)",
    "fls",
    "fsa",
    "fras",
    "frgs",
    "ra",
    "kc",
    "mp",
    "mep",
    "msp",
    "mla",
    "qpm",
)


def fold(text: str) -> str:
    """Lower-case ASCII words separated by single spaces: "Cuarón" -> "cuaron"."""
    if not text:
        return ""
    if len(text) > 100:
        return _fold(text)
    # Short texts come again and again (the given and family names of a list).
    return _fold_short(text)


def _fold(text: str) -> str:
    normalised = unicodedata.normalize("NFKC", text)
    ascii_text = unidecode(normalised).casefold()
    return _NON_ALNUM.sub(" ", ascii_text).strip()


_fold_short = lru_cache(maxsize=65_536)(_fold)


def is_blank(text: str) -> bool:
    """Whether text has no letter or digit once folded: empty, spaces,
    punctuation or invisible characters (a zero-width space) only."""
    return not fold(text)


def clean_whitespace(text: str) -> str:
    if not text:
        return ""
    if len(text) > 100:
        return _clean_whitespace(text)
    # Short texts come again and again (the titles, affiliations and countries of a list).
    return _clean_short(text)


def _clean_whitespace(text: str) -> str:
    return _SPACES.sub(" ", unicodedata.normalize("NFC", text)).strip()


_clean_short = lru_cache(maxsize=65_536)(_clean_whitespace)


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


# --- A fast path for plain names ---------------------------------------------
#
# Most names a sync reads are plain words: "Ava B. DuVernay" or "DuVernay, Ava
# B.". For those nameparser's answer is known without running it (first word
# given, last word family, the words between middle; after a comma, the other
# way round), and running it is the slow part of a first sync. A name takes
# this path only when none of its words is anything nameparser would act on: a
# title, conjunction, particle, post-nominal, bound first name, roman numeral,
# abbreviation with a period, and none of nameparser's pre-processing (quoted
# or bracketed nicknames, "Ph. D", emoji, bidirectional marks) applies. Every
# other name goes through nameparser. tests/people/matching/test_plain_names.py
# compares the two on names made of nameparser's own word lists.

_PLAIN_WORD = r"[^\W_]+(?:['\-][^\W_]+)*\.?"
_PLAIN_NAME = re.compile(
    rf"(?P<given>{_PLAIN_WORD}(?: {_PLAIN_WORD})*?)(?: (?P<family>{_PLAIN_WORD}))"
    rf"|(?P<last>{_PLAIN_WORD}(?: {_PLAIN_WORD})*), (?P<first>{_PLAIN_WORD}(?: {_PLAIN_WORD})*)"
)
_PROBE = HumanName("")


@cache
def _pre_processing() -> tuple[re.Pattern[str], ...]:
    """The patterns of nameparser's pre-processing, read once. The words of a
    plain name have no quotes, brackets or bidirectional marks, but may hold
    circled digits, which nameparser drops as emoji; "Ph D" is two words."""
    regexes = CONSTANTS.regexes
    return (
        regexes.phd,
        regexes.emoji,
        *(
            getattr(regexes, pattern) if isinstance(pattern, str) else pattern
            for delimiters in (CONSTANTS.nickname_delimiters, CONSTANTS.maiden_delimiters)
            for pattern in delimiters.values()
        ),
    )


def _pre_processed(text: str) -> bool:
    """Whether nameparser's pre-processing would change ``text``."""
    return any(pattern.search(text) for pattern in _pre_processing())


@lru_cache(maxsize=65_536)
def _is_plain_word(word: str) -> bool:
    probe = _PROBE
    return not (
        probe.is_title(word)
        or probe.is_leading_title(word)
        or probe.is_conjunction(word)
        or probe.is_prefix(word)
        or probe.is_suffix(word)
        or probe.is_suffix_lenient(word)
        or probe.is_bound_first_name(word)
        or probe.is_non_first_name_prefix(word)
        or probe.is_roman_numeral(word)
        or probe.is_east_slavic_patronymic(word)
        or probe.is_turkic_patronymic_marker(word)
    )


def _plain_parts(text: str) -> tuple[str, str, str] | None:
    """(given, middle, family) as nameparser reads ``text`` (already cleaned),
    when it is a plain name in mixed case; None for any other."""
    if (
        CONSTANTS.patronymic_name_order
        or CONSTANTS.middle_name_as_last
        or CONSTANTS.capitalize_name
        or CONSTANTS.force_mixed_case_capitalization
        or text.isupper()
        or text.islower()
    ):
        return None
    match = _PLAIN_NAME.fullmatch(text)
    if match is None or _pre_processed(text):
        return None
    if match["family"] is not None:
        given, *middle = match["given"].split(" ")
        family = [match["family"]]
    else:
        given, *middle = match["first"].split(" ")
        family = match["last"].split(" ")
    if given.lower() in _FRENCH_HONORIFICS:
        return None  # parse_name's own rule for "M. Jean Dupont" applies
    if not all(_is_plain_word(word) for word in [given, *middle, *family]):
        return None
    return given, " ".join(middle), " ".join(family)


def _parse_plain(text: str) -> ParsedName | None:
    parts = _plain_parts(text)
    if parts is None:
        return None
    given, middle, family = parts
    return ParsedName(
        written=text, given=given, middle=middle, family=family, honorific="", suffix=""
    )


@lru_cache(maxsize=262_144)
def parse_name(written: str) -> ParsedName:
    text = clean_whitespace(written)
    return _parse_plain(text) or parse_with_nameparser(text)


def parse_plain_name(written: str) -> ParsedName | None:
    """parse_name's answer when the name takes the fast path, else None (cheap)."""
    return _parse_plain(clean_whitespace(written))


def parse_with_nameparser(written: str) -> ParsedName:
    """parse_name without the fast path: nameparser on every name."""
    text = clean_whitespace(written)
    human = HumanName(text)
    honorific, suffix = human.title, human.suffix
    given, middle, family = human.first, human.middle, human.last
    if not honorific and given.lower() in _FRENCH_HONORIFICS and family and middle:
        # "M. Jean Dupont" is Monsieur Jean Dupont; "M. Gyllenhaal" an initial.
        honorific, given, middle = given, middle, ""
    if text.isupper() or text.islower():
        # "MAGGIE GYLLENHAAL": restore a readable case for display, part by part
        # as nameparser would ("McCartney", "de la Cruz"), without parsing again.
        given = human.cap_piece(given, "first")
        middle = human.cap_piece(middle, "middle")
        family = human.cap_piece(family, "last")
    return ParsedName(
        written=text,
        given=given,
        middle=middle,
        family=family,
        honorific=honorific,
        suffix=suffix,
    )


def name_key(written: str) -> str:
    return parse_name(written).key


# --- Forms compared by the matcher ----------------------------------------------
#
# ``name_form`` is the matcher's reading of a written name. It follows the same
# rules as ``parse_name`` but works token by token on nameparser's own lists of
# titles, post-nominals and particles, because parsing a million names through
# ``HumanName`` takes minutes and the matcher reads every name of every run.

_APOSTROPHES = re.compile(r"['\u2019\u2018`\u00b4]")
# Particles written apart from the family name they belong to ("del Toro",
# "van der Berg"). "Mc", "Mac", "St" and "San" are part of the name itself.
_PARTICLES = frozenset(CONSTANTS.prefixes) - {"mac", "mc", "st", "ste", "san", "santa"}
_TITLES = frozenset(CONSTANTS.titles) | {"m", "mme", "mlle", "mr", "mrs", "ms", "mx"}
_SUFFIX_WORDS = frozenset(CONSTANTS.suffix_not_acronyms) - {"i", "v", "2", "dr"}
_SUFFIX_ACRONYMS = frozenset(CONSTANTS.suffix_acronyms)


@dataclass(frozen=True, slots=True)
class NameForm:
    """The folded parts of one written name, as the matcher compares them."""

    written: str
    given: str  # first given name, folded, hyphens and spaces removed: "jeanluc"
    middle: str  # other given names, folded, space-separated
    family: str  # family name without particles, hyphens or spaces: "toro"
    family_full: str  # with its particles: "deltoro"
    family_parts: str = ""  # pieces of a double family name: "lillie hinrichs"
    honorific: str = ""
    suffix: str = ""

    @property
    def tail(self) -> str:
        """Middle and family names run together: "Mary Lillie Hinrichs" -> "lilliehinrichs"."""
        return (self.middle.replace(" ", "") + self.family_full) if self.middle else ""

    @property
    def initials(self) -> str:
        return "".join(part[0] for part in (self.given, *self.middle.split()) if part)

    @property
    def given_is_initial(self) -> bool:
        return len(self.given) == 1

    @property
    def key(self) -> str:
        return " ".join(part for part in (self.given, self.middle, self.family_full) if part)


def _strip_word(token: str) -> str:
    return token.strip('.,;:()[]"').lower()


def _ascii_fold(token: str) -> str:
    """``fold`` for text already transliterated to ASCII."""
    return _NON_ALNUM.sub(" ", token.lower()).strip()


def _ascii(text: str) -> str:
    return _APOSTROPHES.sub("", unidecode(unicodedata.normalize("NFKC", text)))


def _is_post_nominal(token: str, *, mixed_case: bool) -> bool:
    bare = _strip_word(token).replace(".", "")
    if not bare:
        return False
    if bare in _SUFFIX_WORDS:
        return True
    if bare not in _SUFFIX_ACRONYMS:
        return False
    # "CBE" or "Ph.D." in mixed-case text is a post-nominal; "Ma" (Yo-Yo Ma) is a
    # family name. In all-capital or all-lower text only longer acronyms count.
    if mixed_case:
        return "." in token or sum(ch.isupper() for ch in token) >= 2
    return len(bare) >= 3


def _fold_word(token: str) -> list[str]:
    """One written word as folded pieces: "J.R.R." -> ["j", "r", "r"],
    "Lillie-Hinrichs" -> ["lilliehinrichs"], "O'Brien" -> ["obrien"]."""
    folded = _ascii_fold(token)
    if "." in token and "-" not in token:
        return folded.split()
    return [folded.replace(" ", "")] if folded else []


def _given_and_middle(words: list[str]) -> tuple[str, str]:
    pieces = [piece for word in words for piece in _fold_word(word)]
    if not pieces:
        return "", ""
    return pieces[0], " ".join(pieces[1:])


def _family(words: list[str]) -> tuple[str, str, str]:
    pieces = [piece for word in words for piece in _fold_word(word)]
    core = [piece for piece in pieces if piece not in _PARTICLES] or pieces
    # Hyphenated words split again into the names they join.
    parts = [p for word in words for p in _ascii_fold(word).split()]
    parts = [p for p in parts if p not in _PARTICLES and len(p) > 1]
    return "".join(core), "".join(pieces), " ".join(parts) if len(parts) > 1 else ""


@lru_cache(maxsize=1_000_000)
def name_form(written: str) -> NameForm:
    """Read a written name into the parts the matcher compares.

    >>> name_form("McCartney, Sir Paul").key
    'paul mccartney'
    """
    text = clean_whitespace(written)
    plain = _ascii(text)
    mixed_case = plain != plain.upper() and plain != plain.lower()
    parts = [part.split() for part in plain.split(",")]
    parts = [part for part in parts if part]
    suffixes: list[str] = []
    # Comma parts made only of post-nominals: "John Smith, Jr." or "Smith, John, CBE".
    while len(parts) > 1 and all(_is_post_nominal(w, mixed_case=mixed_case) for w in parts[-1]):
        suffixes[:0] = parts.pop()
    if len(parts) >= 2:
        family_words, given_words = parts[0], [w for part in parts[1:] for w in part]
    else:
        family_words, given_words = [], parts[0] if parts else []

    honorifics: list[str] = []
    body = given_words
    while len(body) > 1 and _strip_word(body[0]).replace(".", "") in _TITLES:
        # In given-first order keep two words for the name itself ("King Princess").
        if not family_words and len(body) <= 2:
            break
        honorifics.append(body.pop(0))
    # Post-nominals end the name: after the family name, or after the given
    # names when the family name comes first ("Buro, Gabrielle FRS").
    for tail_words in (family_words, body) if family_words else (body,):
        while len(tail_words) > 1 and _is_post_nominal(tail_words[-1], mixed_case=mixed_case):
            suffixes.insert(0, tail_words.pop())
    if not family_words:
        if len(body) == 1:
            given, middle = "", ""
            family, family_full, family_parts = _family(body)
        else:
            start = len(body) - 1
            for index in range(1, len(body) - 1):
                if _strip_word(body[index]) in _PARTICLES:
                    start = index
                    break
            given, middle = _given_and_middle(body[:start])
            family, family_full, family_parts = _family(body[start:])
    else:
        given, middle = _given_and_middle(body)
        family, family_full, family_parts = _family(family_words)
    return NameForm(
        written=text,
        given=given,
        middle=middle,
        family=family,
        family_full=family_full,
        family_parts=family_parts,
        honorific=" ".join(honorifics),
        suffix=" ".join(suffixes),
    )


def name_form_from_parts(given: str, family: str, written: str = "") -> NameForm:
    """A name already split into given and family names, as in a CSV with
    ``first_name`` and ``last_name`` columns."""
    given_name, middle = _given_and_middle(_ascii(given or "").split())
    family_key, family_full, family_parts = _family(_ascii(family or "").split())
    return NameForm(
        written=written or " ".join(p for p in (given, family) if p),
        given=given_name,
        middle=middle,
        family=family_key,
        family_full=family_full,
        family_parts=family_parts,
    )
