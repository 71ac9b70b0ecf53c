"""The reconciliation service (W3C Reconciliation Service API v0.2) for
OpenRefine and other clients: the manifest, query batches, suggest and preview.

Anonymous like the other reads, and throttled like them. GET answers may be
wrapped for JSONP with ``callback``, as older clients ask.
"""

from __future__ import annotations

import json
import re

from django.http import HttpResponse
from django.template.loader import render_to_string
from django.urls import reverse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response

from letters.selectors import letter_ids_by_slug
from people import reconcile, selectors
from tracker.errors import DomainError

_CALLBACK = re.compile(r"^[A-Za-z_$][\w$.]{0,63}$")

QUERIES = OpenApiParameter(
    "queries",
    OpenApiTypes.STR,
    description=(
        'A JSON object of queries, by key: {"q0": {"query": "Maggie Gyllenhaal", '
        '"type": "person", "limit": 3, "properties": [{"pid": "affiliation", '
        '"v": "BBC Radio 2"}]}}. Without it, GET answers the service manifest.'
    ),
)
CALLBACK = OpenApiParameter(
    "callback", OpenApiTypes.STR, description="Wrap the JSON answer for JSONP."
)
# JSON, or with ``callback`` the same JSON wrapped for JSONP.
ANSWERS = {
    (200, "application/json"): OpenApiResponse(OpenApiTypes.OBJECT),
    (200, "application/javascript"): OpenApiResponse(
        OpenApiTypes.STR, description="With `callback`: `callback(<the JSON answer>);`"
    ),
}


class ReconcileViewSet(viewsets.ViewSet):
    """Match names against the people and organisations the tracker knows."""

    permission_classes = [AllowAny]

    @extend_schema(
        summary="Reconciliation: service manifest, or a batch of queries",
        description=(
            "Without `queries`, the service manifest (Reconciliation Service API v0.2): "
            "versions, identifier and schema spaces, the default types `person` and "
            "`organization`, and where to view, preview and suggest entities. With "
            "`queries`, the result batch: for each query key, candidates best first, each "
            "with `id`, `name`, `score` (0-100), `match` (true only when the duplicate finder "
            "would merge the two automatically and no other candidate comes as close), "
            "`type` and `features` (the parts of the score, in bits). People are read and "
            "scored as the duplicate finder reads them: 'Gyllenhaal, Maggie', 'Maggie "
            "Gylenhall' and 'MAGGIE GYLLENHAAL' find Maggie Gyllenhaal. Properties: "
            "`affiliation`, `title`, `letter` (a slug), `country` (organisations)."
        ),
        parameters=[QUERIES, CALLBACK],
        responses=ANSWERS,
    )
    def list(self, request: Request) -> Response:
        raw = request.query_params.get("queries")
        if raw is None:
            return self._answer(request, manifest(request))
        return self._answer(request, self._batch(raw))

    @extend_schema(
        summary="Reconciliation: a batch of queries (form field or JSON `queries`)",
        request={
            "application/json": {
                "type": "object",
                "properties": {"queries": {"type": "object"}},
                "required": ["queries"],
            }
        },
        responses={200: OpenApiResponse(OpenApiTypes.OBJECT)},
    )
    def create(self, request: Request) -> Response:
        raw = request.data.get("queries") if hasattr(request.data, "get") else None
        if raw is None:
            raise ValidationError({"queries": ["A JSON object of queries is required."]})
        return Response(self._batch(raw))

    @extend_schema(
        summary="Reconciliation: entities for autocomplete",
        parameters=[
            OpenApiParameter("prefix", OpenApiTypes.STR, required=True),
            OpenApiParameter("type", OpenApiTypes.STR, enum=sorted(reconcile.TYPES)),
            CALLBACK,
        ],
        responses=ANSWERS,
    )
    @action(detail=False, methods=["get"], url_path="suggest/entity")
    def suggest_entity(self, request: Request) -> Response:
        prefix = request.query_params.get("prefix", "")
        kind = request.query_params.get("type", "person")
        if kind not in reconcile.TYPES:
            raise ValidationError({"type": [f"One of {', '.join(reconcile.TYPES)}."]})
        return self._answer(request, {"result": reconcile.suggest(prefix, type=kind)})

    @extend_schema(
        summary="Reconciliation: a person's card (HTML)",
        parameters=[OpenApiParameter("id", OpenApiTypes.INT, required=True)],
        responses={(200, "text/html"): OpenApiResponse(OpenApiTypes.STR)},
    )
    @action(detail=False, methods=["get"])
    def preview(self, request: Request) -> HttpResponse:
        try:
            person_id = int(request.query_params.get("id", ""))
        except ValueError as exc:
            raise ValidationError({"id": ["A person's id."]}) from exc
        person = selectors.person_detail(person_id=person_id, include_removed=False)
        if person is None:
            raise NotFound("No such person.")
        html = render_to_string(
            "people/reconcile/preview.html",
            {
                "person": person,
                "names": selectors.person_names_by_spelling(person),
                "url": request.build_absolute_uri(reverse("person-detail", args=[person.pk])),
            },
        )
        return HttpResponse(html, content_type="text/html; charset=utf-8")

    def _batch(self, raw) -> dict:
        try:
            queries = reconcile.queries_read(raw)
        except DomainError as exc:
            raise ValidationError({"queries": [exc.message]}) from exc
        slugs = {query.letter for query in queries.values() if query.letter}
        return reconcile.reconcile(queries, letters=letter_ids_by_slug(slugs))

    def _answer(self, request: Request, data: dict) -> Response | HttpResponse:
        callback = request.query_params.get("callback")
        if callback is None:
            return Response(data)
        if not _CALLBACK.match(callback):
            raise ValidationError({"callback": ["A JavaScript function name."]})
        body = f"{callback}({json.dumps(data)});"
        return HttpResponse(body, content_type="application/javascript; charset=utf-8")


def manifest(request: Request) -> dict:
    base = request.build_absolute_uri("/").rstrip("/")
    person_url = request.build_absolute_uri(reverse("person-detail", args=[0]))
    service = request.build_absolute_uri(reverse("reconcile-list")).rstrip("/")
    return {
        "versions": ["0.2"],
        "name": "Signatory tracker: people and organisations",
        "identifierSpace": f"{base}/api/people/",
        "schemaSpace": f"{base}/api/schema/",
        "defaultTypes": [{"id": key, "name": name} for key, name in reconcile.TYPES.items()],
        "view": {"url": person_url.replace("/0/", "/{{id}}/")},
        "preview": {"url": f"{service}/preview/?id={{{{id}}}}", "width": 430, "height": 300},
        "suggest": {
            "entity": {"service_url": service, "service_path": "/suggest/entity/"},
        },
        "documentation": f"{base}/api/docs/",
    }
