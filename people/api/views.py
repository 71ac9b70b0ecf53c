"""People, organizations and duplicate pairs. Views validate, call one service or
selector, and serialise."""

from __future__ import annotations

from django.db.models import QuerySet
from django.urls import reverse
from drf_spectacular.utils import (
    OpenApiExample,
    OpenApiResponse,
    extend_schema,
    extend_schema_view,
)
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import NotFound
from rest_framework.request import Request
from rest_framework.response import Response

from people import selectors, services
from people.api import serializers as s
from people.api.filters import JudgementFilter, OrganizationFilter, PersonFilter
from people.merging import decisions, runs
from people.models import MatchJudgement, MatchRun, Organization, Person
from tracker.filters import FiltersOnListMixin
from tracker.idempotency import IDEMPOTENCY_KEY, idempotent
from tracker.pagination import KeysetPagination, UncountedPagePagination
from tracker.permissions import StaffReadModelWrite

_ID = r"[0-9]{1,19}"


@extend_schema_view(
    list=extend_schema(
        summary="People",
        description="Active people (merged records are left out), by sort name or, "
        "with `search`, best match first.",
        examples=[
            OpenApiExample(
                "A person",
                value={
                    "id": 7,
                    "name": "Maggie Gyllenhaal",
                    "sort_name": "Gyllenhaal, Maggie",
                    "external_ids": {"wikidata": "Q229313"},
                    "api_url": "https://tracker.example.org/api/people/7/",
                },
                response_only=True,
            )
        ],
    ),
    retrieve=extend_schema(
        summary="A person",
        description="Every name seen (with the sources that wrote it), affiliations, the "
        "letters signed with the status of each signature, and external ids. The id of a "
        "person merged into another answers 301 with the survivor's address.",
        responses={
            200: s.PersonDetailSerializer,
            301: OpenApiResponse(description="Merged into another person: see Location."),
        },
    ),
)
class PersonViewSet(
    FiltersOnListMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet
):
    queryset = Person.objects.filter(merged_into__isnull=True)
    serializer_class = s.PersonSerializer
    filterset_class = PersonFilter
    pagination_class = UncountedPagePagination
    lookup_value_regex = _ID

    def retrieve(self, request: Request, pk: str) -> Response:
        person = selectors.person_detail(person_id=int(pk), include_removed=request.user.is_staff)
        if person is None:
            raise NotFound(f"There is no person #{pk}.")
        if person.merged_into_id is not None:
            survivor = services.person_survivor(person)
            location = request.build_absolute_uri(reverse("person-detail", args=[survivor.pk]))
            if request.META.get("QUERY_STRING"):
                location += "?" + request.META["QUERY_STRING"]
            return Response(
                status=status.HTTP_301_MOVED_PERMANENTLY, headers={"Location": location}
            )
        return Response(s.PersonDetailSerializer(person, context={"request": request}).data)


@extend_schema_view(
    list=extend_schema(
        summary="Organizations",
        description="Every institution, as affiliation or letter target, with the letters "
        "that target it and in which role.",
    ),
    retrieve=extend_schema(
        summary="An organization", description="With the people affiliated with it."
    ),
    create=extend_schema(
        summary="Add an organization",
        request=s.OrganizationWriteSerializer,
        responses={201: s.OrganizationDetailSerializer},
        parameters=[IDEMPOTENCY_KEY],
        examples=[
            OpenApiExample(
                "A government office",
                value={
                    "name": "Office of Science and Technology Policy",
                    "kind": "government",
                    "country": "US",
                    "aliases": ["OSTP"],
                    "external_ids": {"wikidata": "Q1501185"},
                },
                request_only=True,
            )
        ],
    ),
    update=extend_schema(
        summary="Replace an organization's fields",
        request=s.OrganizationWriteSerializer,
        responses={200: s.OrganizationDetailSerializer},
    ),
    partial_update=extend_schema(
        summary="Change some of an organization's fields",
        request=s.OrganizationWriteSerializer,
        responses={200: s.OrganizationDetailSerializer},
    ),
)
class OrganizationViewSet(
    FiltersOnListMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    mixins.UpdateModelMixin,
    viewsets.GenericViewSet,
):
    queryset = Organization.objects.all()
    serializer_class = s.OrganizationSerializer
    filterset_class = OrganizationFilter
    lookup_value_regex = _ID

    def get_queryset(self) -> QuerySet[Organization]:
        return selectors.organization_list()

    def _detail(self, organization: Organization, code: int = status.HTTP_200_OK) -> Response:
        organization = self.get_queryset().get(pk=organization.pk)
        organization.affiliated, organization.affiliated_count = selectors.organization_affiliated(
            organization
        )
        return Response(s.OrganizationDetailSerializer(organization).data, status=code)

    def retrieve(self, request: Request, pk: str) -> Response:
        return self._detail(self.get_object())

    def create(self, request: Request) -> Response:
        def create() -> Response:
            serializer = s.OrganizationWriteSerializer(data=request.data)
            serializer.is_valid(raise_exception=True)
            organization = services.organization_create(**serializer.validated_data)
            response = self._detail(organization, status.HTTP_201_CREATED)
            response.headers["Location"] = reverse("organization-detail", args=[organization.pk])
            return response

        return idempotent(request, create)

    def update(self, request: Request, pk: str, partial: bool = False) -> Response:
        organization = self.get_object()
        serializer = s.OrganizationWriteSerializer(data=request.data, partial=partial)
        serializer.is_valid(raise_exception=True)
        services.organization_update(organization=organization, **serializer.validated_data)
        return self._detail(organization)


@extend_schema_view(
    list=extend_schema(
        summary="Suspected duplicates",
        description="Pairs of people that may be one, awaiting review, best score first "
        "and, among equal scores, the pairs carrying the most signatures (`impact`), with "
        "the features that agreed and disagreed. Staff only.",
    ),
    retrieve=extend_schema(summary="A suspected duplicate pair"),
)
class DuplicateViewSet(
    FiltersOnListMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet
):
    queryset = MatchJudgement.objects.select_related("person_a", "person_b", "decided_by")
    serializer_class = s.JudgementSerializer
    filterset_class = JudgementFilter
    permission_classes = [StaffReadModelWrite]
    action_permissions = {"decide": "people.change_matchjudgement"}
    lookup_value_regex = _ID

    def get_queryset(self) -> QuerySet[MatchJudgement]:
        return selectors.judgement_list(decision=None)

    @extend_schema(
        summary="Decide a pair",
        description='"same" merges the two people (undoable), "different" records that '
        'they are two people, which no automatic run overrules, and "unsure" keeps a note.',
        request=s.DecisionSerializer,
        responses={200: s.JudgementSerializer},
        examples=[
            OpenApiExample(
                "Two spellings of one person",
                value={"decision": "same", "reason": "Same actor; the press misspelt her name."},
                request_only=True,
            )
        ],
    )
    @action(detail=True, methods=["post"])
    def decide(self, request: Request, pk: str) -> Response:
        judgement = self.get_object()
        serializer = s.DecisionSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        judgement = decisions.judgement_decide(
            judgement=judgement,
            decision=serializer.validated_data["decision"],
            reason=serializer.validated_data["reason"],
            replaces=serializer.validated_data["replaces"],
            by=request.user,
        )
        judgement = self.get_queryset().get(pk=judgement.pk)
        return Response(s.JudgementSerializer(judgement).data)


class MatchRunPagination(KeysetPagination):
    ordering = ("-id",)
    page_size = 50
    max_page_size = 500


_RUN_EXAMPLE = {
    "id": 42,
    "mode": "full",
    "status": "succeeded",
    "requested_by": "editor",
    "started_at": "2025-03-18T02:00:00Z",
    "finished_at": "2025-03-18T02:03:10Z",
    "duration": 190.2,
    "people_considered": 30512,
    "candidates": 120448,
    "blocks": 3,
    "blocks_done": 3,
    "pairs_scored": 120448,
    "merged": 211,
    "queued": 37,
    "blocked_by_judgements": 4,
    "error": "",
    "api_url": "https://tracker.example.org/api/match-runs/42/",
}


@extend_schema_view(
    list=extend_schema(
        summary="Runs of the duplicate finder",
        description="Newest first, with what each run did and how long it took. Staff only.",
        examples=[OpenApiExample("A full run", value=_RUN_EXAMPLE, response_only=True)],
    ),
    retrieve=extend_schema(summary="A run of the duplicate finder"),
)
class MatchRunViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    queryset = MatchRun.objects.select_related("requested_by")
    serializer_class = s.MatchRunSerializer
    pagination_class = MatchRunPagination
    permission_classes = [StaffReadModelWrite]
    lookup_value_regex = _ID

    def get_queryset(self) -> QuerySet[MatchRun]:
        return selectors.match_run_list()

    @extend_schema(
        summary="Run the duplicate finder",
        description="Queues a run on the workers and answers 202 with it; its `api_url` "
        "shows the counts once it has finished. One run goes at a time: while one is going "
        "on, the request is recorded and answered as a run with status `skipped`. Needs the "
        "permission to add match runs.",
        request=s.MatchRunRequestSerializer,
        parameters=[IDEMPOTENCY_KEY],
        responses={202: s.MatchRunSerializer},
        examples=[
            OpenApiExample("On everyone", value={"full": True}, request_only=True),
            OpenApiExample(
                "On the people changed since the last run", value={"full": False}, request_only=True
            ),
        ],
    )
    def create(self, request: Request) -> Response:
        def queue() -> Response:
            serializer = s.MatchRunRequestSerializer(data=request.data)
            serializer.is_valid(raise_exception=True)
            full = serializer.validated_data["full"]
            people = () if full else runs.people_since_last_run()
            run = runs.match_request(full=full, by=request.user, person_ids=people)
            run = self.get_queryset().get(pk=run.pk)
            data = s.MatchRunSerializer(run, context={"request": request}).data
            headers = {"Location": data["api_url"]}
            return Response(data, status=status.HTTP_202_ACCEPTED, headers=headers)

        return idempotent(request, queue)
