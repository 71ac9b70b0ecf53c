"""The admin kit on its own: links, the filter on a large table, folded search,
changed values, and that it stands on no app."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
from django import forms
from django.contrib import admin
from django.contrib.auth.models import Group, Permission
from django.core.exceptions import ImproperlyConfigured
from django.test import RequestFactory
from django.urls import reverse

from tracker import admin_kit
from tracker.admin_kit import admin_link, changed_values, changelist_link, related_filter

PermissionFilter = related_filter("permissions", "permission", recent=3)


def permission_filter(chosen: object = None):
    params = {} if chosen is None else {"permissions__id__exact": [str(chosen)]}
    return PermissionFilter(RequestFactory().get("/"), params, Group, None)


def test_it_imports_no_app():
    tree = ast.parse(Path(admin_kit.__file__).read_text())
    imported = {
        alias.name
        for node in ast.walk(tree)
        if isinstance(node, ast.Import)
        for alias in node.names
    }
    imported |= {node.module or "" for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)}
    assert not {name for name in imported if name.split(".")[0] in {"people", "letters"}}


@pytest.mark.django_db
def test_it_escapes_names_in_links():
    group = Group.objects.create(name="<b>Arts & Letters</b>")
    link = admin_link(group)
    assert link == (
        f'<a href="{reverse("admin:auth_group_change", args=[group.pk])}">'
        "&lt;b&gt;Arts &amp; Letters&lt;/b&gt;</a>"
    )
    assert admin_link(group, "<i>").endswith(">&lt;i&gt;</a>")
    assert admin_link(None) == "-"


def test_it_links_to_a_filtered_list_with_the_text_escaped():
    link = changelist_link(Group, "3 <groups>", name="a&b", id__exact=7)
    url = reverse("admin:auth_group_changelist")
    assert link == f'<a href="{url}?name=a%26b&amp;id__exact=7">3 &lt;groups&gt;</a>'


@pytest.mark.django_db
def test_the_related_filter_lists_the_first_rows_and_the_chosen_one_never_the_table():
    first = list(Permission.objects.all()[:3])
    chosen = Permission.objects.all()[10]
    assert Permission.objects.count() > 20

    assert [value for value, _ in permission_filter().lookup_choices] == [
        str(row.pk) for row in first
    ]
    assert permission_filter(chosen.pk).lookup_choices == [
        (str(chosen.pk), str(chosen)),
        *[(str(row.pk), str(row)) for row in first],
    ]
    # A chosen row among the first is listed once.
    assert len(permission_filter(first[1].pk).lookup_choices) == 3


@pytest.mark.django_db
def test_the_related_filter_keeps_the_rows_pointing_at_the_chosen_one():
    chosen, other = Permission.objects.all()[:2]
    editors = Group.objects.create(name="editors")
    editors.permissions.add(chosen)
    Group.objects.create(name="readers").permissions.add(other)
    request = RequestFactory().get("/")

    assert list(permission_filter(chosen.pk).queryset(request, Group.objects.all())) == [editors]
    assert permission_filter().queryset(request, Group.objects.all()).count() == 2
    # Not a number: no filter, no error.
    assert permission_filter("x").queryset(request, Group.objects.all()).count() == 2


class LowerCaseGroupAdmin(admin_kit.ReadOnlyAdmin):
    fields = ["name"]
    search_fields = ["name__contains"]
    search_fold = staticmethod(str.lower)


@pytest.mark.django_db
def test_search_folds_the_query_with_the_admins_folding():
    Group.objects.create(name="ava duvernay")
    Group.objects.create(name="Ava DuVernay")
    model_admin = LowerCaseGroupAdmin(Group, admin.AdminSite())
    request = RequestFactory().get("/")

    found, _ = model_admin.get_search_results(request, Group.objects.all(), "AVA DuVERNAY")
    assert [group.name for group in found] == ["ava duvernay"]


def test_an_admin_that_searches_without_a_folding_is_refused_at_startup():
    class UnfoldedGroupAdmin(admin_kit.ReadOnlyAdmin):
        fields = ["name"]
        search_fields = ["name__contains"]

    with pytest.raises(ImproperlyConfigured, match="set search_fold"):
        UnfoldedGroupAdmin(Group, admin.AdminSite())
    # Without search fields there is nothing to fold.
    UnfoldedGroupAdmin.search_fields = ()
    UnfoldedGroupAdmin(Group, admin.AdminSite())


class NoteForm(forms.Form):
    title = forms.CharField()
    note = forms.CharField(required=False)
    secret = forms.CharField(required=False)


def test_changed_values_are_the_changed_fields_among_those_allowed():
    initial = {"title": "Open letter", "note": "", "secret": ""}
    form = NoteForm(
        {"title": "Open letter", "note": "signed twice", "secret": "x"}, initial=initial
    )
    assert form.is_valid()

    assert changed_values(form) == {"note": "signed twice", "secret": "x"}
    assert changed_values(form, {"title", "note"}) == {"note": "signed twice"}

    unchanged = NoteForm(initial, initial=initial)
    assert unchanged.is_valid()
    assert changed_values(unchanged) == {}


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (3.027467, "3.0 s"),
        (0, "0.0 s"),
        (125, "2 min 05 s"),
        (3 * 3600 + 4 * 60 + 10, "3 h 04 min"),
        (3 * 86400 + 3600, "3 d 1 h"),
    ],
)
def test_durations_read_as_people_say_them(seconds, text):
    from datetime import timedelta

    assert admin_kit.human_duration(timedelta(seconds=seconds)) == text


def test_a_missing_duration_reads_as_a_dash():
    assert admin_kit.human_duration(None) == "-"


@pytest.mark.parametrize(
    ("probability", "bits", "text"),
    [
        (0.9843320487698093, 12.34, "98.4% (12.3 bits)"),
        (0.61, None, "61.0%"),
        (0.99999, 20.0, "> 99.9% (20.0 bits)"),
        (None, None, "-"),
    ],
)
def test_scores_read_as_percentages_with_the_bits_beside(probability, bits, text):
    assert admin_kit.score_text(probability, bits) == text


def test_a_list_shows_a_moment_short_in_the_local_time(settings):
    from datetime import UTC, datetime

    settings.TIME_ZONE = "UTC"
    assert admin_kit.short_time(datetime(2026, 12, 2, 1, 16, 30, tzinfo=UTC)) == "2 Dec 01:16"
    assert admin_kit.short_time(None) == "-"
