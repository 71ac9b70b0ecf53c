"""/api/changes/: one event per real change, in cursor pages, oldest first;
read from the start it replays a letter's list; a person merged away leaves a
tombstone; and ``updated_after`` means changed, not seen again."""

from __future__ import annotations

import pytest
from django.utils import timezone

from letters import services as letter_services
from letters.models import Signature
from people.merging.merge import person_merge
from people.services import person_update
from tests.factories import make_letter, make_person
from tests.letters.fixtures.syncs import source_for, sync
from tracker.testing.servers import FeedServer

pytestmark = pytest.mark.django_db(transaction=True)

SIX = b"name\nAva DuVernay\nBen Stiller\nCate Blanchett\nGreta Gerwig\nJane Campion\nAli Abbasi\n"


@pytest.fixture
def feeds(settings):
    settings.TRACKER_ALLOW_PRIVATE_SOURCES = True
    with FeedServer() as server:
        yield server


def _all(anon, url: str) -> list[dict]:
    events, page = [], anon.get(url).json()
    while True:
        events += page["results"]
        if not page["next"]:
            return events
        page = anon.get(page["next"]).json()


def test_a_sync_that_drops_one_of_six_rows_is_one_change(anon, feeds):
    letter = make_letter(slug="ostp")
    source = source_for(letter, feeds, SIX)
    sync(source)
    before_second = timezone.now()
    feeds.serve("/signatories.csv", SIX.replace(b"Ben Stiller\n", b""), content_type="text/csv")
    sync(source)
    since = before_second.isoformat()

    events = anon.get("/api/changes/", {"since": since}).json()["results"]
    updated = anon.get(f"/api/letters/ostp/signatures/?updated_after={since.replace('+', '%2B')}")

    assert [(event["kind"], event["person"]["name"]) for event in events] == [
        ("gone", "Ben Stiller")
    ]
    assert events[0]["letter"]["slug"] == "ostp"
    assert events[0]["source"] == source.name
    assert [item["person"]["name"] for item in updated.json()["results"]] == ["Ben Stiller"]


def test_read_from_the_start_the_feed_replays_a_letter_s_list(anon, feeds):
    letter = make_letter(slug="ostp")
    source = source_for(letter, feeds, SIX)
    sync(source)
    feeds.serve("/signatories.csv", SIX.replace(b"Ben Stiller\n", b""), content_type="text/csv")
    sync(source)
    feeds.serve(
        "/signatories.csv",
        SIX.replace(b"Cate Blanchett\n", b"").replace(b"Ali Abbasi", b"Ali Abassi"),
        content_type="text/csv",
    )
    sync(source)
    letter_services.signature_change_status(
        signature=Signature.objects.get(person__display_name="Greta Gerwig"),
        status="retracted",
        reason="She asked to be taken off.",
    )

    status: dict[int, str] = {}
    dropped: set[int] = set()
    for event in _all(anon, "/api/changes/?letter=ostp&page_size=2"):
        signature = event["signature"]["id"]
        if event["kind"] in {"signature_added", "status_changed"}:
            status[signature] = event["after"]["status"]
        elif event["kind"] == "gone":
            dropped.add(signature)
        elif event["kind"] == "back":
            dropped.discard(signature)
    replayed = {
        pk: "unlisted" if pk in dropped and shown == "listed" else shown
        for pk, shown in status.items()
    }

    page = anon.get("/api/letters/ostp/signatures/").json()["results"]
    assert replayed == {item["id"]: item["public_status"] for item in page}
    # Ben Stiller back, Cate Blanchett dropped; Ali Abbasi respelled is a new entry
    # of the source that joins his signature, which stays listed.
    assert sorted(replayed.values()) == [*["listed"] * 4, "retracted", "unlisted"]
    back = _all(anon, "/api/changes/?letter=ostp&kind=back")
    assert [event["person"]["name"] for event in back] == ["Ben Stiller"]


def test_a_person_merged_away_leaves_a_tombstone_pointing_at_the_survivor(anon):
    survivor, merged = make_person("Ava DuVernay"), make_person("Ava Duvernay")
    person_merge(survivor=survivor, merged=merged, reason="Same director.")

    [event] = anon.get("/api/changes/", {"kind": "merged"}).json()["results"]

    assert (event["person"]["id"], event["survivor"]["id"]) == (merged.pk, survivor.pk)
    assert event["reason"] == "Same director."
    assert event["letter"] is None


def test_a_person_shown_by_another_name_is_a_rename_with_before_and_after(anon):
    person = make_person("Ava Duvernay")
    person_update(person=person, display_name="Ava DuVernay")
    person_update(person=person, notes="Director.")  # not a rename

    [event] = anon.get("/api/changes/", {"kind": "person_renamed"}).json()["results"]
    timeline = anon.get(f"/api/people/{person.pk}/timeline/").json()["events"]

    assert (event["person"]["id"], event["person"]["name"]) == (person.pk, "Ava DuVernay")
    assert (event["before"], event["after"]) == ({"name": "Ava Duvernay"}, {"name": "Ava DuVernay"})
    assert event["reason"] == "edited"
    assert event["id"].startswith("r")
    assert anon.get("/api/changes/", {"person": person.pk}).json()["count"] == 1
    # A rename is about a person, not a letter's list.
    make_letter(slug="ostp")
    assert anon.get("/api/changes/", {"letter": "ostp"}).json()["count"] == 0
    assert [(e["kind"], e["before"], e["after"]) for e in timeline] == [
        ("renamed", "Ava Duvernay", "Ava DuVernay")
    ]


def test_it_refuses_an_unknown_kind_or_letter_and_a_cursor_it_did_not_give(anon):
    assert anon.get("/api/changes/?kind=deleted").json()["field"] == "kind"
    assert anon.get("/api/changes/?letter=nope").json()["field"] == "letter"
    assert anon.get("/api/changes/?cursor=bm9wZQ").status_code == 404


@pytest.mark.parametrize("page_size", [2, 5])
def test_a_page_of_changes_costs_twelve_queries_whatever_its_size(
    anon, feeds, django_assert_num_queries, page_size
):
    source = source_for(make_letter(slug="ostp"), feeds, SIX)
    sync(source)
    person_merge(survivor=make_person("Ava DuVernay"), merged=make_person("Ava Duvernay"))

    # 1. status changes, 2. entries gone, back or respelled, 3. merges,
    # 4. merges undone, 5. splits, 6. renames, each cut at the page size;
    # 7.-12. their counts
    with django_assert_num_queries(12):
        body = anon.get(f"/api/changes/?page_size={page_size}").json()

    assert len(body["results"]) == page_size
    assert body["count"] == 6 + 1  # six entries added, one merge
