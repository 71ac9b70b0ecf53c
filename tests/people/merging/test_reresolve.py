"""The identity rules applied to stored people."""

import pytest
from django.core.management import call_command

from letters.models import Signature
from people.merging.merge import person_merge
from people.merging.reresolve import people_reresolve
from people.models import Person, Split
from people.services import person_create
from tests.people.merging.conftest import entry
from tests.people.merging.tables import snapshot

pytestmark = pytest.mark.django_db


def test_a_person_holding_two_entries_of_one_list_is_split_once(two_chris_evans):
    found = people_reresolve()

    assert len(found) == 1 and found[0].person == two_chris_evans.person.pk
    split = Split.objects.get()
    moved = {s.pk for s in two_chris_evans.broadcaster}
    assert (
        set(Signature.objects.filter(person=split.new_person).values_list("sightings", flat=True))
        == moved
    )
    assert people_reresolve() == []


def test_a_dry_run_changes_nothing(two_chris_evans, capsys):
    before = snapshot()
    call_command("reresolve_people", "--dry-run")
    assert snapshot() == before
    assert "would be split into 2" in capsys.readouterr().out


def test_people_an_editor_merged_are_left_for_an_editor(two_chris_evans):
    other = person_create(name="Christopher Evans")
    person_merge(survivor=two_chris_evans.person, merged=other, reason="Same person, I checked.")

    [found] = people_reresolve()

    assert found.left_for_an_editor
    assert Split.objects.count() == 0


def test_entries_that_agree_are_left_together(db):
    from tests.factories import make_letter, make_source

    letter = make_letter()
    site = make_source(letter, name="Site", kind="letter_site")
    press = make_source(letter, name="Paper", kind="press")
    person = entry(site, "Ava DuVernay", title="Director").signature.person
    entry(press, "Ava Duvernay", person=person, title="Filmmaker")

    assert people_reresolve() == []
    assert Person.objects.count() == 1
