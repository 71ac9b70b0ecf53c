"""Folding people into one."""

import pytest

from letters.services import signature_change_status
from people.merging.decisions import judgement_decide
from people.merging.merge import person_merge
from people.merging.undo import merge_undo
from people.models import MatchJudgement, Merge, Person, PersonRename
from people.services import person_add_name, person_create
from tests.factories import make_letter, make_source
from tests.people.merging.conftest import entry
from tracker.errors import Conflict, DomainError, NotFound

pytestmark = pytest.mark.django_db


def test_it_moves_everything_to_the_survivor_and_folds_two_signatures_of_one_letter(
    one_person_twice,
):
    kept, folded, moved = one_person_twice.kept, one_person_twice.folded, one_person_twice.moved
    survivor, merged = kept.person, folded.person
    signature_change_status(signature=folded, status="retracted", reason="Asked to be removed.")

    merge = person_merge(survivor=survivor, merged=merged, reason="Same actor, misspelt.")

    merged.refresh_from_db()
    kept.refresh_from_db()
    folded.refresh_from_db()
    moved.refresh_from_db()
    assert merged.merged_into == survivor
    assert folded.merged_into == kept
    assert kept.sightings.count() == 2  # both sources' entries back the one signature
    assert kept.status == "retracted"  # the retraction is not lost in the merge
    assert moved.person == survivor
    assert set(survivor.names.values_list("name", flat=True)) == {
        "Maggie Gyllenhaal",
        "Maggie Gylenhall",
    }
    assert survivor.affiliations.count() == 1
    assert merge.moved["signatures"] == [moved.pk]


def test_it_refuses_a_merge_across_a_different_judgement_transitively():
    lana, lilly, lilly_again = (
        person_create(name="Lana Wachowski"),
        person_create(name="Lilly Wachowski"),
        person_create(name="L. Wachowski"),
    )
    judgement = MatchJudgement.objects.create(person_a=lana, person_b=lilly)
    judgement_decide(judgement=judgement, decision="different", reason="Two sisters.")
    person_merge(survivor=lilly, merged=lilly_again)
    with pytest.raises(Conflict) as error:
        person_merge(survivor=lana, merged=lilly_again)
    assert error.value.code == "judged_different"


def test_merging_records_already_one_is_a_conflict_and_an_unknown_person_not_found():
    first, second = person_create(name="Ava DuVernay"), person_create(name="Ava Duvernay")
    person_merge(survivor=first, merged=second)
    with pytest.raises(Conflict) as error:
        person_merge(survivor=first, merged=second)
    assert error.value.status_code == 409
    with pytest.raises(NotFound):
        person_merge(survivor=first, merged=Person(pk=10**9))


def test_the_survivor_is_shown_as_the_letter_s_own_list_writes_the_name_not_an_editor():
    letter = make_letter()
    site = make_source(letter, name="Letter site", kind="letter_site")
    press = make_source(letter, name="Newspaper", kind="press")
    typed = person_create(name="Ava Du Vernay")  # an editor's spelling, no source
    listed = entry(site, "Ava DuVernay").signature.person
    person_add_name(person=listed, name="Ava Duvernay", source=press)

    person_merge(survivor=typed, merged=listed)

    typed.refresh_from_db()
    assert typed.display_name == "Ava DuVernay"
    merge = Merge.objects.get()
    assert (merge.survivor_name, merge.merged_name) == ("Ava Du Vernay", "Ava DuVernay")
    assert str(merge) == f"Ava DuVernay (#{listed.pk}) into Ava Du Vernay (#{typed.pk})"


def test_a_merge_that_shows_the_survivor_by_another_name_and_its_undo_are_renames():
    letter = make_letter()
    site = make_source(letter, name="Letter site", kind="letter_site")
    typed = person_create(name="Ava Du Vernay")
    listed = entry(site, "Ava DuVernay").signature.person
    merge = person_merge(survivor=typed, merged=listed)

    merge_undo(merge=merge, reason="Not the same after all.")

    renames = PersonRename.objects.filter(person=typed).order_by("created_at", "pk")
    assert [(r.before, r.after, r.cause) for r in renames] == [
        ("Ava Du Vernay", "Ava DuVernay", "merge"),
        ("Ava DuVernay", "Ava Du Vernay", "unmerge"),
    ]
    assert not PersonRename.objects.filter(person=listed).exists()


def test_an_equally_trusted_spelling_does_not_replace_the_name_shown():
    letter = make_letter()
    press = make_source(letter, name="Newspaper", kind="press")
    other_press = make_source(letter, name="Other paper", kind="press")
    shown = entry(press, "Ava DuVernay").signature.person
    other = entry(other_press, "Ava Duvernay").signature.person

    person_merge(survivor=shown, merged=other)

    shown.refresh_from_db()
    assert shown.display_name == "Ava DuVernay"


def test_a_merge_a_domain_refuses_changes_nothing(one_person_twice):
    survivor = one_person_twice.kept.person
    with pytest.raises(DomainError):
        person_merge(survivor=survivor, merged=survivor)
    assert Merge.objects.count() == 0
