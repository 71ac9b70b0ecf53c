"""Blocking: which pairs of records are compared at all."""

import itertools

import numpy as np
import pytest

from people.matching.blocking import blocking_recall, candidate_pairs, name_keys
from people.matching.index import prepare_name
from people.matching.normalize import name_form
from people.matching.records import Prepared, Record
from tests.people.matching.samples import kept as kept_names
from tests.people.matching.samples import variants


def test_blocking_on_kept_names_proposes_the_same_pairs_and_keys():
    records = variants()
    focus = np.zeros(len(records), dtype=bool)
    focus[::4] = True
    on_index = Prepared(records, index=kept_names(records[1::2]))
    fresh = Prepared(records)
    assert on_index.forms == fresh.forms
    assert np.array_equal(on_index.family_meta, fresh.family_meta)
    for chosen in (None, focus):
        a, b = candidate_pairs(on_index, focus=chosen), candidate_pairs(fresh, focus=chosen)
        assert np.array_equal(a.a, b.a) and np.array_equal(a.b, b.b)
        assert np.array_equal(a.group, b.group)


def test_records_prepared_only_to_block_propose_the_same_pairs_and_counts():
    records = variants()
    focus = np.zeros(len(records), dtype=bool)
    focus[::3] = True
    blocking_only = Prepared(records, index=kept_names(records[::2]), scoring=False)
    whole = Prepared(records, index=kept_names(records[::2]))
    assert not hasattr(blocking_only, "given_c") and hasattr(whole, "given_c")
    assert blocking_only.frequencies == whole.frequencies
    for chosen in (None, focus):
        a, b = candidate_pairs(blocking_only, focus=chosen), candidate_pairs(whole, focus=chosen)
        assert len(a) and np.array_equal(a.a, b.a) and np.array_equal(a.b, b.b)
        assert np.array_equal(a.group, b.group)


def test_a_changed_spelling_is_read_afresh_never_given_the_keys_of_the_old_one():
    index = kept_names([Record(1, ("Maggie Gyllenhaal", "Paul McCartney"))])
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
    records = variants()
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
        *variants(),
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


def _proposed(candidates) -> set[tuple[int, int]]:
    return set(zip(candidates.a.tolist(), candidates.b.tolist(), strict=True))


@pytest.mark.parametrize(
    ("one", "other"),
    [
        # A family name replaced (a marriage), or missing.
        ("Samantha Noble", "Samantha Drechsler"),
        ("Christopher Shinnick", "Christopher"),
        # A given name replaced beside a misspelt family name.
        ("Kyle Campbel", "Thomas Campbell"),
    ],
)
def test_blocking_proposes_a_name_with_one_part_replaced(one, other):
    # Among other names under the same keys, so that the pair is not the only
    # one its keys could make.
    fillers = [f"{given} {family}" for given in ("Anna", "Ben") for family in ("Hall", "Moss")]
    records = [Record(i, (name,)) for i, name in enumerate([one, other, *fillers])]
    assert (0, 1) in _proposed(candidate_pairs(Prepared(records)))


def test_a_given_name_shared_by_many_family_names_stays_within_its_window():
    # 400 names "Anna <family>": a whole block of them would be 79,800 pairs.
    records = [Record(i, (f"Anna Family{i:03d}x",)) for i in range(400)]
    candidates = candidate_pairs(Prepared(records))
    assert 0 < len(candidates) < len(records) * 30
