"""Clusters from the pairs to merge, respecting what must stay apart."""

import numpy as np

from people.matching.clustering import cluster

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
