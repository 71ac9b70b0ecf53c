"""What every resource shares: the root, the schema, tokens, who may do what,
throttling, idempotent creation and the one error format."""

from __future__ import annotations

import threading

import pytest
from django.db import connection
from drf_spectacular.validation import validate_schema
from rest_framework.test import APIClient

from letters.models import Letter, Signature
from people import services as people_services
from tests.factories import make_letter, make_person, make_signature, make_source
from tracker.errors import Conflict, DomainError, NotFound

pytestmark = pytest.mark.django_db


# --- Root, schema, docs -------------------------------------------------------


def test_the_root_lists_every_resource(anon):
    body = anon.get("/api/").json()

    assert {
        "letters",
        "signatures",
        "people",
        "organizations",
        "sources",
        "sync-runs",
        "duplicates",
        "auth-token",
        "schema",
    } <= set(body)
    assert body["letters"] == "http://testserver/api/letters/"


def test_the_schema_is_valid_openapi_3_with_descriptions_and_examples(anon):
    response = anon.get("/api/schema/?format=json")
    schema = response.json()

    validate_schema(schema)  # against the OpenAPI 3.0 JSON schema; raises when invalid
    assert schema["openapi"].startswith("3.")
    operation = schema["paths"]["/api/letters/{letter_slug}/signatures/"]["post"]
    assert operation["description"]
    assert operation["requestBody"]["content"]["application/json"]["examples"]
    assert "429" in operation["responses"]


def test_the_interactive_docs_are_served(anon):
    response = anon.get("/api/docs/")

    assert response.status_code == 200
    assert b"swagger" in response.content.lower()


# --- Tokens and sessions ------------------------------------------------------


def test_it_gives_a_token_for_a_username_and_password(anon, editor):
    response = anon.post(
        "/api/auth/token/",
        {"username": "editor", "password": "editor-password-123"},
        format="json",
    )

    assert response.status_code == 200
    token = response.json()["token"]
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    created = client.post("/api/letters/", {"title": "T", "slug": "t"}, format="json")
    assert created.status_code == 201


def test_it_refuses_a_wrong_password_naming_the_field(anon, editor):
    response = anon.post(
        "/api/auth/token/", {"username": "editor", "password": "guess"}, format="json"
    )

    assert response.status_code == 400
    assert response.json()["field"] == "password"
    assert "token" not in response.json()


def test_it_refuses_an_unknown_token_with_a_401(anon):
    anon.credentials(HTTP_AUTHORIZATION="Token not-a-real-token")

    response = anon.get("/api/letters/")

    assert response.status_code == 401
    assert response.json()["code"] == "authentication_failed"


def test_a_signed_in_session_can_write_through_the_browsable_api(client, editor):
    client.force_login(editor)

    response = client.post(
        "/api/letters/", {"title": "From the browser", "slug": "from-the-browser"}
    )
    page = client.get("/api/letters/", HTTP_ACCEPT="text/html")

    assert response.status_code == 201
    assert page.status_code == 200
    assert b"From the browser" in page.content


# --- Who may do what ----------------------------------------------------------


PUBLIC_READS = ["/api/letters/", "/api/signatures/", "/api/people/", "/api/organizations/"]
STAFF_READS = ["/api/sources/", "/api/sync-runs/", "/api/duplicates/"]


@pytest.mark.parametrize("url", PUBLIC_READS)
@pytest.mark.parametrize("who", ["anon", "reader", "editor_client", "staff_client"])
def test_anyone_reads_public_data(request, who, url):
    assert request.getfixturevalue(who).get(url).status_code == 200


@pytest.mark.parametrize("url", STAFF_READS)
@pytest.mark.parametrize(
    ("who", "expected"),
    [("anon", 401), ("reader", 403), ("editor_client", 200), ("staff_client", 200)],
)
def test_only_staff_read_sources_runs_and_duplicates(request, who, expected, url):
    assert request.getfixturevalue(who).get(url).status_code == expected


@pytest.mark.parametrize(
    ("who", "expected"),
    [("anon", 401), ("reader", 403), ("editor_client", 201), ("staff_client", 201)],
)
def test_writing_needs_a_token_and_the_model_permission(request, who, expected):
    client = request.getfixturevalue(who)
    letter = make_letter()

    responses = {
        "letter": client.post("/api/letters/", {"title": "T", "slug": f"t-{who}"}),
        "signature": client.post(
            f"/api/letters/{letter.slug}/signatures/", {"name": "Ava DuVernay"}
        ),
        "organization": client.post("/api/organizations/", {"name": "OpenAI"}),
        "source": client.post(
            "/api/sources/", {"letter": letter.slug, "name": "Variety", "kind": "press"}
        ),
    }

    assert {name: r.status_code for name, r in responses.items()} == dict.fromkeys(
        responses, expected
    )
    if expected != 201:
        assert all(
            r.json()["code"] in {"not_authenticated", "permission_denied"}
            for r in responses.values()
        )


@pytest.mark.parametrize(
    ("who", "expected"),
    [("anon", 401), ("reader", 403), ("editor_client", 200), ("staff_client", 200)],
)
def test_changing_a_status_needs_the_change_permission(request, who, expected):
    signature = make_signature()

    response = request.getfixturevalue(who).post(
        f"/api/signatures/{signature.pk}/status/", {"status": "verified", "reason": "Agent."}
    )

    assert response.status_code == expected


def test_a_staff_account_without_the_permission_cannot_decide_pairs(db):
    from django.contrib.auth import get_user_model

    from people.models import MatchJudgement

    user = get_user_model().objects.create_user(username="intern", password="x", is_staff=True)
    client = APIClient()
    client.force_authenticate(user)
    a, b = make_person("Ava DuVernay"), make_person("Ava Duvernay")
    pair = MatchJudgement.objects.create(person_a=a, person_b=b)

    assert client.get("/api/duplicates/").status_code == 200
    response = client.post(
        f"/api/duplicates/{pair.pk}/decide/", {"decision": "same", "reason": "Same."}
    )
    assert response.status_code == 403


# --- Throttling ---------------------------------------------------------------


def test_it_throttles_anonymous_clients_with_a_429_and_retry_after(anon, settings):
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {
            **settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"],
            "anon": "3/minute",
        },
    }

    codes = [anon.get("/api/letters/").status_code for _ in range(4)]
    response = anon.get("/api/letters/")

    assert codes == [200, 200, 200, 429]
    assert response.status_code == 429
    assert 0 < int(response["Retry-After"]) <= 60
    assert response.json()["code"] == "throttled"
    assert "wait" in response.json()["message"]


def test_it_throttles_each_account_on_its_own(reader, editor_client, settings):
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {
            **settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"],
            "user": "2/minute",
        },
    }

    reader_codes = [reader.get("/api/letters/").status_code for _ in range(3)]

    assert reader_codes == [200, 200, 429]
    assert editor_client.get("/api/letters/").status_code == 200


def test_it_throttles_without_redis_through_the_configured_cache(anon, settings):
    settings.REDIS_URL = None
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {
            **settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"],
            "anon": "2/hour",
        },
    }

    codes = [anon.get("/api/letters/").status_code for _ in range(3)]
    response = anon.get("/api/letters/")

    assert codes == [200, 200, 429]
    assert 3500 < int(response["Retry-After"]) <= 3600


def test_it_throttles_token_requests_to_slow_password_guessing(anon, editor, settings):
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {
            **settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"],
            "token": "2/minute",
        },
    }
    guess = {"username": "editor", "password": "guess"}

    codes = [anon.post("/api/auth/token/", guess).status_code for _ in range(3)]

    assert codes == [400, 400, 429]


# --- Idempotency --------------------------------------------------------------


def test_a_repeated_creation_with_the_same_key_returns_the_first_answer(editor_client):
    letter = make_letter()
    url = f"/api/letters/{letter.slug}/signatures/"

    first = editor_client.post(url, {"name": "Ava DuVernay"}, HTTP_IDEMPOTENCY_KEY="k-1")
    again = editor_client.post(url, {"name": "Ava DuVernay"}, HTTP_IDEMPOTENCY_KEY="k-1")

    assert first.status_code == again.status_code == 201
    assert again.json() == first.json()
    assert again["Idempotent-Replayed"] == "true"
    assert again["Location"] == first["Location"]
    assert Signature.objects.filter(letter=letter).count() == 1


def test_a_repeated_letter_creation_creates_nothing(editor_client):
    body = {"title": "Once", "slug": "once"}

    first = editor_client.post("/api/letters/", body, HTTP_IDEMPOTENCY_KEY="letter-once")
    again = editor_client.post("/api/letters/", body, HTTP_IDEMPOTENCY_KEY="letter-once")

    assert (first.status_code, again.status_code) == (201, 201)
    assert Letter.objects.filter(slug="once").count() == 1


def test_it_refuses_a_key_reused_for_different_content(editor_client):
    editor_client.post("/api/letters/", {"title": "A", "slug": "a"}, HTTP_IDEMPOTENCY_KEY="k")

    response = editor_client.post(
        "/api/letters/", {"title": "B", "slug": "b"}, HTTP_IDEMPOTENCY_KEY="k"
    )

    assert response.status_code == 422
    assert response.json()["field"] == "Idempotency-Key"
    assert not Letter.objects.filter(slug="b").exists()


def test_a_refused_creation_keeps_no_answer_so_the_corrected_request_goes_through(
    editor_client,
):
    refused = editor_client.post("/api/letters/", {"title": ""}, HTTP_IDEMPOTENCY_KEY="fix-me")
    corrected = editor_client.post(
        "/api/letters/", {"title": "Fixed", "slug": "fixed"}, HTTP_IDEMPOTENCY_KEY="fix-me"
    )

    assert refused.status_code == 400
    assert corrected.status_code == 201


def test_keys_belong_to_one_account(editor_client, staff_client):
    body = {"title": "Mine", "slug": "mine"}
    editor_client.post("/api/letters/", body, HTTP_IDEMPOTENCY_KEY="shared")

    response = staff_client.post(
        "/api/letters/", {"title": "Theirs", "slug": "theirs"}, HTTP_IDEMPOTENCY_KEY="shared"
    )

    assert response.status_code == 201


@pytest.mark.django_db(transaction=True)
def test_concurrent_repeats_of_a_key_create_once(editor):
    letter = make_letter()
    make_source(letter, name="Variety")
    url = f"/api/letters/{letter.slug}/signatures/"
    answers: list = []

    def send() -> None:
        client = APIClient()
        client.force_authenticate(editor)
        try:
            answers.append(
                client.post(url, {"name": "Cate Blanchett"}, HTTP_IDEMPOTENCY_KEY="race")
            )
        finally:
            connection.close()

    threads = [threading.Thread(target=send) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sorted(a.status_code for a in answers) == [201, 201, 201, 201]
    assert len({a.json()["id"] for a in answers}) == 1
    assert Signature.objects.filter(letter=letter).count() == 1


# --- Errors -------------------------------------------------------------------


def test_every_error_has_the_same_shape(anon, editor_client):
    letter = make_letter()
    answers = [
        anon.get("/api/letters/nope/"),
        anon.get("/api/no-such-resource/"),
        anon.post("/api/letters/", {}),
        editor_client.post("/api/letters/", {}),
        editor_client.post("/api/letters/", "{not json", content_type="application/json"),
        editor_client.delete(f"/api/letters/{letter.slug}/"),
        editor_client.get("/api/letters/?status=published"),
    ]

    assert [a.status_code for a in answers] == [404, 404, 401, 400, 400, 405, 400]
    for answer in answers:
        body = answer.json()
        assert set(body) == {"status", "code", "message", "field", "errors"}
        assert body["status"] == answer.status_code
        assert body["message"]
        assert all(set(e) == {"field", "code", "message"} for e in body["errors"])


@pytest.mark.parametrize(
    ("refusal", "status", "code"),
    [
        (DomainError("An organization needs a name.", field="name"), 400, "invalid"),
        (NotFound("There is no organization #9.", field="parent"), 404, "not_found"),
        (Conflict("Changed meanwhile; read it again."), 409, "conflict"),
        (Conflict("The slug 'x' is taken.", field="slug", code="slug_taken"), 409, "slug_taken"),
    ],
)
def test_a_refusal_answers_with_the_status_of_its_kind(
    editor_client, monkeypatch, refusal, status, code
):
    def refuse(**fields):
        raise refusal

    monkeypatch.setattr(people_services, "organization_create", refuse)

    response = editor_client.post("/api/organizations/", {"name": "Somewhere"}, format="json")

    assert response.status_code == status
    body = response.json()
    assert (body["status"], body["code"], body["field"]) == (status, code, refusal.field)
    assert refusal.message in body["message"]
    assert body["errors"] == [{"field": refusal.field, "code": code, "message": refusal.message}]


def test_it_names_every_field_at_fault(editor_client):
    body = editor_client.post("/api/letters/", {"url": "not a url"}).json()

    assert {error["field"] for error in body["errors"]} == {"title", "slug", "url"}


@pytest.mark.parametrize(
    "payload",
    [
        '{"title": "x\\u0000y", "slug": "nul"}',
        '{"title": "\\ud800", "slug": "surrogate"}',
        '{"title": "' + "T" * 600 + '", "slug": "long"}',
        '{"title": "T", "slug": "s", "published_on": "99999-01-01"}',
        '{"title": ["a list"], "slug": "s"}',
    ],
)
def test_bad_input_is_refused_with_a_400_never_a_500(editor_client, payload):
    response = editor_client.post("/api/letters/", payload, content_type="application/json")

    assert response.status_code == 400
    assert response.json()["field"]


def test_bad_json_in_options_is_refused_not_stored(editor_client):
    letter = make_letter()

    response = editor_client.post(
        "/api/sources/",
        '{"letter": "' + letter.slug + '", "name": "Feed", "kind": "feed", '
        '"options": {"k": "\\ud800"}}',
        content_type="application/json",
    )

    assert response.status_code == 400
    assert response.json()["field"] == "options"
