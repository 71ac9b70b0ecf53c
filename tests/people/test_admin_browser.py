"""The people pages as an editor uses them, in Chromium (tests/browser.py):
undoing a merge and splitting a person, the review queue deciding each way
(by clicks and by keys), a refused decision shown beside its pair, undo and
split one click away from a merge, the typo-tolerant search, and a match run's
page reloading itself through its blocks to the end.
"""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from letters.models import Sighting
from letters.services import Entry, signature_record
from people.merging.merge import person_merge
from people.models import MatchJudgement, MatchRun, Merge, Person, Split
from people.services import person_create
from tests.browser import contrast, log_in, shot, table_fits
from tests.factories import make_letter, make_source

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.browser]


def sign(
    source, name: str, *, person: Person | None = None, title: str = "", affiliation: str = ""
) -> Sighting:
    person = person or person_create(name=name, source=source)
    entry = Entry(name=name, title=title, affiliation=affiliation)
    return signature_record(
        letter=source.letter, source=source, entry=entry, person=person
    ).sighting


def pair(first: Sighting, second: Sighting, score: float, explanation: dict) -> MatchJudgement:
    people = sorted([first.signature.person, second.signature.person], key=lambda p: p.pk)
    return MatchJudgement.objects.create(
        person_a=people[0], person_b=people[1], score=score, explanation=explanation
    )


EXPLANATION = {
    "agreed": [{"feature": "family name", "level": "exact", "weight": 9.5}],
    "disagreed": [{"feature": "organisation", "level": "disagree", "weight": -4.0}],
    "bits": 11.2,
}


def test_an_editor_undoes_a_merge_and_splits_a_person_in_the_browser(
    editor_user, live_server, page: Page
):
    kept = sign(make_source(make_letter(), name="Letter site"), "Maggie Gyllenhaal")
    misspelt = sign(make_source(make_letter(), name="Newspaper"), "Maggie Gylenhall")
    merge = person_merge(
        survivor=kept.signature.person, merged=misspelt.signature.person, reason="One actor."
    )
    letter = make_letter(title="Letter on film archives")
    first = sign(make_source(letter, name="Letter site"), "Ava DuVernay", title="Director")
    person = first.signature.person
    entries = [
        first,
        sign(make_source(letter, name="Newspaper"), "A. DuVernay", person=person),
        sign(make_source(make_letter(title="Letter on studios")), "Ava DuVernay", person=person),
        sign(make_source(make_letter(title="Letter on unions")), "Ava Duvernay", person=person),
    ]

    # The merge: type why, click Undo.
    merge_page = f"/admin/people/merge/{merge.pk}/change/"
    log_in(page, live_server, editor_user, merge_page)
    expect(page.locator(f"#undo-person-{merge.merged_id}")).to_be_checked()
    page.fill("#undo-reason", "Two actors: one is a stage actor from Leeds.")
    shot(page, "merge-before-undo")
    page.get_by_role("button", name="Undo this merge").click()
    expect(page.locator(".messagelist .success")).to_contain_text(f"Merge #{merge.pk} undone")
    expect(page.locator(".messagelist .success")).to_contain_text("Maggie Gylenhall")
    expect(page.locator("#undo")).to_contain_text("Two actors: one is a stage actor from Leeds.")
    shot(page, "merge-after-undo")
    assert Person.objects.get(pk=merge.merged_id).merged_into_id is None
    undone = Merge.objects.get(pk=merge.pk)
    assert undone.undone_at is not None
    assert undone.undone_by == editor_user

    # The person: tick two entries, type why, click the split button.
    page.goto(f"{live_server.url}/admin/people/person/{person.pk}/change/")
    chosen = [entries[1].pk, entries[3].pk]
    for pk in chosen:
        page.check(f"#sighting-{pk}")
    page.fill("#split-reason", "A namesake: the nurse who signed the union letter.")
    shot(page, "person-before-split")
    page.get_by_role("button", name="Move the chosen entries to a new person").click()
    expect(page.locator(".messagelist .success")).to_contain_text("2 entries moved from")
    split = Split.objects.get()
    expect(page).to_have_url(f"{live_server.url}/admin/people/person/{split.new_person_id}/change/")
    shot(page, "person-after-split")
    moved = Sighting.objects.filter(signature__person=split.new_person).values_list("pk", flat=True)
    assert sorted(moved) == sorted(chosen)
    assert split.person_id == person.pk
    assert split.by == editor_user
    assert split.reason == "A namesake: the nurse who signed the union letter."


def test_an_editor_works_through_the_review_queue_by_clicks_and_keys(
    editor_user, live_server, page: Page
):
    letter = make_letter(title="Letter to the OSTP")
    site, press = make_source(letter, name="Letter site"), make_source(letter, name="Newspaper")
    ava = pair(
        sign(site, "Ava DuVernay", title="Director", affiliation="ARRAY"),
        sign(make_source(make_letter(), name="Press"), "Ava Duvernay", title="Film director"),
        0.95,
        EXPLANATION,
    )
    # The site's second entry, so that the merged person has entries to split off.
    sign(make_source(make_letter(title="Letter on archives")), "Ava DuVernay", person=ava.person_a)
    chris = pair(
        sign(site, "Chris Evans", title="Actor", affiliation="Marvel Studios"),
        sign(press, "Chris Evans", title="Radio host", affiliation="Virgin Radio"),
        0.9,
        EXPLANATION,
    )
    cate = pair(
        sign(site, "Cate Blanchett"),
        sign(make_source(make_letter(), name="Organisers"), "Blanchett, Cate"),
        0.85,
        EXPLANATION,
    )
    review = "/admin/people/matchjudgement/review/"
    log_in(page, live_server, editor_user, review)
    first = page.locator(f"#pair-{ava.pk}")
    shot(page, "review-queue")

    # What the scorer weighed reads at a glance, and what each side stated is there.
    assert contrast(page, f"#pair-{ava.pk} tr.agreed .review-verdict") >= 4.5
    assert contrast(page, f"#pair-{ava.pk} tr.disagreed .review-verdict") >= 4.5
    expect(page.locator(f"#pair-{chris.pk}")).to_contain_text("Radio host, Virgin Radio")
    expect(page.locator(f"#pair-{chris.pk}")).to_contain_text("Actor, Marvel Studios")
    expect(first).to_contain_text("95.0% (11.2 bits)")

    # The reason is required: the browser does not send the form without it.
    reason = page.locator(f"#reason-{ava.pk}")
    expect(first.locator("label[for^=reason]")).to_have_class("required")
    first.get_by_role("button", name="Same person").click()
    assert reason.evaluate("element => element.validity.valueMissing")
    expect(page).to_have_url(f"{live_server.url}{review}")

    # A reason of blanks is refused by the service: the error shows beside the pair.
    reason.fill("   ")
    first.get_by_role("button", name="Same person").click()
    refusal = page.locator(f"#pair-{ava.pk} .review-refusal")
    expect(refusal).to_have_text("Not decided: Say why you decide so.")
    expect(refusal).to_be_in_viewport()
    assert page.evaluate("document.activeElement.id") == f"reason-{ava.pk}"
    shot(page, "review-refused")
    assert MatchJudgement.objects.get(pk=ava.pk).decision == "pending"

    # Same person, by clicking: merged, with undo and split one click away.
    page.locator(f"#reason-{ava.pk}").fill("One director, two spellings.")
    page.locator(f"#pair-{ava.pk}").get_by_role("button", name="Same person").click()
    success = page.locator(".messagelist .success")
    expect(success).to_contain_text("Ava DuVernay and Ava Duvernay are one person now: merged.")
    merge = Merge.objects.get(judgement=ava)
    undo_link = success.get_by_role("link", name=f"Undo merge #{merge.pk}")
    split_link = success.get_by_role("link", name="split entries off Ava DuVernay")
    undo_href, split_href = undo_link.get_attribute("href"), split_link.get_attribute("href")
    shot(page, "review-merged")

    # Different people, by keys: the page is on the next pair.
    expect(page.locator(f"#pair-{chris.pk}")).to_have_class("module review-item current")
    page.keyboard.press("n")
    expect(page.locator(f"#pair-{cate.pk}")).to_have_class("module review-item current")
    page.keyboard.press("p")
    expect(page.locator(f"#pair-{chris.pk}")).to_have_class("module review-item current")
    page.keyboard.press("r")
    page.keyboard.type("An actor and a radio host.")
    page.keyboard.press("Escape")
    page.keyboard.press("d")
    expect(success).to_contain_text("Chris Evans and Chris Evans are kept apart for good.")

    # Unsure, by keys.
    page.keyboard.press("r")
    page.keyboard.type("The organisers' sheet may mean someone else.")
    page.keyboard.press("Escape")
    page.keyboard.press("u")
    expect(success).to_contain_text("are marked unsure")
    expect(page.locator("#content")).to_contain_text("Nothing to review.")
    decided = dict(MatchJudgement.objects.values_list("pk", "decision"))
    assert decided == {ava.pk: "same", chris.pk: "different", cate.pk: "unsure"}
    assert MatchJudgement.objects.get(pk=chris.pk).reason == "An actor and a radio host."

    # The links of the merge's message: split lands on the split form, undo undoes.
    page.goto(f"{live_server.url}{split_href}")
    expect(page.locator("#split")).to_be_in_viewport()
    expect(
        page.get_by_role("button", name="Move the chosen entries to a new person")
    ).to_be_visible()
    page.goto(f"{live_server.url}{undo_href}")
    page.fill("#undo-reason", "Two directors after all.")
    page.get_by_role("button", name="Undo this merge").click()
    expect(page.locator(".messagelist .success")).to_contain_text(f"Merge #{merge.pk} undone")
    assert Merge.objects.get(pk=merge.pk).undone_by == editor_user


def test_the_admin_search_forgives_typos_so_an_editor_finds_who_is_there(
    editor_user, live_server, page: Page
):
    person_create(name="Maggie Gylenhall")
    person_create(name="Ben Stiller")
    person_create(name="Cate Blanchett")
    people = "/admin/people/person/"
    log_in(page, live_server, editor_user, people)
    for typed, found in [("gyllenhaal", "Maggie Gylenhall"), ("stiler", "Ben Stiller")]:
        page.fill("#searchbar", typed)
        page.keyboard.press("Enter")
        rows = page.locator("#result_list tbody tr")
        expect(rows).to_have_count(1)
        expect(rows).to_contain_text(found)
    shot(page, "people-search")


def test_a_match_run_page_shows_its_blocks_and_reloads_itself_until_the_run_ends(
    editor_user, live_server, page: Page
):
    run = MatchRun.objects.create(
        mode="full", status="running", people_considered=28, blocks=8, blocks_done=3
    )
    run_page = f"/admin/people/matchrun/{run.pk}/change/"
    log_in(page, live_server, editor_user, run_page)
    progress = page.locator("#progress")
    expect(progress).to_contain_text("3 of 8 blocks done")
    expect(progress).to_contain_text("Scoring the pairs, block by block")
    shot(page, "match-run-running")

    MatchRun.objects.filter(pk=run.pk).update(blocks_done=6)
    expect(progress).to_contain_text("6 of 8 blocks done", timeout=10_000)
    MatchRun.objects.filter(pk=run.pk).update(
        blocks_done=8, status="succeeded", finished_at=run.started_at, merged=2, queued=1
    )
    expect(progress).to_contain_text("Finished", timeout=10_000)
    expect(progress).to_contain_text("2 merged")
    expect(progress.get_by_role("link", name="Merges of this run")).to_be_visible()

    page.goto(f"{live_server.url}/admin/people/matchrun/")
    assert table_fits(page), "a column of the match runs is cut off at 1400 px"
