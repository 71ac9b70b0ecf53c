"""/api/merges/ (staff): merges of people, newest first, and undoing them, whole or in part."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission

from people.merging import runs
from people.merging.merge import person_merge
from people.merging.undo import merge_undo
from people.models import MatchJudgement, Merge, Person
from tests.api.conftest import _client_for
from tests.factories import make_person
from tests.people.merging.test_runs import ostp_letter, sign

pytestmark = pytest.mark.django_db

URL = "/api/merges/"


def merged(survivor: str = "Maggie Gyllenhaal", other: str = "Maggie Gylenhall", **kw) -> Merge:
    return person_merge(survivor=make_person(survivor), merged=make_person(other), **kw)


def chain() -> tuple[Person, Person, Person, Merge]:
    """Cate merged into Blanchett, then Blanchett into the survivor: the last merge
    brought in two records."""
    survivor, middle, first = (make_person(n) for n in ["Cate Blanchett", "Blanchett", "Cate"])
    person_merge(survivor=middle, merged=first)
    return survivor, middle, first, person_merge(survivor=survivor, merged=middle)


def undo(client, merge: Merge, **data):
    return client.post(f"{URL}{merge.pk}/undo/", {"reason": "Two people.", **data}, format="json")


def different(one: Person, other: Person) -> bool:
    first, second = sorted((one.pk, other.pk))
    return MatchJudgement.objects.filter(
        person_a_id=first, person_b_id=second, decision="different"
    ).exists()


# --- The list and one merge ---------------------------------------------------------


def test_it_lists_merges_newest_first_with_the_names_they_had_when_merged(staff_client, editor):
    older = merged(reason="Automatic.", automatic=True)
    newer = merged("Ava DuVernay", "Ava Duvernay", by=editor, reason="Same director.")
    Person.objects.filter(pk=newer.survivor_id).update(display_name="Ava Marie DuVernay")

    body = staff_client.get(URL).json()

    assert [item["id"] for item in body["results"]] == [newer.pk, older.pk]
    item = body["results"][0]
    assert item["survivor"] == {
        "id": newer.survivor_id,
        "name": "Ava DuVernay",
        "api_url": f"http://testserver/api/people/{newer.survivor_id}/",
    }
    assert (item["merged"]["id"], item["merged"]["name"]) == (newer.merged_id, "Ava Duvernay")
    assert (item["automatic"], item["reason"], item["by"]) == (False, "Same director.", "editor")
    assert (item["undone_at"], item["undo_reason"]) == (None, "")
    assert item["api_url"] == f"http://testserver/api/merges/{newer.pk}/"
    assert (body["results"][1]["automatic"], body["results"][1]["by"]) == (True, None)


def test_it_lists_the_merges_of_one_person_on_either_side(staff_client):
    first = merged()
    second = person_merge(survivor=make_person("Maggie G."), merged=first.survivor)
    merged("Ava DuVernay", "Ava Duvernay")

    body = staff_client.get(URL, {"person": first.survivor_id}).json()

    assert [item["id"] for item in body["results"]] == [second.pk, first.pk]


def test_it_lists_undone_or_standing_merges_when_asked(staff_client):
    standing, undone = merged(), merged("Ava DuVernay", "Ava Duvernay")
    merge_undo(merge=undone, reason="Two people.")

    assert [i["id"] for i in staff_client.get(URL, {"undone": "true"}).json()["results"]] == [
        undone.pk
    ]
    assert [i["id"] for i in staff_client.get(URL, {"undone": "false"}).json()["results"]] == [
        standing.pk
    ]


def test_it_pages_the_merges_with_a_cursor(staff_client):
    merges = [merged(f"Person Alpha{n}", f"Person Beta{n}") for n in range(3)]

    first = staff_client.get(URL, {"page_size": 2}).json()
    second = staff_client.get(first["next"]).json()

    assert [item["id"] for item in first["results"]] == [merges[2].pk, merges[1].pk]
    assert [item["id"] for item in second["results"]] == [merges[0].pk]
    assert second["next"] is None


@pytest.mark.parametrize("page_size", [2, 5])
def test_the_merge_list_costs_three_queries_whatever_the_page_size(
    staff_client, django_assert_num_queries, page_size, editor
):
    merges = [merged(f"Person Alpha{n}", f"Person Beta{n}", by=editor) for n in range(5)]
    merge_undo(merge=merges[-1], by=editor, reason="Two people.")

    # 1. the token and its user, 2. the count of merges, 3. the page of merges with
    # who made and who undid each (the names are the merge's own; what moved is not read)
    with django_assert_num_queries(3):
        response = staff_client.get(URL, {"page_size": page_size})

    assert len(response.json()["results"]) == page_size


def test_a_merge_shows_the_records_an_undo_can_take_back_out(staff_client):
    survivor, middle, first, merge = chain()

    body = staff_client.get(f"{URL}{merge.pk}/").json()

    assert [(p["id"], p["name"]) for p in body["people"]] == [
        (middle.pk, "Blanchett"),
        (first.pk, "Cate"),
    ]
    assert body["people"][0]["api_url"] == f"http://testserver/api/people/{middle.pk}/"
    assert body["undo_detail"] is None
    assert body["survivor"]["id"] == survivor.pk


def test_an_unknown_merge_answers_404(staff_client):
    assert staff_client.get(f"{URL}987654/").status_code == 404
    assert undo(staff_client, Merge(pk=987654)).status_code == 404


# --- Undo ------------------------------------------------------------------------------


def test_undoing_a_merge_separates_the_two_and_judges_them_different(editor_client):
    merge = merged()

    response = undo(editor_client, merge, reason="Two actors of one name.")

    assert response.status_code == 200
    merge.refresh_from_db()
    assert (merge.undone_at is not None, merge.undo_reason) == (True, "Two actors of one name.")
    assert Person.objects.get(pk=merge.merged_id).merged_into_id is None
    assert different(merge.survivor, merge.merged)
    body = response.json()
    assert (body["undone_by"], body["undo_reason"], body["people"]) == (
        "editor",
        "Two actors of one name.",
        [],
    )
    assert body["undone_at"] is not None


def test_undoing_part_of_a_merge_takes_out_only_the_chosen_records(editor_client):
    survivor, middle, first, merge = chain()

    response = undo(editor_client, merge, people=[first.pk])

    assert response.status_code == 200
    assert Person.objects.get(pk=first.pk).merged_into_id is None
    assert Person.objects.get(pk=middle.pk).merged_into_id == survivor.pk
    assert different(survivor, first)
    kept_in = Merge.objects.get(merged=middle, undone_at__isnull=True)
    assert response.json()["undo_detail"] == {"people": [first.pk], "kept_in": [kept_in.pk]}


def test_an_undo_naming_a_record_that_did_not_come_in_with_the_merge_is_refused(editor_client):
    merge = merged()
    stranger = make_person("Ava DuVernay")

    response = undo(editor_client, merge, people=[stranger.pk])

    assert response.status_code == 400
    assert response.json()["field"] == "people"
    assert Merge.objects.get(pk=merge.pk).undone_at is None


@pytest.mark.parametrize("data", [{}, {"reason": ""}, {"reason": "   "}])
def test_an_undo_without_a_reason_is_refused(editor_client, data):
    merge = merged()

    response = editor_client.post(f"{URL}{merge.pk}/undo/", data, format="json")

    assert response.status_code == 400
    assert response.json()["field"] == "reason"
    assert Merge.objects.get(pk=merge.pk).undone_at is None


def test_a_merge_undone_twice_is_refused_with_409(editor_client):
    merge = merged()
    undo(editor_client, merge)

    again = undo(editor_client, merge)

    assert again.status_code == 409
    assert again.json()["code"] == "already_undone"
    assert Merge.objects.filter(undone_at__isnull=False).count() == 1


def test_a_merge_whose_survivor_was_merged_again_waits_for_the_later_undo(editor_client):
    merge = merged()
    later = person_merge(survivor=make_person("Maggie G."), merged=merge.survivor)

    refused = undo(editor_client, merge)

    assert refused.status_code == 409
    assert refused.json()["code"] == "undo_later_first"
    assert f"#{later.pk}" in refused.json()["message"]
    assert Merge.objects.get(pk=merge.pk).undone_at is None


@pytest.fixture
def reviewer(db):
    """Staff who may decide pairs but not undo merges."""
    user = get_user_model().objects.create_user(
        username="reviewer", password="reviewer-password-123", is_staff=True
    )
    user.user_permissions.set(Permission.objects.filter(codename="change_matchjudgement"))
    return _client_for(user)


@pytest.mark.parametrize(
    ("caller", "read", "write"),
    [
        ("anon", 401, 401),
        ("reader", 403, 403),
        ("reviewer", 200, 403),
        ("editor_client", 200, 200),
    ],
)
def test_only_staff_read_merges_and_only_those_allowed_to_change_merges_undo_one(
    request, caller, read, write
):
    client = request.getfixturevalue(caller)
    merge = merged()

    assert client.get(f"{URL}{merge.pk}/").status_code == read
    assert undo(client, merge).status_code == write
    assert (Merge.objects.get(pk=merge.pk).undone_at is not None) == (write == 200)


# --- The duplicate finder respects an undo -------------------------------------------------


def test_a_full_run_does_not_merge_again_what_an_editor_undid(editor_client):
    _letter, site, press, _feed = ostp_letter()
    site_maggie, press_maggie = sign(site, "Maggie Gyllenhaal"), sign(press, "Maggie Gylenhall")
    runs.run_now(full=True)
    merge = Merge.objects.get()

    undo(editor_client, merge, reason="The press named another Maggie.")
    again = runs.run_now(full=True)

    assert (again.status, again.merged, again.blocked_by_judgements) == ("succeeded", 0, 1)
    assert Person.objects.get(pk=site_maggie.pk).merged_into_id is None
    assert Person.objects.get(pk=press_maggie.pk).merged_into_id is None
    assert Merge.objects.filter(undone_at__isnull=True).count() == 0
