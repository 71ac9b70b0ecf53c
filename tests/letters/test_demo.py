"""The demo data loads the two letters of the seed articles, once."""

import pytest
from django.core.management import call_command

from letters.models import (
    Letter,
    ListVersion,
    Sighting,
    SightingEvent,
    Signature,
    SignatureStatusChange,
)
from letters.versions import record_version
from people.models import MatchJudgement, Person, PersonName

pytestmark = pytest.mark.django_db


def counts() -> dict[str, int]:
    models = [
        Letter,
        ListVersion,
        Person,
        PersonName,
        Sighting,
        SightingEvent,
        SignatureStatusChange,
    ]
    return {model.__name__: model.objects.count() for model in models}


def test_it_loads_the_letters_as_printed_and_twice_changes_nothing():
    call_command("load_demo", verbosity=0)
    first = counts()
    call_command("load_demo", verbosity=0)
    assert counts() == first
    # Each letter's list is published once, as the duplicate finder left it.
    assert first["ListVersion"] == 2
    assert all(record_version(letter) is None for letter in Letter.objects.all())

    letter = Letter.objects.get(slug="hollywood-ai-copyright-ostp-2025")
    assert letter.claimed_count == "400+" and letter.claimed_count_min == 400
    roles = {(t.organization.name, t.role) for t in letter.letter_targets.all()}
    assert roles == {
        ("Office of Science and Technology Policy", "addressee"),
        ("OpenAI", "subject"),
        ("Google", "subject"),
    }
    printed = Sighting.objects.filter(source__letter=letter, source__kind="press")
    names = set(printed.values_list("name", flat=True))
    assert {"Maggie Gylenhall", "Ava Duvernay", "Alfonso Cuarón"} <= names
    assert len(names) == 24
    ostp = letter.letter_targets.get(role="addressee").organization
    assert ostp.parent.name == "Executive Office of the President"
    assert "OSTP" in ostp.aliases

    opinion = Letter.objects.get(slug="mipcom-2025-kling-ai-opinion")
    assert set(opinion.signatures.values_list("person__display_name", flat=True)) == {
        "Clara Marchini",
        "Alfonso Cuarón",
    }
    subjects = set(opinion.letter_targets.values_list("organization__name", flat=True))
    assert subjects == {"Kling AI", "Phantom X", "MIPCOM"}


def test_the_demo_lets_every_journalist_s_question_be_tried():
    call_command("load_demo", verbosity=0)
    letter = Letter.objects.get(slug="hollywood-ai-copyright-ostp-2025")

    assert letter.published_on.isoformat() == "2025-03-15" and letter.url.startswith("https://")
    stiller = Signature.objects.get(letter=letter, person__display_name="Ben Stiller")
    assert stiller.organization.name == "Red Hour Productions"
    both = Person.objects.filter(signatures__letter__slug="mipcom-2025-kling-ai-opinion").filter(
        signatures__letter=letter
    )
    assert [person.display_name for person in both] == ["Alfonso Cuarón"]
    assert MatchJudgement.objects.filter(decision="pending").count() >= 1
    [retracted] = Signature.objects.filter(letter=letter, status="retracted")
    # Dated in the demo's history, so that the list as of 20 March still shows it.
    retraction = retracted.status_changes.get(to_status="retracted")
    assert retraction.changed_at.isoformat() == "2025-03-21T10:00:00+00:00"
    days = {at.date() for at in Signature.objects.values_list("first_seen_at", flat=True)}
    assert len(days) >= 4
