"""Signatures: nested under their letter (list, create, CSV export) and on their
own (list, detail with history, status changes)."""

from __future__ import annotations

import base64
import csv
import io
from datetime import timedelta

import pytest
from django.db import connection
from django.http import StreamingHttpResponse
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from letters import selectors as letter_selectors
from letters import services as letter_services
from letters.models import Sighting, Signature, Source
from people import services as people_services
from people.merging.merge import person_merge
from tests.factories import make_letter, make_organization, make_person, make_signature, make_source
from tracker import csv as tracker_csv

pytestmark = pytest.mark.django_db


def _record(letter, source, name, **entry):
    return letter_services.signature_record(
        letter=letter, source=source, entry=letter_services.Entry(name=name, **entry)
    ).signature


def _csv(response) -> list[dict]:
    assert isinstance(response, StreamingHttpResponse)
    return _csv_text(b"".join(response.streaming_content).decode())


def _csv_text(text: str) -> list[dict]:
    return list(csv.DictReader(io.StringIO(text, newline="")))


# --- Listing ------------------------------------------------------------------


def test_it_lists_a_letters_signatures_with_what_each_source_wrote(anon):
    letter = make_letter()
    press = make_source(letter, name="Variety")
    signature = _record(letter, press, "Maggie Gylenhall", title="Actor")
    _record(letter, make_source(letter, name="Deadline"), "Gylenhall, Maggie")

    body = anon.get(f"/api/letters/{letter.slug}/signatures/").json()

    assert body["previous"] is None and body["next"] is None
    [item] = body["results"]
    assert item["id"] == signature.pk
    assert item["person"] == {"id": signature.person_id, "name": "Maggie Gylenhall"}
    assert (item["status"], item["title"], item["affiliation"]) == ("listed", "Actor", "")
    assert item["first_seen"] and item["last_seen"]
    assert sorted((s["source"], s["name"], s["present"]) for s in item["sightings"]) == [
        ("Deadline", "Gylenhall, Maggie", True),
        ("Variety", "Maggie Gylenhall", True),
    ]
    assert {"title", "affiliation", "first_seen", "last_seen"} <= set(item["sightings"][0])


def test_it_leaves_signatures_merged_into_another_out_of_the_list(anon):
    letter = make_letter()
    kept = make_signature(letter, "Ava DuVernay")
    merged = make_signature(letter, "Ava Marie DuVernay")
    person_merge(survivor=kept.person, merged=merged.person)

    body = anon.get(f"/api/letters/{letter.slug}/signatures/").json()

    assert [item["id"] for item in body["results"]] == [kept.pk]
    assert Signature.objects.get(pk=merged.pk).merged_into_id == kept.pk


def test_it_shows_signatures_removed_as_fake_to_staff_only(anon, reader, staff_client):
    letter = make_letter()
    fake = make_signature(letter, "Mickey Mouse")
    make_signature(letter, "Ava DuVernay")
    letter_services.signature_change_status(signature=fake, status="removed", reason="Fake.")
    url = f"/api/letters/{letter.slug}/signatures/"

    assert fake.pk not in [item["id"] for item in anon.get(url).json()["results"]]
    assert fake.pk not in [item["id"] for item in reader.get(url).json()["results"]]
    assert fake.pk in [item["id"] for item in staff_client.get(url).json()["results"]]
    assert anon.get(f"/api/signatures/{fake.pk}/").status_code == 404
    assert staff_client.get(f"/api/signatures/{fake.pk}/").status_code == 200


def test_it_pages_with_a_cursor_through_rows_sharing_a_timestamp(anon):
    letter = make_letter()
    source = make_source(letter)
    at = timezone.now()
    # One sync run records all its entries at the same moment.
    ids = [
        letter_services.signature_record(
            letter=letter, source=source, entry=letter_services.Entry(name=f"Person {n}"), at=at
        ).signature.pk
        for n in range(7)
    ]

    seen, url = [], f"/api/letters/{letter.slug}/signatures/?page_size=3"
    while url:
        page = anon.get(url).json()
        seen += [item["id"] for item in page["results"]]
        url = page["next"]

    assert seen == sorted(ids)


def test_it_goes_back_a_page_with_the_previous_link(anon):
    letter = make_letter()
    for n in range(5):
        make_signature(letter, f"Person {n}")
    first = anon.get(f"/api/letters/{letter.slug}/signatures/?page_size=2").json()
    second = anon.get(first["next"]).json()

    back = anon.get(second["previous"]).json()

    assert [item["id"] for item in back["results"]] == [item["id"] for item in first["results"]]


def test_it_tells_an_unknown_letter_from_one_without_signatures(anon):
    empty = make_letter()

    assert anon.get(f"/api/letters/{empty.slug}/signatures/").json()["results"] == []
    assert anon.get("/api/letters/no-such-letter/signatures/").status_code == 404
    assert anon.get("/api/letters/no-such-letter/signatures/?format=csv").status_code == 404


@pytest.mark.parametrize(
    "cursor",
    [
        "bm90LWpzb24",  # not JSON
        base64.urlsafe_b64encode(b'{"p":["2025-13-01T00:00:00Z",1],"r":false}').decode(),
        base64.urlsafe_b64encode(b'{"p":["2025-01-01T00:00:00Z","1"],"r":false}').decode(),
        base64.urlsafe_b64encode(b'{"p":[1],"r":false}').decode(),
    ],
)
def test_it_answers_a_forged_cursor_with_a_404_not_a_500(anon, cursor):
    letter = make_letter()

    response = anon.get(f"/api/letters/{letter.slug}/signatures/", {"cursor": cursor})

    assert response.status_code == 404
    assert "cursor" in response.json()["message"]


def test_it_filters_signatures_by_status_source_and_organization(anon):
    letter = make_letter()
    press = make_source(letter, name="Variety")
    studio = make_organization("A24", kind="studio")
    in_press = _record(letter, press, "Ava DuVernay")
    affiliated = make_signature(letter, "Cate Blanchett")
    people_services.affiliation_create(person=affiliated.person, organization=studio, role="Actor")
    verified = make_signature(letter, "Paul McCartney")
    letter_services.signature_change_status(signature=verified, status="verified", reason="Agent.")
    url = f"/api/letters/{letter.slug}/signatures/"

    def ids(query: str) -> list[int]:
        return [item["id"] for item in anon.get(url + query).json()["results"]]

    assert ids(f"?source={press.pk}") == [in_press.pk]
    assert ids(f"?organization={studio.pk}") == [affiliated.pk]
    assert ids("?status=verified") == [verified.pk]
    assert ids("?status=verified&status=listed") == [in_press.pk, affiliated.pk, verified.pk]


def test_signatures_stating_an_organization_created_through_the_api_are_found_by_it(
    editor_client, anon, django_capture_on_commit_callbacks
):
    letter = make_letter()
    stated = _record(letter, make_source(letter), "Billy Ray", affiliation="WGA")

    with django_capture_on_commit_callbacks(execute=True):
        created = editor_client.post(
            "/api/organizations/",
            {"name": "Writers Guild of America", "kind": "union", "aliases": ["WGA"]},
            format="json",
        )
    later = editor_client.post(
        f"/api/letters/{letter.slug}/signatures/",
        {"name": "Tony Gilroy", "affiliation": "Writers Guild of America"},
        format="json",
    )
    organization = created.json()["id"]

    nested = anon.get(f"/api/letters/{letter.slug}/signatures/?organization={organization}")
    every = anon.get(f"/api/signatures/?organization={organization}")
    expected = [stated.pk, later.json()["id"]]
    assert [item["id"] for item in nested.json()["results"]] == expected
    assert [item["id"] for item in every.json()["results"]] == expected


def test_it_filters_signatures_by_an_organizations_slug_or_id_with_those_under_it(anon):
    letter = make_letter()
    press = make_source(letter)
    company = make_organization("Walt Disney Company", slug="disney", kind="company")
    studio = make_organization("Pixar Animation Studios", kind="studio", parent=company)
    make_organization("Warner Bros.", kind="studio")
    at_company = _record(letter, press, "Bob Iger", affiliation="Walt Disney Company")
    at_studio = _record(letter, press, "Pete Docter", affiliation="Pixar Animation Studios")
    _record(letter, press, "Mike De Luca", affiliation="Warner Bros.")
    url = f"/api/letters/{letter.slug}/signatures/"

    def ids(organization) -> list[int]:
        response = anon.get(url, {"organization": organization})
        return [item["id"] for item in response.json()["results"]]

    assert ids("disney") == ids(company.pk) == [at_company.pk, at_studio.pk]
    assert ids(studio.slug) == ids(studio.pk) == [at_studio.pk]


def test_an_unknown_organization_slug_or_id_finds_no_signature(anon):
    letter = make_letter()
    _record(letter, make_source(letter), "Bob Iger", affiliation="Walt Disney Company")
    make_organization("Walt Disney Company")

    for organization in ("nowhere", "99999999"):
        response = anon.get("/api/signatures/", {"organization": organization})
        assert (response.status_code, response.json()["results"]) == (200, [])


def test_it_refuses_an_organization_that_is_neither_an_id_nor_a_slug(anon):
    response = anon.get("/api/signatures/", {"organization": "1.5"})

    assert (response.status_code, response.json()["field"]) == (400, "organization")


def test_the_schema_says_the_organization_filter_takes_a_slug_or_an_id_with_those_under_it(anon):
    schema = anon.get("/api/schema/?format=json").json()

    [parameter] = [
        parameter
        for parameter in schema["paths"]["/api/signatures/"]["get"]["parameters"]
        if parameter["name"] == "organization"
    ]
    assert parameter["schema"] == {"type": "string"}
    assert "id or its slug" in parameter["description"]
    assert "under it" in parameter["description"]


def test_a_page_of_an_organizations_signatures_costs_one_query_more_for_those_under_it(
    anon, django_assert_num_queries
):
    letter = make_letter()
    company = make_organization("Walt Disney Company", slug="disney")
    for n in range(4):
        studio = make_organization(f"Studio {n}", parent=company)
        _record(letter, make_source(letter), f"Person {n}", affiliation=studio.name)

    # 1. the organization and those under it, 2. the letter by slug, 3. the
    # count, 4. the page
    with django_assert_num_queries(4):
        response = anon.get(f"/api/letters/{letter.slug}/signatures/?organization=disney")

    assert len(response.json()["results"]) == 4


def test_it_finds_signatures_by_any_spelling_ignoring_accents_and_typos(anon):
    letter = make_letter()
    cuaron = make_signature(letter, "Alfonso Cuarón")
    gyllenhaal = _record(letter, make_source(letter), "Maggie Gylenhall")
    make_signature(letter, "Jake Gyllenhaal")
    url = f"/api/letters/{letter.slug}/signatures/?search="

    assert [item["id"] for item in anon.get(url + "cuaron").json()["results"]] == [cuaron.pk]
    found = [item["id"] for item in anon.get(url + "maggie gyllenhaal").json()["results"]]
    assert found[0] == gyllenhaal.pk


def test_it_filters_signatures_by_when_they_were_first_seen(anon):
    letter = make_letter()
    source = make_source(letter)
    now = timezone.now()
    old = letter_services.signature_record(
        letter=letter,
        source=source,
        entry=letter_services.Entry(name="Early Signer"),
        at=now - timedelta(days=10),
    ).signature
    new = letter_services.signature_record(
        letter=letter, source=source, entry=letter_services.Entry(name="Late Signer"), at=now
    ).signature
    url = f"/api/letters/{letter.slug}/signatures/"
    cut = (now - timedelta(days=1)).isoformat().replace("+00:00", "Z")

    after = anon.get(url, {"first_seen_after": cut}).json()["results"]
    before = anon.get(url, {"first_seen_before": cut}).json()["results"]

    assert [item["id"] for item in after] == [new.pk]
    assert [item["id"] for item in before] == [old.pk]


def test_it_refuses_a_malformed_filter_naming_the_parameter(anon):
    letter = make_letter()

    response = anon.get(f"/api/letters/{letter.slug}/signatures/?first_seen_after=yesterday")

    assert response.status_code == 400
    assert response.json()["field"] == "first_seen_after"


@pytest.mark.parametrize("page_size", [2, 8])
def test_a_page_of_signatures_costs_three_queries_whatever_its_size(
    anon, django_assert_num_queries, page_size
):
    letter = make_letter()
    other = make_source(letter)
    for n in range(8):
        _record(letter, other, f"Person {n}")
        make_signature(letter, f"Person {n}")

    # 1. the letter by slug (its id, as a literal, lets PostgreSQL plan the page
    # on the letter's index), 2. the count of the filtered list, 3. the page of
    # signatures with their people and, aggregated per row as JSON, their
    # sightings with their sources
    with django_assert_num_queries(3):
        response = anon.get(f"/api/letters/{letter.slug}/signatures/?page_size={page_size}")

    assert len(response.json()["results"]) == page_size
    assert all(len(item["sightings"]) == 2 for item in response.json()["results"])


@pytest.mark.parametrize("page_size", [2, 8])
def test_the_list_of_every_signature_costs_two_queries_whatever_its_size(
    anon, django_assert_num_queries, page_size
):
    for n in range(8):
        make_signature(make_letter(), f"Person {n}")

    # 1. the count, 2. the page of signatures with their people, letters and sightings
    with django_assert_num_queries(2):
        response = anon.get(f"/api/signatures/?page_size={page_size}")

    assert len(response.json()["results"]) == page_size


def test_it_lists_every_signature_of_a_person_across_letters(anon):
    person = make_person("Cate Blanchett")
    first, second = make_letter(), make_letter()
    signatures = [
        letter_services.signature_record_manual(letter=letter, by=None, person=person)
        for letter in (first, second)
    ]
    make_signature(first, "Someone Else")

    body = anon.get(f"/api/signatures/?person={person.pk}").json()

    assert [item["id"] for item in body["results"]] == [s.pk for s in signatures]
    assert {item["letter"] for item in body["results"]} == {first.slug, second.slug}


# --- Creating -----------------------------------------------------------------


def test_it_records_a_signature_by_name_as_a_sighting_of_the_letters_api_source(editor_client):
    letter = make_letter()

    response = editor_client.post(
        f"/api/letters/{letter.slug}/signatures/",
        {"name": "Blanchett, Cate", "title": "Actor", "affiliation": "Dirty Films"},
        format="json",
    )

    assert response.status_code == 201
    body = response.json()
    assert body["person"]["name"] == "Cate Blanchett"
    assert (body["title"], body["affiliation"]) == ("Actor", "Dirty Films")
    [sighting] = body["sightings"]
    assert (sighting["source"], sighting["name"]) == ("API", "Blanchett, Cate")
    stored = Sighting.objects.get(signature_id=body["id"])
    assert stored.source.kind == Source.Kind.API
    assert stored.entered_by == editor_client.user
    assert response["Location"] == f"/api/signatures/{body['id']}/"


def test_it_resolves_a_name_to_the_person_who_already_goes_by_it(editor_client):
    letter = make_letter()
    person = make_person("Paul McCartney")

    response = editor_client.post(
        f"/api/letters/{letter.slug}/signatures/", {"name": "PAUL MCCARTNEY"}, format="json"
    )

    assert response.status_code == 201
    assert response.json()["person"]["id"] == person.pk


def test_it_records_a_signature_for_an_existing_person_by_id(editor_client):
    letter = make_letter()
    person = make_person("Ava DuVernay")

    response = editor_client.post(
        f"/api/letters/{letter.slug}/signatures/", {"person": person.pk}, format="json"
    )

    assert response.status_code == 201
    assert response.json()["person"] == {"id": person.pk, "name": "Ava DuVernay"}


def test_it_signs_for_the_survivor_when_given_a_merged_persons_id(editor_client):
    letter = make_letter()
    survivor, merged = make_person("Ava DuVernay"), make_person("Ava Duvernay")
    person_merge(survivor=survivor, merged=merged)

    response = editor_client.post(
        f"/api/letters/{letter.slug}/signatures/", {"person": merged.pk}, format="json"
    )

    assert response.json()["person"]["id"] == survivor.pk


def test_it_answers_200_when_the_person_had_already_signed(editor_client):
    letter = make_letter()
    existing = make_signature(letter, "Ava DuVernay")

    response = editor_client.post(
        f"/api/letters/{letter.slug}/signatures/", {"name": "Ava DuVernay"}, format="json"
    )

    assert response.status_code == 200
    assert response.json()["id"] == existing.pk
    assert Signature.objects.filter(letter=letter).count() == 1


def test_it_refuses_a_signature_with_neither_name_nor_person(editor_client):
    letter = make_letter()

    response = editor_client.post(
        f"/api/letters/{letter.slug}/signatures/", {"title": "Actor"}, format="json"
    )

    assert response.status_code == 400
    assert response.json()["field"] == "name"


def test_it_refuses_an_unknown_person_id_naming_the_field(editor_client):
    letter = make_letter()

    response = editor_client.post(
        f"/api/letters/{letter.slug}/signatures/", {"person": 999999}, format="json"
    )

    assert response.status_code == 400
    assert response.json()["field"] == "person"


def test_it_refuses_a_name_of_punctuation_only(editor_client):
    letter = make_letter()

    response = editor_client.post(
        f"/api/letters/{letter.slug}/signatures/", {"name": "-- ?"}, format="json"
    )

    assert response.status_code == 400
    assert response.json()["field"] == "name"
    assert not Signature.objects.exists()


def test_it_answers_a_signature_for_an_unknown_letter_with_a_404(editor_client):
    response = editor_client.post(
        "/api/letters/nope/signatures/", {"name": "Ava DuVernay"}, format="json"
    )

    assert response.status_code == 404


# --- CSV export ---------------------------------------------------------------


def test_it_exports_the_filtered_list_as_csv(anon):
    letter = make_letter()
    press = make_source(letter, name="Variety")
    signature = _record(letter, press, "Maggie Gylenhall", title="Actor")
    make_signature(letter, "Gylenhall, Maggie")  # the same person, as editors wrote it
    make_signature(letter, "Ava DuVernay")

    response = anon.get(f"/api/letters/{letter.slug}/signatures/?format=csv&source={press.pk}")

    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    assert f'filename="{letter.slug}-signatures.csv"' in response["Content-Disposition"]
    [row] = _csv(response)
    assert row["signature_id"] == str(signature.pk)
    assert (row["name"], row["status"], row["title"]) == ("Maggie Gylenhall", "listed", "Actor")
    assert row["sources"] == "Editors; Variety"
    assert row["names_as_written"] == "Gylenhall, Maggie; Maggie Gylenhall"


def test_it_neutralises_cells_a_spreadsheet_would_run_as_formulas(anon):
    letter = make_letter()
    _record(letter, make_source(letter), "Eve Hacker", title='=HYPERLINK("http://x")')
    _record(letter, make_source(letter), "Mal Icious", affiliation="@SUM(A1)")

    rows = _csv(anon.get(f"/api/letters/{letter.slug}/signatures/?format=csv"))

    assert {row["title"] for row in rows} == {'\'=HYPERLINK("http://x")', ""}
    assert {row["affiliation"] for row in rows} == {"'@SUM(A1)", ""}


def test_it_neutralises_formulas_in_every_text_column_of_the_export_and_nothing_else(anon):
    letter = make_letter()
    _record(letter, make_source(letter, name="+Press"), "-Eve Hacker", title="-1+2")
    _record(letter, make_source(letter, name="Site"), "Ann O'Neil", affiliation="a=b-c")

    rows = _csv(anon.get(f"/api/letters/{letter.slug}/signatures/?format=csv"))

    by_name = {row["names_as_written"]: row for row in rows}
    assert set(by_name) == {"'-Eve Hacker", "Ann O'Neil"}
    assert by_name["'-Eve Hacker"]["sources"] == "'+Press"
    assert by_name["'-Eve Hacker"]["title"] == "'-1+2"
    assert by_name["Ann O'Neil"]["affiliation"] == "a=b-c"
    assert by_name["Ann O'Neil"]["sources"] == "Site"


def test_it_writes_the_export_byte_for_byte_as_the_csv_module_does(anon):
    letter = make_letter()
    press = make_source(letter, name='Press, "Daily"')
    quoted = _record(letter, press, "Ann O'Neil")
    broken = _record(letter, press, "Ava DuVernay")
    _record(letter, press, "Alfonso Cuarón", affiliation="=1+1")
    # Cells as an editor may leave them: commas, quotes, line breaks, nothing.
    Signature.objects.filter(pk=quoted.pk).update(title="Director,\nWriter", affiliation="")
    Signature.objects.filter(pk=broken.pk).update(title="one\r\ntwo", affiliation="a\rb")
    Sighting.objects.filter(signature=quoted).update(name='Ann "Nan" O\'Neil')

    body = b"".join(
        anon.get(f"/api/letters/{letter.slug}/signatures/?format=csv").streaming_content
    )

    text = body.decode()
    rewritten = io.StringIO()
    csv.writer(rewritten).writerows(csv.reader(io.StringIO(text, newline="")))
    assert text == rewritten.getvalue()
    rows = {row["signature_id"]: row for row in _csv_text(text)}
    assert len(rows) == 3
    assert rows[str(quoted.pk)]["title"] == "Director,\nWriter"
    assert rows[str(quoted.pk)]["affiliation"] == ""
    assert rows[str(quoted.pk)]["names_as_written"] == 'Ann "Nan" O\'Neil'
    assert (rows[str(broken.pk)]["title"], rows[str(broken.pk)]["affiliation"]) == (
        "one\r\ntwo",
        "a\rb",
    )
    assert {row["affiliation"] for row in rows.values()} == {"", "a\rb", "'=1+1"}
    assert {row["sources"] for row in rows.values()} == {'Press, "Daily"'}


def test_it_streams_the_export_in_pieces_from_one_query(anon, monkeypatch):
    letter = make_letter()
    for n in range(7):
        make_signature(letter, f"Person {n}")
    monkeypatch.setattr(tracker_csv, "ROWS_PER_CHUNK", 3)
    response = anon.get(f"/api/letters/{letter.slug}/signatures/?format=csv")

    # The rows come through a server-side cursor: one query however many rows,
    # and the body goes out as they are read, a few rows at a time.
    with CaptureQueriesContext(connection) as queries:
        pieces = [piece for piece in response.streaming_content if piece]

    reads = [
        query for query in queries if not query["sql"].startswith(("SAVEPOINT", "RELEASE", "SET"))
    ]
    assert len(reads) == 1
    assert [piece.count(b"\n") for piece in pieces] == [4, 3, 1]


def test_an_export_left_half_read_leaves_the_connection_usable():
    letter = make_letter()
    for n in range(7):
        make_signature(letter, f"Person {n}")
    signatures = letter_selectors.signature_queryset(letter=letter, include_removed=False)
    records = letter_selectors.signature_csv_records(signatures, ordering=("first_seen_at", "id"))

    first = next(records)
    records.close()  # the client went away

    assert first.startswith(b"%d," % signatures.order_by("first_seen_at", "id")[0].pk)
    assert Signature.objects.filter(letter=letter).count() == 7


def test_it_keeps_removed_signatures_out_of_a_public_export(anon, staff_client):
    letter = make_letter()
    fake = make_signature(letter, "Mickey Mouse")
    make_signature(letter, "Ava DuVernay")
    letter_services.signature_change_status(signature=fake, status="removed", reason="Fake.")
    url = f"/api/letters/{letter.slug}/signatures/?format=csv"

    assert [row["name"] for row in _csv(anon.get(url))] == ["Ava DuVernay"]
    assert len(_csv(staff_client.get(url))) == 2


# --- One signature and its status ---------------------------------------------


def test_it_shows_a_signature_with_its_status_history(anon):
    signature = make_signature()
    letter_services.signature_change_status(
        signature=signature,
        status="disputed",
        reason="The agent denies it.",
        evidence_method="email",
        evidence_url="https://example.org/mail",
    )

    body = anon.get(f"/api/signatures/{signature.pk}/").json()

    assert body["status"] == "disputed"
    assert [(h["from_status"], h["to_status"]) for h in body["history"]] == [
        ("", "listed"),
        ("listed", "disputed"),
    ]
    assert body["history"][1]["evidence_method"] == "email"
    assert body["history"][1]["evidence_url"] == "https://example.org/mail"
    assert body["sightings"][0]["source"] == "Editors"
    assert body["merged_into"] is None
    assert (body["needs_review"], body["review_cause"], body["review_reason"]) == (False, "", "")


def test_it_shows_why_a_signature_needs_review(anon):
    signature = make_signature()
    letter_services.signature_update_stated(
        signature=signature, needs_review=True, review_reason="Two people of this name."
    )

    body = anon.get(f"/api/signatures/{signature.pk}/").json()

    assert (body["needs_review"], body["review_cause"], body["review_reason"]) == (
        True,
        "editor",
        "Two people of this name.",
    )


def test_it_changes_a_signatures_status_with_reason_and_evidence(editor_client):
    signature = make_signature()

    response = editor_client.post(
        f"/api/signatures/{signature.pk}/status/",
        {
            "status": "retracted",
            "reason": "She asked to be taken off.",
            "evidence_method": "public_statement",
            "evidence_url": "https://example.org/statement",
        },
        format="json",
    )

    assert response.status_code == 200
    assert response.json()["status"] == "retracted"
    change = signature.status_changes.order_by("-id").first()
    assert (change.to_status, change.changed_by, change.evidence_method) == (
        "retracted",
        editor_client.user,
        "public_statement",
    )


def test_it_refuses_a_status_change_without_a_reason(editor_client):
    signature = make_signature()

    response = editor_client.post(
        f"/api/signatures/{signature.pk}/status/", {"status": "verified"}, format="json"
    )

    assert response.status_code == 400
    assert response.json()["field"] == "reason"


def test_it_refuses_a_change_to_the_status_a_signature_already_has(editor_client):
    signature = make_signature()

    response = editor_client.post(
        f"/api/signatures/{signature.pk}/status/",
        {"status": "listed", "reason": "Again."},
        format="json",
    )

    assert response.status_code == 409
    assert response.json()["code"] == "unchanged"
    assert response.json()["field"] == "status"


def test_it_refuses_an_unknown_status_listing_the_choices(editor_client):
    signature = make_signature()

    response = editor_client.post(
        f"/api/signatures/{signature.pk}/status/",
        {"status": "forged", "reason": "?"},
        format="json",
    )

    assert response.status_code == 400
    assert response.json()["field"] == "status"
    assert "forged" in response.json()["message"]
