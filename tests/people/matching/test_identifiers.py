"""Strong identifiers: read into one form, and outweighing names both ways."""

from collections import Counter

import numpy as np
import pytest

from people.matching.blocking import candidate_pairs
from people.matching.engine import Outcome, match
from people.matching.identifiers import Agreement, compare, identifiers
from people.matching.records import Frequencies, Prepared, Record
from people.matching.scoring import explain, score_pairs

STUDIO = ("Marvel Studios",)


def rare() -> Frequencies:
    return Frequencies(given=Counter(), family=Counter(), total=1_000_000)


@pytest.mark.parametrize(
    ("written", "read"),
    [
        ({"E-mail": "  Chris.Evans@Example.ORG "}, "email=chris.evans@example.org"),
        ({"email": "mailto:ce@example.org"}, "email=ce@example.org"),
        ({"ORCID": "https://orcid.org/0000-0002-1825-0097"}, "orcid=0000-0002-1825-0097"),
        ({"orcid": "0000 0002 1825 0097"}, "orcid=0000-0002-1825-0097"),
        ({"wikidata": "q178348"}, "wikidata=Q178348"),
        ({"QID": "https://www.wikidata.org/wiki/Q178348"}, "wikidata=Q178348"),
        ({"date_of_birth": "19810613"}, "born=1981-06-13"),
        ({"Date of birth": "1981-06-13"}, "born=1981-06-13"),
        ({"viaf": " 12345 "}, "viaf=12345"),
    ],
)
def test_it_reads_each_identifier_into_one_form(written, read):
    assert identifiers(written) == {read}


@pytest.mark.parametrize(
    "written",
    [
        {"orcid": "0000-0002-1825-0098"},  # the check digit fails
        {"email": "not an address"},
        {"wikidata": "Chris Evans"},
        {"date_of_birth": "1981-02-30"},
        {"date_of_birth": "13/06/1981"},  # day and month could be either way round
    ],
)
def test_it_leaves_out_a_value_it_cannot_read_rather_than_let_it_disagree(written):
    assert identifiers(written) == frozenset()


def test_only_known_keys_count_among_a_lists_other_columns():
    columns = {"Country": "US", "ORCID iD": "0000-0002-1825-0097", "note": "x"}
    assert identifiers(columns, any_key=False) == {"orcid=0000-0002-1825-0097"}


def test_one_key_with_no_value_in_common_disagrees_whatever_else_agrees():
    left = frozenset({"email=a@example.org", "wikidata=Q1"})
    right = frozenset({"email=a@example.org", "wikidata=Q2"})
    assert compare(left, right) == Agreement.DISAGREE
    assert compare(left, frozenset({"wikidata=Q1"})) == Agreement.AGREE
    assert compare(frozenset({"born=1981-06-13"}), frozenset({"born=1981-06-13"})) == (
        Agreement.BORN
    )
    assert compare(left, frozenset({"born=1981-06-13"})) == Agreement.NONE


@pytest.mark.parametrize(
    "key, first, second",
    [
        ("wikidata", "Q178348", "Q5107587"),
        ("orcid", "0000-0002-1825-0097", "0000-0001-5109-3700"),
        ("email", "chris@example.org", "c.evans@example.org"),
        ("date_of_birth", "1981-06-13", "1966-04-01"),
    ],
)
def test_two_namesakes_with_other_identifiers_are_never_merged(key, first, second):
    records = [
        Record(1, ("Chris Evans",), orgs=STUDIO, identifiers=((key, first),)),
        Record(2, ("Chris Evans",), orgs=STUDIO, identifiers=((key, second),)),
    ]
    result = match(records)
    assert result.clusters() == []
    assert result.pairs(Outcome.QUEUED) == []


@pytest.mark.parametrize(
    "key, first, second",
    [
        ("wikidata", "Q178348", "Q5107587"),
        ("email", "chris@example.org", "c.evans@example.org"),
        ("date_of_birth", "1981-06-13", "1966-04-01"),
    ],
)
def test_a_third_record_without_identifiers_never_joins_two_with_other_ones(key, first, second):
    records = [
        Record(1, ("Chris Evans",), orgs=STUDIO, identifiers=((key, first),)),
        Record(2, ("Chris Evans",), orgs=STUDIO, identifiers=((key, second),)),
        Record(3, ("Chris Evans",), orgs=STUDIO),
        Record(4, ("EVANS, CHRIS",), orgs=STUDIO),
    ]
    result = match(records)
    for cluster in result.clusters():
        assert not {1, 2} <= set(cluster)


def test_an_agreeing_date_of_birth_beside_another_given_name_goes_to_an_editor():
    # A given name replaced, or twins (Mary-Kate and Ashley Olsen): a date of
    # birth is not one person's.
    records = [
        Record(1, ("Mary-Kate Olsen",), identifiers=(("date_of_birth", "1986-06-13"),)),
        Record(2, ("Ashley Olsen",), identifiers=(("date_of_birth", "1986-06-13"),)),
    ]
    result = match(records, frequencies=rare())
    assert result.clusters() == []
    assert result.pairs(Outcome.QUEUED) == [(1, 2)]


def test_an_agreeing_orcid_outweighs_a_replaced_given_name():
    records = [
        Record(1, ("Anna Gyllenhaal",), identifiers=(("orcid", "0000-0002-1825-0097"),)),
        Record(2, ("Ella Gyllenhaal",), identifiers=(("orcid", "0000-0002-1825-0097"),)),
    ]
    assert match(records, frequencies=rare()).clusters() == [[1, 2]]


def test_without_the_date_of_birth_a_replaced_given_name_stays_apart():
    records = [Record(1, ("Maggie Gyllenhaal",)), Record(2, ("Margaret Gyllenhaal",))]
    assert match(records, frequencies=rare()).clusters() == []


def test_an_agreeing_date_of_birth_does_not_outweigh_another_family_name_and_given_name():
    records = [
        Record(1, ("Maggie Gyllenhaal",), identifiers=(("date_of_birth", "1977-11-16"),)),
        Record(2, ("Anna Stenverton",), identifiers=(("date_of_birth", "1977-11-16"),)),
    ]
    result = match(records, frequencies=rare())
    assert result.clusters() == []
    assert result.pairs(Outcome.QUEUED) == []


def test_an_agreeing_identifier_beside_another_family_name_goes_to_an_editor_only():
    # A family name changed at marriage, one e-mail: not merged on its own.
    records = [
        Record(1, ("Anna Gyllenhaal",), identifiers=(("email", "anna@example.org"),)),
        Record(2, ("Anna Stenverton",), identifiers=(("email", "anna@example.org"),)),
    ]
    result = match(records, frequencies=rare())
    assert result.clusters() == []
    assert result.pairs(Outcome.QUEUED) == [(1, 2)]


def test_the_lana_and_lilly_rule_holds_when_no_identifier_agrees():
    records = [
        Record(1, ("Lana Wachowski",), identifiers=(("wikidata", "Q1501185"),)),
        Record(2, ("Lilly Wachowski",)),
        Record(3, ("L. Wachowski",)),
    ]
    result = match(records)
    for cluster in result.clusters():
        assert not {1, 2} <= set(cluster)


def test_records_sharing_an_identifier_are_compared_whatever_their_names():
    records = [
        Record(1, ("Zoe Quarrington",), identifiers=(("orcid", "0000-0002-1825-0097"),)),
        Record(2, ("Ben Aldous",), identifiers=(("ORCID", "0000-0002-1825-0097"),)),
        Record(3, ("Cal Mirren",)),
    ]
    candidates = candidate_pairs(Prepared(records))
    assert (0, 1) in set(zip(candidates.a.tolist(), candidates.b.tolist(), strict=True))


def test_the_explanation_names_the_identifier_and_its_weight():
    records = [
        Record(1, ("Chris Evans",), identifiers=(("wikidata", "Q178348"),)),
        Record(2, ("Chris Evans",), identifiers=(("wikidata", "Q5107587"),)),
        Record(3, ("Chris Evans",), identifiers=(("wikidata", "Q178348"),)),
    ]
    prepared = Prepared(records)
    scored = score_pairs(prepared, np.array([0, 0]), np.array([1, 2]), keep_all=True)
    disagreed = explain(scored, 0)["disagreed"]
    agreed = explain(scored, 1)["agreed"]
    assert {"feature": "identifier", "level": "disagree", "weight": -24.0} in disagreed
    assert {"feature": "identifier", "level": "agree", "weight": 24.0} in agreed
