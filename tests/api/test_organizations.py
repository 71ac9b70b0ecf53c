"""/api/organizations/: kinds, search, targets and affiliated people; create and update."""

from __future__ import annotations

import pytest

from letters import services as letter_services
from people import services as people_services
from people.models import Organization
from tests.factories import make_letter, make_organization, make_person

pytestmark = pytest.mark.django_db


def test_it_lists_organizations_with_the_letters_that_target_them(anon):
    ostp = make_organization("Office of Science and Technology Policy", kind="government")
    letter = make_letter(title="Letter to OSTP")
    letter_services.letter_target_set(letter=letter, organization=ostp, role="addressee")

    [item] = anon.get("/api/organizations/").json()["results"]

    assert item["name"] == "Office of Science and Technology Policy"
    assert item["targeted_by"] == [
        {
            "letter": {"slug": letter.slug, "title": "Letter to OSTP"},
            "role": "addressee",
            "note": "",
        }
    ]


def test_it_filters_organizations_by_kind_and_finds_them_by_alias(anon):
    make_organization("OpenAI", kind="company")
    make_organization(
        "Office of Science and Technology Policy", kind="government", aliases=["OSTP"]
    )

    by_kind = anon.get("/api/organizations/", {"kind": "company"}).json()["results"]
    by_alias = anon.get("/api/organizations/", {"search": "ostp"}).json()["results"]

    assert [item["name"] for item in by_kind] == ["OpenAI"]
    assert [item["name"] for item in by_alias] == ["Office of Science and Technology Policy"]


def test_it_shows_who_is_affiliated_with_an_organization(anon):
    studio = make_organization("A24", kind="studio")
    people_services.affiliation_create(
        person=make_person("Cate Blanchett"), organization=studio, role="Producer"
    )

    body = anon.get(f"/api/organizations/{studio.pk}/").json()

    assert body["affiliated_count"] == 1
    assert [(a["person"]["name"], a["role"]) for a in body["affiliated"]] == [
        ("Cate Blanchett", "Producer")
    ]


def test_it_creates_an_organization_with_aliases_and_a_parent(editor_client):
    eop = make_organization("Executive Office of the President", kind="government")

    response = editor_client.post(
        "/api/organizations/",
        {
            "name": "Office of Science and Technology Policy",
            "kind": "government",
            "country": "us",
            "parent": eop.pk,
            "aliases": ["OSTP"],
            "external_ids": {"wikidata": "Q1501185"},
        },
        format="json",
    )

    assert response.status_code == 201
    body = response.json()
    assert (body["country"], body["parent"]["id"], body["aliases"]) == ("US", eop.pk, ["OSTP"])
    assert Organization.objects.get(pk=body["id"]).search_text.endswith("ostp")


def test_it_refuses_a_parent_that_would_make_a_loop(editor_client):
    parent = make_organization("Parent Org")
    child = make_organization("Child Org", parent=parent)

    response = editor_client.patch(
        f"/api/organizations/{parent.pk}/", {"parent": child.pk}, format="json"
    )

    assert response.status_code == 400
    assert response.json()["field"] == "parent"


def test_it_refuses_a_country_that_is_not_a_two_letter_code(editor_client):
    response = editor_client.post(
        "/api/organizations/", {"name": "Somewhere", "country": "1x"}, format="json"
    )

    assert response.status_code == 400
    assert response.json()["field"] == "country"


def test_it_updates_an_organizations_aliases_for_search(editor_client, anon):
    organization = make_organization("Office of Science and Technology Policy")

    editor_client.patch(
        f"/api/organizations/{organization.pk}/", {"aliases": ["OSTP"]}, format="json"
    )

    found = anon.get("/api/organizations/", {"search": "ostp"}).json()["results"]
    assert [item["id"] for item in found] == [organization.pk]


@pytest.mark.parametrize("page_size", [2, 6])
def test_the_organization_list_costs_three_queries_whatever_the_page_size(
    anon, django_assert_num_queries, page_size
):
    parent = make_organization("Parent")
    letter = make_letter()
    for n in range(5):
        organization = make_organization(f"Org {n}", parent=parent)
        letter_services.letter_target_set(letter=letter, organization=organization, role="subject")

    # 1. count, 2. the page with parents, 3. the letters targeting them
    with django_assert_num_queries(3):
        response = anon.get("/api/organizations/", {"page_size": page_size})

    assert len(response.json()["results"]) == page_size
