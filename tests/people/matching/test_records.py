"""Records prepared for matching."""

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from people.matching.records import Prepared, Record


def test_prepared_records_share_name_comparisons_across_duplicates():
    records = [Record(i, ("Maggie Gyllenhaal",)) for i in range(5)]
    prepared = Prepared(records)
    assert len(prepared.forms) == 1
    assert np.array_equal(prepared.row_record, np.arange(5))


@settings(max_examples=200, deadline=None)
@given(
    letters=st.lists(st.frozensets(st.integers(0, 12), max_size=14), min_size=1, max_size=30),
    data=st.data(),
)
def test_two_records_share_a_letter_exactly_when_their_sets_meet(letters, data):
    """Whatever the widest record (a person on many letters beside people on one),
    the lookup that scoring uses agrees with the sets themselves."""
    from people.matching.scoring import _overlap

    records = [Record(i, ("Ava DuVernay",), letters=tuple(s)) for i, s in enumerate(letters)]
    prepared = Prepared(records)
    index = st.integers(0, len(records) - 1)
    pairs = data.draw(st.lists(st.tuples(index, index), max_size=60))
    a = np.array([i for i, _ in pairs], dtype=np.int64)
    b = np.array([j for _, j in pairs], dtype=np.int64)
    expected = [bool(letters[i] & letters[j]) for i, j in pairs]
    assert _overlap(prepared, "letters", a, b).tolist() == expected
