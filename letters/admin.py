"""Admin for letters, their targets and sources, signatures and what the
sources said. Entries go through the services (see tracker.admin_kit for the
shared pieces); sync runs and histories are shown, never edited."""

from __future__ import annotations

import zlib
from typing import Any
from urllib.parse import urlencode

from django import forms
from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.contrib.admin.options import IS_POPUP_VAR
from django.contrib.admin.utils import display_for_value, unquote
from django.core.exceptions import PermissionDenied
from django.core.validators import URLValidator
from django.forms.models import BaseInlineFormSet
from django.http import HttpRequest, HttpResponse, HttpResponseNotAllowed, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString

from letters import selectors, services, webhooks
from letters.changes import KINDS as CHANGE_KINDS
from letters.desk import sources_overdue
from letters.models import (
    Letter,
    LetterTarget,
    ListVersion,
    Sighting,
    SightingEvent,
    Signature,
    SignatureStatusChange,
    Source,
    SyncRun,
    SyncRunContent,
    WebhookDelivery,
    WebhookSubscription,
)
from letters.sync.parse import options_validate
from people.matching.normalize import clean_whitespace, fold
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
    is_changelist,
    pretty_json,
    related_filter,
    short_time,
)
from tracker.errors import DomainError
from tracker.progress import progress_read

LetterFilter = related_filter("letter", "letter", recent=15)
# The admin's index is the editor's desk: what needs an editor (letters/desk.py).
admin.site.index_template = "admin/desk/index.html"
SIGNATURES_SHOWN_ON_LETTER = 50
VERSIONS_SHOWN_ON_LETTER = 20
_http_url = URLValidator(schemes=["http", "https"], message="Give an http or https address.")


# --- The kit's admins, searching with the services' folding ----------------------


class ServiceAdmin(admin_kit.ServiceAdmin):
    search_fold = staticmethod(fold)


class ReadOnlyAdmin(admin_kit.ReadOnlyAdmin):
    search_fold = staticmethod(fold)


# --- Letters and their targets -------------------------------------------------------


def _target_write(*, letter, target, data, changed) -> LetterTarget:
    """Targets are keyed by letter, organization and role: changing one of those
    replaces the row; changing only the note updates it."""
    if target is not None and {"letter", "organization", "role"} & set(changed):
        services.letter_target_remove(target=target)
    return services.letter_target_set(
        letter=letter,
        organization=data["organization"],
        role=data["role"],
        note=data.get("note") or "",
    )


class LetterTargetInline(ServiceInline):
    model = LetterTarget
    fields = ["organization", "role", "note"]
    autocomplete_fields = ["organization"]
    extra = 1
    allow_delete = True
    verbose_name = "target"
    verbose_name_plural = "targets: addressees and subjects"

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("organization")

    def add_row(self, request, parent, form):
        return _target_write(letter=parent, target=None, data=form.cleaned_data, changed=[])

    def change_row(self, request, obj, form):
        return _target_write(
            letter=obj.letter, target=obj, data=form.cleaned_data, changed=form.changed_data
        )

    def delete_row(self, request, obj):
        services.letter_target_remove(target=obj)


class FirstRowsFormSet(BaseInlineFormSet):
    """Only the first rows: a letter may have a hundred thousand signatures."""

    max_rows = SIGNATURES_SHOWN_ON_LETTER

    def get_queryset(self):
        if not hasattr(self, "_queryset"):
            self._queryset = super().get_queryset()[: self.max_rows]
        return self._queryset


class LetterSignatureInline(ReadOnlyInline):
    model = Signature
    fk_name = "letter"
    formset = FirstRowsFormSet
    fields = ["person", "status", "title", "affiliation", "first_seen_at"]
    linked_rows = True
    verbose_name_plural = (
        f"signatures (the first {SIGNATURES_SHOWN_ON_LETTER}; “Signatures” above lists them all)"
    )

    def get_queryset(self, request):
        return (
            super()
            .get_queryset(request)
            .filter(merged_into__isnull=True)
            .select_related("person", "letter")
        )


class NewestRowsFormSet(FirstRowsFormSet):
    max_rows = VERSIONS_SHOWN_ON_LETTER


class ListVersionInline(ReadOnlyInline):
    """The letter's published list versions, newest first: never edited, here or anywhere."""

    model = ListVersion
    fk_name = "letter"
    formset = NewestRowsFormSet
    fields = ["number", "created_at", "count", "made_by", "reason", "hash", "csv_link"]
    verbose_name_plural = (
        f"list versions (the latest {VERSIONS_SHOWN_ON_LETTER}; "
        "/api/letters/SLUG/versions/ lists them all)"
    )

    def get_queryset(self, request):
        return (
            super()
            .get_queryset(request)
            .select_related("letter", "created_by")
            .defer("data")
            .order_by("-number")
        )

    @admin.display(description="made by")
    def made_by(self, version: ListVersion) -> str:
        if version.run_id:
            url = reverse("admin:letters_syncrun_change", args=[version.run_id])
            return format_html('<a href="{}">sync run {}</a>', url, version.run_id)
        return version.created_by.username if version.created_by else "-"

    @admin.display(description="list")
    def csv_link(self, version: ListVersion) -> str:
        url = reverse("letter-version-list-csv", args=[version.letter.slug, version.number])
        return format_html('<a href="{}">list.csv</a>', url)


@admin.register(Letter)
class LetterAdmin(ServiceAdmin):
    list_display = ["title", "status", "published_on", "claimed_count", "signature_count"]
    list_filter = ["status", "language"]
    date_hierarchy = "published_on"
    search_fields = ["search_text__contains"]
    autocomplete_fields = ["organisers"]
    prepopulated_fields = {"slug": ["title"]}
    fieldsets = [
        (None, {"fields": ["title", "slug", "status", ("published_on", "language"), "url"]}),
        (
            "Signatories",
            {
                "fields": [
                    ("claimed_count", "claimed_count_min"),
                    "organisers",
                    "organisers_note",
                    "signatures_link",
                    "sources_link",
                ]
            },
        ),
        ("Text", {"fields": ["summary", "text"]}),
        ("Record", {"fields": ["created_at", "updated_at"], "classes": ["collapse"]}),
    ]
    readonly_fields = [
        "claimed_count_min",
        "signatures_link",
        "sources_link",
        "created_at",
        "updated_at",
    ]
    inlines = [LetterTargetInline, LetterSignatureInline, ListVersionInline]

    def get_queryset(self, request):
        queryset = super().get_queryset(request)
        if is_changelist(request):
            queryset = queryset.annotate(
                signature_count=count_of(Signature, "letter", merged_into__isnull=True)
            )
        return queryset

    @admin.display(description="signatures", ordering="signature_count")
    def signature_count(self, letter):
        return changelist_link(Signature, letter.signature_count, letter__id__exact=letter.pk)

    @admin.display(description="signatures")
    def signatures_link(self, letter):
        if letter.pk is None:
            return "-"
        count = letter.signatures.filter(merged_into__isnull=True).count()
        add_url = reverse("admin:letters_signature_add") + "?" + urlencode({"letter": letter.pk})
        return format_html(
            '{} · <a href="{}">add one</a>',
            changelist_link(Signature, f"{count} signature(s)", letter__id__exact=letter.pk),
            add_url,
        )

    @admin.display(description="sources")
    def sources_link(self, letter):
        if letter.pk is None:
            return "-"
        return changelist_link(
            Source, f"{letter.sources.count()} source(s)", letter__id__exact=letter.pk
        )

    def create(self, request, form):
        return services.letter_create(
            organisers=list(form.cleaned_data.get("organisers") or []),
            **{
                name: form.cleaned_data[name]
                for name in services.LETTER_FIELDS
                if name in form.cleaned_data
            },
        )

    def update(self, request, obj, form):
        values = changed_values(form, services.LETTER_FIELDS)
        if "organisers" in form.changed_data:
            values["organisers"] = list(form.cleaned_data.get("organisers") or [])
        if not values:
            return obj
        return services.letter_update(letter=obj, **values)


@admin.register(LetterTarget)
class LetterTargetAdmin(ServiceAdmin):
    list_display = ["letter", "organization", "role", "note"]
    list_filter = ["role", LetterFilter]
    list_select_related = ["letter", "organization"]
    search_fields = ["letter__search_text__contains", "organization__search_text__contains"]
    autocomplete_fields = ["letter", "organization"]
    fields = ["letter", "organization", "role", "note"]
    allow_delete = True

    def create(self, request, form):
        data = form.cleaned_data
        return _target_write(letter=data["letter"], target=None, data=data, changed=[])

    def update(self, request, obj, form):
        if not form.changed_data:
            return obj
        data = form.cleaned_data
        return _target_write(
            letter=data["letter"], target=obj, data=data, changed=form.changed_data
        )

    def remove(self, request, obj):
        services.letter_target_remove(target=obj)


# --- Sources and sync runs -------------------------------------------------------------


# A source's options, one field each (letters/sync/parse.py reads them): the
# format each applies to, its label and its help with an example.
_OPTION_FIELDS: dict[str, tuple[tuple[str, ...], str, str]] = {
    "key": (
        ("csv", "json", "html"),
        "Key column",
        "The column whose value identifies an entry from one fetch to the next, such as "
        "“id” or “url”. Empty: entries are told apart by their name.",
    ),
    "encoding": (
        ("csv", "json", "html"),
        "Encoding",
        "Only when the file is neither UTF-8 nor labelled by the server, such as "
        "“windows-1252” or “latin-1”.",
    ),
    "delimiter": (
        ("csv",),
        "Delimiter",
        "One character, when the header line does not show it: “;” or “|”. Empty: guessed.",
    ),
    "json_key": (
        ("json",),
        "Key of the list",
        "When the file is an object holding the list: “signatories”, or with dots to go "
        "deeper, “data.signatories”. Empty: the file is the list.",
    ),
    "columns": (
        ("csv", "json"),
        "Column renames",
        "One per line, the heading as written = the field it holds: “Full name = name”, "
        "“Org = affiliation”. Understood fields: name (or first_name and last_name), title, "
        "affiliation, country, signed_at, url; other columns are kept as extra fields.",
    ),
}
_SELECTOR_FIELDS = {
    "entry": "CSS selector of each entry (required for HTML), such as “ul.signatories > li”.",
    "name": "Within an entry, the name, such as “.name”. Empty: the entry's whole text.",
    "affiliation": "Within an entry, the affiliation, such as “.org”.",
    "title": "Within an entry, the title or role, such as “.role”.",
    "country": "Within an entry, the country.",
    "url": "Within an entry, a link whose address is the entry's URL, such as “a”.",
}


def _option_field_name(option: str) -> str:
    return f"option_{option}"


def _selector_field_name(selector: str) -> str:
    return f"selector_{selector}"


SOURCE_OPTION_FIELD_NAMES = [
    *(_option_field_name(option) for option in _OPTION_FIELDS),
    *(_selector_field_name(selector) for selector in _SELECTOR_FIELDS),
]


def _source_option_fields() -> dict[str, forms.Field]:
    fields: dict[str, forms.Field] = {}
    for option, (formats, label, help_text) in _OPTION_FIELDS.items():
        if option == "columns":
            widget = forms.Textarea(attrs={"rows": 3, "cols": 50})
            field = forms.CharField(label=label, required=False, widget=widget)
        else:
            field = forms.CharField(label=label, required=False, max_length=200, strip=False)
        field.help_text = f"{help_text} ({', '.join(f.upper() for f in formats)})"
        field.widget.attrs["data-formats"] = " ".join(formats)
        fields[_option_field_name(option)] = field
    for selector, help_text in _SELECTOR_FIELDS.items():
        field = forms.CharField(
            label=f"{selector.capitalize()} selector",
            required=False,
            max_length=300,
            help_text=f"{help_text} (HTML)",
        )
        field.widget.attrs["data-formats"] = "html"
        fields[_selector_field_name(selector)] = field
    return fields


# The option fields are declared on a base class, so that the admin's fieldsets may name them.
_SourceOptionsForm = type("SourceOptionsForm", (ServiceForm,), _source_option_fields())


class SourceForm(_SourceOptionsForm):
    """A source, with its ``options`` as one field per option of its format;
    they are checked as the sync will read them."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.instance._state.adding and "reliability" in self.fields:
            # Empty means the default of the source's kind.
            reliability = self.fields["reliability"]
            reliability.required = False
            reliability.help_text = (
                "0 to 100; higher wins when sources disagree. Empty: the kind's default."
            )
            self.initial.pop("reliability", None)
        if "sync_interval" in self.fields:
            self.fields["sync_interval"].help_text = (
                "How often it is fetched, as hours:minutes:seconds: “06:00:00” for every "
                "six hours, “1 00:00:00” for once a day; at least a minute."
            )
        if "format" in self.fields:
            fmt = self.fields["format"]
            fmt.help_text = "How the list at the URL is read; the options that apply are shown."
        options = self.instance.options if isinstance(self.instance.options, dict) else {}
        for option in _OPTION_FIELDS:
            value = options.get(option, "")
            if option == "columns" and isinstance(value, dict):
                value = "\n".join(f"{k} = {v}" for k, v in value.items())
            value = value if isinstance(value, str) else ""
            self.initial.setdefault(_option_field_name(option), value)
        selectors = options.get("selectors")
        selectors = selectors if isinstance(selectors, dict) else {}
        for selector in _SELECTOR_FIELDS:
            value = selectors.get(selector, "")
            self.initial.setdefault(
                _selector_field_name(selector), value if isinstance(value, str) else ""
            )

    def clean_name(self):
        return clean_whitespace(self.cleaned_data["name"])

    def clean_url(self):
        url = (self.cleaned_data.get("url") or "").strip()
        if url:
            _http_url(url)
        return url

    def clean_option_columns(self):
        renames = {}
        for number, line in enumerate(self.cleaned_data.get("option_columns", "").splitlines(), 1):
            if not line.strip():
                continue
            heading, sep, field = line.partition("=")
            if not sep or not heading.strip() or not field.strip():
                raise forms.ValidationError(
                    f"Line {number} (“{line.strip()}”) is not “heading = field”, "
                    "such as “Full name = name”."
                )
            renames[heading.strip()] = field.strip()
        return renames

    def clean(self):
        cleaned_data = super().clean()
        fmt = cleaned_data.get("format", self.instance.format)
        if not any(name in self.fields for name in SOURCE_OPTION_FIELD_NAMES):
            return cleaned_data
        options: dict[str, Any] = {}
        for option, (formats, label, _help) in _OPTION_FIELDS.items():
            name = _option_field_name(option)
            value = cleaned_data.get(name)
            if option != "columns" and isinstance(value, str):
                value = value if option == "delimiter" else value.strip()
            if not value:
                continue
            if fmt not in formats:
                self.add_error(
                    name, f"{label} is not used by {fmt.upper()} sources; leave it empty."
                )
                continue
            options[option] = value
        selectors = {
            selector: cleaned_data.get(_selector_field_name(selector), "").strip()
            for selector in _SELECTOR_FIELDS
        }
        selectors = {key: value for key, value in selectors.items() if value}
        if fmt == Source.Format.HTML:
            options["selectors"] = selectors
        elif selectors:
            self.add_error(
                _selector_field_name(next(iter(selectors))),
                f"Selectors are for HTML sources, not {fmt.upper()}; leave them empty.",
            )
        if fmt in (Source.Format.CSV, Source.Format.JSON, Source.Format.HTML) and not self.errors:
            self._check_options(fmt, options)
        cleaned_data["options"] = options
        return cleaned_data

    def _check_options(self, fmt: str, options: dict) -> None:
        """Each option checked as the sync reads it, the error on its field."""
        base = {"selectors": options["selectors"]} if "selectors" in options else {}
        for option, value in options.items():
            try:
                options_validate(format=fmt, options={**base, option: value})
            except DomainError as error:
                if option == "selectors":
                    named = (k for k in _SELECTOR_FIELDS if f" {k} selector" in error.message)
                    field = _selector_field_name(next(named, "entry"))
                else:
                    field = _option_field_name(option)
                self.add_error(field, error.message)
                return
        try:
            options_validate(format=fmt, options=options)
        except DomainError as error:
            self.add_error(None, error.message)


_SOURCE_ADD_FIELDS = [
    "letter",
    "name",
    "kind",
    "url",
    "format",
    "options",
    "enabled",
    "reliability",
    "max_rejected_percent",
    "sync_interval",
]
_SOURCE_READING = (
    "How to read the list",
    {
        "fields": ["format", *SOURCE_OPTION_FIELD_NAMES],
        "description": "Only the options of the chosen format apply; the others stay empty.",
    },
)


class ScheduleFilter(admin.SimpleListFilter):
    """Sources synced on schedule, or overdue (the desk links here)."""

    title = "schedule"
    parameter_name = "schedule"

    def lookups(self, request, model_admin):
        return [("overdue", "Not synced on schedule")]

    def queryset(self, request, queryset):
        if self.value() == "overdue":
            return queryset.filter(pk__in=sources_overdue().values("pk"))
        return queryset


def sync_requested(model_admin, request: HttpRequest, source: Source) -> SyncRun | None:
    """Queue a sync of ``source`` and say so, the run linked to its page."""
    from letters.sync import sync_request

    try:
        run = sync_request(source=source, by=request.user)
    except DomainError as exc:
        model_admin.message_user(request, f"{source}: {exc.message}", messages.WARNING)
        return None
    url = reverse("admin:letters_syncrun_change", args=[run.pk])
    if run.outcome == SyncRun.Outcome.QUEUED:
        text = format_html(
            '{}: sync queued as <a href="{}">run {}</a>; its page follows it to the end.',
            source,
            url,
            run.pk,
        )
        model_admin.message_user(request, text, messages.SUCCESS)
    else:
        text = format_html(
            '{}: not queued, <a href="{}">run {}</a> is {}: {}',
            source,
            url,
            run.pk,
            run.get_outcome_display().lower(),
            run.error,
        )
        model_admin.message_user(request, text, messages.WARNING)
    return run


@admin.register(Source)
class SourceAdmin(ServiceAdmin):
    form = SourceForm
    change_form_template = "admin/letters/source/change_form.html"
    list_display = [
        "name",
        "letter",
        "kind",
        "format",
        "enabled",
        "reliability",
        "last_synced_at",
        "next_sync_at",
    ]
    list_filter = ["kind", "format", "enabled", ScheduleFilter, LetterFilter]
    list_select_related = ["letter"]
    search_fields = ["name", "letter__search_text__contains"]
    autocomplete_fields = ["letter"]
    fieldsets = [
        (None, {"fields": ["letter", "name", "kind", "url"]}),
        _SOURCE_READING,
        (
            "Schedule",
            {
                "fields": [
                    "enabled",
                    "reliability",
                    "max_rejected_percent",
                    "sync_interval",
                    "next_sync_at",
                ]
            },
        ),
        (
            "Last fetch",
            {
                "fields": [
                    "last_synced_at",
                    "etag",
                    "last_modified",
                    "content_hash",
                    "runs_link",
                    "options_stored",
                ]
            },
        ),
        ("Record", {"fields": ["created_at", "updated_at"], "classes": ["collapse"]}),
    ]
    readonly_fields = [
        "letter",
        "kind",
        "last_synced_at",
        "etag",
        "last_modified",
        "content_hash",
        "runs_link",
        "options_stored",
        "created_at",
        "updated_at",
    ]
    add_fieldsets = [
        (None, {"fields": ["letter", "name", "kind", "url"]}),
        _SOURCE_READING,
        (
            "Schedule",
            {"fields": ["enabled", "reliability", "max_rejected_percent", "sync_interval"]},
        ),
    ]
    add_readonly_fields = ()

    actions = ["sync_now"]

    @admin.action(description="Sync now", permissions=["change"])
    def sync_now(self, request, queryset):
        for source in queryset.select_related("letter").order_by("pk"):
            sync_requested(self, request, source)

    @admin.display(description="runs")
    def runs_link(self, source):
        return changelist_link(SyncRun, "Runs of this source", source__id__exact=source.pk)

    @admin.display(description="options as stored")
    def options_stored(self, source):
        return pretty_json(source.options)

    def get_urls(self):
        return [
            path(
                "<path:object_id>/sync/",
                self.admin_site.admin_view(self.sync_view),
                name="letters_source_sync",
            ),
            *super().get_urls(),
        ]

    def render_change_form(self, request, context, add=False, change=False, form_url="", obj=None):
        if obj is not None and obj.is_fetched and self.has_change_permission(request, obj):
            context["sync_url"] = reverse("admin:letters_source_sync", args=[obj.pk])
        return super().render_change_form(request, context, add, change, form_url, obj)

    def sync_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        """Sync this source now: queue a run and follow it on its page."""
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        source = self.get_object(request, unquote(object_id))
        if source is None:
            return self._get_obj_does_not_exist_redirect(request, self.opts, object_id)
        if not self.has_change_permission(request, source):
            raise PermissionDenied
        run = sync_requested(self, request, source)
        if run is None:
            return HttpResponseRedirect(reverse("admin:letters_source_change", args=[source.pk]))
        return HttpResponseRedirect(reverse("admin:letters_syncrun_change", args=[run.pk]))

    def create(self, request, form):
        return services.source_create(
            **{name: form.cleaned_data.get(name) for name in _SOURCE_ADD_FIELDS}
        )

    def update(self, request, obj, form):
        values = changed_values(form, services.SOURCE_EDITABLE_FIELDS)
        if form.cleaned_data.get("options", obj.options) != obj.options:
            values["options"] = form.cleaned_data["options"]
        if not values:
            return obj
        return services.source_update(source=obj, **values)


# The steps of a sync (letters/sync/runs.py and ingest.py), as its page names them.
_SYNC_PHASES = {
    "fetch": "fetching the list",
    "parse": "reading its rows",
    "write": "recording them",
    "load": "recording them: loading the entries known from before",
    "key": "recording them: finding each row's entry",
    "compare": "recording them: comparing with the last fetch",
    "add": "recording them: adding new entries and their people",
    "change": "recording them: changes, entries gone and back",
    "names": "recording them: the names as written",
    "content": "keeping the file fetched",
    "version": "publishing the list's new version",
    "matching": "done; queueing the new names for the duplicate finder",
}


def sync_run_progress(run: SyncRun) -> dict:
    """Where a sync run stands, as its page shows it: the step and the rows read
    so far, as the worker reports them (tracker.progress). A run writes its rows
    in one transaction at its end, so the counts appear once it has finished."""
    pending = run.outcome in (SyncRun.Outcome.QUEUED, SyncRun.Outcome.RUNNING)
    reported = progress_read("sync", run.pk) if run.outcome == SyncRun.Outcome.RUNNING else {}
    running = _SYNC_PHASES.get(reported.get("phase"), "fetching the list, reading its rows")
    if "rows" in reported:
        running += f"; {reported['rows']:,} rows read"
    phase = {
        SyncRun.Outcome.QUEUED: "waiting for a worker to take it",
        SyncRun.Outcome.RUNNING: running
        + (f" (attempt {run.attempts})" if run.attempts > 1 else ""),
        SyncRun.Outcome.SUCCEEDED: "finished: the list was read and recorded",
        SyncRun.Outcome.UNCHANGED: "finished: the list had not changed since the last fetch",
        SyncRun.Outcome.FAILED: "failed, and changed nothing",
        SyncRun.Outcome.SKIPPED: "not run: another run of this source was queued or running",
    }.get(run.outcome, run.outcome)
    return {
        "ended": not pending,
        "phase": phase,
        "status": run.get_outcome_display(),
        "succeeded": run.outcome in (SyncRun.Outcome.SUCCEEDED, SyncRun.Outcome.UNCHANGED),
        "counts": []
        if pending
        else [
            ("rows read", run.seen),
            ("added", run.added),
            ("changed", run.changed),
            ("gone", run.gone),
            ("back", run.back),
        ],
        "note": "The counts appear when the run ends: a run records everything at once, "
        "or nothing if it fails."
        if pending
        else "",
    }


@admin.register(SyncRun)
class SyncRunAdmin(ReadOnlyAdmin):
    """Runs are viewed only; a run's page shows where it stands and refreshes
    itself until the run ends, and so does the list while a run is pending."""

    change_form_template = "admin/letters/syncrun/change_form.html"
    change_list_template = "admin/letters/syncrun/change_list.html"
    # Narrow columns, so that every count shows at 1400 pixels beside the filters;
    # the trigger, the letter and the HTTP status are on the run's page.
    list_display = [
        "id",
        "source_name",
        "outcome",
        "started",
        "duration",
        "seen",
        "added",
        "changed",
        "gone",
        "back",
        "rejected",
    ]
    list_filter = [
        "outcome",
        "trigger",
        related_filter("source__letter", "letter", recent=15),
        related_filter("source", "source", select_related=("letter",)),
    ]
    list_select_related = ["source", "source__letter"]
    date_hierarchy = "started_at"
    search_fields = ["source__name", "source__letter__search_text__contains"]
    fieldsets = [
        (
            None,
            {
                "fields": [
                    "source",
                    "trigger",
                    "requested_by",
                    "outcome",
                    "http_status",
                    "requested_at",
                    "started_at",
                    "finished_at",
                    "duration",
                    "attempts",
                ]
            },
        ),
        ("Counts", {"fields": [("seen", "added", "changed", "gone", "back", "rejected")]}),
        ("Rows left out (cannot be read)", {"fields": ["rejected_rows_table"]}),
        ("What it fetched", {"fields": ["error", "content_hash", "content_link", "events_link"]}),
        ("Difference from the previous run", {"fields": ["diff_pretty"]}),
    ]

    def get_queryset(self, request):
        queryset = super().get_queryset(request)
        if is_changelist(request):
            # A first run's diff lists every name; the list does not show it.
            queryset = queryset.defer("diff")
        return queryset

    @admin.display(description="rows left out")
    def rejected_rows_table(self, run):
        if not run.rejected_rows:
            return "-"
        rows = format_html_join(
            "",
            "<tr><td>{}</td><td>{}</td></tr>",
            ((r["where"], r["reason"]) for r in run.rejected_rows),
        )
        more = run.rejected - len(run.rejected_rows)
        note = format_html("<p>and {} more</p>", f"{more:,}") if more > 0 else ""
        return format_html(
            "<table><thead><tr><th>where</th><th>why</th></tr></thead><tbody>{}</tbody></table>{}",
            rows,
            note,
        )

    @admin.display(description="source", ordering="source__name")
    def source_name(self, run):
        return format_html('<span title="{}">{}</span>', run.source.letter.title, run.source.name)

    @admin.display(description="started", ordering="started_at")
    def started(self, run):
        return short_time(run.started_at)

    @admin.display(description="took")
    def duration(self, run):
        if run.finished_at is None:
            if run.outcome == SyncRun.Outcome.RUNNING:
                return f"{human_duration(timezone.now() - run.started_at)} so far"
            return "-"
        return human_duration(run.finished_at - (run.started_at or run.finished_at))

    def changelist_view(self, request, extra_context=None):
        pending = SyncRun.objects.filter(
            outcome__in=[SyncRun.Outcome.QUEUED, SyncRun.Outcome.RUNNING]
        ).exists()
        extra_context = {**(extra_context or {}), "refresh_seconds": 3 if pending else None}
        return super().changelist_view(request, extra_context)

    def get_fieldsets(self, request, obj=None):
        fieldsets = super().get_fieldsets(request, obj)
        if obj is not None and obj.outcome in (SyncRun.Outcome.QUEUED, SyncRun.Outcome.RUNNING):
            # Zeros would read as "nothing found": the counts come when the run ends.
            return [fieldset for fieldset in fieldsets if fieldset[0] == self.fieldsets[0][0]]
        return fieldsets

    def render_change_form(self, request, context, add=False, change=False, form_url="", obj=None):
        if obj is not None:
            context["progress"] = sync_run_progress(obj)
        return super().render_change_form(request, context, add, change, form_url, obj)

    @admin.display(description="diff")
    def diff_pretty(self, run):
        return pretty_json(run.diff)

    @admin.display(description="content")
    def content_link(self, run):
        content = SyncRunContent.objects.filter(run=run).only("pk", "size", "run").first()
        return admin_link(content, f"{content.size} bytes") if content else "-"

    @admin.display(description="sighting events")
    def events_link(self, run):
        return changelist_link(SightingEvent, "Events of this run", run__id__exact=run.pk)


_PREVIEW_BYTES = 20_000


@admin.register(SyncRunContent)
class SyncRunContentAdmin(ReadOnlyAdmin):
    list_display = ["__str__", "run", "size", "content_type", "compression"]
    list_select_related = ["run", "run__source"]
    search_fields = ["run__source__name", "run__source__letter__search_text__contains"]
    fields = ["run", "size", "content_type", "compression", "preview"]

    def get_queryset(self, request):
        return super().get_queryset(request).defer("data")

    @admin.display(description=f"content (first {_PREVIEW_BYTES:,} bytes)")
    def preview(self, content):
        data = bytes(content.data or b"")
        if content.compression == "gzip":
            try:
                # wbits 32 + MAX_WBITS: a gzip or zlib header, detected.
                data = zlib.decompressobj(32 + zlib.MAX_WBITS).decompress(data, _PREVIEW_BYTES)
            except zlib.error:
                return "(the stored content cannot be decompressed)"
        text = data[:_PREVIEW_BYTES].decode("utf-8", errors="replace")
        return format_html('<pre style="white-space: pre-wrap">{}</pre>', text)


# --- Signatures ------------------------------------------------------------------------


def _when(value) -> str:
    """A moment as the admin shows a date field's (a column computed by a query)."""
    return display_for_value(value, "-")


class SightingInline(ReadOnlyInline):
    model = Sighting
    fk_name = "signature"
    fields = [
        "source",
        "name",
        "title",
        "affiliation",
        "present",
        "first_seen_at",
        "last_seen",
        "gone_at",
    ]
    linked_rows = True
    verbose_name_plural = "sightings: what the sources said"

    def get_queryset(self, request):
        return selectors.sightings_seen(
            super().get_queryset(request).select_related("source", "source__letter")
        )

    @admin.display(description="last seen")
    def last_seen(self, sighting):
        return _when(sighting.seen_at)


class StatusChangeInline(ReadOnlyInline):
    model = SignatureStatusChange
    fields = [
        "changed_at",
        "from_status",
        "to_status",
        "changed_by",
        "actor",
        "reason",
        "evidence_method",
        "evidence_url",
    ]
    verbose_name_plural = "status history"

    def get_queryset(self, request):
        return (
            super()
            .get_queryset(request)
            .select_related("changed_by", "signature__person", "signature__letter")
        )


class SignatureAddForm(ServiceForm):
    """An editor's entry: recorded as a sighting of the letter's manual source."""

    name = forms.CharField(
        max_length=500,
        required=False,
        help_text="The signatory's name as written; needed unless you choose a person.",
    )
    url = forms.URLField(
        label="URL",
        max_length=1000,
        required=False,
        assume_scheme="https",
        help_text="Where the signature can be seen, if anywhere.",
    )

    class Meta:
        model = Signature
        fields = ["letter", "person", "title", "affiliation", "signed_on"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["person"].required = False
        self.fields["person"].help_text = "An existing person; leave empty to enter a name."

    def _get_validation_exclusions(self):
        # A person already on the letter is no error (the one-signature-per-person
        # constraint is not checked here): the entry is recorded as another
        # sighting of their signature, and the message says so.
        return {*super()._get_validation_exclusions(), "person"}


def entry_message(result: services.RecordResult, *, new_person: bool) -> tuple[SafeString, int]:
    """What an editor's entry did, in words, and the level of the message."""
    signature = result.signature
    person = admin_link(signature.person, signature.person.display_name)
    letter = signature.letter.title
    if result.signature_created:
        who = "a new person" if new_person else "already known"
        return (
            format_html(
                "New signature: {} ({}) signed “{}”, recorded as the editors' entry.",
                person,
                who,
                letter,
            ),
            messages.SUCCESS,
        )
    if result.sighting_created:
        return (
            format_html(
                "{} had already signed “{}”: no new signature; your entry was added to the "
                "existing one as another sighting (the editors').",
                person,
                letter,
            ),
            messages.SUCCESS,
        )
    if result.sighting_changed:
        return (
            format_html(
                "{} had already signed “{}”: no new signature; the editors' entry for it was "
                "corrected (the previous values are kept in its history).",
                person,
                letter,
            ),
            messages.SUCCESS,
        )
    return (
        format_html(
            "Nothing changed: the editors' entry already lists {} on “{}” just so.",
            person,
            letter,
        ),
        messages.WARNING,
    )


class StatusChangeForm(forms.Form):
    status = forms.ChoiceField(choices=Signature.Status.choices, label="New status")
    reason = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 3, "cols": 60}),
        help_text="Why the status changes; kept in each signature's history.",
    )
    evidence_method = forms.ChoiceField(
        choices=[("", "---------"), *SignatureStatusChange.Method.choices], required=False
    )
    evidence_url = forms.URLField(
        label="Evidence URL",
        max_length=1000,
        required=False,
        assume_scheme="https",
        validators=[_http_url],
    )


_STATUS_REFUSALS_SHOWN = 10


@admin.register(Signature)
class SignatureAdmin(ServiceAdmin):
    list_display = [
        "person",
        "letter",
        "status",
        "review_flag",
        "title",
        "affiliation",
        "first_seen_at",
        "last_seen",
    ]
    list_filter = ["status", "needs_review", "review_cause", MergedFilter, LetterFilter]
    list_select_related = ["person", "letter"]
    search_fields = ["person__search_text__contains", "letter__search_text__contains"]
    show_full_result_count = False
    autocomplete_fields = ["letter", "person", "organization"]
    actions = ["change_status"]
    fieldsets = [
        (
            None,
            {
                "fields": [
                    "letter",
                    "person",
                    "status",
                    ("needs_review", "review_reason", "review_cause"),
                    "merged_into",
                ]
            },
        ),
        (
            "As stated when signing",
            {"fields": ["title", "affiliation", "organization", "signed_on"]},
        ),
        (
            "Record",
            {"fields": ["first_seen_at", "last_seen", "created_at", "updated_at"]},
        ),
    ]
    readonly_fields = [
        "letter",
        "person",
        "status",
        "review_cause",
        "merged_into",
        "first_seen_at",
        "last_seen",
        "created_at",
        "updated_at",
    ]
    add_form = SignatureAddForm
    add_fieldsets = [
        (None, {"fields": ["letter", "person", "name"]}),
        ("As stated when signing", {"fields": ["title", "affiliation", "signed_on", "url"]}),
    ]
    add_readonly_fields = ()
    inlines = [SightingInline, StatusChangeInline]

    def has_change_permission(self, request, obj=None):
        # A signature merged into another is history; the kept one is edited.
        if obj is not None and obj.merged_into_id:
            return False
        return super().has_change_permission(request, obj)

    def get_queryset(self, request):
        return selectors.signatures_seen(super().get_queryset(request))

    @admin.display(description="last seen", ordering="seen_at")
    def last_seen(self, signature):
        return _when(signature.seen_at)

    @admin.display(description="review", ordering="needs_review")
    def review_flag(self, signature):
        # A warning, not a tick: "needs review = yes" is something to do, not "fine".
        if not signature.needs_review:
            return ""
        return format_html(
            '<span class="needs-review" title="{}">⚠ needs review</span>',
            signature.review_reason or signature.get_review_cause_display(),
        )

    def create(self, request, form):
        data = form.cleaned_data
        started = timezone.now()
        result = services.manual_entry_record(
            letter=data["letter"],
            by=request.user,
            name=data.get("name") or "",
            person=data.get("person"),
            title=data.get("title") or "",
            affiliation=data.get("affiliation") or "",
            signed_on=data.get("signed_on"),
            url=data.get("url") or "",
        )
        request._signature_entry = (result, result.signature.person.created_at >= started)
        return result.signature

    def response_add(self, request, obj, post_url_continue=None):
        """Say what the entry did: a new signature (of a new or a known person),
        a new or changed sighting of a signature already there, or nothing."""
        entry = getattr(request, "_signature_entry", None)
        if entry is None or IS_POPUP_VAR in request.POST:
            return super().response_add(request, obj, post_url_continue)
        result, new_person = entry
        message, level = entry_message(result, new_person=new_person)
        self.message_user(request, message, level)
        if "_addanother" in request.POST:
            url = reverse("admin:letters_signature_add")
            url += "?" + urlencode({"letter": obj.letter_id})
        else:
            url = reverse("admin:letters_signature_change", args=[obj.pk])
        return HttpResponseRedirect(url)

    def update(self, request, obj, form):
        if not form.changed_data:
            return obj
        values = changed_values(
            form,
            {"title", "affiliation", "organization", "signed_on", "needs_review", "review_reason"},
        )
        return services.signature_update_stated(signature=obj, by=request.user, **values)

    @admin.action(description="Change status…", permissions=["change"])
    def change_status(self, request, queryset):
        form = StatusChangeForm(request.POST if "apply" in request.POST else None)
        if form.is_valid():
            self._change_statuses(request, queryset, form.cleaned_data)
            return None
        count = queryset.count()
        sample = list(queryset.select_related("person", "letter")[:20])
        context = {
            **self.admin_site.each_context(request),
            "title": "Change the status of signatures",
            "opts": self.opts,
            "form": form,
            "count": count,
            "sample": sample,
            "more": count - len(sample),
            "selected": request.POST.getlist(helpers.ACTION_CHECKBOX_NAME),
            "select_across": request.POST.get("select_across") == "1",
            "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
            "media": self.media + form.media,
        }
        return TemplateResponse(request, "admin/letters/signature/change_status.html", context)

    def _change_statuses(self, request, queryset, data) -> None:
        status_label = Signature.Status(data["status"]).label
        pks = list(queryset.order_by("pk").values_list("pk", flat=True))

        def selected():
            for start in range(0, len(pks), 500):
                batch = Signature.objects.filter(pk__in=pks[start : start + 500])
                yield from batch.select_related("person", "letter").order_by("pk")

        try:
            done = services.signatures_change_status(
                signatures=selected(),
                status=data["status"],
                reason=data["reason"],
                by=request.user,
                evidence_method=data["evidence_method"],
                evidence_url=data["evidence_url"],
            )
        except DomainError as error:
            self.message_user(request, f"Nothing changed: {error.message}", messages.ERROR)
            return
        changed = len(done.changed)
        refused = [f"{signature}: {message}" for signature, message in done.refused]
        if changed:
            self.message_user(
                request,
                f"Changed the status of {changed} signature(s) to “{status_label}”.",
                messages.SUCCESS,
            )
        for text in refused[:_STATUS_REFUSALS_SHOWN]:
            self.message_user(request, f"Not changed: {text}", messages.WARNING)
        if len(refused) > _STATUS_REFUSALS_SHOWN:
            self.message_user(
                request,
                f"{len(refused) - _STATUS_REFUSALS_SHOWN} more signature(s) not changed.",
                messages.WARNING,
            )


# --- What the sources said ---------------------------------------------------------------


class SightingEventInline(ReadOnlyInline):
    model = SightingEvent
    fields = ["kind", "at", "run", "before", "after"]

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("run", "run__source")


@admin.register(Sighting)
class SightingAdmin(ReadOnlyAdmin):
    list_display = [
        "name",
        "source",
        "signature_link",
        "present",
        "first_seen_at",
        "last_seen",
        "gone_at",
    ]
    list_filter = [
        "present",
        "source__kind",
        related_filter("source__letter", "letter", recent=15),
        related_filter("source", "source", select_related=("letter",)),
    ]
    list_select_related = ["source", "source__letter", "signature", "signature__person"]
    search_fields = [
        "name",
        "signature__person__search_text__contains",
        "source__letter__search_text__contains",
    ]
    show_full_result_count = False
    fieldsets = [
        (None, {"fields": ["source", "key", "signature", "position", "present"]}),
        (
            "As written",
            {
                "fields": [
                    "name",
                    "title",
                    "affiliation",
                    "country",
                    "signed_on",
                    "url",
                    "extra_pretty",
                ]
            },
        ),
        (
            "Seen",
            {
                "fields": [
                    ("first_seen_at", "first_run"),
                    ("last_seen", "last_seen_run"),
                    ("gone_at", "gone_run"),
                    "entered_by",
                ]
            },
        ),
    ]
    inlines = [SightingEventInline]

    def get_queryset(self, request):
        return selectors.sightings_seen(super().get_queryset(request))

    @admin.display(description="last seen", ordering="seen_at")
    def last_seen(self, sighting):
        return _when(sighting.seen_at)

    @admin.display(description="last run")
    def last_seen_run(self, sighting):
        run = selectors.sighting_last_run(sighting)
        return admin_link(run, f"run {run.pk}") if run is not None else "-"

    @admin.display(description="signature", ordering="signature__person__sort_name")
    def signature_link(self, sighting):
        return admin_link(sighting.signature, sighting.signature.person)

    @admin.display(description="extra fields")
    def extra_pretty(self, sighting):
        return pretty_json(sighting.extra)


@admin.register(SightingEvent)
class SightingEventAdmin(ReadOnlyAdmin):
    list_display = ["__str__", "sighting", "kind", "at", "run"]
    list_filter = ["kind"]
    list_select_related = ["sighting", "sighting__source", "run", "run__source"]
    date_hierarchy = "at"
    search_fields = ["sighting__name", "sighting__signature__person__search_text__contains"]
    show_full_result_count = False
    fields = ["sighting", "run", "kind", "at", "before_pretty", "after_pretty"]

    @admin.display(description="before")
    def before_pretty(self, event):
        return pretty_json(event.before)

    @admin.display(description="after")
    def after_pretty(self, event):
        return pretty_json(event.after)


@admin.register(SignatureStatusChange)
class SignatureStatusChangeAdmin(ReadOnlyAdmin):
    list_display = [
        "signature",
        "from_status",
        "to_status",
        "changed_at",
        "changed_by",
        "actor",
        "evidence_method",
    ]
    list_filter = [
        "to_status",
        "evidence_method",
        related_filter("signature__letter", "letter", recent=15),
    ]
    list_select_related = ["signature__person", "signature__letter", "changed_by"]
    date_hierarchy = "changed_at"
    search_fields = [
        "signature__person__search_text__contains",
        "signature__letter__search_text__contains",
        "actor",
        "reason",
    ]
    show_full_result_count = False
    fields = [
        "signature",
        "from_status",
        "to_status",
        "changed_at",
        "changed_by",
        "actor",
        "reason",
        "evidence_method",
        "evidence_url",
    ]


# --- Webhooks ---------------------------------------------------------------------


class WebhookSubscriptionForm(ServiceForm):
    url = forms.URLField(
        max_length=2000,
        assume_scheme="https",
        help_text="Where batches are POSTed: a public http(s) address.",
    )
    events = forms.MultipleChoiceField(
        choices=[(kind, kind) for kind in CHANGE_KINDS],
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text="The change-feed kinds sent; none: every kind.",
    )

    class Meta:
        model = WebhookSubscription
        fields = ["url", "events", "letters"]


class WebhookDeliveriesFormSet(FirstRowsFormSet):
    max_rows = 50


class WebhookDeliveryInline(ReadOnlyInline):
    model = WebhookDelivery
    formset = WebhookDeliveriesFormSet
    fields = [
        "created_at",
        "outcome",
        "first_event_id",
        "last_event_id",
        "event_count",
        "attempts",
        "status_code",
        "duration_ms",
        "error",
        "delivered_at",
    ]
    verbose_name_plural = "deliveries (the last 50; “Webhook deliveries” lists them all)"


@admin.register(WebhookSubscription)
class WebhookSubscriptionAdmin(ServiceAdmin):
    """Subscriptions are created here or on the API; the secret is shown once,
    on the page after creation, and never again."""

    add_form = WebhookSubscriptionForm
    list_display = ["url", "active", "events", "last_event_id", "last_request_at", "created_at"]
    list_filter = ["active"]
    search_fields = ["url"]
    autocomplete_fields = ["letters"]
    fields = [
        "url",
        "events",
        "letters_shown",
        "active",
        "paused_at",
        "paused_reason",
        "ended_at",
        "last_event_id",
        "last_request_at",
        "next_attempt_at",
        "created_by",
        "created_at",
    ]
    readonly_fields = fields
    add_fieldsets = [(None, {"fields": ["url", "events", "letters"]})]
    add_readonly_fields = ()
    inlines = [WebhookDeliveryInline]
    actions = ["pause", "resume", "end"]

    @admin.display(description="letters")
    def letters_shown(self, subscription: WebhookSubscription) -> str:
        return ", ".join(letter.slug for letter in subscription.letters.all()) or "every letter"

    @admin.action(description="Pause (send nothing until resumed)", permissions=["change"])
    def pause(self, request, queryset):
        paused = 0
        for subscription in queryset.filter(active=True, ended_at=None).order_by("pk"):
            webhooks.webhook_subscription_pause(subscription=subscription, by=request.user)
            paused += 1
        self.message_user(request, f"{paused} subscription(s) paused.", messages.SUCCESS)

    @admin.action(description="Resume (send what they missed)", permissions=["change"])
    def resume(self, request, queryset):
        resumed = 0
        for subscription in queryset.filter(active=False, ended_at=None).order_by("pk"):
            webhooks.webhook_subscription_resume(subscription=subscription)
            resumed += 1
        self.message_user(request, f"{resumed} subscription(s) resumed.", messages.SUCCESS)

    @admin.action(description="End (unsubscribe; kept as history)", permissions=["change"])
    def end(self, request, queryset):
        ended = 0
        for subscription in queryset.filter(ended_at=None).order_by("pk"):
            webhooks.webhook_subscription_end(subscription=subscription, by=request.user)
            ended += 1
        self.message_user(request, f"{ended} subscription(s) ended.", messages.SUCCESS)

    def create(self, request, form):
        subscription, secret = webhooks.webhook_subscription_create(
            url=form.cleaned_data["url"],
            events=form.cleaned_data.get("events") or [],
            letters=form.cleaned_data.get("letters") or [],
            by=request.user,
        )
        self.message_user(
            request,
            f"The subscription's secret, shown this once (it signs every delivery): {secret}",
            messages.WARNING,
        )
        return subscription

    def update(self, request, obj, form):
        return obj


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(ReadOnlyAdmin):
    list_display = [
        "created_at",
        "subscription",
        "outcome",
        "first_event_id",
        "last_event_id",
        "event_count",
        "attempts",
        "status_code",
        "duration_ms",
    ]
    list_filter = ["outcome"]
    list_select_related = ["subscription"]
    search_fields = ["subscription__url"]
    fields = [
        "subscription",
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
