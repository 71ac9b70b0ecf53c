"""The schema drives a generated client, and the docs are served by the service
itself: a client made by openapi-python-client from /api/schema/ reads and writes
against a real server on loopback, and Swagger UI renders with every request
to anywhere but the service refused."""

from __future__ import annotations

import importlib
import pkgutil
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from django.db import connections
from playwright.sync_api import sync_playwright
from rest_framework.authtoken.models import Token

from letters.models import Signature
from tests.browser import chromium
from tests.factories import make_letter, make_organization

GENERATOR = Path(sys.executable).with_name("openapi-python-client")
PACKAGE = "tracker_client"


def _schema(anon) -> dict:
    return anon.get("/api/schema/?format=json").json()


def _operations(schema: dict):
    for path, item in schema["paths"].items():
        for method, operation in item.items():
            yield path, method, operation


@pytest.mark.django_db
def test_every_request_body_is_json_only(anon):
    bodies = {
        (path, method): sorted(operation["requestBody"]["content"])
        for path, method, operation in _operations(_schema(anon))
        if "requestBody" in operation
    }

    assert bodies
    assert {tuple(types) for types in bodies.values()} == {("application/json",)}


@pytest.mark.django_db
def test_path_ids_are_whole_numbers(anon):
    ids = [
        parameter["schema"]
        for _path, _method, operation in _operations(_schema(anon))
        for parameter in operation.get("parameters", [])
        if parameter["in"] == "path" and parameter["name"] == "id"
    ]

    assert ids
    assert all(schema["type"] == "integer" for schema in ids), ids


@pytest.mark.django_db
def test_details_are_documented_with_their_own_shape(anon):
    paths = _schema(anon)["paths"]

    def shape(path: str) -> str:
        content = paths[path]["get"]["responses"]["200"]["content"]
        return content["application/json"]["schema"]["$ref"].rsplit("/", 1)[1]

    assert shape("/api/letters/{slug}/") == "LetterDetail"
    assert shape("/api/organizations/{id_or_slug}/") == "OrganizationDetail"
    assert shape("/api/people/{id}/") == "PersonDetail"


@pytest.mark.django_db
def test_a_csv_export_is_its_own_documented_response(anon):
    operation = _schema(anon)["paths"]["/api/letters/{letter_slug}/signatures/"]["get"]
    content = operation["responses"]["200"]["content"]
    [format_parameter] = [p for p in operation["parameters"] if p["name"] == "format"]

    assert content["text/csv"]["schema"] == {"type": "string"}
    assert content["application/json"]["schema"]["$ref"].endswith("PaginatedSignatureList")
    assert set(format_parameter["schema"]["enum"]) == {"csv", "json"}
    assert "csv" in format_parameter["description"]


@pytest.mark.django_db
def test_list_versions_and_their_canonical_csv_are_documented(anon):
    paths = _schema(anon)["paths"]
    listing = paths["/api/letters/{letter_slug}/versions/"]["get"]
    download = paths["/api/letters/{letter_slug}/versions/{number}/list.csv"]["get"]
    page = listing["responses"]["200"]["content"]["application/json"]["schema"]["$ref"]
    fields = _schema(anon)["components"]["schemas"]["ListVersion"]["properties"]

    assert page.endswith("PaginatedListVersionList")
    assert {"number", "created_at", "count", "content_sha256", "hash", "previous_hash"} <= set(
        fields
    )
    assert {"run", "editor", "list_url"} <= set(fields)
    assert 'previous_hash + "\\n" + content_sha256' in listing["description"]
    assert list(download["responses"]["200"]["content"]) == ["text/csv"]
    assert "signature_id,person_id,name,title,affiliation,status" in download["description"]
    assert "sorted by `signature_id`" in download["description"]
    assert "LF line endings" in download["description"]
    [number] = [p for p in download["parameters"] if p["name"] == "number"]
    assert number["schema"]["type"] == "integer"


@pytest.mark.django_db
def test_no_code_comment_is_published_as_a_description(anon):
    schema = _schema(anon)
    texts = [operation.get("description", "") for _p, _m, operation in _operations(schema)]
    texts += [
        component.get("description", "") for component in schema["components"]["schemas"].values()
    ]

    # Phrases of the docstrings of FiltersOnListMixin and the signature serializer.
    assert not [text for text in texts if "query-string filters to lists only" in text]
    assert not [text for text in texts if "per-field machinery" in text]


@pytest.mark.django_db
def test_the_docs_page_loads_swagger_ui_from_the_service_itself(anon):
    page = anon.get("/api/docs/").content.decode()

    assert "/static/drf_spectacular_sidecar/swagger-ui-dist/swagger-ui-bundle.js" in page
    assert "cdn" not in page.lower()
    assert "@latest" not in page


@pytest.mark.django_db(transaction=True)
def test_the_docs_render_in_a_browser_that_reaches_nothing_but_the_service(
    live_server, monkeypatch
):
    make_letter(slug="ostp-ai-copyright-2025")
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    refused: list[str] = []

    def only_the_service(route) -> None:
        if route.request.url.startswith(live_server.url):
            route.continue_()
        else:
            refused.append(route.request.url)
            route.abort()

    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=chromium())
            try:
                page = browser.new_page()
                page.route("**/*", only_the_service)
                page.goto(f"{live_server.url}/api/docs/")
                page.wait_for_selector(".swagger-ui .opblock-tag", timeout=30_000)
                tags = page.locator(".swagger-ui .opblock-tag").all_inner_texts()
            finally:
                browser.close()
    finally:
        for connection in connections.all():
            connection.close()

    assert any("letters" in tag for tag in tags), tags
    assert refused == []


def _generate_client(schema_text: str, folder: Path) -> None:
    (folder / "schema.json").write_text(schema_text)
    (folder / "config.yaml").write_text(f"package_name_override: {PACKAGE}\npost_hooks: []\n")
    result = subprocess.run(
        [
            str(GENERATOR),
            "generate",
            "--path",
            str(folder / "schema.json"),
            "--output-path",
            str(folder / PACKAGE),
            "--meta",
            "none",
            "--config",
            str(folder / "config.yaml"),
        ],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Warning" not in result.stdout, result.stdout


@pytest.fixture
def generated_client(tmp_path, monkeypatch):
    """The client package openapi-python-client makes of the schema, imported
    module by module (a module that fails on import fails here)."""

    def make(schema_text: str):
        _generate_client(schema_text, tmp_path)
        monkeypatch.syspath_prepend(str(tmp_path))
        package = importlib.import_module(PACKAGE)
        failed = {}
        for module in pkgutil.walk_packages(package.__path__, f"{PACKAGE}."):
            try:
                importlib.import_module(module.name)
            except Exception as exc:  # noqa: BLE001 - every failure is reported
                failed[module.name] = repr(exc)
        assert failed == {}
        return package

    yield make
    for name in [name for name in sys.modules if name.split(".")[0] == PACKAGE]:
        del sys.modules[name]


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_a_generated_client_reads_and_writes_against_a_live_server(
    live_server, editor, generated_client
):
    letter = make_letter(slug="ostp-ai-copyright-2025", title="Letter to OSTP")
    make_organization("Office of Science and Technology Policy")
    token = Token.objects.create(user=editor).key
    schema_text = httpx.get(f"{live_server.url}/api/schema/?format=json", timeout=30).text

    client_package = generated_client(schema_text)
    letters_retrieve = importlib.import_module(f"{PACKAGE}.api.letters.letters_retrieve")
    signatures_create = importlib.import_module(f"{PACKAGE}.api.letters.letters_signatures_create")
    models = importlib.import_module(f"{PACKAGE}.models")
    client = client_package.AuthenticatedClient(
        base_url=live_server.url, token=token, prefix="Token"
    )

    read = letters_retrieve.sync(slug=letter.slug, client=client)
    written = signatures_create.sync_detailed(
        letter_slug=letter.slug,
        client=client,
        body=models.SignatureCreateRequest(name="Cate Blanchett", title="Actor"),
    )

    assert isinstance(read, models.LetterDetail)
    assert (read.title, read.counts.signatures) == ("Letter to OSTP", 0)
    assert written.status_code == 201
    assert written.parsed.person.name == "Cate Blanchett"
    signature = Signature.objects.get(pk=written.parsed.id)
    assert (signature.letter_id, signature.title) == (letter.pk, "Actor")
