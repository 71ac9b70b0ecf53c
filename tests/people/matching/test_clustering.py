"""Clusters from the pairs to merge, respecting what must stay apart."""

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from people.matching.clustering import cluster, components, recluster

ACTING, RADIO, NOTHING = frozenset({"acting"}), frozenset({"broadcasting"}), frozenset()


def test_a_chain_through_a_record_stating_nothing_never_joins_two_fields():
    result = cluster(
        3,
        np.array([0, 1]),
        np.array([1, 2]),
        np.array([16.0, 15.0]),
        fields=[ACTING, NOTHING, RADIO],
    )
    assert result.outcome == ["joined", "context"]
    assert result.labels[0] != result.labels[2]


def test_records_sharing_a_field_or_stating_none_are_joined():
    result = cluster(
        3,
        np.array([0, 1]),
        np.array([1, 2]),
        np.array([16.0, 15.0]),
        fields=[ACTING, NOTHING, ACTING | RADIO],
    )
    assert result.outcome == ["joined", "joined"]
    assert len(set(result.labels.tolist())) == 1


def test_a_judged_pair_is_never_joined_even_through_a_third_record():
    result = cluster(3, np.array([0, 1]), np.array([1, 2]), np.array([16.0, 15.0]),
                     judged_apart=[(0, 2)])  # fmt: skip
    assert result.outcome == ["joined", "judged"]


def test_two_entries_of_one_list_are_never_joined_even_through_a_third_record():
    first_list, second_list = frozenset({10}), frozenset({20})
    result = cluster(
        3,
        np.array([0, 1]),
        np.array([1, 2]),
        np.array([16.0, 15.0]),
        listings=[first_list, second_list, first_list],
    )
    assert result.outcome == ["joined", "context"]
    assert result.labels[0] != result.labels[2]


def test_a_chain_never_joins_two_organisations_without_a_shared_field():
    marvel, virgin = frozenset({"marvel studios"}), frozenset({"virgin radio"})
    result = cluster(
        3,
        np.array([0, 1]),
        np.array([1, 2]),
        np.array([16.0, 15.0]),
        fields=[NOTHING, NOTHING, NOTHING],
        orgs=[marvel, frozenset(), virgin],
    )
    assert result.outcome == ["joined", "weak"]  # queued for an editor, not merged
    assert result.labels[0] != result.labels[2]


def test_two_organisations_with_a_shared_field_are_joined():
    # An actor at two studios is still one actor.
    result = cluster(
        3,
        np.array([0, 1]),
        np.array([1, 2]),
        np.array([16.0, 15.0]),
        fields=[ACTING, NOTHING, ACTING],
        orgs=[frozenset({"marvel studios"}), frozenset(), frozenset({"a24"})],
    )
    assert result.outcome == ["joined", "joined"]


def test_organisations_written_alike_do_not_keep_a_chain_apart():
    # A slip in one writing of the organisation is not another organisation.
    result = cluster(
        3,
        np.array([0, 1]),
        np.array([1, 2]),
        np.array([16.0, 15.0]),
        fields=[NOTHING, NOTHING, NOTHING],
        orgs=[frozenset({"zelarton university"}), frozenset(), frozenset({"zelartn university"})],
    )
    assert result.outcome == ["joined", "joined"]


def test_a_chain_through_a_record_without_identifiers_never_joins_two_other_qids():
    result = cluster(
        4,
        np.array([0, 1, 0]),
        np.array([1, 2, 3]),
        np.array([16.0, 15.0, 14.0]),
        identifiers=[
            frozenset({"wikidata=Q178348"}),
            frozenset(),
            frozenset({"wikidata=Q5107587", "email=c@example.org"}),
            frozenset({"email=c@example.org"}),
        ],
    )
    assert result.outcome == ["joined", "context", "joined"]
    assert result.labels[0] != result.labels[2]


def test_records_with_one_value_of_an_identifier_in_common_are_joined():
    result = cluster(
        3,
        np.array([0, 1]),
        np.array([1, 2]),
        np.array([16.0, 15.0]),
        identifiers=[
            frozenset({"email=a@example.org"}),
            frozenset({"email=a@example.org", "email=b@example.org"}),
            frozenset({"email=b@example.org", "born=1981-06-13"}),
        ],
    )
    assert result.outcome == ["joined", "joined"]


def test_a_pair_weighed_with_other_organisations_brings_in_one_record_not_a_cluster():
    oxford, leiden = frozenset({"oxford university"}), frozenset({"leiden university"})
    orgs = [oxford, oxford, leiden, leiden, frozenset({"cambridge university"})]
    # 0-1 at one organisation, 2-3 at another; 4 is seen once, at a third.
    a, b = np.array([0, 2, 1, 0]), np.array([1, 3, 4, 2])
    bits = np.array([20.0, 19.0, 18.0, 17.0])
    weighed = np.array([False, False, True, True])
    result = cluster(5, a, b, bits, orgs=orgs, weighed=weighed)
    assert result.outcome == ["joined", "joined", "joined", "weak"]
    assert result.labels[4] == result.labels[0] != result.labels[2]
    # Not weighed, another organisation keeps even a single record out.
    vetoed = cluster(5, a, b, bits, orgs=orgs)
    assert vetoed.outcome[2] == "weak"


@st.composite
def clusterings(draw):
    """Pairs with tied and untied scores over a few records, every kind of
    constraint, and the pairs a later pass keeps."""
    size = draw(st.integers(2, 24))
    record = st.integers(0, size - 1)
    pairs = draw(st.lists(st.tuples(record, record).filter(lambda p: p[0] != p[1]), max_size=40))
    a = np.array([x for x, _ in pairs], dtype=np.int64)
    b = np.array([y for _, y in pairs], dtype=np.int64)
    scores = st.lists(st.sampled_from([9.0, 12.0, 15.0, 20.0]), min_size=len(a), max_size=len(a))
    bits = np.array(draw(scores), dtype=float)
    flags = st.lists(st.booleans(), min_size=len(a), max_size=len(a))
    apart = st.lists(st.tuples(record, record), max_size=6)
    choice = st.sampled_from
    per_record = st.lists(st.integers(0, 3), min_size=size, max_size=size)
    fields = [frozenset() if i == 0 else frozenset({f"field {i}"}) for i in draw(per_record)]
    orgs = [frozenset() if i == 0 else frozenset({f"org {i}"}) for i in draw(per_record)]
    listings = [frozenset() if i == 0 else frozenset({i}) for i in draw(per_record)]
    identifiers = [
        frozenset() if i == 0 else frozenset({f"wikidata=Q{i}"}) for i in draw(per_record)
    ]
    constraints = {
        "judged_apart": draw(apart),
        "context_apart": draw(apart),
        "weakly_apart": draw(apart),
        "fields": draw(choice([None, fields])),
        "orgs": draw(choice([None, orgs])),
        "listings": draw(choice([None, listings])),
        "identifiers": draw(choice([None, identifiers])),
    }
    weighed = draw(choice([None, np.array(draw(flags), dtype=bool)]))
    kept = np.array(draw(flags), dtype=bool)
    return size, a, b, bits, weighed, constraints, kept


@settings(max_examples=400, deadline=None)
@given(clusterings())
def test_clustering_again_only_where_pairs_were_dropped_equals_clustering_all_again(case):
    size, a, b, bits, weighed, constraints, kept = case
    previous = cluster(size, a, b, bits, weighed=weighed, **constraints)
    again = recluster(previous, kept, size, a, b, bits, weighed=weighed, **constraints)
    whole = cluster(
        size, a[kept], b[kept], bits[kept],
        weighed=None if weighed is None else weighed[kept], **constraints,
    )  # fmt: skip
    assert again.outcome == whole.outcome
    assert again.labels.tolist() == whole.labels.tolist()
    # What a further pass starts from: the components of the pairs kept.
    assert again.component.tolist() == whole.component.tolist()


@st.composite
def graphs(draw):
    size = draw(st.integers(1, 30))
    record = st.integers(0, size - 1)
    return size, draw(st.lists(st.tuples(record, record), max_size=40))


@settings(max_examples=200, deadline=None)
@given(graphs())
def test_components_name_each_connected_group_by_its_smallest_record(case):
    size, pairs = case
    neighbours: dict[int, set[int]] = {i: set() for i in range(size)}
    for x, y in pairs:
        neighbours[x].add(y)
        neighbours[y].add(x)
    expected = list(range(size))
    for start in range(size):
        seen, todo = {start}, [start]
        while todo:
            for other in neighbours[todo.pop()] - seen:
                seen.add(other)
                todo.append(other)
        expected[start] = min(seen)
    a = np.array([x for x, _ in pairs], dtype=np.int64)
    b = np.array([y for _, y in pairs], dtype=np.int64)
    assert components(size, a, b).tolist() == expected
