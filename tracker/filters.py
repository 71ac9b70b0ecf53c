"""Filter types shared by the apps' APIs."""

from __future__ import annotations

import copy
import datetime
import re

import django_filters
from django import forms
from django.http import QueryDict
from django.utils import timezone
from django_filters.filters import FilterMethod
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field

MAX_ID = 2**63 - 1
_SLUG = re.compile(r"[-a-zA-Z0-9_]+")


class IdField(forms.IntegerField):
    def __init__(self, *args, **kwargs) -> None:
        kwargs.setdefault("min_value", 1)
        kwargs.setdefault("max_value", MAX_ID)
        super().__init__(*args, **kwargs)


@extend_schema_field(OpenApiTypes.INT64)
class IdFilter(django_filters.Filter):
    """A whole, positive id: "1.5" or "-3" is refused rather than rounded."""

    field_class = IdField


class IdOrSlugField(forms.Field):
    """A whole, positive id (digits only, read as an id) or a slug: an int or
    a str. "1.5" or "a b" is refused."""

    default_error_messages = {"invalid": "Give an id (a whole number) or a slug."}
    max_length = 200

    def to_python(self, value):
        text = str(value).strip() if value is not None else ""
        if not text:
            return None
        if text.isascii() and text.isdigit():
            return IdField(required=False).clean(text)
        if len(text) > self.max_length or not _SLUG.fullmatch(text):
            raise forms.ValidationError(self.error_messages["invalid"], code="invalid")
        return text


class IdOrSlugFilter(django_filters.CharFilter):
    """An id or a slug, for a filter that takes either. A text in the schema,
    with its help text as the description (which a schema override would drop)."""

    field_class = IdOrSlugField


class UtcIsoDateTimeField(django_filters.fields.IsoDateTimeField):
    """An ISO 8601 time moved to UTC: Python accepts offsets up to ±23:59, which
    PostgreSQL refuses past ±15:59 (a 500 for "2000-01-01T00:00:00+16:00")."""

    def to_python(self, value):
        parsed = super().to_python(value)
        if parsed is None or not timezone.is_aware(parsed):
            return parsed
        try:
            return parsed.astimezone(datetime.UTC)
        except OverflowError:  # 9999-12-31T23:59-16:00 is past the last year
            raise forms.ValidationError(self.error_messages["invalid"], code="invalid") from None


class IsoDateTimeFilter(django_filters.IsoDateTimeFilter):
    field_class = UtcIsoDateTimeField


class FilterSet(django_filters.FilterSet):
    """django-filter's filter set, with less to build on each request: its filters are
    copied shallowly (besides the model and the filter set, which are set here, they
    hold nothing a request changes) instead of deeply, and its form class is made once
    per filter set instead of a new class with new fields each time (a form copies its
    fields for itself). The same form validates the same query, the same filters apply."""

    def __init__(self, data=None, queryset=None, *, request=None, prefix=None) -> None:
        if queryset is None:
            queryset = self._meta.model._default_manager.all()
        self.is_bound = data is not None
        self.data = data or QueryDict()
        self.queryset = queryset
        self.request = request
        self.form_prefix = prefix
        self.filters = {}
        for name, base in self.base_filters.items():
            filter_ = self.filters[name] = copy.copy(base)
            filter_.model = queryset.model
            filter_.parent = self
            if isinstance(filter_.filter, FilterMethod):  # it calls its own filter's parent
                filter_.filter = FilterMethod(filter_)

    def get_form_class(self) -> type:
        made = type(self).__dict__.get("_form_class")
        if made is None:
            made = super().get_form_class()
            type(self)._form_class = made
        return made


class FiltersOnListMixin:
    """Apply the query-string filters to lists only: a detail, an update or an
    action on one row finds it whatever the filters' defaults (the duplicates
    list shows pending pairs, but a decided pair still has its address)."""

    def filter_queryset(self, queryset):
        if getattr(self, "action", None) != "list":
            return queryset
        return super().filter_queryset(queryset)
