"""What every list shares: a count, a documented ordering that folds case,
accents and particles, JSON errors on every /api/ address, CORS for anonymous
reads, CSV with an optional byte order mark, people and organizations exported
as CSV and NDJSON, and the public status of signatures no source lists any more."""

from __future__ import annotations

import csv
import io
import json

import pytest
from django.db import connections
from playwright.sync_api import sync_playwright

from letters.models import Signature
from people import services as people_services
from tests.browser import chromium
from tests.factories import make_letter, make_organization, make_person, make_signature
from tests.letters.fixtures.syncs import source_for, sync
from tracker.testing.servers import FeedServer

pytestmark = pytest.mark.django_db

LISTS = [
    "/api/letters/",
    "/api/signatures/",
    "/api/people/",
    "/api/organizations/",
    "/api/sources/",
    "/api/sync-runs/",
    "/api/duplicates/",
    "/api/match-runs/",
    "/api/merges/",
    "/api/splits/",
    "/api/changes/",
]
NAMES = ["Oscar Wilde", "Guillermo del Toro", "Alfonso Cuarón", "Ava DuVernay", "Quentin Tarantino"]
BY_NAME = [
    "Alfonso Cuarón",
    "Ava DuVernay",
    "Quentin Tarantino",
    "Guillermo del Toro",
    "Oscar Wilde",
]


def _csv(response) -> list[dict]:
    return list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))


@pytest.mark.parametrize("url", LISTS)
def test_every_list_has_a_count(staff_client, url):
    make_signature(make_letter(), "Ava DuVernay")

    body = staff_client.get(url).json()

    assert body["count"] == len(body["results"])


def test_the_count_covers_every_page(anon):
    letter = make_letter()
    for name in NAMES:
        make_signature(letter, name)

    first = anon.get(f"/api/letters/{letter.slug}/signatures/?page_size=2").json()
    second = anon.get(first["next"]).json()

    assert (first["count"], second["count"]) == (5, 5)


def test_people_sort_by_family_name_folding_case_accents_and_particles(anon):
    for name in NAMES:
        make_person(name)

    names = [item["name"] for item in anon.get("/api/people/").json()["results"]]
    reverse = [item["name"] for item in anon.get("/api/people/?ordering=-name").json()["results"]]

    assert names == BY_NAME
    assert reverse == BY_NAME[::-1]


def test_a_letter_s_signatures_page_by_name_in_that_order(anon):
    letter = make_letter()
    for name in NAMES:
        make_signature(letter, name)
    url = f"/api/letters/{letter.slug}/signatures/?ordering=name&page_size=2"

    names, page = [], anon.get(url).json()
    while True:
        names += [item["person"]["name"] for item in page["results"]]
        if not page["next"]:
            break
        page = anon.get(page["next"]).json()

    assert names == BY_NAME


def test_organizations_sort_by_name_ignoring_case(anon):
    for name in ["warner Bros.", "A24", "Écran Total"]:
        make_organization(name)

    body = anon.get("/api/organizations/?ordering=name").json()

    assert [item["name"] for item in body["results"]] == ["A24", "Écran Total", "warner Bros."]


@pytest.mark.parametrize(
    "url",
    [
        "/api/people/?ordering=shoe_size",
        "/api/letters/?ordering=name",
        "/api/organizations/?ordering=-",
        "/api/signatures/?ordering=person",
        "/api/letters/ai/signatures/?ordering=title",
    ],
)
def test_an_unknown_ordering_is_refused_naming_the_ones_there_are(anon, url):
    make_letter(slug="ai")

    response = anon.get(url)

    assert response.status_code == 400
    assert response.json()["field"] == "ordering"
    assert "Order by one of" in response.json()["message"]


def test_the_schema_lists_each_list_s_orderings(anon):
    paths = anon.get("/api/schema/?format=json").json()["paths"]

    def orderings(path: str) -> list[str]:
        [parameter] = [p for p in paths[path]["get"]["parameters"] if p["name"] == "ordering"]
        return parameter["schema"]["enum"]

    assert set(orderings("/api/people/")) >= {"name", "-name"}
    assert set(orderings("/api/letters/{letter_slug}/signatures/")) >= {"first_seen", "name"}
    assert set(orderings("/api/letters/")) >= {"-published", "title"}


@pytest.mark.parametrize("debug", [False, True])
@pytest.mark.parametrize("url", ["/api/nothing-here/", "/api/letters/x/y/z/", "/api/people/abc/"])
def test_an_unknown_api_address_answers_the_json_error(anon, settings, debug, url):
    settings.DEBUG = debug

    response = anon.get(url, HTTP_ACCEPT="text/html")

    assert response.status_code == 404
    assert response["Content-Type"] == "application/json"
    assert response.json()["code"] == "not_found"


def test_anonymous_reads_are_open_to_other_origins(anon):
    response = anon.get("/api/letters/", HTTP_ORIGIN="https://newsroom.example")

    assert response.status_code == 200
    assert response["Access-Control-Allow-Origin"] == "*"
    assert "Access-Control-Allow-Credentials" not in response


def _preflight(anon, method: str, headers: str):
    return anon.options(
        "/api/letters/",
        HTTP_ORIGIN="https://newsroom.example",
        HTTP_ACCESS_CONTROL_REQUEST_METHOD=method,
        HTTP_ACCESS_CONTROL_REQUEST_HEADERS=headers,
    )


def test_other_origins_may_not_write(anon):
    allowed = _preflight(anon, "POST", "content-type")["Access-Control-Allow-Methods"]

    assert "GET" in allowed.split(", ")
    assert "POST" not in allowed.split(", ")


def test_other_origins_may_not_send_a_token(anon):
    allowed = _preflight(anon, "GET", "authorization")["Access-Control-Allow-Headers"]

    assert "authorization" not in allowed.split(", ")


@pytest.mark.django_db(transaction=True)
def test_a_page_on_another_origin_reads_the_api_in_a_browser_but_cannot_write(
    live_server, monkeypatch
):
    make_letter(slug="ostp-ai-copyright-2025", title="Letter to OSTP")
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    # The same server under its other name is another origin to the browser.
    host = "localhost" if "localhost" in live_server.url else "127.0.0.1"
    other_origin = live_server.url.replace(host, {"localhost": "127.0.0.1"}.get(host, "localhost"))
    read = "fetch(url).then(r => r.json()).then(b => b.results[0].title)"
    write = (
        "fetch(url, {method: 'POST', headers: {'Content-Type': 'application/json', "
        "Authorization: 'Token x'}, body: '{}'}).then(() => 'sent', () => 'refused')"
    )
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=chromium())
            try:
                page = browser.new_page()
                page.goto(f"{other_origin}/api/docs/")
                url = f"{live_server.url}/api/letters/"
                title = page.evaluate(f"url => {read}", url)
                written = page.evaluate(f"url => {write}", url)
            finally:
                browser.close()
    finally:
        for connection in connections.all():
            connection.close()

    assert title == "Letter to OSTP"
    assert written == "refused"


def test_a_csv_export_starts_with_a_byte_order_mark_when_asked(anon):
    letter = make_letter()
    make_signature(letter, "Alfonso Cuarón")
    url = f"/api/letters/{letter.slug}/signatures/?format=csv"

    with_bom = b"".join(anon.get(url + "&bom=1").streaming_content)
    without = b"".join(anon.get(url).streaming_content)

    assert with_bom.startswith("\ufeffsignature_id,".encode())
    assert without.startswith(b"signature_id,")
    assert "Cuarón" in with_bom.decode("utf-8-sig")


def test_a_bom_that_is_neither_yes_nor_no_is_refused_as_json(anon):
    letter = make_letter()

    response = anon.get(f"/api/letters/{letter.slug}/signatures/?format=csv&bom=maybe")

    assert response.status_code == 400
    assert response.json()["field"] == "bom"


def test_people_export_as_csv_and_ndjson_in_the_list_s_order(anon):
    for name in NAMES:
        make_person(name)
    people_services.person_update(
        person=make_person("Maggie Gyllenhaal"), external_ids={"wikidata": "Q229313"}
    )

    rows = _csv(anon.get("/api/people/?format=csv&bom=1&search=gyllenhaal"))
    lines = b"".join(anon.get("/api/people/?format=ndjson").streaming_content).splitlines()

    assert [(row["\ufeffid"] != "", row["name"]) for row in rows] == [(True, "Maggie Gyllenhaal")]
    assert json.loads(rows[0]["external_ids"]) == {"wikidata": "Q229313"}
    assert [json.loads(line)["name"] for line in lines] == [
        "Alfonso Cuarón",
        "Ava DuVernay",
        "Maggie Gyllenhaal",
        "Quentin Tarantino",
        "Guillermo del Toro",
        "Oscar Wilde",
    ]


def test_organizations_export_as_csv_and_ndjson(anon):
    company = make_organization("Walt Disney Company", slug="disney")
    people_services.organization_update(organization=company, aliases=["Disney"])
    make_organization("Pixar", slug="pixar", parent=company)

    rows = _csv(anon.get("/api/organizations/?format=csv"))
    lines = b"".join(anon.get("/api/organizations/?format=ndjson").streaming_content).splitlines()

    assert [(row["slug"], row["parent"], row["aliases"]) for row in rows] == [
        ("pixar", "disney", ""),
        ("disney", "", "Disney"),
    ]
    assert json.loads(lines[1])["aliases"] == ["Disney"]
    assert json.loads(lines[0])["parent"] == "disney"


@pytest.mark.parametrize("page_size", [1, 3])
def test_a_people_export_costs_one_query_whatever_the_page_size(
    anon, django_assert_num_queries, page_size
):
    for name in NAMES:
        make_person(name)

    # 1. the people (the export ignores pages), read through one query
    with django_assert_num_queries(1):
        response = anon.get(f"/api/people/?format=csv&page_size={page_size}")
        rows = _csv(response)

    assert len(rows) == 5


@pytest.mark.parametrize("page_size", [1, 3])
def test_an_organization_export_costs_one_query_whatever_the_page_size(
    anon, django_assert_num_queries, page_size
):
    for n in range(4):
        make_organization(f"Studio {n}")

    # 1. the organizations with their parents' slugs
    with django_assert_num_queries(1):
        lines = b"".join(
            anon.get(f"/api/organizations/?format=ndjson&page_size={page_size}").streaming_content
        ).splitlines()

    assert len(lines) == 4


@pytest.mark.django_db(transaction=True)
def test_a_signature_no_source_lists_any_more_reads_unlisted_in_lists_counts_and_exports(
    anon, settings
):
    settings.TRACKER_ALLOW_PRIVATE_SOURCES = True
    letter = make_letter()
    with FeedServer() as feeds:
        source = source_for(letter, feeds, b"name\nAva DuVernay\nCate Blanchett\n")
        sync(source)
        feeds.serve("/signatories.csv", b"name\nAva DuVernay\n", content_type="text/csv")
        sync(source)
    dropped = Signature.objects.get(person__display_name="Cate Blanchett")

    page = anon.get(f"/api/letters/{letter.slug}/signatures/").json()["results"]
    detail = anon.get(f"/api/signatures/{dropped.pk}/").json()
    counts = anon.get(f"/api/letters/{letter.slug}/").json()["counts"]
    rows = _csv(anon.get(f"/api/letters/{letter.slug}/signatures/?format=csv"))

    shown = {item["person"]["name"]: (item["status"], item["public_status"]) for item in page}
    assert shown == {"Ava DuVernay": ("listed", "listed"), "Cate Blanchett": ("listed", "unlisted")}
    assert detail["public_status"] == "unlisted"
    assert (counts["by_public_status"]["listed"], counts["by_public_status"]["unlisted"]) == (1, 1)
    assert counts["by_status"]["listed"] == 2
    assert {row["name"]: row["public_status"] for row in rows} == {
        "Ava DuVernay": "listed",
        "Cate Blanchett": "unlisted",
    }
