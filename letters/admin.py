"""Admin for letters, their targets and sources, signatures and what the
sources said. Entries go through the services (see tracker.admin_kit for the
shared pieces); sync runs and histories are shown, never edited."""

from __future__ import annotations

import zlib
from urllib.parse import urlencode

from django import forms
from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.core.validators import URLValidator
from django.forms.models import BaseInlineFormSet
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.html import format_html, format_html_join

from letters import services
from letters.models import (
    Letter,
    LetterTarget,
    Sighting,
    SightingEvent,
    Signature,
    SignatureStatusChange,
    Source,
    SyncRun,
    SyncRunContent,
)
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
    is_changelist,
    pretty_json,
    related_filter,
)
from tracker.errors import DomainError

LetterFilter = related_filter("letter", "letter", recent=15)
SIGNATURES_SHOWN_ON_LETTER = 50
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
    show_change_link = True
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


@admin.register(Letter)
class LetterAdmin(ServiceAdmin):
    list_display = ["title", "status", "published_on", "claimed_count", "signature_count"]
    list_filter = ["status", "language"]
    date_hierarchy = "published_on"
    search_fields = ["search_text__contains"]
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
    inlines = [LetterTargetInline, LetterSignatureInline]

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


class SourceForm(ServiceForm):
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

    def clean_name(self):
        return clean_whitespace(self.cleaned_data["name"])

    def clean_url(self):
        url = (self.cleaned_data.get("url") or "").strip()
        if url:
            _http_url(url)
        return url

    def clean_options(self):
        options = self.cleaned_data.get("options")
        if options is None:
            return {}
        if not isinstance(options, dict):
            raise forms.ValidationError('Options are an object, such as {"key": "signatories"}.')
        return options


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


@admin.register(Source)
class SourceAdmin(ServiceAdmin):
    form = SourceForm
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
    list_filter = ["kind", "format", "enabled", LetterFilter]
    list_select_related = ["letter"]
    search_fields = ["name", "letter__search_text__contains"]
    autocomplete_fields = ["letter"]
    fieldsets = [
        (None, {"fields": ["letter", "name", "kind", "url", "format", "options"]}),
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
            {"fields": ["last_synced_at", "etag", "last_modified", "content_hash", "runs_link"]},
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
        "created_at",
        "updated_at",
    ]
    add_fieldsets = [
        (None, {"fields": ["letter", "name", "kind", "url", "format", "options"]}),
        (
            "Schedule",
            {"fields": ["enabled", "reliability", "max_rejected_percent", "sync_interval"]},
        ),
    ]
    add_readonly_fields = ()

    actions = ["sync_now"]

    @admin.action(description="Sync now", permissions=["change"])
    def sync_now(self, request, queryset):
        from letters.sync import sync_request

        for source in queryset.order_by("pk"):
            try:
                run = sync_request(source=source, by=request.user)
            except DomainError as exc:
                self.message_user(request, f"{source}: {exc.message}", messages.WARNING)
                continue
            level = messages.SUCCESS if run.outcome == SyncRun.Outcome.QUEUED else messages.WARNING
            self.message_user(
                request, f"{source}: run {run.pk} {run.outcome}. {run.error}".strip(), level
            )

    @admin.display(description="runs")
    def runs_link(self, source):
        return changelist_link(SyncRun, "Runs of this source", source__id__exact=source.pk)

    def create(self, request, form):
        return services.source_create(
            **{name: form.cleaned_data.get(name) for name in _SOURCE_ADD_FIELDS}
        )

    def update(self, request, obj, form):
        values = changed_values(form, services.SOURCE_EDITABLE_FIELDS)
        if not values:
            return obj
        return services.source_update(source=obj, **values)


@admin.register(SyncRun)
class SyncRunAdmin(ReadOnlyAdmin):
    list_display = [
        "id",
        "source",
        "outcome",
        "trigger",
        "started_at",
        "finished_at",
        "seen",
        "added",
        "changed",
        "gone",
        "back",
        "rejected",
        "http_status",
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
        "last_seen_at",
        "gone_at",
    ]
    show_change_link = True
    verbose_name_plural = "sightings: what the sources said"

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("source", "source__letter")


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
        "needs_review",
        "title",
        "affiliation",
        "first_seen_at",
        "last_seen_at",
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
            {"fields": ["first_seen_at", "last_seen_at", "created_at", "updated_at"]},
        ),
    ]
    readonly_fields = [
        "letter",
        "person",
        "status",
        "review_cause",
        "merged_into",
        "first_seen_at",
        "last_seen_at",
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

    def create(self, request, form):
        data = form.cleaned_data
        return services.signature_record_manual(
            letter=data["letter"],
            by=request.user,
            name=data.get("name") or "",
            person=data.get("person"),
            title=data.get("title") or "",
            affiliation=data.get("affiliation") or "",
            signed_on=data.get("signed_on"),
            url=data.get("url") or "",
        )

    def update(self, request, obj, form):
        if not form.changed_data:
            return obj
        values = changed_values(
            form,
            {"title", "affiliation", "organization", "signed_on", "needs_review", "review_reason"},
        )
        return services.signature_update_stated(signature=obj, **values)

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
        changed, refused = 0, []
        for start in range(0, len(pks), 500):
            batch = Signature.objects.filter(pk__in=pks[start : start + 500]).select_related(
                "person", "letter"
            )
            for signature in batch.order_by("pk"):
                try:
                    services.signature_change_status(
                        signature=signature,
                        status=data["status"],
                        reason=data["reason"],
                        by=request.user,
                        evidence_method=data["evidence_method"],
                        evidence_url=data["evidence_url"],
                    )
                except DomainError as error:
                    refused.append(f"{signature}: {error.message}")
                else:
                    changed += 1
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
        "last_seen_at",
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
                    ("last_seen_at", "last_run"),
                    ("gone_at", "gone_run"),
                    "entered_by",
                ]
            },
        ),
    ]
    inlines = [SightingEventInline]

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
