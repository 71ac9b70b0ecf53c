"""Admin for people, organizations, and the record of duplicates judged and merged.

The pieces every admin of the project shares are in tracker.admin_kit; the
admins here search with the folding of people.matching.normalize.
"""

from __future__ import annotations

import itertools
import re
from typing import Any
from urllib.parse import urlencode

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.db.models import Q
from django.http import HttpRequest, HttpResponse, HttpResponseNotAllowed, HttpResponseRedirect
from django.template.loader import render_to_string
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import escape, format_html, format_html_join
from django.utils.safestring import SafeString, mark_safe

from letters.models import Sighting, Signature
from people import selectors, services
from people.matching.normalize import fold
from people.matching.scoring import DEFAULT_WEIGHTS
from people.merging import decisions, runs
from people.merging.split import person_split, split_undo
from people.merging.undo import merge_people, merge_undo
from people.models import (
    Affiliation,
    MatchJudgement,
    MatchRun,
    Merge,
    Organization,
    Person,
    PersonName,
    PersonRename,
    Split,
)
from tracker import admin_kit
from tracker.admin_kit import (
    MergedFilter,
    ReadOnlyInline,
    ServiceForm,
    ServiceInline,
    admin_link,
    changed_values,
    changelist_link,
    count_of,
    human_duration,
    is_autocomplete,
    is_changelist,
    pretty_json,
    score_text,
    short_time,
)
from tracker.errors import DomainError

# --- The kit's admins, searching with the services' folding ----------------------


class ServiceAdmin(admin_kit.ServiceAdmin):
    search_fold = staticmethod(fold)


class ReadOnlyAdmin(admin_kit.ReadOnlyAdmin):
    search_fold = staticmethod(fold)


def typo_tolerant_search(queryset, text: str):
    """The API's search of people and organizations (case, accents and typos
    forgiven, best first), for the admin's lists and autocomplete widgets."""
    return selectors.queryset_search(queryset, text)


SEARCH_HELP = (
    "Case, accents and typos are forgiven: “cuaron” finds “Cuarón”, “stiler” finds "
    "“Stiller”. Best matches first. Search before adding, so as not to add someone twice."
)

# --- Undoing and splitting: forms, links in messages, the "undone" filter ------------

# "merge #12", "Split #3": the records a message names, linked to their pages.
_RECORD_REFERENCE = re.compile(r"\b(merge|split) #(\d{1,18})\b", re.IGNORECASE)


def linked(message: str) -> SafeString:
    """``message`` escaped, with each merge or split it names linked to its
    admin page, where it can be undone."""
    parts, last = [], 0
    for found in _RECORD_REFERENCE.finditer(message):
        kind = found.group(1).lower()
        url = reverse(f"admin:people_{kind}_change", args=[int(found.group(2))])
        parts.append(escape(message[last : found.start()]))
        parts.append(format_html('<a href="{}">{}</a>', url, found.group(0)))
        last = found.end()
    parts.append(escape(message[last:]))
    return mark_safe("".join(parts))  # noqa: S308 - every part is escaped above


def link_to_person(pk: int, name: str) -> str:
    """A link to a person's page by id, with the name given (such as the name
    they had when a merge or split was recorded): no query."""
    url = reverse("admin:people_person_change", args=[pk])
    return format_html('<a href="{}">{}</a> (#{})', url, name or f"#{pk}", pk)


def person_then_and_now(record: Merge | Split, role: str) -> str:
    """The person of a merge or split (``role`` names the field) by the name
    recorded then, and the name shown now when the page loaded them and it differs."""
    pk, then = getattr(record, f"{role}_id"), getattr(record, f"{role}_name")
    link = link_to_person(pk, then)
    if type(record)._meta.get_field(role).is_cached(record):
        now = getattr(record, role).display_name
        if now != then:
            return format_html("{}, now shown as {}", link, now)
    return link


def people_list(people: list[Person]) -> str:
    """“A (#1), B (#2) and C (#3)”, each linked."""
    links = [link_to_person(person.pk, person.display_name) for person in people]
    if len(links) < 2:
        return mark_safe("".join(links))  # noqa: S308 - the links are escaped
    return format_html("{} and {}", mark_safe(", ".join(links[:-1])), links[-1])  # noqa: S308


class IdsField(forms.Field):
    """The ids ticked in a list of checkboxes, as a sorted list of ints."""

    widget = forms.MultipleHiddenInput

    def to_python(self, value: Any) -> list[int]:
        if not value:
            return []
        values = value if isinstance(value, list | tuple) else [value]
        ids = set()
        for item in values:
            pk = _positive_int(str(item))
            if pk is None:
                raise forms.ValidationError(f"{item!r} is not the id of a record.", code="invalid")
            ids.add(pk)
        return sorted(ids)


class MergeUndoForm(forms.Form):
    reason = forms.CharField(
        max_length=5000, error_messages={"required": "Say why this merge is undone."}
    )
    people = IdsField(error_messages={"required": "Choose at least one record to take back out."})


class SplitForm(forms.Form):
    reason = forms.CharField(
        max_length=5000, error_messages={"required": "Say why these entries are another person."}
    )
    sightings = IdsField(
        error_messages={"required": "Choose the entries that belong to the other person."}
    )


class SplitUndoForm(forms.Form):
    reason = forms.CharField(
        max_length=5000, error_messages={"required": "Say why this split is undone."}
    )


def form_refused(model_admin: admin.ModelAdmin, request: HttpRequest, form, what: str) -> None:
    """Each error of an invalid form as an error message: “Not undone: say why.”"""
    for errors in form.errors.values():
        for error in errors:
            model_admin.message_user(request, f"{what}: {error}", messages.ERROR)


class UndoneFilter(admin.SimpleListFilter):
    """Merges and splits in force, or undone."""

    title = "undone"
    parameter_name = "undone"

    def lookups(self, request, model_admin):
        return [("no", "No: in force"), ("yes", "Yes")]

    def queryset(self, request, queryset):
        if self.value() in ("no", "yes"):
            return queryset.filter(undone_at__isnull=self.value() == "no")
        return queryset


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
    search_queryset = staticmethod(typo_tolerant_search)
    search_help_text = SEARCH_HELP
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


class PersonRenameInline(ReadOnlyInline):
    """Each change of the name the person is shown by, and why."""

    model = PersonRename
    fields = ["created_at", "before", "after", "cause", "by"]
    verbose_name = "name shown before"
    verbose_name_plural = "names shown before"

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("by")


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
    search_queryset = staticmethod(typo_tolerant_search)
    search_help_text = SEARCH_HELP
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
                    "merge_record",
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
        "merge_record",
        "name_key",
        "created_at",
        "updated_at",
    ]
    add_form = PersonAddForm
    add_fieldsets = [(None, {"fields": ["name", "notes", "external_ids"]})]
    inlines = [PersonNameInline, AffiliationInline, PersonRenameInline]
    change_form_template = "admin/people/person/change_form.html"

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

    @admin.display(description="merge")
    def merge_record(self, person):
        """For a merged record, the merge that folded it in: undone on its page."""
        if not person.merged_into_id:
            return "-"
        merge = Merge.objects.filter(merged=person, undone_at__isnull=True).first()
        if merge is None:
            return "-"
        return format_html(
            "{} (to separate the two again, undo it on its page)",
            admin_link(merge, f"Merge #{merge.pk}"),
        )

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

    def response_add(self, request, obj, post_url_continue=None):
        response = super().response_add(request, obj, post_url_continue)
        # Someone spelled close to the new person may be them: say so while it is fresh.
        others = Person.objects.filter(merged_into__isnull=True).exclude(pk=obj.pk)
        alike = list(typo_tolerant_search(others, obj.display_name)[:5])
        if alike:
            self.message_user(
                request,
                format_html(
                    "Already here under a close spelling, perhaps the same person: {}. "
                    "If so, run the duplicate finder on this person from their page.",
                    people_list(alike),
                ),
                messages.WARNING,
            )
        return response

    def update(self, request, obj, form):
        values = changed_values(form, _PERSON_FIELDS)
        if not values:
            return obj
        return services.person_update(person=obj, by=request.user, **values)

    # --- Split: some of the person's entries are another person's ----------------------
    #
    # Splitting records a Split, so it needs ``people.add_split``.

    def get_urls(self):
        return [
            path(
                "<path:object_id>/split/",
                self.admin_site.admin_view(self.split_view),
                name="people_person_split",
            ),
            path(
                "<path:object_id>/find-duplicates/",
                self.admin_site.admin_view(self.find_duplicates_view),
                name="people_person_find_duplicates",
            ),
            *super().get_urls(),
        ]

    def has_split_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("people.add_split")

    def render_change_form(self, request, context, add=False, change=False, form_url="", obj=None):
        if obj is not None and obj.pk is not None and not obj.merged_into_id:
            context["split"] = self.split_context(request, obj)
            if request.user.has_perm("people.add_matchrun"):
                context["find_duplicates_url"] = reverse(
                    "admin:people_person_find_duplicates", args=[obj.pk]
                )
        return super().render_change_form(request, context, add, change, form_url, obj)

    def find_duplicates_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        """Run the duplicate finder on this person (an incremental run on them
        alone), then follow the run on its page."""
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        if not request.user.has_perm("people.add_matchrun"):
            raise PermissionDenied
        person = self.get_object(request, unquote(object_id))
        if person is None:
            return self._get_obj_does_not_exist_redirect(request, self.opts, object_id)
        if person.merged_into_id:
            self.message_user(
                request,
                "This record was merged into another: run the duplicate finder on that one.",
                messages.ERROR,
            )
            return HttpResponseRedirect(reverse("admin:people_person_change", args=[person.pk]))
        run = runs.match_request(full=False, by=request.user, person_ids=[person.pk])
        match_run_requested(self, request, run, f"on {person.display_name}")
        return HttpResponseRedirect(reverse("admin:people_matchrun_change", args=[run.pk]))

    def split_context(self, request: HttpRequest, person: Person) -> dict:
        """The person's entries to choose from, and the splits made of them
        before: three queries however many entries."""
        sightings = list(
            Sighting.objects.filter(signature__person=person, signature__merged_into__isnull=True)
            .select_related("source", "signature__letter")
            .order_by("signature__letter__title", "signature__letter_id", "source__name", "pk")
        )
        splits = list(
            Split.objects.filter(Q(person=person) | Q(new_person=person)).order_by("-pk")[:20]
        )
        return {
            "can_split": self.has_split_permission(request),
            "sightings": sightings,
            "splits": splits,
            "action": reverse("admin:people_person_split", args=[person.pk]),
        }

    def split_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        """Move the chosen entries to a new person, then show that person."""
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        if not self.has_split_permission(request):
            raise PermissionDenied
        person = self.get_object(request, unquote(object_id))
        if person is None:
            return self._get_obj_does_not_exist_redirect(request, self.opts, object_id)
        page = reverse("admin:people_person_change", args=[person.pk]) + "#split"
        form = SplitForm(request.POST)
        if not form.is_valid():
            form_refused(self, request, form, "Nothing was split")
            return HttpResponseRedirect(page)
        try:
            split = person_split(
                person=person,
                sightings=form.cleaned_data["sightings"],
                reason=form.cleaned_data["reason"],
                by=request.user,
            )
        except DomainError as error:
            self.message_user(
                request, format_html("Nothing was split: {}", linked(error.message)), messages.ERROR
            )
            return HttpResponseRedirect(page)
        count = len(form.cleaned_data["sightings"])
        self.message_user(
            request,
            format_html(
                "{} {} moved from {} to this new person, {} ({}); the two are recorded as "
                "different people. The split can be undone on its page.",
                count,
                "entry" if count == 1 else "entries",
                link_to_person(split.person_id, split.person_name),
                split.new_person_name,
                admin_link(split, f"split #{split.pk}"),
            ),
            messages.SUCCESS,
        )
        return HttpResponseRedirect(
            reverse("admin:people_person_change", args=[split.new_person_id])
        )


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


def match_run_progress(run: MatchRun) -> dict:
    """Where a run stands, as its page shows it: the phase, blocks done of
    blocks, and whether it has ended (the page stops refreshing itself then)."""
    ended = run.status != MatchRun.Status.RUNNING
    if run.status == MatchRun.Status.SKIPPED:
        phase = "Not started: another run was going on"
    elif run.status == MatchRun.Status.FAILED:
        phase = "Failed"
    elif run.status == MatchRun.Status.SUCCEEDED:
        phase = "Finished"
    elif not run.blocks:
        phase = "Planning: reading everyone's names and pairing those that could be one"
    elif run.combine_started_at is not None:
        phase = "Combining the blocks: merging and queueing pairs for review"
    else:
        phase = "Scoring the pairs, block by block"
    return {
        "ended": ended,
        "phase": phase,
        "done": run.blocks_done,
        "total": run.blocks,
        "unit": "blocks",
        "links": [
            changelist_link(Merge, "Merges of this run", run__id__exact=run.pk),
            changelist_link(MatchJudgement, "Pairs of this run", run__id__exact=run.pk),
        ]
        if ended and run.status == MatchRun.Status.SUCCEEDED
        else [],
        "status": run.get_status_display(),
        "succeeded": run.status == MatchRun.Status.SUCCEEDED,
        "counts": [
            ("people considered", run.people_considered),
            ("pairs scored", run.pairs_scored),
            ("merged", run.merged),
            ("queued for review", run.queued),
            ("kept apart by decisions", run.blocked_by_judgements),
        ],
    }


def run_link_message(run: MatchRun, text: str) -> SafeString:
    """A message naming a run, with the run linked to its page."""
    url = reverse("admin:people_matchrun_change", args=[run.pk])
    return format_html('{} <a href="{}">See run {}</a>.', text, url, run.pk)


def match_run_requested(model_admin, request: HttpRequest, run: MatchRun, what: str) -> None:
    """The message answering a request for a run: queued or skipped, linked."""
    if run.status == MatchRun.Status.SKIPPED:
        going = MatchRun.objects.filter(status=MatchRun.Status.RUNNING).first()
        text = (
            f"Not started: {f'run {going.pk}' if going else 'another run'} is still going "
            f"on. The request is kept as skipped run {run.pk}."
        )
        if going is not None:
            run = going
        model_admin.message_user(request, run_link_message(run, text), messages.WARNING)
        return
    model_admin.message_user(
        request,
        run_link_message(run, f"Queued run {run.pk} of the duplicate finder, {what}."),
        messages.SUCCESS,
    )


@admin.register(MatchRun)
class MatchRunAdmin(ReadOnlyAdmin):
    """Runs are viewed only; the list has buttons to request one. A run's page
    shows its progress and refreshes itself until the run ends.

    Requesting a run needs ``people.add_matchrun`` (it records a run), the same
    permission the API asks for ``POST /api/match-runs/``.
    """

    change_list_template = "admin/people/matchrun/change_list.html"
    change_form_template = "admin/people/matchrun/change_form.html"
    # Narrow columns, so that every count shows at 1400 pixels beside the filters;
    # who asked for a run is on its page.
    list_display = [
        "id",
        "mode",
        "status",
        "progress",
        "started",
        "duration",
        "people",
        "pairs",
        "merged",
        "to_review",
        "kept_apart",
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
        "focus_summary",
        "people_considered",
        "blocks",
        "blocks_done",
        "pairs_scored",
        "merged",
        "queued",
        "blocked_by_judgements",
        "error",
        "weights",
        "judgements_link",
    ]

    @admin.display(description="duration")
    def duration(self, run):
        if run.finished_at is None and run.status == MatchRun.Status.RUNNING:
            return f"{human_duration(timezone.now() - run.started_at)} so far"
        return human_duration(run.duration)

    @admin.display(description="started", ordering="started_at")
    def started(self, run):
        return short_time(run.started_at)

    @admin.display(description="progress")
    def progress(self, run):
        if run.status != MatchRun.Status.RUNNING:
            return "-"
        if not run.blocks:
            return "planning"
        if run.combine_started_at is not None:
            return "combining"
        return f"{run.blocks_done} of {run.blocks} blocks"

    @admin.display(description="people", ordering="people_considered")
    def people(self, run):
        return run.people_considered

    @admin.display(description="pairs", ordering="pairs_scored")
    def pairs(self, run):
        return run.pairs_scored

    @admin.display(description="to review", ordering="queued")
    def to_review(self, run):
        return run.queued

    @admin.display(description="kept apart", ordering="blocked_by_judgements")
    def kept_apart(self, run):
        return run.blocked_by_judgements

    @admin.display(description="asked to look at")
    def focus_summary(self, run):
        if run.mode == MatchRun.Mode.FULL:
            return "Everyone"
        count = len(run.focus or [])
        return (
            f"{count} person(s) added or changed; “people considered” counts them and "
            "everyone who could be one of them"
        )

    @admin.display(description="judgements")
    def judgements_link(self, run):
        return changelist_link(MatchJudgement, "Judgements of this run", run__id__exact=run.pk)

    @admin.display(description="weights")
    def weights(self, run):
        """The bits the run scored each level with: learned from its data, or set."""
        params = (run.details or {}).get("weights") or {}
        if not params.get("learned"):
            why = params.get("why", "")
            return f"Set in the code{': ' + why if why else ''}."
        rows = format_html_join(
            "",
            "<tr><td>{}</td><td>{}</td><td>{}</td></tr>",
            (
                (name, bits, getattr(DEFAULT_WEIGHTS, name))
                for name, bits in sorted(params.get("bits", {}).items())
            ),
        )
        origin = (
            f"Learned by run {params['from_run']}"
            if params.get("from_run")
            else f"Learned from {params.get('candidate_pairs', 0):,} candidate pairs and "
            f"{params.get('random_pairs', 0):,} random pairs (seed {params.get('seed')})"
        )
        veto = "a veto" if params.get("org_veto", True) else "evidence, not a veto"
        return format_html(
            "<p>{}; another organisation is {}. Levels not listed keep their set weight.</p>"
            "<table><thead><tr><th>level</th><th>learned</th><th>set</th></tr></thead>"
            "<tbody>{}</tbody></table>",
            origin,
            veto,
            rows,
        )

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
            # The list refreshes itself while a run goes on.
            "refresh_seconds": 3
            if MatchRun.objects.filter(status=MatchRun.Status.RUNNING).exists()
            else None,
        }
        return super().changelist_view(request, extra_context)

    def render_change_form(self, request, context, add=False, change=False, form_url="", obj=None):
        if obj is not None:
            context["progress"] = match_run_progress(obj)
        return super().render_change_form(request, context, add, change, form_url, obj)

    def request_view(self, request: HttpRequest) -> HttpResponse:
        """Run the duplicate finder: on everyone, or on the people changed since
        the last run. The run's page follows its progress."""
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
        what = (
            "on everyone"
            if full
            else f"on the {len(run.focus)} person(s) added or changed since the last run"
        )
        match_run_requested(self, request, run, what)
        return HttpResponseRedirect(reverse("admin:people_matchrun_change", args=[run.pk]))


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


def stated_facts(signatures) -> list[dict]:
    """The titles and affiliations a record's signatures and their sightings
    state, each once, with the letters and sources that state it: what the
    scorer compared when it says "different organisations"."""
    stated: dict[tuple[str, str], dict] = {}
    for signature in signatures:
        said = [(signature.title, signature.affiliation, None)]
        said += [(s.title, s.affiliation, s.source) for s in signature.sightings.all()]
        for title, affiliation, source in said:
            if not (title or affiliation):
                continue
            key = (title.strip(), affiliation.strip())
            entry = stated.setdefault(
                key, {"title": key[0], "affiliation": key[1], "letters": [], "sources": []}
            )
            if signature.letter.title not in entry["letters"]:
                entry["letters"].append(signature.letter.title)
            if source is not None and source.name not in entry["sources"]:
                entry["sources"].append(source.name)
    return list(stated.values())


def person_side(person: Person) -> dict:
    """One record of a pair as the review shows it; ``person`` comes through
    ``selectors.people_for_review``."""
    return {
        "person": person,
        "names": selectors.person_names_by_spelling(person),
        "affiliations": list(person.affiliations.all()),
        "stated": stated_facts(person.signatures_shown),
        "signatures": person.signatures_shown,
    }


def pair_context(judgement: MatchJudgement) -> dict:
    explanation = explanation_table(judgement.explanation)
    return {
        "judgement": judgement,
        "sides": [person_side(judgement.person_a), person_side(judgement.person_b)],
        "explanation": explanation,
        "score": score_text(judgement.score, explanation["bits"]),
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
_REVIEW_REFUSAL = "review_refusal"


def decided_message(judgement: MatchJudgement) -> SafeString:
    """What the queue says once a pair is decided; after a merge, the way to
    undo it and to split the person are one click away."""
    first, second = judgement.person_a, judgement.person_b
    if judgement.decision == MatchJudgement.Decision.DIFFERENT:
        return format_html("{} and {} are kept apart for good.", first, second)
    if judgement.decision == MatchJudgement.Decision.UNSURE:
        return format_html("{} and {} are marked unsure.", first, second)
    merge = (
        Merge.objects.filter(judgement=judgement, undone_at__isnull=True)
        .select_related("survivor")
        .first()
    )
    if merge is None:
        return format_html("{} and {} are one person now: merged.", first, second)
    split_url = reverse("admin:people_person_change", args=[merge.survivor_id]) + "#split"
    return format_html(
        '{} and {} are one person now: merged. <a href="{}">Undo merge #{}</a> · '
        '<a href="{}">split entries off {}</a>',
        first,
        second,
        reverse("admin:people_merge_change", args=[merge.pk]) + "#undo",
        merge.pk,
        split_url,
        merge.survivor.display_name,
    )


@admin.register(MatchJudgement)
class MatchJudgementAdmin(ServiceAdmin):
    form = JudgementForm
    change_list_template = "admin/people/matchjudgement/change_list.html"
    list_display = [
        "__str__",
        "person_a_link",
        "person_b_link",
        "score_shown",
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
                    "score_shown",
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
        "score_shown",
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

    @admin.display(description="score", ordering="score")
    def score_shown(self, judgement):
        explanation = judgement.explanation if isinstance(judgement.explanation, dict) else {}
        return score_text(judgement.score, explanation.get("bits"))

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
        try:
            return decisions.judgement_decide(
                judgement=obj,
                decision=form.cleaned_data["decision"],
                reason=form.cleaned_data["reason"],
                by=request.user,
                replaces=form.initial.get("decision") or MatchJudgement.Decision.PENDING,
            )
        except DomainError as error:
            # "undo the merge #12": shown on the form with a link to that merge.
            error.message = linked(error.message)
            raise

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
        # A refused decision comes back beside its pair, with the reason typed.
        refusal = request.session.pop(_REVIEW_REFUSAL, None) or {}
        context = {
            **self.admin_site.each_context(request),
            "title": "Review suspected duplicates",
            "opts": self.opts,
            "page": page,
            "paginator": paginator,
            "person_id": person_id,
            "pairs": [
                # "following": where the page goes back to once this pair is decided.
                {
                    **pair_context(pair),
                    "following": following.pk if following else None,
                    "refusal": refusal if refusal.get("judgement") == pair.pk else None,
                }
                for pair, following in itertools.zip_longest(pairs, pairs[1:])
            ],
        }
        return TemplateResponse(request, "admin/people/matchjudgement/review.html", context)

    def _review_refused(self, request: HttpRequest, judgement_id: int, message: str) -> None:
        """Keep a refusal for the page to show beside its pair."""
        request.session[_REVIEW_REFUSAL] = {
            "judgement": judgement_id,
            "message": str(message),
            "reason": request.POST.get("reason", "")[:5000],
        }

    def _review_decide(self, request: HttpRequest) -> HttpResponse:
        form = ReviewDecisionForm(request.POST)
        if not form.is_valid():
            texts = [
                f"{field}: {error}" for field, errors in form.errors.items() for error in errors
            ]
            for text in texts:
                self.message_user(request, text, messages.ERROR)
            pk = _positive_int(request.POST.get("judgement"))
            url = reverse("admin:people_matchjudgement_review")
            if pk is not None:
                self._review_refused(request, pk, " ".join(texts))
                url += f"#pair-{pk}"
            return HttpResponseRedirect(url)
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
                decided = decisions.judgement_decide(
                    judgement=judgement,
                    decision=data["decision"],
                    reason=data["reason"],
                    by=request.user,
                    replaces=MatchJudgement.Decision.PENDING,
                )
            except DomainError as error:
                self.message_user(
                    request,
                    format_html(
                        "{} / {} not decided: {}",
                        judgement.person_a,
                        judgement.person_b,
                        linked(error.message),
                    ),
                    messages.ERROR,
                )
                self._review_refused(request, judgement.pk, f"Not decided: {error.message}")
                data["following"] = judgement.pk
            else:
                self.message_user(request, decided_message(decided), messages.SUCCESS)
        query = {key: data[key] for key in ("page", "person") if data.get(key)}
        url = reverse("admin:people_matchjudgement_review")
        if query:
            url += "?" + urlencode(query)
        if data.get("following"):
            url += f"#pair-{data['following']}"
        return HttpResponseRedirect(url)


def _positive_int(value: str | None) -> int | None:
    return int(value) if value and value.isdigit() and 0 < int(value) < 2**63 else None


def _number_column(noun: str):
    """The column that names a merge or split by its number: “Merge #311”."""

    @admin.display(description=noun, ordering="pk")
    def number(self, record) -> str:
        return f"{noun.capitalize()} #{record.pk}"

    return number


def _person_column(role: str, description: str):
    """The column of a person of a merge or split (``role`` names the field), by
    the name recorded then, sorted by that name."""

    @admin.display(description=description, ordering=f"{role}_name")
    def column(self, record) -> str:
        return person_then_and_now(record, role)

    return column


class UndoableRecordAdmin(ReadOnlyAdmin):
    """Merges and splits: viewed only; the page of one has a form to undo it,
    posted to ``<id>/undo/``. Undoing changes the record, so it needs the
    permission to change it.

    A subclass names its ``undo_form``, what its page loads (``page_related``),
    what its undo form offers (``undo_context``) and how it undoes
    (``undo_record``, answering the message of success).
    """

    list_display_links = ["number"]
    list_select_related = ["by"]
    date_hierarchy = "created_at"
    undo_form: type[forms.Form]
    page_related: tuple[str, ...] = ()
    # And each its ``number`` column (_number_column), named in messages too.

    def get_queryset(self, request):
        queryset = super().get_queryset(request)
        if is_changelist(request):
            return queryset
        return queryset.select_related(*self.page_related)

    @admin.display(description="undone", boolean=True, ordering="undone_at")
    def undone(self, record):
        return record.undone_at is not None

    @admin.display(description="what moved")
    def moved_pretty(self, record):
        return pretty_json(record.moved)

    # --- Undo ----------------------------------------------------------------------

    def _url_name(self, view: str) -> str:
        return f"{self.opts.app_label}_{self.opts.model_name}_{view}"

    def get_urls(self):
        return [
            path(
                "<path:object_id>/undo/",
                self.admin_site.admin_view(self.undo_view),
                name=self._url_name("undo"),
            ),
            *super().get_urls(),
        ]

    def has_undo_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm(f"{self.opts.app_label}.change_{self.opts.model_name}")

    def render_change_form(self, request, context, add=False, change=False, form_url="", obj=None):
        if obj is not None:
            context["undo"] = self.undo_context(request, obj)
        return super().render_change_form(request, context, add, change, form_url, obj)

    def undo_context(self, request: HttpRequest, record) -> dict[str, Any]:
        """The template's ``undo``: the record under its model's name, and whether
        the user may undo it."""
        return {self.opts.model_name: record, "can_undo": self.has_undo_permission(request)}

    def undo_record(self, request: HttpRequest, record, data: dict) -> SafeString:
        """Undo ``record`` as the valid form's ``data`` says; answers the message
        of success, raises DomainError when it cannot be undone."""
        raise NotImplementedError

    def undo_refusal(self, record, error: DomainError) -> str:
        """What the message says when the undo is refused."""
        return error.message

    def undo_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        if not self.has_undo_permission(request):
            raise PermissionDenied
        record = self.get_object(request, unquote(object_id))
        if record is None:
            return self._get_obj_does_not_exist_redirect(request, self.opts, object_id)
        page = reverse(f"admin:{self._url_name('change')}", args=[record.pk])
        form = self.undo_form(request.POST)
        if not form.is_valid():
            form_refused(self, request, form, f"{self.number(record)} not undone")
            return HttpResponseRedirect(page)
        try:
            message = self.undo_record(request, record, form.cleaned_data)
        except DomainError as error:
            self.message_user(
                request,
                format_html(
                    "{} not undone: {}",
                    self.number(record),
                    linked(self.undo_refusal(record, error)),
                ),
                messages.ERROR,
            )
            return HttpResponseRedirect(page)
        self.message_user(request, message, messages.SUCCESS)
        return HttpResponseRedirect(page)


@admin.register(Merge)
class MergeAdmin(UndoableRecordAdmin):
    """Merges: the form undoes one whole or for some of the records that came in
    with it. Undoing needs ``people.change_merge``."""

    change_form_template = "admin/people/merge/change_form.html"
    list_display = [
        "number",
        "merged_link",
        "survivor_link",
        "automatic",
        "by",
        "created_at",
        "undone",
    ]
    list_filter = [UndoneFilter, "automatic"]
    search_fields = ["survivor__search_text__contains", "merged__search_text__contains"]
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
    # The page of one merge shows who the two are now, beside who they were.
    page_related = (
        "survivor",
        "merged",
        "by",
        "undone_by",
        "run",
        "judgement__person_a",
        "judgement__person_b",
    )
    undo_form = MergeUndoForm

    number = _number_column("merge")
    merged_link = _person_column("merged", "merged (name then)")
    survivor_link = _person_column("survivor", "into (name then)")

    def undo_context(self, request: HttpRequest, merge: Merge) -> dict:
        """What the undo form offers: the records that came in with the merge,
        each with the merge that brought it into the merged person. A bounded
        number of queries however many records (one more for each level of
        merges within merges)."""
        context = super().undo_context(request, merge)
        if merge.undone_at is not None:
            detail = merge.undo_detail or {}
            context["taken_out"] = [
                link_to_person(pk, name)
                for pk, name in Person.objects.filter(pk__in=detail.get("people", []))
                .order_by("pk")
                .values_list("pk", "display_name")
            ]
            context["kept_in"] = [
                admin_link(kept, f"merge #{kept.pk}")
                for kept in Merge.objects.filter(pk__in=detail.get("kept_in", [])).order_by("pk")
            ]
            return context
        came_in = merge_people(merge)
        people = {person.pk: person for person in Person.objects.filter(pk__in=came_in)}
        brought_in = {
            earlier.merged_id: earlier
            for earlier in Merge.objects.filter(merged_id__in=came_in, undone_at__isnull=True)
        }
        context["people"] = [
            {
                "person": people[pk],
                "into": people.get(people[pk].merged_into_id),
                "by_merge": brought_in.get(pk),
            }
            for pk in came_in
            if pk in people
        ]
        survivor = merge.survivor
        if survivor.merged_into_id is not None:
            context["merged_since"] = Merge.objects.filter(
                merged=survivor, undone_at__isnull=True
            ).first()
            context["survivor_into"] = survivor.merged_into_id
        context["action"] = reverse("admin:people_merge_undo", args=[merge.pk])
        return context

    def undo_record(self, request: HttpRequest, merge: Merge, data: dict) -> SafeString:
        """Undo the merge for the records ticked; the others stay with the survivor."""
        came_in = merge_people(merge)
        chosen = data["people"]
        merge_undo(merge=merge, by=request.user, reason=data["reason"], people=chosen)
        now = {
            person.pk: person
            for person in Person.objects.filter(pk__in=[merge.survivor_id, *came_in])
        }
        survivor = now[merge.survivor_id]
        taken_out = [now[pk] for pk in chosen if pk in now]
        staying = [now[pk] for pk in came_in if pk not in chosen and pk in now]
        message = format_html(
            "Merge #{} undone: {} {} no longer part of {}, and recorded as a different person.",
            merge.pk,
            people_list(taken_out),
            "is" if len(taken_out) == 1 else "are",
            link_to_person(survivor.pk, survivor.display_name),
        )
        if staying:
            message = format_html(
                "{} {} {} with {}.",
                message,
                people_list(staying),
                "stays" if len(staying) == 1 else "stay",
                survivor.display_name,
            )
        return message


@admin.register(Split)
class SplitAdmin(UndoableRecordAdmin):
    """Splits: the form undoes one by merging the new person back. Undoing needs
    ``people.change_split``."""

    change_form_template = "admin/people/split/change_form.html"
    list_display = [
        "number",
        "new_person_link",
        "split_from_link",
        "by",
        "created_at",
        "undone",
    ]
    list_filter = [UndoneFilter]
    search_fields = ["person__search_text__contains", "new_person__search_text__contains"]
    fields = [
        "new_person_link",
        "split_from_link",
        "judgement",
        "by",
        "reason",
        "created_at",
        "moved_pretty",
        "undone_at",
        "undone_by",
        "undo_reason",
        "undo_merge",
    ]
    page_related = (
        "person",
        "new_person",
        "by",
        "undone_by",
        "undo_merge",
        "judgement__person_a",
        "judgement__person_b",
    )
    undo_form = SplitUndoForm

    number = _number_column("split")
    new_person_link = _person_column("new_person", "new person (name then)")
    split_from_link = _person_column("person", "split from (name then)")

    def undo_context(self, request: HttpRequest, split: Split) -> dict:
        context = super().undo_context(request, split)
        context["action"] = reverse("admin:people_split_undo", args=[split.pk])
        context["merged_since"] = self._merged_since(split) if split.undone_at is None else None
        return context

    @staticmethod
    def _merged_since(split: Split) -> Merge | None:
        """The merge that folded either side of the split into someone since:
        to be undone before the split can be."""
        if not (split.person.merged_into_id or split.new_person.merged_into_id):
            return None
        return Merge.objects.filter(
            merged__in=[split.person_id, split.new_person_id], undone_at__isnull=True
        ).first()

    def undo_refusal(self, split: Split, error: DomainError) -> str:
        later = self._merged_since(split) if error.code == "undo_later_first" else None
        return error.message if later is None else f"{error.message} (merge #{later.pk})"

    def undo_record(self, request: HttpRequest, split: Split, data: dict) -> SafeString:
        """Put the split's entries back with the person they were split from."""
        split = split_undo(split=split, reason=data["reason"], by=request.user)
        person = Person.objects.get(pk=split.person_id)
        return format_html(
            "Split #{} undone: the entries are back with {}, by {}.",
            split.pk,
            link_to_person(person.pk, person.display_name),
            admin_link(split.undo_merge, f"merge #{split.undo_merge_id}"),
        )
