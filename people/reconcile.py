"""Reconciliation: names from a spreadsheet matched against the people and
organisations the tracker knows, as the W3C Entity Reconciliation Community
Group's Reconciliation Service API v0.2 describes it.

People are read and scored as the duplicate finder reads and scores them
(``people.matching``): a query is a record of its own (the name, and what its
properties state), each candidate a person with every name and context the
tracker holds for them, and a candidate is a ``match`` only when the finder
would merge the two automatically, and no other candidate comes as close. The
names' frequencies are those of every name the finder has read (its kept
index), so that a rare name weighs as much here as in a run.
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
from rapidfuzz import fuzz

from people.matching.index import version
from people.matching.normalize import fold, parse_name
from people.matching.organizations import organization_key
from people.matching.records import Frequencies, Prepared, Record
from people.matching.scoring import Decision, explain, probability, score_pairs
from people.merging.runs import load_records
from people.models import NameKey, Organization, Person
from people.selectors import organization_keys, queryset_search
from people.weights import weights_current
from tracker.errors import DomainError

TYPES = {"person": "Person", "organization": "Organization"}
# Properties a query may state, by id: what each sharpens.
PROPERTIES = {
    "affiliation": "Affiliation as stated (an organisation): compared as the finder compares them",
    "title": "Title or role as stated: its field is compared",
    "letter": "Slug of a letter the person signed",
    "country": "Country (organisations: compared with the organisation's country)",
}
MAX_QUERIES = 100
DEFAULT_LIMIT = 5
MAX_LIMIT = 25
# Candidates read per query before scoring: the closest by the search.
CANDIDATES = 20
MAX_QUERY_LENGTH = 300
_FREQUENCIES_TTL = 300.0


@dataclass(frozen=True)
class Query:
    text: str
    type: str = "person"
    limit: int = DEFAULT_LIMIT
    affiliation: str = ""
    title: str = ""
    letter: str = ""
    country: str = ""


def queries_read(raw: Any) -> dict[str, Query]:
    """A batch of queries (the JSON text or object of ``queries``), checked:
    each key names one query, with ``query`` and optionally ``type``, ``limit``
    and ``properties`` (a list of ``{"pid": ..., "v": ...}``)."""
    if isinstance(raw, str | bytes):
        try:
            raw = json.loads(raw)
        except ValueError as exc:
            raise DomainError(f"queries: not JSON ({exc}).", field="queries") from exc
    if not isinstance(raw, Mapping) or not raw:
        raise DomainError(
            'queries: a JSON object of queries, such as {"q0": {"query": "Maggie Gyllenhaal"}}.',
            field="queries",
        )
    if len(raw) > MAX_QUERIES:
        raise DomainError(f"queries: at most {MAX_QUERIES} in one batch.", field="queries")
    return {str(key): _query_read(str(key), value) for key, value in raw.items()}


def _query_read(key: str, value: Any) -> Query:
    where = f"queries.{key}"
    if not isinstance(value, Mapping):
        raise DomainError(f"{where}: an object with a 'query'.", field="queries")
    text = value.get("query")
    if not isinstance(text, str) or not fold(text):
        raise DomainError(f"{where}.query: a name to look for.", field="queries")
    kind = value.get("type") or "person"
    if isinstance(kind, Mapping):
        kind = kind.get("id")
    if kind not in TYPES:
        raise DomainError(
            f"{where}.type: one of {', '.join(TYPES)}, not {kind!r}.", field="queries"
        )
    limit = value.get("limit", DEFAULT_LIMIT)
    if isinstance(limit, bool) or not isinstance(limit, int) or limit < 1:
        raise DomainError(f"{where}.limit: a whole number from 1.", field="queries")
    stated: dict[str, str] = {}
    properties = value.get("properties") or []
    if not isinstance(properties, list):
        raise DomainError(f"{where}.properties: a list of {{pid, v}}.", field="queries")
    for number, item in enumerate(properties):
        pid = item.get("pid") if isinstance(item, Mapping) else None
        if pid not in PROPERTIES:
            raise DomainError(
                f"{where}.properties[{number}].pid: one of {', '.join(PROPERTIES)}.",
                field="queries",
            )
        found = item.get("v")
        if isinstance(found, Mapping):  # an entity of the service: {"id": ..., "name": ...}
            found = found.get("name") or found.get("id")
        if isinstance(found, list):
            found = found[0] if found else ""
        stated[pid] = str(found or "")[:MAX_QUERY_LENGTH]
    return Query(text=text[:MAX_QUERY_LENGTH], type=kind, limit=min(limit, MAX_LIMIT), **stated)


def reconcile(queries: Mapping[str, Query], *, letters: Mapping[str, int] | None = None) -> dict:
    """The result batch: per query key, ``{"result": [candidates, best first]}``.

    ``letters`` maps the letter slugs the queries state to their ids (the caller
    reads them); a slug it lacks is a letter nobody signed.
    """
    letters = letters or {}
    people = {key: q for key, q in queries.items() if q.type == "person"}
    # The keys of every organisation's name and aliases, read once for the batch.
    keys = organization_keys() if len(people) < len(queries) else {}
    answers = {
        key: {"result": _organizations(q, keys)} for key, q in queries.items() if key not in people
    }
    if people:
        answers.update(_people(people, letters))
    return {key: answers[key] for key in queries}


# --- People ------------------------------------------------------------------------


_frequencies_cache: dict[str, Any] = {}


def name_frequencies() -> Frequencies:
    """How often each given and family name occurs among the names the
    duplicate finder has read, kept for a few minutes."""
    now = time.monotonic()
    cached = _frequencies_cache.get("value")
    if cached is not None and now - _frequencies_cache["at"] < _FREQUENCIES_TTL:
        return cached
    rows = NameKey.objects.filter(version=version()).values_list("given", "family", named=True)
    value = Frequencies.of(rows.iterator(chunk_size=20_000))
    _frequencies_cache.update(value=value, at=now)
    return value


def _candidates(query: Query) -> list[int]:
    """Active people whose names come closest to the query, by the search."""
    active = Person.objects.filter(merged_into__isnull=True)
    # The name as the matcher reads it, given names first ("Gyllenhaal, Maggie" as
    # "Maggie Gyllenhaal"); as written only when that finds no one.
    for text in dict.fromkeys([parse_name(query.text).display or query.text, query.text]):
        found = list(queryset_search(active, text).values_list("pk", flat=True)[:CANDIDATES])
        if found:
            return found
    return []


def _people(queries: Mapping[str, Query], letters: Mapping[str, int]) -> dict:
    candidates = {key: _candidates(query) for key, query in queries.items()}
    wanted = sorted({pk for found in candidates.values() for pk in found})
    records = load_records(wanted) if wanted else []
    # Each query is a record of its own, with ids no person has.
    asked = [
        Record(
            -1 - number,
            (query.text,),
            orgs=(query.affiliation,) if query.affiliation else (),
            titles=(query.title,) if query.title else (),
            letters=(letters[query.letter],) if query.letter in letters else (),
        )
        for number, query in enumerate(queries.values())
    ]
    prepared = Prepared([*asked, *records], frequencies=name_frequencies())
    position = {int(pk): i for i, pk in enumerate(prepared.ids.tolist())}
    weights = weights_current()
    first, second = [], []
    for number, key in enumerate(queries):
        for pk in candidates[key]:
            first.append(number)
            second.append(position[pk])
    a, b = np.asarray(first, dtype=np.int64), np.asarray(second, dtype=np.int64)
    scored = score_pairs(prepared, a, b, weights, keep_all=True) if len(a) else None
    by_query: dict[int, list[int]] = {}
    for k in range(len(a)):
        by_query.setdefault(int(a[k]), []).append(k)
    names = {record.id: record.names[0] for record in records if record.names}
    answers = {}
    for number, (key, query) in enumerate(queries.items()):
        rows = sorted(by_query.get(number, []), key=lambda k: (-scored.bits[k], int(b[k])))
        results = [_person_result(scored, k, int(prepared.ids[b[k]]), names, weights) for k in rows]
        automatic = [i for i, r in enumerate(results) if r["match"]]
        # Two people the finder would each merge: neither is certain, unless the
        # first outscores the second by the width of the review band (an
        # organisation that agrees against one that does not, where another
        # organisation is evidence rather than a veto).
        if len(automatic) > 1:
            first, second = (float(scored.bits[rows[i]]) for i in automatic[:2])
            clear = automatic[0] == 0 and first - second >= weights.merge_at - weights.review_at
            for i in automatic[1:] if clear else automatic:
                results[i]["match"] = False
        answers[key] = {"result": results[: query.limit]}
    return answers


def _person_result(scored, k: int, pk: int, names: Mapping[int, str], weights) -> dict:
    explanation = explain(scored, k, weights)
    features = [
        {"id": _feature_id(part["feature"]), "value": part["weight"]}
        for part in explanation.get("agreed", []) + explanation.get("disagreed", [])
    ]
    features.append({"id": "bits", "value": round(float(scored.bits[k]), 2)})
    return {
        "id": str(pk),
        "name": names.get(pk, ""),
        "score": round(100.0 * float(probability(float(scored.bits[k]), weights)), 1),
        "match": bool(scored.decision[k] == Decision.AUTO),
        "type": [{"id": "person", "name": TYPES["person"]}],
        "features": features,
    }


def _feature_id(feature: str) -> str:
    return feature.replace(" ", "_").replace("organisation", "organization")


# --- Organisations -------------------------------------------------------------------


def _organizations(query: Query, keys: Mapping[str, int]) -> list[dict]:
    """Organisations close to the query by the search, and the one whose name
    or alias has the query's key (``selectors.organization_keys``)."""
    key = organization_key(query.text)
    fields = ("pk", "name", "aliases", "country")
    found = list(queryset_search(Organization.objects.all(), query.text).only(*fields)[:CANDIDATES])
    owner = keys.get(key) if key else None
    if owner is not None and all(org.pk != owner for org in found):
        found += list(Organization.objects.filter(pk=owner).only(*fields))
    results = []
    for org in found:
        written = [org.name, *(org.aliases or [])]
        same = bool(key) and any(organization_key(name) == key for name in written)
        closest = max(fuzz.token_set_ratio(fold(query.text), fold(name)) for name in written)
        country_differs = bool(query.country and org.country) and fold(query.country) != fold(
            org.country
        )
        score = 100.0 if same else float(closest)
        if country_differs:
            score = min(score, 50.0)
        results.append(
            {
                "id": str(org.pk),
                "name": org.name,
                "score": round(score, 1),
                "match": same and not country_differs,
                "type": [{"id": "organization", "name": TYPES["organization"]}],
                "features": [
                    {"id": "same_name_or_alias", "value": 1.0 if same else 0.0},
                    {"id": "name_similarity", "value": round(float(closest), 1)},
                ],
            }
        )
    results.sort(key=lambda r: (-r["score"], int(r["id"])))
    matches = [r for r in results if r["match"]]
    if len(matches) > 1:
        for result in matches:
            result["match"] = False
    return results[: query.limit]


# --- Suggest and preview -----------------------------------------------------------------


def suggest(prefix: str, *, type: str = "person", limit: int = 10) -> list[dict]:
    """Entities whose names start like ``prefix`` or come close, for autocomplete."""
    model = Organization if type == "organization" else Person
    queryset = model.objects.all()
    if model is Person:
        queryset = queryset.filter(merged_into__isnull=True)
    field = "name" if model is Organization else "display_name"
    rows = queryset_search(queryset, prefix).values_list("pk", field)[: max(1, min(limit, 25))]
    return [{"id": str(pk), "name": name} for pk, name in rows]
