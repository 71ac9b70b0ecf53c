"""A second generator of signatory lists, built on other assumptions than
``bench/matching_data.py``, so that a change to the matcher can be checked on
records it was not tuned on.

Assumptions:

- People come from 15 locales, with real-looking names from the Faker
  library's own name lists (and its weights where it has them: en_US, en_GB,
  sv_SE); Japanese names romanised, Indian names from Faker's en_IN. Namesakes
  are not planted: two people share a full name as often as their locale's
  lists make it happen, so small lists (Japanese, Turkish family names) give
  many and large ones few.
- Spanish people carry two family names, Portuguese and Brazilian people often
  do, written as one string; lists sometimes keep only one of them (the first
  for Spanish names, the last for Portuguese ones). Polish family names take
  their feminine form.
- People work in a sector (universities, research, hospitals, the arts,
  technology, law, civil society) at an organisation of their country, chosen
  by size (log-normal), and a quarter of those who sign several letters move
  to another organisation part-way; a few hold a second one that some lists
  state instead.
- Six kinds of source, each with its own habits: the letter's site (typed by
  the signatories), the organisers' sheet ("Family, Given", initials), a
  newspaper (nicknames, honorifics, one family name, accents lost), a wire
  service (capitals, ASCII, Japanese family-name-first order), an aggregator's
  feed (initials, stale affiliations, abbreviations) and the editors (careful).
- Corruptions: nicknames (a small table of common ones in several languages),
  initials for given names, 1- and 2-edit typos (keyboard neighbours,
  doubling, dropping, transposing), given and family swapped, "Family, Given",
  a missing given name, case changes, accents dropped (German umlauts
  sometimes as ae/oe/ue); affiliations canonical, abbreviated ("Univ.",
  "Res. Ctr.", "Inst."), as an acronym, misspelt, missing or another one.

``generate(records, seed=...)`` gives ``Entry`` rows like the first generator;
``generate_labelled`` also gives, for each entry, what was done to it.

    python -m bench.matching_data_alt --records 1000 --seed 1   # JSON lines
"""

from __future__ import annotations

import argparse
import itertools
import json
import math
import random
import sys
from dataclasses import dataclass, field
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from faker import Faker  # noqa: E402
from rapidfuzz.distance import OSA  # noqa: E402
from unidecode import unidecode  # noqa: E402

from bench.matching_data import Entry  # noqa: E402

# Share of people from each locale.
LOCALES = {
    "en_US": 0.17,
    "en_GB": 0.11,
    "en_IN": 0.07,
    "es_ES": 0.07,
    "es_MX": 0.06,
    "pt_BR": 0.07,
    "pt_PT": 0.03,
    "fr_FR": 0.07,
    "de_DE": 0.09,
    "it_IT": 0.06,
    "nl_NL": 0.04,
    "pl_PL": 0.04,
    "sv_SE": 0.03,
    "tr_TR": 0.04,
    "ja_JP": 0.04,
}
# Share of people with two family names, and which one a list keeps when it drops one.
DOUBLE_FAMILY = {"es_ES": (0.9, "first"), "es_MX": (0.85, "first"), "pt_BR": (0.6, "last")}
DOUBLE_FAMILY["pt_PT"] = (0.75, "last")
MIDDLE_NAME = {"en_US": 0.3, "en_GB": 0.2, "sv_SE": 0.2, "de_DE": 0.1, "nl_NL": 0.05}
# Locales whose city names Faker makes up in English patterns or writes in
# another script: their organisations are named after family names instead.
PLACES_FROM_NAMES = {"ja_JP", "tr_TR"}
FAKER_PROVIDERS = ["faker.providers.person", "faker.providers.address", "faker.providers.company"]

NICKNAMES = {
    "William": ["Bill", "Will", "Billy"],
    "Robert": ["Bob", "Rob", "Bobby"],
    "Richard": ["Rick", "Rich", "Dick"],
    "James": ["Jim", "Jimmy", "Jamie"],
    "John": ["Jack", "Johnny"],
    "Michael": ["Mike", "Mick"],
    "Thomas": ["Tom", "Tommy"],
    "Christopher": ["Chris", "Kit"],
    "Joseph": ["Joe", "Joey"],
    "Daniel": ["Dan", "Danny"],
    "Matthew": ["Matt"],
    "Anthony": ["Tony"],
    "Edward": ["Ed", "Eddie", "Ted"],
    "Nicholas": ["Nick"],
    "Benjamin": ["Ben"],
    "Alexander": ["Alex", "Sandy"],
    "Samuel": ["Sam"],
    "Jonathan": ["Jon"],
    "Timothy": ["Tim"],
    "Stephen": ["Steve"],
    "Steven": ["Steve"],
    "Patrick": ["Pat", "Paddy"],
    "Gregory": ["Greg"],
    "Kenneth": ["Ken", "Kenny"],
    "Elizabeth": ["Liz", "Beth", "Lizzie", "Betty"],
    "Margaret": ["Maggie", "Meg", "Peggy"],
    "Katherine": ["Kate", "Kathy", "Katie"],
    "Catherine": ["Cathy", "Kate"],
    "Jennifer": ["Jen", "Jenny"],
    "Rebecca": ["Becky"],
    "Victoria": ["Vicky", "Tori"],
    "Patricia": ["Pat", "Patty", "Trish"],
    "Susan": ["Sue", "Susie"],
    "Deborah": ["Debbie", "Deb"],
    "Jessica": ["Jess"],
    "Samantha": ["Sam"],
    "Christine": ["Chris", "Tina"],
    "Abigail": ["Abby"],
    "Francisco": ["Paco", "Pancho", "Curro"],
    "José": ["Pepe"],
    "Ignacio": ["Nacho"],
    "Enrique": ["Quique"],
    "Manuel": ["Manolo"],
    "Guillermo": ["Memo"],
    "Alejandro": ["Álex"],
    "Antonio": ["Toño", "Toni"],
    "Jesús": ["Chucho", "Chuy"],
    "Dolores": ["Lola"],
    "Guadalupe": ["Lupe"],
    "Rosario": ["Charo"],
    "Concepción": ["Concha"],
    "Mercedes": ["Merche"],
    "Eduardo": ["Edu", "Dudu"],
    "Fernanda": ["Nanda"],
    "Giuseppe": ["Beppe", "Peppe"],
    "Giovanni": ["Gianni", "Nino"],
    "Francesco": ["Franco", "Cecco"],
    "Alessandro": ["Sandro"],
    "Vincenzo": ["Enzo"],
    "Salvatore": ["Totò"],
    "Wolfgang": ["Wolf"],
    "Friedrich": ["Fritz"],
    "Johannes": ["Hannes", "Jan"],
    "Katharina": ["Kathi"],
    "Christian": ["Chris"],
    "Stefan": ["Steffen"],
    "Willem": ["Wim"],
    "Hendrik": ["Henk"],
    "Cornelis": ["Kees"],
    "Pieter": ["Piet"],
    "Katarzyna": ["Kasia"],
    "Małgorzata": ["Gosia"],
    "Wojciech": ["Wojtek"],
    "Tomasz": ["Tomek"],
    "Aleksander": ["Olek"],
    "Magdalena": ["Magda"],
    "Agnieszka": ["Aga"],
    "Fredrik": ["Fredde"],
    "Kristina": ["Stina"],
    "Margareta": ["Greta"],
    "Mehmet": ["Memo"],
    "Frédéric": ["Fred"],
    "Christophe": ["Chris"],
    "Dominique": ["Dom"],
}
HONORIFICS = {
    "academia": ["Prof.", "Dr", "Dr."],
    "research": ["Dr", "Dr."],
    "medicine": ["Dr", "Dr."],
    "law": ["Mr", "Ms"],
}
SECTORS = {
    "academia": 0.38,
    "research": 0.12,
    "medicine": 0.1,
    "arts": 0.14,
    "technology": 0.11,
    "law": 0.05,
    "civil society": 0.1,
}
ROLES = {
    "academia": [
        "Professor of {subject}",
        "Associate Professor",
        "Assistant Professor of {subject}",
        "Lecturer in {subject}",
        "Senior Lecturer",
        "PhD candidate",
        "Emeritus Professor",
    ],
    "research": ["Research Scientist", "Senior Researcher", "Postdoctoral Fellow", "Lab Director"],
    "medicine": ["Physician", "Consultant Surgeon", "Epidemiologist", "Nurse", "Psychiatrist"],
    "arts": ["Novelist", "Film director", "Actor", "Composer", "Visual artist", "Poet"],
    "technology": ["Software engineer", "Data scientist", "CTO", "Product manager"],
    "law": ["Attorney", "Human rights lawyer", "Partner", "Judge (retired)"],
    "civil society": ["Executive Director", "Campaigner", "Policy Officer", "Volunteer"],
}
SUBJECTS = [
    "Physics",
    "Chemistry",
    "Biology",
    "History",
    "Economics",
    "Computer Science",
    "Mathematics",
    "Sociology",
    "Philosophy",
    "Linguistics",
    "Climate Science",
    "Public Health",
]
ROLE_ABBREVIATIONS = [("Professor", "Prof."), ("Associate", "Assoc."), ("Assistant", "Asst.")]
UNIVERSITY = {
    "en": ["University of {place}", "{place} University", "{place} Institute of Technology"],
    "es": ["Universidad de {place}", "Universidad Autónoma de {place}"],
    "pt": ["Universidade de {place}", "Universidade Federal de {place}"],
    "fr": ["Université de {place}", "Institut National de {place}"],
    "de": ["Universität {place}", "Technische Universität {place}"],
    "it": ["Università di {place}", "Politecnico di {place}"],
    "nl": ["Universiteit {place}", "Hogeschool {place}"],
    "pl": ["Uniwersytet w {place}", "Politechnika w {place}"],
    "sv": ["{place} universitet", "Tekniska högskolan i {place}"],
    "tr": ["{place} Üniversitesi", "{place} Teknik Üniversitesi"],
    "ja": ["{place} University", "University of {place}"],
}
SECTOR_ORGS = {
    "research": [
        "{place} Research Centre for {subject}",
        "{family} Institute for {subject}",
        "Institute of {subject}, {place}",
        "{place} Research Center",
    ],
    "medicine": [
        "{place} General Hospital",
        "{family} Memorial Hospital",
        "{place} Medical Centre",
    ],
    "arts": ["{place} Symphony Orchestra", "{place} Theatre Company", "{place} Writers' House"],
    "technology": ["{company}", "{company} Labs"],
    "law": ["{family} & {family2} LLP", "{family} {family2} Attorneys"],
    "civil society": ["{place} Foundation for {subject}", "{family} Foundation", "{place} Forum"],
}
ORG_ABBREVIATIONS = [
    ("University", "Univ."),
    ("Universidad", "Univ."),
    ("Universidade", "Univ."),
    ("Université", "Univ."),
    ("Universität", "Univ."),
    ("Università", "Univ."),
    ("Universiteit", "Univ."),
    ("Uniwersytet", "Univ."),
    ("universitet", "univ."),
    ("Üniversitesi", "Üniv."),
    ("Research Centre", "Res. Ctr."),
    ("Research Center", "Res. Ctr."),
    ("Institute", "Inst."),
    ("Institut", "Inst."),
    ("Technology", "Tech."),
    ("Technische", "Techn."),
    ("Hospital", "Hosp."),
    ("Foundation", "Fdn."),
    ("Medical Centre", "Med. Ctr."),
    ("Symphony Orchestra", "SO"),
    (" & ", " and "),
]
GERMAN_SPELLINGS = [("ä", "ae"), ("ö", "oe"), ("ü", "ue"), ("Ä", "Ae"), ("Ö", "Oe"), ("Ü", "Ue")]
NEIGHBOURS = {
    row[i]: row[max(0, i - 1) : i] + row[i + 1 : i + 2]
    for row in ("qwertyuiop", "asdfghjkl", "zxcvbnm")
    for i in range(len(row))
}


@dataclass(frozen=True, slots=True)
class Source:
    """How one kind of source writes its entries: each value is a probability."""

    label: str
    weight: float  # how likely a signature is to be listed here
    typed_lower: float = 0.0
    typed_upper: float = 0.0
    family_upper: float = 0.0
    accents_dropped: float = 0.0
    nickname: float = 0.0
    initials: float = 0.0
    typo: float = 0.0  # of which a fifth are two edits
    swap: float = 0.0
    swap_japanese: float = 0.0
    comma: float = 0.0
    no_given: float = 0.0
    surname_dropped: float = 0.0
    middle_dropped: float = 0.5
    honorific: float = 0.0
    title: float = 0.0
    affiliation: float = 0.0
    abbreviated: float = 0.0
    acronym: float = 0.0
    misspelt: float = 0.0
    stale: float = 0.0


SOURCES = [
    Source(
        "letter site",
        0.9,
        typed_lower=0.06,
        typed_upper=0.02,
        accents_dropped=0.25,
        nickname=0.15,
        initials=0.02,
        typo=0.035,
        swap=0.01,
        swap_japanese=0.15,
        comma=0.02,
        middle_dropped=0.6,
        honorific=0.05,
        title=0.7,
        affiliation=0.8,
        abbreviated=0.2,
        acronym=0.04,
        misspelt=0.04,
    ),
    Source(
        "organisers' sheet",
        0.5,
        family_upper=0.15,
        accents_dropped=0.05,
        initials=0.2,
        typo=0.025,
        comma=0.8,
        middle_dropped=0.3,
        surname_dropped=0.1,
        title=0.4,
        affiliation=0.9,
        abbreviated=0.35,
        acronym=0.05,
        misspelt=0.02,
        stale=0.03,
    ),
    Source(
        "newspaper",
        0.45,
        accents_dropped=0.45,
        nickname=0.3,
        typo=0.05,
        swap=0.01,
        no_given=0.03,
        surname_dropped=0.4,
        middle_dropped=0.7,
        honorific=0.2,
        title=0.8,
        affiliation=0.45,
        abbreviated=0.1,
        misspelt=0.03,
        stale=0.08,
    ),
    Source(
        "wire service",
        0.3,
        typed_upper=0.3,
        accents_dropped=0.9,
        typo=0.03,
        swap=0.03,
        swap_japanese=0.4,
        comma=0.1,
        surname_dropped=0.25,
        middle_dropped=0.8,
        title=0.5,
        affiliation=0.55,
        abbreviated=0.25,
        acronym=0.1,
        stale=0.05,
    ),
    Source(
        "aggregator feed",
        0.35,
        typed_lower=0.02,
        accents_dropped=0.3,
        nickname=0.1,
        initials=0.3,
        typo=0.04,
        comma=0.4,
        no_given=0.04,
        surname_dropped=0.15,
        title=0.2,
        affiliation=0.6,
        abbreviated=0.4,
        acronym=0.08,
        misspelt=0.1,
        stale=0.15,
    ),
    Source(
        "editors",
        0.25,
        typo=0.01,
        middle_dropped=0.1,
        honorific=0.1,
        title=0.85,
        affiliation=0.85,
        abbreviated=0.05,
        misspelt=0.01,
    ),
]


@dataclass(frozen=True, slots=True)
class Written:
    """What was done to one entry, and the name it was made from."""

    locale: str
    given: str
    middle: str
    family: str
    org: str  # the organisation the affiliation was written from, or ""
    kinds: tuple[str, ...]

    @property
    def canonical(self) -> str:
        return " ".join(p for p in (self.given, self.middle, self.family) if p)


@dataclass
class Person:
    id: int
    locale: str
    given: str
    middle: str
    family: str
    family_parts: tuple[str, ...]
    sector: str
    honorific: str
    # (first letter index, organisation, role): the person's posts in time order.
    career: list[tuple[int, str, str]]
    second_org: str = ""
    letters: list[int] = field(default_factory=list)

    def post_at(self, letter: int) -> tuple[str, str, str]:
        """(organisation, role, the organisation before it) at that letter."""
        previous, current = "", self.career[0]
        for post in self.career[1:]:
            if post[0] <= letter:
                previous, current = current[1], post
        return current[1], current[2], previous


class _Weighted:
    """Names from a Faker list, drawn with Faker's weights when it has them."""

    def __init__(self, names) -> None:
        if isinstance(names, dict):
            self.names = [" ".join(name.split()) for name in names]
            weights = [float(w) for w in names.values()]
        else:
            self.names = [" ".join(name.split()) for name in names]
            weights = [1.0] * len(self.names)
        self.cumulative = list(itertools.accumulate(weights))

    def draw(self, rng: random.Random) -> str:
        return rng.choices(self.names, cum_weights=self.cumulative)[0]


@dataclass
class _Locale:
    male: _Weighted
    female: _Weighted
    family: _Weighted
    family_male_only: _Weighted | None
    places: list[str]
    companies: list[str]


def _person_provider(fake: Faker):
    return next(p for p in fake.providers if ".person." in type(p).__module__)


def _locale(code: str, seed: int) -> _Locale:
    fake = Faker(code, providers=FAKER_PROVIDERS)
    fake.seed_instance(seed)
    person = _person_provider(fake)
    if code == "ja_JP":
        male = person.first_romanized_names_male
        female = person.first_romanized_names_female
        family = person.last_romanized_names
    else:
        male, female = person.first_names_male, person.first_names_female
        family = person.unisex_last_names if code == "pl_PL" else person.last_names
    family_male_only = _Weighted(person.male_last_names) if code == "pl_PL" else None
    address = next(p for p in fake.providers if ".address." in type(p).__module__)
    if code in PLACES_FROM_NAMES:
        places = sorted(set(family))
    elif getattr(address, "cities", None):
        # Some of Faker's city lists are built from a set, in an order that
        # changes with the hash seed: sorted first, then drawn.
        cities = sorted({" ".join(city.split()) for city in address.cities})
        places = sorted(random.Random(f"{code} {seed}").sample(cities, k=min(200, len(cities))))
    else:
        places = sorted({" ".join(fake.city().split()) for _ in range(200)})
    if code == "ja_JP":
        companies = [f"{name} Corporation" for name in places[:20]]
    else:
        companies = sorted({fake.company() for _ in range(100)})
    return _Locale(
        _Weighted(male), _Weighted(female), _Weighted(family), family_male_only, places, companies
    )


def _feminine_polish(family: str) -> str:
    for male, female in (("ski", "ska"), ("cki", "cka"), ("dzki", "dzka")):
        if family.endswith(male):
            return family[: -len(male)] + female
    return family


def _organisations(rng: random.Random, locales: dict[str, _Locale], count: int):
    """Organisations per (locale, sector), each with a size, from patterns in its language."""
    pools: dict[tuple[str, str], tuple[list[str], list[float]]] = {}
    for code, share in LOCALES.items():
        data = locales[code]
        language = code.split("_")[0]
        for sector, sector_share in SECTORS.items():
            wanted = max(2, round(count * share * sector_share))
            patterns = UNIVERSITY[language] if sector == "academia" else SECTOR_ORGS[sector]
            names: list[str] = []
            seen: set[str] = set()
            for _ in range(wanted * 4):
                if len(names) >= wanted:
                    break
                name = rng.choice(patterns).format(
                    place=rng.choice(data.places),
                    subject=rng.choice(SUBJECTS),
                    family=data.family.draw(rng),
                    family2=data.family.draw(rng),
                    company=rng.choice(data.companies),
                )
                if name not in seen:
                    seen.add(name)
                    names.append(name)
            sizes = list(itertools.accumulate(rng.lognormvariate(0, 1.2) for _ in names))
            pools[code, sector] = (names, sizes)
    return pools


def _typo(rng: random.Random, word: str) -> str:
    """One edit: a neighbouring key instead, a key added, a letter dropped or
    doubled, or two letters swapped; never the same word back."""
    letters = [i for i, char in enumerate(word) if char.isalpha()]
    if len(letters) < 3:
        return word
    for _ in range(10):
        i = rng.choice(letters[1:]) if rng.random() < 0.85 else letters[0]
        char = word[i]
        near = NEIGHBOURS.get(char.lower(), "") or "e"
        kind = rng.random()
        if kind < 0.3:
            new = word[:i] + rng.choice(near) + word[i + 1 :]
        elif kind < 0.45:
            new = word[:i] + rng.choice(near) + word[i:]
        elif kind < 0.65:
            new = word[:i] + word[i + 1 :]
        elif kind < 0.8:
            new = word[:i] + char + word[i:]
        elif i + 1 < len(word) and word[i + 1].isalpha():
            new = word[:i] + word[i + 1] + word[i] + word[i + 2 :]
        else:
            continue
        if new != word and new.lower() != word.lower():
            return new
    return word


def _typo_twice(rng: random.Random, word: str) -> str:
    """Two edits that do not undo or overlap each other."""
    for _ in range(10):
        new = _typo(rng, _typo(rng, word))
        if OSA.distance(new, word) == 2:
            return new
    return new


def _drop_accents(rng: random.Random, locale: str, text: str) -> str:
    if locale == "de_DE" and rng.random() < 0.5:
        for umlaut, spelt in GERMAN_SPELLINGS:
            text = text.replace(umlaut, spelt)
    return unidecode(text)


def _initials(given: str) -> str:
    """ "José Mari" -> "J. M.", "Jean-Pierre" -> "J.-P."."""
    return " ".join("-".join(p[0] + "." for p in word.split("-")) for word in given.split())


def _acronym(org: str) -> str:
    """The initials of its capitalised words, or "" when it has fewer than two."""
    words = [w for w in org.replace(",", " ").split() if w[:1].isupper()]
    return "".join(w[0] for w in words) if len(words) >= 2 else ""


def _abbreviate(org: str) -> str:
    for long, short in sorted(ORG_ABBREVIATIONS, key=lambda pair: -len(pair[0])):
        if long in org:
            return org.replace(long, short)
    return org


def _write(
    rng: random.Random, person: Person, letter: int, source: Source
) -> tuple[str, str, str, Written]:
    kinds: list[str] = []
    given, middle, family = person.given, person.middle, person.family
    no_given = rng.random() < source.no_given
    if not no_given and given in NICKNAMES and rng.random() < source.nickname:
        given = rng.choice(NICKNAMES[given])
        kinds.append("nickname")
    if len(person.family_parts) > 1 and rng.random() < source.surname_dropped:
        keep_first = DOUBLE_FAMILY[person.locale][1] == "first"
        family = person.family_parts[0] if keep_first else person.family_parts[-1]
        kinds.append("surname_dropped")
    if middle and rng.random() < source.middle_dropped:
        middle = "" if rng.random() < 0.6 else middle[0] + "."
        kinds.append("middle_dropped" if not middle else "middle_initial")
    if rng.random() < source.typo:
        before = given, family
        two = rng.random() < 0.2
        given_typo = not no_given and rng.random() < 0.4
        if two and given_typo and rng.random() < 0.5:
            given, family = _typo(rng, given), _typo(rng, family)
        elif given_typo:
            given = _typo_twice(rng, given) if two else _typo(rng, given)
        else:
            family = _typo_twice(rng, family) if two else _typo(rng, family)
        # Labelled by what the edits did: a short name may take none.
        edits = OSA.distance(given, before[0]) + OSA.distance(family, before[1])
        if edits:
            kinds.append(f"typo{min(edits, 2)}")
    if not no_given and rng.random() < source.initials:
        given = _initials(given)
        if middle:
            middle = middle[0] + "."
        kinds.append("initials")
    if no_given:
        given = middle = ""
        kinds.append("no_given")
    if rng.random() < source.accents_dropped:
        dropped = [_drop_accents(rng, person.locale, x) for x in (given, middle, family)]
        if dropped != [given, middle, family]:
            given, middle, family = dropped
            kinds.append("accents_dropped")
    given_part = " ".join(p for p in (given, middle) if p)
    swap_rate = source.swap_japanese if person.locale == "ja_JP" else source.swap
    if no_given:
        name = family
    elif rng.random() < source.comma:
        if rng.random() < source.family_upper / max(source.comma, 1e-9):
            family = family.upper()
            kinds.append("case")
        name = f"{family}, {given_part}"
        kinds.append("comma")
    elif rng.random() < swap_rate:
        name = f"{family} {given_part}"
        kinds.append("swap")
    else:
        name = f"{given_part} {family}"
    if person.honorific and rng.random() < source.honorific:
        name = f"{person.honorific} {name}"
        kinds.append("honorific")
    roll = rng.random()
    if roll < source.typed_lower:
        name = name.lower()
        kinds.append("case")
    elif roll < source.typed_lower + source.typed_upper:
        name = name.upper()
        kinds.append("case")

    org, role, previous = person.post_at(letter)
    title = ""
    if rng.random() < source.title:
        title = role
        if rng.random() < 0.3:
            for long, short in ROLE_ABBREVIATIONS:
                title = title.replace(long, short)
    affiliation = stated = ""
    if rng.random() < source.affiliation:
        stated = org
        if rng.random() < source.stale and (previous or person.second_org):
            stated = previous or person.second_org
            kinds.append("aff_other")
        affiliation = stated
        roll = rng.random()
        if roll < source.acronym and _acronym(stated):
            affiliation = _acronym(stated)
            kinds.append("aff_acronym")
        elif roll < source.acronym + source.abbreviated:
            affiliation = _abbreviate(stated)
            if affiliation != stated:
                kinds.append("aff_abbreviated")
        if rng.random() < source.misspelt:
            affiliation = _typo(rng, affiliation)
            kinds.append("aff_misspelt")
    else:
        kinds.append("aff_missing")
    written = Written(
        person.locale, person.given, person.middle, person.family, stated, tuple(kinds)
    )
    return " ".join(name.split()), title, affiliation, written


def _new_person(
    rng: random.Random, pid: int, locales: dict[str, _Locale], orgs, letters: int
) -> Person:
    code = rng.choices(list(LOCALES), weights=list(LOCALES.values()))[0]
    data = locales[code]
    female = rng.random() < 0.5
    pool = data.female if female else data.male
    given = pool.draw(rng)
    middle = ""
    if rng.random() < MIDDLE_NAME.get(code, 0.0):
        middle = pool.draw(rng)
        if middle == given:
            middle = ""
    if code == "fr_FR" and not female and rng.random() < 0.08 and "-" not in given:
        given = f"Jean-{given}" if given != "Jean" else "Jean-Pierre"
    if data.family_male_only is not None and rng.random() < 0.5:
        family = data.family_male_only.draw(rng)
        family = _feminine_polish(family) if female else family
    else:
        family = data.family.draw(rng)
    parts: tuple[str, ...] = (family,)
    double = DOUBLE_FAMILY.get(code)
    if double and rng.random() < double[0]:
        second = data.family.draw(rng)
        if second != family:
            parts = (family, second)
    sector = rng.choices(list(SECTORS), weights=list(SECTORS.values()))[0]

    def post(sector_now: str) -> tuple[str, str]:
        code_now = code if rng.random() < 0.85 else rng.choice(list(LOCALES))
        names, sizes = orgs[code_now, sector_now]
        org = rng.choices(names, cum_weights=sizes)[0]
        role = rng.choice(ROLES[sector_now]).format(subject=rng.choice(SUBJECTS))
        return org, role

    org, role = post(sector)
    career = [(-1, org, role)]
    if rng.random() < 0.25:
        moved_to = sector if rng.random() < 0.8 else rng.choice(list(SECTORS))
        career.append((rng.randrange(letters), *post(moved_to)))
    second = post(sector)[0] if rng.random() < 0.06 else ""
    honorific = ""
    if sector in HONORIFICS and rng.random() < 0.4:
        honorific = rng.choice(HONORIFICS[sector])
        if code == "de_DE" and honorific == "Prof.":
            honorific = "Prof. Dr."
    return Person(
        id=pid,
        locale=code,
        given=given,
        middle=middle,
        family=" ".join(parts),
        family_parts=parts,
        sector=sector,
        honorific=honorific,
        career=career,
        second_org=second if second != org else "",
    )


def generate_labelled(records: int, *, seed: int = 7) -> tuple[list[Entry], list[Written]]:
    """About ``records`` entries from six sources, with their true people and
    what was done to each."""
    rng = random.Random(seed)
    locales = {code: _locale(code, seed) for code in LOCALES}
    orgs = _organisations(rng, locales, max(120, records // 40))
    letters = max(5, records // 250)
    # Some letters gather far more signatures than others.
    letter_sizes = list(itertools.accumulate(rng.lognormvariate(0, 1.0) for _ in range(letters)))
    source_weights = [s.weight for s in SOURCES]
    rows: list[tuple[Entry, Written]] = []
    pid = 0
    while len(rows) < records:
        person = _new_person(rng, pid, locales, orgs, letters)
        signed = min(1 + int(math.log(rng.random()) / math.log(0.45)), 15, letters)
        chosen: list[int] = []
        while len(chosen) < signed:
            letter = rng.choices(range(letters), cum_weights=letter_sizes)[0]
            if letter not in chosen:
                chosen.append(letter)
        for letter in sorted(chosen):
            listed = rng.choices((1, 2, 3, 4, 5, 6), weights=(40, 30, 17, 9, 3, 1))[0]
            sources: list[int] = []
            while len(sources) < listed:
                source = rng.choices(range(len(SOURCES)), weights=source_weights)[0]
                if source not in sources:
                    sources.append(source)
            for source in sources:
                name, title, affiliation, written = _write(rng, person, letter, SOURCES[source])
                rows.append((Entry(pid, name, title, affiliation, letter, source), written))
        pid += 1
    rng.shuffle(rows)
    rows = rows[:records]
    return [entry for entry, _ in rows], [written for _, written in rows]


def generate(records: int, *, seed: int = 7) -> list[Entry]:
    """About ``records`` entries from six sources, with their true people."""
    return generate_labelled(records, seed=seed)[0]


def main() -> None:
    parser = argparse.ArgumentParser(description="Print generated entries as JSON lines.")
    parser.add_argument("--records", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    entries, labels = generate_labelled(args.records, seed=args.seed)
    out = sys.stdout
    for entry, written in zip(entries, labels, strict=True):
        row = {
            "entity": entry.entity,
            "name": entry.name,
            "title": entry.title,
            "affiliation": entry.affiliation,
            "letter": entry.letter,
            "source": entry.source,
            "locale": written.locale,
            "given": written.given,
            "middle": written.middle,
            "family": written.family,
            "org": written.org,
            "kinds": list(written.kinds),
        }
        out.write(json.dumps(row, ensure_ascii=False) + "\n")


if __name__ == "__main__":
    main()
