"""Generated signatory lists for the matching benchmark, with the truth.

People sign letters; each signature is listed by one to four of six sources,
each writing names its own way: accents dropped, capitals, "Family, Given",
honorifics and post-nominals, initials, nicknames, typos, hyphens as spaces.
Hard negatives are planted: siblings sharing a family name, a field and often
an organisation, and exact namesakes in other fields.

Names come from the ``nicknames`` package's given names (with a few accented
ones) and from family names built from syllables, drawn with a Zipf-like
skew so that some are common and most are rare.
"""

from __future__ import annotations

import csv
import random
from dataclasses import dataclass
from pathlib import Path

import nicknames

FIELDS = {
    "acting": ["Actor", "Actress", "Actor and producer"],
    "film": ["Film director", "Filmmaker", "Screenwriter", "Director"],
    "music": ["Musician", "Singer-songwriter", "Composer", "Singer"],
    "broadcasting": ["Radio host", "Broadcaster", "TV presenter"],
    "writing": ["Novelist", "Author", "Poet", "Writer"],
    "visual arts": ["Painter", "Photographer", "Illustrator"],
    "academia": ["Professor", "Researcher", "Physicist", "Historian"],
    "journalism": ["Journalist", "Columnist", "Reporter"],
    "dance": ["Dancer", "Choreographer"],
    "comedy": ["Comedian"],
    "technology": ["Software engineer", "Developer"],
    "law": ["Lawyer", "Barrister"],
}
ORG_PATTERNS = {
    "acting": ["{} Players", "{} Theatre Company", "{} Studios"],
    "film": ["{} Pictures", "{} Films", "{} Studios"],
    "music": ["{} Records", "{} Symphony Orchestra", "{} Music"],
    "broadcasting": ["{} Radio", "{} Broadcasting", "{} FM"],
    "writing": ["{} Press", "{} Books", "{} Writers Guild"],
    "visual arts": ["{} Gallery", "{} Art Society"],
    "academia": ["University of {}", "{} Institute of Technology", "{} College"],
    "journalism": ["The {} Times", "{} Herald", "{} Post"],
    "dance": ["{} Ballet", "{} Dance Company"],
    "comedy": ["{} Comedy Club"],
    "technology": ["{} Labs", "{} Software"],
    "law": ["{} Chambers", "{} and Partners"],
}
ACCENTED_GIVEN = [
    "José",
    "François",
    "Zoë",
    "Björn",
    "Søren",
    "Łukasz",
    "Ægir",
    "Inés",
    "Raúl",
    "Chloé",
    "Jérôme",
    "Mónica",
    "Andrés",
    "Renée",
    "Noémie",
    "Jürgen",
    "Åsa",
    "Ramón",
    "Héctor",
    "Léa",
    "Giuseppe",
    "Francesco",
    "Guillermo",
    "Alfonso",
    "Joaquín",
    "Małgorzata",
    "Dvořa",
    "Ciarán",
]
SYLLABLES_START = [
    "Gyl",
    "Mac",
    "Bran",
    "Cu",
    "Wach",
    "Men",
    "Ev",
    "Du",
    "Hal",
    "Ken",
    "Lor",
    "Mar",
    "Ost",
    "Pel",
    "Quin",
    "Ros",
    "Sten",
    "Tor",
    "Val",
    "Wil",
    "Yar",
    "Zel",
    "Ald",
    "Bel",
    "Cal",
    "Dar",
    "Fen",
    "Gar",
    "Har",
    "Ing",
    "Jar",
    "Kel",
    "Lan",
    "Mor",
    "Nor",
    "Pry",
    "Ren",
    "Sal",
    "Tam",
    "Ul",
    "Vor",
    "Wes",
    "Abr",
    "Bur",
    "Cas",
    "Dom",
    "Esk",
    "Fal",
    "Grim",
    "Hol",
    "Ivan",
    "Jov",
]
SYLLABLES_MIDDLE = [
    "len",
    "ar",
    "o",
    "a",
    "ow",
    "de",
    "er",
    "ver",
    "in",
    "an",
    "el",
    "is",
    "un",
    "ber",
    "ri",
    "ton",
    "ka",
    "mi",
    "ne",
    "sa",
    "lo",
    "vi",
    "",
    "",
    "",
]
SYLLABLES_END = [
    "haal",
    "ney",
    "ón",
    "ski",
    "es",
    "ans",
    "nay",
    "son",
    "sen",
    "berg",
    "stein",
    "ford",
    "well",
    "ez",
    "ini",
    "ova",
    "ich",
    "ley",
    "ton",
    "man",
    "wood",
    "field",
    "ard",
    "ier",
    "ès",
    "ić",
    "ssen",
    "quist",
    "o",
    "an",
]
PARTICLES = ["van", "de", "del", "von", "da", "de la", "van der", "di"]
HONORIFICS = ["Sir", "Dame", "Dr", "Prof.", "Dr.", "M.", "Mme"]
POST_NOMINALS = ["CBE", "OBE", "MBE", "PhD", "FRS", "Jr."]
KEYBOARD = "abcdefghijklmnopqrstuvwxyz"


@dataclass(frozen=True, slots=True)
class Entry:
    """One line of one source's list."""

    entity: int
    name: str
    title: str
    affiliation: str
    letter: int
    source: int  # 0..5


@dataclass
class Person:
    given: str
    middle: str
    family: str
    honorific: str
    post_nominal: str
    field: str
    orgs: list[str]


SOURCES = [
    ("letter site", 80),
    ("press A", 50),
    ("press B", 50),
    ("feed A", 30),
    ("feed B", 30),
    ("editors", 90),
]


def _given_names() -> list[str]:
    path = Path(nicknames.__file__).with_name("names.csv")
    with path.open(encoding="utf-8") as handle:
        names = sorted({row["name1"] for row in csv.DictReader(handle)})
    return [n.capitalize() for n in names if n.isalpha() and len(n) > 2] + ACCENTED_GIVEN


def _zipf_pick(rng: random.Random, items: list, exponent: float = 0.8):
    """A power law over the list order, p(k) ~ k^-exponent (0 < exponent < 1):
    with 0.8 over 10,000 family names the commonest is about 3% of people,
    near real frequencies (the commonest US family name is about 1%)."""
    n = len(items)
    u = rng.random()
    index = int((u * ((n + 1) ** (1 - exponent) - 1) + 1) ** (1 / (1 - exponent))) - 1
    return items[min(max(index, 0), n - 1)]


def _family_names(rng: random.Random, count: int) -> list[str]:
    names: set[str] = set()
    while len(names) < count:
        name = (
            rng.choice(SYLLABLES_START) + rng.choice(SYLLABLES_MIDDLE) + rng.choice(SYLLABLES_END)
        )
        if rng.random() < 0.3:
            name += rng.choice(SYLLABLES_MIDDLE) + rng.choice(SYLLABLES_END)
        names.add(name.capitalize() if not name[0].isupper() else name)
    ordered = sorted(names)
    rng.shuffle(ordered)
    return ordered


def _typo(rng: random.Random, text: str) -> str:
    if len(text) < 4:
        return text
    i = rng.randrange(1, len(text) - 1)
    kind = rng.random()
    if kind < 0.3:
        return text[:i] + text[i + 1 :]  # deletion
    if kind < 0.55:
        return text[:i] + text[i] + text[i:]  # doubling
    if kind < 0.8:
        return text[:i] + text[i + 1] + text[i] + text[i + 2 :]  # transposition
    return text[:i] + rng.choice(KEYBOARD) + text[i + 1 :]  # substitution


def _strip_accents(text: str) -> str:
    from unidecode import unidecode

    return unidecode(text)


def _nickname(rng: random.Random, given: str) -> str:
    from people.matching.nicknames import _diminutives_of

    options = sorted(_diminutives_of(given.lower()))
    return rng.choice(options).capitalize() if options else given


def _write(rng: random.Random, person: Person, source: int) -> tuple[str, str, str]:
    given, middle, family = person.given, person.middle, person.family
    if source in (1, 2) and rng.random() < 0.10:
        given = _nickname(rng, given)
    if source in (1, 2, 3) and rng.random() < 0.5:
        given, middle, family = (_strip_accents(x) for x in (given, middle, family))
    if source in (1, 3, 4) and rng.random() < 0.07:
        if rng.random() < 0.6:
            family = _typo(rng, family)
        else:
            given = _typo(rng, given)
    if source == 2 and rng.random() < 0.12:
        given = given[0] + "."
    if source in (2, 4) and "-" in family and rng.random() < 0.5:
        family = family.replace("-", " ")
    if source in (1, 3) and rng.random() < 0.3:
        middle = ""
    elif source == 2 and middle and rng.random() < 0.5:
        middle = middle[0] + "."
    given_part = " ".join(p for p in (given, middle) if p)
    if source in (3, 4):
        name = f"{family}, {given_part}"
        if source == 4 and person.post_nominal and rng.random() < 0.5:
            name += f", {person.post_nominal}"
        if source == 3:
            name = name.upper()
    else:
        name = f"{given_part} {family}"
        if source in (0, 5) and person.honorific and rng.random() < 0.7:
            name = f"{person.honorific} {name}"
        if source == 0 and person.post_nominal and rng.random() < 0.6:
            name = f"{name} {person.post_nominal}"
        if source == 1 and rng.random() < 0.03:
            name = name.lower()
    title = rng.choice(FIELDS[person.field]) if source in (0, 1, 5) and rng.random() < 0.8 else ""
    affiliation = ""
    if source != 3 and rng.random() < 0.75:
        affiliation = rng.choice(person.orgs)
        if source == 4 and affiliation.startswith("University of") and rng.random() < 0.5:
            affiliation = "Univ. of " + affiliation[len("University of ") :]
        if source == 1 and rng.random() < 0.2:
            affiliation = affiliation.upper() if rng.random() < 0.5 else "The " + affiliation
    return name, title, affiliation


def generate(records: int, *, seed: int = 7) -> list[Entry]:
    """About ``records`` entries from six sources, with their true people."""
    rng = random.Random(seed)
    entities = max(10, int(records / 3.2))
    given_names = _given_names()
    rng.shuffle(given_names)
    # A long tail of family names: about one for every four people.
    families = _family_names(rng, max(200, entities // 3))
    towns = _family_names(random.Random(seed + 1), max(50, entities // 40))
    orgs_by_field = {
        field: [
            pattern.format(town)
            for town in towns[i :: len(FIELDS)]
            for pattern in ORG_PATTERNS[field][:2]
        ]
        for i, field in enumerate(FIELDS)
    }
    field_names = list(FIELDS)

    people: list[Person] = []

    def new_person(family: str | None = None, field: str | None = None, orgs=None) -> Person:
        field = field or _zipf_pick(rng, field_names, 0.8)
        family = family or _zipf_pick(rng, families)
        if rng.random() < 0.07:
            family = f"{family}-{_zipf_pick(rng, families)}"
        elif rng.random() < 0.05:
            family = f"{rng.choice(PARTICLES)} {family}"
        given = _zipf_pick(rng, given_names, 0.7)
        middle = _zipf_pick(rng, given_names) if rng.random() < 0.2 else ""
        if orgs is None:
            orgs = [_zipf_pick(rng, orgs_by_field[field], 0.9)]
            if rng.random() < 0.3:
                orgs.append(_zipf_pick(rng, orgs_by_field[field], 0.9))
        return Person(
            given=given,
            middle=middle,
            family=family,
            honorific=rng.choice(HONORIFICS) if rng.random() < 0.06 else "",
            post_nominal=rng.choice(POST_NOMINALS) if rng.random() < 0.06 else "",
            field=field,
            orgs=orgs,
        )

    while len(people) < entities:
        person = new_person()
        people.append(person)
        roll = rng.random()
        if roll < 0.08:
            # A sibling: same family name and field, often the same organisation.
            sibling = new_person(
                family=person.family,
                field=person.field,
                orgs=list(person.orgs) if rng.random() < 0.5 else None,
            )
            people.append(sibling)
        elif roll < 0.11:
            # A namesake in another field.
            other_field = rng.choice([f for f in field_names if f != person.field])
            namesake = new_person(family=person.family, field=other_field)
            namesake.given, namesake.middle = person.given, person.middle
            people.append(namesake)

    letters = max(5, records // 150)
    entries: list[Entry] = []
    entity = 0
    while len(entries) < records:
        person = people[entity % len(people)]
        signed = 1 + min(int(rng.expovariate(1.2)), 6)
        for letter in rng.sample(range(letters), k=min(signed, letters)):
            sources = rng.sample(range(6), k=rng.choice([1, 1, 2, 2, 3, 4]))
            for source in sources:
                name, title, affiliation = _write(rng, person, source)
                entries.append(
                    Entry(entity % len(people), name, title, affiliation, letter, source)
                )
        entity += 1
    rng.shuffle(entries)
    return entries[:records]
