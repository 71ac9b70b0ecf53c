"""/api/people/: search, filters, detail, and merged people's old addresses."""

from __future__ import annotations

import pytest

from letters import services as letter_services
from people import services as people_services
from people.merging.merge import person_merge
from tests.factories import make_letter, make_organization, make_person, make_signature, make_source

pytestmark = pytest.mark.django_db


def _names(response) -> list[str]:
    return [item["name"] for item in response.json()["results"]]


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("cuaron", "Alfonso Cuarón"),
        ("CUARÓN", "Alfonso Cuarón"),
        ("gylenhall", "Maggie Gyllenhaal"),
        ("duvernay", "Ava DuVernay"),
        ("blanchet", "Cate Blanchett"),
    ],
)
def test_it_finds_people_ignoring_case_and_accents_and_tolerating_typos(anon, query, expected):
    for name in ["Alfonso Cuarón", "Maggie Gyllenhaal", "Ava DuVernay", "Cate Blanchett"]:
        make_person(name)
    make_person("Paul McCartney")

    names = _names(anon.get("/api/people/", {"search": query}))

    assert names[0] == expected
    assert "Paul McCartney" not in names


def test_it_ranks_the_closest_name_first(anon):
    make_person("Jake Gyllenhaal")
    make_person("Maggie Gyllenhaal")

    names = _names(anon.get("/api/people/", {"search": "maggie gylenhall"}))

    assert names[0] == "Maggie Gyllenhaal"


def test_it_finds_a_person_by_a_spelling_a_source_used(anon):
    letter = make_letter()
    person = make_person("Ava DuVernay")
    letter_services.signature_record(
        letter=letter,
        source=make_source(letter),
        entry=letter_services.Entry(name="Ava Du Vernay"),
        person=person,
    )

    assert _names(anon.get("/api/people/", {"search": "du vernay"})) == ["Ava DuVernay"]


def test_it_filters_people_by_letter_and_organization(anon):
    letter = make_letter()
    signer = make_signature(letter, "Ava DuVernay").person
    studio = make_organization("A24", kind="studio")
    affiliated = make_person("Cate Blanchett")
    people_services.affiliation_create(person=affiliated, organization=studio)

    assert _names(anon.get("/api/people/", {"letter": letter.slug})) == ["Ava DuVernay"]
    assert _names(anon.get("/api/people/", {"organization": studio.pk})) == ["Cate Blanchett"]
    assert signer.pk != affiliated.pk


def test_it_pages_through_people_with_their_count(anon):
    for n in range(5):
        make_person(f"Person Number{n}")

    first = anon.get("/api/people/", {"page_size": 2}).json()
    last = anon.get("/api/people/", {"page_size": 2, "page": 3}).json()

    assert first["count"] == last["count"] == 5
    assert first["previous"] is None
    assert "page=2" in first["next"]
    assert [item["name"] for item in last["results"]] == ["Person Number4"]
    assert last["next"] is None and "page=2" in last["previous"]
    assert anon.get("/api/people/", {"page": "x"}).status_code == 404


def test_it_leaves_merged_people_out_of_the_list(anon):
    survivor, merged = make_person("Ava DuVernay"), make_person("Ava Duvernay")
    person_merge(survivor=survivor, merged=merged)

    body = anon.get("/api/people/").json()

    assert [item["id"] for item in body["results"]] == [survivor.pk]


def test_it_redirects_a_merged_person_to_the_survivor(anon):
    survivor, merged = make_person("Ava DuVernay"), make_person("Ava Duvernay")
    person_merge(survivor=survivor, merged=merged)

    response = anon.get(f"/api/people/{merged.pk}/")

    assert response.status_code == 301
    assert response["Location"] == f"http://testserver/api/people/{survivor.pk}/"
    assert anon.get(response["Location"]).json()["id"] == survivor.pk


def test_it_follows_a_chain_of_merges_to_the_last_survivor(anon):
    first, second, third = (make_person(n) for n in ["Ava DuVernay", "Ava Duvernay", "A DuVernay"])
    person_merge(survivor=second, merged=first)
    person_merge(survivor=third, merged=second)

    response = anon.get(f"/api/people/{first.pk}/")

    assert response["Location"].endswith(f"/api/people/{third.pk}/")


def test_it_shows_names_with_sources_affiliations_letters_and_external_ids(anon):
    letter = make_letter(title="Letter to OSTP")
    press = make_source(letter, name="Variety")
    person = people_services.person_create(
        name="Maggie Gyllenhaal", external_ids={"wikidata": "Q229313"}
    )
    letter_services.signature_record(
        letter=letter,
        source=press,
        entry=letter_services.Entry(name="Maggie Gylenhall"),
        person=person,
    )
    studio = make_organization("A24", kind="studio")
    people_services.affiliation_create(person=person, organization=studio, role="Actor")

    body = anon.get(f"/api/people/{person.pk}/").json()

    assert body["external_ids"] == {"wikidata": "Q229313"}
    names = {entry["name"]: [s["name"] for s in entry["sources"]] for entry in body["names"]}
    assert names["Maggie Gylenhall"] == ["Variety"]
    assert names["Maggie Gyllenhaal"] == []
    assert [(a["organization"]["name"], a["role"]) for a in body["affiliations"]] == [
        ("A24", "Actor")
    ]
    [signed] = body["signatures"]
    assert (signed["letter"]["title"], signed["status"]) == ("Letter to OSTP", "listed")


def test_it_hides_a_removed_signature_from_a_persons_public_record(anon, staff_client):
    fake = make_signature(name="Mickey Mouse")
    letter_services.signature_change_status(signature=fake, status="removed", reason="Fake.")

    assert anon.get(f"/api/people/{fake.person_id}/").json()["signatures"] == []
    assert len(staff_client.get(f"/api/people/{fake.person_id}/").json()["signatures"]) == 1


def test_it_filters_people_by_an_organizations_slug_or_id_with_those_under_it(anon):
    company = make_organization("Walt Disney Company", slug="disney", kind="company")
    studio = make_organization("Pixar Animation Studios", kind="studio", parent=company)
    people_services.affiliation_create(person=make_person("Bob Iger"), organization=company)
    letter = make_letter()
    letter_services.signature_record(
        letter=letter,
        source=make_source(letter),
        entry=letter_services.Entry(name="Pete Docter", affiliation="Pixar Animation Studios"),
    )
    make_person("Mike De Luca")

    def names(organization) -> list[str]:
        return _names(anon.get("/api/people/", {"organization": organization}))

    assert names("disney") == names(company.pk) == ["Pete Docter", "Bob Iger"]
    assert names(studio.slug) == ["Pete Docter"]
    assert names("nowhere") == []


def test_it_answers_an_unknown_person_with_a_404(anon):
    response = anon.get("/api/people/99999999/")

    assert response.status_code == 404
    assert response.json()["code"] == "not_found"


def test_it_answers_an_id_beyond_any_integer_with_a_404_not_a_500(anon):
    assert anon.get("/api/people/9999999999999999999/").status_code == 404
    assert anon.get("/api/people/?organization=99999999999999999999").status_code == 400


@pytest.mark.parametrize("page_size", [2, 6])
def test_a_search_of_people_costs_one_query_whatever_the_page_size(
    anon, django_assert_num_queries, page_size
):
    for n in range(6):
        make_person(f"Person Number{n}")

    # 1. the page of people, ranked by the search, each row carrying the count of
    # the people found
    with django_assert_num_queries(1):
        response = anon.get("/api/people/", {"page_size": page_size, "search": "person"})

    assert len(response.json()["results"]) == page_size
    assert response.json()["count"] == 6


@pytest.mark.parametrize("page_size", [2, 6])
def test_the_people_list_costs_two_queries_whatever_the_page_size(
    anon, django_assert_num_queries, page_size
):
    for n in range(6):
        make_person(f"Person Number{n}")

    # 1. the count of the people, 2. the page of people
    with django_assert_num_queries(2):
        response = anon.get("/api/people/", {"page_size": page_size})

    assert len(response.json()["results"]) == page_size


def test_a_search_counts_every_match_on_every_page_and_refuses_a_page_past_the_end(anon):
    for n in range(5):
        make_person(f"Person Number{n}")
    make_person("Cate Blanchett")

    pages = [
        anon.get("/api/people/", {"page_size": 2, "search": "person", "page": page})
        for page in (1, 2, 3, "last", 4)
    ]

    assert [page.status_code for page in pages] == [200, 200, 200, 200, 404]
    assert {page.json()["count"] for page in pages[:4]} == {5}
    assert [len(page.json()["results"]) for page in pages[:4]] == [2, 2, 1, 1]
    assert pages[2].json()["next"] is None
    names = [row["name"] for page in pages[:3] for row in page.json()["results"]]
    assert sorted(names) == [f"Person Number{n}" for n in range(5)]
    empty = anon.get("/api/people/", {"search": "zzzzqqq"}).json()
    assert (empty["count"], empty["results"]) == (0, [])


def test_the_person_detail_costs_four_queries(anon, django_assert_num_queries):
    person = make_signature(name="Ava DuVernay").person

    # 1. the person, 2. names with their sources and letters, 3. affiliations
    # with organizations and sources, 4. signatures with letters
    with django_assert_num_queries(4):
        anon.get(f"/api/people/{person.pk}/")


def test_the_public_person_page_answers_what_the_detail_serializer_gives(anon):
    from datetime import date

    from letters.models import Signature
    from people import selectors
    from people.api.serializers import PersonDetailSerializer

    letter, other = make_letter(), make_letter()
    person = make_person("Ava DuVernay")
    press, site = make_source(letter, name="Press"), make_source(other, name="Site")
    for source, spelling in ((press, "Ava Du Vernay"), (site, "Ava Du Vernay")):
        letter_services.signature_record(
            letter=source.letter,
            source=source,
            entry=letter_services.Entry(name=spelling, title="Director"),
            person=person,
        )
    people_services.person_add_name(person=person, name="A. DuVernay")
    people_services.affiliation_create(
        person=person,
        organization=make_organization("Zoetrope"),
        role="Member",
        start_date=date(2020, 1, 2),
        source=press,
        evidence_url="https://example.org/zoetrope",
    )
    people_services.affiliation_create(person=person, organization=make_organization("A24"))
    removed = make_signature(make_letter(), "Ava DuVernay")
    Signature.objects.filter(pk=removed.pk).update(person=person, status=Signature.Status.REMOVED)
    detail = selectors.person_detail(person_id=person.pk, include_removed=False)

    response = anon.get(f"/api/people/{person.pk}/")

    expected = PersonDetailSerializer(detail, context={"request": response.wsgi_request}).data
    assert response.json() == expected
    assert len(expected["names"]) == 3
    assert [len(name["sources"]) for name in expected["names"]] == [0, 2, 1]
    assert [a["organization"]["name"] for a in expected["affiliations"]] == ["A24", "Zoetrope"]
    assert len(expected["signatures"]) == 2
