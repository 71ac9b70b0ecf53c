"""Syncing sources served by a real HTTP server on loopback into PostgreSQL."""

from __future__ import annotations

import gzip
import threading
from datetime import timedelta

import pytest
import redis
from django.conf import settings
from django.db import connection, connections
from django.utils import timezone

from letters.models import (
    Sighting,
    SightingEvent,
    Signature,
    Source,
    SyncRun,
    SyncRunContent,
)
from letters.selectors import letter_source_counts, sighting_last_run, sightings_seen
from letters.sync import run_content, source_sync, sources_sync_due, sync_request
from letters.sync.errors import SyncError, TransientSyncError
from letters.sync.fetch import USER_AGENT, fetch
from people.models import Person
from tests.factories import make_signature, make_source
from tests.letters.fixtures.feeds import fixture_bytes
from tests.letters.fixtures.syncs import sighting_names, snapshot, source_for, sync
from tracker.errors import DomainError
from tracker.testing.servers import FeedServer

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("private_sources_allowed")]

HTML_OPTIONS = {"selectors": {"entry": "li.signatory", "name": ".name", "affiliation": ".org"}}


# --- Formats ------------------------------------------------------------------


def test_it_syncs_a_messy_spreadsheet_export_into_people_and_signatures(letter, feeds):
    content = fixture_bytes("organisers_sheet.csv")
    source = source_for(letter, feeds, content)

    run = sync(source)

    assert run.outcome == "succeeded", run.error
    assert (run.seen, run.added, run.changed, run.gone, run.back) == (4, 4, 0, 0, 0)
    assert run.diff["added"] == [
        "Blanchett, Cate",
        "McCartney, Sir Paul",
        "Ava DuVernay",
        "Maggie Gyllenhaal",
    ]
    assert sorted(Person.objects.values_list("display_name", flat=True)) == [
        "Ava DuVernay",
        "Cate Blanchett",
        "Maggie Gyllenhaal",
        "Paul McCartney",
    ]
    paul = Person.objects.get(display_name="Paul McCartney")
    assert (paul.honorific, paul.sort_name) == ("Sir", "McCartney, Paul")
    assert list(paul.names.values_list("name", flat=True)) == ["McCartney, Sir Paul"]
    signature = paul.signatures.get()
    assert (signature.status, signature.affiliation, signature.title) == (
        "listed",
        "MPL Communications, Ltd.",
        "Musician",
    )
    change = signature.status_changes.get()
    assert (change.to_status, change.evidence_method, change.evidence_url) == (
        "listed",
        "source",
        source.url,
    )
    sighting = signature.sightings.get()
    assert (sighting.key, sighting.position, sighting.first_run, sighting.present) == (
        "name:paul mccartney",
        2,
        run,
        True,
    )
    assert sighting.events.get().kind == "added"
    assert gzip.decompress(run.content.data) == content
    source.refresh_from_db()
    assert source.etag and source.content_hash == run.content_hash


@pytest.mark.parametrize(
    ("fixture", "format", "options", "content_type", "expected"),
    [
        (
            "latin1_semicolons.csv",
            "csv",
            {},
            "text/csv",
            ["Alfonso Cuarón", "Almodóvar, Pedro", "Björk", "François Ozon"],
        ),
        (
            "signatories.json",
            "json",
            {"json_key": "signatories"},
            "application/json",
            ["Cate Blanchett", "Ava DuVernay", "Ron Howard"],
        ),
        (
            "signatories.html",
            "html",
            HTML_OPTIONS,
            "text/html",
            ["Cate Blanchett", "Ava DuVernay", "Alfonso Cuarón"],
        ),
    ],
)
def test_it_syncs_each_format(letter, feeds, fixture, format, options, content_type, expected):  # noqa: A002
    source = source_for(
        letter,
        feeds,
        fixture_bytes(fixture),
        format=format,
        options=options,
        content_type=content_type,
    )

    run = sync(source)

    assert run.outcome == "succeeded", run.error
    assert sighting_names(source) == expected
    assert Signature.objects.filter(letter=letter).count() == len(expected)


# --- Fetching -----------------------------------------------------------------


def test_it_asks_with_the_etag_and_records_a_304_as_unchanged(letter, feeds):
    source = source_for(letter, feeds, fixture_bytes("organisers_sheet.csv"))
    first = sync(source)
    before = snapshot()

    second = sync(source)

    request = feeds.asked("/signatories.csv")[-1]
    assert request.headers["If-None-Match"] == feeds.documents["/signatories.csv"].etag_value
    assert request.headers["User-Agent"] == USER_AGENT
    assert (second.outcome, second.http_status, second.seen) == ("unchanged", 304, 4)
    assert second.content_hash == first.content_hash
    after = snapshot()
    assert after.pop("Source")[0]["last_synced_at"] > before.pop("Source")[0]["last_synced_at"]
    assert after == before


def test_it_records_identical_content_as_unchanged_without_an_etag(letter, feeds):
    source = source_for(letter, feeds, fixture_bytes("organisers_sheet.csv"))
    feeds.documents["/signatories.csv"].etag = False
    sync(source)
    events = SightingEvent.objects.count()

    second = sync(source)

    assert "If-None-Match" not in feeds.asked("/signatories.csv")[-1].headers
    assert (second.outcome, second.http_status) == ("unchanged", 200)
    assert SightingEvent.objects.count() == events
    assert SyncRunContent.objects.count() == 1


def test_it_reads_unchanged_content_again_when_the_options_change(letter, feeds):
    source = source_for(letter, feeds, b"Who,Org\nRon Howard,Imagine\n")
    assert sync(source).outcome == "failed"
    Source.objects.filter(pk=source.pk).update(options={"columns": {"Who": "name"}})

    run = sync(source)

    assert run.outcome == "succeeded", run.error
    assert sighting_names(source) == ["Ron Howard"]


def test_it_can_read_any_run_again(letter, feeds):
    content = fixture_bytes("organisers_sheet.csv")
    source = source_for(letter, feeds, content)
    first = sync(source)
    unchanged = sync(source)
    feeds.serve("/signatories.csv", content + b"Ron Howard,,,,,\r\n")
    changed = sync(source)

    assert run_content(run=first) == content
    assert run_content(run=unchanged) == content
    assert run_content(run=changed) == content + b"Ron Howard,,,,,\r\n"


def test_it_refuses_a_source_on_a_private_address(letter, feeds, settings):
    source = source_for(letter, feeds, fixture_bytes("organisers_sheet.csv"))
    settings.TRACKER_ALLOW_PRIVATE_SOURCES = False

    run = sync(source)

    assert run.outcome == "failed"
    assert "127.0.0.1 is a loopback address; only public addresses are fetched" in run.error
    assert feeds.requests == []


def test_it_refuses_a_host_name_that_resolves_to_a_private_address(settings, feeds):
    settings.TRACKER_ALLOW_PRIVATE_SOURCES = False
    feeds.serve("/list.csv", b"name\nRon Howard\n")

    with pytest.raises(SyncError) as caught:
        fetch(f"http://localhost:{feeds.port}/list.csv")

    assert "localhost resolves to" in caught.value.message
    assert feeds.requests == []


def test_it_refuses_a_redirect_to_a_private_address(letter, settings):
    # 127.0.0.2 stands for a public host here; 127.0.0.1 stays private.
    settings.TRACKER_ALLOW_PRIVATE_SOURCES = False
    settings.TRACKER_SOURCE_ALLOWED_NETWORKS = ["127.0.0.2/32"]
    with FeedServer("127.0.0.2") as public, FeedServer("127.0.0.1") as private:
        private.serve("/admin.csv", b"name\nRon Howard\n")
        public.redirect("/list.csv", private.url("/admin.csv"))
        source = make_source(letter, url=public.url("/list.csv"), format="csv")

        run = sync(source)

        assert run.outcome == "failed"
        assert "127.0.0.1 is a loopback address" in run.error
        assert len(public.requests) == 1
        assert private.requests == []


def test_it_follows_a_redirect_between_public_addresses(letter, settings):
    settings.TRACKER_ALLOW_PRIVATE_SOURCES = False
    settings.TRACKER_SOURCE_ALLOWED_NETWORKS = ["127.0.0.2/32", "127.0.0.3/32"]
    with FeedServer("127.0.0.2") as old, FeedServer("127.0.0.3") as new:
        new.serve("/list.csv", b"name\nRon Howard\n")
        old.redirect("/list.csv", new.url("/list.csv"), status=301)
        source = make_source(letter, url=old.url("/list.csv"), format="csv")

        run = sync(source)

        assert run.outcome == "succeeded", run.error
        assert sighting_names(source) == ["Ron Howard"]


def test_it_refuses_a_redirect_to_anything_but_http(feeds):
    feeds.redirect("/list.csv", "file:///etc/passwd")

    with pytest.raises(SyncError) as caught:
        fetch(feeds.url("/list.csv"))

    assert "Only http and https addresses are fetched" in caught.value.message


def test_it_treats_a_server_error_as_transient_and_a_missing_file_as_final(feeds):
    feeds.serve("/busy.csv", b"try later", status=503)
    feeds.serve("/gone.csv", b"no", status=410)

    with pytest.raises(TransientSyncError):
        fetch(feeds.url("/busy.csv"))
    with pytest.raises(SyncError) as caught:
        fetch(feeds.url("/gone.csv"))

    assert not isinstance(caught.value, TransientSyncError)
    assert caught.value.http_status == 410


# --- Ingest -------------------------------------------------------------------


def test_it_sees_no_change_when_the_same_list_is_read_again(letter, feeds):
    content = fixture_bytes("organisers_sheet.csv")
    source = source_for(letter, feeds, content)
    sync(source)
    before = snapshot()

    feeds.serve("/signatories.csv", content + b"\r\n\r\n")
    run = sync(source)

    assert run.outcome == "succeeded"
    assert (run.added, run.changed, run.gone, run.back) == (0, 0, 0, 0)
    after = snapshot()
    assert after.pop("SyncRunContent") != before.pop("SyncRunContent")
    assert after.pop("Source") != before.pop("Source")
    # Nothing else is written, yet the run saw every entry again: only when they
    # were last seen moves, and that is read from the source's run.
    assert after == before
    source.refresh_from_db()
    seen = {row.seen_at for row in sightings_seen(Sighting.objects.filter(source=source))}
    assert seen == {source.last_synced_at}
    assert {sighting_last_run(sighting) for sighting in Sighting.objects.all()} == {run}


# --- Failures change nothing ----------------------------------------------------


@pytest.mark.parametrize(
    ("body", "status", "message"),
    [
        (b'name,affiliation\nRon Howard,"Imagine\n', 200, "Line 2: a quoted field opened here"),
        (b"name,affiliation\nRon Howard,Imagine\n,Nobody\n", 200, "Line 3: no name."),
        (b"name\n" + b"Ron Howard\n" * 20, 200, "larger than the 100 byte cap"),
        (b"not found", 404, "HTTP 404 Not Found"),
        (b"overloaded", 503, "HTTP 503 Service Unavailable"),
    ],
)
def test_a_failed_run_changes_nothing_but_its_record(
    letter, feeds, settings, body, status, message
):
    settings.TRACKER_SYNC_MAX_BYTES = 100
    source = source_for(letter, feeds, b"name\nCate Blanchett\nAva DuVernay\n")
    sync(source)
    before = snapshot()
    feeds.serve("/signatories.csv", body, status=status)

    run = sync(source)

    assert run.outcome == "failed"
    assert message in run.error
    assert run.finished_at is not None
    assert snapshot() == before


def test_a_run_that_cannot_reach_its_source_changes_nothing(letter, feeds):
    source = source_for(letter, feeds, b"name\nCate Blanchett\n")
    sync(source)
    before = snapshot()
    feeds.__exit__()

    run = sync(source)

    assert run.outcome == "failed"
    assert "Cannot reach" in run.error
    assert snapshot() == before


def test_a_run_that_fails_halfway_through_writing_changes_nothing(letter, feeds):
    source = source_for(letter, feeds, b"name\nCate Blanchett\nAva DuVernay\n")
    sync(source)
    before = snapshot()
    # The database refuses the new entry's history row, after its person,
    # signature and sighting were written in the same transaction.
    with connection.cursor() as cursor:
        cursor.execute(
            """
            CREATE FUNCTION refuse_trigger_failure() RETURNS trigger AS $$
            BEGIN
                IF NEW.after->>'name' = 'Trigger Failure' THEN
                    RAISE EXCEPTION 'refused by the test';
                END IF;
                RETURN NEW;
            END $$ LANGUAGE plpgsql;
            CREATE TRIGGER refuse_trigger_failure BEFORE INSERT ON letters_sightingevent
                FOR EACH ROW EXECUTE FUNCTION refuse_trigger_failure();
            """
        )
    feeds.serve("/signatories.csv", b"name\nCate Blanchett\nRon Howard\nTrigger Failure\n")

    run = sync(source)

    assert run.outcome == "failed"
    assert "refused by the test" in run.error
    assert snapshot() == before


# --- Requests and schedule --------------------------------------------------------


def test_it_records_a_second_request_for_a_busy_source_as_skipped(letter, feeds):
    source = source_for(letter, feeds, b"name\nRon Howard\n")

    first = sync_request(source=source)
    second = sync_request(source=source)

    assert first.outcome == "queued"
    assert second.outcome == "skipped"
    assert second.error == f"Run {first.pk} of this source is queued."
    assert sync(source).outcome == "skipped"


def test_it_carries_out_a_queued_run_once(letter, feeds):
    source = source_for(letter, feeds, b"name\nRon Howard\n")
    queued = sync_request(source=source)

    run = source_sync(source_id=source.pk, run_id=queued.pk)
    again = source_sync(source_id=source.pk, run_id=queued.pk)

    assert run.pk == again.pk == queued.pk
    assert (again.outcome, again.attempts) == ("succeeded", 1)
    assert len(feeds.requests) == 1


def test_it_queues_a_run_again_after_a_transient_error(letter, feeds):
    source = source_for(letter, feeds, b"busy")
    feeds.documents["/signatories.csv"].status = 503
    queued = sync_request(source=source)

    with pytest.raises(TransientSyncError):
        source_sync(source_id=source.pk, run_id=queued.pk, may_retry=True)
    queued.refresh_from_db()
    assert queued.outcome == "queued"
    assert "Will try again: HTTP 503" in queued.error

    feeds.serve("/signatories.csv", b"name\nRon Howard\n")
    run = source_sync(source_id=source.pk, run_id=queued.pk, may_retry=True)

    assert (run.outcome, run.attempts, run.error) == ("succeeded", 2, "")


def test_it_refuses_to_sync_a_source_without_an_address(letter):
    source = make_source(letter, format="csv")

    with pytest.raises(DomainError):
        sync_request(source=source)


def test_it_queues_the_sources_that_are_due(letter, feeds):
    due = source_for(letter, feeds, b"name\nRon Howard\n", path="/due.csv")
    never_synced = source_for(letter, feeds, b"name\nRon Howard\n", path="/new.csv")
    later = source_for(letter, feeds, b"name\nRon Howard\n", path="/later.csv")
    disabled = source_for(letter, feeds, b"name\nRon Howard\n", path="/off.csv", enabled=False)
    make_signature(letter)  # the letter's manual source is never fetched
    now = timezone.now()
    Source.objects.filter(pk=due.pk).update(next_sync_at=now - timedelta(seconds=1))
    Source.objects.filter(pk=later.pk).update(next_sync_at=now + timedelta(minutes=5))

    runs = sources_sync_due()
    again = sources_sync_due()

    assert sorted(run.source_id for run in runs) == [due.pk, never_synced.pk]
    assert {(run.outcome, run.trigger) for run in runs} == {("queued", "schedule")}
    assert again == []
    due.refresh_from_db()
    assert due.next_sync_at >= now + due.sync_interval
    assert not disabled.runs.exists() and not later.runs.exists()


def test_it_sends_again_at_once_a_run_a_dead_worker_left_running(letter, feeds):
    source = source_for(letter, feeds, b"name\nRon Howard\n")
    Source.objects.filter(pk=source.pk).update(next_sync_at=timezone.now() + timedelta(hours=1))
    # Its source's lock is free: no live worker is at it, however recent it is.
    dead = SyncRun.objects.create(source=source, outcome="running", attempts=1)
    broker = redis.Redis.from_url(settings.REDIS_URL)
    broker.delete("sync")

    sources_sync_due()

    sent = broker.llen("sync")
    broker.delete("sync")
    dead.refresh_from_db()
    assert (dead.outcome, sent) == ("queued", 1)
    assert dead.error == "The worker carrying it out stopped before it finished. Sent again."
    done = source_sync(source_id=source.pk, run_id=dead.pk)
    assert (done.pk, done.outcome, done.attempts, done.error) == (dead.pk, "succeeded", 2, "")


@pytest.mark.django_db(transaction=True)
def test_it_leaves_alone_a_run_a_live_worker_is_carrying_out(letter, feeds):
    from tracker.locks import source_lock

    source = source_for(letter, feeds, b"name\nRon Howard\n")
    Source.objects.filter(pk=source.pk).update(next_sync_at=timezone.now() + timedelta(hours=1))
    live = SyncRun.objects.create(source=source, outcome="running", attempts=1)
    held = []

    def beat_elsewhere():
        try:
            sources_sync_due()
            held.append(SyncRun.objects.get(pk=live.pk).outcome)
        finally:
            connections.close_all()

    with source_lock(source.pk):
        thread = threading.Thread(target=beat_elsewhere)
        thread.start()
        thread.join(30)

    assert held == ["running"]


@pytest.mark.parametrize(
    ("trigger", "attempts", "error"),
    [
        ("import", 1, "The worker carrying it out stopped before it finished."),
        ("schedule", 3, "The worker carrying it out stopped before it finished. (3 times)"),
    ],
)
def test_it_fails_a_dead_workers_run_that_cannot_be_sent_again(
    letter, feeds, trigger, attempts, error
):
    source = source_for(letter, feeds, b"name\nRon Howard\n")
    Source.objects.filter(pk=source.pk).update(next_sync_at=timezone.now() + timedelta(hours=1))
    dead = SyncRun.objects.create(
        source=source, outcome="running", trigger=trigger, attempts=attempts
    )

    sources_sync_due()

    dead.refresh_from_db()
    assert (dead.outcome, dead.error) == ("failed", error)
    assert sync(source).outcome == "succeeded"


# --- Counts -------------------------------------------------------------------


def test_it_counts_the_people_each_source_lists_and_those_only_one_lists(letter, feeds):
    site = source_for(letter, feeds, b"name\nCate Blanchett\nAva DuVernay\nRon Howard\n", path="/a")
    press = source_for(letter, feeds, b"name\nAva Duvernay\nPaul McCartney\n", path="/b")
    sync(site)
    sync(press)
    feeds.serve("/a", b"name\nCate Blanchett\nAva DuVernay\n")
    sync(site)

    counts = letter_source_counts(letter=letter)

    assert (counts.claimed, counts.claimed_min) == ("400+", 400)
    assert (counts.tracked, counts.listed, counts.listed_by_one_source) == (4, 3, 2)
    assert counts.claimed_minus_tracked == 396
    by_name = {source.name: (source.people, source.only_here) for source in counts.sources}
    assert by_name == {"/a": (2, 1), "/b": (2, 1)}


def test_a_run_reports_its_steps_and_the_rows_it_read_for_its_page(letter, feeds):
    from tracker.progress import progress_read

    source = source_for(letter, feeds, fixture_bytes("organisers_sheet.csv"))

    run = sync(source)

    assert run.outcome == "succeeded", run.error
    # The last step queues the new people for the duplicate finder.
    assert progress_read("sync", run.pk) == {"phase": "matching", "rows": 4}
