"""Editors' decisions on pairs."""

import pytest

from people.merging.decisions import judgement_decide
from people.models import MatchJudgement
from people.services import person_create
from tracker.errors import Conflict, DomainError

pytestmark = pytest.mark.django_db


def test_it_merges_on_a_same_decision_and_requires_a_reason():
    first, second = person_create(name="Ava DuVernay"), person_create(name="Ava Duvernay")
    judgement = MatchJudgement.objects.create(person_a=first, person_b=second, score=0.9)
    with pytest.raises(DomainError):
        judgement_decide(judgement=judgement, decision="same", reason="")
    judgement_decide(judgement=judgement, decision="same", reason="Same director.")
    second.refresh_from_db()
    assert second.merged_into == first


def test_a_pair_seen_pending_and_decided_meanwhile_is_not_decided_again():
    lana, lilly = person_create(name="Lana Wachowski"), person_create(name="Lilly Wachowski")
    judgement = MatchJudgement.objects.create(person_a=lana, person_b=lilly, score=0.7)
    seen = MatchJudgement.objects.get(pk=judgement.pk)  # another editor's page, still pending
    judgement_decide(judgement=judgement, decision="different", reason="Two sisters.")

    with pytest.raises(Conflict) as error:
        judgement_decide(judgement=seen, decision="same", reason="Looks alike.")
    assert error.value.code == "decided"
    assert "Different people" in error.value.message
    lilly.refresh_from_db()
    assert lilly.merged_into is None
    judgement.refresh_from_db()
    assert (judgement.decision, judgement.reason) == ("different", "Two sisters.")


def test_a_decision_said_to_replace_the_current_one_replaces_it():
    lana, lilly = person_create(name="Lana Wachowski"), person_create(name="Lilly Wachowski")
    judgement = MatchJudgement.objects.create(person_a=lana, person_b=lilly)
    judgement_decide(judgement=judgement, decision="unsure", reason="Check the credits.")

    judgement_decide(
        judgement=judgement, decision="different", reason="Two sisters.", replaces="unsure"
    )

    judgement.refresh_from_db()
    assert judgement.decision == "different"


def test_it_refuses_to_call_merged_records_different_until_the_merge_is_undone():
    first, second = person_create(name="Ava DuVernay"), person_create(name="Ava Duvernay")
    judgement = MatchJudgement.objects.create(person_a=first, person_b=second)
    judgement_decide(judgement=judgement, decision="same", reason="Same director.")
    with pytest.raises(Conflict) as error:
        judgement_decide(judgement=judgement, decision="different", reason="Oops.", replaces="same")
    assert error.value.code == "merged"
    assert "undo the merge #" in error.value.message
