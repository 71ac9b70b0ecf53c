"""Nothing lost. A week of one source, replayed: the organisers' list is served
on loopback in seven daily versions and synced once a day, while editors enter,
merge, undo, verify and retract; afterwards the whole history of every entry
reads back, through the API and the models, in order, and nothing was deleted.
Then syncs and merges of the same people at once, in threads with connections
of their own: no sighting is left behind on a record merged away."""

from __future__ import annotations

import threading
import traceback

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.db import OperationalError, connection, transaction
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from letters.models import Sighting, SightingEvent, Signature, SignatureStatusChange, SyncRun
from letters.services import signature_change_status, signature_record_manual
from letters.sync import source_sync
from people.merging.decisions import judgement_decide
from people.merging.merge import person_merge
from people.merging.undo import merge_undo
from people.models import MatchJudgement, Merge, Person
from tests.factories import make_letter, make_person, make_source
from tests.letters.fixtures.broker import broker_purge
from tests.reliability.conftest import a_session_waits_on_a_lock, wait_until
from tracker.errors import DomainError
from tracker.testing.servers import FeedServer

pytestmark = [pytest.mark.django_db(transaction=True)]

HEADER = "name,affiliation\n"
DAY_1 = {
    "Alice Martin": "",
    "Bruno Keller": "Harbour Films",
    "Chiara Rossi": "",
    "Dmitri Volkov": "",
}
# Day 2: two more signatories.
DAY_2 = {**DAY_1, "Elif Yilmaz": "Atlas Sound", "Farid Haddad": ""}
# Day 3: the list corrects a spelling.
DAY_3 = {("Dmitry Volkov" if name == "Dmitri Volkov" else name): a for name, a in DAY_2.items()}
# Day 4: Bruno Keller disappears from the list ...
DAY_4 = {name: a for name, a in DAY_3.items() if name != "Bruno Keller"}
# Day 5: ... and comes back.
DAY_5 = dict(DAY_3)
# Day 6: Chiara Rossi's affiliation is filled in.
DAY_6 = {**DAY_5, "Chiara Rossi": "Teatro Verdi"}
# Day 7: Farid Haddad, who retracted, is taken off the list.
DAY_7 = {name: a for name, a in DAY_6.items() if name != "Farid Haddad"}
WEEK = [DAY_1, DAY_2, DAY_3, DAY_4, DAY_5, DAY_6, DAY_7]


def body(day: dict[str, str]) -> bytes:
    return (
        HEADER + "".join(f"{name},{affiliation}\n" for name, affiliation in day.items())
    ).encode()


@pytest.fixture(autouse=True)
def private_sources_allowed(settings):
    settings.TRACKER_ALLOW_PRIVATE_SOURCES = True
    settings.TRACKER_SOURCE_ALLOWED_NETWORKS = []
    yield
    broker_purge()


def sighting_history(sighting: Sighting, runs: list[int]) -> list[tuple]:
    """A sighting's events, oldest first: (kind, the day of its run or None, before, after)."""
    history = []
    for event in SightingEvent.objects.filter(sighting=sighting).order_by("at", "id"):
        day = runs.index(event.run_id) + 1 if event.run_id in runs else None
        history.append((event.kind, day, event.before, event.after))
    return history


def test_a_week_of_syncs_and_edits_reads_back_as_the_full_history_of_every_entry():
    editor = get_user_model().objects.create_user(
        username="week-editor", password="week-password-123", is_staff=True
    )
    editor.user_permissions.set(
        Permission.objects.filter(content_type__app_label__in=["letters", "people"])
    )
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=editor).key}")
    letter = make_letter(title="A week of signatures", slug="week-letter")
    week_runs: list[int] = []

    with FeedServer() as feeds:
        feeds.serve("/list.csv", body(DAY_1))
        source = make_source(
            letter, name="Organisers", kind="letter_site", url=feeds.url("/list.csv"), format="csv"
        )
        for number, day in enumerate(WEEK, start=1):
            feeds.serve("/list.csv", body(day))
            run = source_sync(source_id=source.pk)
            assert run.outcome == SyncRun.Outcome.SUCCEEDED, (number, run.error)
            week_runs.append(run.pk)
            if number == 2:
                # An editor enters the same person under an initial: a second record ...
                by_hand = signature_record_manual(letter=letter, by=editor, name="E. Yilmaz")
            if number == 3:
                # ... which another editor merges into the list's record.
                elif_yilmaz = Person.objects.get(display_name="Elif Yilmaz")
                merge = person_merge(
                    survivor=elif_yilmaz, merged=by_hand.person, by=editor, reason="Same person."
                )
            if number == 5:
                merge_undo(merge=merge, by=editor, reason="E. Yilmaz is Emre Yilmaz.")
            if number == 6:
                alice = Signature.objects.get(person__display_name="Alice Martin")
                answer = api.post(
                    f"/api/signatures/{alice.pk}/status/",
                    {
                        "status": "verified",
                        "reason": "She confirmed by email.",
                        "evidence_method": "email",
                    },
                    format="json",
                )
                assert answer.status_code == 200, answer.json()
            if number == 7:
                farid = Signature.objects.get(person__display_name="Farid Haddad")
                signature_change_status(
                    signature=farid,
                    status=Signature.Status.RETRACTED,
                    reason="He asked to be taken off.",
                    by=editor,
                    evidence_method="public_statement",
                    evidence_url="https://example.org/farid-statement",
                )

    # Every run is kept with its counts, newest first in the API.
    runs = api.get(f"/api/sync-runs/?source={source.pk}").json()["results"]
    assert [run["id"] for run in runs] == week_runs[::-1]
    counts = [
        (run["outcome"], run["seen"], run["added"], run["changed"], run["gone"], run["back"])
        for run in reversed(runs)
    ]
    assert counts == [
        ("succeeded", 4, 4, 0, 0, 0),
        ("succeeded", 6, 2, 0, 0, 0),
        ("succeeded", 6, 0, 1, 0, 0),
        ("succeeded", 5, 0, 0, 1, 0),
        ("succeeded", 6, 0, 0, 0, 1),
        ("succeeded", 6, 0, 1, 0, 0),
        ("succeeded", 5, 0, 0, 1, 0),
    ]
    diffs = [api.get(f"/api/sync-runs/{run}/").json()["diff"] for run in week_runs]
    assert [diff["added"] for diff in diffs[:2]] == [list(DAY_1), ["Elif Yilmaz", "Farid Haddad"]]
    assert [diff["gone"] for diff in diffs] == [
        [],
        [],
        [],
        ["Bruno Keller"],
        [],
        [],
        ["Farid Haddad"],
    ]
    assert diffs[4]["back"] == ["Bruno Keller"]
    assert diffs[2]["changed"][0]["name"] == "Dmitry Volkov"
    assert diffs[5]["changed"][0]["name"] == "Chiara Rossi"

    # Every entry of the list, event by event.
    listed = {s.name: s for s in Sighting.objects.filter(source=source)}
    assert sorted(listed) == [
        "Alice Martin",
        "Bruno Keller",
        "Chiara Rossi",
        "Dmitry Volkov",
        "Elif Yilmaz",
        "Farid Haddad",
    ]
    for name in ("Alice Martin", "Elif Yilmaz"):
        assert [(k, d) for k, d, *_ in sighting_history(listed[name], week_runs)] == [
            ("added", 1 if name == "Alice Martin" else 2)
        ]
    assert [(k, d) for k, d, *_ in sighting_history(listed["Bruno Keller"], week_runs)] == [
        ("added", 1),
        ("gone", 4),
        ("back", 5),
    ]
    assert sighting_history(listed["Chiara Rossi"], week_runs)[1:] == [
        ("changed", 6, {"affiliation": ""}, {"affiliation": "Teatro Verdi"})
    ]
    assert sighting_history(listed["Chiara Rossi"], week_runs)[0][:2] == ("added", 1)
    volkov = sighting_history(listed["Dmitry Volkov"], week_runs)
    assert [(k, d) for k, d, *_ in volkov] == [("added", 1), ("changed", 3)]
    assert volkov[1][2]["name"] == "Dmitri Volkov" and volkov[1][3]["name"] == "Dmitry Volkov"
    assert [(k, d) for k, d, *_ in sighting_history(listed["Farid Haddad"], week_runs)] == [
        ("added", 2),
        ("gone", 7),
    ]
    assert listed["Farid Haddad"].present is False and listed["Bruno Keller"].present is True

    # The editor's entry: added, moved into the list's signature by the merge, moved back.
    manual = Sighting.objects.get(source__kind="manual")
    own, kept = by_hand.pk, listed["Elif Yilmaz"].signature_id
    assert [(k, before, after) for k, _d, before, after in sighting_history(manual, week_runs)][
        1:
    ] == [
        ("moved", {"signature": own}, {"signature": kept}),
        ("moved", {"signature": kept}, {"signature": own}),
    ]
    assert manual.signature_id == own

    # The merge and its undo stay on record, with the judgement the undo left.
    merge = Merge.objects.get()
    assert (merge.survivor.display_name, merge.merged.display_name) == ("Elif Yilmaz", "E. Yilmaz")
    assert merge.moved["folded_signatures"][0]["signature"] == own
    assert merge.undone_at is not None and merge.undo_reason == "E. Yilmaz is Emre Yilmaz."
    judgement = MatchJudgement.objects.get()
    assert judgement.decision == "different" and judgement.decided_by == editor
    assert Signature.objects.get(pk=own).merged_into_id is None

    # Every signature's status history, read through the API, with the reasons.
    def status_history(signature_id: int) -> list[tuple]:
        detail = api.get(f"/api/signatures/{signature_id}/").json()
        return [
            (change["from_status"], change["to_status"], change["reason"], change["changed_by"])
            for change in detail["history"]
        ]

    listed_by = "Listed by Organisers."
    for name in ("Bruno Keller", "Chiara Rossi", "Dmitry Volkov", "Elif Yilmaz"):
        assert status_history(listed[name].signature_id) == [("", "listed", listed_by, None)]
    assert status_history(listed["Alice Martin"].signature_id) == [
        ("", "listed", listed_by, None),
        ("listed", "verified", "She confirmed by email.", "week-editor"),
    ]
    assert status_history(listed["Farid Haddad"].signature_id) == [
        ("", "listed", listed_by, None),
        ("listed", "retracted", "He asked to be taken off.", "week-editor"),
    ]
    assert status_history(own) == [("", "listed", "Listed by Editors.", "week-editor")]
    farid = api.get(f"/api/signatures/{listed['Farid Haddad'].signature_id}/").json()
    assert farid["history"][1]["evidence_method"] == "public_statement"
    assert farid["sightings"][0]["present"] is False and farid["sightings"][0]["gone_at"]
    dmitry = api.get(f"/api/signatures/{listed['Dmitry Volkov'].signature_id}/").json()
    assert [s["name"] for s in dmitry["sightings"]] == ["Dmitry Volkov"]

    # Nothing was deleted: every row the week made is still there.
    assert SyncRun.objects.filter(source=source).count() == 7
    assert Sighting.objects.count() == 7
    assert Signature.objects.count() == 7
    assert Person.objects.count() == 7
    # Added 7 (6 listed, 1 by hand), gone 2, back 1, changed 2, moved 2.
    assert SightingEvent.objects.count() == 7 + 2 + 1 + 2 + 2
    assert SignatureStatusChange.objects.count() == 7 + 2


# --- Syncs and merges at once -----------------------------------------------------

PAIRS = [
    ("Amara", "Lindqvist"),
    ("Bruno", "Castellanos"),
    ("Chiara", "Fontaine"),
    ("Dmitri", "Oyelaran"),
    ("Elif", "Petrosyan"),
    ("Farid", "Rasmussen"),
    ("Greta", "Valdivia"),
    ("Hugo", "Whitfield"),
    ("Imani", "Zielinski"),
    ("Jonas", "Achterberg"),
]
VERSIONS = 20


def feed_version(number: int) -> bytes:
    """The list on day ``number``: everyone under their full name, some gone
    some days, affiliations that change, and every day a few new entries
    written the way the editors wrote them ("A. Lindqvist")."""
    lines = ["id,name,affiliation"]
    for index, (given, family) in enumerate(PAIRS):
        if number == 0 or (index + number) % 4 != 0:
            lines.append(f"a{index},{given} {family},Studio {(index + number) % 3}")
        if number and (index + number) % 2 == 0:
            lines.append(f"b{index}-{number},{given[0]}. {family},")
    return ("\n".join(lines) + "\n").encode()


def is_deadlock(error: BaseException | str) -> bool:
    return "deadlock detected" in str(error)


@pytest.mark.slow
def test_syncs_and_merges_of_the_same_people_at_once_lose_no_sighting():

    editor = get_user_model().objects.create_user(username="merging-editor", is_staff=True)
    letter = make_letter(title="Merged while syncing", slug="merged-while-syncing")
    deadlocks: list[str] = []
    failures: list[BaseException] = []
    runs: list[SyncRun] = []

    with FeedServer() as feeds:
        feeds.serve("/list.csv", feed_version(0))
        source = make_source(
            letter,
            name="Organisers",
            kind="letter_site",
            url=feeds.url("/list.csv"),
            format="csv",
            options={"key": "id"},
        )

        def sync_until_done() -> SyncRun:
            """A sync, and again after a deadlock, as the worker's retry would."""
            for _attempt in range(6):
                try:
                    run = source_sync(source_id=source.pk)
                except OperationalError as exc:
                    if not is_deadlock(exc):
                        raise
                    deadlocks.append(f"sync: {exc}")
                    continue
                if run.outcome == SyncRun.Outcome.FAILED and is_deadlock(run.error):
                    deadlocks.append(f"sync run {run.pk}: {run.error}")
                    continue
                return run
            raise AssertionError(f"the sync did not complete: {deadlocks}")

        runs.append(sync_until_done())
        people = {
            index: (
                Person.objects.get(display_name=f"{given} {family}"),
                signature_record_manual(letter=letter, by=editor, name=f"{given[0]}. {family}"),
            )
            for index, (given, family) in enumerate(PAIRS)
        }
        by_hand_sightings = {
            index: by_hand.sightings.get().pk for index, (_survivor, by_hand) in people.items()
        }
        syncing = threading.Event()
        syncing.set()

        def syncs() -> None:
            try:
                for number in range(1, VERSIONS + 1):
                    feeds.serve("/list.csv", feed_version(number))
                    runs.append(sync_until_done())
            except BaseException as exc:  # noqa: BLE001 - handed back to the test
                traceback.print_exc()
                failures.append(exc)
            finally:
                syncing.clear()
                connection.close()

        def merges() -> None:
            """Merge each editor's record into the list's, undo, merge again..."""
            try:
                while syncing.is_set():
                    for survivor, by_hand in people.values():
                        for _attempt in range(6):
                            try:
                                active = Merge.objects.filter(
                                    merged=by_hand.person, undone_at__isnull=True
                                ).first()
                                if active is not None:
                                    merge_undo(merge=active, by=editor, reason="Not the same.")
                                    break
                                # The undo judged them different; an editor reverses that.
                                judgement = MatchJudgement.objects.filter(
                                    person_a=survivor, person_b=by_hand.person
                                ).first()
                                if judgement is None:
                                    person_merge(
                                        survivor=survivor, merged=by_hand.person, by=editor
                                    )
                                else:
                                    judgement_decide(
                                        judgement=judgement,
                                        decision="same",
                                        reason="The same after all.",
                                        by=editor,
                                        replaces=judgement.decision,
                                    )
                                break
                            except OperationalError as exc:
                                if not is_deadlock(exc):
                                    raise
                                deadlocks.append(f"merge: {exc}")
                            except DomainError as exc:
                                if exc.code != "conflict":
                                    raise
            except BaseException as exc:  # noqa: BLE001 - handed back to the test
                traceback.print_exc()
                failures.append(exc)
            finally:
                connection.close()

        threads = [threading.Thread(target=syncs), threading.Thread(target=merges)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(300)
        assert not failures, failures
        # In the end every editor's record is merged into the list's.
        for survivor, by_hand in people.values():
            by_hand.person.refresh_from_db()
            if by_hand.person.merged_into_id is None:
                judgement = MatchJudgement.objects.get(person_a=survivor, person_b=by_hand.person)
                judgement_decide(
                    judgement=judgement,
                    decision="same",
                    reason="The same after all.",
                    replaces=judgement.decision,
                    by=editor,
                )
        runs.append(sync_until_done())

    # The last sync fetched the last day's list again: unchanged.
    assert [run.outcome for run in runs] == ["succeeded"] * (VERSIONS + 1) + ["unchanged"], runs
    merges_made = Merge.objects.count()
    assert merges_made > len(PAIRS), "the merges did not run alongside the syncs"

    # No sighting is left on a signature folded into another, or on a merged person.
    sightings = list(Sighting.objects.select_related("signature__person"))
    stranded = [
        (s.name, s.key)
        for s in sightings
        if s.signature.merged_into_id is not None or s.signature.person.merged_into_id is not None
    ]
    assert stranded == [], (stranded, deadlocks)
    # Each pair's entries, the list's and the editor's, end on the survivor's signature.
    for index, (survivor, _by_hand) in people.items():
        kept = Signature.objects.get(letter=letter, person=survivor)
        assert Sighting.objects.get(source=source, key=f"id:a{index}").signature_id == kept.pk
        assert Sighting.objects.get(pk=by_hand_sightings[index]).signature_id == kept.pk
    # Every entry of every day's list has its sighting.
    keys = {
        f"id:{line.split(',')[0]}"
        for number in range(VERSIONS + 1)
        for line in feed_version(number).decode().splitlines()[1:]
    }
    assert keys <= set(Sighting.objects.filter(source=source).values_list("key", flat=True))


def test_an_entry_recorded_while_its_person_is_being_merged_lands_on_the_survivor():

    survivor, merged = make_person("Maggie Gyllenhaal"), make_person("Maggie Gylenhall")
    first, second = make_letter(), make_letter()
    for person in (survivor, merged):
        signature_record_manual(letter=first, by=None, person=person)
    merging, release = threading.Event(), threading.Event()
    recorded: list = []

    def merge() -> None:
        try:
            with transaction.atomic():
                person_merge(survivor=survivor, merged=merged)
                merging.set()
                release.wait(30)
        finally:
            connection.close()

    def record() -> None:
        try:
            # An editor's page still shows the record being merged.
            recorded.append(signature_record_manual(letter=second, by=None, person=merged))
        except Exception as exc:  # noqa: BLE001 - handed back to the test
            recorded.append(exc)
        finally:
            connection.close()

    merger, recorder = threading.Thread(target=merge), threading.Thread(target=record)
    merger.start()
    assert merging.wait(30)
    recorder.start()
    wait_until(a_session_waits_on_a_lock, 30, "the entry did not wait for the merge")
    release.set()
    merger.join(30)
    recorder.join(30)

    (signature,) = recorded
    assert isinstance(signature, Signature), signature
    assert signature.person_id == survivor.pk
    assert not Signature.objects.filter(person=merged, merged_into__isnull=True).exists()


def test_a_sync_resolving_a_name_while_its_person_is_being_merged_never_uses_the_merged_record():
    survivor, merged = make_person("Maggie Gyllenhaal"), make_person("Maggie Gylenhall")
    first, second = make_letter(), make_letter()
    for person in (survivor, merged):
        signature_record_manual(letter=first, by=None, person=person)
    merging, release = threading.Event(), threading.Event()
    runs: list = []

    def merge() -> None:
        try:
            with transaction.atomic():
                person_merge(survivor=survivor, merged=merged)
                merging.set()
                release.wait(30)
        finally:
            connection.close()

    with FeedServer() as feeds:
        # A letter neither record has signed yet lists the merged spelling.
        feeds.serve("/list.csv", b"name,affiliation\nMaggie Gylenhall,\n")
        source = make_source(
            second, name="Press", kind="press", url=feeds.url("/list.csv"), format="csv"
        )

        def sync() -> None:
            try:
                runs.append(source_sync(source_id=source.pk))
            except Exception as exc:  # noqa: BLE001 - handed back to the test
                runs.append(exc)
            finally:
                connection.close()

        merger, syncer = threading.Thread(target=merge), threading.Thread(target=sync)
        merger.start()
        assert merging.wait(30)
        syncer.start()
        wait_until(a_session_waits_on_a_lock, 30, "the sync did not wait for the merge")
        release.set()
        merger.join(30)
        syncer.join(60)

    (run,) = runs
    assert isinstance(run, SyncRun), run
    assert run.outcome == SyncRun.Outcome.SUCCEEDED, run.error
    (signature,) = Signature.objects.filter(letter=second)
    # Never the record merged away: its signatures all moved to the survivor.
    assert signature.person_id != merged.pk
    assert not Signature.objects.filter(person=merged, merged_into__isnull=True).exists()
    assert Person.objects.get(pk=signature.person_id).merged_into_id is None
