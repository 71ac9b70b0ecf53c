"""Hostile input: oversized and deeply nested bodies, bad encodings, NUL
characters and very long text in every field the schema lists, SQL and HTML in
names, and spreadsheet formulas in the CSV exports. Each is refused with a 400
(or 413) in the API's error format and changes nothing, or stored verbatim and
shown harmlessly; never a 500."""

from __future__ import annotations

import csv
import io
import json

import pytest
from django.db import connection
from django.http import StreamingHttpResponse
from drf_spectacular.generators import SchemaGenerator

from letters import services as letter_services
from letters.models import Letter, Sighting, Signature, Source
from people.models import Organization, Person
from tests.factories import make_letter, make_signature, make_source
from tests.security.conftest import concrete

pytestmark = pytest.mark.django_db

WRITES = ("post", "put", "patch")
ERROR_KEYS = {"status", "code", "message", "field", "errors"}


@pytest.fixture(autouse=True)
def _generous_throttles(settings):
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": dict.fromkeys(("anon", "user", "token"), "100000/minute"),
    }


def stored_rows() -> dict[str, int]:
    return {
        model.__name__: model.objects.count()
        for model in (Letter, Signature, Source, Person, Organization)
    }


def assert_error(response, status: int, code: str | None = None) -> dict:
    assert response.status_code == status, response.content[:500]
    body = response.json()
    assert set(body) == ERROR_KEYS
    assert body["status"] == status and body["message"]
    if code:
        assert body["code"] == code, body
    return body


def post_json(client, url: str, body: str | bytes, method: str = "post"):
    return client.generic(method.upper(), url, body, content_type="application/json")


def write_operations() -> list[tuple[str, str, dict]]:
    """(method, path, JSON request body schema) for every write the schema lists."""
    schema = SchemaGenerator().get_schema(request=None, public=True)
    components = schema["components"]["schemas"]
    operations = []
    for path, methods in schema["paths"].items():
        for method, operation in methods.items():
            content = operation.get("requestBody", {}).get("content", {})
            if method not in WRITES or "application/json" not in content:
                continue
            body = content["application/json"]["schema"]
            if "$ref" in body:
                body = components[body["$ref"].rsplit("/", 1)[1]]
            operations.append((method, path, body))
    return operations


OPERATIONS = write_operations()
OPERATION_IDS = [f"{method.upper()} {path}" for method, path, _ in OPERATIONS]


def string_properties(body: dict) -> dict[str, dict]:
    return {
        name: spec
        for name, spec in body.get("properties", {}).items()
        if spec.get("type") == "string" and not spec.get("readOnly")
    }


# --- Size and shape of the body -----------------------------------------------


def test_an_oversized_body_is_answered_413_and_stores_nothing(staff_client, settings):
    before = stored_rows()
    body = json.dumps({"title": "x" * (settings.DATA_UPLOAD_MAX_MEMORY_SIZE + 1), "slug": "big"})

    response = post_json(staff_client, "/api/letters/", body)

    error = assert_error(response, 413, "too_large")
    assert f"{settings.DATA_UPLOAD_MAX_MEMORY_SIZE:,} byte limit" in error["message"]
    assert stored_rows() == before


def test_an_oversized_form_to_the_admin_is_answered_413_and_stores_nothing(
    admin_client_staff, settings
):
    before = stored_rows()
    admin_client_staff.raise_request_exception = False

    response = admin_client_staff.post(
        "/admin/letters/letter/add/",
        {"title": "x" * (settings.DATA_UPLOAD_MAX_MEMORY_SIZE + 1), "slug": "big"},
    )

    assert response.status_code == 413
    assert stored_rows() == before


@pytest.mark.parametrize(
    "body",
    [
        "[" * 100_000 + "]" * 100_000,
        '{"title": "t", "slug": "deep", "x": ' + '{"a": ' * 5_000 + "1" + "}" * 5_000 + "}",
        '{"title": "t", "slug": "deep", "x": ' + "[" * 40 + "]" * 40 + "}",
    ],
    ids=["arrays-100000-deep", "objects-5000-deep", "arrays-40-deep"],
)
def test_deeply_nested_json_is_a_400_never_a_500(staff_client, body):
    before = stored_rows()

    response = post_json(staff_client, "/api/letters/", body)

    error = assert_error(response, 400, "too_deep")
    assert error["message"] == "The JSON is nested deeper than 32 levels."
    assert stored_rows() == before


def test_invalid_utf8_json_is_a_400(staff_client):
    response = post_json(staff_client, "/api/letters/", b'{"title": "\xff\xfe", "slug": "u"}')

    error = assert_error(response, 400, "parse_error")
    assert "can't decode byte 0xff" in error["message"]
    assert not Letter.objects.filter(slug="u").exists()


def test_invalid_utf8_form_data_is_a_400_not_replacement_characters(staff_client):
    response = staff_client.post(
        "/api/letters/", b"title=%ff%fe&slug=u", content_type="application/x-www-form-urlencoded"
    )

    error = assert_error(response, 400, "invalid_encoding")
    assert "not valid utf-8" in error["message"]
    assert not Letter.objects.filter(slug="u").exists()


# --- NUL characters and very long text in every field -------------------------


@pytest.mark.parametrize(("method", "path", "body"), OPERATIONS, ids=OPERATION_IDS)
def test_a_nul_character_in_any_field_is_a_400_naming_it(staff_client, objects, method, path, body):
    url = concrete(path, objects)
    fields = list(body.get("properties", {})) or ["name"]
    before = stored_rows()
    wrong = []
    for field in fields:
        response = post_json(staff_client, url, json.dumps({field: "a\u0000b"}), method)
        error = response.json()
        if (response.status_code, error.get("field"), error.get("code")) != (
            400,
            field,
            "null_characters_not_allowed",
        ):
            wrong.append((field, response.status_code, error))

    assert wrong == []
    assert stored_rows() == before


def test_a_nul_character_deep_inside_json_or_in_a_key_is_a_400(staff_client, objects):
    url = f"/api/sources/{objects['sources']}/"

    in_value = post_json(staff_client, url, '{"options": {"columns": {"a": "b\\u0000"}}}', "patch")
    in_key = post_json(staff_client, url, '{"options": {"k\\u0000": 1}}', "patch")

    body = assert_error(in_value, 400, "null_characters_not_allowed")
    assert body["field"] == "options"
    assert "(at options.columns.a)" in body["message"]
    assert assert_error(in_key, 400, "null_characters_not_allowed")["field"] == "options"
    assert Source.objects.get(pk=objects["sources"]).options == {}


def test_a_nul_character_in_form_data_is_a_400(staff_client):
    response = staff_client.post(
        "/api/letters/", b"title=a%00b&slug=nul", content_type="application/x-www-form-urlencoded"
    )

    assert assert_error(response, 400, "null_characters_not_allowed")["field"] == "title"


@pytest.mark.parametrize(
    "url",
    [
        "/api/letters/?search=a%00b",
        "/api/people/?name=a%00b",
        "/api/signatures/?name=a%00b",
        "/api/organizations/?search=a%00b",
        "/api/letters/a%00b/",
        "/api/letters/a%00b/signatures/",
    ],
)
def test_a_nul_character_in_a_query_or_path_is_never_a_500(anon, url):
    response = anon.get(url)

    assert response.status_code in (200, 400, 404)
    assert response.json()


@pytest.mark.parametrize(("method", "path", "body"), OPERATIONS, ids=OPERATION_IDS)
def test_long_text_is_refused_just_past_each_field_s_limit_and_never_a_500(
    staff_client, objects, method, path, body
):
    url = concrete(path, objects)
    texts = {
        name: spec.get("maxLength")
        for name, spec in string_properties(body).items()
        if "format" not in spec and "enum" not in spec
    }
    wrong = []
    for field, limit in texts.items():
        tries = [("A" * 10_000, limit is not None and limit < 10_000)]
        if limit is not None:
            tries += [("A" * limit, False), ("A" * (limit + 1), True)]
        for value, refused in tries:
            response = post_json(staff_client, url, json.dumps({field: value}), method)
            errors = {e["field"]: e["message"] for e in response.json().get("errors", [])}
            expected = f"Ensure this field has no more than {limit} characters."
            misjudged = (
                errors.get(field) != expected
                if refused
                else "no more than" in errors.get(field, "")
            )
            if response.status_code >= 500 or misjudged:
                wrong.append((field, len(value), response.status_code, errors))

    assert wrong == []


def test_long_text_where_the_field_has_no_limit_is_stored_whole(staff_client):
    long_text = "Lorem ipsum " * 1_000 + "dolor"  # 12,005 characters

    response = staff_client.post(
        "/api/letters/", {"title": "Long", "slug": "long", "summary": long_text, "text": long_text}
    )

    assert response.status_code == 201, response.content[:300]
    letter = Letter.objects.get(slug="long")
    assert (letter.summary, letter.text) == (long_text, long_text)


# --- SQL and HTML in names ----------------------------------------------------

SQL = "Robert'); DROP TABLE people_person; --"
HTML = '<script>alert("x")</script><img src=x onerror=alert(1)>'


def test_sql_and_html_in_names_are_stored_verbatim(staff_client):
    letter = make_letter(slug="verbatim")

    for name in (SQL, HTML):
        created = staff_client.post(f"/api/letters/{letter.slug}/signatures/", {"name": name})
        assert created.status_code == 201, created.content
        detail = staff_client.get(f"/api/signatures/{created.json()['id']}/").json()
        # As written by the source; the person's display name is the tidied spelling.
        assert [sighting["name"] for sighting in detail["sightings"]] == [name]
    organization = staff_client.post("/api/organizations/", {"name": HTML}).json()

    assert Organization.objects.get(pk=organization["id"]).name == HTML
    assert set(Sighting.objects.values_list("name", flat=True)) == {SQL, HTML}
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM people_person")
        assert cursor.fetchone()[0] == 2


def test_html_in_names_is_shown_escaped_in_the_admin(admin_client_staff):
    letter = make_letter(title=HTML, slug="escaped")
    source = make_source(letter, name=HTML, url="https://example.org/x.csv", format="csv")
    signature = letter_services.signature_record(
        letter=letter,
        source=source,
        entry=letter_services.Entry(name=HTML, title=HTML, affiliation=SQL),
    ).signature
    pages = [
        "/admin/letters/letter/",
        f"/admin/letters/letter/{letter.pk}/change/",
        "/admin/letters/signature/",
        f"/admin/letters/signature/{signature.pk}/change/",
        "/admin/letters/source/",
        f"/admin/letters/source/{source.pk}/change/",
        "/admin/people/person/",
        f"/admin/people/person/{signature.person_id}/change/",
    ]

    for page in pages:
        response = admin_client_staff.get(page)
        # Lower case: a person's display name is the tidied "<Script>Alert...".
        html = response.content.decode().lower()
        assert response.status_code == 200, page
        assert "<script>alert" not in html, page
        assert "<img src=x onerror" not in html, page
        assert "&lt;script&gt;alert" in html, page


# --- CSV exports --------------------------------------------------------------

FORMULAS = ["=1+2", "+1+2", "-1+2", "@SUM(A1)", "\t=1+2", "\r=1+2"]


def rows_of(response) -> list[dict[str, str]]:
    assert isinstance(response, StreamingHttpResponse)
    text = b"".join(response.streaming_content).decode()
    return list(csv.DictReader(io.StringIO(text, newline="")))


@pytest.mark.parametrize(
    "export",
    ["/api/letters/{slug}/signatures/?format=csv", "/api/signatures/?format=csv"],
)
def test_every_csv_export_neutralises_formulas_in_every_text_column(staff_client, export):
    letter = make_letter(slug="formulas")
    for index, formula in enumerate(FORMULAS):
        source = make_source(letter, name=f"{formula} source {index}")
        signature = letter_services.signature_record(
            letter=letter,
            source=source,
            entry=letter_services.Entry(name=f"Person Number{index}"),
        ).signature
        # Straight into the rows: recording an entry trims the tab and carriage
        # return away, and the export must not rely on that.
        Signature.objects.filter(pk=signature.pk).update(title=formula, affiliation=formula)
        Person.objects.filter(pk=signature.person_id).update(display_name=formula)
        Sighting.objects.filter(signature=signature).update(name=formula)
        Source.objects.filter(pk=source.pk).update(name=formula)

    rows = rows_of(staff_client.get(export.format(slug=letter.slug)))

    assert len(rows) == len(FORMULAS)
    neutralised = {"'" + formula for formula in FORMULAS}
    for column in ("name", "title", "affiliation", "sources", "names_as_written"):
        assert {row[column] for row in rows} == neutralised, column


def test_a_signature_the_csv_neutralises_is_unchanged_in_json(staff_client):
    signature = make_signature(make_letter(slug="json"), "Ava DuVernay")
    Signature.objects.filter(pk=signature.pk).update(title="=1+2")

    assert staff_client.get(f"/api/signatures/{signature.pk}/").json()["title"] == "=1+2"


# --- Times PostgreSQL cannot take as given ------------------------------------


@pytest.mark.parametrize("export", ["", "&format=csv"])
def test_a_time_with_an_offset_postgresql_refuses_is_read_in_utc(anon, export):
    signature = make_signature(make_letter(slug="offsets"), "Ava DuVernay")
    # 16 hours ahead of UTC: an offset Python accepts and PostgreSQL does not.
    url = "/api/signatures/?updated_after=2000-01-01T00:00:00%2B16:00" + export

    response = anon.get(url)

    assert response.status_code == 200
    if export:
        assert [row["signature_id"] for row in rows_of(response)] == [str(signature.pk)]
    else:
        assert [item["id"] for item in response.json()["results"]] == [signature.pk]


def test_a_time_past_the_last_year_once_in_utc_is_a_400(anon):
    response = anon.get("/api/signatures/?updated_after=9999-12-31T23:59:59-16:00")

    assert assert_error(response, 400)["field"] == "updated_after"


# --- The admin's forms --------------------------------------------------------


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("name", "Press\x00list"),
        ("name", "P" * 10_000),
        # The source's options, one field each (the form has no raw JSON).
        ("option_encoding", "utf\x00-8"),
        ("option_columns", "Full name\x00 = name"),
        ("option_delimiter", ";;"),
        ("url", "http://169.254.169.254/latest/meta-data/"),
    ],
    ids=[
        "nul-name",
        "long-name",
        "nul-in-an-option",
        "nul-in-a-column-rename",
        "two-character-delimiter",
        "metadata-url",
    ],
)
def test_the_admin_source_form_refuses_hostile_values_naming_the_field(
    admin_client_staff, objects, field, value, settings
):
    from tests.people.test_admin import changeform_data

    settings.TRACKER_ALLOW_PRIVATE_SOURCES = False
    url = f"/admin/letters/source/{objects['sources']}/change/"
    data = changeform_data(admin_client_staff.get(url))
    data[field] = value
    before = Source.objects.values().get(pk=objects["sources"])

    response = admin_client_staff.post(url, data)

    assert response.status_code == 200
    assert response.context["adminform"].form.errors[field]
    assert Source.objects.values().get(pk=objects["sources"]) == before


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("aliases", '["OSTP\\u0000"]'),
        ("external_ids", '{"wikidata": "Q1\\ud800"}'),
        ("aliases", "[" * 100_000 + "]" * 100_000),
        ("aliases", "[" * 40 + "]" * 40),
    ],
    ids=["nul", "lone-surrogate", "too-deep-to-decode", "deeper-than-the-limit"],
)
def test_every_admin_json_field_refuses_what_postgresql_cannot_store(
    admin_client_staff, objects, field, value
):
    from tests.people.test_admin import changeform_data

    url = f"/admin/people/organization/{objects['organizations']}/change/"
    data = changeform_data(admin_client_staff.get(url))
    data[field] = value

    response = admin_client_staff.post(url, data)

    assert response.status_code == 200
    assert response.context["adminform"].form.errors[field]
    assert Organization.objects.get(pk=objects["organizations"]).aliases == []
