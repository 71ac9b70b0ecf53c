"""The questions journalists ask: who signed both letters (overlap), what else
a person signed and when (timeline), who from an organization signed (roll-up,
by slug or id, subsidiaries included). Each with its query budget at two sizes."""

from __future__ import annotations

import csv
import io
import json

import pytest

from letters import services as letter_services
from people import services as people_services
from people.merging.merge import person_merge
from tests.factories import make_letter, make_organization, make_person, make_source
from tests.processes import on_sqlite

pytestmark = pytest.mark.django_db


def _sign(letter, person, *, source=None, affiliation: str = ""):
    return letter_services.signature_record(
        letter=letter,
        source=source or make_source(letter),
        entry=letter_services.Entry(name=person.display_name, affiliation=affiliation),
        person=person,
    ).signature


def _retract(signature) -> None:
    letter_services.signature_change_status(
        signature=signature, status="retracted", reason="She asked to be taken off."
    )


@pytest.fixture
def lists():
    """Four people on the OSTP letter, two of them on the AI letter too (and a
    third who retracted there), one on the guild letter."""
    ostp, ai, guild, alone = (make_letter(slug=slug) for slug in ["ostp", "ai", "guild", "alone"])
    people = {
        name: make_person(name)
        for name in ["Ava DuVernay", "Ben Stiller", "Cate Blanchett", "Guillermo del Toro"]
    }
    for person in people.values():
        _sign(ostp, person)
    _sign(ai, people["Guillermo del Toro"])
    _sign(ai, people["Ava DuVernay"])
    _retract(_sign(ai, people["Ben Stiller"]))
    _sign(guild, people["Cate Blanchett"])
    _sign(alone, make_person("Oscar Wilde"))
    return people


def test_the_overlap_ranks_the_other_letters_by_shared_signatories(anon, lists):
    body = anon.get("/api/letters/ostp/overlap/").json()

    assert body["count"] == 2
    assert [(row["letter"]["slug"], row["shared"], row["jaccard"]) for row in body["results"]] == [
        ("ai", 2, 0.5),
        ("guild", 1, 0.25),
    ]


def test_the_overlap_with_another_letter_lists_who_signed_both_by_name(anon, lists):
    body = anon.get("/api/letters/ostp/overlap/?with=ai").json()

    assert body["count"] == 2
    assert [row["person"]["name"] for row in body["results"]] == [
        "Ava DuVernay",
        "Guillermo del Toro",
    ]
    assert {row["letter"] for row in body["results"][0]["signatures"]} == {"ostp", "ai"}


def test_the_people_who_signed_both_export_as_csv(anon, lists):
    response = anon.get("/api/letters/ostp/overlap/?with=ai&format=csv&bom=1")
    text = b"".join(response.streaming_content).decode("utf-8-sig")
    rows = list(csv.DictReader(io.StringIO(text)))

    assert response["Content-Type"].startswith("text/csv")
    assert [
        (row["name"], row["first_letter_status"], row["second_letter_status"]) for row in rows
    ] == [
        ("Ava DuVernay", "listed", "listed"),
        ("Guillermo del Toro", "listed", "listed"),
    ]


def test_the_overlap_ranking_exports_as_csv(anon, lists):
    response = anon.get("/api/letters/ostp/overlap/?format=csv")
    rows = list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))

    assert [(row["letter"], row["shared"], row["jaccard"]) for row in rows] == [
        ("ai", "2", "0.5"),
        ("guild", "1", "0.25"),
    ]


def test_an_overlap_with_an_unknown_letter_is_refused(anon, lists):
    response = anon.get("/api/letters/ostp/overlap/?with=nope")

    assert response.status_code == 400
    assert response.json()["field"] == "with"


@pytest.mark.parametrize("letters", [1, 3])
def test_the_overlap_costs_four_queries_whatever_the_number_of_letters(
    anon, django_assert_num_queries, letters
):
    ostp = make_letter(slug="ostp")
    person = make_person("Ava DuVernay")
    _sign(ostp, person)
    for n in range(letters):
        _sign(make_letter(slug=f"other-{n}"), person)

    # 1. the letter, 2. shared people per other letter, 3. people per letter,
    # 4. the other letters' slugs and titles
    with django_assert_num_queries(4):
        body = anon.get("/api/letters/ostp/overlap/").json()

    assert body["count"] == letters


@pytest.mark.parametrize("page_size", [1, 3])
def test_who_signed_both_costs_five_queries_whatever_the_page_size(
    anon, django_assert_num_queries, page_size
):
    ostp, ai = make_letter(slug="ostp"), make_letter(slug="ai")
    for n in range(4):
        person = make_person(f"Person Number{n}")
        _sign(ostp, person)
        _sign(ai, person)

    # 1. the letter, 2. the other letter, 3. the count, 4. the page of people,
    # 5. their signatures on both letters
    with django_assert_num_queries(5):
        body = anon.get(f"/api/letters/ostp/overlap/?with=ai&page_size={page_size}").json()

    assert len(body["results"]) == page_size
    assert all(len(row["signatures"]) == 2 for row in body["results"])


# --- Timeline -------------------------------------------------------------------


def test_the_timeline_tells_what_a_person_signed_and_what_happened_in_order(anon, lists):
    ava = lists["Ava DuVernay"]
    other = make_person("Ava Duvernay")
    _sign(make_letter(slug="later"), other)
    person_merge(survivor=ava, merged=other, reason="Same director.")
    ai_signature = ava.signatures.get(letter__slug="ai")
    letter_services.signature_change_status(
        signature=ai_signature,
        status="verified",
        reason="Her office confirmed.",
        evidence_method="email",
    )

    body = anon.get(f"/api/people/{ava.pk}/timeline/").json()

    assert [row["letter"]["slug"] for row in body["letters"]] == ["ostp", "ai", "later"]
    assert body["letters"][1]["status"] == "verified"
    kinds = [(event["kind"], event.get("letter")) for event in body["events"]]
    assert kinds[:3] == [("listed", "ostp"), ("listed", "ai"), ("listed", "later")]
    assert ("merged", None) in kinds
    assert kinds[-1] == ("status_changed", "ai")
    assert body["events"][-1]["reason"] == "Her office confirmed."
    times = [event["at"] for event in body["events"]]
    assert times == sorted(times)


def test_the_timeline_of_a_merged_record_redirects_to_the_survivor_s(anon):
    survivor, merged = make_person("Ava DuVernay"), make_person("Ava Duvernay")
    person_merge(survivor=survivor, merged=merged, reason="Same director.")

    response = anon.get(f"/api/people/{merged.pk}/timeline/")

    assert response.status_code == 301
    assert response["Location"].endswith(f"/api/people/{survivor.pk}/timeline/")


@pytest.mark.parametrize("letters", [1, 3])
def test_the_timeline_costs_eight_queries_whatever_the_number_of_letters(
    anon, django_assert_num_queries, letters
):
    person = make_person("Ava DuVernay")
    for n in range(letters):
        _sign(make_letter(slug=f"letter-{n}"), person)

    # 1. the person, 2. signatures with letters, 3. sightings with sources,
    # 4. gone and back events, 5. status changes, 6. merges, 7. splits, 8. renames
    with django_assert_num_queries(8):
        body = anon.get(f"/api/people/{person.pk}/timeline/").json()

    assert len(body["letters"]) == letters


# --- An organization's signatories ------------------------------------------------


@pytest.fixture
def studios():
    company = make_organization("Walt Disney Company", slug="disney")
    pixar = make_organization("Pixar", slug="pixar", parent=company)
    ostp, ai = make_letter(slug="ostp"), make_letter(slug="ai")
    animator = make_person("Brad Bird")
    people_services.affiliation_create(person=animator, organization=pixar)
    _sign(ostp, animator)
    _sign(ai, animator)
    executive = make_person("Bob Iger")
    _sign(ostp, executive, affiliation="Walt Disney Company")
    _sign(ostp, make_person("Cate Blanchett"))
    return company


@pytest.mark.parametrize("reference", ["disney", "id"])
def test_an_organization_s_signatories_include_those_under_it(anon, studios, reference):
    reference = studios.pk if reference == "id" else reference

    body = anon.get(f"/api/organizations/{reference}/signatories/").json()

    assert body["count"] == 2
    assert [row["person"]["name"] for row in body["results"]] == ["Brad Bird", "Bob Iger"]
    assert [row["letter"] for row in body["results"][0]["signatures"]] == ["ostp", "ai"]
    assert [(row["letter"]["slug"], row["people"]) for row in body["per_letter"]] == [
        ("ostp", 2),
        ("ai", 1),
    ]


def test_an_organization_s_signatories_of_one_letter(anon, studios):
    body = anon.get("/api/organizations/disney/signatories/?letter=ai").json()

    assert [row["person"]["name"] for row in body["results"]] == ["Brad Bird"]
    assert [row["letter"] for row in body["results"][0]["signatures"]] == ["ai"]
    assert body["per_letter"] == [
        {"letter": {"slug": "ai", "title": body["per_letter"][0]["letter"]["title"]}, "people": 1}
    ]


def test_organizations_answer_by_slug_as_by_id(anon, studios):
    by_slug = anon.get("/api/organizations/disney/")
    by_id = anon.get(f"/api/organizations/{studios.pk}/")

    assert by_slug.status_code == 200
    assert by_slug.json() == by_id.json()
    assert anon.get("/api/organizations/no-such-studio/").status_code == 404


@pytest.mark.parametrize("page_size", [1, 2])
def test_an_organization_s_signatories_cost_six_queries_whatever_the_page_size(
    anon, studios, django_assert_num_queries, page_size
):
    # 1. the organization, 2. it and those under it, 3. the count, 4. the page
    # of people, 5. their signatures, 6. people per letter
    with django_assert_num_queries(6):
        body = anon.get(f"/api/organizations/disney/signatories/?page_size={page_size}").json()

    assert len(body["results"]) == page_size


# --- On the default setup (SQLite), every question has an answer ----------------

DEMO_QUESTIONS = [
    "/api/changes/?since=2025-03-19T00:00:00Z",
    "/api/changes/?kind=status_changed",
    "/api/letters/hollywood-ai-copyright-ostp-2025/overlap/",
    "/api/letters/hollywood-ai-copyright-ostp-2025/overlap/?with=mipcom-2025-kling-ai-opinion",
    "/api/letters/hollywood-ai-copyright-ostp-2025/overlap/?with=mipcom-2025-kling-ai-opinion"
    "&format=csv",
    "/api/organizations/red-hour-productions/signatories/",
    "/api/organizations/red-hour-productions/signatories/?letter=hollywood-ai-copyright-ostp-2025",
    "/api/letters/hollywood-ai-copyright-ostp-2025/signatures/?as_of=2025-03-20T12:00:00Z",
    "/api/letters/hollywood-ai-copyright-ostp-2025/signatures/?as_of=2025-03-20T12:00:00Z"
    "&format=csv",
    "/api/people/?search=cuaroon",
    "/api/letters/hollywood-ai-copyright-ostp-2025/signatures/?page_size=2",
]


def demo_answers() -> dict:
    """Status and body of each question asked of the demo, with the person who
    signed both letters' timeline (run by the SQLite test in a process of its own)."""
    from django.test import Client

    from people.models import Person

    client = Client(HTTP_HOST="127.0.0.1")
    answers = {url: client.get(url) for url in DEMO_QUESTIONS}
    answers["next page"] = client.get(answers[DEMO_QUESTIONS[-1]].json()["next"])
    both = Person.objects.get(display_name="Alfonso Cuarón", merged_into__isnull=True)
    answers["timeline"] = client.get(f"/api/people/{both.pk}/timeline/")
    return {url: [r.status_code, r.getvalue().decode()] for url, r in answers.items()}


@pytest.mark.slow
def test_on_sqlite_every_journalist_s_question_is_answered_on_the_demo(tmp_path):
    answers = on_sqlite(
        tmp_path, "tests.api.test_questions:demo_answers", commands=(("load_demo",),)
    )

    assert {url: status for url, (status, _body) in answers.items()} == dict.fromkeys(answers, 200)
    body = {url: text for url, (_status, text) in answers.items()}
    rollup = json.loads(body["/api/organizations/red-hour-productions/signatories/"])
    assert [row["person"]["name"] for row in rollup["results"]] == ["Ben Stiller"]
    as_of = json.loads(body[DEMO_QUESTIONS[7]])
    assert "Alex Example" in {
        row["person"]["name"] for row in as_of["results"]
    }  # not yet retracted
    assert "Alfonso Cuar" in body[DEMO_QUESTIONS[4]]
    assert json.loads(body["/api/people/?search=cuaroon"])["results"][0]["name"] == "Alfonso Cuarón"
    assert json.loads(body["timeline"])["letters"][1]["letter"]["slug"] == (
        "mipcom-2025-kling-ai-opinion"
    )
    first, second = (json.loads(body[key])["results"] for key in (DEMO_QUESTIONS[-1], "next page"))
    assert len(first) == len(second) == 2
    assert {row["id"] for row in first}.isdisjoint(row["id"] for row in second)
    times = [(row["first_seen"], row["id"]) for row in first + second]
    assert times == sorted(times)
    assert all(row["last_seen"].endswith("Z") for row in first + second)
