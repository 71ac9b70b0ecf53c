"""A run on the database learns its weights, keeps them on the run, scores and
explains with them, and a small incremental run takes the last ones learned."""

from __future__ import annotations

import pytest
from django.conf import settings

from people.merging import runs
from people.models import MatchJudgement, MatchRun
from people.weights import weights_current, weights_of_run
from tests.people.merging.test_runs import one, signatories  # noqa: F401 - a fixture


@pytest.fixture
def learns_from_few(monkeypatch):
    # The demo-sized fixture proposes a few dozen pairs; a deployment needs 1,000.
    monkeypatch.setattr(runs, "LEARN_AT_LEAST", 5)


def test_a_full_run_learns_its_weights_and_keeps_them(signatories, learns_from_few):  # noqa: F811
    p = signatories
    run = runs.run_now(full=True)
    assert run.status == MatchRun.Status.SUCCEEDED
    params = run.details["weights"]
    assert params["learned"] is True and "from_run" not in params
    assert params["seed"] == settings.MATCHING_LEARN_SEED
    assert params["candidate_pairs"] > 0 and params["sessions"]
    assert set(params["m"]) == {"family", "given", "middle", "org", "field"}
    weights = weights_of_run(run.details)
    # Another organisation is evidence once its weight is learned, else a veto.
    assert weights.org_veto == ("org_disagree" not in params["bits"])
    assert weights.merge_at == settings.MATCHING_MERGE_AT
    # The rules that keep people apart hold whatever was learned.
    for first, second in [("lana", "lilly"), ("eva", "sam"), ("chris (actor)", "chris (radio)")]:
        assert not one(p[first], p[second]), (first, second)
    # Every judgement explains itself in the learned bits.
    judgements = list(MatchJudgement.objects.filter(run=run))
    assert judgements
    by_level = {
        ("organisation", "disagree"): weights.org_disagree,
        ("organisation", "agree"): weights.org_agree,
        ("field", "disagree"): weights.field_disagree,
        ("field", "agree"): weights.field_agree,
    }
    checked = 0
    for judgement in judgements:
        explanation = judgement.explanation
        assert explanation["weights"] == "learned"
        for item in explanation["agreed"] + explanation["disagreed"]:
            key = (item["feature"], item["level"])
            if key in by_level:
                assert item["weight"] == round(by_level[key], 2)
                checked += 1
    assert checked
    # Reconciliation scores with the weights of the last run that learned them.
    assert weights_current() == weights


def test_the_api_and_the_admin_show_what_a_run_learned(signatories, learns_from_few, admin_client):  # noqa: F811
    run = runs.run_now(full=True)
    params = run.details["weights"]
    body = admin_client.get(f"/api/match-runs/{run.pk}/").json()
    assert body["weights"]["learned"] is True
    assert body["weights"]["bits"] == params["bits"]
    assert body["weights"]["seed"] == params["seed"]
    page = admin_client.get(f"/admin/people/matchrun/{run.pk}/change/").content.decode()
    assert "Learned from" in page
    for name, bits in params["bits"].items():
        assert f"<td>{name}</td><td>{bits}</td>" in page


def test_an_incremental_run_takes_the_weights_the_last_full_run_learned(
    signatories,  # noqa: F811
    learns_from_few,
):
    full = runs.run_now(full=True)
    small = runs.run_now(full=False, person_ids=[signatories["jake"].pk])
    params = small.details["weights"]
    assert params["from_run"] == full.pk
    assert params["bits"] == full.details["weights"]["bits"]


def test_without_learning_a_run_scores_with_the_set_weights(signatories, settings):  # noqa: F811
    settings.MATCHING_LEARN = False
    run = runs.run_now(full=True)
    assert run.details["weights"]["learned"] is False
    judgement = MatchJudgement.objects.filter(run=run).first()
    assert judgement.explanation["weights"] == "set"
