"""People, organizations and duplicate pairs. Views validate, call one service or
selector, and serialise."""

from __future__ import annotations

from django.db.models import QuerySet
from django.urls import reverse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiExample,
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
    extend_schema_view,
)
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.request import Request
from rest_framework.response import Response

import letters.selectors as letter_selectors
from letters.models import Letter
from people import selectors, services
from people.api import serializers as s
from people.api.filters import (
    JudgementFilter,
    MergeFilter,
    OrganizationFilter,
    PersonFilter,
    SplitFilter,
)
from people.merging import decisions, runs, undo
from people.merging import split as splits
from people.models import MatchJudgement, MatchRun, Merge, Organization, Person, Split
from tracker.csv import CSVRenderer, ExportListMixin, NDJSONRenderer, export_response, export_schema
from tracker.filters import FiltersOnListMixin
from tracker.idempotency import IDEMPOTENCY_KEY, idempotent
from tracker.ordering import OrderedListMixin, ordering_parameter
from tracker.pagination import KeysetPagination, PagePagination, SearchPagePagination
from tracker.permissions import StaffReadModelWrite

_ID = r"[0-9]{1,19}"
_ORGANIZATION_REFERENCE = OpenApiParameter(
    "id_or_slug",
    OpenApiTypes.STR,
    OpenApiParameter.PATH,
    description="The organization's id (digits) or its slug, such as `ostp`.",
)
# The one error body (tracker.schema adds the component), for documented examples.
_ERROR = {"$ref": "#/components/schemas/Error"}


def _error_example(name: str, status_code: int, code: str, message: str, field=None):
    return OpenApiExample(
        name,
        value={
            "status": status_code,
            "code": code,
            "message": message,
            "field": field,
            "errors": [{"field": field, "code": code, "message": message}],
        },
        response_only=True,
        status_codes=[str(status_code)],
    )


_SPLIT_EXAMPLE = {
    "id": 4,
    "person": {
        "id": 7,
        "name": "Chris Evans",
        "api_url": "https://tracker.example.org/api/people/7/",
    },
    "new_person": {
        "id": 912,
        "name": "Chris Evans",
        "api_url": "https://tracker.example.org/api/people/912/",
    },
    "sightings": [5501, 5502],
    "reason": "The radio host, not the actor: see the affiliations.",
    "by": "editor",
    "created_at": "2025-03-20T10:04:00Z",
    "undone_at": None,
    "undone_by": None,
    "undo_reason": "",
    "undo_merge": None,
    "api_url": "https://tracker.example.org/api/splits/4/",
}


_PEOPLE_EXPORT = export_schema(
    selectors.PERSON_EXPORT_HEADER, "the whole filtered list of people", ndjson=True
)
_ORGANIZATIONS_EXPORT = export_schema(
    selectors.ORGANIZATION_EXPORT_HEADER, "the whole filtered list of organizations", ndjson=True
)


def _pages(serializer, export: dict) -> dict:
    return {
        (200, "application/json"): serializer,
        **{(200, media): answer for media, answer in export["responses"].items()},
    }


PERSON_ORDERINGS = {
    "name": ("sort_key", "id"),
    "-name": ("-sort_key", "-id"),
    "id": ("id",),
    "-id": ("-id",),
}
ORGANIZATION_ORDERINGS = {
    "name": ("search_text", "id"),
    "-name": ("-search_text", "-id"),
    "id": ("id",),
    "-id": ("-id",),
}


@extend_schema_view(
    list=extend_schema(
        summary="People",
        description="Active people (merged records are left out), by family name or, "
        "with `search`, best match first (unless `ordering` is given).",
        parameters=[
            ordering_parameter(
                PERSON_ORDERINGS,
                "`name`: by family name, then given name, ignoring case, accents and "
                "particles (Guillermo del Toro under T); `id`: in the order recorded.",
            ),
            *_PEOPLE_EXPORT["parameters"],
        ],
        responses=_pages(s.PersonSerializer, _PEOPLE_EXPORT),
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
        "person merged into another answers 301 with the survivor's address. For staff, "
        "each signature also lists its `sightings` (what each source wrote) with their ids, "
        "which `POST /api/people/{id}/split/` takes.",
        responses={
            200: s.PersonDetailSerializer,
            301: OpenApiResponse(description="Merged into another person: see Location."),
        },
    ),
)
class PersonViewSet(
    OrderedListMixin,
    FiltersOnListMixin,
    ExportListMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    viewsets.GenericViewSet,
):
    queryset = Person.objects.filter(merged_into__isnull=True)
    orderings = PERSON_ORDERINGS
    export_renderers = (CSVRenderer, NDJSONRenderer)
    serializer_class = s.PersonSerializer
    filterset_class = PersonFilter
    pagination_class = PagePagination
    lookup_value_regex = _ID
    action_permissions = {"split": "people.add_split"}

    def default_ordering(self) -> str | None:
        if self.request.query_params.get("search"):
            return None  # the best matches first
        return super().default_ordering()

    @property
    def paginator(self):
        # A search is counted with its page; other lists walk an index for the page
        # and would read every row to count them that way.
        if not hasattr(self, "_paginator"):
            search = self.request.query_params.get("search")
            self._paginator = SearchPagePagination() if search else self.pagination_class()
        return self._paginator

    def list(self, request: Request, *args, **kwargs) -> Response:
        export = self.export_format()
        if export is None:
            return super().list(request, *args, **kwargs)
        rows = selectors.person_export_rows(self.filter_queryset(self.get_queryset()))
        return export_response(request, "people", selectors.PERSON_EXPORT_HEADER, rows, export)

    def get_permissions(self) -> list:
        if self.action == "split":
            return [StaffReadModelWrite()]
        return super().get_permissions()

    def retrieve(self, request: Request, pk: str) -> Response:
        staff = request.user.is_staff
        if staff:
            person = selectors.person_detail(
                person_id=int(pk), include_removed=True, with_sightings=True
            )
        else:
            person = selectors.person_page(int(pk))
        if person is None:
            raise NotFound(f"There is no person #{pk}.")
        if person.merged_into_id is not None:
            survivor = services.person_survivor(selectors.person_record(int(pk)))
            location = request.build_absolute_uri(reverse("person-detail", args=[survivor.pk]))
            if request.META.get("QUERY_STRING"):
                location += "?" + request.META["QUERY_STRING"]
            return Response(
                status=status.HTTP_301_MOVED_PERMANENTLY, headers={"Location": location}
            )
        if not staff:
            return Response(s.person_page_data(person, request))
        return Response(s.PersonDetailSerializer(person, context={"request": request}).data)

    @extend_schema(
        summary="What a person signed, and when",
        description="Every letter the person signed, with when a source first and last "
        "listed them and which sources did, and what happened, in time order: each source "
        "listing them, dropping them and listing them again, status changes with their "
        "reasons and evidence, merges (and their undoing) and splits. The id of a person "
        "merged into another answers 301 with the survivor's timeline.",
        responses={
            200: s.TimelineSerializer,
            301: OpenApiResponse(description="Merged into another person: see Location."),
        },
    )
    @action(detail=True, methods=["get"])
    def timeline(self, request: Request, pk: str) -> Response:
        person = selectors.person_record(int(pk))
        if person is None:
            raise NotFound(f"There is no person #{pk}.")
        if person.merged_into_id is not None:
            survivor = services.person_survivor(person)
            location = reverse("person-timeline", args=[survivor.pk])
            return Response(
                status=status.HTTP_301_MOVED_PERMANENTLY,
                headers={"Location": request.build_absolute_uri(location)},
            )
        timeline = letter_selectors.person_timeline(
            person_id=person.pk, include_removed=request.user.is_staff
        )
        for event in timeline["events"]:
            for side in ("person", "into"):
                if side in event:
                    record = event[side]
                    event[side] = s.named_person(request, record["id"], record["name"])
        data = {
            "person": s.named_person(request, person.pk, person.display_name),
            **timeline,
        }
        return Response(s.TimelineSerializer(data).data)

    @extend_schema(
        summary="Split a person in two",
        description="Moves the chosen sightings (entries of sources; their ids are in the "
        "person's detail, for staff) to a new person, with their signatures: a signature "
        "only some of whose sightings move is split in two, one for each person. Records "
        "that the two are different people, so that no run joins them again, and answers "
        "201 with the split; `POST /api/splits/{id}/undo/` puts the entries back. A person "
        "merged into another answers 409: split the survivor. Staff with the permission to "
        "add splits.",
        request=s.SplitRequestSerializer,
        parameters=[IDEMPOTENCY_KEY],
        responses={201: s.SplitSerializer, 409: OpenApiResponse(_ERROR, "Merged into another.")},
        examples=[
            OpenApiExample(
                "Two people of one name",
                value={
                    "reason": "The radio host, not the actor: see the affiliations.",
                    "sightings": [5501, 5502],
                },
                request_only=True,
            ),
            OpenApiExample("The split", value=_SPLIT_EXAMPLE, response_only=True),
            _error_example(
                "A merged record",
                409,
                "merged",
                "This person was merged into #7; split that record instead.",
            ),
        ],
    )
    @action(detail=True, methods=["post"])
    def split(self, request: Request, pk: str) -> Response:
        def make() -> Response:
            person = selectors.person_record(int(pk))
            if person is None:
                raise NotFound(f"There is no person #{pk}.")
            serializer = s.SplitRequestSerializer(data=request.data)
            serializer.is_valid(raise_exception=True)
            made = splits.person_split(person=person, by=request.user, **serializer.validated_data)
            made = selectors.split_list().get(pk=made.pk)
            data = s.SplitSerializer(made, context={"request": request}).data
            return Response(
                data, status=status.HTTP_201_CREATED, headers={"Location": data["api_url"]}
            )

        return idempotent(request, make)


@extend_schema_view(
    list=extend_schema(
        summary="Organizations",
        description="Every institution, as affiliation or letter target, with the letters "
        "that target it and in which role; by name or, with `search`, best match first "
        "(unless `ordering` is given).",
        parameters=[
            ordering_parameter(
                ORGANIZATION_ORDERINGS,
                "`name`: by name, ignoring case and accents; `id`: in the order recorded.",
            ),
            *_ORGANIZATIONS_EXPORT["parameters"],
        ],
        responses=_pages(s.OrganizationSerializer, _ORGANIZATIONS_EXPORT),
    ),
    retrieve=extend_schema(
        summary="An organization",
        description="With the people affiliated with it.",
        parameters=[_ORGANIZATION_REFERENCE],
        responses={200: s.OrganizationDetailSerializer},
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
        parameters=[_ORGANIZATION_REFERENCE],
        request=s.OrganizationWriteSerializer,
        responses={200: s.OrganizationDetailSerializer},
    ),
    partial_update=extend_schema(
        summary="Change some of an organization's fields",
        parameters=[_ORGANIZATION_REFERENCE],
        request=s.OrganizationWriteSerializer,
        responses={200: s.OrganizationDetailSerializer},
    ),
)
class OrganizationViewSet(
    OrderedListMixin,
    FiltersOnListMixin,
    ExportListMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    mixins.UpdateModelMixin,
    viewsets.GenericViewSet,
):
    queryset = Organization.objects.all()
    serializer_class = s.OrganizationSerializer
    filterset_class = OrganizationFilter
    lookup_url_kwarg = "id_or_slug"
    lookup_value_regex = r"[-a-zA-Z0-9_]{1,120}"
    orderings = ORGANIZATION_ORDERINGS
    export_renderers = (CSVRenderer, NDJSONRenderer)

    def list(self, request: Request, *args, **kwargs) -> Response:
        export = self.export_format()
        if export is None:
            return super().list(request, *args, **kwargs)
        rows = selectors.organization_export_rows(self.filter_queryset(self.get_queryset()))
        header = selectors.ORGANIZATION_EXPORT_HEADER
        return export_response(request, "organizations", header, rows, export)

    def default_ordering(self) -> str | None:
        if self.request.query_params.get("search"):
            return None  # the best matches first
        return super().default_ordering()

    def get_queryset(self) -> QuerySet[Organization]:
        return selectors.organization_list()

    def _detail(self, organization: Organization, code: int = status.HTTP_200_OK) -> Response:
        organization = self.get_queryset().get(pk=organization.pk)
        organization.affiliated, organization.affiliated_count = selectors.organization_affiliated(
            organization
        )
        return Response(s.OrganizationDetailSerializer(organization).data, status=code)

    def get_object(self) -> Organization:
        reference = self.kwargs["id_or_slug"]
        if reference.isdigit():
            found = Organization.objects.filter(pk=int(reference)).first()
        else:
            found = Organization.objects.filter(slug=reference).first()
        if found is None:
            raise NotFound(f"There is no organization {reference!r}.")
        self.check_object_permissions(self.request, found)
        return found

    def retrieve(self, request: Request, id_or_slug: str) -> Response:
        return self._detail(self.get_object())

    @extend_schema(
        summary="Who from this organization signed",
        description="People affiliated with the organization or any under it (a studio "
        "under its company), or who signed in its name, with the letters they signed "
        "(only `letter`, when given), by family name; `per_letter` counts them for each "
        "letter. Retracted and removed signatures do not count.",
        parameters=[
            _ORGANIZATION_REFERENCE,
            OpenApiParameter(
                "letter", OpenApiTypes.STR, description="Only those who signed this letter."
            ),
        ],
        responses={200: s.SignatoriesPageSerializer},
    )
    @action(detail=True, methods=["get"])
    def signatories(self, request: Request, id_or_slug: str) -> Response:
        organization = self.get_object()
        letter = None
        letter_slug = request.query_params.get("letter")
        if letter_slug:
            letter = Letter.objects.only("id", "slug").filter(slug=letter_slug[:200]).first()
            if letter is None:
                raise ValidationError(
                    {"letter": [f"There is no letter with the slug {letter_slug!r}."]}
                )
        people = letter_selectors.organization_signatories(
            organization_ids=selectors.organization_and_below(organization.pk), letter=letter
        )
        page = self.paginate_queryset(people)
        signatures = letter_selectors.signatures_of(
            person_ids=[person.pk for person in page],
            letter_ids=None if letter is None else [letter.pk],
        )
        response = self.get_paginated_response(s.signatory_rows(request, page, signatures))
        response.data["per_letter"] = letter_selectors.organization_letter_counts(
            people, letter=letter
        )
        return response

    def create(self, request: Request) -> Response:
        def create() -> Response:
            serializer = s.OrganizationWriteSerializer(data=request.data)
            serializer.is_valid(raise_exception=True)
            organization = services.organization_create(**serializer.validated_data)
            response = self._detail(organization, status.HTTP_201_CREATED)
            response.headers["Location"] = reverse("organization-detail", args=[organization.pk])
            return response

        return idempotent(request, create)

    def update(self, request: Request, id_or_slug: str, partial: bool = False) -> Response:
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
        'they are two people, which no automatic run overrules, and "unsure" keeps a note.'
        "\n\nNo decision is lost: `replaces` names the decision the editor saw (pending "
        "when not given). When someone decided the pair meanwhile, the request is refused "
        "with 409, code `decided`, and a message naming the pair's decision now and who "
        "made it; read the pair again and, to overrule, send its decision as `replaces`. "
        "Of two editors deciding a pending pair at the same moment, one is answered 200 "
        "and the other 409.",
        request=s.DecisionSerializer,
        responses={
            200: s.JudgementSerializer,
            409: OpenApiResponse(
                _ERROR,
                "Decided meanwhile (`decided`), or merged records called different (`merged`).",
            ),
        },
        examples=[
            OpenApiExample(
                "Two spellings of one person",
                value={"decision": "same", "reason": "Same actor; the press misspelt her name."},
                request_only=True,
            ),
            OpenApiExample(
                "Changing an earlier decision",
                value={
                    "decision": "different",
                    "reason": "Two directors, sisters.",
                    "replaces": "unsure",
                },
                request_only=True,
            ),
            _error_example(
                "Decided meanwhile",
                409,
                "decided",
                "This pair's decision is now 'Same person' by editor, not 'pending'; to "
                "change it, say that you replace 'same'.",
            ),
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


# --- Merges and splits ------------------------------------------------------------


# Merges and splits: listed, read, and undone (``POST <id>/undo/``). A subclass
# sets its queryset, serializers, filter, pagination and the permission its
# ``undo`` needs, does the undo (``perform_undo``) and declares the ``undo``
# action itself, with its schema, as ``return self._undo(request)``. (No
# docstring: the schema would take it for the subclasses' descriptions.)
class UndoableRecordViewSet(
    FiltersOnListMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet
):
    permission_classes = [StaffReadModelWrite]
    lookup_value_regex = _ID
    # What an undo answers: the record as read again after it.
    detail_serializer_class: type[serializers.Serializer]
    undo_serializer_class: type[serializers.Serializer]

    def perform_undo(self, record, data: dict):
        """Undo ``record`` as the valid undo request says; answers the record."""
        raise NotImplementedError

    def detail_context(self, record) -> dict:
        return {"request": self.request}

    def _detail(self, record) -> Response:
        record = self.get_queryset().get(pk=record.pk)
        serializer = self.detail_serializer_class(record, context=self.detail_context(record))
        return Response(serializer.data)

    def _undo(self, request: Request) -> Response:
        record = self.get_object()
        serializer = self.undo_serializer_class(data=request.data)
        serializer.is_valid(raise_exception=True)
        return self._detail(self.perform_undo(record, serializer.validated_data))


class MergePagination(KeysetPagination):
    ordering = ("-id",)
    page_size = 50
    max_page_size = 500


_MERGE_EXAMPLE = {
    "id": 311,
    "survivor": {
        "id": 7,
        "name": "Maggie Gyllenhaal",
        "api_url": "https://tracker.example.org/api/people/7/",
    },
    "merged": {
        "id": 58,
        "name": "Maggie Gylenhall",
        "api_url": "https://tracker.example.org/api/people/58/",
    },
    "automatic": True,
    "reason": "Merged by match run 42 (score 0.97).",
    "by": None,
    "created_at": "2025-03-18T02:03:09Z",
    "undone_at": None,
    "undone_by": None,
    "undo_reason": "",
    "api_url": "https://tracker.example.org/api/merges/311/",
}


@extend_schema_view(
    list=extend_schema(
        summary="Merges",
        description="People folded into others, by editors or by the duplicate finder, "
        "newest first, each with the two people's names as they were when merged. Staff "
        "only.",
        examples=[OpenApiExample("An automatic merge", value=_MERGE_EXAMPLE, response_only=True)],
    ),
    retrieve=extend_schema(
        summary="A merge",
        description="With the records an undo can take back out (`people`) and, after a "
        "partial undo, what it did (`undo_detail`).",
        responses={200: s.MergeDetailSerializer},
    ),
)
class MergeViewSet(UndoableRecordViewSet):
    queryset = Merge.objects.select_related("by", "undone_by")
    serializer_class = s.MergeSerializer
    detail_serializer_class = s.MergeDetailSerializer
    undo_serializer_class = s.MergeUndoSerializer
    filterset_class = MergeFilter
    pagination_class = MergePagination
    action_permissions = {"undo": "people.change_merge"}

    def get_queryset(self) -> QuerySet[Merge]:
        return selectors.merge_list()

    def detail_context(self, merge: Merge) -> dict:
        return {**super().detail_context(merge), "people": selectors.merge_people_named(merge)}

    def perform_undo(self, merge: Merge, data: dict) -> Merge:
        return undo.merge_undo(
            merge=merge, by=self.request.user, reason=data["reason"], people=data.get("people")
        )

    def retrieve(self, request: Request, pk: str) -> Response:
        return self._detail(self.get_object())

    @extend_schema(
        summary="Undo a merge",
        description="Puts back what the merge moved and records that the records are "
        "different people, so that no run merges them again. With `people`, only those "
        "records leave the survivor and the others stay with it (each step is recorded as "
        "a merge or an undo of its own). Answers the merge. 409 when it was undone already "
        "(`already_undone`) or the survivor was merged again since (`undo_later_first`: "
        "undo that merge first). Staff with the permission to change merges.",
        request=s.MergeUndoSerializer,
        responses={200: s.MergeDetailSerializer, 409: OpenApiResponse(_ERROR, "Undone already.")},
        examples=[
            OpenApiExample(
                "All of it",
                value={"reason": "Two actors of one name."},
                request_only=True,
            ),
            OpenApiExample(
                "One record back out",
                value={"reason": "The feed's entry is the other Chris Evans.", "people": [58]},
                request_only=True,
            ),
            _error_example(
                "Undone already", 409, "already_undone", "Merge #311 was already undone."
            ),
        ],
    )
    @action(detail=True, methods=["post"])
    def undo(self, request: Request, pk: str) -> Response:
        return self._undo(request)


class SplitPagination(KeysetPagination):
    ordering = ("-id",)
    page_size = 50
    max_page_size = 500


@extend_schema_view(
    list=extend_schema(
        summary="Splits",
        description="People found to be two, newest first: the entries moved to a new "
        "person (`POST /api/people/{id}/split/`). Staff only.",
        examples=[OpenApiExample("A split", value=_SPLIT_EXAMPLE, response_only=True)],
    ),
    retrieve=extend_schema(summary="A split"),
)
class SplitViewSet(UndoableRecordViewSet):
    queryset = Split.objects.select_related("by", "undone_by")
    serializer_class = s.SplitSerializer
    detail_serializer_class = s.SplitSerializer
    undo_serializer_class = s.SplitUndoSerializer
    filterset_class = SplitFilter
    pagination_class = SplitPagination
    action_permissions = {"undo": "people.change_split"}

    def get_queryset(self) -> QuerySet[Split]:
        return selectors.split_list()

    def perform_undo(self, split: Split, data: dict) -> Split:
        return splits.split_undo(split=split, by=self.request.user, reason=data["reason"])

    @extend_schema(
        summary="Undo a split",
        description="Puts the entries back with the person they were split from, by "
        "merging the new person back into it (a merge like any other, in "
        "`undo_merge`, which can be undone in turn). 409 when undone already "
        "(`already_undone`) or when one of the two was merged into someone since "
        "(`undo_later_first`). Staff with the permission to change splits.",
        request=s.SplitUndoSerializer,
        responses={200: s.SplitSerializer, 409: OpenApiResponse(_ERROR, "Undone already.")},
        examples=[
            OpenApiExample(
                "A split made in error",
                value={"reason": "One Chris Evans after all."},
                request_only=True,
            ),
            _error_example("Undone already", 409, "already_undone", "Split #4 was already undone."),
        ],
    )
    @action(detail=True, methods=["post"])
    def undo(self, request: Request, pk: str) -> Response:
        return self._undo(request)
