"""Times as the API writes them (tracker/fields.py)."""

from datetime import UTC, datetime

import pytest

from tracker.fields import iso_datetime

AT = datetime(2026, 12, 2, 8, 4, 48, 575240, tzinfo=UTC)


@pytest.mark.parametrize(
    "value",
    [
        AT,
        # As PostgreSQL writes a time inside JSON: trailing zeros of the fraction dropped.
        "2026-12-02T08:04:48.57524+00:00",
        "2026-12-02T08:04:48.575240+00:00",
    ],
)
def test_a_time_is_written_one_way_whoever_wrote_it_first(value):
    assert iso_datetime(value) == "2026-12-02T08:04:48.575240Z"


def test_a_whole_second_and_nothing_are_written_as_rest_framework_writes_them():
    assert iso_datetime("2026-12-02T08:04:48+00:00") == "2026-12-02T08:04:48Z"
    assert iso_datetime(AT.replace(microsecond=0)) == "2026-12-02T08:04:48Z"
    assert iso_datetime(None) is None
