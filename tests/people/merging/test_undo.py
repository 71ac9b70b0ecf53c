"""Undoing a merge, whole or in part."""

import pytest

from letters.services import signature_record_manual
from people.merging.merge import person_merge
from people.merging.undo import merge_people, merge_undo
from people.models import MatchJudgement, Merge, Person
from people.services import person_create
from tests.factories import make_letter
from tests.people.merging.tables import snapshot, who_signed_what
from tracker.errors import Conflict, DomainError

pytestmark = pytest.mark.django_db


def test_it_undoes_a_merge_exactly_and_remembers_the_pair_as_different(one_person_twice):
    kept, folded = one_person_twice.kept, one_person_twice.folded
    before = snapshot()
    merge = person_merge(survivor=kept.person, merged=folded.person)
    assert snapshot() != before

    merge_undo(merge=merge, reason="Two different people after all.")

    assert snapshot() == before
    judgement = MatchJudgement.objects.get()
    assert judgement.decision == "different"
    with pytest.raises(DomainError):
        person_merge(survivor=kept.person, merged=folded.person)


def test_it_refuses_to_undo_a_merge_whose_survivor_was_merged_again():
    a, b, c = (person_create(name=n) for n in ("Bob Smith", "Robert Smith", "R. Smith"))
    first = person_merge(survivor=b, merged=a)
    person_merge(survivor=c, merged=b)
    with pytest.raises(Conflict) as error:
        merge_undo(merge=first)
    assert error.value.code == "undo_later_first"


def test_a_merge_undone_twice_is_a_conflict_and_the_first_undo_stands(one_person_twice):
    merge = person_merge(
        survivor=one_person_twice.kept.person, merged=one_person_twice.folded.person
    )
    merge_undo(merge=merge, reason="Two people.")
    after = snapshot()
    with pytest.raises(Conflict) as error:
        merge_undo(merge=merge, reason="Again.")
    assert error.value.code == "already_undone"
    assert snapshot() == after
    merge.refresh_from_db()
    assert merge.undo_reason == "Two people."


def _three_spellings():
    """Survivor S on letter A; M on letter B, with M1 (letter C) merged into M
    before M was merged into S."""
    a, b, c = make_letter(slug="a"), make_letter(slug="b"), make_letter(slug="c")
    s = signature_record_manual(letter=a, name="Maggie Gyllenhaal", by=None).person
    m = signature_record_manual(letter=b, name="Maggie Gylenhall", by=None).person
    m1 = signature_record_manual(letter=c, name="M. Gyllenhaal", by=None).person
    person_merge(survivor=m, merged=m1)
    return s, m, m1


def test_a_merge_s_people_are_the_merged_record_and_those_merged_into_it_before():
    s, m, m1 = _three_spellings()
    merge = person_merge(survivor=s, merged=m)
    assert merge_people(merge) == sorted([m.pk, m1.pk])


def test_a_partial_undo_takes_out_only_the_chosen_record():
    s, m, m1 = _three_spellings()
    merge = person_merge(survivor=s, merged=m)

    merge_undo(merge=merge, reason="M. is the other actor.", people=[m1.pk])

    view = who_signed_what()
    assert sorted(view["Maggie Gyllenhaal"]) == ["a", "b"]
    m1.refresh_from_db()
    assert sorted(view[m1.display_name]) == ["c"]
    m.refresh_from_db(), m1.refresh_from_db()
    assert m1.merged_into is None
    assert Person.objects.get(pk=m.pk).merged_into_id in {s.pk}
    merge.refresh_from_db()
    assert merge.undone_at is not None
    assert merge.undo_detail["people"] == [m1.pk]
    assert MatchJudgement.objects.get(person_a=min(s, m1, key=lambda p: p.pk),
                                      person_b=max(s, m1, key=lambda p: p.pk)).decision == (
        "different"
    )  # fmt: skip


def test_a_partial_undo_of_the_merged_record_leaves_what_came_in_with_it_with_the_survivor():
    s, m, m1 = _three_spellings()
    merge = person_merge(survivor=s, merged=m)

    merge_undo(merge=merge, reason="Gylenhall is someone else.", people=[m.pk])

    view = who_signed_what()
    assert sorted(view["Maggie Gyllenhaal"]) == ["a", "c"]
    assert sorted(view["Maggie Gylenhall"]) == ["b"]
    m1.refresh_from_db()
    assert m1.merged_into_id is not None
    assert Person.objects.get(pk=m1.merged_into_id).merged_into_id in {None, s.pk}


def test_a_partial_undo_refuses_a_record_that_did_not_come_in_with_the_merge():
    s, m, m1 = _three_spellings()
    merge = person_merge(survivor=s, merged=m)
    before = snapshot()
    with pytest.raises(DomainError) as error:
        merge_undo(merge=merge, reason="Wrong.", people=[s.pk])
    assert error.value.field == "people"
    assert snapshot() == before
    assert Merge.objects.get(pk=merge.pk).undone_at is None
