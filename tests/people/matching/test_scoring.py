"""Which name evidence may merge two records on its own, and which goes to an editor."""

from collections import Counter

import numpy as np

from people.matching.engine import Outcome, match
from people.matching.records import Frequencies, Record
from people.matching.scoring import DEFAULT_WEIGHTS
from people.weights import run_weights

STUDIO = ("Ostdehaal Films",)


def rare(*families: tuple[str, int]) -> Frequencies:
    """Counts of a large database in which these names are rare, with how
    many records write each family name."""
    return Frequencies(given=Counter(), family=Counter(dict(families)), total=1_000_000)


def test_it_keeps_two_middle_initials_apart_even_at_one_organisation():
    records = [
        Record(1, ("Tom C. Gylarford",), orgs=STUDIO),
        Record(2, ("Tom E. Gylarford",), orgs=STUDIO),
    ]
    result = match(records)
    assert result.clusters() == []
    assert result.pairs(Outcome.QUEUED) == [(1, 2)]


def test_it_gives_a_record_without_a_middle_name_to_neither_of_two_with_other_initials():
    records = [
        Record(1, ("Tom C. Gylarford",)),
        Record(2, ("Tom E. Gylarford",)),
        Record(3, ("Tom Gylarford",)),
    ]
    result = match(records)
    assert result.clusters() == []
    assert (1, 3) in result.pairs(Outcome.QUEUED)
    assert (2, 3) in result.pairs(Outcome.QUEUED)


def test_it_takes_two_close_spellings_each_written_several_times_for_two_names():
    records = [Record(i, ("Patsy Casssen",), orgs=STUDIO) for i in (1, 2, 3)] + [
        Record(i, ("Patsy Casmissen",), orgs=STUDIO) for i in (4, 5, 6)
    ]
    result = match(records, frequencies=rare(("casssen", 3), ("casmissen", 3)))
    assert result.clusters() == [[1, 2, 3], [4, 5, 6]]
    assert (1, 4) in result.pairs(Outcome.QUEUED)


def test_it_still_merges_a_slip_written_once_beside_a_common_spelling():
    records = [Record(i, ("Patsy Casmissen",), orgs=STUDIO) for i in (1, 2, 3)] + [
        Record(4, ("Patsy Casssen",), orgs=STUDIO)
    ]
    result = match(records, frequencies=rare(("casssen", 1), ("casmissen", 3)))
    assert result.clusters() == [[1, 2, 3, 4]]


def test_two_slips_in_a_long_family_name_are_a_typo_but_not_in_a_short_one():
    from people.matching.records import Prepared
    from people.matching.scoring import Family, score_pairs

    records = [
        Record(1, ("Petra Schultzer",), orgs=STUDIO),
        Record(2, ("Petra Shultzar",), orgs=STUDIO),  # two edits, nine letters
        Record(3, ("Petra Horvath",), orgs=STUDIO),
        Record(4, ("Petra Horwat",), orgs=STUDIO),  # two edits, six letters
    ]
    prepared = Prepared(records, frequencies=rare(("schultzer", 1), ("horvath", 1)))
    scored = score_pairs(prepared, np.array([0, 2]), np.array([1, 3]), keep_all=True)
    assert scored.family.tolist() == [Family.TYPO, Family.CLOSE]
    assert [1, 2] in match(records, frequencies=rare()).clusters()


def test_it_asks_an_editor_about_one_part_of_a_double_family_name_without_context():
    records = [Record(1, ("Amanda Dominich",)), Record(2, ("Amanda Dominich-Valkassen",))]
    result = match(records, frequencies=rare())
    assert result.clusters() == []
    assert result.pairs(Outcome.QUEUED) == [(1, 2)]


def test_it_merges_one_part_of_a_double_family_name_at_one_organisation():
    records = [
        Record(1, ("Amanda Dominich",), orgs=STUDIO),
        Record(2, ("Amanda Dominich-Valkassen",), orgs=STUDIO),
    ]
    assert match(records, frequencies=rare()).clusters() == [[1, 2]]


def test_the_settings_set_the_thresholds_a_run_decides_with(settings):
    # A misspelt family name at one organisation: about 18 bits.
    records = [
        Record(1, ("Maggie Gyllenhaal",), orgs=STUDIO),
        Record(2, ("Maggie Gylenhaal",), orgs=STUDIO),
    ]
    assert run_weights() == DEFAULT_WEIGHTS
    assert match(records, weights=run_weights()).clusters() == [[1, 2]]

    settings.MATCHING_MERGE_AT = 20.0
    settings.MATCHING_REVIEW_AT = 10.0
    weights = run_weights()

    assert (weights.merge_at, weights.review_at) == (20.0, 10.0)
    assert weights.family_typo == DEFAULT_WEIGHTS.family_typo
    result = match(records, weights=weights)
    assert result.clusters() == []
    assert result.pairs(Outcome.QUEUED) == [(1, 2)]
