"""/api/match-runs/ (staff): runs of the duplicate finder, and asking for one."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.utils import timezone

from people.models import MatchRun
from tests.api.conftest import _client_for
from tests.factories import make_person

pytestmark = pytest.mark.django_db

URL = "/api/match-runs/"


def finished_run(**fields) -> MatchRun:
    started = timezone.now() - timedelta(minutes=5)
    run = MatchRun.objects.create(
        mode=fields.pop("mode", "full"),
        status="succeeded",
        finished_at=started + timedelta(seconds=190, milliseconds=200),
        **fields,
    )
    MatchRun.objects.filter(pk=run.pk).update(started_at=started)
    run.refresh_from_db()
    return run


@pytest.fixture
def runner(db):
    """Staff who may ask for runs (people.add_matchrun) and nothing else."""
    user = get_user_model().objects.create_user(
        username="runner", password="runner-password-123", is_staff=True
    )
    user.user_permissions.set(Permission.objects.filter(codename="add_matchrun"))
    return _client_for(user)


@pytest.fixture
def reviewer(db):
    """Staff who may decide pairs but not ask for runs."""
    user = get_user_model().objects.create_user(
        username="reviewer", password="reviewer-password-123", is_staff=True
    )
    user.user_permissions.set(Permission.objects.filter(codename="change_matchjudgement"))
    return _client_for(user)


def test_it_lists_runs_newest_first_with_their_counts(staff_client, editor):
    older = finished_run(people_considered=16, pairs_scored=40, merged=5, queued=1)
    newer = finished_run(
        mode="incremental", people_considered=3, blocked_by_judgements=2, requested_by=editor
    )

    body = staff_client.get(URL).json()

    assert [item["id"] for item in body["results"]] == [newer.pk, older.pk]
    item = body["results"][1]
    assert {
        key: item[key]
        for key in (
            "mode",
            "status",
            "people_considered",
            "pairs_scored",
            "merged",
            "queued",
            "blocked_by_judgements",
            "duration",
            "requested_by",
        )
    } == {
        "mode": "full",
        "status": "succeeded",
        "people_considered": 16,
        "pairs_scored": 40,
        "merged": 5,
        "queued": 1,
        "blocked_by_judgements": 0,
        "duration": 190.2,
        "requested_by": None,
    }
    assert body["results"][0]["requested_by"] == "editor"
    assert body["results"][0]["api_url"].endswith(f"/api/match-runs/{newer.pk}/")


def test_it_shows_one_run(staff_client):
    run = MatchRun.objects.create(mode="full", status="running")

    body = staff_client.get(f"{URL}{run.pk}/").json()

    assert (body["id"], body["status"], body["duration"]) == (run.pk, "running", None)
    assert staff_client.get(f"{URL}987654/").status_code == 404


def test_it_pages_the_runs_with_a_cursor(staff_client):
    runs = [finished_run() for _ in range(3)]

    first = staff_client.get(URL, {"page_size": 2}).json()
    second = staff_client.get(first["next"]).json()

    assert [item["id"] for item in first["results"]] == [runs[2].pk, runs[1].pk]
    assert [item["id"] for item in second["results"]] == [runs[0].pk]
    assert second["next"] is None


@pytest.mark.parametrize("page_size", [2, 5])
def test_the_run_list_costs_three_queries_whatever_the_page_size(
    staff_client, django_assert_num_queries, page_size, editor
):
    for _ in range(5):
        finished_run(requested_by=editor)

    # 1. the token and its user, 2. the count of runs, 3. the page of runs with
    # who asked for each
    with django_assert_num_queries(3):
        response = staff_client.get(URL, {"page_size": page_size})

    assert len(response.json()["results"]) == page_size


# --- Asking for a run -----------------------------------------------------------------


def test_a_full_run_is_queued_and_answered_with_202(staff_client, staff_user):
    response = staff_client.post(URL, {"full": True}, format="json")

    assert response.status_code == 202
    run = MatchRun.objects.get()
    body = response.json()
    assert (body["id"], body["mode"], body["status"], body["requested_by"]) == (
        run.pk,
        "full",
        "running",
        "staff",
    )
    assert response["Location"] == body["api_url"]
    assert (run.requested_by, run.focus) == (staff_user, [])


def test_an_incremental_run_looks_at_the_people_changed_since_the_last_run(staff_client):
    make_person("Ava DuVernay")
    finished_run()
    MatchRun.objects.update(finished_at=timezone.now())
    newcomer = make_person("Cate Blanchett")

    response = staff_client.post(URL, {"full": False}, format="json")

    assert response.status_code == 202
    assert response.json()["mode"] == "incremental"
    assert MatchRun.objects.get(pk=response.json()["id"]).focus == [newcomer.pk]


def test_a_run_asked_for_while_one_is_going_is_answered_as_skipped(staff_client):
    going = MatchRun.objects.create(mode="full", status="running")

    response = staff_client.post(URL, {"full": True}, format="json")

    assert response.status_code == 202
    body = response.json()
    assert body["id"] != going.pk
    assert (body["status"], body["error"]) == ("skipped", "Another run was in progress.")
    going.refresh_from_db()
    assert going.status == "running"


@pytest.mark.parametrize("data", [{}, {"full": "maybe"}, {"full": None}])
def test_a_request_without_a_clear_kind_of_run_is_refused(staff_client, data):
    response = staff_client.post(URL, data, format="json")

    assert response.status_code == 400
    assert response.json()["field"] == "full"
    assert not MatchRun.objects.exists()


def test_a_repeated_request_with_the_same_key_queues_one_run(staff_client):
    headers = {"HTTP_IDEMPOTENCY_KEY": "run-2025-03-18"}

    first = staff_client.post(URL, {"full": True}, format="json", **headers)
    again = staff_client.post(URL, {"full": True}, format="json", **headers)

    assert first.status_code == again.status_code == 202
    assert again.json()["id"] == first.json()["id"]
    assert MatchRun.objects.count() == 1


@pytest.mark.parametrize(
    ("caller", "read", "ask"),
    [
        ("anon", 401, 401),
        ("reader", 403, 403),
        ("reviewer", 200, 403),
        ("runner", 200, 202),
        ("editor_client", 200, 202),
        ("staff_client", 200, 202),
    ],
)
def test_only_staff_read_runs_and_only_those_allowed_to_add_runs_ask_for_one(
    request, caller, read, ask
):
    client = request.getfixturevalue(caller)

    assert client.get(URL).status_code == read
    assert client.post(URL, {"full": True}, format="json").status_code == ask
    assert MatchRun.objects.count() == (1 if ask == 202 else 0)
