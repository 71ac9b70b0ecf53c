"""The one name search (people/selectors.py ``queryset_search``), typo-tolerant
on the embedded SQLite as on PostgreSQL: the same people, the same queries, and
the same people found on both; SQLite's run in a process of its own on a fresh
SQLite database, migrated as ``make run`` migrates it."""

from __future__ import annotations

import pytest

from people.models import Organization, Person
from people.selectors import SEARCH_MIN_SCORE, person_list, queryset_search, search_score
from tests.processes import on_sqlite

PEOPLE = [
    "Maggie Gyllenhaal",
    "Jake Gyllenhaal",
    "Ben Stiller",
    "Alfonso Cuarón",
    "Ava DuVernay",
    "Cate Blanchett",
    "Paul McCartney",
    "Lana Wachowski",
    "Lilly Wachowski",
]
# The query, who must come first, and who else must be found (no one else may).
CASES = {
    "gyllenhaal": ["Jake Gyllenhaal", "Maggie Gyllenhaal"],
    "stiler": ["Ben Stiller"],
    "cuaroon": ["Alfonso Cuarón"],
    "CUARÓN": ["Alfonso Cuarón"],
    "cuar": ["Alfonso Cuarón"],
    "gylenhall maggie": ["Maggie Gyllenhaal"],
    "blanchet": ["Cate Blanchett"],
    "du vernay": ["Ava DuVernay"],
    "wachowsky": ["Lana Wachowski", "Lilly Wachowski"],
    "mc cartney": ["Paul McCartney"],
}
ORGANIZATIONS = ["Office of Science and Technology Policy", "Writers Guild of America"]
ORGANIZATION_CASES = {"scince tecnology": ["Office of Science and Technology Policy"]}


def search_results() -> dict[str, list[str]]:
    """Make the people and organizations, run every query; what each found, in order."""
    from people import services

    for name in PEOPLE:
        services.person_create(name=name)
    services.person_add_name(
        person=Person.objects.get(display_name="Ava DuVernay"), name="Ava Du Vernay"
    )
    for name in ORGANIZATIONS:
        services.organization_create(name=name)
    found = {query: [p.display_name for p in person_list(search=query)] for query in CASES}
    for query in ORGANIZATION_CASES:
        found[query] = [o.name for o in queryset_search(Organization.objects.all(), query)]
    return found


def _expected_as_found(found: dict[str, list[str]]) -> None:
    for query, expected in {**CASES, **ORGANIZATION_CASES}.items():
        assert sorted(found[query]) == sorted(expected), query
        assert found[query][0] in expected, query


@pytest.mark.django_db
def test_on_postgresql_the_queries_find_who_they_should():
    _expected_as_found(search_results())


@pytest.mark.slow
def test_on_sqlite_the_same_queries_find_the_same_people(tmp_path):
    found = on_sqlite(tmp_path, "tests.people.test_search:search_results")

    _expected_as_found(found)


def test_a_word_the_query_starts_counts_as_the_same_word():
    assert search_score("cuar", "alfonso cuaron") == 100.0


def test_a_name_far_from_the_query_scores_below_the_bar():
    assert search_score("cuaroon", "ben stiller") < SEARCH_MIN_SCORE
    assert search_score("blanchet", "paul mccartney") < SEARCH_MIN_SCORE


def test_the_score_is_that_of_the_closest_spelling():
    assert search_score("du vernay", "ava duvernay | ava du vernay") == 100.0
