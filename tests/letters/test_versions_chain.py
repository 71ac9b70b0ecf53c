"""A week of a letter's life, replayed: syncs of changing CSVs served on
loopback, an editor's merge, a source dropping a name, a retraction, a new
signatory and a corrected display name. Syncs publish their versions at once;
the other changes through a real Celery worker, after they commit. The chain is
then recomputed from the downloaded CSVs with hashlib alone."""

from __future__ import annotations

import csv
import hashlib
import io
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.conf import settings
from rest_framework.test import APIClient

from letters.models import ListVersion, Signature
from letters.services import signature_change_status
from people.merging.merge import person_merge
from people.models import Person
from people.services import person_update
from tests.letters.fixtures.broker import broker_purge
from tests.letters.fixtures.syncs import source_for, sync
from tests.processes import current_database_url

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.slow,
    pytest.mark.usefixtures("private_sources_allowed"),
]

ROOT = Path(__file__).resolve().parents[2]
HEADER = ["signature_id", "person_id", "name", "title", "affiliation", "status"]


@pytest.fixture(scope="module")
def worker(django_db_setup, django_db_blocker) -> Iterator[subprocess.Popen]:
    """A Celery worker on the test database, taking the default queue's jobs."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST")}
    env.update(
        TEST_DATABASE_URL=current_database_url(),
        TEST_REDIS_URL=settings.REDIS_URL,
        DJANGO_SETTINGS_MODULE="tracker.settings.test",
        CELERY_TASK_ALWAYS_EAGER="0",
    )
    broker_purge()
    handle, log_name = tempfile.mkstemp(prefix="tracker-versions-worker-", suffix=".log")
    log = os.fdopen(handle, "wb")
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "celery",
            "--app",
            "tracker",
            "worker",
            "--queues",
            "celery",
            "--concurrency",
            "1",
            "--pool",
            "solo",
            "--without-gossip",
            "--without-mingle",
            "--loglevel",
            "INFO",
        ],  # fmt: skip
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    process.log = Path(log_name)
    try:
        yield process
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(10)
        log.close()
        Path(log_name).unlink(missing_ok=True)
        broker_purge()


def versions_reach(letter, number: int, worker, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if ListVersion.objects.filter(letter=letter).count() >= number:
            return
        time.sleep(0.2)
    raise AssertionError(f"no version {number} of the letter:\n{worker.log.read_text()}")


def csv_for(*rows: tuple[str, str]) -> bytes:
    return ("name,title\n" + "".join(f"{name},{title}\n" for name, title in rows)).encode()


def download(client: APIClient, url: str) -> bytes:
    response = client.get(url)
    assert response.status_code == 200, url
    return response.content


def test_a_week_of_changes_makes_a_chain_anyone_can_recompute_from_the_csvs(
    letter, feeds, editor, worker
):
    site_rows = [
        ("Maggie Gyllenhaal", "Actor"),
        ("Ava DuVernay", "Director"),
        ("Ben Stiller", "Actor"),
        ("Cate Blanchett", "Actor"),
    ]
    site = source_for(letter, feeds, csv_for(*site_rows), path="/site.csv")
    press = source_for(letter, feeds, csv_for(("Maggie Gylenhall", "")), path="/press.csv")
    client = APIClient()
    made_by = {}  # version number -> what made it

    # Monday: the letter's site lists four.
    monday = sync(site)
    made_by[1] = ("run", monday.pk)
    first_csv = download(client, f"/api/letters/{letter.slug}/versions/1/list.csv")
    # Tuesday: the press prints one of them misspelled (a person of its own for now),
    # and the site is fetched again, unchanged.
    tuesday = sync(press)
    made_by[2] = ("run", tuesday.pk)
    assert sync(site).outcome == "unchanged"
    # Wednesday: an editor merges the misspelling into the person.
    survivor = Person.objects.get(display_name="Maggie Gyllenhaal")
    merged = Person.objects.get(display_name="Maggie Gylenhall")
    person_merge(survivor=survivor, merged=merged, by=editor, reason="Same actor.")
    versions_reach(letter, 3, worker)
    made_by[3] = ("editor", "editor")
    # Thursday: the site drops Cate Blanchett.
    feeds.serve("/site.csv", csv_for(*site_rows[:3]), content_type="text/csv")
    thursday = sync(site)
    made_by[4] = ("run", thursday.pk)
    # Friday: Ben Stiller retracts.
    ben = Signature.objects.get(letter=letter, person__display_name="Ben Stiller")
    signature_change_status(signature=ben, status="retracted", reason="Asked off.", by=editor)
    versions_reach(letter, 5, worker)
    made_by[5] = ("editor", "editor")
    # Saturday: a new signatory, and an editor corrects a display name.
    feeds.serve(
        "/site.csv", csv_for(*site_rows[:3], ("Paul McCartney", "")), content_type="text/csv"
    )
    saturday = sync(site)
    made_by[6] = ("run", saturday.pk)
    ava = Person.objects.get(display_name="Ava DuVernay")
    person_update(person=ava, display_name="Ava Marie DuVernay")
    versions_reach(letter, 7, worker)
    made_by[7] = ("job", None)
    # Sunday: nothing new.
    assert sync(site).outcome == "unchanged"
    assert sync(press).outcome == "unchanged"

    listing = client.get(f"/api/letters/{letter.slug}/versions/").json()
    versions = listing["results"]
    assert [version["number"] for version in versions] == list(range(1, 8))
    # Recomputed from the downloads alone.
    previous = ""
    lists = {}
    for version in versions:
        body = download(client, version["list_url"])
        assert hashlib.sha256(body).hexdigest() == version["content_sha256"]
        assert version["previous_hash"] == previous
        chained = hashlib.sha256((previous + "\n" + version["content_sha256"]).encode("ascii"))
        assert chained.hexdigest() == version["hash"]
        previous = version["hash"]
        rows = list(csv.reader(io.StringIO(body.decode("utf-8"))))
        assert rows[0] == HEADER
        assert [int(row[0]) for row in rows[1:]] == sorted(int(row[0]) for row in rows[1:])
        assert version["count"] == len(rows) - 1
        lists[version["number"]] = {row[2]: row[5] for row in rows[1:]}
        kind, who = made_by[version["number"]]
        if kind == "run":
            assert (version["run"], version["editor"]) == (who, None)
        else:
            assert (version["run"], version["editor"]) == (None, who)

    everyone = {"Maggie Gyllenhaal", "Ava DuVernay", "Ben Stiller", "Cate Blanchett"}
    assert lists[1] == dict.fromkeys(everyone, "listed")
    assert lists[2] == {**lists[1], "Maggie Gylenhall": "listed"}
    assert lists[3] == lists[1]
    assert lists[4] == {**lists[1], "Cate Blanchett": "unlisted"}
    assert lists[5] == {**lists[4], "Ben Stiller": "retracted"}
    assert lists[6] == {**lists[5], "Paul McCartney": "listed"}
    renamed = {**lists[6], "Ava Marie DuVernay": "listed"}
    del renamed["Ava DuVernay"]
    assert lists[7] == renamed
    # What was published on Monday is still what Monday's version serves.
    assert download(client, versions[0]["list_url"]) == first_csv
