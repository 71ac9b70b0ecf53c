"""The matcher on records in memory: blocking, scoring, decisions, clusters."""

import itertools

import numpy as np
import pytest

from people.matching.blocking import blocking_recall, candidate_pairs, name_keys
from people.matching.engine import Outcome, match
from people.matching.index import NameIndex, prepare_name
from people.matching.normalize import name_form
from people.matching.records import Prepared, Record
from people.matching.scoring import explain

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


def test_it_scores_the_same_whether_split_in_blocks_or_worker_processes():
    records = _variants()
    single = match(records)
    split = match(records, blocks=4, workers=2)
    assert split.counts["blocks"] > 1
    assert split.clusters() == single.clusters()
    assert sorted(split.pairs(Outcome.QUEUED)) == sorted(single.pairs(Outcome.QUEUED))


def test_an_incremental_run_agrees_with_a_full_run():
    records = _variants()
    new = [r.id for r in records if r.id % 3 == 0]
    full = match(records)
    incremental = match(records, focus=new)
    touched = {i for cluster in incremental.clusters() for i in cluster}
    expected = [c for c in full.clusters() if set(c) & set(new)]
    assert incremental.clusters() == expected
    assert touched <= {i for c in full.clusters() for i in c}


def _kept(records: list[Record]) -> NameIndex:
    """The names of ``records`` as a previous run keeps them: through table rows."""
    previous = NameIndex()
    previous.update(name for record in records for name in record.names)
    return NameIndex.from_rows(previous.rows())


def test_an_incremental_run_on_kept_names_decides_exactly_as_one_reading_every_name():
    records = _variants()
    new = [r.id for r in records if r.id % 3 == 0]
    old = [r for r in records if r.id % 3]
    index = _kept(old)

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


def test_blocking_on_kept_names_proposes_the_same_pairs_and_keys():
    records = _variants()
    focus = np.zeros(len(records), dtype=bool)
    focus[::4] = True
    on_index = Prepared(records, index=_kept(records[1::2]))
    fresh = Prepared(records)
    assert on_index.forms == fresh.forms
    assert np.array_equal(on_index.family_meta, fresh.family_meta)
    for chosen in (None, focus):
        a, b = candidate_pairs(on_index, focus=chosen), candidate_pairs(fresh, focus=chosen)
        assert np.array_equal(a.a, b.a) and np.array_equal(a.b, b.b)
        assert np.array_equal(a.group, b.group)


def test_a_changed_spelling_is_read_afresh_never_given_the_keys_of_the_old_one():
    index = _kept([Record(1, ("Maggie Gyllenhaal", "Paul McCartney"))])
    old = index.entries["Maggie Gyllenhaal"]
    prepared = Prepared(
        [Record(1, ("Maggie Gylenhall",)), Record(2, ("Maggie Gyllenhaal",))], index=index
    )
    assert index.added == ["Maggie Gylenhall"]
    changed = name_form("Maggie Gylenhall")
    assert prepared.forms == [changed, old.form]
    assert prepared.name_keys[0] == name_keys(changed, "MJ", "JLNHL") != old.keys
    assert prepared.name_keys[0] == prepare_name("Maggie Gylenhall").keys
    # A name kept by the previous run is read from the index, not parsed.
    index.entries["Paul McCartney"] = old
    assert Prepared([Record(3, ("Paul McCartney",))], index=index).forms == [old.form]


def test_blocking_puts_nearly_every_true_pair_in_a_common_block():
    records = _variants()
    truth = {r.id: r.id // 10 for r in records}
    prepared = Prepared(records)
    true_pairs = {
        (i, j)
        for i, j in itertools.combinations(range(len(records)), 2)
        if truth[records[i].id] == truth[records[j].id]
    }
    candidates = candidate_pairs(prepared)
    assert blocking_recall(candidates, true_pairs, connected=True) >= 0.95
    assert len(candidates) < len(records) * 10


@pytest.mark.parametrize("unfiltered", [False, True])
def test_blocking_for_new_records_proposes_the_pairs_blocking_everyone_would(unfiltered):
    # A new record pairs with two people known by its name; those two pair with
    # each other only through their other names, which are nothing like it.
    records = [
        Record(1000, ("Maggie Gyllenhaal",), letters=(1,)),
        Record(1001, ("Maggie Gyllenhaal", "Robert Smith"), letters=(1,)),
        Record(1002, ("Maggie Gyllenhaal", "Robert Smyth"), letters=(1,)),
        *_variants(),
    ]
    prepared = Prepared(records)
    focus = np.zeros(len(records), dtype=bool)
    focus[[0, 17, 42]] = True

    narrowed = candidate_pairs(prepared, focus=focus, unfiltered=unfiltered)
    everyone = candidate_pairs(prepared, focus=focus, unfiltered=unfiltered, narrow=False)

    def pairs(candidates, only_touching=False):
        keep = focus[candidates.a] | focus[candidates.b] if only_touching else slice(None)
        return list(zip(candidates.a[keep].tolist(), candidates.b[keep].tolist(), strict=True))

    if unfiltered:
        assert pairs(narrowed, True) == pairs(everyone, True)
        assert set(pairs(narrowed)) <= set(pairs(everyone))
    else:
        assert pairs(narrowed) == pairs(everyone)
        assert np.array_equal(narrowed.group, everyone.group)
    assert len(narrowed) > 3


def _variants() -> list[Record]:
    """Ten people, each written five ways by five sources."""
    people = [
        ("Maggie", "Gyllenhaal", "Actor", "SAG-AFTRA"),
        ("Paul", "McCartney", "Musician", "MPL Communications"),
        ("Alfonso", "Cuarón", "Film director", "Esperanto Filmoj"),
        ("Ava", "DuVernay", "Director", "Array"),
        ("Cate", "Blanchett", "Actress", "Dirty Films"),
        ("Lana", "Wachowski", "Director", "Venus Castina"),
        ("Lilly", "Wachowski", "Director", "Venus Castina"),
        ("Guillermo", "del Toro", "Filmmaker", "Bona Fide"),
        ("Robert", "Smith", "Singer", "The Cure"),
        ("Katherine", "Ryan", "Comedian", "Live Nation"),
    ]
    records = []
    for index, (given, family, title, org) in enumerate(people):
        writings = [
            f"{given} {family}",
            f"{family}, {given}".upper(),
            f"Dr {given} {family} OBE",
            f"{given[0]}. {family}",
            f"{given} {family}".replace("a", "á", 1),
        ]
        for number, written in enumerate(writings):
            records.append(
                Record(
                    index * 10 + number,
                    (written,),
                    titles=(title,),
                    orgs=(org,),
                    letters=(1,),
                    listings=(100 + number,),
                )
            )
    return records


def test_prepared_records_share_name_comparisons_across_duplicates():
    records = [Record(i, ("Maggie Gyllenhaal",)) for i in range(5)]
    prepared = Prepared(records)
    assert len(prepared.forms) == 1
    assert np.array_equal(prepared.row_record, np.arange(5))
