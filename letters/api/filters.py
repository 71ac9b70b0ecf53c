"""Query parameters of the letter, signature, source and run lists."""

from __future__ import annotations

import django_filters
from django.db.models import QuerySet

from letters import selectors
from letters.models import Letter, LetterTarget, Signature, Source, SyncRun
from people.selectors import organization_and_below
from tracker.filters import FilterSet, IdFilter, IdOrSlugFilter, IsoDateTimeFilter

# An organization named by id or slug stands for itself and those under it.
_UNDER = (
    " Give its id or its slug (digits are read as an id); the organizations under it "
    "(a studio under its company), however deep, count as it. An unknown id or slug "
    "finds nothing."
)
_SEARCH_HELP = (
    "Signatories whose name (any spelling a source used) matches, ignoring case, "
    "accents and punctuation and tolerating typos of a letter or two in each word "
    "(`stiler` finds Ben Stiller); the start of a word is enough (`cuar`)."
)


class LetterFilter(FilterSet):
    search = django_filters.CharFilter(max_length=200, help_text="Words of the title or slug.")
    status = django_filters.ChoiceFilter(choices=Letter.Status.choices)
    language = django_filters.CharFilter(max_length=16)
    target = IdOrSlugFilter(help_text="Only letters sent to or about the organization." + _UNDER)
    target_role = django_filters.ChoiceFilter(
        choices=LetterTarget.Role.choices, help_text="With `target`: only in this role."
    )

    def filter_queryset(self, queryset: QuerySet) -> QuerySet:
        data = self.form.cleaned_data
        target = data.get("target")
        return selectors.letter_list(
            search=data.get("search") or "",
            status=data.get("status") or "",
            language=data.get("language") or "",
            target_ids=None if target is None else organization_and_below(target),
            target_role=data.get("target_role") or "",
        )


class SignatureFilter(FilterSet):
    status = django_filters.MultipleChoiceFilter(
        choices=Signature.Status.choices,
        distinct=False,
        help_text="Repeat for several: status=listed&status=verified.",
    )
    source = IdFilter(
        method="filter_source", help_text="Only signatures the source with this id lists."
    )
    organization = IdOrSlugFilter(
        method="filter_organization",
        help_text="Only signatures made in the organization's name (the affiliation "
        "stated, when it names the organization) or by people affiliated with it." + _UNDER,
    )
    search = django_filters.CharFilter(
        method="filter_search", max_length=200, help_text=_SEARCH_HELP
    )
    first_seen_after = IsoDateTimeFilter(
        field_name="first_seen_at",
        lookup_expr="gte",
        help_text="Only signatures first seen at or after this time (ISO 8601).",
    )
    first_seen_before = IsoDateTimeFilter(
        field_name="first_seen_at",
        lookup_expr="lte",
        help_text="Only signatures first seen at or before this time (ISO 8601).",
    )
    updated_after = IsoDateTimeFilter(
        field_name="updated_at",
        lookup_expr="gte",
        help_text="Only signatures changed since then (ISO 8601): added, their status or "
        "entries changed, dropped or listed again by a source; a source listing them again "
        "unchanged is no change. Each change itself is in /api/changes/.",
    )
    needs_review = django_filters.BooleanFilter()
    as_of = IsoDateTimeFilter(
        method="filter_as_of",
        help_text="The list as it stood then (ISO 8601, such as 2025-03-15T00:00:00Z): who "
        "a source listed at that moment, each with the status they had then (`status` and "
        "`public_status`). Exports as CSV too. Today's names and sightings are shown.",
    )

    class Meta:
        model = Signature
        fields: list[str] = []

    def filter_source(self, queryset: QuerySet, name: str, value: int) -> QuerySet:
        return selectors.signatures_with_source(queryset, value)

    def filter_organization(self, queryset: QuerySet, name: str, value: int | str) -> QuerySet:
        return selectors.signatures_with_organization(queryset, organization_and_below(value))

    def filter_search(self, queryset: QuerySet, name: str, value: str) -> QuerySet:
        return selectors.signatures_matching(queryset, value)

    def filter_as_of(self, queryset: QuerySet, name: str, value) -> QuerySet:
        return selectors.signatures_as_of(queryset, value)


class AllSignatureFilter(SignatureFilter):
    letter = django_filters.CharFilter(
        field_name="letter__slug", max_length=200, help_text="The letter's slug."
    )
    person = IdFilter(field_name="person_id", help_text="The person's id.")


class SourceFilter(FilterSet):
    letter = django_filters.CharFilter(max_length=200, help_text="The letter's slug.")
    kind = django_filters.ChoiceFilter(choices=Source.Kind.choices)
    enabled = django_filters.BooleanFilter()

    def filter_queryset(self, queryset: QuerySet) -> QuerySet:
        data = self.form.cleaned_data
        return selectors.source_list(
            letter_slug=data.get("letter") or "",
            kind=data.get("kind") or "",
            enabled=data.get("enabled"),
        )


class SyncRunFilter(FilterSet):
    source = IdFilter()
    letter = django_filters.CharFilter(max_length=200, help_text="The letter's slug.")
    outcome = django_filters.ChoiceFilter(choices=SyncRun.Outcome.choices)

    def filter_queryset(self, queryset: QuerySet) -> QuerySet:
        data = self.form.cleaned_data
        return selectors.sync_run_list(
            source_id=data.get("source"),
            letter_slug=data.get("letter") or "",
            outcome=data.get("outcome") or "",
        )
