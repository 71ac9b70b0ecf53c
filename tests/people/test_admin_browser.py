"""Undoing a merge and splitting a person as an editor does it: in Chromium,
through the login form, typing and clicking on the admin's pages.

Needs Debian's Chromium (``apt-get install -y chromium``; .ci/run installs it
when missing): Playwright's own browser download is not used. Without a
Chromium the test fails, saying so; it is never skipped.

With ``BROWSER_SCREENSHOTS=<folder>`` the pages are also saved as PNG there,
to look at them.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from django.db import connections
from playwright.sync_api import Page, expect, sync_playwright

from letters.models import Sighting
from letters.services import Entry, signature_record
from people.merging.merge import person_merge
from people.models import Merge, Person, Split
from people.services import person_create
from tests.factories import make_letter, make_source

pytestmark = pytest.mark.django_db(transaction=True)

PASSWORD = "editor-password-123"


def chromium() -> str:
    found = shutil.which("chromium") or next(
        (path for path in ("/usr/bin/chromium",) if os.access(path, os.X_OK)), None
    )
    if found is None:
        pytest.fail(
            "No Chromium found (looked for `chromium` on PATH and /usr/bin/chromium). "
            "Install Debian's: apt-get update && apt-get install -y chromium",
            pytrace=False,
        )
    return found


@pytest.fixture
def page(monkeypatch) -> Page:
    # Playwright's sync API runs an event loop in this thread; the test's own
    # ORM calls in between are plain synchronous calls all the same.
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    executable = chromium()
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable)
        try:
            context = browser.new_context(viewport={"width": 1400, "height": 1000})
            page = context.new_page()
            page.set_default_timeout(20_000)
            yield page
        finally:
            browser.close()


def screenshot(page: Page, name: str) -> None:
    folder = os.environ.get("BROWSER_SCREENSHOTS")
    if folder:
        Path(folder).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(Path(folder) / f"{name}.png"), full_page=True)


def sign(source, name: str, *, person: Person | None = None, title: str = "") -> Sighting:
    person = person or person_create(name=name, source=source)
    return signature_record(
        letter=source.letter, source=source, entry=Entry(name=name, title=title), person=person
    ).sighting


def log_in(page: Page, live_server, user, then: str) -> None:
    page.goto(f"{live_server.url}/admin/login/?next={then}")
    page.fill("#id_username", user.username)
    page.fill("#id_password", PASSWORD)
    page.click("input[type=submit]")
    expect(page).to_have_url(f"{live_server.url}{then}")


@pytest.fixture
def editor_user(django_user_model):
    return django_user_model.objects.create_superuser(
        username="editor", email="editor@example.org", password=PASSWORD
    )


def test_an_editor_undoes_a_merge_and_splits_a_person_in_the_browser(
    editor_user, live_server, page
):
    try:
        undo_a_merge_then_split_a_person(editor_user, live_server, page)
    finally:
        # With Playwright's loop marked running, Django gives the code here
        # database connections of its own: close them, or the test database
        # could not be dropped at the end.
        connections.close_all()


def undo_a_merge_then_split_a_person(editor_user, live_server, page: Page) -> None:
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
    screenshot(page, "merge-before-undo")
    page.get_by_role("button", name="Undo this merge").click()
    expect(page.locator(".messagelist .success")).to_contain_text(f"Merge #{merge.pk} undone")
    expect(page.locator(".messagelist .success")).to_contain_text("Maggie Gylenhall")
    expect(page.locator("#undo")).to_contain_text("Two actors: one is a stage actor from Leeds.")
    screenshot(page, "merge-after-undo")
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
    screenshot(page, "person-before-split")
    page.get_by_role("button", name="Move the chosen entries to a new person").click()
    expect(page.locator(".messagelist .success")).to_contain_text("2 entries moved from")
    split = Split.objects.get()
    expect(page).to_have_url(f"{live_server.url}/admin/people/person/{split.new_person_id}/change/")
    screenshot(page, "person-after-split")
    moved = Sighting.objects.filter(signature__person=split.new_person).values_list("pk", flat=True)
    assert sorted(moved) == sorted(chosen)
    assert split.person_id == person.pk
    assert split.by == editor_user
    assert split.reason == "A namesake: the nurse who signed the union letter."
