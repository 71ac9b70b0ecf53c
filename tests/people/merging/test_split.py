"""Splitting a person found to be two."""

import pytest

from letters.models import Sighting, Signature
from people.merging.merge import person_merge
from people.merging.runs import run_now
from people.merging.split import person_split, split_undo
from people.models import MatchJudgement, Person, Split
from people.services import person_create
from tests.people.merging.tables import snapshot, who_signed_what
from tracker.errors import Conflict, DomainError

pytestmark = pytest.mark.django_db


def test_a_split_moves_exactly_the_chosen_entries_and_their_signatures(two_chris_evans):
    person, broadcaster = two_chris_evans.person, two_chris_evans.broadcaster
    first, second, third = two_chris_evans.letters

    split = person_split(
        person=person, sightings=[s.pk for s in broadcaster], reason="The broadcaster."
    )

    new = split.new_person
    moved = Sighting.objects.filter(pk__in=[s.pk for s in broadcaster])
    assert {s.signature.person_id for s in moved} == {new.pk}
    assert set(Signature.objects.filter(person=new).values_list("letter", flat=True)) == {
        first.pk,
        third.pk,
    }
    assert set(Signature.objects.filter(person=person).values_list("letter", flat=True)) == {
        first.pk,
        second.pk,
    }
    # The first letter's signature held both; the broadcaster's entry got a signature of its own.
    assert Signature.objects.filter(letter=first, merged_into__isnull=True).count() == 2
    for sighting in two_chris_evans.actor:
        sighting.refresh_from_db()
        assert sighting.signature.person_id == person.pk
    judgement = MatchJudgement.objects.get()
    assert {judgement.person_a_id, judgement.person_b_id} == {person.pk, new.pk}
    assert judgement.decision == "different"
    assert new.display_name == "Chris Evans"


def test_a_split_needs_a_reason_and_entries_of_this_person_and_changes_nothing_otherwise(
    two_chris_evans,
):
    person = two_chris_evans.person
    everything = [s.pk for s in two_chris_evans.actor + two_chris_evans.broadcaster]
    other = person_create(name="Somebody Else")
    before = snapshot()
    for sightings, reason in [
        ([two_chris_evans.actor[0].pk], ""),
        (everything, "All of them."),
        ([10**9], "Unknown entry."),
        ([], "Nothing chosen."),
    ]:
        with pytest.raises(DomainError):
            person_split(person=person, sightings=sightings, reason=reason)
    with pytest.raises(DomainError):
        person_split(person=other, sightings=[everything[0]], reason="Not theirs.")
    assert snapshot() == before
    assert Split.objects.count() == 0


def test_a_merged_person_cannot_be_split(two_chris_evans):
    survivor = person_create(name="Christopher Evans")
    person_merge(survivor=survivor, merged=two_chris_evans.person)
    with pytest.raises(Conflict):
        person_split(
            person=two_chris_evans.person,
            sightings=[two_chris_evans.broadcaster[0].pk],
            reason="Too late.",
        )


def test_undoing_a_split_puts_every_entry_back_with_the_first_person(two_chris_evans):
    before = who_signed_what()
    split = person_split(
        person=two_chris_evans.person,
        sightings=[s.pk for s in two_chris_evans.broadcaster],
        reason="The broadcaster.",
    )
    assert who_signed_what() != before

    split_undo(split=split, reason="One person after all.")

    assert who_signed_what() == before
    split.refresh_from_db()
    assert split.undone_at is not None and split.undo_merge is not None
    with pytest.raises(Conflict):
        split_undo(split=split, reason="Again.")


def test_a_later_full_run_does_not_join_what_a_split_separated(two_chris_evans):
    split = person_split(
        person=two_chris_evans.person,
        sightings=[s.pk for s in two_chris_evans.broadcaster],
        reason="The broadcaster.",
    )
    after = who_signed_what()

    run = run_now(full=True)

    assert run.status == "succeeded"
    assert Person.objects.get(pk=split.new_person_id).merged_into_id is None
    assert who_signed_what() == after
