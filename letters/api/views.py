"""Letters, signatures, sources and sync runs. Views validate, call one service
or selector, and serialise."""

from __future__ import annotations

import base64
import binascii
import json

from django.db.models import QuerySet
from django.http import HttpResponse
from django.urls import reverse
from django.utils.dateparse import parse_datetime
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiExample,
    OpenApiParameter,
    OpenApiResponse,
    PolymorphicProxySerializer,
    extend_schema,
    extend_schema_view,
)
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.settings import api_settings
from rest_framework.utils.urls import replace_query_param

from letters import changes, selectors, services, versions, webhooks
from letters.api import serializers as s
from letters.api.filters import (
    AllSignatureFilter,
    LetterFilter,
    SignatureFilter,
    SourceFilter,
    SyncRunFilter,
)
from letters.models import (
    Letter,
    ListVersion,
    Signature,
    SignatureStatusChange,
    Source,
    SyncRun,
    WebhookDelivery,
    WebhookSubscription,
)
from letters.services import source_update
from people.api import serializers as people_s
from people.models import Person
from tracker.csv import CSVRenderer, ExportListMixin, csv_bom, csv_response, export_schema
from tracker.filters import MAX_ID, FiltersOnListMixin
from tracker.idempotency import IDEMPOTENCY_KEY, idempotent
from tracker.ordering import OrderedListMixin, ordering_parameter
from tracker.pagination import KeysetPagination, PagePagination
from tracker.permissions import StaffReadModelWrite
from tracker.renderers import JSONRenderer

_SLUG = r"[-a-zA-Z0-9_]{1,200}"
_ID = r"[0-9]{1,19}"
_SLUG_EXAMPLE = [OpenApiExample("A letter", value="ostp-ai-copyright-2025")]
_LETTER_SLUG = OpenApiParameter(
    "letter_slug",
    OpenApiTypes.STR,
    OpenApiParameter.PATH,
    description="The letter's slug.",
    examples=_SLUG_EXAMPLE,
)
_SLUG_PARAMETER = OpenApiParameter(
    "slug",
    OpenApiTypes.STR,
    OpenApiParameter.PATH,
    description="The letter's slug.",
    examples=_SLUG_EXAMPLE,
)
_SIGNATURE_EXAMPLE = {
    "id": 1207,
    "letter": "ostp-ai-copyright-2025",
    "person": {"id": 88, "name": "Maggie Gyllenhaal"},
    "status": "listed",
    "title": "Actor",
    "affiliation": "",
    "first_seen": "2025-03-17T09:12:00Z",
    "last_seen": "2025-03-18T09:12:00Z",
    "sightings": [
        {
            "source": "Variety",
            "name": "Maggie Gylenhall",
            "title": "",
            "affiliation": "",
            "present": True,
            "first_seen": "2025-03-17T09:12:00Z",
            "last_seen": "2025-03-18T09:12:00Z",
        }
    ],
}


def _is_staff(request: Request) -> bool:
    return bool(request.user and request.user.is_staff)


LETTER_ORDERINGS = {
    "-published": ("-published_on", "-id"),
    "published": ("published_on", "id"),
    "title": ("search_text", "id"),
    "-title": ("-search_text", "-id"),
}
_LETTER_ORDERING = ordering_parameter(
    LETTER_ORDERINGS,
    "`published`: by publication date; `title`: by title, ignoring case and accents.",
)
SIGNATURE_ORDERINGS = {
    "first_seen": ("first_seen_at", "id"),
    "-first_seen": ("-first_seen_at", "-id"),
    "name": ("person__sort_key", "id"),
    "-name": ("-person__sort_key", "-id"),
}
ALL_SIGNATURE_ORDERINGS = {"id": ("id",), "-id": ("-id",), **SIGNATURE_ORDERINGS}
_SIGNATURE_ORDERING_TEXT = (
    "`first_seen`: when a source first listed the signature; `name`: by the "
    "signatory's family name, ignoring case, accents and particles (del Toro under T)."
)
_SIGNATURE_ORDERING = ordering_parameter(SIGNATURE_ORDERINGS, _SIGNATURE_ORDERING_TEXT)
_ALL_SIGNATURE_ORDERING = ordering_parameter(
    ALL_SIGNATURE_ORDERINGS, "`id`: in the order recorded; " + _SIGNATURE_ORDERING_TEXT
)


_WITH_CSV = [*api_settings.DEFAULT_RENDERER_CLASSES, CSVRenderer]
_SHARED_HEADER = ["person_id", "name", "first_letter_status", "second_letter_status"]
_OVERLAP_HEADER = ["letter", "title", "shared", "jaccard"]
_SHARED_CSV = export_schema(
    _SHARED_HEADER,
    "with `with`, the people who signed both letters (without it, the ranking, with the "
    "columns " + ", ".join(f"`{name}`" for name in _OVERLAP_HEADER) + ")",
)


class SignaturePagination(KeysetPagination):
    ordering = ("first_seen_at", "id")
    row_keys = {"first_seen_at": "first_seen"}  # as selectors.signature_values names it
    page_size = 100


class AllSignaturePagination(KeysetPagination):
    ordering = ("id",)
    page_size = 100


class SyncRunPagination(KeysetPagination):
    ordering = ("-id",)
    page_size = 50
    max_page_size = 500


# --- Letters ------------------------------------------------------------------


@extend_schema_view(
    list=extend_schema(
        summary="Letters",
        description="Newest published first, unless `ordering` says otherwise.",
        parameters=[_LETTER_ORDERING],
    ),
    retrieve=extend_schema(
        summary="A letter",
        parameters=[_SLUG_PARAMETER],
        responses={200: s.LetterDetailSerializer},
        description="With its targets and their roles, the count its organisers claim, its "
        "sources, and counts: signatures by status and distinct people.",
    ),
    create=extend_schema(
        summary="Add a letter",
        description="Only `title` and `slug` are required.",
        request=s.LetterWriteSerializer,
        responses={201: s.LetterDetailSerializer},
        parameters=[IDEMPOTENCY_KEY],
        examples=[
            OpenApiExample(
                "A letter",
                value={
                    "title": "Letter to OSTP on AI and copyright",
                    "slug": "ostp-ai-copyright-2025",
                    "published_on": "2025-03-17",
                    "claimed_count": "400+",
                },
                request_only=True,
            )
        ],
    ),
    update=extend_schema(
        summary="Replace a letter's fields",
        parameters=[_SLUG_PARAMETER],
        request=s.LetterWriteSerializer,
        responses={200: s.LetterDetailSerializer},
    ),
    partial_update=extend_schema(
        summary="Change some of a letter's fields",
        parameters=[_SLUG_PARAMETER],
        request=s.LetterWriteSerializer,
        responses={200: s.LetterDetailSerializer},
    ),
)
class LetterViewSet(
    OrderedListMixin,
    FiltersOnListMixin,
    ExportListMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    mixins.UpdateModelMixin,
    viewsets.GenericViewSet,
):
    queryset = Letter.objects.all()
    serializer_class = s.LetterSerializer
    filterset_class = LetterFilter
    lookup_field = "slug"
    lookup_value_regex = _SLUG
    orderings = LETTER_ORDERINGS
    export_renderers = ()

    def _detail(self, slug: str, code: int = status.HTTP_200_OK) -> Response:
        letter = selectors.letter_detail(slug=slug)
        if letter is None:
            raise NotFound(f"There is no letter with the slug {slug!r}.")
        letter.counts = selectors.letter_counts(
            letter=letter, include_removed=_is_staff(self.request)
        )
        by_source = selectors.letter_source_counts(letter=letter)
        letter.counts["listed_by_sources"] = by_source.listed
        letter.counts["listed_by_one_source"] = by_source.listed_by_one_source
        listed = {count.source_id: count for count in by_source.sources}
        for source in letter.sources.all():
            source.people = listed[source.pk].people if source.pk in listed else 0
            source.only_here = listed[source.pk].only_here if source.pk in listed else 0
        data = s.LetterDetailSerializer(letter, context={"request": self.request}).data
        return Response(data, status=code)

    def retrieve(self, request: Request, slug: str) -> Response:
        return self._detail(slug)

    @extend_schema(
        summary="Who signed this letter and another",
        description="Without `with`: the other letters ranked by the people who signed "
        "both (`shared`), with the Jaccard index of the two lists (shared over signed "
        "either). With `with=SLUG`: the people who signed both letters, by family name, "
        "paginated, each with both signatures. `format=csv` exports either. Retracted and "
        "removed signatures do not count.",
        parameters=[
            _SLUG_PARAMETER,
            OpenApiParameter(
                "with",
                OpenApiTypes.STR,
                description="The other letter's slug: list the people who signed both.",
            ),
            OpenApiParameter("page", OpenApiTypes.INT, description="With `with`: the page."),
            OpenApiParameter(
                "page_size", OpenApiTypes.INT, description="With `with`: people a page."
            ),
            *_SHARED_CSV["parameters"],
        ],
        responses={
            (200, "application/json"): PolymorphicProxySerializer(
                component_name="Overlap",
                serializers=[people_s.OverlapListSerializer, people_s.SharedPeoplePageSerializer],
                resource_type_field_name=None,
            ),
            **{(200, media): answer for media, answer in _SHARED_CSV["responses"].items()},
        },
    )
    @action(detail=True, methods=["get"], renderer_classes=_WITH_CSV)
    def overlap(self, request: Request, slug: str) -> Response:
        letter = self._letter(slug)
        other_slug = request.query_params.get("with")
        if not other_slug:
            ranked = selectors.letter_overlap(letter=letter)
            if request.accepted_renderer.format == "csv":
                bom = csv_bom(request)
                rows = [[i.letter.slug, i.letter.title, i.shared, i.jaccard] for i in ranked]
                return csv_response(f"{letter.slug}-overlap.csv", _OVERLAP_HEADER, rows, bom=bom)
            results = [
                {
                    "letter": {"slug": item.letter.slug, "title": item.letter.title},
                    "shared": item.shared,
                    "jaccard": item.jaccard,
                }
                for item in ranked
            ]
            return Response({"count": len(results), "results": results})
        other = Letter.objects.only("id", "slug").filter(slug=other_slug[:200]).first()
        if other is None:
            raise ValidationError({"with": [f"There is no letter with the slug {other_slug!r}."]})
        people = selectors.people_who_signed_both(letter=letter, other=other)
        letter_ids = [letter.pk, other.pk]
        if request.accepted_renderer.format == "csv":
            bom = csv_bom(request)
            return csv_response(
                f"{letter.slug}-and-{other.slug}.csv",
                _SHARED_HEADER,
                selectors.shared_csv_rows(people, letters=[letter, other]),
                bom=bom,
            )
        page = self.paginate_queryset(people)
        return self.get_paginated_response(
            people_s.signatory_rows(
                request,
                page,
                selectors.signatures_of(
                    person_ids=[person.pk for person in page], letter_ids=letter_ids
                ),
            )
        )

    def _letter(self, slug: str) -> Letter:
        letter = Letter.objects.only("id", "slug", "title").filter(slug=slug).first()
        if letter is None:
            raise NotFound(f"There is no letter with the slug {slug!r}.")
        return letter

    def create(self, request: Request) -> Response:
        def create() -> Response:
            serializer = s.LetterWriteSerializer(data=request.data)
            serializer.is_valid(raise_exception=True)
            letter = services.letter_create(**serializer.validated_data)
            response = self._detail(letter.slug, status.HTTP_201_CREATED)
            response.headers["Location"] = reverse("letter-detail", args=[letter.slug])
            return response

        return idempotent(request, create)

    def update(self, request: Request, slug: str, partial: bool = False) -> Response:
        letter = self.get_object()
        serializer = s.LetterWriteSerializer(data=request.data, partial=partial)
        serializer.is_valid(raise_exception=True)
        letter = services.letter_update(letter=letter, **serializer.validated_data)
        return self._detail(letter.slug)


# --- Signatures ---------------------------------------------------------------


class _SignatureListMixin(ExportListMixin):
    """JSON pages or a streamed CSV export of one list of signatures."""

    def _signatures(self) -> QuerySet:
        raise NotImplementedError

    def _csv_name(self) -> str:
        return "signatures.csv"

    def list(self, request: Request, *args, **kwargs):
        signatures = self.filter_queryset(self._signatures())
        if self.export_format() == "csv":
            bom = csv_bom(request)
            records = selectors.signature_csv_records(signatures, ordering=self.paginator.ordering)
            return csv_response(
                self._csv_name(), selectors.CSV_HEADER, records, bom=bom, written=True
            )
        # The count needs no join to the letter and the person, which read columns.
        self.paginator.counted = signatures
        page = self.paginate_queryset(selectors.signature_values(signatures))
        rows = selectors.attach_sightings(page)
        return self.get_paginated_response(s.SignatureSerializer(rows, many=True).data)


_CSV_DESCRIPTION = (
    " `?format=csv` exports the whole filtered list as CSV (streamed; cells that a "
    "spreadsheet would run as formulas are prefixed with a quote)."
)
_SIGNATURES_CSV = export_schema(selectors.CSV_HEADER, "the whole filtered list")
_SIGNATURE_PAGES = {
    (200, "application/json"): s.SignatureSerializer,
    **{(200, media): answer for media, answer in _SIGNATURES_CSV["responses"].items()},
}


class _OfALetter:
    """A view under /api/letters/{letter_slug}/: the letter, read once a request."""

    def get_letter(self) -> Letter:
        if not hasattr(self, "_letter"):
            slug = self.kwargs["letter_slug"]
            self._letter = selectors.letter_ref(slug)
            if self._letter is None:
                raise NotFound(f"There is no letter with the slug {slug!r}.")
        return self._letter


@extend_schema_view(
    list=extend_schema(
        summary="A letter's signatures",
        description="Oldest first (see `ordering`), 100 a page (`page_size` up to 1000), "
        "each with what every source wrote." + _CSV_DESCRIPTION,
        parameters=[_LETTER_SLUG, _SIGNATURE_ORDERING, *_SIGNATURES_CSV["parameters"]],
        responses=_SIGNATURE_PAGES,
        examples=[OpenApiExample("A signature", value=_SIGNATURE_EXAMPLE, response_only=True)],
    ),
    create=extend_schema(
        summary="Add a signature",
        description="Give an existing `person` id, or a `name` (with `title` and "
        "`affiliation` as stated): it is recorded as a sighting of the letter's API source "
        "and resolved to a person the way syncs resolve names. Answers 201 when the "
        "signature is new, 200 when the person had already signed.",
        parameters=[_LETTER_SLUG, IDEMPOTENCY_KEY],
        request=s.SignatureCreateSerializer,
        responses={201: s.SignatureSerializer, 200: s.SignatureSerializer},
        examples=[
            OpenApiExample(
                "By name",
                value={"name": "Cate Blanchett", "title": "Actor"},
                request_only=True,
            ),
            OpenApiExample("By person", value={"person": 88}, request_only=True),
        ],
    ),
)
class LetterSignatureViewSet(
    _OfALetter, OrderedListMixin, _SignatureListMixin, viewsets.GenericViewSet
):
    queryset = Signature.objects.all()
    orderings = SIGNATURE_ORDERINGS
    serializer_class = s.SignatureSerializer
    filterset_class = SignatureFilter
    pagination_class = SignaturePagination

    def _signatures(self) -> QuerySet:
        return selectors.signature_queryset(
            letter=self.get_letter(), include_removed=_is_staff(self.request)
        )

    def _csv_name(self) -> str:
        return f"{self.get_letter().slug}-signatures.csv"

    def create(self, request: Request, letter_slug: str) -> Response:
        letter = self.get_letter()

        def create() -> Response:
            serializer = s.SignatureCreateSerializer(data=request.data)
            serializer.is_valid(raise_exception=True)
            data = serializer.validated_data
            person = None
            if data.get("person") is not None:
                person = Person.objects.filter(pk=data["person"]).first()
                if person is None:
                    raise ValidationError({"person": f"There is no person #{data['person']}."})
            result = services.signature_record(
                letter=letter,
                source=services.source_internal_for(letter=letter, kind=Source.Kind.API),
                entry=services.Entry(
                    name=data.get("name") or "",
                    title=data.get("title") or "",
                    affiliation=data.get("affiliation") or "",
                ),
                person=person,
                by=request.user,
            )
            row = selectors.signature_rows(ids=[result.signature.pk])[0]
            code = status.HTTP_201_CREATED if result.signature_created else status.HTTP_200_OK
            headers = {"Location": reverse("signature-detail", args=[result.signature.pk])}
            return Response(s.SignatureSerializer(row).data, status=code, headers=headers)

        return idempotent(request, create)


@extend_schema_view(
    list=extend_schema(
        summary="Signatures of every letter",
        description="In the order they were recorded." + _CSV_DESCRIPTION,
        parameters=[_ALL_SIGNATURE_ORDERING, *_SIGNATURES_CSV["parameters"]],
        responses=_SIGNATURE_PAGES,
    ),
    retrieve=extend_schema(
        summary="A signature",
        description="With what every source wrote and the history of its status. A "
        "signature merged into another stays readable as history (`merged_into`).",
        responses={200: s.SignatureDetailSerializer},
    ),
)
class SignatureViewSet(
    OrderedListMixin,
    FiltersOnListMixin,
    _SignatureListMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    viewsets.GenericViewSet,
):
    queryset = Signature.objects.all()
    serializer_class = s.SignatureSerializer
    filterset_class = AllSignatureFilter
    pagination_class = AllSignaturePagination
    orderings = ALL_SIGNATURE_ORDERINGS
    lookup_value_regex = _ID
    action_permissions = {"status": "letters.change_signature"}

    def _signatures(self) -> QuerySet:
        return selectors.signature_queryset(include_removed=_is_staff(self.request))

    def retrieve(self, request: Request, pk: str) -> Response:
        signature = selectors.signature_detail(
            signature_id=int(pk), include_removed=_is_staff(request)
        )
        if signature is None:
            raise NotFound(f"There is no signature #{pk}.")
        return Response(s.SignatureDetailSerializer(signature).data)

    @extend_schema(
        summary="Change a signature's status",
        description="Verified, disputed, retracted or removed (fake), with the reason and the "
        "evidence (how it was established, and where). The change joins the history.",
        request=s.StatusChangeRequestSerializer,
        responses={200: s.SignatureDetailSerializer},
        examples=[
            OpenApiExample(
                "A retraction",
                value={
                    "status": "retracted",
                    "reason": "She asked for her name to be taken off.",
                    "evidence_method": "public_statement",
                    "evidence_url": "https://example.org/statement",
                },
                request_only=True,
            )
        ],
    )
    @action(detail=True, methods=["post"], url_path="status", url_name="status")
    def status(self, request: Request, pk: str) -> Response:
        signature = selectors.signature_detail(
            signature_id=int(pk), include_removed=_is_staff(request)
        )
        if signature is None:
            raise NotFound(f"There is no signature #{pk}.")
        serializer = s.StatusChangeRequestSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        services.signature_change_status(
            signature=signature, by=request.user, **serializer.validated_data
        )
        signature = selectors.signature_detail(signature_id=signature.pk, include_removed=True)
        return Response(s.SignatureDetailSerializer(signature).data)


# --- Sources and runs ---------------------------------------------------------


@extend_schema_view(
    list=extend_schema(summary="Sources", description="Staff only."),
    retrieve=extend_schema(summary="A source", description="Staff only."),
    create=extend_schema(
        summary="Add a source",
        request=s.SourceWriteSerializer,
        responses={201: s.SourceSerializer},
        parameters=[IDEMPOTENCY_KEY],
        examples=[
            OpenApiExample(
                "A CSV feed",
                value={
                    "letter": "ostp-ai-copyright-2025",
                    "name": "Organisers' sheet",
                    "kind": "feed",
                    "url": "https://example.org/signatories.csv",
                    "format": "csv",
                    "sync_interval": "06:00:00",
                },
                request_only=True,
            )
        ],
    ),
    update=extend_schema(
        summary="Replace a source's settings",
        request=s.SourceUpdateSerializer,
        responses={200: s.SourceSerializer},
    ),
    partial_update=extend_schema(
        summary="Change some of a source's settings",
        request=s.SourceUpdateSerializer,
        responses={200: s.SourceSerializer},
    ),
)
class SourceViewSet(
    FiltersOnListMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    mixins.UpdateModelMixin,
    viewsets.GenericViewSet,
):
    queryset = Source.objects.select_related("letter")
    serializer_class = s.SourceSerializer
    filterset_class = SourceFilter
    pagination_class = PagePagination
    permission_classes = [StaffReadModelWrite]
    action_permissions = {"sync": "letters.change_source"}
    lookup_value_regex = _ID

    def _detail(self, source: Source, code: int = status.HTTP_200_OK) -> Response:
        source = self.queryset.get(pk=source.pk)
        return Response(
            s.SourceSerializer(source, context={"request": self.request}).data, status=code
        )

    def create(self, request: Request) -> Response:
        def create() -> Response:
            serializer = s.SourceWriteSerializer(data=request.data)
            serializer.is_valid(raise_exception=True)
            source = services.source_create(**serializer.validated_data)
            response = self._detail(source, status.HTTP_201_CREATED)
            response.headers["Location"] = reverse("source-detail", args=[source.pk])
            return response

        return idempotent(request, create)

    def update(self, request: Request, pk: str, partial: bool = False) -> Response:
        source = self.get_object()
        serializer = s.SourceUpdateSerializer(data=request.data, partial=partial)
        serializer.is_valid(raise_exception=True)
        return self._detail(source_update(source=source, **serializer.validated_data))

    @extend_schema(
        summary="Sync a source now",
        description="Queues a fetch of the source and answers 202 with the run, whose "
        "`api_url` shows its outcome once a worker has done it. When the source already has "
        "a run queued or running, the run answered is recorded as skipped.",
        request=None,
        parameters=[IDEMPOTENCY_KEY],
        responses={202: s.SyncRunSerializer},
    )
    @action(detail=True, methods=["post"])
    def sync(self, request: Request, pk: str) -> Response:
        source = self.get_object()
        from letters.sync import sync_request

        def queue() -> Response:
            run = sync_request(source=source, by=request.user)
            run = SyncRun.objects.select_related("source__letter", "requested_by").get(pk=run.pk)
            data = s.SyncRunSerializer(run, context={"request": request}).data
            headers = {"Location": data["api_url"]}
            return Response(data, status=status.HTTP_202_ACCEPTED, headers=headers)

        return idempotent(request, queue)


# --- Citable list versions -----------------------------------------------------

_VERSION_NUMBER = OpenApiParameter(
    "number",
    OpenApiTypes.INT,
    OpenApiParameter.PATH,
    description="The version's number within the letter: 1, 2, 3...",
)
_CANONICAL_CSV = (
    "The canonical CSV: UTF-8 without a byte order mark, LF line endings, the header row "
    "`" + ",".join(versions.HEADER) + "`, then one row per standing signature (none merged "
    "away, none removed as fake), sorted by `signature_id`: the signature's id, the person's "
    "id, their display name, the title and affiliation as stated, and the public status "
    "(`unlisted` when no source lists it any more). Cells are quoted as RFC 4180 says "
    "(Python's `csv` module: only cells holding a comma, a quote or a line break, a quote "
    "doubled), nothing else escaped."
)
_CHAIN = (
    "`content_sha256` is the SHA-256 of that file's bytes; `hash` is the SHA-256 of the ASCII "
    'text `previous_hash + "\\n" + content_sha256` (lowercase hex), `previous_hash` being '
    "the previous version's `hash` and the empty string for version 1."
)


class ListVersionPagination(KeysetPagination):
    ordering = ("number",)
    page_size = 100


@extend_schema_view(
    list=extend_schema(
        summary="A letter's list versions",
        description="Each change to the letter's public list made a version, oldest first; "
        "a version never changes afterwards, and each is chained to the one before by its "
        "hash, so anyone can recompute the chain from the versions' CSVs. " + _CHAIN,
        parameters=[_LETTER_SLUG],
    ),
    retrieve=extend_schema(
        summary="A list version",
        description="One version's figures; its list is at `list_url`. " + _CHAIN,
        parameters=[_LETTER_SLUG, _VERSION_NUMBER],
    ),
)
class LetterVersionViewSet(_OfALetter, mixins.ListModelMixin, viewsets.GenericViewSet):
    queryset = ListVersion.objects.all()
    serializer_class = s.ListVersionSerializer
    pagination_class = ListVersionPagination
    lookup_field = "number"
    lookup_value_regex = "[0-9]{1,9}"

    def get_queryset(self) -> QuerySet:
        return (
            ListVersion.objects.filter(letter_id=self.get_letter().pk)
            .select_related("created_by")
            .defer("data")
        )

    def get_serializer_context(self) -> dict:
        return {**super().get_serializer_context(), "letter_slug": self.kwargs["letter_slug"]}

    def handle_exception(self, exc: Exception) -> Response:
        response = super().handle_exception(exc)
        # An error answers JSON even where the file was asked for as CSV.
        self.request.accepted_renderer = JSONRenderer()
        self.request.accepted_media_type = JSONRenderer.media_type
        return response

    def _version(self, number: str) -> ListVersion:
        version = self.get_queryset().filter(number=int(number)).first()
        if version is None:
            raise NotFound(f"The letter has no version {number}.")
        return version

    def retrieve(self, request: Request, letter_slug: str, number: str) -> Response:
        return Response(self.get_serializer(self._version(number)).data)

    @extend_schema(
        summary="A list version's canonical CSV",
        description="The list as it was published in this version, byte for byte as stored "
        "when it was made (never rebuilt from today's data): `sha256sum` of the download "
        "equals the version's `content_sha256`. " + _CANONICAL_CSV,
        parameters=[_LETTER_SLUG, _VERSION_NUMBER],
        responses={
            (200, "text/csv"): OpenApiResponse(
                OpenApiTypes.BINARY, description="The canonical CSV of the version."
            )
        },
    )
    @action(
        detail=True,
        methods=["get"],
        url_path=r"list\.csv",
        url_name="list-csv",
        renderer_classes=_WITH_CSV,
    )
    def list_csv(self, request: Request, letter_slug: str, number: str) -> HttpResponse:
        version = ListVersion.objects.filter(
            letter_id=self.get_letter().pk, number=int(number)
        ).first()
        if version is None:
            raise NotFound(f"The letter has no version {number}.")
        response = HttpResponse(
            versions.version_content(version), content_type="text/csv; charset=utf-8"
        )
        response["Content-Disposition"] = (
            f'attachment; filename="{letter_slug}-v{version.number}.csv"'
        )
        response["ETag"] = f'"{version.content_sha256}"'
        response["Cache-Control"] = "public, max-age=31536000, immutable"
        return response


@extend_schema_view(
    list=extend_schema(summary="Sync runs", description="Newest first. Staff only."),
    retrieve=extend_schema(
        summary="A sync run",
        description="Its outcome, counts, error and the diff against the previous run.",
        responses={200: s.SyncRunDetailSerializer},
    ),
)
class SyncRunViewSet(
    FiltersOnListMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet
):
    queryset = SyncRun.objects.select_related("source__letter", "requested_by")
    serializer_class = s.SyncRunSerializer
    filterset_class = SyncRunFilter
    pagination_class = SyncRunPagination
    permission_classes = [StaffReadModelWrite]
    lookup_value_regex = _ID

    def retrieve(self, request: Request, pk: str) -> Response:
        run = self.get_object()
        return Response(s.SyncRunDetailSerializer(run, context={"request": request}).data)


# --- Change feed --------------------------------------------------------------


class ChangeQuerySerializer(serializers.Serializer):
    since = serializers.DateTimeField(
        required=False, help_text="Only changes at or after this time (ISO 8601)."
    )
    letter = serializers.SlugField(
        required=False, max_length=200, help_text="Only changes to this letter's list (slug)."
    )
    person = serializers.IntegerField(
        required=False, min_value=1, max_value=MAX_ID, help_text="Only changes about this person."
    )
    kind = serializers.MultipleChoiceField(
        choices=changes.KINDS, required=False, help_text="Only these kinds; repeat for several."
    )
    cursor = serializers.CharField(
        required=False, max_length=200, help_text="The cursor of the page, as given by `next`."
    )
    page_size = serializers.IntegerField(
        required=False, min_value=1, max_value=1000, default=100, help_text="Events a page."
    )


_CHANGE_EXAMPLE = {
    "id": "s5012",
    "at": "2025-03-18T09:12:00Z",
    "kind": "gone",
    "letter": {
        "slug": "ostp-ai-copyright-2025",
        "api_url": "https://tracker.example.org/api/letters/ostp-ai-copyright-2025/",
    },
    "signature": {"id": 1207, "api_url": "https://tracker.example.org/api/signatures/1207/"},
    "person": {
        "id": 88,
        "name": "Maggie Gyllenhaal",
        "api_url": "https://tracker.example.org/api/people/88/",
    },
    "survivor": None,
    "source": "Variety",
    "reason": "",
    "before": {},
    "after": {},
}


def _encode_cursor(position: changes.Cursor) -> str:
    raw = json.dumps([position.at.isoformat(), position.rank, position.id]).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _decode_cursor(text: str) -> changes.Cursor:
    try:
        at, rank, id_ = json.loads(base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)))
        parsed = parse_datetime(at)
    except (ValueError, TypeError, binascii.Error, UnicodeDecodeError):
        parsed = None
    if parsed is None or not isinstance(rank, int) or not isinstance(id_, int):
        raise NotFound("This cursor is not one the API gave; start again without it.")
    return changes.Cursor(parsed, rank, id_)


@extend_schema_view(
    list=extend_schema(
        summary="What changed",
        description="One event per real change, oldest first, in cursor pages: "
        "`signature_added` (a new signature), `status_changed` (with the reason), "
        "`respelled` (a source changed how it writes an entry: `before` and `after`), "
        "`gone` (a source dropped an entry) and `back` (listed again), `merged` (a person "
        "folded into another: the tombstone of `person`, pointing at `survivor`), "
        "`unmerged`, `split`, and `person_renamed` (the name a person is shown by changed: "
        "`before` and `after`, with the cause as `reason`). "
        "`count` is the number of events the filters select. "
        "A source listing an entry again unchanged is no change. "
        "Read from the start, the feed replays every list; to mirror the data, keep the "
        "last page's `next` and read it again later.",
        parameters=[ChangeQuerySerializer],
        responses={200: s.ChangePageSerializer},
        examples=[
            OpenApiExample(
                "An entry dropped",
                value={"next": None, "results": [_CHANGE_EXAMPLE]},
                response_only=True,
            )
        ],
    ),
)
class ChangeViewSet(viewsets.GenericViewSet):
    serializer_class = s.ChangeSerializer
    pagination_class = None

    def get_queryset(self):
        return SignatureStatusChange.objects.none()

    def list(self, request: Request) -> Response:
        query = ChangeQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        data = query.validated_data
        letter = None
        if data.get("letter"):
            letter = Letter.objects.only("id", "slug").filter(slug=data["letter"]).first()
            if letter is None:
                raise ValidationError({"letter": [f"There is no letter {data['letter']!r}."]})
        filters = changes.Filters(
            since=data.get("since"),
            letter=letter,
            person_id=data.get("person"),
            kinds=frozenset(data.get("kind") or changes.KINDS),
        )
        cursor = _decode_cursor(data["cursor"]) if data.get("cursor") else None
        events, more = changes.change_page(filters=filters, cursor=cursor, size=data["page_size"])
        next_link = None
        if more:
            url = request.build_absolute_uri()
            next_link = replace_query_param(url, "cursor", _encode_cursor(events[-1].position))
        results = [
            changes.event_json(event, absolute=request.build_absolute_uri) for event in events
        ]
        count = changes.change_count(filters=filters)
        return Response({"count": count, "next": next_link, "results": results})


# --- Webhooks ------------------------------------------------------------------


class WebhookDeliveryPagination(KeysetPagination):
    ordering = ("-id",)
    page_size = 50
    max_page_size = 500


_WEBHOOK_EXAMPLE = {
    "url": "https://newsroom.example.org/hooks/tracker",
    "events": ["signature_added", "status_changed", "gone"],
    "letters": ["ostp-ai-copyright-2025"],
}


@extend_schema_view(
    list=extend_schema(
        summary="Webhook subscriptions",
        description="Newest first. Staff only. The secret is never shown here.",
    ),
    retrieve=extend_schema(summary="A webhook subscription"),
    partial_update=extend_schema(
        summary="Change a subscription",
        description="Its `url`, `events` or `letters`; what is not given stays, and the "
        "secret stays. The next batch starts where the last delivered one stopped, read "
        "with the new filters. An ended subscription cannot be changed (409).",
        request=s.WebhookSubscriptionWriteSerializer,
        responses={200: s.WebhookSubscriptionSerializer},
    ),
    destroy=extend_schema(
        summary="Unsubscribe",
        description="Ends the subscription: nothing more is sent, and it cannot be resumed. "
        "It is not deleted: it stays, with `ended_at` and its deliveries, as the record of "
        "what was sent. Ending it again changes nothing.",
        request=None,
        responses={200: s.WebhookSubscriptionSerializer},
    ),
    create=extend_schema(
        summary="Subscribe to the change feed",
        description="Batches of change-feed events are POSTed to `url` as "
        '`{"subscription", "delivery", "timestamp", "events": [...]}`, the events as '
        "`/api/changes/` shows them, oldest first, at most one request every "
        "`WEBHOOK_BATCH_SECONDS` (10 s unless set), from the subscription's creation on. "
        "Each request is signed: `X-Tracker-Signature: sha256=<hex HMAC-SHA256 of the raw "
        "body with the secret>`, with `X-Tracker-Timestamp` (Unix seconds, also in the body). "
        "Events are sent at least once: drop repeats by their `id`. A failed request "
        "(no 2xx answer; redirects are not followed) is tried again with backoff for a day, "
        "then the subscription is paused with the reason. The answer carries the `secret`, "
        "this once.",
        request=s.WebhookSubscriptionWriteSerializer,
        responses={201: s.WebhookSubscriptionCreatedSerializer},
        parameters=[IDEMPOTENCY_KEY],
        examples=[OpenApiExample("A newsroom", value=_WEBHOOK_EXAMPLE, request_only=True)],
    ),
)
class WebhookSubscriptionViewSet(
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    viewsets.GenericViewSet,
):
    queryset = WebhookSubscription.objects.select_related("created_by").prefetch_related("letters")
    serializer_class = s.WebhookSubscriptionSerializer
    pagination_class = PagePagination
    permission_classes = [StaffReadModelWrite]
    action_permissions = {
        "resume": "letters.change_webhooksubscription",
        "pause": "letters.change_webhooksubscription",
        # Nothing is deleted: unsubscribing changes the subscription.
        "destroy": "letters.change_webhooksubscription",
    }
    lookup_value_regex = _ID

    def _detail(self, subscription: WebhookSubscription, serializer=None, **extra) -> dict:
        subscription = self.queryset.get(pk=subscription.pk)
        serializer = serializer or s.WebhookSubscriptionSerializer
        data = serializer(subscription, context={"request": self.request}).data
        return {**data, **extra}

    def create(self, request: Request) -> Response:
        def create() -> Response:
            serializer = s.WebhookSubscriptionWriteSerializer(data=request.data)
            serializer.is_valid(raise_exception=True)
            subscription, secret = webhooks.webhook_subscription_create(
                **serializer.validated_data, by=request.user
            )
            data = self._detail(subscription, s.WebhookSubscriptionCreatedSerializer, secret=secret)
            return Response(
                data, status=status.HTTP_201_CREATED, headers={"Location": data["api_url"]}
            )

        return idempotent(request, create)

    def partial_update(self, request: Request, pk: str) -> Response:
        serializer = s.WebhookSubscriptionWriteSerializer(data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        subscription = webhooks.webhook_subscription_update(
            subscription=self.get_object(), **serializer.validated_data
        )
        return Response(self._detail(subscription))

    def destroy(self, request: Request, pk: str) -> Response:
        subscription = webhooks.webhook_subscription_end(
            subscription=self.get_object(), by=request.user
        )
        return Response(self._detail(subscription))

    @extend_schema(
        summary="Pause a subscription",
        description="Nothing is sent until it is resumed; then the events it missed go first.",
        request=None,
        responses={200: s.WebhookSubscriptionSerializer},
    )
    @action(detail=True, methods=["post"])
    def pause(self, request: Request, pk: str) -> Response:
        subscription = webhooks.webhook_subscription_pause(
            subscription=self.get_object(), by=request.user
        )
        return Response(self._detail(subscription))

    @extend_schema(
        summary="Resume a paused subscription",
        description="Deliveries start again from where they stopped: the events it missed "
        "are sent first.",
        request=None,
        responses={200: s.WebhookSubscriptionSerializer},
    )
    @action(detail=True, methods=["post"])
    def resume(self, request: Request, pk: str) -> Response:
        subscription = webhooks.webhook_subscription_resume(subscription=self.get_object())
        return Response(self._detail(subscription))

    @extend_schema(
        summary="A subscription's deliveries",
        description="Newest first: each batch of events with its attempts, the last "
        "answer's status, how long it took and the error.",
        responses={200: s.WebhookDeliverySerializer(many=True)},
    )
    @action(detail=True, methods=["get"], pagination_class=WebhookDeliveryPagination)
    def deliveries(self, request: Request, pk: str) -> Response:
        subscription = self.get_object()
        rows = WebhookDelivery.objects.filter(subscription_id=subscription.pk)
        page = self.paginate_queryset(rows)
        data = s.WebhookDeliverySerializer(page, many=True).data
        return self.get_paginated_response(data)
