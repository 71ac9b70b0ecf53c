"""Data for the merging tests: people written as sources and editors write them."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest
import redis
from django.db import connection

from letters.services import Entry, signature_record, signature_record_manual
from people.models import MatchQueueSend
from people.services import affiliation_create, person_create
from tests.factories import make_letter, make_organization, make_source

ROOT = Path(__file__).resolve().parents[3]


@pytest.fixture
def one_person_twice(db):
    """Maggie Gyllenhaal as two records: both on one letter, the second also on another."""
    letter, other_letter = make_letter(), make_letter()
    kept = signature_record_manual(letter=letter, name="Maggie Gyllenhaal", by=None)
    duplicate = person_create(name="Maggie Gylenhall")
    folded = signature_record_manual(letter=letter, person=duplicate, by=None)
    moved = signature_record_manual(letter=other_letter, person=duplicate, by=None)
    affiliation_create(person=duplicate, organization=make_organization("SAG-AFTRA", kind="union"))
    return SimpleNamespace(kept=kept, folded=folded, moved=moved)


def entry(source, name: str, *, person=None, title: str = "", affiliation: str = ""):
    """One entry of a source, for its own person unless one is given."""
    person = person or person_create(name=name, source=source)
    return signature_record(
        letter=source.letter,
        source=source,
        entry=Entry(name=name, title=title, affiliation=affiliation),
        person=person,
    )


@pytest.fixture
def two_chris_evans(db):
    """One person row holding the entries of two people called Chris Evans: the
    actor on two letters, the broadcaster on one of them and a third."""
    first, second, third = make_letter(), make_letter(), make_letter()
    site = make_source(first, name="Letter site", kind="letter_site")
    press = make_source(first, name="Newspaper", kind="press")
    second_site = make_source(second, name="Second site", kind="letter_site")
    third_site = make_source(third, name="Third site", kind="letter_site")
    actor = entry(site, "Chris Evans", title="Actor")
    person = actor.signature.person
    broadcaster_first = entry(press, "Chris Evans", person=person, title="Broadcaster, BBC")
    actor_second = entry(second_site, "Chris Evans", person=person, title="Actor")
    broadcaster_third = entry(third_site, "Chris Evans", person=person, title="Broadcaster, BBC")
    return SimpleNamespace(
        person=person,
        actor=[actor.sighting, actor_second.sighting],
        broadcaster=[broadcaster_first.sighting, broadcaster_third.sighting],
        letters=(first, second, third),
    )


@pytest.fixture
def celery_worker(transactional_db):
    """A real worker process on this test database and the test Redis db."""
    env = dict(os.environ)
    env.update(
        # The test settings read the test servers' variables only.
        TEST_DATABASE_URL=(
            f"postgres://{connection.settings_dict['USER']}@{connection.settings_dict['HOST']}:"
            f"{connection.settings_dict['PORT']}/{connection.settings_dict['NAME']}"
        ),
        TEST_REDIS_URL=os.environ["REDIS_URL"],
        DJANGO_SETTINGS_MODULE="tracker.settings.test",
        MATCHING_PAIRS_PER_BLOCK="2",
    )
    redis.Redis.from_url(env["REDIS_URL"]).flushdb()
    # The queue's job, if one was sent, went with the broker's contents.
    MatchQueueSend.objects.all().delete()
    worker = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "tracker",
            "worker",
            "--queues",
            "celery,matching",
            "--concurrency",
            "2",
            "--pool",
            "prefork",
            "--loglevel",
            "WARNING",
            "--without-gossip",
            "--without-mingle",
        ],
        cwd=ROOT,
        env=env,
    )
    yield worker
    worker.terminate()
    worker.wait(30)
