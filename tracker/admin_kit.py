"""The pieces every admin of the project shares: links, counts and filters
that stay cheap on large tables, search on the folded texts, writes through
the services with their refusals shown on the form, and read-only
registrations for records nobody edits by hand.

Plumbing: no app is imported here. What depends on an app, such as how its
texts are folded for search, the app's admins give as an attribute.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import Any
from urllib.parse import urlencode

from django import forms
from django.contrib import admin
from django.contrib.admin.utils import flatten_fieldsets, get_fields_from_path
from django.contrib.admin.views.main import ORDER_VAR, ChangeList
from django.core.exceptions import ImproperlyConfigured
from django.db import models
from django.db.models import Count, OuterRef, QuerySet, Subquery
from django.db.models.functions import Coalesce
from django.http import HttpRequest
from django.urls import reverse
from django.utils import timezone
from django.utils.dateformat import format as date_format
from django.utils.html import format_html

from tracker.errors import DomainError

SEARCH_HELP = "Case and accents are ignored: “cuaron” finds “Cuarón”."


def admin_link(obj: models.Model | None, text: Any = None) -> str:
    """A link to an object's admin page; names are escaped."""
    if obj is None:
        return "-"
    url = reverse(f"admin:{obj._meta.app_label}_{obj._meta.model_name}_change", args=[obj.pk])
    return format_html('<a href="{}">{}</a>', url, obj if text is None else text)


def changelist_link(model: type[models.Model], text: Any, **filters: Any) -> str:
    """A link to a model's list, filtered."""
    url = reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_changelist")
    return format_html('<a href="{}?{}">{}</a>', url, urlencode(filters), text)


def pretty_json(value: Any) -> str:
    text = json.dumps(value, indent=2, ensure_ascii=False, sort_keys=True, default=str)
    return format_html('<pre style="white-space: pre-wrap">{}</pre>', text)


def human_duration(value: timedelta | None) -> str:
    """“3.0 s”, “2 min 05 s”, “1 h 04 min”: what an editor reads, not 0:00:03.027467."""
    if value is None:
        return "-"
    seconds = max(value.total_seconds(), 0.0)
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, seconds = divmod(round(seconds), 60)
    if minutes < 60:
        return f"{minutes} min {seconds:02d} s"
    hours, minutes = divmod(minutes, 60)
    if hours < 48:
        return f"{hours} h {minutes:02d} min"
    days, hours = divmod(hours, 24)
    return f"{days} d {hours} h"


def short_time(value) -> str:
    """“2 Dec 01:16”: a moment in a list's narrow column (its page has the full date)."""
    if value is None:
        return "-"
    return date_format(timezone.localtime(value), "j M H:i")


def score_text(probability: float | None, bits: float | None = None) -> str:
    """A match score as a percentage, with its weight of evidence in bits beside
    it: “98.4% (12.3 bits)”."""
    if probability is None:
        return "-"
    percent = f"{probability * 100:.1f}%"
    if percent == "100.0%" and probability < 1:
        percent = "> 99.9%"
    if isinstance(bits, int | float):
        return f"{percent} ({bits:.1f} bits)"
    return percent


def count_of(model: type[models.Model], field: str, **filters: Any) -> Coalesce:
    """How many rows of ``model`` point at each row, as a correlated subquery:
    evaluated only for the rows shown, never as a join over every row."""
    rows = (
        model.objects.filter(**{field: OuterRef("pk")}, **filters)
        .order_by()
        .values(field)
        .annotate(n=Count("pk"))
        .values("n")
    )
    return Coalesce(Subquery(rows, output_field=models.IntegerField()), 0)


def is_changelist(request: HttpRequest) -> bool:
    match = getattr(request, "resolver_match", None)
    return bool(match and match.url_name and match.url_name.endswith("_changelist"))


def is_autocomplete(request: HttpRequest) -> bool:
    match = getattr(request, "resolver_match", None)
    return bool(match and match.url_name == "autocomplete")


class RankedChangeList(ChangeList):
    """A list searched by a ranking search shows the best matches first, unless
    the editor sorts by a column."""

    def get_ordering(self, request, queryset):
        if "search_rank" in queryset.query.annotations and ORDER_VAR not in self.params:
            return ["-search_rank", "-pk"]
        return super().get_ordering(request, queryset)


class FoldedSearchMixin:
    """Search the texts the services keep folded, with the query folded the
    same way by ``search_fold``, which each app's admins set
    (``search_fold = staticmethod(fold)``): the kit knows no app's folding.

    Folded columns are named with ``__contains`` in ``search_fields``: both
    sides are already lower-case ASCII, and a plain LIKE can use PostgreSQL's
    trigram index where UPPER(...) LIKE cannot. It is plain LIKE on SQLite too.
    The same search serves the changelist and the autocomplete widgets.

    An admin whose app has a search of its own (typo-tolerant, ranked) names it
    as ``search_queryset(queryset, text) -> queryset``: it is then used instead
    of ``search_fields``, for the list and the autocomplete alike, and a
    ranking it annotates as ``search_rank`` orders the list.
    """

    search_help_text = SEARCH_HELP
    search_fold: Callable[[str], str] | None = None
    search_queryset: Callable[[QuerySet, str], QuerySet] | None = None

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.search_fields and self.search_fold is None:
            # Unfolded, "Cuarón" would find nothing in a folded column.
            raise ImproperlyConfigured(
                f"{type(self).__qualname__} searches folded texts: set search_fold."
            )

    def get_search_results(self, request, queryset, search_term):
        if search_term.strip() and self.search_queryset is not None:
            return self.search_queryset(queryset, search_term), False
        if search_term.strip() and self.search_fold is not None:
            search_term = self.search_fold(search_term)
            if not search_term:
                # Only punctuation or symbols ("%", "_"): no word to look for.
                return queryset.none(), False
        return super().get_search_results(request, queryset, search_term)

    def get_changelist(self, request, **kwargs):
        return RankedChangeList


def related_filter(
    path: str, title: str, *, recent: int = 0, select_related: tuple[str, ...] = ()
) -> type[admin.SimpleListFilter]:
    """A filter on a foreign key to a large table: it lists the chosen row (and
    the first ``recent`` rows in their default order), never the whole table."""

    class RelatedFilter(admin.SimpleListFilter):
        parameter_name = f"{path}__id__exact"

        def __init__(self, request, params, model, model_admin):
            self.title = title
            self.related_model = get_fields_from_path(model, path)[-1].related_model
            super().__init__(request, params, model, model_admin)

        def chosen(self) -> int | None:
            value = self.value()
            return int(value) if value and value.isdigit() else None

        def lookups(self, request, model_admin):
            rows = self.related_model._default_manager.all()
            if select_related:
                rows = rows.select_related(*select_related)
            shown = list(rows[:recent]) if recent else []
            chosen = self.chosen()
            if chosen is not None and chosen not in {row.pk for row in shown}:
                shown[:0] = list(rows.filter(pk=chosen))
            return [(str(row.pk), str(row)) for row in shown]

        def queryset(self, request, queryset):
            chosen = self.chosen()
            return queryset if chosen is None else queryset.filter(**{f"{path}__pk": chosen})

    RelatedFilter.__name__ = f"{path.title().replace('__', '')}Filter"
    return RelatedFilter


class MergedFilter(admin.SimpleListFilter):
    """Records folded into another stay as history; most lists want the others.
    For models whose ``merged_into`` points at the record they were folded into."""

    title = "record"
    parameter_name = "merged"

    def lookups(self, request, model_admin):
        return [("no", "Kept"), ("yes", "Merged into another")]

    def queryset(self, request, queryset):
        if self.value() in ("no", "yes"):
            return queryset.filter(merged_into__isnull=self.value() == "no")
        return queryset


# Writes through the services. A refusal (DomainError) from a service must show
# on the form, but it comes after validation, inside the admin's transaction.
# So the save raises Refused, the transaction rolls back, and the view runs again
# on the same POST with the refusal attached to the form it belongs to, which
# makes that form invalid and renders it with the message.

_REFUSAL = "_service_refusal"


class Refused(Exception):
    def __init__(self, error: DomainError, prefix: str | None = None) -> None:
        super().__init__(error.message)
        self.error = error
        self.prefix = prefix
        self.on_main_form = prefix is None


@contextmanager
def refusals(prefix: str | None = None) -> Iterator[None]:
    """Turn a service's DomainError into Refused, naming the form that caused it."""
    try:
        yield
    except DomainError as error:
        raise Refused(error, prefix) from error


def become(target: models.Model, saved: models.Model) -> None:
    """Make the form's instance stand for the row a service saved, so that the
    admin's log, redirect and inline formsets use it."""
    if target is saved:
        return
    for field in saved._meta.concrete_fields:
        setattr(target, field.attname, getattr(saved, field.attname))
    target._state.adding = False
    target._state.db = saved._state.db


class ServiceForm(forms.ModelForm):
    refusal: Refused | None = None

    def clean(self):
        cleaned_data = super().clean()
        refusal = self.refusal
        if refusal is None:
            return cleaned_data
        if self.prefix is None and refusal.on_main_form:
            if refusal.prefix is None and refusal.error.field in self.fields:
                self.add_error(refusal.error.field, refusal.error.message)
            else:
                self.add_error(None, refusal.error.message)
        elif self.prefix is not None and self.prefix == refusal.prefix:
            field = refusal.error.field if refusal.error.field in self.fields else None
            self.add_error(field, refusal.error.message)
        return cleaned_data


class ReadOnlyInline(admin.TabularInline):
    """History shown under its parent; nothing here is edited by hand.

    With ``linked_rows`` each row opens its record from a first column, rather
    than from a line Django repeats above every row; the page's template
    includes ``admin/desk/compact_inlines.html`` to drop that line."""

    extra = 0
    can_delete = False
    linked_rows = False

    def get_fields(self, request, obj=None):
        fields = list(self.fields or ())
        return ["record_link", *fields] if self.linked_rows else fields

    def get_readonly_fields(self, request, obj=None):
        return [*self.get_fields(request, obj), *self.readonly_fields]

    @admin.display(description="")
    def record_link(self, obj: models.Model) -> str:
        return admin_link(obj, "open") if obj.pk else "-"

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class ServiceInline(admin.TabularInline):
    """An inline whose rows are written by services: ``add_row``, ``change_row``
    and ``delete_row`` return what they saved."""

    form = ServiceForm
    extra = 0
    allow_delete = False
    formfield_overrides = {models.URLField: {"assume_scheme": "https"}}

    def get_formset(self, request, obj=None, **kwargs):
        formset = super().get_formset(request, obj, **kwargs)
        formset.form.refusal = getattr(request, _REFUSAL, None)
        formset.service_inline = self
        return formset

    def has_delete_permission(self, request, obj=None):
        return self.allow_delete and super().has_delete_permission(request, obj)

    def add_row(self, request, parent, form):
        raise NotImplementedError

    def change_row(self, request, obj, form):
        raise NotImplementedError

    def delete_row(self, request, obj):
        raise NotImplementedError


class ServiceAdmin(FoldedSearchMixin, admin.ModelAdmin):
    """A model admin that saves through services: ``create`` and ``update``
    return the saved object, ``remove`` deletes one (only when ``allow_delete``).
    """

    form = ServiceForm
    add_form: type[forms.ModelForm] | None = None
    add_fieldsets: list | None = None
    add_readonly_fields: tuple | list | None = None
    allow_delete = False
    formfield_overrides = {models.URLField: {"assume_scheme": "https"}}

    def create(self, request, form):
        raise NotImplementedError

    def update(self, request, obj, form):
        raise NotImplementedError

    def remove(self, request, obj) -> None:
        raise NotImplementedError

    def get_fieldsets(self, request, obj=None):
        if obj is None and self.add_fieldsets is not None:
            return self.add_fieldsets
        return super().get_fieldsets(request, obj)

    def get_readonly_fields(self, request, obj=None):
        if obj is None and self.add_readonly_fields is not None:
            return self.add_readonly_fields
        return super().get_readonly_fields(request, obj)

    def get_form(self, request, obj=None, change=False, **kwargs):
        if obj is None and self.add_form is not None:
            kwargs.setdefault("form", self.add_form)
        form = super().get_form(request, obj, change=change, **kwargs)
        form.refusal = getattr(request, _REFUSAL, None)
        return form

    def get_inline_instances(self, request, obj=None):
        # Read-only history has nothing to show on an add page and nothing to
        # save on a POST; skipping it there also spares validating its rows.
        return [
            inline
            for inline in super().get_inline_instances(request, obj)
            if not (
                isinstance(inline, ReadOnlyInline) and (obj is None or request.method == "POST")
            )
        ]

    def changeform_view(self, request, object_id=None, form_url="", extra_context=None):
        try:
            return super().changeform_view(request, object_id, form_url, extra_context)
        except Refused as refused:
            setattr(request, _REFUSAL, refused)
        try:
            return super().changeform_view(request, object_id, form_url, extra_context)
        except Refused as refused:
            # The form the refusal named was not found again: show it on the main form.
            refused.on_main_form = True
            setattr(request, _REFUSAL, refused)
        return super().changeform_view(request, object_id, form_url, extra_context)

    def save_model(self, request, obj, form, change):
        with refusals():
            saved = self.update(request, obj, form) if change else self.create(request, form)
        become(obj, saved)

    def save_related(self, request, form, formsets, change):
        # No form.save_m2m(): many-to-many fields are written by services or not at all.
        for formset in formsets:
            self.save_formset(request, form, formset, change=change)

    def save_formset(self, request, form, formset, change):
        formset.new_objects, formset.changed_objects, formset.deleted_objects = [], [], []
        inline = getattr(formset, "service_inline", None)
        if inline is None:
            return
        deleted = formset.deleted_forms if formset.can_delete else []
        for row in formset.initial_forms:
            if any(row is d for d in deleted):
                with refusals(row.prefix):
                    inline.delete_row(request, row.instance)
                formset.deleted_objects.append(row.instance)
            elif row.has_changed():
                with refusals(row.prefix):
                    saved = inline.change_row(request, row.instance, row)
                formset.changed_objects.append((saved, row.changed_data))
        for row in formset.extra_forms:
            if row.has_changed() and not any(row is d for d in deleted):
                with refusals(row.prefix):
                    saved = inline.add_row(request, formset.instance, row)
                formset.new_objects.append(saved)

    def has_delete_permission(self, request, obj=None):
        return self.allow_delete and super().has_delete_permission(request, obj)

    def delete_model(self, request, obj):
        self.remove(request, obj)

    def delete_queryset(self, request, queryset):
        for obj in queryset:
            self.remove(request, obj)


class ReadOnlyAdmin(FoldedSearchMixin, admin.ModelAdmin):
    """Records written by syncs, the matcher or the services: viewed, never
    added, changed or deleted here. Declare ``fields`` or ``fieldsets``."""

    def get_readonly_fields(self, request, obj=None):
        names = flatten_fieldsets(self.fieldsets) if self.fieldsets else list(self.fields or ())
        return [*names, *self.readonly_fields]

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


def changed_values(form: forms.ModelForm, allowed: set[str] | None = None) -> dict[str, Any]:
    """The cleaned values of the fields the user changed."""
    return {
        name: form.cleaned_data[name]
        for name in form.changed_data
        if name in form.cleaned_data and (allowed is None or name in allowed)
    }
