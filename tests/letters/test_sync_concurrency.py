"""One run per source at a time, whoever starts it and however often."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import pytest
from django.db import connection

from letters.models import Sighting, SightingEvent, Source, SyncRun
from letters.sync import source_sync, sources_sync_due
from tests.factories import make_letter, make_source
from tests.letters.fixtures.broker import broker_purge
from tracker.testing.servers import FeedServer

pytestmark = pytest.mark.django_db(transaction=True)

NAMES = "".join(f"Signatory Number{i}\n" for i in range(50)).encode()


@pytest.fixture(autouse=True)
def private_sources_allowed(settings):
    settings.TRACKER_ALLOW_PRIVATE_SOURCES = True


@pytest.fixture(autouse=True)
def empty_queues():
    yield
    broker_purge()


def at_once(*calls: Callable[[], Any]) -> list[Any]:
    """Run the calls in threads released together; each has its own connection."""
    barrier = threading.Barrier(len(calls))
    results: list[Any] = [None] * len(calls)

    def run(index: int, call: Callable[[], Any]) -> None:
        try:
            barrier.wait()
            results[index] = call()
        except Exception as exc:  # noqa: BLE001 - handed back to the test
            results[index] = exc
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=item) for item in enumerate(calls)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    return results


def test_two_syncs_of_one_source_started_at_once_run_once():
    with FeedServer() as feeds:
        feeds.serve("/list.csv", b"name\n" + NAMES, delay=0.5)
        source = make_source(make_letter(), url=feeds.url("/list.csv"), format="csv")

        runs = at_once(
            lambda: source_sync(source_id=source.pk), lambda: source_sync(source_id=source.pk)
        )

        assert sorted(run.outcome for run in runs) == ["skipped", "succeeded"], runs
        assert len(feeds.requests) == 1
    assert Sighting.objects.count() == SightingEvent.objects.count() == 50


def test_two_beat_ticks_at_once_queue_each_due_source_once():
    letter = make_letter()
    sources = [
        make_source(letter, url=f"https://example.org/{i}.csv", format="csv") for i in range(3)
    ]

    ticks = at_once(sources_sync_due, sources_sync_due)

    assert all(isinstance(tick, list) for tick in ticks), ticks
    assert sorted(run.source_id for tick in ticks for run in tick) == [s.pk for s in sources]
    assert set(SyncRun.objects.values_list("outcome", flat=True)) == {"queued"}
    assert Source.objects.filter(next_sync_at__isnull=True).count() == 0
