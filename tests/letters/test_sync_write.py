"""What a run writes: new entries with their people and signatures, changes,
entries back and gone, when each was last seen, and people's names
(letters/sync/write.py)."""

from __future__ import annotations

from datetime import UTC

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from rest_framework.test import APIClient

from letters.models import Sighting, Signature, Source
from letters.selectors import sighting_last_run, sightings_seen, signatures_seen
from letters.services import signature_record_manual, signature_update_stated
from people.models import Organization, Person
from tests.factories import make_organization, make_person, make_signature
from tests.letters.fixtures.syncs import source_for, sync

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("private_sources_allowed")]

FULL = b"name,affiliation\nCate Blanchett,Dirty Films\nAva DuVernay,ARRAY\nRon Howard,\n"
WITHOUT_AVA = b"name,affiliation\nCate Blanchett,Dirty Films\nRon Howard,\n"


def review_of(person_name: str) -> tuple[bool, str, str]:
    return Signature.objects.values_list("needs_review", "review_cause", "review_reason").get(
        person__display_name=person_name
    )


def test_it_keeps_gone_entries_as_history_and_brings_them_back(letter, feeds):
    full = b"name,affiliation\nCate Blanchett,Dirty Films\nAva DuVernay,ARRAY\nRon Howard,\n"
    source = source_for(letter, feeds, full)
    sync(source)
    ava = Sighting.objects.get(name="Ava DuVernay")

    feeds.serve("/signatories.csv", b"name,affiliation\nCate Blanchett,Dirty Films\nRon Howard,\n")
    dropped = sync(source)

    ava.refresh_from_db()
    assert (dropped.gone, dropped.diff["gone"]) == (1, ["Ava DuVernay"])
    assert (ava.present, ava.gone_run) == (False, dropped)
    assert ava.gone_at is not None
    assert ava.signature.needs_review is True
    assert ava.signature.review_cause == "gone"
    assert "No source lists it any more" in ava.signature.review_reason
    assert Sighting.objects.count() == 3

    feeds.serve("/signatories.csv", full)
    restored = sync(source)

    ava.refresh_from_db()
    assert (restored.back, restored.diff["back"]) == (1, ["Ava DuVernay"])
    assert (ava.present, ava.gone_run, ava.gone_at, ava.last_run) == (True, None, None, restored)
    assert (ava.signature.needs_review, ava.signature.review_cause) == (False, "")
    assert list(ava.events.values_list("kind", flat=True)) == ["added", "gone", "back"]
    assert Person.objects.count() == Signature.objects.count() == Sighting.objects.count() == 3


def test_it_does_not_flag_a_signature_another_source_still_lists(letter, feeds):
    press = source_for(letter, feeds, b"name\nAva DuVernay\n", path="/press.csv")
    site = source_for(letter, feeds, b"name\nAva Duvernay\nRon Howard\n", path="/site.csv")
    sync(press)
    sync(site)
    feeds.serve("/site.csv", b"name\nRon Howard\n")

    sync(site)

    signature = Signature.objects.get(person__display_name="Ava DuVernay")
    assert signature.sightings.count() == 2
    assert signature.needs_review is False


def test_a_signature_no_source_lists_any_more_is_flagged_as_gone_and_cleared_when_it_comes_back(
    letter, feeds
):
    source = source_for(letter, feeds, FULL)
    sync(source)
    feeds.serve("/signatories.csv", WITHOUT_AVA)

    dropped = sync(source)

    assert review_of("Ava DuVernay") == (
        True,
        "gone",
        f"No source lists it any more: /signatories.csv dropped it (run {dropped.pk}).",
    )
    assert review_of("Ron Howard") == (False, "", "")

    feeds.serve("/signatories.csv", FULL)
    sync(source)

    assert review_of("Ava DuVernay") == (False, "", "")


def test_an_editors_reason_that_starts_like_the_syncs_survives_the_entry_coming_back(letter, feeds):
    source = source_for(letter, feeds, FULL)
    sync(source)
    reason = "No source lists it any more, say her agents: ask the organisers."
    signature_update_stated(
        signature=Signature.objects.get(person__display_name="Ava DuVernay"),
        needs_review=True,
        review_reason=reason,
    )
    feeds.serve("/signatories.csv", WITHOUT_AVA)
    sync(source)
    feeds.serve("/signatories.csv", FULL)

    back = sync(source)

    assert back.back == 1
    assert review_of("Ava DuVernay") == (True, "editor", reason)


def test_a_gone_flag_an_editor_rewords_is_theirs_and_stays_when_the_entry_comes_back(letter, feeds):
    source = source_for(letter, feeds, FULL)
    sync(source)
    feeds.serve("/signatories.csv", WITHOUT_AVA)
    sync(source)
    signature_update_stated(
        signature=Signature.objects.get(person__display_name="Ava DuVernay"),
        review_reason="Dropped by the organisers: did she withdraw?",
    )
    feeds.serve("/signatories.csv", FULL)

    sync(source)

    assert review_of("Ava DuVernay") == (
        True,
        "editor",
        "Dropped by the organisers: did she withdraw?",
    )


def test_new_signatures_are_listed_and_not_flagged(letter, feeds):
    source = source_for(letter, feeds, FULL)

    sync(source)

    assert set(
        Signature.objects.values_list("status", "needs_review", "review_cause", "review_reason")
    ) == {("listed", False, "", "")}


def test_it_updates_a_changed_spelling_and_keeps_the_previous_one(letter, feeds):
    source = source_for(letter, feeds, b"name,affiliation\nAva Duvernay,ARRAY\n")
    sync(source)

    feeds.serve("/signatories.csv", b"name,affiliation\nAva DuVernay,ARRAY Filmworks\n")
    run = sync(source)

    sighting = Sighting.objects.get()
    assert (run.changed, run.added, run.gone) == (1, 0, 0)
    assert (sighting.name, sighting.affiliation) == ("Ava DuVernay", "ARRAY Filmworks")
    event = sighting.events.get(kind="changed")
    assert event.before == {"name": "Ava Duvernay", "affiliation": "ARRAY"}
    assert event.after == {"name": "Ava DuVernay", "affiliation": "ARRAY Filmworks"}
    assert run.diff["changed"] == [
        {"name": "Ava DuVernay", "before": event.before, "after": event.after}
    ]
    person = Person.objects.get()
    assert sorted(person.names.values_list("name", flat=True)) == ["Ava DuVernay", "Ava Duvernay"]
    assert person.search_text == "ava duvernay"


def test_it_resolves_a_new_entry_to_the_one_person_of_that_name(letter, feeds):
    ava = make_person("Ava DuVernay")
    make_person("Chris Evans")
    make_person("Chris Evans")
    source = source_for(letter, feeds, b'name\n"DuVernay, Ava"\nChris Evans\n')

    sync(source)

    assert Signature.objects.get(person=ava).sightings.get().name == "DuVernay, Ava"
    assert Person.objects.filter(name_key="chris evans").count() == 3
    assert set(ava.names.values_list("name", flat=True)) == {"Ava DuVernay", "DuVernay, Ava"}


def test_it_reuses_a_person_a_merge_left_standing(letter, feeds):
    survivor = make_person("Ava DuVernay")
    merged = make_person("Ava DuVernay")
    Person.objects.filter(pk=merged.pk).update(merged_into=survivor, merged_at=timezone.now())
    source = source_for(letter, feeds, b"name\nAva DuVernay\n")

    sync(source)

    assert Signature.objects.get().person == survivor


def test_it_adds_a_source_to_a_signature_an_editor_entered(letter, feeds):
    signature = make_signature(letter, "Ava DuVernay")
    source = source_for(letter, feeds, b"name,affiliation\nAva Duvernay,ARRAY\n")

    sync(source)

    signature.refresh_from_db()
    assert signature.sightings.count() == 2
    assert signature.affiliation == "ARRAY"
    assert Signature.objects.count() == 1


def test_new_people_get_their_parsed_names_and_one_entry_written_twice_is_one(letter, feeds):
    body = 'name\n"McCartney, Sir Paul"\nPAUL MCCARTNEY\nDr. Émile Zola Jr.\n'.encode()
    source = source_for(letter, feeds, body)

    run = sync(source)

    fields = ("display_name", "sort_name", "given_name", "family_name", "honorific", "suffix")
    assert sorted(Person.objects.values_list(*fields, "name_key", "search_text")) == [
        (
            "Paul McCartney",
            "McCartney, Paul",
            "Paul",
            "McCartney",
            "Sir",
            "",
            "paul mccartney",
            "paul mccartney | mccartney sir paul",
        ),
        (
            "Émile Zola",
            "Zola, Émile",
            "Émile",
            "Zola",
            "Dr.",
            "Jr.",
            "emile zola",
            "emile zola | dr emile zola jr",
        ),
    ]
    paul = Person.objects.get(name_key="paul mccartney")
    # The same name, title and affiliation twice in one list is one entry written twice.
    assert list(paul.names.values_list("name", "name_key", "source")) == [
        ("McCartney, Sir Paul", "paul mccartney", source.pk),
    ]
    assert [d["name"] for d in run.diff["duplicates"]] == ["PAUL MCCARTNEY"]


def test_it_tells_when_each_entry_was_last_seen(letter, feeds):
    source = source_for(letter, feeds, b"name\nCate Blanchett\nRon Howard\n")
    sync(source)
    feeds.serve("/signatories.csv", b"name\nCate Blanchett\nRon Howard\nAva DuVernay\n")
    second = sync(source)
    second_synced_at = Source.objects.get(pk=source.pk).last_synced_at
    feeds.serve("/signatories.csv", b"name\nCate Blanchett\nAva DuVernay\n")
    third = sync(source)
    source.refresh_from_db()

    seen = {s.name: s for s in sightings_seen(source.sightings.all())}
    cate, ron = seen["Cate Blanchett"], seen["Ron Howard"]
    assert (sighting_last_run(cate), cate.seen_at) == (third, source.last_synced_at)
    assert (ron.present, ron.last_run, ron.last_seen_at) == (False, second, second_synced_at)
    assert sighting_last_run(ron) == second
    assert ron.seen_at == second_synced_at
    signatures = {s.person.display_name: s for s in signatures_seen(Signature.objects.all())}
    assert signatures["Cate Blanchett"].seen_at == source.last_synced_at
    assert signatures["Ron Howard"].seen_at == second_synced_at


def row_versions(model: type, ids: list[int]) -> dict[int, str]:
    """Each row's xmin: the transaction that last wrote it, which any UPDATE changes."""
    with connection.cursor() as cursor:
        cursor.execute(
            f'SELECT id, xmin::text FROM "{model._meta.db_table}" WHERE id = ANY(%s)',  # noqa: S608
            [ids],
        )
        return dict(cursor.fetchall())


def test_an_entry_listed_as_before_is_not_written_yet_reads_as_seen_by_the_run(letter, feeds):
    source = source_for(letter, feeds, FULL)
    sync(source)
    cate = Sighting.objects.get(name="Cate Blanchett")
    rows_before = (
        row_versions(Sighting, [cate.pk]),
        row_versions(Signature, [cate.signature_id]),
    )

    # Ava moves, Ron goes, Lana comes: Cate is listed exactly as before.
    feeds.serve(
        "/signatories.csv",
        b"name,affiliation\nCate Blanchett,Dirty Films\nAva DuVernay,Forward Movement\n"
        b"Lana Wachowski,\n",
    )
    run = sync(source)

    assert (run.added, run.changed, run.gone) == (1, 1, 1)
    assert rows_before == (
        row_versions(Sighting, [cate.pk]),
        row_versions(Signature, [cate.signature_id]),
    )
    source.refresh_from_db()
    run_time = source.last_synced_at.isoformat().replace("+00:00", "Z")
    client = APIClient()
    item = client.get(f"/api/signatures/{cate.signature_id}/").json()
    assert item["last_seen"] == run_time
    assert [s["last_seen"] for s in item["sightings"]] == [run_time]
    page = client.get(f"/api/letters/{letter.slug}/signatures/").json()["results"]
    listed = {row["person"]["name"]: row for row in page}
    assert listed["Cate Blanchett"]["last_seen"] == run_time
    assert [s["last_seen"] for s in listed["Cate Blanchett"]["sightings"]] == [run_time]
    person = client.get(f"/api/people/{cate.signature.person_id}/").json()
    assert [row["last_seen"] for row in person["signatures"]] == [run_time]
    response = client.get(f"/api/letters/{letter.slug}/signatures/?format=csv")
    export = b"".join(response.streaming_content).decode()
    cate_row = next(line for line in export.splitlines() if "Cate Blanchett" in line)
    exported = source.last_synced_at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    assert exported in cate_row.split(",")
    # Ron was last seen by the first run, when it went.
    assert listed["Ron Howard"]["last_seen"] == cate.last_seen_at.isoformat().replace("+00:00", "Z")


def organization_of(person_name: str) -> tuple[int | None, int | None]:
    return Signature.objects.values_list("organization_id", "organization_source_id").get(
        person__display_name=person_name
    )


def test_new_signatures_are_linked_to_the_organization_their_affiliation_names(letter, feeds):
    dirty_films = make_organization("Dirty Films")
    source = source_for(letter, feeds, FULL)

    sync(source)

    assert organization_of("Cate Blanchett") == (dirty_films.pk, source.pk)
    assert organization_of("Ava DuVernay") == (None, None)
    assert organization_of("Ron Howard") == (None, None)


def test_a_stored_signature_an_added_entry_names_an_organization_for_is_linked(letter, feeds):
    array = make_organization("ARRAY", aliases=["Array Now"])
    make_signature(letter, "Ava DuVernay")
    source = source_for(letter, feeds, b"name,affiliation\nAva Duvernay,Array Now\n")

    sync(source)

    assert organization_of("Ava DuVernay") == (array.pk, source.pk)


def test_a_changed_affiliation_links_a_signature_without_an_organization(letter, feeds):
    dirty_films = make_organization("Dirty Films")
    source = source_for(letter, feeds, b"name,affiliation\nCate Blanchett,Freelance\n")
    sync(source)
    feeds.serve("/signatories.csv", b"name,affiliation\nCate Blanchett,Dirty Films\n")

    sync(source)

    assert organization_of("Cate Blanchett") == (dirty_films.pk, source.pk)


def test_a_run_leaves_an_editors_organization_as_it_is(letter, feeds):
    make_organization("Dirty Films")
    lucasfilm = make_organization("Lucasfilm")
    signature = signature_record_manual(
        letter=letter, name="Cate Blanchett", title="Actress", by=None
    )
    signature_update_stated(signature=signature, organization=lucasfilm)
    # The shared field makes the list's entry the same person (identity rules).
    source = source_for(
        letter, feeds, b"name,title,affiliation\nCate Blanchett,Actor,Dirty Films\n"
    )

    sync(source)

    assert organization_of("Cate Blanchett") == (lucasfilm.pk, None)


def test_a_run_reads_the_organizations_once_whatever_its_rows(letter, feeds):
    make_organization("Dirty Films")
    make_organization("ARRAY")
    source = source_for(letter, feeds, b"name,affiliation\nCate Blanchett,Freelance\n")
    sync(source)
    many = "".join(f"Person Number{n},Dirty Films\n" for n in range(20))
    feeds.serve("/signatories.csv", f"name,affiliation\nCate Blanchett,ARRAY\n{many}".encode())

    with CaptureQueriesContext(connection) as queries:
        sync(source)

    organization_table = f'FROM "{Organization._meta.db_table}"'
    assert sum(organization_table in query["sql"] for query in queries.captured_queries) == 1
    assert Signature.objects.filter(organization__isnull=False).count() == 21
