"""The matcher on records in memory: decisions and clusters."""

from dataclasses import replace

import pytest

from people.matching.engine import Outcome, match
from people.matching.records import Record
from people.matching.scoring import DEFAULT_WEIGHTS, explain, explain_many
from tests.people.matching.samples import kept as kept_names
from tests.people.matching.samples import variants

# (first, second, context given to both or each): one person
SAME = [
    ("Maggie Gylenhall", "Gyllenhaal, Maggie", {}),
    ("Gyllenhaal, Maggie", "MAGGIE GYLLENHAAL", {}),
    ("Maggie Gylenhall", "MAGGIE GYLLENHAAL", {}),
    ("Sir Paul McCartney", "McCartney, Paul", {}),
    ("Alfonso Cuaron", "Alfonso Cuarón", {}),
    ("Bob Smith", "Robert Smith", {"orgs": ("Acme Studios",)}),
]
APART = [
    ("Jake Gyllenhaal", "Maggie Gyllenhaal", {}),
    ("Lana Wachowski", "Lilly Wachowski", {}),
    ("Eva Mendes", "Sam Mendes", {}),
]


def records_for(first: str, second: str, context: dict) -> list[Record]:
    # Both listed for one letter by two different sources, as in the press.
    return [
        Record(1, (first,), letters=(1,), listings=(10,), **context),
        Record(2, (second,), letters=(1,), listings=(11,), **context),
    ]


def merged(result) -> bool:
    return result.clusters() == [[1, 2]]


@pytest.mark.parametrize(("first", "second", "context"), SAME)
def test_it_finds_one_person_behind_two_spellings_whichever_comes_first(first, second, context):
    assert merged(match(records_for(first, second, context)))
    assert merged(match(records_for(second, first, context)))


@pytest.mark.parametrize(("first", "second", "context"), APART)
def test_it_keeps_two_people_apart_whichever_comes_first(first, second, context):
    assert not merged(match(records_for(first, second, context)))
    assert not merged(match(records_for(second, first, context)))


def test_it_keeps_two_chris_evans_in_different_fields_apart_and_asks_an_editor():
    actor = Record(1, ("Chris Evans",), titles=("Actor",), orgs=("Marvel Studios",))
    host = Record(2, ("Chris Evans",), titles=("Radio host",), orgs=("Virgin Radio",))
    for records in ([actor, host], [host, actor]):
        result = match(records)
        assert result.clusters() == []
        assert result.pairs(Outcome.QUEUED) == [(1, 2)]


def test_it_needs_agreeing_context_to_merge_a_nickname():
    bare = [Record(1, ("Bob Smith",)), Record(2, ("Robert Smith",))]
    result = match(bare)
    assert result.clusters() == []
    assert result.pairs(Outcome.QUEUED) == [(1, 2)]


def test_it_keeps_apart_two_records_listed_side_by_side_by_one_source():
    records = [
        Record(1, ("Chris Evans",), letters=(1,), listings=(10,)),
        Record(2, ("Chris Evans",), letters=(1,), listings=(10,)),
    ]
    assert match(records).clusters() == []


def test_it_explains_what_agreed_and_what_disagreed_with_weights():
    records = [
        Record(1, ("Chris Evans",), titles=("Actor",), orgs=("Marvel Studios",)),
        Record(2, ("Chris Evans",), titles=("Radio host",), orgs=("Virgin Radio",)),
    ]
    result = match(records)
    explanation = explain(result.scored, 0)
    agreed = {item["feature"]: item for item in explanation["agreed"]}
    disagreed = {item["feature"]: item for item in explanation["disagreed"]}
    assert agreed["family name"]["level"] == "exact" and agreed["family name"]["weight"] > 0
    assert disagreed["field"]["weight"] < 0 and disagreed["organisation"]["weight"] < 0
    assert explanation["probability"] < 0.99


def test_it_never_merges_across_a_judgement_even_through_a_third_record():
    lilly = Record(1, ("Lilly Wachowski",))
    lilly_again = Record(2, ("Lilly Wachowski",))
    another = Record(3, ("LILLY WACHOWSKI",))
    result = match([lilly, lilly_again, another], judged_apart=[(1, 3)])
    (cluster,) = result.clusters()
    assert not {1, 3} <= set(cluster)
    assert result.counts["blocked_by_judgements"] >= 1


def test_it_gives_a_record_without_context_to_neither_of_two_namesakes():
    actor = Record(1, ("Chris Evans",), titles=("Actor",), orgs=("Marvel Studios",))
    host = Record(2, ("Chris Evans",), titles=("Radio host",), orgs=("Virgin Radio",))
    bare = Record(3, ("EVANS, CHRIS",))
    result = match([actor, host, bare])
    assert result.clusters() == []
    assert set(result.pairs(Outcome.QUEUED)) >= {(1, 3), (2, 3)}


@pytest.mark.parametrize("crowd", [0, 12])
def test_it_gives_a_record_without_context_to_neither_of_two_namesakes_of_one_list(crowd):
    # Two entries of one list stating nothing are two people; a third, on
    # another list, could be either, even among many other entries of the name.
    first = Record(1, ("Chris Evans",), letters=(1,), listings=(10,))
    second = Record(2, ("Chris Evans",), letters=(1,), listings=(10,))
    others = [Record(100 + n, ("Chris Evans",), letters=(1,), listings=(10,)) for n in range(crowd)]
    third = Record(3, ("Chris Evans",), letters=(2,), listings=(20,))
    result = match([first, second, *others, third])
    assert result.clusters() == []
    queued = set(result.pairs(Outcome.QUEUED))
    assert (1, 3) in queued
    assert (2, 3) in queued or crowd


def test_it_scores_the_same_whether_split_in_blocks_or_worker_processes():
    records = variants()
    single = match(records)
    split = match(records, blocks=4, workers=2)
    assert split.counts["blocks"] > 1
    assert split.clusters() == single.clusters()
    assert sorted(split.pairs(Outcome.QUEUED)) == sorted(single.pairs(Outcome.QUEUED))


def test_an_incremental_run_agrees_with_a_full_run():
    records = variants()
    new = [r.id for r in records if r.id % 3 == 0]
    full = match(records)
    incremental = match(records, focus=new)
    touched = {i for cluster in incremental.clusters() for i in cluster}
    expected = [c for c in full.clusters() if set(c) & set(new)]
    assert incremental.clusters() == expected
    assert touched <= {i for c in full.clusters() for i in c}


def test_an_incremental_run_on_kept_names_decides_exactly_as_one_reading_every_name():
    records = variants()
    new = [r.id for r in records if r.id % 3 == 0]
    old = [r for r in records if r.id % 3]
    index = kept_names(old)

    kept = match(records, focus=new, index=index)
    fresh = match(records, focus=new)

    # Only the new records' names were read; the rest came from the index.
    old_names = {name for r in old for name in r.names}
    new_names = [name for r in records if r.id % 3 == 0 for name in r.names]
    assert index.added == [name for name in new_names if name not in old_names]
    assert len(index.added) > 10
    assert kept.counts == fresh.counts
    for outcome in Outcome:
        assert kept.pairs(outcome) == fresh.pairs(outcome)
    assert kept.clusters() == fresh.clusters() != []
    assert sorted(kept.scored.bits.tolist()) == sorted(fresh.scored.bits.tolist())


def test_explaining_many_pairs_at_once_says_what_explaining_each_says():
    extra = [
        Record(200, ("Maggie R. Gyllenhaal",), letters=(1,), listings=(100,)),
        Record(201, ("Maggie T. Gyllenhaal",), identifiers=(("orcid", "0000-0002-1825-0097"),)),
        Record(202, ("Gyllenhaal Maggie",), identifiers=(("orcid", "0000-0002-1825-0097"),)),
        Record(203, ("Maggie Gyllenhaal",), titles=("Physicist",), orgs=("CERN",)),
    ]
    scored = match(variants() + extra).scored
    everyone = list(range(len(scored.a)))
    heavier = replace(DEFAULT_WEIGHTS, org_agree=7.12519, middle_conflict=-4.2208, same_list=-3.0)
    for weights in (DEFAULT_WEIGHTS, heavier):
        assert explain_many(scored, everyone, weights) == [
            explain(scored, k, weights) for k in everyone
        ]
    said = {
        (item["feature"], item["level"])
        for found in explain_many(scored, everyone)
        for item in found["agreed"] + found["disagreed"]
    }
    # The pairs say enough for the comparison to mean something.
    assert {"family name", "given name", "organisation", "letters", "sources"} <= {
        feature for feature, _level in said
    }
    assert len(said) >= 8
    assert explain_many(scored, []) == []
