"""People, organizations and duplicate pairs, as the API shows and takes them."""

from __future__ import annotations

from typing import Any

from django.urls import reverse
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from letters.models import LetterTarget, Signature
from people.models import (
    Affiliation,
    MatchJudgement,
    MatchRun,
    Merge,
    Organization,
    Person,
    Split,
)
from people.selectors import PersonPage, person_names_by_spelling
from tracker.fields import check_storable_json, iso_datetime
from tracker.links import detail_path, detail_url


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
        return detail_url(self.context["request"], "person-detail", person.pk)

    def to_representation(self, person: Person) -> dict:
        # Built straight from the record: a page of 50 through REST framework's
        # per-field machinery costs more than its query. Same keys, same values.
        return {
            "id": person.pk,
            "name": person.display_name,
            "sort_name": person.sort_name,
            "external_ids": person.external_ids,
            "api_url": self.get_api_url(person),
        }


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


class PersonSightingSerializer(serializers.Serializer):
    id = serializers.IntegerField(
        help_text="The sighting's id: what `POST /api/people/{id}/split/` takes in `sightings`."
    )
    source = serializers.CharField(source="source.name", help_text="The source's name.")
    source_id = serializers.IntegerField()
    name = serializers.CharField(help_text="The name as the source wrote it.")
    title = serializers.CharField()
    affiliation = serializers.CharField()
    present = serializers.BooleanField(help_text="Listed by the source's latest fetch.")
    first_seen = serializers.DateTimeField(source="first_seen_at")
    last_seen = serializers.DateTimeField(source="seen_at")


class PersonSignatureSerializer(serializers.ModelSerializer):
    letter = LetterRefSerializer()
    first_seen = serializers.DateTimeField(source="first_seen_at")
    last_seen = serializers.DateTimeField(source="seen_at")
    # Present only when the selector read them (for staff): absent, not empty, otherwise.
    sightings = PersonSightingSerializer(
        many=True,
        source="sightings_shown",
        required=False,
        help_text="Staff only: each entry of a source behind this signature, with the id "
        "to choose it by when splitting the person.",
    )

    class Meta:
        model = Signature
        fields = [
            "id",
            "letter",
            "status",
            "title",
            "affiliation",
            "first_seen",
            "last_seen",
            "sightings",
        ]


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

    def to_representation(self, person: Person) -> dict:
        return serializers.ModelSerializer.to_representation(self, person)

    @extend_schema_field(PersonNameSerializer(many=True))
    def get_names(self, person: Person) -> list[dict]:
        return PersonNameSerializer(person_names_by_spelling(person), many=True).data


def person_page_data(page: PersonPage, request: Any) -> dict:
    """``PersonDetailSerializer``'s answer for a public ``person_page``, built
    straight from its rows: same keys, same values, in the same order."""
    (pk, name, sort_name, external_ids, given, middle, family, honorific, suffix, _) = page.person
    spellings: dict[str, dict] = {}
    for spelling, first_seen, source_id, source_name, letter_slug in page.names:
        entry = spellings.get(spelling)
        if entry is None:
            entry = spellings[spelling] = {
                "name": spelling,
                "first_seen": first_seen,
                "sources": [],
            }
        entry["first_seen"] = min(entry["first_seen"], first_seen)
        if source_id is not None:
            entry["sources"].append({"id": source_id, "name": source_name, "letter": letter_slug})
    for entry in spellings.values():
        entry["first_seen"] = iso_datetime(entry["first_seen"])
    return {
        "id": pk,
        "name": name,
        "sort_name": sort_name,
        "external_ids": external_ids,
        "api_url": detail_url(request, "person-detail", pk),
        "given_name": given,
        "middle_name": middle,
        "family_name": family,
        "honorific": honorific,
        "suffix": suffix,
        "names": list(spellings.values()),
        "affiliations": [
            {
                "organization": {"id": org_id, "slug": org_slug, "name": org_name},
                "role": role,
                "start_date": None if start is None else start.isoformat(),
                "end_date": None if end is None else end.isoformat(),
                "source": source_name,
                "evidence_url": evidence_url,
            }
            for (org_id, org_slug, org_name, role, start, end, source_name, evidence_url) in (
                page.affiliations
            )
        ],
        "signatures": [
            {
                "id": signature_id,
                "letter": {"slug": slug, "title": letter_title},
                "status": status,
                "title": title,
                "affiliation": affiliation,
                "first_seen": iso_datetime(first_seen),
                "last_seen": iso_datetime(last_seen),
            }
            for (
                signature_id,
                slug,
                letter_title,
                status,
                title,
                affiliation,
                first_seen,
                last_seen,
            ) in (page.signatures)
        ],
    }


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


# --- Merges and splits --------------------------------------------------------


class PersonLinkSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    api_url = serializers.URLField(
        help_text="The person's address; a record merged since answers 301 to its survivor."
    )


def person_link(request, pk: int, name: str) -> dict:
    url = request.build_absolute_uri(detail_path("person-detail", pk))
    return {"id": pk, "name": name, "api_url": url}


# What a merge and a split answer alike: who undid it, its address, and each
# person by the name it showed then (``person_then``). A subclass names its
# ``detail_route``. (No docstring: the schema would take it for the subclasses'.)
class UndoableRecordSerializer(serializers.ModelSerializer):
    undone_by = serializers.CharField(source="undone_by.username", allow_null=True, default=None)
    api_url = serializers.SerializerMethodField()
    detail_route: str

    def person_then(self, record, role: str) -> dict:
        """The person ``role`` names, by the name recorded then."""
        pk, name = getattr(record, f"{role}_id"), getattr(record, f"{role}_name")
        return person_link(self.context["request"], pk, name)

    def get_api_url(self, record) -> str:
        url = reverse(self.detail_route, args=[record.pk])
        return self.context["request"].build_absolute_uri(url)


class MergeSerializer(UndoableRecordSerializer):
    survivor = serializers.SerializerMethodField(
        help_text="The person kept, by the name it showed when merged."
    )
    merged = serializers.SerializerMethodField(
        help_text="The person folded into the survivor, by the name it showed when merged."
    )
    by = serializers.CharField(
        source="by.username",
        allow_null=True,
        default=None,
        help_text="Who merged; null for the duplicate finder's automatic merges.",
    )
    detail_route = "merge-detail"

    class Meta:
        model = Merge
        fields = [
            "id",
            "survivor",
            "merged",
            "automatic",
            "reason",
            "by",
            "created_at",
            "undone_at",
            "undone_by",
            "undo_reason",
            "api_url",
        ]

    @extend_schema_field(PersonLinkSerializer)
    def get_survivor(self, merge: Merge) -> dict:
        return self.person_then(merge, "survivor")

    @extend_schema_field(PersonLinkSerializer)
    def get_merged(self, merge: Merge) -> dict:
        return self.person_then(merge, "merged")


class MergeUndoDetailSerializer(serializers.Serializer):
    people = serializers.ListField(
        child=serializers.IntegerField(), help_text="The records taken back out."
    )
    kept_in = serializers.ListField(
        child=serializers.IntegerField(),
        help_text="The merges that kept the other records in with the survivor.",
    )


class MergeDetailSerializer(MergeSerializer):
    people = serializers.SerializerMethodField(
        help_text="The records that came in with this merge (the merged person and everyone "
        "merged into it before): what an undo can take back out, all or some. Empty once "
        "undone."
    )
    undo_detail = serializers.SerializerMethodField(
        help_text="After a partial undo: the records taken out, and the merges that kept the "
        "others in. Null otherwise."
    )

    class Meta(MergeSerializer.Meta):
        fields = [*MergeSerializer.Meta.fields, "people", "undo_detail"]

    @extend_schema_field(PersonLinkSerializer(many=True))
    def get_people(self, merge: Merge) -> list[dict]:
        request = self.context["request"]
        return [person_link(request, row["id"], row["name"]) for row in self.context["people"]]

    @extend_schema_field(MergeUndoDetailSerializer(allow_null=True))
    def get_undo_detail(self, merge: Merge) -> dict | None:
        return merge.undo_detail or None


class MergeUndoSerializer(serializers.Serializer):
    reason = serializers.CharField(max_length=5000, help_text="Why the merge was wrong.")
    people = serializers.ListField(
        child=serializers.IntegerField(min_value=1, max_value=2**63 - 1),
        required=False,
        allow_empty=False,
        max_length=1000,
        help_text="Only these records (ids among the merge's `people`) leave the survivor; "
        "the others stay. All of them when not given.",
    )


class SplitSerializer(UndoableRecordSerializer):
    person = serializers.SerializerMethodField(
        help_text="The person split, by the name it showed once split."
    )
    new_person = serializers.SerializerMethodField(
        help_text="The new person the chosen entries moved to."
    )
    sightings = serializers.SerializerMethodField(
        help_text="The ids of the sightings (entries) that moved to the new person."
    )
    by = serializers.CharField(source="by.username", allow_null=True, default=None)
    undo_merge = serializers.IntegerField(
        source="undo_merge_id",
        allow_null=True,
        help_text="Once undone: the merge that put the entries back (/api/merges/{id}/).",
    )
    detail_route = "split-detail"

    class Meta:
        model = Split
        fields = [
            "id",
            "person",
            "new_person",
            "sightings",
            "reason",
            "by",
            "created_at",
            "undone_at",
            "undone_by",
            "undo_reason",
            "undo_merge",
            "api_url",
        ]

    @extend_schema_field(PersonLinkSerializer)
    def get_person(self, split: Split) -> dict:
        return self.person_then(split, "person")

    @extend_schema_field(PersonLinkSerializer)
    def get_new_person(self, split: Split) -> dict:
        return self.person_then(split, "new_person")

    def get_sightings(self, split: Split) -> list[int]:
        moved = split.moved or {}
        if "entries" in moved:
            return moved["entries"]
        return sorted(record["id"] for record in moved.get("sightings", []))


class SplitRequestSerializer(serializers.Serializer):
    reason = serializers.CharField(
        max_length=5000, help_text="Why these entries are another person."
    )
    sightings = serializers.ListField(
        child=serializers.IntegerField(min_value=1, max_value=2**63 - 1),
        allow_empty=False,
        max_length=10000,
        help_text="Ids of this person's sightings (`signatures[].sightings[].id` of "
        "`GET /api/people/{id}/`, for staff) that belong to another person. At least one "
        "must stay.",
    )


class SplitUndoSerializer(serializers.Serializer):
    reason = serializers.CharField(max_length=5000, help_text="Why the split was wrong.")


# --- Runs of the duplicate finder ---------------------------------------------


class MatchRunSerializer(serializers.ModelSerializer):
    requested_by = serializers.CharField(
        source="requested_by.username",
        allow_null=True,
        default=None,
        help_text="Who asked for the run; null for scheduled runs and runs after a sync.",
    )
    duration = serializers.SerializerMethodField(help_text="Seconds, once the run has finished.")
    weights = serializers.SerializerMethodField(
        help_text="The weights the run scored with: `learned` true with the fitted "
        "parameters (`bits` per level, `m` and `u` per comparison, `seed`, the candidate "
        "and random pairs they came from; `from_run` when taken from an earlier run), or "
        "`learned` false with `why` (the weights set in the code)."
    )
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
            "weights",
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

    def get_weights(self, run: MatchRun) -> dict:
        return (run.details or {}).get("weights") or {"learned": False, "why": "not planned yet"}

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


# --- Journalists' questions ------------------------------------------------------


def named_person(request, pk: int, name: str) -> dict:
    url = request.build_absolute_uri(detail_path("person-detail", pk))
    return {"id": pk, "name": name, "api_url": url}


def signatory_rows(request, people: list, signatures: dict[int, list[dict]]) -> list[dict]:
    """People with their signatures (``signatures_of``), as the journalists'
    lists show them."""
    return [
        {
            "person": named_person(request, person.pk, person.display_name),
            "signatures": [
                {
                    **row,
                    "first_seen": iso_datetime(row["first_seen"]),
                    "last_seen": iso_datetime(row["last_seen"]),
                }
                for row in signatures.get(person.pk, [])
            ],
        }
        for person in people
    ]


class NamedPersonSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    api_url = serializers.URLField(help_text="The person's address.")


class SignedLetterSerializer(serializers.Serializer):
    id = serializers.IntegerField(help_text="The signature's id (/api/signatures/{id}/).")
    letter = serializers.CharField(help_text="The letter's slug.")
    status = serializers.CharField(help_text="The status as recorded.")
    public_status = serializers.CharField(
        help_text="The status to quote; `unlisted` when no source lists it any more."
    )
    first_seen = serializers.DateTimeField()
    last_seen = serializers.DateTimeField()


class SignatoryPersonSerializer(serializers.Serializer):
    person = NamedPersonSerializer()
    signatures = SignedLetterSerializer(many=True, help_text="The letters signed, oldest first.")


class LetterTitleSerializer(serializers.Serializer):
    slug = serializers.CharField()
    title = serializers.CharField()


class LetterCountSerializer(serializers.Serializer):
    letter = LetterTitleSerializer()
    people = serializers.IntegerField(help_text="How many of the people signed it.")


class SignatoriesPageSerializer(serializers.Serializer):
    count = serializers.IntegerField(help_text="People in the whole list.")
    next = serializers.URLField(allow_null=True)
    previous = serializers.URLField(allow_null=True)
    per_letter = LetterCountSerializer(
        many=True, help_text="For each letter, how many of these people signed it, most first."
    )
    results = SignatoryPersonSerializer(many=True)


class OverlapLetterSerializer(serializers.Serializer):
    letter = LetterTitleSerializer()
    shared = serializers.IntegerField(help_text="People who signed both letters.")
    jaccard = serializers.FloatField(
        help_text="Shared people over the people who signed either: 1 for the same list."
    )


class OverlapListSerializer(serializers.Serializer):
    count = serializers.IntegerField()
    results = OverlapLetterSerializer(many=True)


class SharedPeoplePageSerializer(serializers.Serializer):
    count = serializers.IntegerField(help_text="People who signed both letters.")
    next = serializers.URLField(allow_null=True)
    previous = serializers.URLField(allow_null=True)
    results = SignatoryPersonSerializer(many=True)


class TimelineLetterSerializer(serializers.Serializer):
    letter = LetterTitleSerializer()
    signature = serializers.IntegerField(help_text="The signature's id.")
    status = serializers.CharField()
    public_status = serializers.CharField()
    first_seen = serializers.DateTimeField(help_text="When a source first listed it.")
    last_seen = serializers.DateTimeField(help_text="When a source last listed it.")
    sources = serializers.ListField(
        child=serializers.CharField(), help_text="The sources that listed it, first first."
    )


class TimelineEventSerializer(serializers.Serializer):
    at = serializers.DateTimeField()
    kind = serializers.ChoiceField(
        choices=["listed", "gone", "back", "status_changed", "merged", "unmerged", "split"],
        help_text="`listed`: a source listed the person on the letter; `gone`: it dropped "
        "them; `back`: it listed them again; `status_changed`: an editor changed the "
        "signature's status; `merged`, `unmerged`, `split`: records of the person joined, "
        "separated again, or found to be two.",
    )
    letter = serializers.CharField(required=False, help_text="The letter's slug.")
    source = serializers.CharField(required=False, help_text="The source's name.")
    name = serializers.CharField(required=False, help_text="The name as the source wrote it.")
    before = serializers.CharField(required=False, help_text="The status before.")
    after = serializers.CharField(required=False, help_text="The status after.")
    reason = serializers.CharField(required=False)
    evidence_url = serializers.CharField(required=False)
    person = NamedPersonSerializer(required=False, help_text="The record merged or split.")
    into = NamedPersonSerializer(
        required=False, help_text="The record it was merged into, or split off as."
    )


class TimelineSerializer(serializers.Serializer):
    person = NamedPersonSerializer()
    letters = TimelineLetterSerializer(many=True, help_text="Every letter signed, oldest first.")
    events = TimelineEventSerializer(many=True, help_text="What happened, in time order.")
