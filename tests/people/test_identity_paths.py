"""Every entry path follows the identity rules: a sync, an import, an API or
an editor's entry never folds two people into one."""

import pytest
from django.db.models import Q

from letters.models import Signature
from letters.services import Entry, signature_record, signature_record_manual
from people.merging.runs import run_now
from people.models import MatchJudgement, Person
from tests.factories import make_letter, make_source

pytestmark = pytest.mark.django_db


def record(source, name, title="", affiliation=""):
    return signature_record(
        letter=source.letter,
        source=source,
        entry=Entry(name=name, title=title, affiliation=affiliation),
    ).signature.person


ACTOR = ("Chris Evans", "Actor", "")
BROADCASTER = ("Chris Evans", "Broadcaster", "BBC Radio 2")


@pytest.mark.parametrize("first, second", [(ACTOR, BROADCASTER), (BROADCASTER, ACTOR)])
def test_two_chris_evans_of_other_fields_on_one_list_stay_two_people(first, second):
    source = make_source(make_letter(), name="Letter site", kind="letter_site")
    actor = record(source, *first)
    broadcaster = record(source, *second)
    assert actor != broadcaster
    assert Signature.objects.filter(letter=source.letter).count() == 2


@pytest.mark.parametrize("first, second", [(ACTOR, BROADCASTER), (BROADCASTER, ACTOR)])
def test_two_chris_evans_stay_apart_across_two_sources_and_across_two_letters(first, second):
    letter = make_letter()
    site = make_source(letter, name="Letter site", kind="letter_site")
    press = make_source(letter, name="Newspaper", kind="press")
    other = make_source(make_letter(), name="Other site", kind="letter_site")
    one = record(site, *first)
    assert record(press, *second) != one
    assert record(other, *second) != one
    assert record(other, "Elvira Carrera", "Director", "ARRAY") != record(
        site, "elvira carrera", "Writer", "Society of Authors"
    )


def test_the_same_person_from_another_source_joins_when_nothing_disagrees():
    letter = make_letter()
    site = make_source(letter, name="Letter site", kind="letter_site")
    press = make_source(letter, name="Newspaper", kind="press")
    assert record(site, "Maggie Gyllenhaal", "Actor") == record(press, "Maggie Gyllenhaal")


def test_an_editor_s_entry_of_another_field_gets_a_person_of_its_own():
    letter = make_letter()
    site = make_source(letter, name="Letter site", kind="letter_site")
    actor = record(site, "Chris Evans", "Actor")
    typed = signature_record_manual(
        letter=make_letter(), name="Chris Evans", title="Radio presenter", by=None
    )
    assert typed.person != actor


NAMESAKES = [
    ("Jake Gyllenhaal", "Maggie Gyllenhaal"),
    ("Lana Wachowski", "Lilly Wachowski"),
    ("Sam Mendes", "Eva Mendes"),
    ("Ron Howard", "Bryce Dallas Howard"),
]


def test_namesakes_stay_apart_after_entry_and_a_full_run():
    letter = make_letter()
    site = make_source(letter, name="Letter site", kind="letter_site")
    press = make_source(letter, name="Newspaper", kind="press")
    people = [(record(site, a), record(press, b)) for a, b in NAMESAKES]

    run_now(full=True)

    for first, second in people:
        first.refresh_from_db(), second.refresh_from_db()
        assert (first.merged_into_id or first.pk) != (second.merged_into_id or second.pk)


def test_a_third_chris_evans_stating_nothing_joins_neither():
    first, second, third = make_letter(), make_letter(), make_letter()
    actor = record(make_source(first, name="Site 1", kind="letter_site"), "Chris Evans", "Actor")
    broadcaster = record(
        make_source(second, name="Site 2", kind="letter_site"),
        "Chris Evans",
        "Broadcaster",
        "BBC Radio 2",
    )
    nobody = record(make_source(third, name="Site 3", kind="letter_site"), "Chris Evans")
    assert len({actor.pk, broadcaster.pk, nobody.pk}) == 3

    run_now(full=True)

    active = set(Person.objects.filter(merged_into__isnull=True).values_list("pk", flat=True))
    assert {actor.pk, broadcaster.pk, nobody.pk} <= active
    # It goes to review, beside one of them at least, for an editor to decide.
    pending = MatchJudgement.objects.filter(decision="pending")
    assert pending.filter(Q(person_a=nobody) | Q(person_b=nobody)).exists()


def imported(source, body: bytes):
    from letters.sync import import_file

    run = import_file(source=source, content=body, format="csv")
    assert run.outcome == "succeeded", run.error
    return run


def test_a_list_naming_two_chris_evans_of_other_fields_gives_two_people_and_signatures():
    source = make_source(make_letter(), name="Organisers' sheet", kind="feed", format="csv")

    imported(
        source,
        b'name,title,affiliation\nChris Evans,Actor,\nChris Evans,"Broadcaster",BBC Radio 2\n',
    )

    signatures = Signature.objects.filter(letter=source.letter)
    assert signatures.count() == 2
    assert len({s.person_id for s in signatures}) == 2


def test_imports_of_two_letters_keep_same_named_people_of_other_organisations_apart():
    first = make_source(make_letter(), name="Sheet 1", kind="feed", format="csv")
    second = make_source(make_letter(), name="Sheet 2", kind="feed", format="csv")

    imported(first, b"name,title,affiliation\nElvira Carrera,Director,ARRAY\n")
    imported(second, b"name,title,affiliation\nelvira carrera,Writer,Society of Authors\n")

    assert Person.objects.filter(name_key="elvira carrera").count() == 2


def test_an_import_joins_a_known_person_when_nothing_disagrees():
    first = make_source(make_letter(), name="Sheet 1", kind="feed", format="csv")
    second = make_source(make_letter(), name="Sheet 2", kind="feed", format="csv")

    imported(first, b"name,title\nAva DuVernay,Director\n")
    imported(second, b"name,title\nAva DuVernay,Filmmaker\n")

    assert Person.objects.filter(name_key="ava duvernay").count() == 1


def test_an_incremental_run_on_a_third_chris_evans_stating_nothing_folds_no_one():
    actor = record(
        make_source(make_letter(), name="Site 1", kind="letter_site"),
        "Chris Evans",
        "Actor",
        "Marvel Studios",
    )
    run_now(full=False, person_ids=[actor.pk])
    broadcaster = record(
        make_source(make_letter(), name="Site 2", kind="letter_site"),
        "Chris Evans",
        "Broadcaster",
        "BBC Radio 2",
    )
    run_now(full=False, person_ids=[broadcaster.pk])
    nobody = record(make_source(make_letter(), name="Site 3", kind="letter_site"), "Chris Evans")

    run = run_now(full=False, person_ids=[nobody.pk])

    assert run.merged == 0
    active = set(Person.objects.filter(merged_into__isnull=True).values_list("pk", flat=True))
    assert {actor.pk, broadcaster.pk, nobody.pk} <= active
