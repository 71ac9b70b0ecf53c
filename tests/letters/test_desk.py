"""The editor's desk on the admin's index: what needs an editor, counted, each
linked to the list that shows it."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from letters.desk import desk_overview, sources_overdue
from letters.models import Signature, Source, SyncRun
from people.models import MatchJudgement, MatchRun
from tests.factories import make_letter, make_person, make_signature, make_source

pytestmark = pytest.mark.django_db


def counts() -> dict[str, int]:
    return {item.label: item.count for item in desk_overview()}


def pending_pair() -> MatchJudgement:
    people = [make_person("Ava DuVernay"), make_person("Ava Duvernay")]
    first, second = sorted(people, key=lambda person: person.pk)
    return MatchJudgement.objects.create(person_a=first, person_b=second, score=0.8)


def ago(**delta) -> timezone.datetime:
    return timezone.now() - timedelta(**delta)


@pytest.fixture
def desk_rows():
    letter = make_letter()
    pending_pair()
    flagged = make_signature(letter, name="Cate Blanchett")
    Signature.objects.filter(pk=flagged.pk).update(
        needs_review=True, review_cause="gone", review_reason="Gone from the press list."
    )
    make_signature(letter, name="Paul McCartney")
    feed = make_source(
        letter, name="Feed", kind="feed", url="https://example.org/list.csv", format="csv"
    )
    fresh = make_source(
        letter, name="Site", kind="letter_site", url="https://example.org/s.csv", format="csv"
    )
    Source.objects.filter(pk=fresh.pk).update(last_synced_at=ago(minutes=5))
    Source.objects.filter(pk=feed.pk).update(last_synced_at=ago(hours=7))  # every 6 hours
    failed = SyncRun.objects.create(source=feed, outcome="failed", finished_at=timezone.now())
    old_failure = SyncRun.objects.create(source=feed, outcome="failed")
    SyncRun.objects.filter(pk=old_failure.pk).update(started_at=ago(days=8))
    stuck = SyncRun.objects.create(source=fresh, outcome="queued")
    SyncRun.objects.filter(pk=stuck.pk).update(started_at=ago(minutes=40))
    SyncRun.objects.create(source=feed, outcome="succeeded")
    MatchRun.objects.create(mode="full", status="failed", error="Out of memory.")
    return {"failed": failed, "stuck": stuck, "feed": feed}


def test_it_counts_what_needs_an_editor(desk_rows):
    assert counts() == {
        "Suspected duplicates to review": 1,
        "Signatures needing review": 1,
        "Failed syncs (last 7 days)": 1,
        "Stuck syncs (pending over 15 minutes)": 1,
        "Failed duplicate-finder runs (last 7 days)": 1,
        "Stuck duplicate-finder runs (running over 15 minutes)": 0,
        "Sources not synced on schedule": 1,
    }


def test_a_source_is_overdue_past_its_interval_or_never_synced():
    letter = make_letter()
    never = make_source(letter, name="New", kind="feed", url="https://example.org/a", format="csv")
    make_source(letter, name="Off", kind="feed", url="https://example.org/b", format="csv")
    Source.objects.filter(name="Off").update(enabled=False)
    make_source(letter, name="Typed")  # nothing to fetch
    assert list(sources_overdue()) == [never]
    Source.objects.filter(pk=never.pk).update(last_synced_at=ago(hours=1))
    assert list(sources_overdue()) == []


def test_each_count_links_to_the_list_that_shows_those_rows(admin_client_staff, desk_rows):
    content = admin_client_staff.get(reverse("admin:index")).content.decode()
    links = {
        label.strip(): url.replace("&amp;", "&")
        for url, _count, label in re.findall(
            r'<a href="([^"]+)"><span class="desk-count">(\d+)</span>([^<]+)</a>', content
        )
    }
    assert len(links) == 7
    shown = {
        label: admin_client_staff.get(url).context
        for label, url in links.items()
        if "review/" not in url
    }
    assert [row.pk for row in shown["Failed syncs (last 7 days)"]["cl"].result_list] == [
        desk_rows["failed"].pk
    ]
    assert [row.pk for row in shown["Stuck syncs (pending over 15 minutes)"]["cl"].result_list] == [
        desk_rows["stuck"].pk
    ]
    assert [row.pk for row in shown["Sources not synced on schedule"]["cl"].result_list] == [
        desk_rows["feed"].pk
    ]
    flagged = shown["Signatures needing review"]["cl"].result_list
    assert [signature.needs_review for signature in flagged] == [True]
    assert (
        len(admin_client_staff.get(links["Suspected duplicates to review"]).context["pairs"]) == 1
    )


def test_the_desk_costs_the_same_queries_however_much_is_on_it(
    admin_client_staff, django_assert_max_num_queries
):
    url = reverse("admin:index")
    admin_client_staff.get(url)
    # 1. session, 2. user, 3-9. one count for each of the seven items, 10. the
    # admin's "recent actions".
    with django_assert_max_num_queries(10):
        assert admin_client_staff.get(url).status_code == 200
    for _ in range(3):
        pending_pair()
        MatchRun.objects.create(mode="full", status="failed")
    with django_assert_max_num_queries(10):
        assert admin_client_staff.get(url).status_code == 200
