"""The demo data: two letters from the press pieces the project started from.

Signatories are spelled exactly as printed ("Maggie Gylenhall", "Ava Duvernay"),
as sightings of a press source, so the matcher has real variants to fold.
Loading twice changes nothing.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.db import transaction

from letters.models import Letter, LetterTarget, Source
from letters.services import (
    Entry,
    letter_create,
    letter_target_set,
    signature_record,
    source_create,
)
from people.models import Organization
from people.services import organization_create

ORGANIZATIONS = [
    # slug, name, kind, country, parent slug, aliases, url
    (
        "executive-office-of-the-president",
        "Executive Office of the President",
        "government",
        "US",
        None,
        ["EOP"],
        "https://www.whitehouse.gov/",
    ),
    (
        "ostp",
        "Office of Science and Technology Policy",
        "government",
        "US",
        "executive-office-of-the-president",
        ["OSTP", "White House Office of Science and Technology Policy"],
        "https://www.whitehouse.gov/ostp/",
    ),
    ("openai", "OpenAI", "company", "US", None, [], "https://openai.com/"),
    ("google", "Google", "company", "US", None, [], "https://www.google.com/"),
    ("kling-ai", "Kling AI", "company", "CN", None, ["Kling"], ""),
    ("phantom-x", "Phantom X", "studio", "US", None, ["Phantam X"], ""),
    ("mipcom", "MIPCOM", "festival", "FR", None, ["MIPCOM Cannes"], ""),
]

BFMTV_SIGNATORIES = [
    # As printed, in the order of the article; titles as the article gives them.
    ("Ben Stiller", ""),
    ("Cate Blanchett", ""),
    ("Cynthia Erivo", ""),
    ("Mark Ruffalo", ""),
    ("Ron Howard", "réalisateur"),
    ("Taika Waititi", "réalisateur"),
    ("Paul McCartney", "musicien"),
    ("Guillermo del Toro", ""),
    ("Natasha Lyonne", ""),
    ("Phoebe Waller-Bridge", ""),
    ("Bette Midler", ""),
    ("Ava Duvernay", ""),
    ("Aubrey Plaza", ""),
    ("Ayo Edebiri", ""),
    ("Joseph Gordon-Levitt", ""),
    ("Lily Gladstone", ""),
    ("Sam Mendes", ""),
    ("Janelle Monáe", ""),
    ("Maggie Gylenhall", ""),
    ("Alfonso Cuarón", ""),
    ("Olivia Wilde", ""),
    ("Judd Apatow", ""),
    ("Chris Rock", ""),
    ("Michaela Coel", ""),
]


@dataclass
class DemoCounts:
    letters: int
    organizations: int
    people: int
    signatures: int
    sightings: int


def _organizations() -> dict[str, Organization]:
    found: dict[str, Organization] = {}
    for slug, name, kind, country, parent, aliases, url in ORGANIZATIONS:
        organization = Organization.objects.filter(slug=slug).first()
        if organization is None:
            organization = organization_create(
                name=name,
                slug=slug,
                kind=kind,
                country=country,
                parent=found.get(parent) if parent else None,
                aliases=aliases,
                url=url,
            )
        found[slug] = organization
    return found


def _letter(slug: str, **fields) -> Letter:
    return Letter.objects.filter(slug=slug).first() or letter_create(slug=slug, **fields)


def _source(letter: Letter, name: str, **fields) -> Source:
    return Source.objects.filter(letter=letter, name=name).first() or source_create(
        letter=letter, name=name, **fields
    )


@transaction.atomic
def demo_load() -> DemoCounts:
    organizations = _organizations()

    ostp_letter = _letter(
        "hollywood-ai-copyright-ostp-2025",
        title="Hollywood's open letter to the White House on AI and copyright",
        summary=(
            "March 2025: more than 400 film and music figures ask the White House Office of "
            "Science and Technology Policy not to weaken copyright protections for the "
            "training of AI models, answering submissions by OpenAI and Google."
        ),
        language="en",
        status=Letter.Status.CLOSED,
        claimed_count="400+",
    )
    letter_target_set(
        letter=ostp_letter, organization=organizations["ostp"], role=LetterTarget.Role.ADDRESSEE
    )
    for slug in ("openai", "google"):
        letter_target_set(
            letter=ostp_letter, organization=organizations[slug], role=LetterTarget.Role.SUBJECT
        )
    bfmtv = _source(
        ostp_letter,
        "BFMTV (with AFP), March 2025",
        kind=Source.Kind.PRESS,
        format=Source.Format.NONE,
        enabled=False,
    )
    for position, (name, title) in enumerate(BFMTV_SIGNATORIES, start=1):
        signature_record(
            letter=ostp_letter,
            source=bfmtv,
            entry=Entry(name=name, title=title, position=position),
        )

    mipcom_letter = _letter(
        "mipcom-2025-kling-ai-opinion",
        title="Cannes : L'IA américaine menace notre souveraineté audiovisuelle",
        summary=(
            "October 2025 opinion piece on Kling AI's showcase at MIPCOM in Cannes and the "
            'film "Echo Hunter: A Memory Too Far" made with the studio Phantom X (printed '
            '"Phantam X").'
        ),
        language="fr",
        status=Letter.Status.CLOSED,
        claimed_count="1",
    )
    for slug in ("kling-ai", "phantom-x", "mipcom"):
        letter_target_set(
            letter=mipcom_letter, organization=organizations[slug], role=LetterTarget.Role.SUBJECT
        )
    byline = _source(
        mipcom_letter,
        "Opinion piece byline",
        kind=Source.Kind.PRESS,
        format=Source.Format.NONE,
        enabled=False,
    )
    signature_record(
        letter=mipcom_letter,
        source=byline,
        entry=Entry(
            name="Clara Marchini",
            position=1,
            extra={
                "byline": "Regard sur l’actualité insulaire mais pas que, humanisme et "
                "attachement profond à notre terre et à notre langue."
            },
        ),
    )
    return demo_counts()


DEMO_LETTERS = ("hollywood-ai-copyright-ostp-2025", "mipcom-2025-kling-ai-opinion")


def demo_counts() -> DemoCounts:
    """What the demo holds: its letters, organizations, and the signatures,
    sightings and people of its letters; not the rest of the database."""
    from letters.models import Sighting, Signature
    from people.models import Person

    signatures = Signature.objects.filter(letter__slug__in=DEMO_LETTERS)
    return DemoCounts(
        letters=Letter.objects.filter(slug__in=DEMO_LETTERS).count(),
        organizations=Organization.objects.filter(slug__in=[o[0] for o in ORGANIZATIONS]).count(),
        people=Person.objects.filter(
            pk__in=signatures.values("person_id"), merged_into__isnull=True
        ).count(),
        signatures=signatures.count(),
        sightings=Sighting.objects.filter(source__letter__slug__in=DEMO_LETTERS).count(),
    )
