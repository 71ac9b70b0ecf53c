"""The identity rules, as pure functions."""

from people.matching.identity import Candidate, Known, contexts_conflict, entry_joins, same_entry


def known(title: str = "", org: str = "") -> Known:
    return Known.of(titles=[title], orgs=[org])


def test_other_fields_conflict_and_a_shared_field_agrees_across_organisations():
    assert contexts_conflict(known("Actor"), known("Broadcaster", "BBC Radio 2"))
    assert contexts_conflict(known("Director", "ARRAY"), known("Writer", "Society of Authors"))
    assert not contexts_conflict(known("Actor", "Warner Bros."), known("Actress", "A24"))


def test_stating_nothing_never_conflicts():
    assert not contexts_conflict(known(), known("Actor", "SAG-AFTRA"))
    assert known().states_nothing


def test_organisations_compare_by_key_whatever_the_word_order():
    assert not contexts_conflict(known(org="University of Oxford"), known(org="Oxford University"))
    assert contexts_conflict(known(org="University of Oxford"), known(org="BBC"))


def test_an_entry_joins_the_one_person_of_its_name_only_when_nothing_disagrees():
    actor = Candidate(person=1, known=known("Actor"), on_this_list=False)
    assert entry_joins(known("Actress"), [actor]) == 1
    assert entry_joins(known(), [actor]) == 1
    assert entry_joins(known("Broadcaster"), [actor]) is None


def test_an_entry_never_guesses_between_namesakes_nor_joins_someone_on_its_own_list():
    first = Candidate(person=1, known=known(), on_this_list=False)
    second = Candidate(person=2, known=known(), on_this_list=False)
    listed = Candidate(person=3, known=known(), on_this_list=True)
    assert entry_joins(known(), [first, second]) is None
    assert entry_joins(known(), [listed]) is None
    assert entry_joins(known(), []) is None


def test_one_entry_written_twice_is_the_same_name_title_and_affiliation():
    one = {"name": "McCartney, Sir Paul", "title": "Musician", "affiliation": ""}
    assert same_entry(one, {"name": "PAUL MCCARTNEY", "title": "musician", "affiliation": ""})
    assert not same_entry(one, {"name": "Paul McCartney", "title": "Producer", "affiliation": ""})


def listed(pk: int, source: int, title: str = "", org: str = "", name: str = "Chris Evans"):
    from people.matching.identity import Listed

    return Listed(
        id=pk,
        source=source,
        written={"name": name, "title": title, "affiliation": org},
        known=known(title, org),
    )


def test_entries_of_one_list_or_of_conflicting_fields_fall_into_groups_of_their_own():
    from people.matching.identity import apart_groups

    entries = [
        listed(1, source=10, title="Actor"),
        listed(2, source=10, title="Broadcaster", org="BBC Radio 2"),
        listed(3, source=20, title="Actor"),
        listed(4, source=30, title="Radio presenter", org="BBC Radio 2"),
        listed(5, source=40),
    ]
    assert apart_groups(entries) == [[1, 3, 5], [2, 4]]


def test_one_entry_written_twice_stays_in_one_group():
    from people.matching.identity import apart_groups

    assert apart_groups([listed(1, 10, "Actor"), listed(2, 10, "actor")]) == [[1, 2]]


CONTEXTS = [
    ("Actor", "", "Broadcaster", "BBC Radio 2"),
    ("Actor", "Warner Bros.", "Actress", "A24"),
    ("Director", "ARRAY", "Writer", "Society of Authors"),
    ("", "University of Oxford", "", "Oxford University"),
    ("", "", "Actor", "SAG-AFTRA"),
    ("Musician", "", "Singer", ""),
]


def test_the_match_runs_weigh_context_by_the_same_rule_as_entries():
    """``scoring.context_conflict`` (pairs, vectorised) and ``contexts_conflict``
    (entries) are one rule: they agree on every sample."""
    from people.matching.engine import match
    from people.matching.records import Record

    for title_a, org_a, title_b, org_b in CONTEXTS:
        records = [
            Record(1, ("Chris Evans",), titles=(title_a,) if title_a else (),
                   orgs=(org_a,) if org_a else ()),
            Record(2, ("Chris Evans",), titles=(title_b,) if title_b else (),
                   orgs=(org_b,) if org_b else ()),
        ]  # fmt: skip
        result = match(records)
        assert len(result.scored) == 1
        expected = contexts_conflict(known(title_a, org_a), known(title_b, org_b))
        assert bool(result.scored.conflict[0]) == expected, (title_a, org_a, title_b, org_b)
