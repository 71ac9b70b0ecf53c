"""Rows that cannot be read are left out and recorded on the run, with their
line and the reason; the rest of the file applies. The run fails whole only
when the file cannot be read, or when more rows are left out than the source
allows (``max_rejected_percent``, 5% unless set). Shown in the API and admin."""

from __future__ import annotations

import json

import pytest

from letters.models import Sighting, Source, SyncRun
from tests.api.conftest import _client_for
from tests.letters.fixtures.syncs import sighting_names, snapshot, source_for, sync

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("private_sources_allowed")]


def csv_list(rows: int, bad: dict[int, bytes]) -> bytes:
    """A header and ``rows`` data lines; line ``n`` (the header is line 1) is
    ``bad[n]`` where given."""
    lines = [b"name,affiliation"]
    for line in range(2, rows + 2):
        lines.append(bad.get(line, f"Signatory Number{line},Studio {line % 3}".encode()))
    return b"\n".join(lines) + b"\n"


def test_a_row_without_a_name_is_left_out_and_the_rest_applies(letter, feeds):
    source = source_for(letter, feeds, csv_list(40, {6: b",Nobody's Studio"}))

    run = sync(source)

    assert (run.outcome, run.seen, run.added, run.rejected) == ("succeeded", 39, 39, 1)
    assert run.rejected_rows == [{"line": 6, "where": "Line 6", "reason": "no name"}]
    assert run.error == ""
    assert Sighting.objects.filter(source=source).count() == 39
    assert "Signatory Number5" in sighting_names(source)


def test_each_kind_of_unreadable_row_is_recorded_with_its_line(letter, feeds):
    bad = {3: b",Studio only", 7: b"Someone,Studio,extra,cells", 9: b"\xe2\x80\x8b,Invisible"}
    source = source_for(letter, feeds, csv_list(60, bad), max_rejected_percent=10)

    run = sync(source)

    assert (run.outcome, run.seen, run.rejected) == ("succeeded", 57, 3)
    assert run.rejected_rows == [
        {"line": 3, "where": "Line 3", "reason": "no name"},
        {"line": 7, "where": "Line 7", "reason": "4 fields where the header has 2"},
        {"line": 9, "where": "Line 9", "reason": "no name"},
    ]


def test_unreadable_items_of_a_json_list_are_left_out(letter, feeds):
    items = [{"name": f"Signatory Number{i}"} for i in range(30)]
    items[4] = {"title": "Actor"}
    items[9] = 42
    body = json.dumps(items).encode()
    source = source_for(
        letter, feeds, body, format="json", content_type="application/json", max_rejected_percent=10
    )

    run = sync(source)

    assert (run.outcome, run.seen, run.rejected) == ("succeeded", 28, 2)
    assert run.rejected_rows == [
        {"line": 5, "where": "Item 5", "reason": "no name"},
        {"line": 10, "where": "Item 10", "reason": "a int, where an object or a name was expected"},
    ]


def test_more_rejected_rows_than_the_source_allows_fail_the_run_and_change_nothing(letter, feeds):
    source = source_for(letter, feeds, csv_list(10, {}))
    sync(source)
    before = snapshot()
    feeds.serve("/signatories.csv", csv_list(20, {3: b",x", 5: b",y"}))  # 2 of 20: 10%

    run = sync(source)

    assert run.outcome == "failed"
    assert run.error == (
        "2 of 20 rows cannot be read, more than the 5% the source allows: "
        "Line 3: no name; Line 5: no name."
    )
    assert run.rejected == 2 and [row["line"] for row in run.rejected_rows] == [3, 5]
    assert snapshot() == before


def test_a_source_may_allow_a_larger_share(letter, feeds):
    source = source_for(letter, feeds, csv_list(20, {3: b",x", 5: b",y"}), max_rejected_percent=10)

    run = sync(source)

    assert (run.outcome, run.seen, run.rejected) == ("succeeded", 18, 2)


def test_a_source_may_allow_none(letter, feeds):
    source = source_for(letter, feeds, csv_list(200, {3: b",x"}), max_rejected_percent=0)

    assert sync(source).outcome == "failed"


def test_a_file_that_cannot_be_read_still_fails_whole(letter, feeds):
    source = source_for(letter, feeds, b'name,affiliation\nRon Howard,"Imagine\nCate,x\n')

    run = sync(source)

    assert run.outcome == "failed"
    assert "a quoted field opened here is never closed" in run.error
    assert not Sighting.objects.exists()


# --- Shown in the API and the admin ------------------------------------------------


def test_the_api_shows_the_rejected_rows_of_a_run(letter, feeds, staff_user):
    source = source_for(letter, feeds, csv_list(40, {6: b",Nobody"}))
    run = sync(source)
    client = _client_for(staff_user)

    listed = client.get("/api/sync-runs/", {"source": source.pk}).json()["results"][0]
    detail = client.get(f"/api/sync-runs/{run.pk}/").json()

    assert listed["rejected"] == 1
    assert (detail["rejected"], detail["rejected_rows"]) == (
        1,
        [{"line": 6, "where": "Line 6", "reason": "no name"}],
    )


def test_the_api_sets_and_checks_a_sources_share(letter, feeds, staff_user):
    source = source_for(letter, feeds, csv_list(5, {}))
    client = _client_for(staff_user)

    assert client.get(f"/api/sources/{source.pk}/").json()["max_rejected_percent"] == 5
    changed = client.patch(
        f"/api/sources/{source.pk}/", {"max_rejected_percent": 20}, format="json"
    )
    refused = client.patch(
        f"/api/sources/{source.pk}/", {"max_rejected_percent": 101}, format="json"
    )

    assert changed.status_code == 200 and changed.json()["max_rejected_percent"] == 20
    assert refused.status_code == 400 and refused.json()["field"] == "max_rejected_percent"
    assert Source.objects.get(pk=source.pk).max_rejected_percent == 20


def test_the_admin_shows_the_rejected_rows_of_a_run(letter, feeds, admin_client_staff):
    source = source_for(letter, feeds, csv_list(40, {6: b",Nobody"}))
    run = sync(source)

    page = admin_client_staff.get(f"/admin/letters/syncrun/{run.pk}/change/")
    listing = admin_client_staff.get("/admin/letters/syncrun/")

    assert page.status_code == 200
    assert b"<td>Line 6</td><td>no name</td>" in page.content
    assert listing.status_code == 200 and b"column-rejected" in listing.content
    assert SyncRun.objects.get(pk=run.pk).rejected == 1
