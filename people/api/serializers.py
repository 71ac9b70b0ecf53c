"""People, organizations and duplicate pairs, as the API shows and takes them."""

from __future__ import annotations

from django.urls import reverse
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from letters.models import LetterTarget, Signature
from people.models import Affiliation, MatchJudgement, MatchRun, Organization, Person
from people.selectors import person_names_by_spelling
from tracker.fields import check_storable_json


class PersonRefSerializer(serializers.Serializer):
    id = serializers.IntegerField(read_only=True)
    name = serializers.CharField(source="display_name", read_only=True)


class OrganizationRefSerializer(serializers.Serializer):
    id = serializers.IntegerField(read_only=True)
    slug = serializers.CharField(read_only=True)
    name = serializers.CharField(read_only=True)


class LetterRefSerializer(serializers.Serializer):
    slug = serializers.CharField(read_only=True)
    title = serializers.CharField(read_only=True)


class SourceRefSerializer(serializers.Serializer):
    id = serializers.IntegerField(read_only=True)
    name = serializers.CharField(read_only=True)
    letter = serializers.CharField(source="letter.slug", read_only=True)


# --- People -------------------------------------------------------------------


class PersonSerializer(serializers.ModelSerializer):
    name = serializers.CharField(source="display_name")
    api_url = serializers.SerializerMethodField()

    class Meta:
        model = Person
        fields = ["id", "name", "sort_name", "external_ids", "api_url"]

    def get_api_url(self, person: Person) -> str:
        return self.context["request"].build_absolute_uri(
            reverse("person-detail", args=[person.pk])
        )


class PersonNameSerializer(serializers.Serializer):
    name = serializers.CharField(help_text="The name as a source wrote it.")
    first_seen = serializers.DateTimeField()
    sources = SourceRefSerializer(many=True, help_text="Empty when an editor typed the name.")


class PersonAffiliationSerializer(serializers.ModelSerializer):
    organization = OrganizationRefSerializer()
    source = serializers.CharField(source="source.name", allow_null=True, default=None)

    class Meta:
        model = Affiliation
        fields = ["organization", "role", "start_date", "end_date", "source", "evidence_url"]


class PersonSignatureSerializer(serializers.ModelSerializer):
    letter = LetterRefSerializer()
    first_seen = serializers.DateTimeField(source="first_seen_at")
    last_seen = serializers.DateTimeField(source="last_seen_at")

    class Meta:
        model = Signature
        fields = ["id", "letter", "status", "title", "affiliation", "first_seen", "last_seen"]


class PersonDetailSerializer(PersonSerializer):
    names = serializers.SerializerMethodField()
    affiliations = PersonAffiliationSerializer(many=True)
    signatures = PersonSignatureSerializer(
        many=True, source="signatures_shown", help_text="The letters this person signed."
    )

    class Meta(PersonSerializer.Meta):
        fields = [
            *PersonSerializer.Meta.fields,
            "given_name",
            "middle_name",
            "family_name",
            "honorific",
            "suffix",
            "names",
            "affiliations",
            "signatures",
        ]

    @extend_schema_field(PersonNameSerializer(many=True))
    def get_names(self, person: Person) -> list[dict]:
        return PersonNameSerializer(person_names_by_spelling(person), many=True).data


# --- Organizations ------------------------------------------------------------


class OrganizationTargetSerializer(serializers.ModelSerializer):
    letter = LetterRefSerializer()

    class Meta:
        model = LetterTarget
        fields = ["letter", "role", "note"]


class OrganizationSerializer(serializers.ModelSerializer):
    parent = OrganizationRefSerializer(allow_null=True)
    targeted_by = OrganizationTargetSerializer(
        many=True,
        source="letter_targets",
        help_text="The letters sent to (addressee) or about (subject) this organization.",
    )

    class Meta:
        model = Organization
        fields = [
            "id",
            "slug",
            "name",
            "kind",
            "country",
            "parent",
            "aliases",
            "external_ids",
            "url",
            "description",
            "targeted_by",
        ]


class OrganizationAffiliateSerializer(serializers.ModelSerializer):
    person = PersonRefSerializer()

    class Meta:
        model = Affiliation
        fields = ["person", "role", "start_date", "end_date"]


class OrganizationDetailSerializer(OrganizationSerializer):
    affiliated = OrganizationAffiliateSerializer(
        many=True,
        help_text="The first 100 people affiliated; all of them at /api/people/?organization=ID.",
    )
    affiliated_count = serializers.IntegerField()

    class Meta(OrganizationSerializer.Meta):
        fields = [*OrganizationSerializer.Meta.fields, "affiliated", "affiliated_count"]


class OrganizationWriteSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=300)
    slug = serializers.SlugField(max_length=120, required=False)
    kind = serializers.ChoiceField(choices=Organization.Kind.choices, required=False)
    country = serializers.CharField(max_length=2, required=False, allow_blank=True)
    parent = serializers.PrimaryKeyRelatedField(
        queryset=Organization.objects.all(), required=False, allow_null=True
    )
    aliases = serializers.ListField(
        child=serializers.CharField(max_length=300), required=False, max_length=100
    )
    external_ids = serializers.DictField(
        child=serializers.CharField(max_length=200), required=False
    )
    url = serializers.URLField(max_length=500, required=False, allow_blank=True)
    description = serializers.CharField(required=False, allow_blank=True, max_length=20000)

    def validate_external_ids(self, value: dict) -> dict:
        if len(value) > 50:
            raise serializers.ValidationError("At most 50 external ids.")
        if any(len(key) > 100 for key in value):
            raise serializers.ValidationError("Name each id in at most 100 characters.")
        return check_storable_json(value)


# --- Duplicates ---------------------------------------------------------------


class JudgementSerializer(serializers.ModelSerializer):
    person_a = PersonRefSerializer()
    person_b = PersonRefSerializer()
    decided_by = serializers.CharField(source="decided_by.username", allow_null=True, default=None)
    impact = serializers.IntegerField(
        read_only=True,
        help_text="Signatures the two people carry together: how many letters' lists "
        "a decision corrects. Among equal scores, the list shows the largest first.",
    )

    class Meta:
        model = MatchJudgement
        fields = [
            "id",
            "person_a",
            "person_b",
            "score",
            "impact",
            "explanation",
            "decision",
            "automatic",
            "reason",
            "decided_by",
            "decided_at",
            "created_at",
        ]


class DecisionSerializer(serializers.Serializer):
    decision = serializers.ChoiceField(
        choices=[
            MatchJudgement.Decision.SAME,
            MatchJudgement.Decision.DIFFERENT,
            MatchJudgement.Decision.UNSURE,
        ],
        help_text='"same" merges the two, "different" keeps them apart for good, '
        '"unsure" leaves a note.',
    )
    reason = serializers.CharField(max_length=5000)
    replaces = serializers.ChoiceField(
        choices=MatchJudgement.Decision.values,
        default=MatchJudgement.Decision.PENDING,
        help_text="The decision you saw and mean to replace (pending unless given). A pair "
        "whose decision is another by now, because someone decided it meanwhile, is refused "
        "with 409 and its current decision, so that no decision is lost.",
    )


# --- Runs of the duplicate finder ---------------------------------------------


class MatchRunSerializer(serializers.ModelSerializer):
    requested_by = serializers.CharField(
        source="requested_by.username",
        allow_null=True,
        default=None,
        help_text="Who asked for the run; null for scheduled runs and runs after a sync.",
    )
    duration = serializers.SerializerMethodField(help_text="Seconds, once the run has finished.")
    api_url = serializers.SerializerMethodField()

    class Meta:
        model = MatchRun
        fields = [
            "id",
            "mode",
            "status",
            "requested_by",
            "started_at",
            "finished_at",
            "duration",
            "people_considered",
            "candidates",
            "blocks",
            "blocks_done",
            "pairs_scored",
            "merged",
            "queued",
            "blocked_by_judgements",
            "error",
            "api_url",
        ]
        extra_kwargs = {
            "people_considered": {"help_text": "People the run looked at."},
            "pairs_scored": {"help_text": "Pairs of people compared."},
            "merged": {"help_text": "Pairs merged automatically."},
            "queued": {"help_text": "Pairs queued for review (/api/duplicates/)."},
            "blocked_by_judgements": {
                "help_text": 'Pairs an editor\'s "different" judgement kept apart.'
            },
            "error": {"help_text": "Why the run failed or was skipped."},
        }

    def get_duration(self, run: MatchRun) -> float | None:
        return run.duration.total_seconds() if run.duration is not None else None

    def get_api_url(self, run: MatchRun) -> str:
        return self.context["request"].build_absolute_uri(
            reverse("match-run-detail", args=[run.pk])
        )


class MatchRunRequestSerializer(serializers.Serializer):
    full = serializers.BooleanField(
        help_text="true compares everyone with everyone; false compares the people added "
        "or changed since the last successful run with everyone."
    )
