"""Splitting a person in two (POST /api/people/{id}/split/, staff) and /api/splits/:
the splits made, and undoing them."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission

from letters.models import Sighting, Signature
from letters.services import Entry, signature_record
from people.merging import runs
from people.merging.merge import person_merge
from people.models import MatchJudgement, Merge, Person, Split
from tests.api.conftest import _client_for
from tests.factories import make_letter, make_person, make_source
from tests.people.merging.test_runs import ostp_letter, sign

pytestmark = pytest.mark.django_db

URL = "/api/splits/"


def entry(source, person: Person, name: str, **fields) -> Sighting:
    return signature_record(
        letter=source.letter, source=source, entry=Entry(name=name, **fields), person=person
    ).sighting


@dataclass
class TwoChrisEvans:
    """One record holding two people's entries: on the first letter the actor (the
    letter's site) and the radio host (a feed) on one signature; on the second
    letter the radio host alone; on the third the actor alone."""

    person: Person
    actor: Sighting
    host: Sighting
    host_again: Sighting
    actor_again: Sighting


@pytest.fixture
def chris(db) -> TwoChrisEvans:
    person = make_person("Chris Evans")
    first = make_letter()
    site, feed = make_source(first, kind="letter_site"), make_source(first, kind="feed")
    actor = entry(site, person, "Chris Evans", title="Actor")
    host = entry(feed, person, "Chris Evans", title="Radio host")
    host_again = entry(make_source(make_letter()), person, "Chris Evans", title="Radio host")
    actor_again = entry(make_source(make_letter()), person, "Chris Evans", title="Actor")
    return TwoChrisEvans(person, actor, host, host_again, actor_again)


def split(client, person: Person, sightings: list[Sighting], **data):
    data = {"reason": "The radio host, not the actor.", **data}
    data.setdefault("sightings", [sighting.pk for sighting in sightings])
    return client.post(f"/api/people/{person.pk}/split/", data, format="json")


def person_of(sighting: Sighting) -> int:
    return Sighting.objects.select_related("signature").get(pk=sighting.pk).signature.person_id


# --- Choosing the sightings -----------------------------------------------------------------


def test_the_person_detail_shows_staff_each_sighting_with_the_id_a_split_takes(
    chris, staff_client, anon
):
    staff = staff_client.get(f"/api/people/{chris.person.pk}/").json()
    public = anon.get(f"/api/people/{chris.person.pk}/").json()

    shown = {s["id"]: s["title"] for sig in staff["signatures"] for s in sig["sightings"]}
    assert shown == {
        chris.actor.pk: "Actor",
        chris.host.pk: "Radio host",
        chris.host_again.pk: "Radio host",
        chris.actor_again.pk: "Actor",
    }
    assert all("sightings" not in signature for signature in public["signatures"])


def test_the_person_detail_costs_staff_one_query_more_for_the_sightings(
    chris, staff_client, django_assert_num_queries
):
    # 1. the token and its user, 2. the person, 3. names with their sources and
    # letters, 4. affiliations with organizations and sources, 5. signatures with
    # letters, 6. their sightings with sources
    with django_assert_num_queries(6):
        staff_client.get(f"/api/people/{chris.person.pk}/")


# --- Splitting --------------------------------------------------------------------------------


def test_a_split_moves_exactly_the_chosen_sightings_to_a_new_person(chris, editor_client):
    response = split(editor_client, chris.person, [chris.host, chris.host_again])

    assert response.status_code == 201
    body = response.json()
    new_person = body["new_person"]["id"]
    assert body["sightings"] == sorted([chris.host.pk, chris.host_again.pk])
    assert (body["person"]["id"], body["by"], body["undone_at"]) == (
        chris.person.pk,
        "editor",
        None,
    )
    assert response["Location"] == body["api_url"] == f"http://testserver{URL}{body['id']}/"
    assert [person_of(s) for s in (chris.host, chris.host_again)] == [new_person] * 2
    assert [person_of(s) for s in (chris.actor, chris.actor_again)] == [chris.person.pk] * 2


def test_a_signature_whose_sightings_all_move_goes_with_them(chris, editor_client):
    whole = chris.host_again.signature

    split(editor_client, chris.person, [chris.host, chris.host_again])

    assert Signature.objects.get(pk=whole.pk).person_id != chris.person.pk
    assert list(Sighting.objects.filter(signature=whole).values_list("pk", flat=True)) == [
        chris.host_again.pk
    ]


def test_a_signature_only_some_of_whose_sightings_move_is_split_in_two(chris, editor_client):
    shared = chris.actor.signature

    body = split(editor_client, chris.person, [chris.host]).json()

    on_letter = Signature.objects.filter(letter=shared.letter, merged_into__isnull=True)
    assert sorted(on_letter.values_list("person_id", flat=True)) == sorted(
        [chris.person.pk, body["new_person"]["id"]]
    )
    assert Sighting.objects.get(pk=chris.actor.pk).signature_id == shared.pk
    assert Sighting.objects.get(pk=chris.host.pk).signature_id != shared.pk


def test_a_split_records_that_the_two_are_different_people(chris, editor_client):
    body = split(editor_client, chris.person, [chris.host]).json()

    first, second = sorted([chris.person.pk, body["new_person"]["id"]])
    judgement = MatchJudgement.objects.get(person_a_id=first, person_b_id=second)
    assert (judgement.decision, judgement.automatic) == ("different", False)
    assert Split.objects.get(pk=body["id"]).judgement == judgement


def test_splitting_a_record_merged_into_another_is_refused_with_409(chris, editor_client):
    person_merge(survivor=make_person("Chris Evans Jr"), merged=chris.person)

    response = split(editor_client, chris.person, [chris.host])

    assert response.status_code == 409
    assert response.json()["code"] == "merged"
    assert not Split.objects.exists()


def test_splitting_an_unknown_person_answers_404(editor_client):
    response = editor_client.post(
        "/api/people/987654/split/", {"reason": "Two.", "sightings": [1]}, format="json"
    )

    assert response.status_code == 404


def test_a_split_of_someone_else_s_sightings_is_refused(chris, editor_client):
    stranger = entry(make_source(make_letter()), make_person("Ava DuVernay"), "Ava DuVernay")

    response = split(editor_client, chris.person, [chris.host, stranger])

    assert response.status_code == 400
    assert response.json()["field"] == "sightings"
    assert not Split.objects.exists()


def test_a_split_that_would_leave_the_person_no_entry_is_refused(chris, editor_client):
    everything = [chris.actor, chris.host, chris.host_again, chris.actor_again]

    response = split(editor_client, chris.person, everything)

    assert response.status_code == 400
    assert response.json()["field"] == "sightings"
    assert Person.objects.count() == 1


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"reason": " "}, "reason"),
        ({"sightings": []}, "sightings"),
        ({"sightings": "x"}, "sightings"),
    ],
)
def test_a_split_without_a_reason_or_sightings_is_refused(chris, editor_client, data, field):
    data = {"reason": "The radio host.", "sightings": [chris.host.pk], **data}

    response = editor_client.post(f"/api/people/{chris.person.pk}/split/", data, format="json")

    assert response.status_code == 400
    assert response.json()["field"] == field
    assert not Split.objects.exists()


def test_a_repeated_split_with_the_same_key_splits_once(chris, editor_client):
    headers = {"HTTP_IDEMPOTENCY_KEY": "split-chris-evans"}
    data = {"reason": "The radio host.", "sightings": [chris.host.pk]}
    url = f"/api/people/{chris.person.pk}/split/"

    first = editor_client.post(url, data, format="json", **headers)
    again = editor_client.post(url, data, format="json", **headers)

    assert first.status_code == again.status_code == 201
    assert again.json()["id"] == first.json()["id"]
    assert Split.objects.count() == 1


@pytest.fixture
def reviewer(db):
    """Staff who may decide pairs but not split people."""
    user = get_user_model().objects.create_user(
        username="reviewer", password="reviewer-password-123", is_staff=True
    )
    user.user_permissions.set(Permission.objects.filter(codename="change_matchjudgement"))
    return _client_for(user)


@pytest.mark.parametrize(
    ("caller", "expected"),
    [("anon", 401), ("reader", 403), ("reviewer", 403), ("editor_client", 201)],
)
def test_only_staff_allowed_to_add_splits_split_a_person(request, chris, caller, expected):
    response = split(request.getfixturevalue(caller), chris.person, [chris.host])

    assert response.status_code == expected
    assert Split.objects.count() == (1 if expected == 201 else 0)


# --- The splits, and undoing one --------------------------------------------------------------


def test_it_lists_splits_newest_first(chris, staff_client, editor_client):
    older = split(editor_client, chris.person, [chris.host]).json()
    newer = split(editor_client, chris.person, [chris.actor_again]).json()
    Person.objects.filter(pk=chris.person.pk).update(display_name="Christopher Evans")

    body = staff_client.get(URL).json()

    assert [item["id"] for item in body["results"]] == [newer["id"], older["id"]]
    assert body["results"][1] == older
    assert body["results"][1]["person"]["name"] == "Chris Evans"
    assert staff_client.get(f"{URL}{older['id']}/").json() == older


def test_it_lists_the_splits_of_one_person_on_either_side(chris, staff_client, editor_client):
    first = split(editor_client, chris.person, [chris.host]).json()
    other = make_person("Ava DuVernay")
    entry(make_source(make_letter()), other, "Ava DuVernay")
    entry(make_source(make_letter()), other, "Ava Duvernay")
    split(editor_client, other, list(Sighting.objects.filter(name="Ava Duvernay")))

    mine = staff_client.get(URL, {"person": chris.person.pk}).json()["results"]
    theirs = staff_client.get(URL, {"person": first["new_person"]["id"]}).json()["results"]

    assert [item["id"] for item in mine] == [item["id"] for item in theirs] == [first["id"]]


@pytest.mark.parametrize("page_size", [1, 3])
def test_the_split_list_costs_three_queries_whatever_the_page_size(
    chris, staff_client, editor_client, django_assert_num_queries, page_size
):
    for sighting in (chris.host, chris.host_again, chris.actor_again):
        split(editor_client, chris.person, [sighting])

    # 1. the token and its user, 2. the count of splits, 3. the page of splits with
    # who made and who undid each (the names and the sightings moved are the split's own)
    with django_assert_num_queries(3):
        response = staff_client.get(URL, {"page_size": page_size})

    assert len(response.json()["results"]) == page_size


def test_undoing_a_split_puts_the_sightings_back_with_the_first_person(chris, editor_client):
    made = split(editor_client, chris.person, [chris.host, chris.host_again]).json()

    response = editor_client.post(
        f"{URL}{made['id']}/undo/", {"reason": "One Chris Evans after all."}, format="json"
    )

    assert response.status_code == 200
    body = response.json()
    assert body["undone_at"] is not None and body["undo_reason"] == "One Chris Evans after all."
    assert Merge.objects.get(pk=body["undo_merge"]).merged_id == made["new_person"]["id"]
    assert [person_of(s) for s in (chris.host, chris.host_again)] == [chris.person.pk] * 2
    assert Sighting.objects.get(pk=chris.host.pk).signature_id == chris.actor.signature_id
    assert Person.objects.get(pk=made["new_person"]["id"]).merged_into_id == chris.person.pk


def test_a_split_undone_twice_is_refused_with_409(chris, editor_client):
    made = split(editor_client, chris.person, [chris.host]).json()
    editor_client.post(f"{URL}{made['id']}/undo/", {"reason": "One."}, format="json")

    again = editor_client.post(f"{URL}{made['id']}/undo/", {"reason": "One."}, format="json")

    assert again.status_code == 409
    assert again.json()["code"] == "already_undone"
    assert Merge.objects.count() == 1


def test_a_split_undo_without_a_reason_is_refused(chris, editor_client):
    made = split(editor_client, chris.person, [chris.host]).json()

    response = editor_client.post(f"{URL}{made['id']}/undo/", {}, format="json")

    assert response.status_code == 400
    assert response.json()["field"] == "reason"
    assert Split.objects.get(pk=made["id"]).undone_at is None


@pytest.mark.parametrize(
    ("caller", "read", "write"),
    [("anon", 401, 401), ("reader", 403, 403), ("reviewer", 200, 403), ("editor_client", 200, 200)],
)
def test_only_staff_read_splits_and_only_those_allowed_to_change_splits_undo_one(
    request, chris, editor_client, caller, read, write
):
    made = split(editor_client, chris.person, [chris.host]).json()
    client = request.getfixturevalue(caller)

    assert client.get(f"{URL}{made['id']}/").status_code == read
    undone = client.post(f"{URL}{made['id']}/undo/", {"reason": "One."}, format="json")
    assert undone.status_code == write
    assert (Split.objects.get(pk=made["id"]).undone_at is not None) == (write == 200)


# --- The duplicate finder respects a split ------------------------------------------------------


def test_a_full_run_does_not_join_again_a_person_split_in_two(editor_client):
    _letter, site, press, _feed = ostp_letter()
    maggie = sign(site, "Maggie Gyllenhaal")
    misspelt = entry(press, maggie, "Maggie Gylenhall")
    made = split(editor_client, maggie, [misspelt], reason="The press meant someone else.").json()

    run = runs.run_now(full=True)

    assert (run.status, run.merged, run.blocked_by_judgements) == ("succeeded", 0, 1)
    assert Person.objects.get(pk=made["new_person"]["id"]).merged_into_id is None
    assert person_of(misspelt) == made["new_person"]["id"]
