"""/api/letters/: list, create, read and update letters."""

from __future__ import annotations

import pytest

from letters import services as letter_services
from letters.models import Letter
from tests.factories import make_letter, make_organization, make_signature, make_source

pytestmark = pytest.mark.django_db


def test_it_creates_a_letter_from_a_title_and_a_slug_alone(editor_client):
    response = editor_client.post(
        "/api/letters/", {"title": "Letter to OSTP", "slug": "ostp-2025"}, format="json"
    )

    assert response.status_code == 201
    assert response["Location"] == "/api/letters/ostp-2025/"
    body = response.json()
    assert body["slug"] == "ostp-2025"
    assert body["status"] == "open"
    assert body["counts"] == {
        "signatures": 0,
        "people": 0,
        "by_status": {"listed": 0, "verified": 0, "disputed": 0, "retracted": 0, "removed": 0},
        "by_public_status": {
            "listed": 0,
            "verified": 0,
            "disputed": 0,
            "retracted": 0,
            "removed": 0,
            "unlisted": 0,
        },
        "listed_by_sources": 0,
        "listed_by_one_source": 0,
    }
    assert Letter.objects.get(slug="ostp-2025").title == "Letter to OSTP"


def test_it_parses_the_claimed_count_given_at_creation(editor_client):
    response = editor_client.post(
        "/api/letters/",
        {"title": "A letter", "slug": "a-letter", "claimed_count": "400+", "language": "en"},
        format="json",
    )

    assert response.status_code == 201
    assert response.json()["claimed_count"] == "400+"
    assert response.json()["claimed_count_min"] == 400


def test_it_refuses_a_second_letter_with_the_same_slug_naming_the_field(editor_client):
    make_letter(slug="taken")

    response = editor_client.post(
        "/api/letters/", {"title": "Another", "slug": "taken"}, format="json"
    )

    assert response.status_code == 409
    assert response.json()["field"] == "slug"
    assert "taken" in response.json()["message"]


def test_it_refuses_a_slug_with_capitals_or_spaces(editor_client):
    response = editor_client.post(
        "/api/letters/", {"title": "A letter", "slug": "Not A Slug"}, format="json"
    )

    assert response.status_code == 400
    assert response.json()["field"] == "slug"


def test_it_updates_some_fields_of_a_letter(editor_client):
    letter = make_letter(title="Draft title")

    response = editor_client.patch(
        f"/api/letters/{letter.slug}/",
        {"title": "Final title", "status": "closed", "claimed_count": "more than 1,200"},
        format="json",
    )

    assert response.status_code == 200
    letter.refresh_from_db()
    assert (letter.title, letter.status, letter.claimed_count_min) == (
        "Final title",
        "closed",
        1200,
    )


def test_it_renames_a_letter_and_serves_it_at_its_new_slug(editor_client, anon):
    letter = make_letter()

    response = editor_client.patch(
        f"/api/letters/{letter.slug}/", {"slug": "renamed"}, format="json"
    )

    assert response.status_code == 200
    assert anon.get("/api/letters/renamed/").status_code == 200
    assert anon.get(f"/api/letters/{letter.slug}/").status_code == 404


def test_it_shows_targets_with_roles_sources_and_counts_on_a_letter(anon):
    letter = make_letter(claimed_count="400+")
    ostp = make_organization("Office of Science and Technology Policy", kind="government")
    openai = make_organization("OpenAI", kind="company")
    letter_services.letter_target_set(letter=letter, organization=ostp, role="addressee")
    letter_services.letter_target_set(letter=letter, organization=openai, role="subject")
    variety = make_source(letter, name="Variety", url="https://variety.example/letter")
    kept = make_signature(letter, "Ava DuVernay")
    letter_services.signature_record(
        letter=letter, source=variety, entry=letter_services.Entry(name="Ava DuVernay")
    )
    make_signature(letter, "Cate Blanchett")
    letter_services.signature_change_status(
        signature=kept, status="verified", reason="Confirmed by her agent."
    )

    body = anon.get(f"/api/letters/{letter.slug}/").json()

    assert {(t["organization"]["name"], t["role"]) for t in body["targets"]} == {
        ("Office of Science and Technology Policy", "addressee"),
        ("OpenAI", "subject"),
    }
    assert body["claimed_count"] == "400+"
    assert {(source["name"], source["people"]) for source in body["sources"]} == {
        ("Variety", 1),
        ("Editors", 2),
    }
    assert (body["counts"]["listed_by_sources"], body["counts"]["listed_by_one_source"]) == (2, 1)
    assert body["counts"]["signatures"] == 2
    assert body["counts"]["people"] == 2
    assert body["counts"]["by_status"]["verified"] == 1
    assert body["counts"]["by_status"]["listed"] == 1


def test_it_leaves_signatures_removed_as_fake_out_of_public_counts(anon, staff_client):
    letter = make_letter()
    fake = make_signature(letter, "Mickey Mouse")
    make_signature(letter, "Ava DuVernay")
    letter_services.signature_change_status(
        signature=fake, status="removed", reason="Not a real signatory."
    )

    public = anon.get(f"/api/letters/{letter.slug}/").json()["counts"]
    staff = staff_client.get(f"/api/letters/{letter.slug}/").json()["counts"]

    assert public["signatures"] == 1
    assert "removed" not in public["by_status"]
    assert staff["signatures"] == 2
    assert staff["by_status"]["removed"] == 1


def test_it_filters_letters_by_status_target_and_search(anon):
    openai = make_organization("OpenAI", kind="company")
    about_openai = make_letter(title="On OpenAI and copyright")
    letter_services.letter_target_set(letter=about_openai, organization=openai, role="subject")
    closed = make_letter(title="An older appeal", status="closed")

    by_target = anon.get(f"/api/letters/?target={openai.pk}&target_role=subject").json()
    by_status = anon.get("/api/letters/?status=closed").json()
    by_search = anon.get("/api/letters/?search=copyrigth").json()

    assert [item["slug"] for item in by_target["results"]] == [about_openai.slug]
    assert [item["slug"] for item in by_status["results"]] == [closed.slug]
    assert [item["slug"] for item in by_search["results"]] == [about_openai.slug]


def test_it_filters_letters_by_a_targets_slug_or_id_with_those_under_it(anon):
    company = make_organization("Alphabet", slug="alphabet", kind="company")
    deepmind = make_organization("Google DeepMind", kind="company", parent=company)
    to_company = make_letter(title="To Alphabet")
    about_deepmind = make_letter(title="On DeepMind")
    letter_services.letter_target_set(letter=to_company, organization=company, role="addressee")
    letter_services.letter_target_set(letter=about_deepmind, organization=deepmind, role="subject")

    def slugs(target) -> set[str]:
        return {
            item["slug"] for item in anon.get("/api/letters/", {"target": target}).json()["results"]
        }

    assert slugs("alphabet") == slugs(company.pk) == {to_company.slug, about_deepmind.slug}
    assert slugs(deepmind.slug) == {about_deepmind.slug}
    assert slugs("nowhere") == set()


def test_it_answers_an_unknown_letter_with_a_404_in_the_error_format(anon):
    response = anon.get("/api/letters/no-such-letter/")

    assert response.status_code == 404
    assert response.json()["code"] == "not_found"
    assert "no-such-letter" in response.json()["message"]


@pytest.mark.parametrize("page_size", [2, 6])
def test_the_letter_list_costs_three_queries_whatever_the_page_size(
    anon, django_assert_num_queries, page_size
):
    openai = make_organization("OpenAI", kind="company")
    for _ in range(6):
        letter = make_letter()
        letter_services.letter_target_set(letter=letter, organization=openai, role="subject")

    # 1. count, 2. the page of letters, 3. their targets with organizations
    with django_assert_num_queries(3):
        response = anon.get(f"/api/letters/?page_size={page_size}")

    assert len(response.json()["results"]) == page_size
    assert all(item["targets"] for item in response.json()["results"])


def test_the_letter_detail_counts_with_aggregates_whatever_the_size(
    anon, django_assert_num_queries
):
    letter = make_letter()
    for name in ["Ava DuVernay", "Cate Blanchett", "Paul McCartney"]:
        make_signature(letter, name)

    # 1. the letter, 2. its targets, 3. its sources, 4. its organisers,
    # 5. the counts by status and of people, in one aggregate; per source
    # (letters.selectors.letter_source_counts): 6. people listed, 7. people
    # listed there only, 8. people listed by any, 9. people tracked, 10. sources
    with django_assert_num_queries(10):
        response = anon.get(f"/api/letters/{letter.slug}/")

    assert response.json()["counts"]["people"] == 3
