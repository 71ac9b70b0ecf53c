"""The demo data loads the two letters of the seed articles, once."""

import pytest
from django.core.management import call_command

from letters.models import Letter, Sighting, SightingEvent, SignatureStatusChange
from people.models import Person, PersonName

pytestmark = pytest.mark.django_db


def counts() -> dict[str, int]:
    models = [Letter, Person, PersonName, Sighting, SightingEvent, SignatureStatusChange]
    return {model.__name__: model.objects.count() for model in models}


def test_it_loads_the_letters_as_printed_and_twice_changes_nothing():
    call_command("load_demo", verbosity=0)
    first = counts()
    call_command("load_demo", verbosity=0)
    assert counts() == first

    letter = Letter.objects.get(slug="hollywood-ai-copyright-ostp-2025")
    assert letter.claimed_count == "400+" and letter.claimed_count_min == 400
    roles = {(t.organization.name, t.role) for t in letter.letter_targets.all()}
    assert roles == {
        ("Office of Science and Technology Policy", "addressee"),
        ("OpenAI", "subject"),
        ("Google", "subject"),
    }
    names = set(Sighting.objects.filter(source__letter=letter).values_list("name", flat=True))
    assert {"Maggie Gylenhall", "Ava Duvernay", "Alfonso Cuarón"} <= names
    assert len(names) == 24
    assert {s.source.kind for s in Sighting.objects.filter(source__letter=letter)} == {"press"}
    ostp = letter.letter_targets.get(role="addressee").organization
    assert ostp.parent.name == "Executive Office of the President"
    assert "OSTP" in ostp.aliases

    opinion = Letter.objects.get(slug="mipcom-2025-kling-ai-opinion")
    assert list(opinion.signatures.values_list("person__display_name", flat=True)) == [
        "Clara Marchini"
    ]
    subjects = set(opinion.letter_targets.values_list("organization__name", flat=True))
    assert subjects == {"Kling AI", "Phantom X", "MIPCOM"}
