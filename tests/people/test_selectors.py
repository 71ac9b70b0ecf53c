"""Reads on organizations: the keys affiliations resolve by, and an
organization with those under it (people/selectors.py)."""

import pytest

from people.selectors import organization_and_below, organization_keys, organization_resolver
from tests.factories import make_organization

pytestmark = pytest.mark.django_db


def test_every_name_and_alias_of_an_organization_is_a_key_to_it():
    wga = make_organization("Writers Guild of America", aliases=["WGA"])

    assert organization_keys() == {"writers guild america": wga.pk, "wga": wga.pk}


def test_a_key_two_organizations_share_stands_for_neither():
    make_organization("Academy of Motion Picture Arts and Sciences", aliases=["The Academy"])
    make_organization("Academy of Country Music", aliases=["Academy"])

    assert "academy" not in organization_keys()
    assert organization_resolver()("The Academy") is None


def test_the_resolver_reads_the_keys_once(django_assert_num_queries):
    wga = make_organization("Writers Guild of America", aliases=["WGA"])
    resolve = organization_resolver()

    with django_assert_num_queries(1):
        found = [resolve(text) for text in ["W.G.A.", "Writers Guild of America", "Elsewhere"]]

    assert found == [wga.pk, wga.pk, None]


def test_an_organization_is_found_with_those_under_it_however_deep_by_id_or_slug():
    company = make_organization("Walt Disney Company", slug="disney")
    studio = make_organization("Pixar", parent=company)
    team = make_organization("Pixar Shorts", parent=studio)
    make_organization("Warner Bros.")

    assert organization_and_below(company.pk) == [company.pk, studio.pk, team.pk]
    assert organization_and_below("disney") == [company.pk, studio.pk, team.pk]
    assert organization_and_below(studio.slug) == [studio.pk, team.pk]


def test_an_unknown_slug_is_no_organization():
    assert organization_and_below("nowhere") == []
