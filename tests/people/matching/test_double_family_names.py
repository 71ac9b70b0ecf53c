"""Two family names written in one string: "Gonzalo Belda Menendez"."""

from collections import Counter

import numpy as np

from people.matching.engine import Outcome, match
from people.matching.records import Frequencies, Prepared, Record
from people.matching.scoring import Family, score_pairs

HOSPITAL = ("Hospital Clínico San Carlos",)


def rare() -> Frequencies:
    return Frequencies(given=Counter(), family=Counter(), total=1_000_000)


def family_level(first: str, second: str) -> Family:
    prepared = Prepared([Record(1, (first,)), Record(2, (second,))], frequencies=rare())
    scored = score_pairs(prepared, np.array([0]), np.array([1]), keep_all=True)
    return Family(int(scored.family[0]))


def test_the_same_words_split_elsewhere_are_the_same_family_name():
    assert family_level("Gonzalo Belda Menendez", "Belda Menendez, Gonzalo") == Family.EXACT
    assert family_level("Gonzalo Belda Menendez", "Gonzalo Belda-Menendez") == Family.EXACT
    assert family_level("Marcos Casárez de Jesús", "Casárez de Jesús, Marcos") == Family.EXACT


def test_the_first_family_name_alone_is_one_part_of_two():
    assert family_level("Gonzalo Belda Menendez", "Gonzalo Belda") == Family.PART
    assert family_level("Gonzalo Belda", "Belda Menendez, Gonzalo") == Family.PART


def test_the_same_first_family_name_with_another_second_is_another_person():
    assert family_level("Gonzalo Belda Menendez", "Gonzalo Belda Garcia") == Family.SECOND_DIFFERS
    assert family_level("Gonzalo Belda-Menendez", "Gonzalo Belda Garcia") == Family.SECOND_DIFFERS


def test_it_merges_two_family_names_written_with_a_comma_or_a_hyphen_on_names_alone():
    records = [
        Record(1, ("Gonzalo Belda Menendez",)),
        Record(2, ("Belda Menendez, Gonzalo",)),
        Record(3, ("Gonzalo Belda-Menendez",)),
    ]
    assert match(records, frequencies=rare()).clusters() == [[1, 2, 3]]


def test_it_merges_the_first_family_name_alone_only_with_agreeing_context():
    alone = [Record(1, ("Gonzalo Belda Menendez",)), Record(2, ("Gonzalo Belda",))]
    result = match(alone, frequencies=rare())
    assert result.clusters() == []
    assert result.pairs(Outcome.QUEUED) == [(1, 2)]
    together = [
        Record(1, ("Gonzalo Belda Menendez",), orgs=HOSPITAL),
        Record(2, ("Gonzalo Belda",), orgs=HOSPITAL),
    ]
    assert match(together, frequencies=rare()).clusters() == [[1, 2]]


def test_the_first_family_name_alone_never_joins_two_people_with_other_second_ones():
    records = [
        Record(1, ("Gonzalo Belda Menendez",), orgs=HOSPITAL),
        Record(2, ("Gonzalo Belda Garcia",), orgs=HOSPITAL),
        Record(3, ("Gonzalo Belda",), orgs=HOSPITAL),
    ]
    for cluster in match(records, frequencies=rare()).clusters():
        assert not {1, 2} <= set(cluster)


def test_english_middle_names_are_compared_as_before():
    assert family_level("John Michael Smith", "John Smith") == Family.EXACT
    records = [
        Record(1, ("John Michael Smith",), orgs=HOSPITAL),
        Record(2, ("John Robert Smith",), orgs=HOSPITAL),
    ]
    result = match(records, frequencies=rare())
    assert result.clusters() == []
    assert result.pairs(Outcome.QUEUED) == [(1, 2)]


def test_a_double_family_name_keeps_the_wins_of_swapped_and_missing_given_names():
    assert family_level("Belda Gonzalo", "Gonzalo Belda") == Family.EXACT
    records = [Record(1, ("Gonzalo Belda Menendez",)), Record(2, ("Belda Menendez",))]
    assert family_level("Gonzalo Belda Menendez", "Belda Menendez") in (Family.EXACT, Family.PART)
    assert match(records, frequencies=rare()).clusters() == []
