"""Records prepared for matching."""

import numpy as np

from people.matching.records import Prepared, Record


def test_prepared_records_share_name_comparisons_across_duplicates():
    records = [Record(i, ("Maggie Gyllenhaal",)) for i in range(5)]
    prepared = Prepared(records)
    assert len(prepared.forms) == 1
    assert np.array_equal(prepared.row_record, np.arange(5))
