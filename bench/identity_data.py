"""Generated signatory lists for the end-to-end identity benchmark, with the truth.

Three letters with six sources between them, each source a list written its
own way (``SOURCES``): the organisers' sites list names in full, with
honorifics, titles and affiliations; press reprints drop accents and middle
names, use nicknames, sometimes write "Last, First"; the data feed writes
"FAMILY, Given" in capitals, initials and typos, and states little. People
sign one to three letters, and each letter's sources list a share of its
signatories.

Hard cases are planted: namesakes (the same given and family name in another
field, at another organisation: two "Chris Evans", an actor and a
broadcaster), relatives (a family name, a field and often an organisation
shared: Jake and Maggie Gyllenhaal), people with two fields who state one or
the other ("Actor" on one letter, "Director" on another), people who state
nothing, entries written twice on one list, and a few people listed twice on
one list under two spellings (which the rules keep as two people). Names come
from the ``nicknames`` package's given names with a few accented ones, and
from family names built from syllables with a Zipf-like skew, so that some
are common and most are rare; namesakes also arise by chance.

On one list, two entries of different people are never written identically
(same normalised name, title and affiliation): the rules take that for one
entry written twice, and nothing could tell them apart.

``generate(entries, seed)`` returns the letters, their sources and every
list's rows in order, each row with the id of its true person.
"""

from __future__ import annotations

import csv
import random
from dataclasses import dataclass, field
from pathlib import Path

import nicknames
from unidecode import unidecode

from people.matching.normalize import fold, parse_name


@dataclass(frozen=True)
class SourceSpec:
    letter: str  # the letter's slug
    name: str
    kind: str  # a letters.models.SourceKind value
    style: str  # how it writes: "site", "press" or "feed"
    share: float  # of the letter's signatories it lists


LETTERS = {
    "consent-before-training": "Consent before training: an open letter on generative AI",
    "fair-pay-for-streaming": "Fair pay for streaming",
    "defend-public-broadcasting": "Defend public broadcasting",
}
# Which letters a person signs: weights of each letter, and of signing 1, 2 or 3.
LETTER_WEIGHTS = [0.5, 0.3, 0.2]
LETTERS_SIGNED = [0.68, 0.24, 0.08]
SOURCES = [
    SourceSpec("consent-before-training", "Organisers' site", "letter_site", "site", 0.95),
    SourceSpec("consent-before-training", "The Daily Courier", "press", "press", 0.35),
    SourceSpec("consent-before-training", "Signatures feed", "feed", "feed", 0.5),
    SourceSpec("fair-pay-for-streaming", "Organisers' site", "letter_site", "site", 0.95),
    SourceSpec("fair-pay-for-streaming", "Trade press reprint", "press", "press", 0.45),
    SourceSpec("defend-public-broadcasting", "Campaign site", "letter_site", "site", 1.0),
]

# Titles by field; every one names its field through people/matching/data/fields.csv.
TITLES = {
    "acting": ["Actor", "Actress", "Performer", "Stage actor"],
    "film": ["Director", "Film director", "Filmmaker", "Screenwriter", "Producer"],
    "music": ["Musician", "Singer", "Composer", "Songwriter", "Pianist", "Conductor"],
    "broadcasting": ["Broadcaster", "Radio host", "TV presenter", "Presenter"],
    "writing": ["Writer", "Author", "Novelist", "Poet", "Playwright"],
    "journalism": ["Journalist", "Reporter", "Columnist", "Correspondent"],
    "visual arts": ["Painter", "Photographer", "Artist", "Sculptor"],
    "academia": ["Professor", "Researcher", "Historian", "Lecturer", "Economist"],
    "technology": ["Software engineer", "Developer", "Engineer"],
    "law": ["Lawyer", "Barrister", "Attorney"],
    "comedy": ["Comedian", "Stand-up comedian"],
    "dance": ["Dancer", "Choreographer"],
    "medicine": ["Doctor", "Physician", "Nurse"],
}
# Titles that name no field: they can never disagree, nor agree.
VAGUE_TITLES = ["Member", "Signatory", "Fellow"]
# Fields people hold together, for the people with two.
FIELD_PAIRS = [
    ("acting", "film"),
    ("writing", "journalism"),
    ("music", "acting"),
    ("comedy", "acting"),
    ("film", "writing"),
    ("broadcasting", "journalism"),
    ("academia", "writing"),
]
ORG_PATTERNS = {
    "acting": ["{} Theatre Company", "{} Players", "{} Repertory Theatre"],
    "film": ["{} Pictures", "{} Films", "{} Studios"],
    "music": ["{} Records", "{} Symphony Orchestra", "{} Philharmonic"],
    "broadcasting": ["Radio {}", "{} Broadcasting", "{} FM"],
    "writing": ["{} Press", "{} Books", "{} Writers Guild"],
    "journalism": ["The {} Times", "{} Herald", "{} Gazette"],
    "visual arts": ["{} Gallery", "{} Art Society"],
    "academia": ["University of {}", "{} Institute of Technology", "{} College"],
    "technology": ["{} Labs", "{} Software"],
    "law": ["{} Chambers", "{} Legal"],
    "comedy": ["{} Comedy Club"],
    "dance": ["{} Ballet", "{} Dance Company"],
    "medicine": ["{} General Hospital", "{} Medical Centre"],
}
FIELD_WEIGHTS = {
    "acting": 14,
    "film": 12,
    "music": 14,
    "broadcasting": 6,
    "writing": 14,
    "journalism": 8,
    "visual arts": 8,
    "academia": 10,
    "technology": 4,
    "law": 3,
    "comedy": 3,
    "dance": 2,
    "medicine": 2,
}
ACCENTED_GIVEN = [
    "José",
    "François",
    "Zoë",
    "Björn",
    "Søren",
    "Łukasz",
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
    "Joaquín",
    "Małgorzata",
    "Ciarán",
    "Agnès",
    "Céline",
]
REAL_FAMILY = [
    "García",
    "Müller",
    "Núñez",
    "Lefèvre",
    "Cuarón",
    "Almodóvar",
    "Kowalski",
    "O'Brien",
    "McCartney",
    "MacDonald",
    "Nakamura",
    "Okafor",
    "Mensah",
    "Haddad",
    "Novák",
    "Jørgensen",
    "Dubois",
    "Rossi",
    "Schröder",
    "Petrović",
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
    "Jov",
    "Kir",
    "Lund",
    "Mal",
    "Nev",
    "Orl",
    "Pim",
    "Rad",
    "Sev",
    "Thal",
    "Urb",
    "Vesp",
    "Wyn",
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
] + [""] * 4
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
    "ero",
    "ida",
    "ström",
    "dóttir",
]
PARTICLES = ["van", "de", "del", "von", "da", "van der", "di"]
HONORIFICS = ["Sir", "Dame", "Dr", "Prof.", "Dr."]
POST_NOMINALS = ["CBE", "OBE", "MBE", "PhD", "FRS"]
KEYBOARD = "abcdefghijklmnopqrstuvwxyz"


@dataclass
class Person:
    id: int
    given: str
    middle: str
    family: str
    fields: list[str]
    orgs: list[str]
    honorific: str = ""
    post_nominal: str = ""
    # How often the person's entries state a title or an affiliation at all.
    states: float = 1.0
    letters: list[str] = field(default_factory=list)


@dataclass
class Row:
    name: str
    title: str
    affiliation: str
    truth: int


@dataclass
class Generated:
    letters: dict[str, str]
    sources: list[SourceSpec]
    lists: list[list[Row]]  # one per source, in the order of SOURCES
    people: dict[int, Person]
    planted: dict[str, list[int]]  # named hard cases -> their people's ids

    @property
    def entries(self) -> int:
        return sum(len(rows) for rows in self.lists)


def _zipf_pick(rng: random.Random, items: list, exponent: float = 0.8):
    """A power law over the list's order, p(k) ~ k^-exponent (0 < exponent < 1)."""
    n = len(items)
    u = rng.random()
    index = int((u * ((n + 1) ** (1 - exponent) - 1) + 1) ** (1 / (1 - exponent))) - 1
    return items[min(max(index, 0), n - 1)]


def _given_names() -> list[str]:
    path = Path(nicknames.__file__).with_name("names.csv")
    with path.open(encoding="utf-8") as handle:
        names = sorted({row["name1"] for row in csv.DictReader(handle)})
    return [n.capitalize() for n in names if n.isalpha() and len(n) > 2] + ACCENTED_GIVEN


def _family_names(rng: random.Random, count: int) -> list[str]:
    names: set[str] = set(REAL_FAMILY)
    while len(names) < count:
        name = (
            rng.choice(SYLLABLES_START) + rng.choice(SYLLABLES_MIDDLE) + rng.choice(SYLLABLES_END)
        )
        if rng.random() < 0.3:
            name += rng.choice(SYLLABLES_MIDDLE) + rng.choice(SYLLABLES_END)
        names.add(name[0].upper() + name[1:])
    ordered = sorted(names)
    rng.shuffle(ordered)
    return ordered


def _typo(rng: random.Random, text: str) -> str:
    if len(text) < 4:
        return text
    i = rng.randrange(1, len(text) - 1)
    kind = rng.random()
    if kind < 0.3:
        return text[:i] + text[i + 1 :]  # a letter left out
    if kind < 0.55:
        return text[:i] + text[i] + text[i:]  # doubled
    if kind < 0.8:
        return text[:i] + text[i + 1] + text[i] + text[i + 2 :]  # two swapped
    return text[:i] + rng.choice(KEYBOARD) + text[i + 1 :]  # another letter


_NAMER = nicknames.NickNamer()


def _nickname(rng: random.Random, given: str) -> str:
    """A diminutive of the given name, or the full name a nickname is short for."""
    low = given.lower()
    options = sorted(_NAMER.nicknames_of(low)) or sorted(_NAMER.canonicals_of(low))
    options = [o for o in options if o.isalpha() and len(o) > 1]
    return rng.choice(options).capitalize() if options else given


def _org_variant(rng: random.Random, org: str) -> str:
    """The same organisation written another way: capitals, "The", word order, "Univ."."""
    roll = rng.random()
    if org.startswith("University of ") and roll < 0.5:
        town = org[len("University of ") :]
        return f"{town} University" if roll < 0.25 else f"Univ. of {town}"
    if org.startswith("The ") and roll < 0.5:
        return org[4:]
    if roll < 0.25:
        return org.upper()
    if roll < 0.45:
        return unidecode(org)
    if roll < 0.55 and not org.startswith("The "):
        return "The " + org
    return org.lower() if roll < 0.6 else org


def _name_as(rng: random.Random, person: Person, style: str) -> str:
    given, middle, family = person.given, person.middle, person.family
    if style == "site":
        if middle and rng.random() < 0.3:
            middle = middle[0] + "."
        name = " ".join(p for p in (given, middle, family) if p)
        if person.honorific and rng.random() < 0.6:
            name = f"{person.honorific} {name}"
        if person.post_nominal and rng.random() < 0.5:
            name = f"{name} {person.post_nominal}"
        return name
    if style == "press":
        if rng.random() < 0.10:
            given = _nickname(rng, given)
        if rng.random() < 0.4:
            given, middle, family = (unidecode(x) for x in (given, middle, family))
        if middle:
            if rng.random() < 0.6:
                middle = ""
            elif rng.random() < 0.5:
                middle = middle[0] + "."
        if rng.random() < 0.03:
            if rng.random() < 0.6:
                family = _typo(rng, family)
            else:
                given = _typo(rng, given)
        if "-" in family and rng.random() < 0.4:
            family = family.replace("-", " ")
        first = " ".join(p for p in (given, middle) if p)
        name = f"{family}, {first}" if rng.random() < 0.08 else f"{first} {family}"
        return name.lower() if rng.random() < 0.02 else name
    # The feed.
    if rng.random() < 0.6:
        given, middle, family = (unidecode(x) for x in (given, middle, family))
    if rng.random() < 0.06:
        if rng.random() < 0.6:
            family = _typo(rng, family)
        else:
            given = _typo(rng, given)
    if rng.random() < 0.15:
        given = given[0] + "."
    if middle:
        middle = middle[0] + "." if rng.random() < 0.5 else ""
    first = " ".join(p for p in (given, middle) if p)
    roll = rng.random()
    if roll < 0.35:
        return f"{family.upper()}, {first.upper()}"
    if roll < 0.7:
        return f"{family}, {first}"
    return f"{first} {family}"


# Chance that an entry of each style states a title, and an affiliation.
STATES_TITLE = {"site": 0.75, "press": 0.5, "feed": 0.2}
STATES_AFFILIATION = {"site": 0.6, "press": 0.4, "feed": 0.25}


def _title_for(rng: random.Random, person: Person, style: str) -> str:
    if rng.random() >= STATES_TITLE[style] * person.states:
        return ""
    if rng.random() < 0.04:
        return rng.choice(VAGUE_TITLES)
    if len(person.fields) == 2:
        roll = rng.random()
        if roll < 0.3:
            first, second = (rng.choice(TITLES[f]) for f in person.fields)
            return f"{first} and {second.lower()}"
        return rng.choice(TITLES[person.fields[0] if roll < 0.75 else person.fields[1]])
    titles = TITLES[person.fields[0]]
    # Most people state the same title most of the time.
    return titles[person.id % len(titles)] if rng.random() < 0.7 else rng.choice(titles)


def _affiliation_for(rng: random.Random, person: Person, style: str) -> str:
    if not person.orgs or rng.random() >= STATES_AFFILIATION[style] * person.states:
        return ""
    org = person.orgs[0] if len(person.orgs) == 1 or rng.random() < 0.7 else person.orgs[1]
    if style == "site" and rng.random() < 0.85:
        return org
    return _org_variant(rng, org)


def _entry_key(row: Row) -> tuple[str, str, str]:
    """What makes two rows of one list one entry written twice (identity.same_entry)."""
    return parse_name(row.name).key, fold(row.title), fold(row.affiliation)


# Well-known hard cases, each a list of people (given, middle, family, fields, organisations).
PLANTED = {
    "Chris Evans (actor / broadcaster)": [
        ("Chris", "", "Evans", ["acting"], ["Marvel Studios"]),
        ("Chris", "", "Evans", ["broadcasting"], ["BBC Radio 2"]),
    ],
    "Jake and Maggie Gyllenhaal": [
        ("Jake", "", "Gyllenhaal", ["acting"], ["Nine Stories Productions"]),
        ("Maggie", "", "Gyllenhaal", ["acting"], ["Nine Stories Productions"]),
    ],
    "Lana and Lilly Wachowski": [
        ("Lana", "", "Wachowski", ["film"], ["Warner Bros. Pictures"]),
        ("Lilly", "", "Wachowski", ["film"], ["Warner Bros. Pictures"]),
    ],
    "Sam and Eva Mendes": [
        ("Sam", "", "Mendes", ["film"], ["Neal Street Productions"]),
        ("Eva", "", "Mendes", ["acting"], []),
    ],
    "Ron and Bryce Dallas Howard": [
        ("Ron", "", "Howard", ["film"], ["Imagine Entertainment"]),
        ("Bryce", "Dallas", "Howard", ["acting"], ["Imagine Entertainment"]),
    ],
    "Elvira Carrera (director / writer)": [
        ("Elvira", "", "Carrera", ["film"], ["ARRAY"]),
        ("Elvira", "", "Carrera", ["writing"], ["Society of Authors"]),
    ],
}


def generate(entries: int, *, seed: int = 12) -> Generated:
    """Six lists of ``entries`` rows in all, with the true person of every row."""
    rng = random.Random(seed)
    given_names = _given_names()
    rng.shuffle(given_names)
    # About 2.2 entries a person, and a family name for every three people.
    expected_people = max(50, int(entries / 2.2))
    families = _family_names(rng, max(300, expected_people // 2))
    towns = _family_names(random.Random(seed + 1), max(60, expected_people // 30))
    orgs_by_field = {
        name: [pattern.format(town) for town in towns[i :: len(TITLES)] for pattern in patterns]
        for i, (name, patterns) in enumerate(ORG_PATTERNS.items())
    }
    for orgs in orgs_by_field.values():
        rng.shuffle(orgs)
    field_names = list(FIELD_WEIGHTS)
    field_weights = list(FIELD_WEIGHTS.values())
    letter_slugs = list(LETTERS)

    people: dict[int, Person] = {}
    planted: dict[str, list[int]] = {}

    def orgs_for(fields: list[str]) -> list[str]:
        if rng.random() < 0.08:
            return []  # no organisation at all
        orgs = [_zipf_pick(rng, orgs_by_field[fields[0]], 0.9)]
        if rng.random() < 0.25:
            orgs.append(_zipf_pick(rng, orgs_by_field[fields[-1]], 0.9))
        return list(dict.fromkeys(orgs))

    def add(
        given: str, middle: str, family: str, fields: list[str], orgs: list[str] | None = None
    ) -> Person:
        person = Person(
            id=len(people) + 1,
            given=given,
            middle=middle,
            family=family,
            fields=fields,
            orgs=orgs_for(fields) if orgs is None else orgs,
            honorific=rng.choice(HONORIFICS) if rng.random() < 0.05 else "",
            post_nominal=rng.choice(POST_NOMINALS) if rng.random() < 0.04 else "",
            # One in ten states nothing; most state what their source usually gives.
            states=0.0 if rng.random() < 0.1 else 1.0,
        )
        people[person.id] = person
        return person

    def new_fields() -> list[str]:
        if rng.random() < 0.08:
            return list(rng.choice(FIELD_PAIRS))
        return [rng.choices(field_names, field_weights)[0]]

    def new_name() -> tuple[str, str, str]:
        family = _zipf_pick(rng, families, 0.6)
        if rng.random() < 0.06:
            family = f"{family}-{_zipf_pick(rng, families)}"
        elif rng.random() < 0.04:
            family = f"{rng.choice(PARTICLES)} {family}"
        given = _zipf_pick(rng, given_names, 0.7)
        middle = _zipf_pick(rng, given_names) if rng.random() < 0.15 else ""
        return given, middle, family

    for case, members in PLANTED.items():
        planted[case] = []
        for given, middle, family, fields, orgs in members:
            person = add(given, middle, family, fields, orgs)
            person.states = 1.0
            person.letters = list(letter_slugs)
            planted[case].append(person.id)
        given, middle, family, fields, _ = members[0]
        if (given, family) != (members[1][0], members[1][2]):
            continue
        # Namesakes: a third of the name stating nothing, on one letter, could be either.
        person = add(given, middle, family, fields, [])
        person.states = 0.0
        person.letters = [letter_slugs[2]]
        planted[case].append(person.id)
    # The third of a name is listed first, so that the others' entries on its
    # list state something (an entry of theirs stating nothing would be written
    # as the third's is, and left out).
    for ids in planted.values():
        if len(ids) == 3:
            ids.insert(0, ids.pop())

    lists: list[list[Row]] = [[] for _ in SOURCES]
    seen: list[dict[tuple[str, str, str], int]] = [{} for _ in SOURCES]
    total = 0

    def list_person(person: Person) -> int:
        written = 0
        for index, spec in enumerate(SOURCES):
            if spec.letter not in person.letters:
                continue
            chosen = rng.random() < spec.share
            if not chosen and spec.style == "site":
                # A letter's signatory is listed somewhere: by its site when by no other.
                others = [s for s in SOURCES if s.letter == spec.letter and s is not spec]
                chosen = not others or rng.random() < 0.5
            if not chosen:
                continue
            for _attempt in range(4):
                row = Row(
                    _name_as(rng, person, spec.style),
                    _title_for(rng, person, spec.style),
                    _affiliation_for(rng, person, spec.style),
                    person.id,
                )
                key = _entry_key(row)
                if seen[index].get(key, person.id) == person.id:
                    break
            else:
                continue  # written as someone else of this list would be: left out
            seen[index][key] = person.id
            lists[index].append(row)
            written += 1
            roll = rng.random()
            if roll < 0.005:
                lists[index].append(Row(row.name, row.title, row.affiliation, person.id))
                written += 1  # the same entry written twice
            elif roll < 0.007 and spec.style == "site":
                again = Row(_name_as(rng, person, "press"), "", "", person.id)
                if seen[index].get(_entry_key(again), person.id) == person.id:
                    seen[index][_entry_key(again)] = person.id
                    lists[index].append(again)  # signed twice, spelled another way
                    written += 1
        return written

    for ids in planted.values():
        for pk in ids:
            total += list_person(people[pk])

    while total < entries:
        fields = new_fields()
        person = add(*new_name(), fields)
        count = rng.choices([1, 2, 3], LETTERS_SIGNED)[0]
        person.letters = []
        while len(person.letters) < count:
            slug = rng.choices(letter_slugs, LETTER_WEIGHTS)[0]
            if slug not in person.letters:
                person.letters.append(slug)
        total += list_person(person)
        roll = rng.random()
        if roll < 0.025:
            # A namesake: the same name, in another field, at other organisations.
            other = rng.choice([f for f in field_names if f not in fields])
            namesake = add(person.given, person.middle, person.family, [other])
            namesake.letters = rng.sample(letter_slugs, k=rng.choice([1, 1, 2]))
            total += list_person(namesake)
        elif roll < 0.085:
            # A relative: the family name and the field, often the organisation.
            relative = add(
                _zipf_pick(rng, given_names, 0.7),
                "",
                person.family,
                list(fields),
                list(person.orgs) if rng.random() < 0.5 else None,
            )
            relative.letters = list(person.letters) if rng.random() < 0.6 else [person.letters[0]]
            total += list_person(relative)

    # Cut to the size asked for, from the last people's rows, then put every list in order.
    excess = total - entries
    while excess > 0:
        longest = max(range(len(lists)), key=lambda i: len(lists[i]))
        lists[longest].pop()
        excess -= 1
    for rows in lists:
        rng.shuffle(rows)
    return Generated(
        letters=dict(LETTERS),
        sources=list(SOURCES),
        lists=lists,
        people=people,
        planted=planted,
    )
