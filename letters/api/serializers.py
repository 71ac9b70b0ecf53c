"""Letters, signatures, sources and runs, as the API shows and takes them."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.urls import reverse
from drf_spectacular.utils import extend_schema_field, extend_schema_serializer
from rest_framework import serializers

from letters.changes import KINDS as CHANGE_KINDS
from letters.models import (
    Letter,
    LetterTarget,
    ListVersion,
    Signature,
    SignatureStatusChange,
    Source,
    SyncRun,
    WebhookDelivery,
    WebhookSubscription,
)
from letters.selectors import UNLISTED, signature_public_status
from people.api.serializers import OrganizationRefSerializer, PersonRefSerializer
from tracker.fields import check_storable_json, iso_datetime

# --- Letters ------------------------------------------------------------------


class LetterTargetSerializer(serializers.ModelSerializer):
    organization = OrganizationRefSerializer()

    class Meta:
        model = LetterTarget
        fields = ["organization", "role", "note"]


class LetterSourceSerializer(serializers.ModelSerializer):
    people = serializers.IntegerField(help_text="People this source lists now.")
    only_here = serializers.IntegerField(help_text="People no other source of the letter lists.")

    class Meta:
        model = Source
        fields = [
            "id",
            "name",
            "kind",
            "url",
            "reliability",
            "last_synced_at",
            "people",
            "only_here",
        ]


class LetterSerializer(serializers.ModelSerializer):
    api_url = serializers.SerializerMethodField()
    targets = LetterTargetSerializer(
        many=True,
        source="letter_targets",
        help_text="Organizations the letter is sent to (addressee) or about (subject).",
    )

    class Meta:
        model = Letter
        fields = [
            "slug",
            "title",
            "summary",
            "language",
            "published_on",
            "url",
            "status",
            "claimed_count",
            "claimed_count_min",
            "targets",
            "api_url",
        ]

    def get_api_url(self, letter: Letter) -> str:
        return self.context["request"].build_absolute_uri(
            reverse("letter-detail", args=[letter.slug])
        )


class LetterCountsSerializer(serializers.Serializer):
    signatures = serializers.IntegerField(help_text="Signatures that stand.")
    people = serializers.IntegerField(help_text="Distinct people who signed.")
    by_status = serializers.DictField(
        child=serializers.IntegerField(),
        help_text="Signatures per status; removed (fake) ones are counted for staff only.",
    )
    by_public_status = serializers.DictField(
        child=serializers.IntegerField(),
        help_text="Signatures per public status: as `by_status`, with those listed that no "
        "source lists any more counted as `unlisted`.",
    )
    listed_by_sources = serializers.IntegerField(
        help_text="Distinct people the letter's sources list now."
    )
    listed_by_one_source = serializers.IntegerField(
        help_text="People only one source lists: the least corroborated."
    )


class LetterDetailSerializer(LetterSerializer):
    organisers = OrganizationRefSerializer(many=True)
    sources = LetterSourceSerializer(many=True)
    counts = LetterCountsSerializer()
    signatures_url = serializers.SerializerMethodField()

    class Meta(LetterSerializer.Meta):
        fields = [
            *LetterSerializer.Meta.fields,
            "text",
            "organisers",
            "organisers_note",
            "sources",
            "counts",
            "signatures_url",
            "created_at",
            "updated_at",
        ]

    def get_signatures_url(self, letter: Letter) -> str:
        return self.context["request"].build_absolute_uri(
            reverse("letter-signature-list", args=[letter.slug])
        )


class LetterWriteSerializer(serializers.Serializer):
    title = serializers.CharField(max_length=500)
    slug = serializers.SlugField(
        max_length=200, help_text="Lower-case letters, digits and hyphens: ai-copyright-2025."
    )
    summary = serializers.CharField(required=False, allow_blank=True, max_length=20000)
    text = serializers.CharField(required=False, allow_blank=True, max_length=200000)
    language = serializers.CharField(required=False, allow_blank=True, max_length=16)
    published_on = serializers.DateField(required=False, allow_null=True)
    url = serializers.URLField(required=False, allow_blank=True, max_length=500)
    status = serializers.ChoiceField(choices=Letter.Status.choices, required=False)
    claimed_count = serializers.CharField(
        required=False, allow_blank=True, max_length=50, help_text='As the organisers say: "400+".'
    )
    organisers_note = serializers.CharField(required=False, allow_blank=True, max_length=500)


# --- Signatures ---------------------------------------------------------------


class SightingSerializer(serializers.Serializer):
    source = serializers.CharField(help_text="The source's name.")
    name = serializers.CharField(help_text="The name as the source wrote it.")
    title = serializers.CharField()
    affiliation = serializers.CharField()
    present = serializers.BooleanField(help_text="Listed by the source's latest fetch.")
    first_seen = serializers.DateTimeField()
    last_seen = serializers.DateTimeField()


def _as_written(value: Any) -> str | None:
    """A time as the API writes it; text already is (PostgreSQL wrote it:
    ``tracker.db.utc_iso_sql``)."""
    return value if isinstance(value, str) else iso_datetime(value)


def sighting_item(sighting: dict[str, Any]) -> dict[str, Any]:
    for key in ("first_seen", "last_seen"):
        sighting[key] = _as_written(sighting[key])
    return sighting


PUBLIC_STATUS_CHOICES = [*Signature.Status.choices, (UNLISTED, "No source lists it any more")]
_PUBLIC_STATUS_HELP = (
    "The status to quote: as recorded, except `unlisted` for a signature still listed "
    "that no source lists any more (every source dropped it; its sightings stay as history)."
)


class SignatureSerializer(serializers.Serializer):
    """One signature in a list: built straight from the values the selector read,
    because REST framework's per-field machinery costs more than the query
    for a page of 100 with its sightings. The fields below document the shape."""

    id = serializers.IntegerField()
    letter = serializers.CharField(help_text="The letter's slug.")
    person = PersonRefSerializer()
    status = serializers.ChoiceField(
        choices=Signature.Status.choices, help_text="The status as recorded, with its history."
    )
    public_status = serializers.ChoiceField(
        choices=PUBLIC_STATUS_CHOICES, help_text=_PUBLIC_STATUS_HELP
    )
    title = serializers.CharField(help_text="Title as stated when signing.")
    affiliation = serializers.CharField(help_text="Affiliation as stated when signing.")
    first_seen = serializers.DateTimeField()
    last_seen = serializers.DateTimeField()
    sightings = SightingSerializer(many=True, help_text="What each source wrote.")

    def to_representation(self, row: dict) -> dict[str, Any]:
        return {
            "id": row["id"],
            "letter": row["letter__slug"],
            "person": {"id": row["person_id"], "name": row["person__display_name"]},
            "status": row["status"],
            "public_status": row["public_status"],
            "title": row["title"],
            "affiliation": row["affiliation"],
            "first_seen": _as_written(row["first_seen"]),
            "last_seen": _as_written(row["seen_at"]),
            "sightings": [sighting_item(sighting) for sighting in row["sightings"]],
        }


class SignatureCreateSerializer(serializers.Serializer):
    person = serializers.IntegerField(
        required=False,
        min_value=1,
        max_value=2**63 - 1,
        help_text="An existing person's id; or give `name`.",
    )
    name = serializers.CharField(
        required=False, allow_blank=True, max_length=500, help_text="The name as written."
    )
    title = serializers.CharField(required=False, allow_blank=True, max_length=500)
    affiliation = serializers.CharField(required=False, allow_blank=True, max_length=500)

    def validate(self, data: dict) -> dict:
        if data.get("person") is None and not (data.get("name") or "").strip():
            raise serializers.ValidationError(
                {"name": "Give the signatory's name, or the id of an existing person."}
            )
        return data


class StatusChangeSerializer(serializers.ModelSerializer):
    changed_by = serializers.CharField(source="changed_by.username", allow_null=True, default=None)

    class Meta:
        model = SignatureStatusChange
        fields = [
            "from_status",
            "to_status",
            "changed_at",
            "changed_by",
            "actor",
            "reason",
            "evidence_method",
            "evidence_url",
        ]


class SightingDetailSerializer(serializers.Serializer):
    source = serializers.CharField(source="source.name")
    source_id = serializers.IntegerField()
    name = serializers.CharField()
    title = serializers.CharField()
    affiliation = serializers.CharField()
    url = serializers.CharField()
    present = serializers.BooleanField()
    first_seen = serializers.DateTimeField(source="first_seen_at")
    last_seen = serializers.DateTimeField(source="seen_at")
    gone_at = serializers.DateTimeField(allow_null=True)


class SignatureDetailSerializer(serializers.ModelSerializer):
    letter = serializers.SlugRelatedField(slug_field="slug", read_only=True)
    person = PersonRefSerializer()
    organization = OrganizationRefSerializer(allow_null=True)
    first_seen = serializers.DateTimeField(source="first_seen_at")
    last_seen = serializers.DateTimeField(source="seen_at")
    sightings = SightingDetailSerializer(many=True)
    history = StatusChangeSerializer(
        many=True, source="status_changes", help_text="Every change of status, oldest first."
    )
    merged_into = serializers.IntegerField(
        source="merged_into_id",
        allow_null=True,
        help_text="Set when a merge folded this signature into another; it stays as history.",
    )
    public_status = serializers.SerializerMethodField(help_text=_PUBLIC_STATUS_HELP)
    review_cause = serializers.ChoiceField(
        choices=Signature.ReviewCause.choices,
        read_only=True,
        help_text='Why it needs review: "gone" when no source lists it any more (cleared when '
        'one lists it again), "editor" when an editor flagged it; empty when it does not.',
    )

    class Meta:
        model = Signature
        fields = [
            "id",
            "letter",
            "person",
            "status",
            "public_status",
            "title",
            "affiliation",
            "organization",
            "signed_on",
            "first_seen",
            "last_seen",
            "needs_review",
            "review_cause",
            "review_reason",
            "merged_into",
            "sightings",
            "history",
        ]

    @extend_schema_field(serializers.ChoiceField(choices=PUBLIC_STATUS_CHOICES))
    def get_public_status(self, signature: Signature) -> str:
        return signature_public_status(signature)


class StatusChangeRequestSerializer(serializers.Serializer):
    status = serializers.ChoiceField(choices=Signature.Status.choices)
    reason = serializers.CharField(max_length=5000, help_text="Why the status changes.")
    evidence_method = serializers.ChoiceField(
        choices=SignatureStatusChange.Method.choices, required=False, allow_blank=True
    )
    evidence_url = serializers.URLField(required=False, allow_blank=True, max_length=1000)


# --- Sources and runs ---------------------------------------------------------


class SourceSerializer(serializers.ModelSerializer):
    letter = serializers.SlugRelatedField(slug_field="slug", read_only=True)
    runs_url = serializers.SerializerMethodField()

    class Meta:
        model = Source
        fields = [
            "id",
            "letter",
            "name",
            "kind",
            "url",
            "format",
            "options",
            "reliability",
            "max_rejected_percent",
            "enabled",
            "sync_interval",
            "next_sync_at",
            "last_synced_at",
            "etag",
            "last_modified",
            "content_hash",
            "created_at",
            "updated_at",
            "runs_url",
        ]

    def get_runs_url(self, source: Source) -> str:
        return self.context["request"].build_absolute_uri(
            reverse("sync-run-list") + f"?source={source.pk}"
        )


class SourceWriteSerializer(serializers.Serializer):
    letter = serializers.SlugRelatedField(
        slug_field="slug",
        queryset=Letter.objects.all(),
        help_text="The slug of the letter whose signatories it lists; set at creation.",
    )
    name = serializers.CharField(max_length=200)
    kind = serializers.ChoiceField(choices=Source.Kind.choices)
    url = serializers.URLField(required=False, allow_blank=True, max_length=1000)
    format = serializers.ChoiceField(choices=Source.Format.choices, required=False)
    options = serializers.DictField(required=False)
    reliability = serializers.IntegerField(required=False, min_value=0, max_value=100)
    max_rejected_percent = serializers.IntegerField(
        required=False,
        min_value=0,
        max_value=100,
        help_text="The percentage of a file's rows that may be left out as unreadable before "
        "a run fails whole (default 5).",
    )
    sync_interval = serializers.DurationField(
        required=False,
        min_value=timedelta(minutes=1),
        max_value=timedelta(days=366),
        help_text='How often to fetch, such as "06:00:00" (six hours) or "P1D".',
    )
    enabled = serializers.BooleanField(required=False)

    def validate_options(self, value: dict) -> dict:
        return check_storable_json(value)


class SourceUpdateSerializer(SourceWriteSerializer):
    letter = None
    kind = None


class SyncRunSerializer(serializers.ModelSerializer):
    source = serializers.SerializerMethodField()
    requested_by = serializers.CharField(
        source="requested_by.username", allow_null=True, default=None
    )
    api_url = serializers.SerializerMethodField()

    class Meta:
        model = SyncRun
        fields = [
            "id",
            "source",
            "trigger",
            "requested_by",
            "requested_at",
            "started_at",
            "finished_at",
            "outcome",
            "http_status",
            "seen",
            "added",
            "changed",
            "gone",
            "back",
            "rejected",
            "attempts",
            "content_hash",
            "api_url",
        ]

    @extend_schema_field(
        {
            "type": "object",
            "properties": {
                "id": {"type": "integer"},
                "name": {"type": "string"},
                "letter": {"type": "string"},
            },
        }
    )
    def get_source(self, run: SyncRun) -> dict[str, Any]:
        return {"id": run.source_id, "name": run.source.name, "letter": run.source.letter.slug}

    def get_api_url(self, run: SyncRun) -> str:
        return self.context["request"].build_absolute_uri(reverse("sync-run-detail", args=[run.pk]))


class SyncRunDetailSerializer(SyncRunSerializer):
    class Meta(SyncRunSerializer.Meta):
        fields = [*SyncRunSerializer.Meta.fields, "rejected_rows", "error", "diff"]


class LinkSerializer(serializers.Serializer):
    slug = serializers.CharField(required=False)
    id = serializers.IntegerField(required=False)
    api_url = serializers.URLField()


class ChangePersonSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField(help_text="The name shown when the change was read.")
    api_url = serializers.URLField(help_text="A merged record's address answers 301.")


class ChangeSerializer(serializers.Serializer):
    """The shape of one change event (the view builds it)."""

    id = serializers.CharField(help_text="Unique and stable.")
    at = serializers.DateTimeField()
    kind = serializers.ChoiceField(choices=CHANGE_KINDS)
    letter = LinkSerializer(allow_null=True, help_text="The letter whose list changed.")
    signature = LinkSerializer(allow_null=True)
    person = ChangePersonSerializer(
        allow_null=True, help_text="Who the change is about; for `merged`, the record merged away."
    )
    survivor = ChangePersonSerializer(
        allow_null=True,
        help_text="`merged` and `unmerged`: the record kept; `split`: the new record.",
    )
    source = serializers.CharField(allow_null=True, help_text="The source, for entries.")
    reason = serializers.CharField(help_text="Why, when someone said.")
    before = serializers.DictField(help_text="The values before: `status`, or an entry's fields.")
    after = serializers.DictField(help_text="The values after.")


@extend_schema_serializer(many=False)
class ChangePageSerializer(serializers.Serializer):
    count = serializers.IntegerField(help_text="Events the filters select, on every page.")
    next = serializers.URLField(allow_null=True)
    results = ChangeSerializer(many=True)


# --- Webhooks ---------------------------------------------------------------------


class WebhookSubscriptionSerializer(serializers.ModelSerializer):
    """A subscription as staff read it: never its secret."""

    api_url = serializers.HyperlinkedIdentityField(view_name="webhook-detail")
    events = serializers.ListField(
        child=serializers.ChoiceField(choices=CHANGE_KINDS),
        help_text="The change-feed kinds sent; empty: every kind.",
    )
    letters = serializers.SlugRelatedField(slug_field="slug", many=True, read_only=True)
    created_by = serializers.SlugRelatedField(slug_field="username", read_only=True)
    deliveries_url = serializers.SerializerMethodField()

    class Meta:
        model = WebhookSubscription
        fields = [
            "id",
            "api_url",
            "url",
            "events",
            "letters",
            "active",
            "paused_at",
            "paused_reason",
            "ended_at",
            "last_event_id",
            "last_request_at",
            "next_attempt_at",
            "created_by",
            "created_at",
            "deliveries_url",
        ]

    def get_deliveries_url(self, subscription: WebhookSubscription) -> str:
        return self.context["request"].build_absolute_uri(
            reverse("webhook-deliveries", args=[subscription.pk])
        )


class WebhookSubscriptionCreatedSerializer(WebhookSubscriptionSerializer):
    secret = serializers.CharField(
        help_text="Signs every delivery (`X-Tracker-Signature`). Shown in this answer only: "
        "keep it now."
    )

    class Meta(WebhookSubscriptionSerializer.Meta):
        fields = [*WebhookSubscriptionSerializer.Meta.fields, "secret"]


class WebhookSubscriptionWriteSerializer(serializers.Serializer):
    url = serializers.URLField(
        max_length=2000, help_text="Where batches are POSTed: a public http(s) address."
    )
    events = serializers.ListField(
        child=serializers.ChoiceField(choices=CHANGE_KINDS),
        required=False,
        default=list,
        max_length=len(CHANGE_KINDS),
        help_text="The change-feed kinds to send; none: every kind.",
    )
    letters = serializers.ListField(
        child=serializers.SlugField(max_length=200),
        required=False,
        default=list,
        max_length=1000,
        help_text="Only changes to these letters' lists (slugs); none: every change, merges "
        "and splits of people included.",
    )

    def validate_letters(self, slugs: list[str]) -> list[Letter]:
        letters = list(Letter.objects.filter(slug__in=set(slugs)))
        missing = sorted(set(slugs) - {letter.slug for letter in letters})
        if missing:
            raise serializers.ValidationError(f"There is no letter {missing[0]!r}.")
        return letters


class WebhookDeliverySerializer(serializers.ModelSerializer):
    class Meta:
        model = WebhookDelivery
        fields = [
            "id",
            "outcome",
            "first_event_id",
            "last_event_id",
            "event_count",
            "attempts",
            "status_code",
            "duration_ms",
            "error",
            "created_at",
            "last_attempt_at",
            "delivered_at",
        ]


class ListVersionSerializer(serializers.ModelSerializer):
    editor = serializers.CharField(
        source="created_by.username",
        allow_null=True,
        default=None,
        help_text="The editor whose change made the version; empty for syncs and jobs.",
    )
    run = serializers.IntegerField(
        source="run_id",
        allow_null=True,
        help_text="The sync run that made the version, if a sync did.",
    )
    list_url = serializers.SerializerMethodField(help_text="The version's canonical CSV.")

    class Meta:
        model = ListVersion
        fields = [
            "number",
            "created_at",
            "count",
            "content_sha256",
            "hash",
            "previous_hash",
            "run",
            "editor",
            "reason",
            "size",
            "list_url",
        ]

    def get_list_url(self, version: ListVersion) -> str:
        path = reverse(
            "letter-version-list-csv", args=[self.context["letter_slug"], version.number]
        )
        request = self.context.get("request")
        return request.build_absolute_uri(path) if request else path
