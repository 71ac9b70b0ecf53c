"""/api/duplicates/ (staff): pairs awaiting review, and deciding them."""

from __future__ import annotations

import pytest

from letters.services import signature_record_manual
from people.models import MatchJudgement, Merge, Person
from tests.factories import make_letter, make_person

pytestmark = pytest.mark.django_db


def _pair(first: str, second: str, score: float = 0.8) -> MatchJudgement:
    a, b = sorted([make_person(first), make_person(second)], key=lambda p: p.pk)
    return MatchJudgement.objects.create(
        person_a=a,
        person_b=b,
        score=score,
        explanation={"agreed": ["family name (typo)"], "disagreed": []},
    )


def test_it_lists_pending_pairs_best_score_first_with_the_explanation(staff_client):
    low = _pair("Ava DuVernay", "Ava Duvernay", 0.7)
    high = _pair("Maggie Gyllenhaal", "Maggie Gylenhall", 0.9)
    decided = _pair("Lana Wachowski", "Lilly Wachowski", 0.8)
    decided.decision = MatchJudgement.Decision.DIFFERENT
    decided.save()

    body = staff_client.get("/api/duplicates/").json()

    assert [item["id"] for item in body["results"]] == [high.pk, low.pk]
    assert body["results"][0]["explanation"] == {
        "agreed": ["family name (typo)"],
        "disagreed": [],
    }
    assert body["results"][0]["person_a"]["name"] == "Maggie Gyllenhaal"


def test_among_equal_scores_the_pairs_carrying_the_most_signatures_come_first(staff_client):
    quiet = _pair("Ava DuVernay", "Ava Duvernay", 0.8)
    busy = _pair("Cate Blanchett", "Blanchett, Cate", 0.8)
    for person in [busy.person_a, busy.person_a, busy.person_b, quiet.person_a]:
        signature_record_manual(letter=make_letter(), person=person, by=None)
    best = _pair("Maggie Gyllenhaal", "Maggie Gylenhall", 0.9)

    body = staff_client.get("/api/duplicates/").json()

    assert [item["id"] for item in body["results"]] == [best.pk, busy.pk, quiet.pk]
    assert [item["impact"] for item in body["results"]] == [0, 3, 1]


def test_it_lists_decided_pairs_when_asked(staff_client):
    pair = _pair("Lana Wachowski", "Lilly Wachowski")
    pair.decision = MatchJudgement.Decision.DIFFERENT
    pair.save()

    body = staff_client.get("/api/duplicates/", {"decision": "different"}).json()

    assert [item["id"] for item in body["results"]] == [pair.pk]


def test_deciding_same_merges_the_two_people(editor_client):
    pair = _pair("Maggie Gyllenhaal", "Maggie Gylenhall")

    response = editor_client.post(
        f"/api/duplicates/{pair.pk}/decide/",
        {"decision": "same", "reason": "The press misspelt her name."},
        format="json",
    )

    assert response.status_code == 200
    assert response.json()["decision"] == "same"
    assert response.json()["decided_by"] == "editor"
    assert Person.objects.get(pk=pair.person_b_id).merged_into_id == pair.person_a_id
    assert Merge.objects.filter(judgement=pair).exists()


def test_deciding_different_records_the_constraint_and_merges_nothing(editor_client):
    pair = _pair("Lana Wachowski", "Lilly Wachowski")

    response = editor_client.post(
        f"/api/duplicates/{pair.pk}/decide/",
        {"decision": "different", "reason": "Two directors, sisters."},
        format="json",
    )

    assert response.status_code == 200
    pair.refresh_from_db()
    assert (pair.decision, pair.automatic) == ("different", False)
    assert not Merge.objects.exists()


def test_deciding_unsure_keeps_the_note(editor_client):
    pair = _pair("Chris Evans", "Chris Evans")

    editor_client.post(
        f"/api/duplicates/{pair.pk}/decide/",
        {"decision": "unsure", "reason": "Actor or musician?"},
        format="json",
    )

    pair.refresh_from_db()
    assert (pair.decision, pair.reason) == ("unsure", "Actor or musician?")


def test_it_refuses_a_decision_without_a_reason(editor_client):
    pair = _pair("Ava DuVernay", "Ava Duvernay")

    response = editor_client.post(
        f"/api/duplicates/{pair.pk}/decide/", {"decision": "same"}, format="json"
    )

    assert response.status_code == 400
    assert response.json()["field"] == "reason"
    pair.refresh_from_db()
    assert pair.decision == "pending"


def test_it_refuses_an_unknown_decision_listing_the_choices(editor_client):
    pair = _pair("Ava DuVernay", "Ava Duvernay")

    response = editor_client.post(
        f"/api/duplicates/{pair.pk}/decide/",
        {"decision": "probably", "reason": "Hm."},
        format="json",
    )

    assert response.status_code == 400
    assert response.json()["field"] == "decision"


@pytest.mark.parametrize("page_size", [2, 5])
def test_the_duplicate_list_costs_three_queries_whatever_the_page_size(
    staff_client, django_assert_num_queries, page_size
):
    for n in range(5):
        _pair(f"Person Alpha{n}", f"Person Beta{n}")

    # 1. the token and its user, 2. count, 3. the page of pairs with both people
    with django_assert_num_queries(3):
        response = staff_client.get("/api/duplicates/", {"page_size": page_size})

    assert len(response.json()["results"]) == page_size


def test_a_decided_pair_keeps_its_address(staff_client, editor_client):
    pair = _pair("Lana Wachowski", "Lilly Wachowski")
    editor_client.post(
        f"/api/duplicates/{pair.pk}/decide/",
        {"decision": "unsure", "reason": "Check the credits."},
        format="json",
    )

    response = staff_client.get(f"/api/duplicates/{pair.pk}/")
    again = editor_client.post(
        f"/api/duplicates/{pair.pk}/decide/",
        {"decision": "different", "reason": "Two directors.", "replaces": "unsure"},
        format="json",
    )

    assert response.status_code == 200
    assert response.json()["decision"] == "unsure"
    assert again.json()["decision"] == "different"
