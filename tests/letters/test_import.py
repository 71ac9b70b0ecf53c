"""The import_signatures and sync_sources commands."""

from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from letters.models import Sighting, Source, SyncRun
from tests.factories import make_letter, make_source
from tests.letters.fixtures.feeds import FIXTURES
from tracker.testing.servers import FeedServer

pytestmark = pytest.mark.django_db


def run_command(*args: str) -> str:
    out = StringIO()
    call_command(*args, stdout=out, stderr=StringIO())
    return out.getvalue()


def test_it_imports_a_file_into_a_new_source_and_prints_the_counts():
    letter = make_letter(slug="ai-copyright")

    output = run_command(
        "import_signatures", "ai-copyright", str(FIXTURES / "organisers_sheet.csv"), "--source",
        "Organisers' sheet",
    )  # fmt: skip

    source = Source.objects.get(letter=letter, name="Organisers' sheet")
    run = source.runs.get()
    assert (source.kind, source.format, source.enabled, run.trigger) == (
        "feed",
        "csv",
        False,
        "import",
    )
    assert f'Run {run.pk} of "Organisers\' sheet" succeeded: 4 seen, 4 added' in output
    assert source.sightings.count() == 4


def test_it_imports_json_into_an_existing_source_and_sees_a_second_import_unchanged():
    letter = make_letter(slug="ai-copyright")
    make_source(letter, name="Feed", kind="feed", format="json")
    path = str(FIXTURES / "signatories.json")

    run_command("import_signatures", "ai-copyright", path, "--source", "Feed")
    output = run_command("import_signatures", "ai-copyright", path, "--source", "Feed")

    assert "unchanged: 3 seen, 0 added" in output
    assert Sighting.objects.count() == 3


def test_it_fails_with_the_reason_a_file_cannot_be_read(tmp_path):
    make_letter(slug="ai-copyright")
    path = tmp_path / "list.csv"
    path.write_bytes(b"name,affiliation\nRon Howard,Imagine\n,Nobody\n")

    with pytest.raises(CommandError) as caught:
        run_command("import_signatures", "ai-copyright", str(path), "--source", "Sheet")

    assert "failed: 0 seen" in str(caught.value)
    assert "Line 3: no name." in str(caught.value)
    assert not Sighting.objects.exists()
    assert SyncRun.objects.get().outcome == "failed"


def test_it_refuses_a_letter_it_does_not_know():
    with pytest.raises(CommandError, match="no letter with the slug 'nope'"):
        run_command("import_signatures", "nope", str(FIXTURES / "first_last.csv"), "--source", "S")


def test_it_syncs_the_sources_it_is_given_now(settings):
    settings.TRACKER_ALLOW_PRIVATE_SOURCES = True
    letter = make_letter()
    with FeedServer() as feeds:
        feeds.serve("/a.csv", b"name\nCate Blanchett\n")
        feeds.serve("/b.json", b'[{"name": "Ron Howard"}]')
        first = make_source(letter, name="A", url=feeds.url("/a.csv"), format="csv")
        second = make_source(letter, name="B", url=feeds.url("/b.json"), format="json")
        make_source(letter, name="Off", url=feeds.url("/a.csv"), format="csv", enabled=False)

        named = run_command("sync_sources", str(first.pk))
        everything = run_command("sync_sources", "--all")

    assert "'A' succeeded: 1 seen, 1 added" in named
    assert "'A' unchanged" in everything and "'B' succeeded: 1 seen, 1 added" in everything
    assert "'Off'" not in everything
    assert second.runs.get().trigger == "manual"


def test_it_reports_sources_that_did_not_sync(settings):
    settings.TRACKER_ALLOW_PRIVATE_SOURCES = True
    letter = make_letter()
    with FeedServer() as feeds:
        source = make_source(letter, name="A", url=feeds.url("/missing.csv"), format="csv")

        errors = StringIO()
        with pytest.raises(CommandError, match="2 of 2 sources did not sync"):
            call_command("sync_sources", str(source.pk), "999999", stderr=errors)

    assert "HTTP 404 Not Found" in source.runs.get().error
    assert "HTTP 404 Not Found" in errors.getvalue()
    assert "There is no source 999999." in errors.getvalue()


def test_it_asks_for_sources_or_all():
    with pytest.raises(CommandError, match="Give source ids or --all"):
        run_command("sync_sources")


def test_it_leaves_out_the_rows_it_cannot_read_and_says_which(tmp_path):
    make_letter(slug="ai-copyright")
    path = tmp_path / "list.csv"
    rows = "".join(f"Signatory Number{i},Studio\n" for i in range(30))
    path.write_text(f"name,affiliation\n{rows},Nobody\n")

    output = run_command("import_signatures", "ai-copyright", str(path), "--source", "Sheet")

    assert "succeeded: 30 seen, 30 added" in output
    assert "1 row left out, which cannot be read: Line 32: no name." in output
    assert Sighting.objects.count() == 30
