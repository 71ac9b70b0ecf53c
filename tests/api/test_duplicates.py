"""/api/duplicates/ (staff): pairs awaiting review, and deciding them, with no
decision lost when two editors decide one pair at once."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.db import connection, transaction
from rest_framework.authtoken.models import Token

from letters.services import signature_record_manual
from people.merging import runs
from people.merging.merge import MergePair, person_merge_many
from people.models import MatchJudgement, Merge, Person
from tests.api.conftest import _client_for
from tests.factories import make_letter, make_person
from tests.people.merging.test_runs import ostp_letter, sign
from tests.processes import service_env, web_server
from tests.reliability.conftest import (
    a_session_waits_on_a_lock,
    current_database_url,
    serving,
    wait_until,
)
from tracker.locks import people_lock

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


# --- Decisions made meanwhile -------------------------------------------------------


def test_a_decision_on_a_pair_decided_meanwhile_is_refused_naming_the_decision_now(
    editor_client, staff_client
):
    pair = _pair("Lana Wachowski", "Lilly Wachowski")
    staff_client.post(
        f"/api/duplicates/{pair.pk}/decide/",
        {"decision": "different", "reason": "Two directors, sisters."},
        format="json",
    )

    late = editor_client.post(
        f"/api/duplicates/{pair.pk}/decide/",
        {"decision": "same", "reason": "One director."},
        format="json",
    )

    assert late.status_code == 409
    assert late.json()["code"] == "decided"
    assert late.json()["message"] == (
        "This pair's decision is now 'Different people' by staff, not 'pending'; to change "
        "it, say that you replace 'different'."
    )
    pair.refresh_from_db()
    assert (pair.decision, pair.decided_by.username) == ("different", "staff")
    assert not Merge.objects.exists()


def test_the_schema_documents_replaces_and_the_409_of_a_pair_decided_meanwhile(anon):
    schema = anon.get("/api/schema/?format=json").json()

    operation = schema["paths"]["/api/duplicates/{id}/decide/"]["post"]
    [example] = operation["responses"]["409"]["content"]["application/json"]["examples"].values()
    assert example["value"]["code"] == "decided"
    assert "by editor" in example["value"]["message"]
    assert "replaces" in operation["description"]
    request = schema["components"]["schemas"]["DecisionRequest"]["properties"]["replaces"]
    assert "409" in request["description"]


@pytest.mark.django_db(transaction=True)
def test_an_editor_deciding_same_while_a_run_merges_the_pair_gets_a_409_not_a_deadlock(editor):
    pair = _pair("Maggie Gyllenhaal", "Maggie Gylenhall")
    run_has_the_lock, answers = threading.Event(), []

    def run_merges_the_pair() -> None:
        # As a run's combine step does: the people lock, then the "same"
        # judgement recorded on the pair it merges.
        try:
            with transaction.atomic():
                people_lock(exclusive=True)
                run_has_the_lock.set()
                wait_until(a_session_waits_on_a_lock, 30, "the decision did not wait")
                same = {"decision": "same", "automatic": True, "reason": "Score 0.97."}
                pair_ = MergePair(pair.person_a_id, pair.person_b_id, same=same)
                person_merge_many(pairs=[pair_], automatic=True, strict=False)
        finally:
            connection.close()

    def editor_decides() -> None:
        try:
            response = _client_for(editor).post(
                f"/api/duplicates/{pair.pk}/decide/",
                {"decision": "same", "reason": "The press misspelt her name."},
                format="json",
            )
            answers.append(response.status_code)
        except Exception as exc:  # noqa: BLE001 - handed back to the test
            answers.append(exc)
        finally:
            connection.close()

    run = threading.Thread(target=run_merges_the_pair)
    run.start()
    assert run_has_the_lock.wait(30)
    decision = threading.Thread(target=editor_decides)
    decision.start()
    run.join(60)
    decision.join(60)

    assert answers == [409]
    pair.refresh_from_db()
    assert (pair.decision, pair.automatic) == ("same", True)
    assert Merge.objects.count() == 1


@pytest.mark.django_db(transaction=True)
def test_an_editor_deciding_while_a_run_queues_the_pair_again_keeps_the_decision(
    editor, monkeypatch
):
    _letter, site, _press, feed = ostp_letter()
    sign(site, "Chris Evans", title="Actor", affiliation="Marvel Studios")
    sign(feed, "Chris Evans", title="Radio host", affiliation="Virgin Radio")
    runs.run_now(full=True)
    pair = MatchJudgement.objects.get(decision="pending")
    answers: list = []

    def editor_decides() -> None:
        try:
            response = _client_for(editor).post(
                f"/api/duplicates/{pair.pk}/decide/",
                {"decision": "different", "reason": "The actor and the radio host."},
                format="json",
            )
            answers.append(response.status_code)
        finally:
            connection.close()

    read_decisions = runs._human_decisions
    decision = threading.Thread(target=editor_decides)

    def decided_just_after_the_run_read_the_decisions(ids):
        decided = read_decisions(ids)
        decision.start()
        # The decision either waits for the run or is made before the run writes.
        wait_until(lambda: answers or a_session_waits_on_a_lock(), 30, "the decision went nowhere")
        return decided

    monkeypatch.setattr(runs, "_human_decisions", decided_just_after_the_run_read_the_decisions)
    run = runs.run_now(full=True)
    decision.join(60)

    assert (run.status, run.queued, answers) == ("succeeded", 1, [200])
    pair.refresh_from_db()
    assert (pair.decision, pair.automatic, pair.decided_by) == ("different", False, editor)


# Rounds of two editors deciding one pending pair at the same moment.
ROUNDS = 6


def _server_env(tmp_path) -> dict[str, str]:
    return service_env(
        DATABASE_URL=current_database_url(),
        REDIS_URL=settings.REDIS_URL,
        TRACKER_VAR_DIR=str(tmp_path),
        LOG_FORMAT="plain",
    )


def _editor_token(username: str) -> str:
    user = get_user_model().objects.create_user(username=username, is_staff=True)
    user.user_permissions.set(Permission.objects.filter(codename="change_matchjudgement"))
    return Token.objects.create(user=user).key


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_two_editors_deciding_a_pair_at_the_same_moment_on_a_real_server_lose_no_decision(
    tmp_path,
):
    editors = {"different": "editor-one", "same": "editor-two"}
    tokens = {decision: _editor_token(name) for decision, name in editors.items()}
    won: list[str] = []
    with web_server(_server_env(tmp_path)) as (base, _log):
        serving(base)
        clients = {
            decision: httpx.Client(
                base_url=base, headers={"Authorization": f"Token {token}"}, timeout=30
            )
            for decision, token in tokens.items()
        }
        try:
            for round_ in range(ROUNDS):
                pair = _pair(f"Chris Evans{round_}", f"Chris Evans{round_} Jr")
                barrier = threading.Barrier(2)

                def decide(
                    decision: str, pair=pair, barrier=barrier, round_=round_
                ) -> httpx.Response:
                    clients[decision].get("/api/duplicates/")  # the connection, opened
                    barrier.wait()
                    return clients[decision].post(
                        f"/api/duplicates/{pair.pk}/decide/",
                        json={"decision": decision, "reason": f"Round {round_}."},
                    )

                with ThreadPoolExecutor(2) as pool:
                    answers = dict(zip(editors, pool.map(decide, editors), strict=True))

                codes = sorted(answer.status_code for answer in answers.values())
                assert codes == [200, 409], {d: a.text for d, a in answers.items()}
                [winner] = [d for d, a in answers.items() if a.status_code == 200]
                [loser] = [a for a in answers.values() if a.status_code == 409]
                shown = {"same": "Same person", "different": "Different people"}[winner]
                assert loser.json()["code"] == "decided"
                assert f"'{shown}' by {editors[winner]}" in loser.json()["message"]
                pair.refresh_from_db()
                assert (pair.decision, pair.decided_by.username) == (winner, editors[winner])
                assert Merge.objects.filter(judgement=pair).count() == (winner == "same")
                b = Person.objects.get(pk=pair.person_b_id)
                assert b.merged_into_id == (pair.person_a_id if winner == "same" else None)
                won.append(winner)
                assert Merge.objects.count() == won.count("same")
        finally:
            for client in clients.values():
                client.close()
    assert len(won) == ROUNDS
    print(
        f"\n{ROUNDS} rounds of two decisions at once: 'same' won {won.count('same')}, "
        f"'different' won {won.count('different')}; each time one 200 and one 409"
    )
