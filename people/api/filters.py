"""Query parameters of the people, organization and duplicate lists."""

from __future__ import annotations

import django_filters
from django.db.models import QuerySet

from people import selectors
from people.models import MatchJudgement, Organization
from tracker.filters import FilterSet, IdFilter, IdOrSlugFilter

_SEARCH_HELP = (
    "Matches every name a source wrote for the person, ignoring case, accents and "
    "punctuation, and tolerating typos of a letter or two in each word: `cuaroon` finds "
    "Alfonso Cuarón, `stiler` Ben Stiller, `gylenhall` Maggie Gyllenhaal; the start of a "
    "word is enough (`cuar`); words of one or two letters must appear as written. Best "
    "matches first."
)


class PersonFilter(FilterSet):
    search = django_filters.CharFilter(max_length=200, help_text=_SEARCH_HELP)
    letter = django_filters.CharFilter(
        max_length=200, help_text="Only people who signed the letter with this slug."
    )
    organization = IdOrSlugFilter(
        help_text="Only people affiliated with the organization, or who signed in its "
        "name. Give its id or its slug (digits are read as an id); the organizations "
        "under it (a studio under its company), however deep, count as it. An unknown "
        "id or slug finds nobody.",
    )

    def filter_queryset(self, queryset: QuerySet) -> QuerySet:
        data = self.form.cleaned_data
        organization = data.get("organization")
        request = self.request
        return selectors.person_list(
            search=data.get("search") or "",
            letter_slug=data.get("letter") or "",
            organization_ids=None
            if organization is None
            else selectors.organization_and_below(organization),
            include_removed=bool(request and request.user.is_staff),
        )


class OrganizationFilter(FilterSet):
    search = django_filters.CharFilter(
        max_length=200,
        help_text="Name or alias, ignoring case and accents and tolerating typos (`ostp`).",
    )
    kind = django_filters.ChoiceFilter(choices=Organization.Kind.choices)
    country = django_filters.CharFilter(max_length=2, help_text="ISO 3166-1 alpha-2 code.")

    def filter_queryset(self, queryset: QuerySet) -> QuerySet:
        data = self.form.cleaned_data
        return selectors.organization_list(
            search=data.get("search") or "",
            kind=data.get("kind") or "",
            country=data.get("country") or "",
        )


class JudgementFilter(FilterSet):
    decision = django_filters.ChoiceFilter(
        choices=MatchJudgement.Decision.choices,
        empty_label=None,
        help_text="Pairs with this decision; pending (awaiting review) when not given.",
    )

    def filter_queryset(self, queryset: QuerySet) -> QuerySet:
        decision = self.form.cleaned_data.get("decision") or MatchJudgement.Decision.PENDING
        return selectors.judgement_list(decision=decision)


def _undone_filter(records: str) -> django_filters.BooleanFilter:
    return django_filters.BooleanFilter(
        help_text=f"true: only {records} undone since; false: only those standing."
    )


class UndoableRecordFilter(FilterSet):
    """Merges and splits, by person and whether undone. A subclass declares
    ``person`` and ``undone`` with its words and lists with its selector."""

    def select(self, *, person_id: int | None, undone: bool | None) -> QuerySet:
        raise NotImplementedError

    def filter_queryset(self, queryset: QuerySet) -> QuerySet:
        data = self.form.cleaned_data
        return self.select(person_id=data.get("person"), undone=data.get("undone"))


class MergeFilter(UndoableRecordFilter):
    person = IdFilter(help_text="Only merges with this person on either side.")
    undone = _undone_filter("merges")

    def select(self, *, person_id: int | None, undone: bool | None) -> QuerySet:
        return selectors.merge_list(person_id=person_id, undone=undone)


class SplitFilter(UndoableRecordFilter):
    person = IdFilter(help_text="Only splits of this person, or that made this person.")
    undone = _undone_filter("splits")

    def select(self, *, person_id: int | None, undone: bool | None) -> QuerySet:
        return selectors.split_list(person_id=person_id, undone=undone)
