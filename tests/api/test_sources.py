"""/api/sources/ and /api/sync-runs/ (staff): read, create and update sources,
and ask for a sync."""

from __future__ import annotations

from datetime import timedelta

import pytest

from letters.models import Source, SyncRun
from tests.factories import make_letter, make_source

pytestmark = pytest.mark.django_db


def _feed(letter, **fields) -> Source:
    fields.setdefault("kind", "feed")
    fields.setdefault("url", "https://example.org/signatories.csv")
    fields.setdefault("format", "csv")
    return make_source(letter, **fields)


def test_it_creates_a_source_for_a_letter(editor_client):
    letter = make_letter()

    response = editor_client.post(
        "/api/sources/",
        {
            "letter": letter.slug,
            "name": "Organisers' sheet",
            "kind": "feed",
            "url": "https://example.org/signatories.csv",
            "format": "csv",
            "sync_interval": "06:00:00",
        },
        format="json",
    )

    assert response.status_code == 201
    source = Source.objects.get(pk=response.json()["id"])
    assert (source.letter, source.kind, source.sync_interval) == (
        letter,
        "feed",
        timedelta(hours=6),
    )
    assert response.json()["reliability"] == Source.DEFAULT_RELIABILITY["feed"]


def test_it_refuses_a_source_for_an_unknown_letter(editor_client):
    response = editor_client.post(
        "/api/sources/", {"letter": "nope", "name": "X", "kind": "press"}, format="json"
    )

    assert response.status_code == 400
    assert response.json()["field"] == "letter"


def test_it_refuses_a_second_api_source_for_a_letter(editor_client):
    letter = make_letter()
    make_source(letter, name="API", kind="api")

    response = editor_client.post(
        "/api/sources/", {"letter": letter.slug, "name": "More API", "kind": "api"}, format="json"
    )

    assert response.status_code == 409
    assert response.json()["field"] == "kind"


def test_it_refuses_a_sync_interval_under_a_minute_or_absurdly_long(editor_client):
    letter = make_letter()
    base = {"letter": letter.slug, "name": "Feed", "kind": "feed"}

    short = editor_client.post(
        "/api/sources/", {**base, "sync_interval": "00:00:10"}, format="json"
    )
    huge = editor_client.post(
        "/api/sources/", {**base, "sync_interval": "99999999999 00:00:00"}, format="json"
    )

    assert short.status_code == 400 and short.json()["field"] == "sync_interval"
    assert huge.status_code == 400 and huge.json()["field"] == "sync_interval"


def test_it_updates_a_sources_address_and_schedule(editor_client):
    source = _feed(make_letter())

    response = editor_client.patch(
        f"/api/sources/{source.pk}/",
        {"url": "https://example.org/v2.csv", "sync_interval": "P1D", "enabled": False},
        format="json",
    )

    assert response.status_code == 200
    source.refresh_from_db()
    assert (source.url, source.sync_interval, source.enabled) == (
        "https://example.org/v2.csv",
        timedelta(days=1),
        False,
    )


def test_it_refuses_to_rename_a_source_to_a_name_its_letter_already_uses(editor_client):
    letter = make_letter()
    make_source(letter, name="Variety")
    other = make_source(letter, name="Deadline")

    response = editor_client.patch(f"/api/sources/{other.pk}/", {"name": "Variety"}, format="json")

    assert response.status_code == 409
    assert response.json()["field"] == "name"


def test_it_filters_sources_by_letter_and_kind(staff_client):
    first, second = make_letter(), make_letter()
    wanted = make_source(first, name="Variety", kind="press")
    make_source(first, name="Sheet", kind="feed")
    make_source(second, name="Other", kind="press")

    body = staff_client.get("/api/sources/", {"letter": first.slug, "kind": "press"}).json()

    assert [item["id"] for item in body["results"]] == [wanted.pk]


def test_it_queues_a_sync_and_answers_202_with_the_runs_address(editor_client):
    source = _feed(make_letter())

    response = editor_client.post(f"/api/sources/{source.pk}/sync/")

    assert response.status_code == 202
    run = SyncRun.objects.get(source=source)
    assert run.outcome == SyncRun.Outcome.QUEUED
    assert run.requested_by == editor_client.user
    assert response.json()["id"] == run.pk
    assert response["Location"] == f"http://testserver/api/sync-runs/{run.pk}/"


def test_it_refuses_to_sync_a_source_with_nothing_to_fetch(editor_client):
    source = make_source(make_letter(), name="Editors' notes", kind="press")

    response = editor_client.post(f"/api/sources/{source.pk}/sync/")

    assert response.status_code == 400
    assert not SyncRun.objects.filter(outcome=SyncRun.Outcome.QUEUED).exists()


def test_it_shows_a_runs_outcome_error_and_diff(staff_client):
    source = _feed(make_letter())
    run = SyncRun.objects.create(
        source=source,
        outcome=SyncRun.Outcome.FAILED,
        error="The server answered 503.",
        diff={"added": ["Ava DuVernay"]},
    )

    body = staff_client.get(f"/api/sync-runs/{run.pk}/").json()

    assert (body["outcome"], body["error"], body["diff"]) == (
        "failed",
        "The server answered 503.",
        {"added": ["Ava DuVernay"]},
    )
    assert body["source"] == {"id": source.pk, "name": source.name, "letter": source.letter.slug}


def test_it_lists_runs_newest_first_and_filters_them_by_source(staff_client):
    first, second = _feed(make_letter()), _feed(make_letter())
    older = SyncRun.objects.create(source=first, outcome="succeeded")
    newer = SyncRun.objects.create(source=first, outcome="failed")
    SyncRun.objects.create(source=second, outcome="succeeded")

    body = staff_client.get("/api/sync-runs/", {"source": first.pk}).json()
    failed = staff_client.get("/api/sync-runs/", {"outcome": "failed"}).json()

    assert [item["id"] for item in body["results"]] == [newer.pk, older.pk]
    assert [item["id"] for item in failed["results"]] == [newer.pk]


@pytest.mark.parametrize("page_size", [2, 5])
def test_the_source_list_costs_three_queries_whatever_the_page_size(
    staff_client, django_assert_num_queries, page_size
):
    for _ in range(5):
        _feed(make_letter())

    # 1. the token and its user, 2. count, 3. the page of sources with letters
    with django_assert_num_queries(3):
        response = staff_client.get("/api/sources/", {"page_size": page_size})

    assert len(response.json()["results"]) == page_size


@pytest.mark.parametrize("page_size", [2, 5])
def test_the_run_list_costs_three_queries_whatever_the_page_size(
    staff_client, django_assert_num_queries, page_size
):
    source = _feed(make_letter())
    for _ in range(5):
        SyncRun.objects.create(source=source, outcome="succeeded")

    # 1. the token and its user, 2. the count of runs, 3. the page of runs with
    # sources, letters and requesters
    with django_assert_num_queries(3):
        response = staff_client.get("/api/sync-runs/", {"page_size": page_size})

    assert len(response.json()["results"]) == page_size


def test_a_runs_detail_is_found_whatever_the_lists_filters(staff_client):
    run = SyncRun.objects.create(source=_feed(make_letter()), outcome="failed", error="Timeout.")

    response = staff_client.get(f"/api/sync-runs/{run.pk}/", {"outcome": "succeeded"})

    assert response.status_code == 200
    assert response.json()["error"] == "Timeout."
