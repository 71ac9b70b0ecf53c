"""The API's JSON renderer writes exactly what REST framework's own writes."""

import datetime
import decimal
import uuid
from collections import OrderedDict

import pytest
from django.utils.translation import gettext_lazy
from hypothesis import given, settings
from hypothesis import strategies as st
from rest_framework import renderers
from rest_framework.utils.serializer_helpers import ReturnDict, ReturnList

from tracker.renderers import JSONRenderer

OURS, THEIRS = JSONRenderer(), renderers.JSONRenderer()
UTC = datetime.UTC
ZONES = st.sampled_from([None, UTC, datetime.timezone(-datetime.timedelta(hours=5))])

scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text()
    | st.sampled_from(["\u2028", "a\u2029b", "\x00\x1f\x7f", '"\\/', "é名🙂", "0.0000", "1e-6"])
    | st.datetimes(timezones=ZONES)
    | st.dates()
    | st.times()
    | st.decimals(allow_nan=False, allow_infinity=False, places=4)
    | st.uuids()
)
documents = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=5)
        | st.tuples(inner, inner)
        | st.dictionaries(st.text(max_size=8), inner, max_size=5)
        | st.dictionaries(st.integers(), inner, max_size=3)
    ),
    max_leaves=30,
)


def both(data, media_type="application/json", context=None):
    try:
        theirs = THEIRS.render(data, media_type, context)
    except (TypeError, ValueError) as error:
        theirs = type(error)
    try:
        ours = OURS.render(data, media_type, context)
    except (TypeError, ValueError) as error:
        ours = type(error)
    return ours, theirs


@settings(max_examples=600, deadline=None)
@given(documents)
def test_it_writes_the_same_bytes_as_rest_framework(data):
    ours, theirs = both(data)
    assert ours == theirs


@pytest.mark.parametrize(
    "value",
    [
        1e-5,
        -3.2e-7,
        1.5e-9,
        1.234e-10,
        1e-4,
        1e16,
        1e22,
        5e-324,
        -0.0,
        2**64,
        -(2**63) - 1,
        {1: "integer key"},
        {"lazy": gettext_lazy("Signatures")},
        {"dt": datetime.datetime(2026, 12, 1, 10, 0, 0, 123456, tzinfo=UTC)},
        {"d": decimal.Decimal("12.50"), "u": uuid.UUID(int=7)},
        ReturnDict({"a": ReturnList([1, "\u2028"], serializer=None)}, serializer=None),
        OrderedDict(b=1, a=2),
        "bad \ud800 surrogate",
        "Anne-Marie e-mail 1e-6 0.00001",
    ],
)
def test_it_writes_the_same_bytes_for_the_awkward_cases(value):
    ours, theirs = both(value)
    assert ours == theirs


def test_indented_output_is_rest_frameworks_own():
    data = {"a": [1, {"b": None}]}
    assert OURS.render(data, "application/json; indent=4") == THEIRS.render(
        data, "application/json; indent=4"
    )
    assert b"\n    " in OURS.render(data, None, {"indent": 4})


def test_nothing_renders_as_nothing():
    assert OURS.render(None) == b""


def test_a_nan_is_written_as_null_where_rest_framework_refuses():
    with pytest.raises(ValueError):
        THEIRS.render({"x": float("nan")})
    assert OURS.render({"x": float("nan")}) == b'{"x":null}'


def test_the_api_answers_with_it(client):
    response = client.get("/api/", HTTP_ACCEPT="application/json")
    assert response.status_code == 200
    assert isinstance(response.accepted_renderer, JSONRenderer)
