"""The API under load: 50 readers and 10 writers at once for 15 seconds against
gunicorn over PostgreSQL, the short version of bench/load_bench.py. Writers post
the same people to the same letters, by name (spelled in two ways) and by id."""

from __future__ import annotations

from collections import Counter

import pytest

from people.matching.normalize import parse_name
from tests.letters.fixtures.broker import broker_purge
from tests.reliability.conftest import current_database_url
from tracker.testing.load import fill, gunicorn, integrity_problems, run_load, service_env, summary

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

READERS = 50
WRITERS = 10
SECONDS = 15


def test_fifty_readers_and_ten_colliding_writers_get_no_error_and_make_no_duplicate(settings):
    database_url = current_database_url()
    env = service_env(database_url, settings.REDIS_URL)
    setup = fill(env, signatures=2000, writers=WRITERS, migrate=False)
    try:
        with gunicorn(env) as url:
            result = run_load(url, setup, seconds=SECONDS, readers=READERS, writers=WRITERS)
    finally:
        broker_purge()
    figures = summary(result)

    assert integrity_problems(database_url, result, lambda name: parse_name(name).key) == [], (
        figures
    )
    assert figures["read"]["requests"] > READERS and figures["write"]["requests"] > WRITERS
    assert set(figures["read"]["statuses"]) == {200}, figures
    writes = figures["write"]["statuses"]
    assert set(writes) == {200, 201}, figures
    # The writers did collide: new names were posted again and again to one letter.
    assert writes[201] > 0 and writes[200] > 0, figures
    by_name = Counter(
        (outcome.path, parse_name(outcome.sent["name"]).key)
        for outcome in result.of("write")
        if "name" in outcome.sent
    )
    assert max(by_name.values()) > 1, by_name
