"""The reconciliation service (W3C Reconciliation Service API v0.2): the
manifest and result batches against the specification's constraints, and the
names a spreadsheet would hold."""

from __future__ import annotations

import json
from urllib.parse import urlencode

import jsonschema
import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from letters.services import Entry, signature_record
from people.merging import runs
from people.models import MatchRun
from people.services import person_create_many
from tests.factories import make_letter, make_organization, make_source

pytestmark = pytest.mark.django_db

# The constraints of the v0.2 specification's JSON schemas (manifest.json,
# reconciliation-result-batch.json), written out here.
ENTITY_TYPE = {
    "type": "object",
    "required": ["id", "name"],
    "properties": {"id": {"type": "string"}, "name": {"type": "string"}},
}
MANIFEST = {
    "type": "object",
    "required": ["versions", "name", "identifierSpace", "schemaSpace"],
    "properties": {
        "versions": {"type": "array", "items": {"type": "string"}, "contains": {"const": "0.2"}},
        "name": {"type": "string"},
        "identifierSpace": {"type": "string", "pattern": "^https?://"},
        "schemaSpace": {"type": "string", "pattern": "^https?://"},
        "defaultTypes": {"type": "array", "items": ENTITY_TYPE},
        "view": {
            "type": "object",
            "required": ["url"],
            "properties": {"url": {"type": "string", "pattern": r"\{\{id\}\}"}},
        },
        "preview": {
            "type": "object",
            "required": ["url", "width", "height"],
            "properties": {
                "url": {"type": "string", "pattern": r"\{\{id\}\}"},
                "width": {"type": "integer"},
                "height": {"type": "integer"},
            },
        },
        "suggest": {
            "type": "object",
            "properties": {
                "entity": {
                    "type": "object",
                    "required": ["service_url", "service_path"],
                    "properties": {
                        "service_url": {"type": "string"},
                        "service_path": {"type": "string"},
                    },
                }
            },
        },
    },
}
CANDIDATE = {
    "type": "object",
    "required": ["id", "name", "score", "match"],
    "properties": {
        "id": {"type": "string"},
        "name": {"type": "string"},
        "score": {"type": "number"},
        "match": {"type": "boolean"},
        "type": {"type": "array", "items": ENTITY_TYPE},
        "features": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["id", "value"],
                "properties": {
                    "id": {"type": "string"},
                    "value": {"type": ["number", "boolean"]},
                },
            },
        },
    },
}
RESULT_BATCH = {
    "type": "object",
    "additionalProperties": {
        "type": "object",
        "required": ["result"],
        "properties": {"result": {"type": "array", "items": CANDIDATE}},
    },
}


def _background(count: int) -> None:
    """Other people, so that names weigh as in a real database: the finder
    learns how common each name is from the names it has read."""
    givens = ["Ada", "Bruno", "Clara", "Dmitri", "Elena", "Farid", "Greta", "Hugo", "Ines"]
    families = ["Moravec", "Lindqvist", "Okafor", "Paredes", "Quist", "Rautio", "Sandoval"]
    names = [
        (f"{givens[n % len(givens)]} {families[n // len(givens) % len(families)]}{n}", [])
        for n in range(count)
    ]
    person_create_many(people=names, at=timezone.now())


@pytest.fixture
def known(db):
    letter = make_letter(title="Letter on AI and copyright", slug="ai-and-copyright")
    site = make_source(letter, name="Letter site", kind="letter_site")
    press = make_source(letter, name="Newspaper", kind="press")

    def sign(source, name, title="", affiliation=""):
        entry = Entry(name=name, title=title, affiliation=affiliation)
        return signature_record(letter=letter, source=source, entry=entry).signature.person

    people = {
        "maggie": sign(site, "Maggie Gyllenhaal", "Actor"),
        "jake": sign(site, "Jake Gyllenhaal", "Actor"),
        "actor": sign(site, "Chris Evans", "Actor", "Marvel Studios"),
        "broadcaster": sign(press, "Chris Evans", "Broadcaster", "BBC Radio 2"),
    }
    _background(1500)
    runs.run_now(full=True)
    return people


def _batch(client, queries: dict, method: str = "get") -> dict:
    if method == "get":
        response = client.get("/api/reconcile/", {"queries": json.dumps(queries)})
    elif method == "form":  # as OpenRefine sends it
        response = client.post(
            "/api/reconcile/",
            urlencode({"queries": json.dumps(queries)}),
            content_type="application/x-www-form-urlencoded",
        )
    else:
        response = client.post("/api/reconcile/", {"queries": queries}, format="json")
    assert response.status_code == 200, response.content
    body = response.json()
    jsonschema.validate(body, RESULT_BATCH)
    return body


def test_the_manifest_follows_the_specification():
    response = APIClient().get("/api/reconcile/")
    assert response.status_code == 200
    manifest = response.json()
    jsonschema.validate(manifest, MANIFEST)
    assert {t["id"] for t in manifest["defaultTypes"]} == {"person", "organization"}
    assert manifest["view"]["url"].endswith("/api/people/{{id}}/")


@pytest.mark.parametrize("written", ["Gyllenhaal, Maggie", "Maggie Gylenhall", "MAGGIE GYLLENHAAL"])
def test_spellings_of_a_known_person_find_her_as_a_match(known, written):
    body = _batch(APIClient(), {"q0": {"query": written, "type": "person"}}, method="form")
    best = body["q0"]["result"][0]
    assert best["id"] == str(known["maggie"].pk)
    assert best["match"] is True
    assert best["name"] == "Maggie Gyllenhaal"
    assert 0 <= best["score"] <= 100
    assert {"family_name", "given_name", "bits"} <= {f["id"] for f in best["features"]}


def test_her_brother_is_not_her(known):
    body = _batch(APIClient(), {"q0": {"query": "Jake Gyllenhaal"}}, method="post")
    results = body["q0"]["result"]
    assert results[0]["id"] == str(known["jake"].pk)
    maggie = [r for r in results if r["id"] == str(known["maggie"].pk)]
    assert all(not r["match"] for r in maggie)


# "Chris Evans" of BBC Radio 2 (q0), and "Chris Evans" alone (q1).
CHRIS_EVANS = {
    "q0": {"query": "Chris Evans", "properties": [{"pid": "affiliation", "v": "BBC Radio 2"}]},
    "q1": {"query": "Chris Evans"},
}


def test_an_affiliation_tells_two_namesakes_apart(known):
    body = _batch(APIClient(), CHRIS_EVANS)
    best = body["q0"]["result"][0]
    assert best["id"] == str(known["broadcaster"].pk)
    assert best["match"] is True
    assert [r["match"] for r in body["q0"]["result"]].count(True) == 1
    # The name alone could be either: the service does not choose.
    assert {r["id"] for r in body["q1"]["result"][:2]} == {
        str(known["actor"].pk),
        str(known["broadcaster"].pk),
    }
    assert not any(r["match"] for r in body["q1"]["result"])


def test_an_affiliation_tells_namesakes_apart_where_a_run_learned_it_is_evidence(known):
    # The weights of a run that learned another organisation as evidence, not a
    # veto: both namesakes reach the merge threshold, the one whose
    # organisation agrees by far more.
    learned = MatchRun.objects.order_by("-id").first()
    learned.details = {
        **learned.details,
        "weights": {
            "learned": True,
            "org_veto": False,
            "bits": {"org_agree": 6.0, "org_disagree": -2.0},
        },
    }
    learned.save(update_fields=["details"])
    body = _batch(APIClient(), CHRIS_EVANS)
    results = body["q0"]["result"]
    assert results[0]["id"] == str(known["broadcaster"].pk) and results[0]["match"] is True
    actor = [r for r in results if r["id"] == str(known["actor"].pk)]
    assert actor and not actor[0]["match"]
    # Without an affiliation the two are as likely: neither is a match.
    assert not any(r["match"] for r in body["q1"]["result"])


def test_organisations_reconcile_by_name_and_alias(db):
    guild = make_organization("Writers Guild of America", aliases=["WGA"])
    make_organization("Writers' Guild of Great Britain")
    body = _batch(
        APIClient(),
        {
            "q0": {"query": "writers guild of america", "type": "organization"},
            "q1": {"query": "WGA", "type": "organization"},
        },
    )
    for key in ("q0", "q1"):
        best = body[key]["result"][0]
        assert (best["id"], best["match"]) == (str(guild.pk), True)


def test_suggest_and_preview(known):
    client = APIClient()
    suggested = client.get("/api/reconcile/suggest/entity/", {"prefix": "gyllen"}).json()
    assert str(known["maggie"].pk) in {item["id"] for item in suggested["result"]}
    card = client.get("/api/reconcile/preview/", {"id": known["maggie"].pk})
    assert card.status_code == 200
    assert card["Content-Type"].startswith("text/html")
    assert b"Maggie Gyllenhaal" in card.content
    assert b"Letter on AI and copyright" in card.content


def test_jsonp_wraps_the_manifest():
    response = APIClient().get("/api/reconcile/", {"callback": "jsonp123"})
    assert response["Content-Type"].startswith("application/javascript")
    text = response.content.decode()
    assert text.startswith("jsonp123(") and text.endswith(");")
    jsonschema.validate(json.loads(text[len("jsonp123(") : -2]), MANIFEST)
    refused = APIClient().get("/api/reconcile/", {"callback": "alert(1)//"})
    assert refused.status_code == 400


@pytest.mark.parametrize(
    "queries",
    [
        "not json",
        json.dumps([]),
        json.dumps({"q0": {"query": ""}}),
        json.dumps({"q0": {"query": "Ada", "type": "planet"}}),
        json.dumps({"q0": {"query": "Ada", "limit": 0}}),
        json.dumps({"q0": {"query": "Ada", "properties": [{"pid": "shoe size", "v": "9"}]}}),
    ],
)
def test_a_bad_batch_says_what_is_wrong(db, queries):
    response = APIClient().get("/api/reconcile/", {"queries": queries})
    assert response.status_code == 400
    assert "queries" in json.dumps(response.json())
