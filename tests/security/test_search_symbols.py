"""A search made only of symbols or punctuation ("%", "_", "\\") has no word to
look for: it finds nothing, in every list of the API and in the admin, instead
of every row."""

from __future__ import annotations

import pytest

from tests.factories import make_letter, make_organization, make_signature

pytestmark = pytest.mark.django_db

QUERIES = ["%", "%%", "_", "__", "\\", "\\%", "%_\\", "'", "--", "*", "!?.,;:", "()[]{}", "\u200b"]


@pytest.fixture
def rows():
    letter = make_letter(title="Letter on AI training", slug="ai-letter")
    make_organization("Office of Science and Technology Policy")
    make_signature(letter=letter, name="Maggie Gyllenhaal")
    make_signature(letter=letter, name="Ava DuVernay")
    return letter


def urls(letter) -> list[str]:
    return [
        "/api/people/",
        "/api/letters/",
        "/api/organizations/",
        f"/api/letters/{letter.slug}/signatures/",
        "/api/signatures/",
    ]


@pytest.mark.parametrize("query", QUERIES)
def test_a_search_of_symbols_only_finds_nothing_in_the_api(client, rows, query):
    for url in urls(rows):
        assert client.get(url).json()["results"], url  # the rows are there
        response = client.get(url, {"search": query})
        assert response.status_code == 200, (url, response.content[:300])
        assert response.json()["results"] == [], (url, query)


def test_a_search_of_words_still_finds_them(client, rows):
    names = [
        row["name"]
        for row in client.get("/api/people/", {"search": "%gyllenhaal%"}).json()["results"]
    ]
    assert names == ["Maggie Gyllenhaal"]


def test_a_blank_search_searches_nothing(client, rows):
    assert len(client.get("/api/people/", {"search": "  "}).json()["results"]) == 2


@pytest.mark.parametrize("query", ["%", "_", "\\", "%_"])
def test_a_search_of_symbols_only_finds_nothing_in_the_admin(admin_client_staff, rows, query):
    for path in ("people/person", "letters/letter", "people/organization"):
        response = admin_client_staff.get(f"/admin/{path}/", {"q": query})
        assert response.status_code == 200
        assert response.context["cl"].result_count == 0, (path, query)
