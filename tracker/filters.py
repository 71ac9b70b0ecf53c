"""Filter types shared by the apps' APIs."""

from __future__ import annotations

import datetime

import django_filters
from django import forms
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field

MAX_ID = 2**63 - 1


class IdField(forms.IntegerField):
    def __init__(self, *args, **kwargs) -> None:
        kwargs.setdefault("min_value", 1)
        kwargs.setdefault("max_value", MAX_ID)
        super().__init__(*args, **kwargs)


@extend_schema_field(OpenApiTypes.INT64)
class IdFilter(django_filters.Filter):
    """A whole, positive id: "1.5" or "-3" is refused rather than rounded."""

    field_class = IdField


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


class FiltersOnListMixin:
    """Apply the query-string filters to lists only: a detail, an update or an
    action on one row finds it whatever the filters' defaults (the duplicates
    list shows pending pairs, but a decided pair still has its address)."""

    def filter_queryset(self, queryset):
        if getattr(self, "action", None) != "list":
            return queryset
        return super().filter_queryset(queryset)
