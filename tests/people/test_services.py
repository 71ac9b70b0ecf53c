"""People and organizations written through the services."""

import pytest
from django.utils import timezone

from people.matching.normalize import parse_name
from people.models import Person, PersonName
from people.services import (
    organization_create,
    organization_update,
    person_create,
    person_create_many,
    person_resolve,
)
from tests.factories import make_letter, make_source
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


PERSON_FIELDS = (
    "display_name",
    "sort_name",
    "given_name",
    "middle_name",
    "family_name",
    "honorific",
    "suffix",
    "name_key",
    "search_text",
    "external_ids",
    "notes",
)


def person_rows(ids) -> list[tuple]:
    people = Person.objects.filter(pk__in=ids).order_by("pk")
    return [
        (
            *(getattr(person, field) for field in PERSON_FIELDS),
            sorted(person.names.values_list("name", "name_key", "source")),
        )
        for person in people
    ]


def test_people_made_many_at_once_are_those_person_create_makes_one_by_one():
    names = ["McCartney, Sir Paul", "LLOYD WEBBER, ANDREW", "Dr. Émile Zola Jr.", "Björk", "Cher"]
    source = make_source(make_letter())

    many = person_create_many(
        people=[(name, []) for name in names], source=source, at=timezone.now()
    )
    one_by_one = [person_create(name=name, source=source).pk for name in names]

    assert len(many) == len(names)
    assert person_rows(many) == person_rows(one_by_one)


def test_people_made_many_at_once_have_the_search_text_one_by_one_gives_whatever_their_name():
    # Names whose display name differs from the name as written, is empty (an
    # honorific alone), is cut to its column, or folds to the same as the name.
    names = [
        "DuVernay, Ava",
        "Ava  DuVernay",
        "Dr.",
        "Mr. Jean Dupont",
        "M. Jean Dupont",
        "van der Berg, Jan",
        "O'Brien, Conan",
        "ÉMILE ZOLA",
        "Zoë Saldaña",
    ]
    source = make_source(make_letter())

    many = person_create_many(
        people=[(name, []) for name in names], source=source, at=timezone.now()
    )
    one_by_one = [person_create(name=name, source=source).pk for name in names]

    assert person_rows(many) == person_rows(one_by_one)
    # With names longer than their columns too (which person_create refuses): a
    # name given again as its other spelling takes the path of several spellings.
    names += ["Zed " + "Longname" * 45, "Longname" * 45 + ", Zed"]
    one = person_create_many(people=[(name, []) for name in names], at=timezone.now())
    again = person_create_many(people=[(name, [name]) for name in names], at=timezone.now())

    def search_texts(ids):
        texts = dict(Person.objects.filter(pk__in=ids).values_list("pk", "search_text"))
        return [texts[pk] for pk in ids]

    assert search_texts(one) == search_texts(again)
    assert search_texts(one)[: len(many)] == search_texts(many)


def test_people_made_many_at_once_have_every_spelling_as_a_name_and_for_search():
    at = timezone.now()

    [paul] = person_create_many(
        people=[
            ("McCartney, Sir Paul", ["PAUL MCCARTNEY", "McCartney, Sir Paul", "Paul McCartney"])
        ],
        at=at,
    )

    person = Person.objects.get(pk=paul)
    assert (person.display_name, person.created_at, person.updated_at) == ("Paul McCartney", at, at)
    assert person.search_text == "paul mccartney | mccartney sir paul"
    assert sorted(person.names.values_list("name", "name_key", "source", "first_seen_at")) == [
        ("McCartney, Sir Paul", "paul mccartney", None, at),
        ("PAUL MCCARTNEY", "paul mccartney", None, at),
        ("Paul McCartney", "paul mccartney", None, at),
    ]


def test_people_made_many_at_once_are_parsed_by_the_callers_parser_and_fit_their_columns():
    long_name = "Zed " + "Longname" * 45
    asked: list[str] = []

    def parse(name):
        asked.append(name)
        return parse_name(name)

    [person_id] = person_create_many(
        people=[(long_name, [])], at=timezone.now(), parse=parse, key=lambda name: "the key"
    )

    person = Person.objects.get(pk=person_id)
    assert asked == [long_name]
    assert (len(person.display_name), person.name_key) == (300, "the key")
    assert list(person.names.values_list("name", "name_key")) == [(long_name[:300], "the key")]


def test_people_made_many_at_once_need_a_letter_or_digit_each():
    with pytest.raises(DomainError) as error:
        person_create_many(people=[("Ava DuVernay", []), ("?!", [])], at=timezone.now())

    assert error.value.field == "name"
    assert (Person.objects.count(), PersonName.objects.count()) == (0, 0)
