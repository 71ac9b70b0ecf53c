"""People and organizations written through the services."""

import pytest

from people.models import Person
from people.services import (
    organization_create,
    organization_update,
    person_create,
    person_resolve,
)
from tracker.errors import DomainError

pytestmark = pytest.mark.django_db


def test_it_folds_the_name_for_search_and_keeps_aliases():
    ostp = organization_create(
        name="Office of Science and Technology Policy", kind="government", aliases=["OSTP"]
    )
    assert "ostp" in ostp.search_text.split(" | ")
    organization_update(organization=ostp, aliases=["OSTP", "Bureau de la Politique Scientifique"])
    ostp.refresh_from_db()
    assert "bureau de la politique scientifique" in ostp.search_text


def test_it_refuses_an_organization_that_would_sit_under_itself():
    parent = organization_create(name="Executive Office of the President", kind="government")
    child = organization_create(name="OSTP", kind="government", parent=parent)
    with pytest.raises(DomainError) as error:
        organization_update(organization=parent, parent=child)
    assert error.value.field == "parent"


def test_it_parses_the_name_parts_of_a_new_person():
    person = person_create(name="McCartney, Sir Paul")
    assert (person.given_name, person.family_name, person.honorific) == ("Paul", "McCartney", "Sir")
    assert person.display_name == "Paul McCartney"
    assert person.sort_name == "McCartney, Paul"
    assert person.name_key == "paul mccartney"
    assert list(person.names.values_list("name", flat=True)) == ["McCartney, Sir Paul"]


def test_it_reads_a_name_in_capitals_as_it_reads_the_same_name_in_mixed_case():
    shouted = person_create(name="LLOYD WEBBER, ANDREW")
    written = person_create(name="Lloyd Webber, Andrew")
    fields = ("given_name", "middle_name", "family_name", "sort_name", "display_name", "name_key")
    assert [getattr(shouted, f) for f in fields] == [getattr(written, f) for f in fields]
    assert shouted.sort_name == "Lloyd Webber, Andrew"
    knighted = person_create(name="MCCARTNEY, SIR PAUL CBE")
    assert (knighted.honorific, knighted.family_name, knighted.suffix) == (
        "SIR",
        "McCartney",
        "CBE",
    )


def test_it_resolves_an_exact_name_to_the_existing_person_but_never_guesses_between_homonyms():
    first = person_create(name="Alfonso Cuarón")
    assert person_resolve(name="ALFONSO CUARON") == first
    person_create(name="Chris Evans")
    person_create(name="Chris Evans")
    third = person_resolve(name="Chris Evans")
    assert Person.objects.filter(name_key="chris evans").count() == 3
    assert third.name_key == "chris evans"
