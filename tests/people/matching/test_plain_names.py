"""parse_name's fast path for plain names gives nameparser's answer exactly."""

import random

from hypothesis import given, settings
from hypothesis import strategies as st
from nameparser.config import CONSTANTS

from people.matching.normalize import parse_name, parse_plain_name, parse_with_nameparser

GIVEN = ["Ava", "Cate", "Björk", "François", "Zoë", "Søren", "Jean-Luc", "Li", "Wei", "Nia"]
GIVEN += ["Abdul", "Maria", "Vi", "Ed", "Mae", "Ho", "Ana", "Ivy", "Xi", "Di", "Yo-Yo"]
FAMILY = ["DuVernay", "Gyllenhaal", "Cuarón", "O'Brien", "McCartney", "Lillie-Hinrichs", "Ma"]
FAMILY += ["Kierkegaard", "Nakamura", "Traoré", "Ivanovich", "Petrovna", "Oglu", "Müller"]
# Words nameparser acts on: titles, particles, conjunctions, post-nominals, bound
# first names, roman numerals, abbreviations, and characters its pre-processing removes.
SPECIAL = ["Sir", "Dr", "Dr.", "Mr.", "M.", "Mme", "Rev", "Prof.", "Major.", "Hon."]
SPECIAL += ["van", "Van", "de", "De", "la", "del", "von", "der", "bin", "da", "St.", "Mac"]
SPECIAL += ["y", "e", "and", "&", "of", "the", "Jr", "Jr.", "Sr.", "III", "IV", "V", "V."]
SPECIAL += ["II", "I", "X", "PhD", "Ph.D.", "Ph", "D", "CBE", "FRS", "MD", "Esq.", "KC"]
SPECIAL += ["Lt.Gov.", "J.R.R.", "Abu", "Abd", "Al", "el", "Ibn", '"Bob"', "(Bob)", "'Bob'"]
SPECIAL += ["❶", "\u200ePaul", "Ph.", "D.", "J.", "A.", "B.", "Ava2", "12", "Y."]
PLAIN_INITIALS = [f"{letter}." for letter in "ABCDFGHJKLMNPRSTW"]


def _some_words(rng: random.Random) -> list[str]:
    words = [*GIVEN, *FAMILY, *PLAIN_INITIALS, *SPECIAL]
    words += rng.sample(sorted(CONSTANTS.titles), 5) + rng.sample(sorted(CONSTANTS.prefixes), 5)
    words += rng.sample(sorted(CONSTANTS.suffix_acronyms), 5)
    words += rng.sample(sorted(CONSTANTS.conjunctions), 3)
    words += rng.sample(sorted(CONSTANTS.bound_first_names), 3)
    return words


def _generated_names(count: int, seed: int) -> list[str]:
    rng = random.Random(seed)
    names = []
    for _ in range(count):
        words = _some_words(rng) if rng.random() < 0.05 else [*GIVEN, *FAMILY, *PLAIN_INITIALS]
        picked = [rng.choice(words) for _ in range(rng.choice([1, 2, 2, 3, 3, 4, 5]))]
        if rng.random() < 0.3:
            picked = [rng.choice(GIVEN), *picked, rng.choice(FAMILY)]
        name = " ".join(picked)
        if rng.random() < 0.2 and len(picked) > 1:
            cut = rng.randrange(1, len(picked))
            name = f"{' '.join(picked[cut:])}, {' '.join(picked[:cut])}"
        if rng.random() < 0.05:
            name = name.upper() if rng.random() < 0.5 else name.lower()
        if rng.random() < 0.03:
            name = name.replace(" ", "  ", 1).replace(",", " ,")
        names.append(name)
    return names


def test_it_parses_plain_names_as_nameparser_does():
    names = _generated_names(30_000, seed=20261202)
    differing = [
        (name, parse_name(name), parse_with_nameparser(name))
        for name in names
        if parse_name(name) != parse_with_nameparser(name)
    ]
    assert differing == []
    # The sample exercises both paths.
    plain = sum(parse_plain_name(name) is not None for name in names)
    assert len(names) * 0.25 < plain < len(names) * 0.95


def test_it_leaves_names_nameparser_acts_on_to_nameparser():
    for name in [
        "Sir Paul McCartney",
        "Guillermo del Toro",
        "John Smith Jr.",
        "John Smith V",
        "M. Jean Dupont",
        "Ava (Bob) DuVernay",
        "John Ph D Smith",
        "Ivan Petrov Ivanovich",
        "Abdul Rahman Ali",
        "Major. Tom Jones",
        "MAGGIE GYLLENHAAL",
        "McCartney, Sir Paul",
    ]:
        assert parse_plain_name(name) is None, name
        assert parse_name(name) == parse_with_nameparser(name)


def test_it_reads_plain_names_in_both_orders():
    assert parse_plain_name("Ava B. DuVernay-12") == parse_with_nameparser("Ava B. DuVernay-12")
    assert parse_plain_name("DuVernay-12, Ava B.").family == "DuVernay-12"
    assert parse_plain_name("García López, Ana María").given == "Ana"


@settings(max_examples=500, deadline=None)
@given(
    st.lists(
        st.sampled_from(
            [*GIVEN, *FAMILY, *PLAIN_INITIALS, *SPECIAL, *sorted(CONSTANTS.conjunctions)]
        ),
        min_size=1,
        max_size=5,
    ),
    st.integers(min_value=0, max_value=5),
)
def test_any_name_of_these_words_parses_as_nameparser_does(words, comma):
    name = " ".join(words)
    if 0 < comma < len(words):
        name = f"{' '.join(words[comma:])}, {' '.join(words[:comma])}"
    assert parse_name(name) == parse_with_nameparser(name)
