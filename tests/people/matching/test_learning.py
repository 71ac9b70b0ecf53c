"""Weights learned from the data: repeatable with a seed, sensible on data
whose truth is known, never above the rules that protect people, and explained
by the same bits they score with."""

from __future__ import annotations

import random
from dataclasses import replace

import numpy as np
import pytest

from people.matching.blocking import candidate_pairs
from people.matching.engine import Outcome, combine, likely, match, prior_bits
from people.matching.learning import fit_weights, weights_from_params
from people.matching.records import Prepared, Record
from people.matching.scoring import DEFAULT_WEIGHTS, Decision, Org, explain, score_pairs
from tests.people.matching.samples import variants

GIVEN = [
    "Anna",
    "Maria",
    "Jonas",
    "Pedro",
    "Lucia",
    "Tomas",
    "Ingrid",
    "Kenji",
    "Amara",
    "Oliver",
    "Sofia",
    "Mateo",
    "Elena",
    "Rafael",
    "Nadia",
    "Hugo",
    "Clara",
    "Viktor",
    "Leila",
    "Marco",
    "Greta",
    "Samuel",
    "Iris",
    "Felix",
    "Noor",
    "Pablo",
    "Yara",
    "Emil",
    "Zofia",
    "Beatriz",
    "Dmitri",
    "Farida",
    "Gunnar",
    "Hana",
    "Idris",
    "Jelena",
    "Kwame",
    "Luca",
    "Mirela",
    "Nikolai",
    "Olga",
    "Priya",
    "Quentin",
    "Rosa",
    "Stellan",
    "Teodora",
    "Ulla",
    "Wanjiru",
    "Ximena",
    "Yusuf",
    "Zora",
    "Aurelio",
    "Bjorn",
    "Catalina",
]
_ONE = [
    "Lind",
    "Oka",
    "Mor",
    "Tana",
    "Kowal",
    "Bren",
    "Hadd",
    "Ross",
    "Nov",
    "Fisch",
    "Alme",
    "Varg",
    "Naka",
    "Schul",
    "Dela",
]
_TWO = [
    "qvist",
    "for",
    "eau",
    "ka",
    "czyk",
    "nan",
    "ad",
    "elli",
    "ak",
    "er",
    "ida",
    "ga",
    "mura",
    "tz",
    "croix",
    "ova",
    "beki",
]
FAMILY = [one + two for one in _ONE for two in _TWO]  # 255 family names
ORGS = [f"{kind} of {place}" for kind in ("University", "Institute") for place in FAMILY[:40]]


def _typo(word: str, rng: random.Random) -> str:
    at = rng.randrange(1, len(word) - 1)
    return word[:at] + word[at + 1] + word[at] + word[at + 2 :]


def crowd(people: int = 700, seed: int = 1) -> tuple[list[Record], np.ndarray]:
    """People written two to four ways, with typos, initials, "Family, Given",
    and an organisation that is the same, another or missing; namesakes occur
    (30 given and 30 family names). Returns the records and each one's person."""
    rng = random.Random(seed)
    records, truth = [], []
    for person in range(people):
        given, family, org = rng.choice(GIVEN), rng.choice(FAMILY), rng.choice(ORGS)
        for _ in range(rng.randint(2, 4)):
            kind = rng.random()
            if kind < 0.4:
                name = f"{given} {family}"
            elif kind < 0.6:
                name = f"{family}, {given}"
            elif kind < 0.8:
                name = f"{given} {_typo(family, rng)}"
            else:
                name = f"{given[0]}. {family}"
            roll = rng.random()
            orgs = (org,) if roll < 0.7 else (rng.choice(ORGS),) if roll < 0.8 else ()
            records.append(Record(len(records), (name,), orgs=orgs))
            truth.append(person)
    return records, np.asarray(truth)


@pytest.fixture(scope="module")
def learned():
    records, truth = crowd()
    prepared = Prepared(records)
    candidates = candidate_pairs(prepared)
    return records, truth, prepared, candidates


def test_the_same_seed_learns_the_same_weights(learned):
    _records, _truth, prepared, candidates = learned
    first = fit_weights(prepared, candidates.a, candidates.b, seed=3)
    again = fit_weights(prepared, candidates.a, candidates.b, seed=3)
    other = fit_weights(prepared, candidates.a, candidates.b, seed=4, random_pairs=50_000)
    assert first.params == again.params and first.weights == again.weights
    assert first.params["u"] != other.params["u"]  # another draw of random pairs
    for name, bits in first.params["bits"].items():
        assert abs(bits - other.params["bits"][name]) < 2.0, name


def test_learned_weights_say_what_the_data_says(learned):
    _records, _truth, prepared, candidates = learned
    fitted = fit_weights(prepared, candidates.a, candidates.b, seed=0)
    w, params = fitted.weights, fitted.params
    assert params["learned"] and all(s["iterations"] >= 1 for s in params["sessions"])
    # A typo of the family name is one person's far more often than two people's.
    assert w.family_typo > 3 and w.family_different < -2
    assert w.given_initial > 0 and w.given_different < -2
    # 70% of a person's records name their organisation, 10% another one.
    assert w.org_agree > 3 and w.org_disagree < 0
    assert 0.3 < w.m_family_exact <= 1 and 0.3 < w.m_given_exact <= 1
    assert not w.org_veto  # its disagreement is weighed, not a veto
    assert weights_from_params(params) == w


def test_another_organisation_is_weighed_and_a_rare_name_goes_to_an_editor(learned):
    background, _truth, _prepared, _candidates = learned
    rare = [
        Record(8001, ("Wilhelmina Quispe-Valdivia",), orgs=("University of Lindqvist",)),
        Record(8002, ("Wilhelmina Quispe-Valdivia",), orgs=("Institute of Morkaeau",)),
    ]
    # A name the crowd writes often, at two organisations: namesakes, likely.
    common = [
        Record(8003, ("Anna Lindqvist",), orgs=("University of Lindqvist",)),
        Record(8004, ("Anna Lindqvist",), orgs=("Institute of Morkaeau",)),
        *(Record(8100 + k, ("Anna Lindqvist",), orgs=(ORGS[k],)) for k in range(6, 12)),
    ]
    records = background + rare + common
    learned_result = match(records, learn=True)
    assert learned_result.weights.org_disagree < 0
    rare_pair = np.flatnonzero(
        np.isin(learned_result.ids[learned_result.scored.a], [8001, 8002])
        & np.isin(learned_result.ids[learned_result.scored.b], [8001, 8002])
    )
    # The rare name outweighs the other organisation in the score...
    assert learned_result.scored.decision[rare_pair].tolist() == [Decision.AUTO]
    # ...but among 2,100 records, one person at two organisations is not 0.99
    # likely even for a name written nowhere else: an editor decides.
    assert (8001, 8002) in set(learned_result.pairs(Outcome.QUEUED))
    assert (8003, 8004) not in set(learned_result.pairs(Outcome.MERGED))
    # With the set weights another organisation is a veto: an editor is asked.
    set_result = match(records)
    assert (8001, 8002) not in set(set_result.pairs(Outcome.MERGED))
    assert (8001, 8002) in set(set_result.pairs(Outcome.QUEUED))


def test_learned_scores_never_break_the_rules_that_keep_people_apart(learned):
    background, _truth, _prepared, _candidates = learned
    offset = len(background) + 1000
    people = [replace(record, id=offset + record.id) for record in variants()]
    chris = [
        Record(9001, ("Chris Evans",), identifiers=(("wikidata", "Q178348"),)),
        Record(9002, ("Chris Evans",), identifiers=(("wikidata", "Q5107264"),)),
    ]
    one_list = [
        Record(9003, ("Sam Mendes",), listings=(77,)),
        Record(9004, ("Sam Mendes",), listings=(77,)),
    ]
    records = background + people + chris + one_list
    result = match(records, learn=True)
    assert result.params["learned"]
    # Learned or not, weights that would join anyone are kept under the rules.
    reckless = replace(
        result.weights,
        given_different=16.0,
        middle_conflict=16.0,
        org_disagree=16.0,
        field_disagree=16.0,
        same_list=16.0,
        identifier_disagree=16.0,
    )
    for weights in (result.weights, reckless):
        clusters = match(records, weights=weights).clusters()
        cluster_of = {rid: i for i, cluster in enumerate(clusters) for rid in cluster}

        def one(x, y, cluster_of=cluster_of):
            return x in cluster_of and cluster_of.get(x) == cluster_of.get(y)

        lanas = [r.id for r in people if "lana" in str(r.names[0]).lower()]
        lillys = [r.id for r in people if "lilly" in str(r.names[0]).lower()]
        assert lanas and lillys
        assert not any(one(x, y) for x in lanas for y in lillys)
        assert not one(9001, 9002)
        assert not one(9003, 9004)


def test_the_explanation_adds_up_to_the_learned_score(learned):
    records, _truth, _prepared, _candidates = learned
    result = match(records, learn=True)
    assert len(result.scored) > 100
    merged = np.flatnonzero(result.outcome == Outcome.MERGED)
    assert len(merged)
    for k in range(0, len(result.scored), 7):
        explanation = explain(result.scored, k, result.weights)
        parts = explanation["agreed"] + explanation["disagreed"]
        total = sum(item["weight"] for item in parts)
        assert total == pytest.approx(explanation["bits"], abs=0.05 * len(parts) + 0.01)
    # The learned weights, not the set ones, are what the explanation shows.
    org_items = [
        item
        for k in range(len(result.scored))
        for item in explain(result.scored, k, result.weights)["disagreed"]
        if item["feature"] == "organisation"
    ]
    assert org_items
    assert {item["weight"] for item in org_items} == {round(result.weights.org_disagree, 2)}
    assert result.weights.org_disagree != DEFAULT_WEIGHTS.org_disagree


def test_the_prior_is_the_share_of_pairs_of_records_found_one_person():
    labels = np.asarray([0, 0, 1, 2])  # one pair of six is one person
    assert prior_bits(labels) == pytest.approx(np.log2(1 / 5))
    # Among more records (the rest alone), the same pair is a smaller share.
    assert prior_bits(labels, population=100) == pytest.approx(np.log2(1 / 4949))
    assert likely(np.asarray([10.0, 9.0]), prior=-3.0).tolist() == [True, False]


def test_a_merge_against_another_organisation_needs_the_posterior_of_one_person(learned):
    records, _truth, _prepared, _candidates = learned
    weights = match(records, learn=True).weights
    assert not weights.org_veto
    pair = [
        Record(1, ("Wilhelmina Quispe-Valdivia",), orgs=("University of Lindqvist",)),
        Record(2, ("Wilhelmina Quispe-Valdivia",), orgs=("Institute of Morkaeau",)),
        Record(3, ("Wilhelmina Quispe-Valdivia",), orgs=("Institute of Morkaeau",)),
    ]
    # Scored with the crowd's name frequencies: a name it never writes.
    prepared = Prepared(pair, frequencies=Prepared(records + pair).frequencies)
    scored = score_pairs(prepared, np.asarray([0, 1]), np.asarray([1, 2]), weights)
    assert scored.org.tolist() == [Org.DISAGREE, Org.AGREE]
    assert (scored.decision == Decision.AUTO).all()
    orgs = [frozenset(keys) for keys in prepared.org_texts]

    def outcome(population):
        return combine(3, scored, orgs=orgs, weights=weights, population=population)[0].tolist()

    # Among three records, one person is likely enough: both pairs merge.
    assert outcome(None) == [Outcome.MERGED, Outcome.MERGED]
    # Among a billion, the same score against another organisation is not:
    # that pair goes to an editor, while the pair whose organisations agree merges.
    assert outcome(10**9) == [Outcome.QUEUED, Outcome.MERGED]
    # With the set weights another organisation is a veto, however few the records.
    set_scored = score_pairs(prepared, np.asarray([0, 1]), np.asarray([1, 2]))
    assert combine(3, set_scored, orgs=orgs)[0].tolist()[0] != Outcome.MERGED
