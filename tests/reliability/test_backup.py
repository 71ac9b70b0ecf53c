"""Backup and restore as deploy/README.md tells it: deploy/backup.sh dumps a
database holding demo data and history, pg_restore loads the dump into a fresh
database, and the two hold the same rows in every table, the same sequence
positions, and the restored one takes new rows under new ids."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import psycopg
import pytest
from django.contrib.auth import get_user_model
from rest_framework.authtoken.models import Token

from letters.demo import demo_load
from letters.models import Signature
from letters.services import signature_change_status, signature_record_manual
from letters.sync import source_sync
from people.merging.merge import person_merge
from people.merging.undo import merge_undo
from people.models import Person
from tests.factories import make_letter, make_source
from tests.letters.fixtures.broker import broker_purge
from tests.processes import ROOT, manage, service_env
from tests.reliability.conftest import current_database_url
from tests.services import find_binary
from tracker.testing.servers import FeedServer

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

LISTS = [
    b"name,affiliation\nAlice Martin,\nBruno Keller,Harbour Films\nChiara Rossi,\n",
    b"name,affiliation\nAlice Martin,\nChiara Rossi,Teatro Verdi\nDmitri Volkov,\n",
    b"name,affiliation\nAlice Martin,\nBruno Keller,Harbour Films\nChiara Rossi,Teatro Verdi\n",
]


@pytest.fixture(autouse=True)
def private_sources_allowed(settings):
    settings.TRACKER_ALLOW_PRIVATE_SOURCES = True
    settings.TRACKER_SOURCE_ALLOWED_NETWORKS = []
    yield
    broker_purge()


@pytest.fixture
def restored_url():
    """A database of this test's own on the test server, dropped afterwards."""
    base = current_database_url()
    name = f"{base.rsplit('/', 1)[1]}_restored"
    server = base.rsplit("/", 1)[0]

    def execute(sql: str) -> None:
        with psycopg.connect(f"{server}/postgres", autocommit=True) as conn:
            conn.execute(sql)

    execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    yield name, f"{server}/{name}"
    execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def history() -> None:
    """Demo data, then a source synced three times (added, gone, changed, back),
    an editor's entry merged and unmerged, another merge kept, status changes."""
    demo_load()
    editor = get_user_model().objects.create_user(username="backup-editor", is_staff=True)
    Token.objects.create(user=editor)
    letter = make_letter(title="Backed up", slug="backed-up")
    with FeedServer() as feeds:
        source = make_source(letter, kind="feed", url=feeds.url("/list.csv"), format="csv")
        for body in LISTS:
            feeds.serve("/list.csv", body)
            source_sync(source_id=source.pk)
    alice = Person.objects.get(display_name="Alice Martin")
    by_hand = signature_record_manual(letter=letter, by=editor, name="A. Martin")
    merge = person_merge(survivor=alice, merged=by_hand.person, by=editor, reason="Same.")
    merge_undo(merge=merge, by=editor, reason="Not the same.")
    other = signature_record_manual(letter=letter, by=editor, name="Bruno Keler")
    person_merge(
        survivor=Person.objects.get(display_name="Bruno Keller"), merged=other.person, by=editor
    )
    signature_change_status(
        signature=Signature.objects.get(letter=letter, person=alice),
        status="verified",
        reason="Confirmed by email.",
        by=editor,
        evidence_method="email",
    )


def tables(url: str) -> list[str]:
    with psycopg.connect(url) as conn:
        return [
            name
            for (name,) in conn.execute(
                "SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY 1"
            )
        ]


def rows(url: str, table: str) -> list[str]:
    """Every row of ``table`` as PostgreSQL writes it out, in a stable order."""
    with psycopg.connect(url) as conn:
        query = f'SELECT t::text FROM "{table}" t ORDER BY 1'  # noqa: S608 - catalog names
        return [row for (row,) in conn.execute(query)]


def sequences(url: str) -> dict[str, tuple]:
    with psycopg.connect(url) as conn:
        return {
            name: (last_value, increment)
            for name, last_value, increment in conn.execute(
                "SELECT sequencename, last_value, increment_by FROM pg_sequences "
                "WHERE schemaname = 'public'"
            )
        }


def test_a_dump_restores_into_a_fresh_database_row_for_row_with_its_sequences(
    restored_url, tmp_path
):
    history()
    source_url = current_database_url()
    name, target_url = restored_url
    env = {**os.environ, "DATABASE_URL": source_url, "BACKUP_KEEP": "2"}

    done = subprocess.run(
        ["sh", "deploy/backup.sh", str(tmp_path)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    dump = Path(done.stdout.strip())
    assert dump.parent == tmp_path and dump.name.startswith("tracker-") and dump.stat().st_size

    with psycopg.connect(source_url.rsplit("/", 1)[0] + "/postgres", autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    restore = subprocess.run(
        [
            find_binary("pg_restore") or "pg_restore",
            "--no-owner",
            "--no-privileges",
            "--exit-on-error",
            "--single-transaction",
            f"--dbname={target_url}",
            str(dump),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert restore.returncode == 0, restore.stderr

    names = tables(source_url)
    assert tables(target_url) == names
    compared = {}
    for table in names:
        original = rows(source_url, table)
        assert rows(target_url, table) == original, table
        compared[table] = len(original)
    # The history is there, not only the current state.
    for table in (
        "letters_syncrun",
        "letters_syncruncontent",
        "letters_sightingevent",
        "letters_signaturestatuschange",
        "people_merge",
        "people_matchjudgement",
        "people_personname",
        "authtoken_token",
        "django_migrations",
    ):
        assert compared[table] > 0, table
    assert compared["letters_syncrun"] == 3 and compared["people_merge"] == 2
    assert sequences(target_url) == sequences(source_url)

    # The restored database serves the release, and new rows get new ids.
    restored_env = service_env(DATABASE_URL=target_url, REDIS_URL=os.environ["REDIS_URL"])
    check = manage("migrate", "--check", env=restored_env)
    assert check.returncode == 0, check.stdout + check.stderr
    created = manage(
        "shell",
        "-c",
        "from tests.factories import make_letter, make_person, make_signature\n"
        "letter = make_letter()\n"
        "signature = make_signature(letter, name='After Restore')\n"
        "print(letter.pk, signature.person_id, signature.pk, signature.sightings.get().pk)",
        env=restored_env,
    )
    assert created.returncode == 0, created.stderr
    new_ids = [int(value) for value in created.stdout.strip().splitlines()[-1].split()]
    with psycopg.connect(source_url) as conn:
        highest = [
            conn.execute(f"SELECT max(id) FROM {table}").fetchone()[0]  # noqa: S608
            for table in (
                "letters_letter",
                "people_person",
                "letters_signature",
                "letters_sighting",
            )
        ]
    assert all(new > old for new, old in zip(new_ids, highest, strict=True)), (new_ids, highest)
