"""Admin for people, organizations, and the record of duplicates judged and merged.

The pieces every admin of the project shares are in tracker.admin_kit; the
admins here search with the folding of people.matching.normalize.
"""

from __future__ import annotations

import itertools
from typing import Any
from urllib.parse import urlencode

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.db.models import Q
from django.http import HttpRequest, HttpResponse, HttpResponseNotAllowed, HttpResponseRedirect
from django.template.loader import render_to_string
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html

from letters.models import Signature
from people import selectors, services
from people.matching.normalize import fold
from people.merging import decisions, runs
from people.models import (
    Affiliation,
    MatchJudgement,
    MatchRun,
    Merge,
    Organization,
    Person,
    PersonName,
)
from tracker import admin_kit
from tracker.admin_kit import (
    MergedFilter,
    ServiceForm,
    ServiceInline,
    admin_link,
    changed_values,
    changelist_link,
    count_of,
    is_autocomplete,
    is_changelist,
    pretty_json,
)
from tracker.errors import DomainError

# --- The kit's admins, searching with the services' folding ----------------------


class ServiceAdmin(admin_kit.ServiceAdmin):
    search_fold = staticmethod(fold)


class ReadOnlyAdmin(admin_kit.ReadOnlyAdmin):
    search_fold = staticmethod(fold)


# --- Organizations -------------------------------------------------------------


class OrganizationForm(ServiceForm):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.instance._state.adding and "slug" in self.fields:
            self.fields["slug"].required = False
            self.fields["slug"].help_text = "Leave empty to make one from the name."


@admin.register(Organization)
class OrganizationAdmin(ServiceAdmin):
    form = OrganizationForm
    list_display = ["name", "kind", "country", "parent", "slug"]
    list_filter = ["kind", "country"]
    list_select_related = ["parent"]
    search_fields = ["search_text__contains"]
    autocomplete_fields = ["parent"]
    fieldsets = [
        (None, {"fields": ["name", "slug", "kind", "country", "parent"]}),
        ("Other names and identifiers", {"fields": ["aliases", "external_ids", "url"]}),
        (None, {"fields": ["description"]}),
        ("Record", {"fields": ["created_at", "updated_at"], "classes": ["collapse"]}),
    ]
    readonly_fields = ["created_at", "updated_at"]

    def create(self, request, form):
        values = {name: form.cleaned_data[name] for name in services.ORGANIZATION_FIELDS}
        values["slug"] = values["slug"] or ""
        return services.organization_create(**values)

    def update(self, request, obj, form):
        values = changed_values(form, services.ORGANIZATION_FIELDS)
        if not values:
            return obj
        return services.organization_update(organization=obj, **values)


# --- People --------------------------------------------------------------------


class PersonAddForm(ServiceForm):
    name = forms.CharField(
        max_length=300,
        help_text="As usually written, such as “Alfonso Cuarón” or “McCartney, Sir Paul”.",
    )

    class Meta:
        model = Person
        fields = ["external_ids", "notes"]


class PersonNameInline(ServiceInline):
    """Names may be added by hand; names seen in sources are their record."""

    model = PersonName
    fields = ["name", "source", "first_seen_at"]
    readonly_fields = ["source", "first_seen_at"]
    verbose_name_plural = "names seen"

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("source", "source__letter")

    def has_change_permission(self, request, obj=None):
        return False

    def add_row(self, request, parent, form):
        return services.person_add_name(person=parent, name=form.cleaned_data["name"])


_AFFILIATION_FIELDS = ["organization", "role", "start_date", "end_date", "source", "evidence_url"]


class AffiliationInline(ServiceInline):
    model = Affiliation
    fields = _AFFILIATION_FIELDS
    autocomplete_fields = ["organization", "source"]

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("organization", "source")

    def add_row(self, request, parent, form):
        values = {name: form.cleaned_data.get(name) for name in _AFFILIATION_FIELDS}
        values["role"] = values["role"] or ""
        values["evidence_url"] = values["evidence_url"] or ""
        return services.affiliation_create(person=parent, **values)

    def change_row(self, request, obj, form):
        return services.affiliation_update(
            affiliation=obj, **changed_values(form, set(_AFFILIATION_FIELDS))
        )


_PERSON_FIELDS = {
    "display_name",
    "sort_name",
    "given_name",
    "middle_name",
    "family_name",
    "honorific",
    "suffix",
    "external_ids",
    "notes",
}


@admin.register(Person)
class PersonAdmin(ServiceAdmin):
    list_display = ["display_name", "sort_name", "letters_signed", "merged_into_link", "created_at"]
    list_filter = [MergedFilter]
    list_select_related = ["merged_into"]
    search_fields = ["search_text__contains"]
    show_full_result_count = False
    fieldsets = [
        (
            None,
            {
                "fields": [
                    "display_name",
                    "sort_name",
                    ("honorific", "given_name", "middle_name", "family_name", "suffix"),
                ]
            },
        ),
        (None, {"fields": ["external_ids", "notes"]}),
        (
            "Record",
            {
                "fields": [
                    "signatures_link",
                    "duplicates_link",
                    "merged_into_link",
                    "merged_at",
                    "name_key",
                    "created_at",
                    "updated_at",
                ]
            },
        ),
    ]
    readonly_fields = [
        "signatures_link",
        "duplicates_link",
        "merged_into_link",
        "merged_at",
        "name_key",
        "created_at",
        "updated_at",
    ]
    add_form = PersonAddForm
    add_fieldsets = [(None, {"fields": ["name", "notes", "external_ids"]})]
    inlines = [PersonNameInline, AffiliationInline]

    def get_queryset(self, request):
        queryset = super().get_queryset(request)
        if is_changelist(request):
            queryset = queryset.annotate(
                letters_signed=count_of(Signature, "person", merged_into__isnull=True)
            )
        return queryset

    def get_search_results(self, request, queryset, search_term):
        queryset, may_have_duplicates = super().get_search_results(request, queryset, search_term)
        if is_autocomplete(request):
            # New facts attach to the record that stands for the person now.
            queryset = queryset.filter(merged_into__isnull=True)
        return queryset, may_have_duplicates

    def has_change_permission(self, request, obj=None):
        # A merged record is history; its survivor is the one to edit.
        if obj is not None and obj.merged_into_id:
            return False
        return super().has_change_permission(request, obj)

    @admin.display(description="letters signed", ordering="letters_signed")
    def letters_signed(self, person):
        return changelist_link(Signature, person.letters_signed, person__id__exact=person.pk)

    @admin.display(description="merged into", ordering="merged_into")
    def merged_into_link(self, person):
        return admin_link(person.merged_into) if person.merged_into_id else "-"

    @admin.display(description="signatures")
    def signatures_link(self, person):
        if person.pk is None:
            return "-"
        count = person.signatures.filter(merged_into__isnull=True).count()
        return changelist_link(Signature, f"{count} signature(s)", person__id__exact=person.pk)

    @admin.display(description="suspected duplicates")
    def duplicates_link(self, person):
        if person.pk is None:
            return "-"
        count = MatchJudgement.objects.filter(
            Q(person_a=person) | Q(person_b=person), decision=MatchJudgement.Decision.PENDING
        ).count()
        if not count:
            return "None pending"
        url = reverse("admin:people_matchjudgement_review")
        return format_html(
            '<a href="{}?{}">{} pair(s) to review</a>', url, urlencode({"person": person.pk}), count
        )

    def create(self, request, form):
        data = form.cleaned_data
        return services.person_create(
            name=data["name"], external_ids=data.get("external_ids"), notes=data.get("notes", "")
        )

    def update(self, request, obj, form):
        values = changed_values(form, _PERSON_FIELDS)
        if not values:
            return obj
        return services.person_update(person=obj, **values)


@admin.register(PersonName)
class PersonNameAdmin(ServiceAdmin):
    list_display = ["name", "person_link", "source", "first_seen_at"]
    list_select_related = ["person", "source", "source__letter"]
    search_fields = ["person__search_text__contains", "name"]
    show_full_result_count = False
    autocomplete_fields = ["person"]
    fields = ["person", "name", "name_key", "source", "first_seen_at"]
    readonly_fields = ["name_key", "source", "first_seen_at"]
    add_fieldsets = [(None, {"fields": ["person", "name"]})]

    @admin.display(description="person", ordering="person__sort_name")
    def person_link(self, person_name):
        return admin_link(person_name.person)

    def has_change_permission(self, request, obj=None):
        # A name seen is a record of what was written; add the right one instead.
        return obj is None and super().has_change_permission(request, obj)

    def create(self, request, form):
        return services.person_add_name(
            person=form.cleaned_data["person"], name=form.cleaned_data["name"]
        )


@admin.register(Affiliation)
class AffiliationAdmin(ServiceAdmin):
    list_display = [
        "person_link",
        "organization_link",
        "role",
        "start_date",
        "end_date",
        "source",
    ]
    list_filter = ["organization__kind"]
    list_select_related = ["person", "organization", "source", "source__letter"]
    search_fields = [
        "person__search_text__contains",
        "organization__search_text__contains",
        "role",
    ]
    autocomplete_fields = ["person", "organization", "source"]
    fields = ["person", *_AFFILIATION_FIELDS, "created_at"]
    readonly_fields = ["person", "created_at"]
    add_fieldsets = [(None, {"fields": ["person", *_AFFILIATION_FIELDS]})]
    add_readonly_fields = ()

    @admin.display(description="person", ordering="person__sort_name")
    def person_link(self, affiliation):
        return admin_link(affiliation.person)

    @admin.display(description="organization", ordering="organization__name")
    def organization_link(self, affiliation):
        return admin_link(affiliation.organization)

    def create(self, request, form):
        values = {name: form.cleaned_data.get(name) for name in _AFFILIATION_FIELDS}
        values["role"] = values["role"] or ""
        values["evidence_url"] = values["evidence_url"] or ""
        return services.affiliation_create(person=form.cleaned_data["person"], **values)

    def update(self, request, obj, form):
        values = changed_values(form, set(_AFFILIATION_FIELDS))
        if not values:
            return obj
        return services.affiliation_update(affiliation=obj, **values)


# --- Matching: runs, judgements, merges ----------------------------------------------


@admin.register(MatchRun)
class MatchRunAdmin(ReadOnlyAdmin):
    """Runs are viewed only; the list has buttons to request one.

    Requesting a run needs ``people.add_matchrun`` (it records a run), the same
    permission the API asks for ``POST /api/match-runs/``.
    """

    change_list_template = "admin/people/matchrun/change_list.html"
    list_display = [
        "id",
        "mode",
        "status",
        "started_at",
        "duration",
        "people_considered",
        "pairs_scored",
        "merged",
        "queued",
        "blocked_by_judgements",
        "requested_by",
    ]
    list_filter = ["mode", "status"]
    list_select_related = ["requested_by"]
    date_hierarchy = "started_at"
    fields = [
        "mode",
        "status",
        "requested_by",
        "started_at",
        "finished_at",
        "duration",
        "people_considered",
        "blocks",
        "pairs_scored",
        "merged",
        "queued",
        "blocked_by_judgements",
        "error",
        "judgements_link",
    ]

    @admin.display(description="duration")
    def duration(self, run):
        return run.duration or "-"

    @admin.display(description="judgements")
    def judgements_link(self, run):
        return changelist_link(MatchJudgement, "Judgements of this run", run__id__exact=run.pk)

    def get_urls(self):
        return [
            path(
                "request/",
                self.admin_site.admin_view(self.request_view),
                name="people_matchrun_request",
            ),
            *super().get_urls(),
        ]

    def has_request_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("people.add_matchrun")

    def changelist_view(self, request, extra_context=None):
        extra_context = {
            **(extra_context or {}),
            "can_request_run": self.has_request_permission(request),
        }
        return super().changelist_view(request, extra_context)

    def request_view(self, request: HttpRequest) -> HttpResponse:
        """Run the duplicate finder: on everyone, or on the people changed since
        the last run."""
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        if not self.has_request_permission(request):
            raise PermissionDenied
        changelist = reverse("admin:people_matchrun_changelist")
        mode = request.POST.get("mode")
        if mode not in MatchRun.Mode.values:
            self.message_user(request, "Choose a full or an incremental run.", messages.ERROR)
            return HttpResponseRedirect(changelist)
        full = mode == MatchRun.Mode.FULL
        people = () if full else runs.people_since_last_run()
        run = runs.match_request(full=full, by=request.user, person_ids=people)
        if run.status == MatchRun.Status.SKIPPED:
            going = MatchRun.objects.filter(status=MatchRun.Status.RUNNING).first()
            self.message_user(
                request,
                f"Not started: {f'run {going.pk}' if going else 'another run'} is still "
                f"going on. The request is kept as skipped run {run.pk}.",
                messages.WARNING,
            )
        elif full:
            self.message_user(
                request, f"Queued full run {run.pk} of the duplicate finder.", messages.SUCCESS
            )
        else:
            self.message_user(
                request,
                f"Queued incremental run {run.pk} on {len(run.focus)} person(s) added or "
                "changed since the last run.",
                messages.SUCCESS,
            )
        return HttpResponseRedirect(changelist)


_DECISIONS = [
    ("", "---------"),
    (MatchJudgement.Decision.SAME, MatchJudgement.Decision.SAME.label),
    (MatchJudgement.Decision.DIFFERENT, MatchJudgement.Decision.DIFFERENT.label),
    (MatchJudgement.Decision.UNSURE, MatchJudgement.Decision.UNSURE.label),
]


class JudgementForm(ServiceForm):
    decision = forms.ChoiceField(
        choices=_DECISIONS,
        help_text="“Same person” merges the two records; “Different people” keeps any "
        "automatic run from merging them.",
    )

    class Meta:
        model = MatchJudgement
        fields = ["decision", "reason"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # A pending pair starts with no choice, so that saving without choosing
        # never decides it by accident.
        if self.instance.decision == MatchJudgement.Decision.PENDING:
            self.initial["decision"] = ""


# --- Reading a pair: the two records side by side, and why they were paired ------------

# How each level of a feature reads (people/matching/scoring.py ``explain``).
_FINDINGS = {
    ("family name", "exact"): "the same",
    ("family name", "part"): "one is part of the other",
    ("family name", "typo"): "a typo apart",
    ("family name", "phonetic"): "sound alike",
    ("family name", "close"): "close, not the same",
    ("family name", "different"): "different",
    ("given name", "exact"): "the same",
    ("given name", "nickname"): "a nickname of the other",
    ("given name", "initial"): "an initial that fits",
    ("given name", "typo"): "a typo apart",
    ("given name", "close"): "close, not the same",
    ("given name", "different"): "different",
    ("middle name", "agree"): "initials agree",
    ("middle name", "conflict"): "initials differ",
    ("organisation", "agree"): "an organisation in common",
    ("organisation", "similar"): "organisations with similar names",
    ("organisation", "disagree"): "different organisations",
    ("field", "agree"): "titles or roles in one field",
    ("field", "disagree"): "titles or roles in different fields",
    ("name order", "swapped"): "given and family names written the other way round",
    ("letters", "signed together"): "a letter in common, listed by different sources",
    ("sources", "both on one source's list"): "both on one source's list of one letter",
}


def explanation_table(explanation: Any) -> dict:
    """The stored explanation as rows an editor reads: each feature, what was
    found, its weight in bits, whether it counts for or against; and the total."""
    explanation = explanation if isinstance(explanation, dict) else {}
    rows = []
    for key, agreed in (("agreed", True), ("disagreed", False)):
        for item in explanation.get(key) or []:
            if isinstance(item, dict):
                feature = str(item.get("feature", ""))
                level = str(item.get("level", ""))
                weight = item.get("weight")
            else:  # older explanations were plain phrases
                feature, level, weight = str(item), "", None
            rows.append(
                {
                    "feature": feature,
                    "finding": _FINDINGS.get((feature, level), level),
                    "weight": weight if isinstance(weight, int | float) else None,
                    "agreed": agreed,
                }
            )
    thresholds = explanation.get("thresholds")
    return {
        "rows": rows,
        "bits": explanation.get("bits"),
        "probability": explanation.get("probability"),
        "thresholds": thresholds if isinstance(thresholds, dict) else {},
    }


def person_side(person: Person) -> dict:
    """One record of a pair as the review shows it; ``person`` comes through
    ``selectors.people_for_review``."""
    return {
        "person": person,
        "names": selectors.person_names_by_spelling(person),
        "affiliations": list(person.affiliations.all()),
        "signatures": person.signatures_shown,
    }


def pair_context(judgement: MatchJudgement) -> dict:
    return {
        "judgement": judgement,
        "sides": [person_side(judgement.person_a), person_side(judgement.person_b)],
        "explanation": explanation_table(judgement.explanation),
    }


class ReviewDecisionForm(forms.Form):
    judgement = forms.IntegerField(min_value=1)
    decision = forms.ChoiceField(
        choices=[
            (MatchJudgement.Decision.SAME, MatchJudgement.Decision.SAME.label),
            (MatchJudgement.Decision.DIFFERENT, MatchJudgement.Decision.DIFFERENT.label),
            (MatchJudgement.Decision.UNSURE, MatchJudgement.Decision.UNSURE.label),
        ]
    )
    reason = forms.CharField(required=False, max_length=5000)
    following = forms.IntegerField(required=False, min_value=1)
    page = forms.IntegerField(required=False, min_value=1)
    person = forms.IntegerField(required=False, min_value=1)


REVIEW_PAGE_SIZE = 10


@admin.register(MatchJudgement)
class MatchJudgementAdmin(ServiceAdmin):
    form = JudgementForm
    change_list_template = "admin/people/matchjudgement/change_list.html"
    list_display = [
        "__str__",
        "person_a_link",
        "person_b_link",
        "score",
        "decision",
        "automatic",
        "decided_by",
        "decided_at",
    ]
    list_filter = ["decision", "automatic"]
    list_select_related = ["person_a", "person_b", "decided_by"]
    search_fields = ["person_a__search_text__contains", "person_b__search_text__contains"]
    date_hierarchy = "created_at"
    fieldsets = [
        (None, {"fields": ["comparison"]}),
        ("Decision", {"fields": ["decision", "reason"]}),
        (
            "Record",
            {
                "fields": [
                    "person_a_link",
                    "person_b_link",
                    "score",
                    "automatic",
                    "decided_by",
                    "decided_at",
                    "run",
                    "created_at",
                    "updated_at",
                    "explanation_pretty",
                ],
                "classes": ["collapse"],
            },
        ),
    ]
    readonly_fields = [
        "comparison",
        "person_a_link",
        "person_b_link",
        "score",
        "explanation_pretty",
        "automatic",
        "decided_by",
        "decided_at",
        "run",
        "created_at",
        "updated_at",
    ]

    @admin.display(description="person A", ordering="person_a__sort_name")
    def person_a_link(self, judgement):
        return admin_link(judgement.person_a)

    @admin.display(description="person B", ordering="person_b__sort_name")
    def person_b_link(self, judgement):
        return admin_link(judgement.person_b)

    @admin.display(description="explanation as stored")
    def explanation_pretty(self, judgement):
        return pretty_json(judgement.explanation)

    @admin.display(description="the two records")
    def comparison(self, judgement):
        if judgement.pk is None:
            return "-"
        selectors.people_for_review([judgement.person_a, judgement.person_b])
        return render_to_string("admin/people/matchjudgement/pair.html", pair_context(judgement))

    def has_add_permission(self, request):
        return False

    def update(self, request, obj, form):
        if not form.changed_data:
            return obj
        return decisions.judgement_decide(
            judgement=obj,
            decision=form.cleaned_data["decision"],
            reason=form.cleaned_data["reason"],
            by=request.user,
            replaces=form.initial.get("decision") or MatchJudgement.Decision.PENDING,
        )

    # --- The review queue ------------------------------------------------------------

    def get_urls(self):
        return [
            path(
                "review/",
                self.admin_site.admin_view(self.review_view),
                name="people_matchjudgement_review",
            ),
            *super().get_urls(),
        ]

    def review_view(self, request: HttpRequest) -> HttpResponse:
        """Pending pairs, best score and most signatures first, each with both
        records side by side and the three decisions."""
        if not self.has_change_permission(request):
            raise PermissionDenied
        if request.method == "POST":
            return self._review_decide(request)
        if request.method != "GET":
            return HttpResponseNotAllowed(["GET", "POST"])
        person_id = _positive_int(request.GET.get("person"))
        paginator = Paginator(selectors.review_queue(person_id=person_id), REVIEW_PAGE_SIZE)
        page = paginator.get_page(request.GET.get("page"))
        pairs = list(page.object_list)
        selectors.people_for_review(
            [person for pair in pairs for person in (pair.person_a, pair.person_b)]
        )
        context = {
            **self.admin_site.each_context(request),
            "title": "Review suspected duplicates",
            "opts": self.opts,
            "page": page,
            "paginator": paginator,
            "person_id": person_id,
            "pairs": [
                # "following": where the page goes back to once this pair is decided.
                {**pair_context(pair), "following": following.pk if following else None}
                for pair, following in itertools.zip_longest(pairs, pairs[1:])
            ],
        }
        return TemplateResponse(request, "admin/people/matchjudgement/review.html", context)

    def _review_decide(self, request: HttpRequest) -> HttpResponse:
        form = ReviewDecisionForm(request.POST)
        if not form.is_valid():
            for field, errors in form.errors.items():
                for error in errors:
                    self.message_user(request, f"{field}: {error}", messages.ERROR)
            return HttpResponseRedirect(reverse("admin:people_matchjudgement_review"))
        data = form.cleaned_data
        judgement = (
            MatchJudgement.objects.select_related("person_a", "person_b", "decided_by")
            .filter(pk=data["judgement"])
            .first()
        )
        if judgement is None:
            self.message_user(request, f"There is no pair #{data['judgement']}.", messages.ERROR)
        elif judgement.decision != MatchJudgement.Decision.PENDING:
            self.message_user(
                request,
                f"{judgement.person_a} / {judgement.person_b} was decided meanwhile "
                f"({judgement.get_decision_display()}"
                + (f", by {judgement.decided_by}" if judgement.decided_by else "")
                + "); change it on its own page if needed.",
                messages.WARNING,
            )
        else:
            try:
                decisions.judgement_decide(
                    judgement=judgement,
                    decision=data["decision"],
                    reason=data["reason"],
                    by=request.user,
                    replaces=MatchJudgement.Decision.PENDING,
                )
            except DomainError as error:
                self.message_user(
                    request,
                    f"{judgement.person_a} / {judgement.person_b} not decided: {error.message}",
                    messages.ERROR,
                )
                data["following"] = judgement.pk
            else:
                done = {
                    MatchJudgement.Decision.SAME: "are one person now: merged",
                    MatchJudgement.Decision.DIFFERENT: "are kept apart for good",
                    MatchJudgement.Decision.UNSURE: "are marked unsure",
                }[data["decision"]]
                self.message_user(
                    request,
                    f"{judgement.person_a} and {judgement.person_b} {done}.",
                    messages.SUCCESS,
                )
        query = {key: data[key] for key in ("page", "person") if data.get(key)}
        url = reverse("admin:people_matchjudgement_review")
        if query:
            url += "?" + urlencode(query)
        if data.get("following"):
            url += f"#pair-{data['following']}"
        return HttpResponseRedirect(url)


def _positive_int(value: str | None) -> int | None:
    return int(value) if value and value.isdigit() and 0 < int(value) < 2**63 else None


@admin.register(Merge)
class MergeAdmin(ReadOnlyAdmin):
    list_display = [
        "__str__",
        "merged_link",
        "survivor_link",
        "automatic",
        "by",
        "created_at",
        "undone_at",
    ]
    list_filter = ["automatic", ("undone_at", admin.EmptyFieldListFilter)]
    list_select_related = ["survivor", "merged", "by"]
    search_fields = ["survivor__search_text__contains", "merged__search_text__contains"]
    date_hierarchy = "created_at"
    fields = [
        "merged_link",
        "survivor_link",
        "judgement",
        "run",
        "automatic",
        "by",
        "reason",
        "created_at",
        "moved_pretty",
        "undone_at",
        "undone_by",
        "undo_reason",
    ]

    @admin.display(description="merged", ordering="merged__sort_name")
    def merged_link(self, merge):
        return admin_link(merge.merged)

    @admin.display(description="survivor", ordering="survivor__sort_name")
    def survivor_link(self, merge):
        return admin_link(merge.survivor)

    @admin.display(description="what moved")
    def moved_pretty(self, merge):
        return pretty_json(merge.moved)
