"""Form fields shared by the admin."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib.admin import AdminSite
from django.db import models

from tracker.parsers import find_unstorable


class StorableJSONField(forms.JSONField):
    """Django's JSON form field, refusing with a form error (not a 500) what
    PostgreSQL cannot store or Python cannot read: NUL and lone surrogates
    anywhere, and nesting deep enough to exhaust the decoder's recursion."""

    def to_python(self, value: Any) -> Any:
        try:
            converted = super().to_python(value)
        except RecursionError:
            raise forms.ValidationError("The JSON is nested too deeply.", code="too_deep") from None
        found = find_unstorable(converted)
        if found is not None:
            path, message, code = found
            where = f" (at {'.'.join(path)})" if path else ""
            raise forms.ValidationError(message + where + ".", code=code)
        return converted

    def bound_data(self, data: Any, initial: Any) -> Any:
        # A refused value is shown again as typed, next to its error: decoded, a
        # lone surrogate could not even be written into the page.
        try:
            value = super().bound_data(data, initial)
        except RecursionError:
            return forms.fields.InvalidJSONInput(data)
        if not isinstance(value, forms.fields.InvalidJSONInput) and find_unstorable(value):
            return forms.fields.InvalidJSONInput(data)
        return value


def admin_json_fields_harden(site: AdminSite) -> None:
    """Give every model admin and inline of ``site`` the field above for JSON."""
    override = {models.JSONField: {"form_class": StorableJSONField}}
    for model_admin in site._registry.values():
        model_admin.formfield_overrides = {**override, **model_admin.formfield_overrides}
        for inline in model_admin.inlines:
            inline.formfield_overrides = {**override, **inline.formfield_overrides}
