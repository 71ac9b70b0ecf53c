"""The demo data: two letters from the press pieces the project started from.

Signatories are spelled exactly as printed ("Maggie Gylenhall", "Ava Duvernay"),
as sightings of a press source, so the matcher has real variants to fold.

So that every question the API answers can be tried out of the box, an
illustrative source (named so) adds what the press pieces lack: affiliations
with the signatories' own companies, a spelling that makes a pending duplicate
("G. del Toro"), one person on both letters, a retraction (of a
fictional signatory), and a few days of history (entries first seen on
different days), for the change feed and ``as_of``.

Loading twice changes nothing: once the demo is there, loading it again
writes nothing at all.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime

from django.db import transaction

from letters.models import Letter, LetterTarget, Signature, SignatureStatusChange, Source
from letters.services import (
    Entry,
    letter_create,
    letter_target_set,
    signature_change_status,
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
    ("red-hour-productions", "Red Hour Productions", "studio", "US", None, ["Red Hour"], ""),
    ("imagine-entertainment", "Imagine Entertainment", "studio", "US", None, ["Imagine"], ""),
    ("mpl-communications", "MPL Communications", "company", "GB", None, ["MPL"], ""),
]
OSTP_SLUG = "hollywood-ai-copyright-ostp-2025"
# The request for information of the OSTP that the letter answered.
OSTP_RFI_URL = (
    "https://www.federalregister.gov/documents/2025/02/06/2025-02305/"
    "request-for-information-on-the-development-of-an-artificial-intelligence-ai-action-plan"
)
PRINTED_AT = datetime(2025, 3, 18, 8, 0, tzinfo=UTC)
# The illustrative sheet, day by day: (when, entries as (name, affiliation)).
SHEET_DAYS = [
    (
        datetime(2025, 3, 19, 9, 0, tzinfo=UTC),
        [
            ("Maggie Gyllenhaal", ""),
            ("Ben Stiller", "Red Hour Productions"),
            ("Ron Howard", "Imagine Entertainment"),
            ("Paul McCartney", "MPL Communications"),
            ("Alex Example", ""),
        ],
    ),
    (
        datetime(2025, 3, 20, 9, 0, tzinfo=UTC),
        [("Sam Example", ""), ("G. del Toro", "")],
    ),
]
RETRACTED_AT = datetime(2025, 3, 21, 10, 0, tzinfo=UTC)
SHEET_NAME = "Illustrative organisers' sheet (demo data, not from the press)"

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
    loaded: bool
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
    if Letter.objects.filter(slug=OSTP_SLUG).exists():
        return demo_counts(loaded=False)  # loaded already: a second load writes nothing
    organizations = _organizations()

    ostp_letter = _letter(
        OSTP_SLUG,
        title="Hollywood's open letter to the White House on AI and copyright",
        summary=(
            "March 2025: more than 400 film and music figures ask the White House Office of "
            "Science and Technology Policy not to weaken copyright protections for the "
            "training of AI models, answering submissions by OpenAI and Google."
        ),
        language="en",
        status=Letter.Status.CLOSED,
        claimed_count="400+",
        published_on=date(2025, 3, 15),
        url=OSTP_RFI_URL,
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
            at=PRINTED_AT,
        )
    _illustrative_history(ostp_letter)

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
        at=datetime(2025, 10, 14, 7, 0, tzinfo=UTC),
    )
    illustrative = _source(
        mipcom_letter,
        "Illustrative entries (demo data, not from the press)",
        kind=Source.Kind.MANUAL,
        format=Source.Format.NONE,
        enabled=False,
    )
    # One person on both letters, spelled as a French sheet might.
    signature_record(
        letter=mipcom_letter,
        source=illustrative,
        entry=Entry(name="Alfonso Cuaron", position=1),
        at=datetime(2025, 10, 15, 7, 0, tzinfo=UTC),
    )
    return demo_counts(loaded=True)


def _illustrative_history(letter: Letter) -> None:
    """The illustrative sheet over a few days: entries added day by day, and the
    retraction of a fictional signatory."""
    sheet = _source(
        letter, SHEET_NAME, kind=Source.Kind.FEED, format=Source.Format.NONE, enabled=False
    )
    recorded = {}
    for at, entries in SHEET_DAYS:
        for position, (name, affiliation) in enumerate(entries, start=1):
            recorded[name] = signature_record(
                letter=letter,
                source=sheet,
                entry=Entry(name=name, affiliation=affiliation, position=position),
                at=at,
            )
    signature_change_status(
        signature=recorded["Alex Example"].signature,
        status=Signature.Status.RETRACTED,
        reason="Illustrative retraction (demo data): the signatory asked to be taken off.",
        evidence_method=SignatureStatusChange.Method.OTHER,
        at=RETRACTED_AT,
    )


DEMO_LETTERS = ("hollywood-ai-copyright-ostp-2025", "mipcom-2025-kling-ai-opinion")


def demo_versions() -> int:
    """Publish the demo letters' lists as they stand (after the duplicate
    finder's first pass); the number of versions made, none when they are
    published already."""
    from letters.versions import record_version

    letters = Letter.objects.filter(slug__in=DEMO_LETTERS).order_by("pk")
    return sum(record_version(letter, reason="Demo data loaded") is not None for letter in letters)


def demo_counts(*, loaded: bool) -> DemoCounts:
    """What the demo holds: its letters, organizations, and the signatures,
    sightings and people of its letters; not the rest of the database."""
    from letters.models import Sighting, Signature
    from people.models import Person

    signatures = Signature.objects.filter(letter__slug__in=DEMO_LETTERS)
    return DemoCounts(
        loaded=loaded,
        letters=Letter.objects.filter(slug__in=DEMO_LETTERS).count(),
        organizations=Organization.objects.filter(slug__in=[o[0] for o in ORGANIZATIONS]).count(),
        people=Person.objects.filter(
            pk__in=signatures.values("person_id"), merged_into__isnull=True
        ).count(),
        signatures=signatures.count(),
        sightings=Sighting.objects.filter(source__letter__slug__in=DEMO_LETTERS).count(),
    )
