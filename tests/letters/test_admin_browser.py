"""The letters pages as an editor uses them, in Chromium (tests/browser.py):
"Sync now" and "Run the duplicate finder on this person" with their run pages
following the runs to their end by themselves, on a real worker; entering
signatures and reading what each entry did; the desk at the admin's index.
"""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from letters.models import Signature, Source, SyncRun
from letters.services import Entry, signature_record
from people.models import MatchJudgement, MatchRun
from people.services import person_create
from tests.browser import log_in, shot, table_fits
from tests.factories import make_letter, make_signature, make_source
from tracker.testing.servers import FeedServer

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.browser]

CSV = "name,affiliation\nMaggie Gyllenhaal,Actor\nAva DuVernay,ARRAY\nCate Blanchett,\n"


@pytest.fixture
def feeds(settings):
    settings.TRACKER_ALLOW_PRIVATE_SOURCES = True
    settings.TRACKER_SOURCE_ALLOWED_NETWORKS = []
    with FeedServer() as server:
        yield server


def test_sync_now_and_the_duplicate_finder_pages_follow_their_runs_to_the_end(
    editor_user, live_server, page: Page, feeds, celery_worker_process, settings
):
    # The list takes a few seconds to arrive, so the run is seen running.
    feeds.serve("/signatories.csv", CSV, delay=4)
    letter = make_letter(title="Letter to the OSTP")
    source = make_source(
        letter, name="Organisers' sheet", kind="feed", url=feeds.url("/signatories.csv")
    )
    Source.objects.filter(pk=source.pk).update(format="csv")
    # The runs an entry queues wait long enough not to cross the one asked for here.
    settings.MATCHING_DEBOUNCE_SECONDS = 600
    signature_record(
        letter=letter,
        source=make_source(letter, name="Newspaper"),
        entry=Entry(name="Maggie Gylenhall", title="Actor"),
    )

    source_page = f"/admin/letters/source/{source.pk}/change/"
    log_in(page, live_server, editor_user, source_page)
    page.get_by_role("button", name="Sync now").click()
    run = SyncRun.objects.get(source=source)
    expect(page).to_have_url(f"{live_server.url}/admin/letters/syncrun/{run.pk}/change/")
    message = page.locator(".messagelist .success")
    expect(message).to_contain_text(f"sync queued as run {run.pk}")
    expect(message.get_by_role("link", name=f"run {run.pk}")).to_have_attribute(
        "href", f"/admin/letters/syncrun/{run.pk}/change/"
    )
    progress = page.locator("#progress")
    expect(progress).to_contain_text("Running", timeout=30_000)
    expect(progress).to_contain_text("fetching the list")  # the feed takes 4 seconds
    expect(progress).to_contain_text("refreshes itself")
    shot(page, "sync-run-running")
    # Nobody reloads: the page does, until the run has ended.
    expect(progress).to_contain_text("Succeeded", timeout=60_000)
    expect(progress).to_contain_text("3 rows read")
    expect(progress).not_to_contain_text("refreshes itself")
    shot(page, "sync-run-finished")
    assert SyncRun.objects.get(pk=run.pk).seen == 3

    page.goto(f"{live_server.url}/admin/letters/syncrun/")
    expect(page.locator("#result_list")).to_contain_text("Succeeded")
    assert table_fits(page), "a column of the sync runs is cut off at 1400 px"

    # The duplicate finder on one person, from their page.
    misspelt = Signature.objects.get(letter=letter, person__display_name="Maggie Gylenhall")
    page.goto(f"{live_server.url}/admin/people/person/{misspelt.person_id}/change/")
    page.get_by_role("button", name="Run the duplicate finder on this person").click()
    match_run = MatchRun.objects.get()
    expect(page).to_have_url(f"{live_server.url}/admin/people/matchrun/{match_run.pk}/change/")
    expect(page.locator(".messagelist .success")).to_contain_text(
        f"Queued run {match_run.pk} of the duplicate finder, on Maggie Gylenhall."
    )
    expect(page.locator("#progress")).to_contain_text("Finished", timeout=60_000)
    expect(page.locator("#progress")).to_contain_text("people considered")
    shot(page, "match-run-finished")
    match_run.refresh_from_db()
    assert match_run.status == "succeeded"
    assert match_run.merged + match_run.queued >= 1

    page.goto(f"{live_server.url}/admin/people/matchrun/")
    assert table_fits(page), "a column of the match runs is cut off at 1400 px"


def choose(page: Page, field: str, typed: str, option: str) -> None:
    """Pick ``option`` in an autocomplete widget by typing ``typed``."""
    page.locator(f".field-{field} .select2-selection").click()
    page.locator(".select2-container--open .select2-search__field").fill(typed)
    page.locator(".select2-results__option", has_text=option).click()


def test_an_editor_enters_signatures_and_is_told_what_each_entry_did(
    editor_user, live_server, page: Page
):
    letter = make_letter(title="Letter to the OSTP")
    other = make_letter(title="Letter on film archives")
    press = make_source(other, name="Press")
    known = person_create(name="Ava DuVernay", source=press)
    signature_record(letter=other, source=press, entry=Entry(name="Ava DuVernay"), person=known)
    add = f"/admin/letters/signature/add/?letter={letter.pk}"
    log_in(page, live_server, editor_user, add)

    # A new person, by name.
    page.fill("#id_name", "Guillermo del Toro")
    page.fill("#id_title", "Director")
    page.get_by_role("button", name="Save", exact=True).click()
    message = page.locator(".messagelist li")
    expect(message).to_contain_text(
        "New signature: Guillermo del Toro (a new person) signed “Letter to the OSTP”"
    )
    expect(message).not_to_contain_text("added successfully")
    shot(page, "signature-new")

    # A person already known, chosen by typing (with a typo) in the autocomplete.
    page.goto(f"{live_server.url}{add}")
    choose(page, "person", "duvernai", "Ava DuVernay")
    page.get_by_role("button", name="Save", exact=True).click()
    expect(message).to_contain_text(
        "New signature: Ava DuVernay (already known) signed “Letter to the OSTP”"
    )

    # Someone already on the letter: another sighting, no second signature.
    page.goto(f"{live_server.url}/admin/letters/signature/add/?letter={other.pk}")
    choose(page, "person", "ava duvernay", "Ava DuVernay")
    page.get_by_role("button", name="Save", exact=True).click()
    expect(message).to_contain_text("Ava DuVernay had already signed “Letter on film archives”")
    expect(message).to_contain_text("another sighting")
    assert Signature.objects.filter(letter=other, person=known).count() == 1

    # The same entry again: nothing changed, and the message says so.
    page.goto(f"{live_server.url}/admin/letters/signature/add/?letter={other.pk}")
    choose(page, "person", "ava duvernay", "Ava DuVernay")
    page.get_by_role("button", name="Save", exact=True).click()
    expect(page.locator(".messagelist .warning")).to_contain_text("Nothing changed")
    shot(page, "signature-nothing-changed")
    assert Signature.objects.get(letter=other, person=known).sightings.count() == 2


def test_the_desk_counts_what_needs_an_editor_and_opens_each_list(
    editor_user, live_server, page: Page
):
    letter = make_letter(title="Letter to the OSTP")
    flagged = make_signature(letter, name="Cate Blanchett")
    Signature.objects.filter(pk=flagged.pk).update(
        needs_review=True, review_cause="gone", review_reason="Gone from the press list."
    )
    make_signature(letter, name="Paul McCartney")
    first, second = person_create(name="Ava DuVernay"), person_create(name="Ava Duvernay")
    MatchJudgement.objects.create(person_a=first, person_b=second, score=0.9)
    feed = make_source(
        letter, name="Feed", kind="feed", url="https://example.org/list.csv", format="csv"
    )
    SyncRun.objects.create(source=feed, outcome="failed", error="HTTP 500")

    page.goto(f"{live_server.url}/")
    page.get_by_role("link", name="The editors' desk").click()
    page.fill("#id_username", editor_user.username)
    page.fill("#id_password", "editor-password-123")
    page.click("input[type=submit]")
    desk = page.locator("#desk")
    expect(desk).to_contain_text("1 Suspected duplicates to review")
    expect(desk).to_contain_text("1 Signatures needing review")
    expect(desk).to_contain_text("1 Failed syncs (last 7 days)")
    expect(desk).to_contain_text("0 Stuck syncs")
    expect(desk).to_contain_text("1 Sources not synced on schedule")
    shot(page, "desk")

    desk.get_by_role("link", name="Signatures needing review").click()
    rows = page.locator("#result_list tbody tr")
    expect(rows).to_have_count(1)
    expect(rows).to_contain_text("Cate Blanchett")
    expect(rows.locator(".needs-review")).to_have_text("⚠ needs review")
    page.go_back()
    desk.get_by_role("link", name="Failed syncs").click()
    expect(page.locator("#result_list tbody tr")).to_contain_text("Failed")
    page.go_back()
    desk.get_by_role("link", name="Suspected duplicates to review").click()
    expect(page.locator("section.review-item")).to_have_count(1)


def test_a_source_s_options_follow_its_format_and_a_bad_one_is_refused_on_its_field(
    editor_user, live_server, page: Page
):
    source = make_source(
        make_letter(), name="Organisers' sheet", kind="feed", url="https://example.org/list.csv"
    )
    Source.objects.filter(pk=source.pk).update(format="csv")
    log_in(page, live_server, editor_user, f"/admin/letters/source/{source.pk}/change/")
    delimiter, entry = (
        page.locator(".field-option_delimiter"),
        page.locator(".field-selector_entry"),
    )
    expect(delimiter).to_be_visible()
    expect(entry).to_be_hidden()
    page.select_option("#id_format", "html")
    expect(delimiter).to_be_hidden()
    expect(entry).to_be_visible()
    expect(entry).to_contain_text("ul.signatories > li")
    page.select_option("#id_format", "csv")
    page.fill("#id_option_delimiter", ";;")
    page.fill("#id_option_columns", "Full name = name\nOrg = affiliation")
    page.get_by_role("button", name="Save", exact=True).click()
    expect(delimiter.locator(".errorlist")).to_have_text("The delimiter is one character.")
    shot(page, "source-options-refused")
    assert Source.objects.get(pk=source.pk).options == {}
    page.fill("#id_option_delimiter", ";")
    page.get_by_role("button", name="Save", exact=True).click()
    expect(page.locator(".messagelist .success")).to_be_visible()
    assert Source.objects.get(pk=source.pk).options == {
        "delimiter": ";",
        "columns": {"Full name": "name", "Org": "affiliation"},
    }
