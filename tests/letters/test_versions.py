"""Citable list versions: each change to a letter's public list publishes a
version whose canonical CSV and hash chain anyone can recompute, and that never
changes afterwards."""

from __future__ import annotations

import csv
import gzip
import hashlib
import io

import pytest
from django.core.management import CommandError, call_command
from django.db import connection
from rest_framework.test import APIClient

from letters.models import ListVersion, Signature
from letters.services import signature_change_status, signature_update_stated
from letters.tasks import letter_versions_record
from letters.versions import record_version
from tests.factories import make_signature
from tests.letters.fixtures.syncs import source_for, sync

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("private_sources_allowed")]


def download(letter, number: int) -> bytes:
    response = APIClient().get(f"/api/letters/{letter.slug}/versions/{number}/list.csv")
    assert response.status_code == 200
    return response.content


def published(letter) -> list[dict]:
    response = APIClient().get(f"/api/letters/{letter.slug}/versions/?page_size=1000")
    assert response.status_code == 200
    return response.json()["results"]


def test_a_sync_publishes_the_list_it_wrote_as_the_first_version(letter, feeds):
    source = source_for(letter, feeds, b"name,title\nMaggie Gyllenhaal,Actor\nAva DuVernay,\n")

    run = sync(source)

    [version] = published(letter)
    body = download(letter, 1)
    maggie, ava = Signature.objects.order_by("id")
    assert (
        body
        == (
            "signature_id,person_id,name,title,affiliation,status\n"
            f"{maggie.pk},{maggie.person_id},Maggie Gyllenhaal,Actor,,listed\n"
            f"{ava.pk},{ava.person_id},Ava DuVernay,,,listed\n"
        ).encode()
    )
    assert version["number"] == 1 and version["count"] == 2
    assert version["content_sha256"] == hashlib.sha256(body).hexdigest()
    assert version["previous_hash"] == ""
    assert version["hash"] == hashlib.sha256(f"\n{version['content_sha256']}".encode()).hexdigest()
    assert (version["run"], version["editor"]) == (run.pk, None)


def test_a_sync_that_changes_nothing_makes_no_version(letter, feeds):
    source = source_for(letter, feeds, b"name\nMaggie Gyllenhaal\nAva DuVernay\n")
    sync(source)
    # Another file (the rows in another order) that lists the same people alike.
    feeds.serve("/signatories.csv", b"name\nAva DuVernay\nMaggie Gyllenhaal\n")

    reordered = sync(source)
    again = sync(source)

    assert reordered.outcome == "succeeded", reordered.error
    assert again.outcome == "unchanged"
    assert ListVersion.objects.filter(letter=letter).count() == 1


def test_an_edit_that_changes_nothing_in_the_list_makes_no_version(letter, editor):
    signature = make_signature(letter, "Cate Blanchett")
    record_version(letter)

    # Flagging for review is not part of the public list; the job finds nothing new.
    signature_update_stated(
        signature=signature, needs_review=True, review_reason="Check the spelling.", by=editor
    )
    made_by_flag = letter_versions_record([letter.pk], user_id=editor.pk, reason="flag")
    signature_update_stated(signature=signature, title="Actor", by=editor)
    made_by_title = letter_versions_record([letter.pk], user_id=editor.pk, reason="title")
    made_again = letter_versions_record([letter.pk], user_id=editor.pk, reason="title")

    assert (made_by_flag, made_by_title, made_again) == (0, 1, 0)
    latest = ListVersion.objects.filter(letter=letter).order_by("number").last()
    assert (latest.number, latest.created_by, latest.reason) == (2, editor, "title")


def test_a_published_version_cannot_be_changed_and_a_correction_makes_a_new_one(letter, editor):
    signature = make_signature(letter, "Ben Stiller")
    first = record_version(letter)
    before = download(letter, 1)

    signature_change_status(signature=signature, status="retracted", reason="Asked to be off.")
    second = record_version(letter, user=editor, reason="retraction")
    first.reason = "rewritten"

    with pytest.raises(TypeError):
        first.save()
    with pytest.raises(TypeError):
        ListVersion.objects.filter(pk=first.pk).update(reason="rewritten")
    with pytest.raises(TypeError):
        ListVersion.objects.filter(pk=first.pk).delete()
    assert download(letter, 1) == before
    assert before.endswith(b",Ben Stiller,,,listed\n")
    assert download(letter, 2).endswith(b",Ben Stiller,,,retracted\n")
    assert second.previous_hash == first.hash


def test_removed_and_merged_away_signatures_leave_the_list(letter):
    kept = make_signature(letter, "Paul McCartney")
    fake = make_signature(letter, "Paul Fake")
    record_version(letter)

    signature_change_status(signature=fake, status="removed", reason="Not a real entry.")
    version = record_version(letter)

    rows = list(csv.reader(io.StringIO(download(letter, version.number).decode())))
    assert rows[1:] == [[str(kept.pk), str(kept.person_id), "Paul McCartney", "", "", "listed"]]
    assert version.count == 1


def test_the_canonical_csv_quotes_as_rfc_4180_says(letter):
    signature = make_signature(letter, "Guillermo del Toro")
    signature_update_stated(signature=signature, title='Director, "Pinocchio"', affiliation="Año")

    record_version(letter)

    row = download(letter, 1).split(b"\n")[1]
    expected = (
        f"{signature.pk},{signature.person_id},Guillermo del Toro,"
        '"Director, ""Pinocchio""",Año,listed'
    )
    assert row == expected.encode("utf-8")


# --- verify_list -------------------------------------------------------------------


def _three_versions(letter) -> None:
    for name in ("Ava DuVernay", "Cate Blanchett", "Paul McCartney"):
        make_signature(letter, name)
        record_version(letter)


def test_verify_list_recomputes_an_intact_chain(letter):
    _three_versions(letter)
    out = io.StringIO()

    call_command("verify_list", letter.slug, stdout=out)

    latest = ListVersion.objects.get(letter=letter, number=3)
    assert out.getvalue().strip() == (
        f"{letter.slug}: 3 versions verified; latest hash {latest.hash}."
    )


def test_verify_list_names_the_version_whose_stored_list_was_tampered_with(letter):
    _three_versions(letter)
    stored = gzip.decompress(bytes(ListVersion.objects.get(letter=letter, number=2).data))
    forged = stored.replace(b"Cate Blanchett", b"Kate Blanchett")
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE letters_listversion SET data = %s WHERE letter_id = %s AND number = 2",
            [gzip.compress(forged), letter.pk],
        )
    err = io.StringIO()

    with pytest.raises(CommandError) as failure:
        call_command("verify_list", letter.slug, stderr=err)

    assert str(failure.value).startswith(f"The chain of {letter.slug} breaks at version 2")
    [problem] = err.getvalue().splitlines()
    actual = hashlib.sha256(forged).hexdigest()
    assert problem.startswith(f"Version 2: the stored list's SHA-256 is {actual}")
    # What the API serves is the stored file, tampered or not, never a rebuild.
    assert download(letter, 2) == forged


def test_verify_list_names_a_broken_link_in_the_chain(letter):
    _three_versions(letter)
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE letters_listversion SET hash = %s WHERE letter_id = %s AND number = 1",
            ["0" * 64, letter.pk],
        )
    err = io.StringIO()

    with pytest.raises(CommandError):
        call_command("verify_list", letter.slug, stderr=err)

    problems = err.getvalue().splitlines()
    assert problems[0].startswith(f"Version 1: hash is {'0' * 64}, recomputed ")
    assert problems[1].startswith("Version 2: previous_hash is ")
    assert len(problems) == 2


def test_verify_list_refuses_an_unknown_letter(db):
    with pytest.raises(CommandError, match="no letter with the slug 'nope'"):
        call_command("verify_list", "nope")


# --- The API -------------------------------------------------------------------------


@pytest.mark.parametrize("page_size", [2, 5])
def test_the_version_list_costs_three_queries_whatever_the_page_size(
    letter, django_assert_num_queries, page_size
):
    for number in range(6):
        make_signature(letter, f"Signatory Number{number}")
        record_version(letter)
    client = APIClient()

    # 1. the letter by its slug, 2. the count, 3. the page of versions with their editors
    with django_assert_num_queries(3):
        response = client.get(f"/api/letters/{letter.slug}/versions/?page_size={page_size}")

    results = response.json()["results"]
    assert [version["number"] for version in results] == list(range(1, page_size + 1))
    assert response.json()["count"] == 6


def test_the_csv_answers_with_its_content_type_and_the_stored_bytes(letter):
    make_signature(letter, "Alfonso Cuarón")
    version = record_version(letter)

    response = APIClient().get(
        f"/api/letters/{letter.slug}/versions/1/list.csv", HTTP_ACCEPT="text/csv"
    )

    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"] == f'attachment; filename="{letter.slug}-v1.csv"'
    assert response.content == gzip.decompress(bytes(version.data))
    assert "Alfonso Cuarón" in response.content.decode("utf-8")
    detail = APIClient().get(f"/api/letters/{letter.slug}/versions/1/").json()
    assert detail["list_url"] == f"http://testserver/api/letters/{letter.slug}/versions/1/list.csv"


def test_an_unknown_version_or_letter_answers_404(letter):
    client = APIClient()

    for asked in ({}, {"HTTP_ACCEPT": "text/csv"}):
        missing = client.get(f"/api/letters/{letter.slug}/versions/1/list.csv", **asked)
        assert missing.status_code == 404
        assert missing["Content-Type"] == "application/json"
        assert missing.json()["message"] == "The letter has no version 1."
    assert client.get(f"/api/letters/{letter.slug}/versions/1/").status_code == 404
    assert client.get("/api/letters/nope/versions/").status_code == 404
