"""Runs of the duplicate finder on the database: merges through the services,
judgements kept, undo, one run at a time, blocks on Celery workers."""

from __future__ import annotations

import time

import pytest
from django.core.management import call_command
from django.db import IntegrityError, connection, transaction
from django.test.utils import CaptureQueriesContext

from letters.models import Sighting
from letters.services import Entry, signature_change_status, signature_record
from people.matching.index import prepare_name, version
from people.merging import runs
from people.merging.decisions import judgement_decide
from people.merging.merge import person_merge
from people.merging.undo import merge_undo
from people.models import (
    MatchJudgement,
    MatchRun,
    Merge,
    NameKey,
    Person,
    PersonName,
)
from people.services import person_create, person_survivor
from tests.factories import make_letter, make_source
from tests.people.merging.tables import snapshot


def sign(source, name: str, *, title: str = "", affiliation: str = "", person=None) -> Person:
    """One entry of a source, as its own person: as if each spelling had arrived
    when a namesake already existed, so only the matcher may join them."""
    person = person or person_create(name=name, source=source)
    result = signature_record(
        letter=source.letter,
        source=source,
        entry=Entry(name=name, title=title, affiliation=affiliation),
        person=person,
    )
    return result.signature.person


def survivor_of(person: Person) -> Person:
    return person_survivor(Person.objects.get(pk=person.pk))


def one(*people: Person) -> bool:
    return len({survivor_of(p).pk for p in people}) == 1


def ostp_letter():
    """The letter to the OSTP, listed by its own site, a newspaper and a feed."""
    letter = make_letter(title="Letter to the OSTP on AI and copyright")
    return (
        letter,
        make_source(letter, name="Letter site", kind="letter_site"),
        make_source(letter, name="Newspaper", kind="press"),
        make_source(letter, name="Feed", kind="feed"),
    )


@pytest.fixture
def signatories(db):
    _letter, site, press, feed = ostp_letter()
    people = {
        "maggie (press)": sign(press, "Maggie Gylenhall", title="Actor"),
        "maggie (site)": sign(site, "Maggie Gyllenhaal", title="Actor"),
        "maggie (feed)": sign(feed, "GYLLENHAAL, MAGGIE"),
        "jake": sign(press, "Jake Gyllenhaal", title="Actor"),
        "paul (site)": sign(site, "Sir Paul McCartney", title="Musician"),
        "paul (press)": sign(press, "McCartney, Paul"),
        "alfonso (press)": sign(press, "Alfonso Cuaron", title="Film director"),
        "alfonso (site)": sign(site, "Alfonso Cuarón", title="Director"),
        "lana": sign(site, "Lana Wachowski", title="Director"),
        "lilly": sign(site, "Lilly Wachowski", title="Director"),
        "eva": sign(press, "Eva Mendes", title="Actress"),
        "sam": sign(press, "Sam Mendes", title="Director"),
        "bob": sign(press, "Bob Smith", affiliation="The Cure"),
        "robert": sign(site, "Robert Smith", affiliation="The Cure"),
        "chris (actor)": sign(site, "Chris Evans", title="Actor", affiliation="Marvel Studios"),
    }
    people["chris (radio)"] = sign(
        feed, "Chris Evans", title="Radio host", affiliation="Virgin Radio"
    )
    return people


def test_a_full_run_merges_the_spellings_of_one_person_and_keeps_the_others_apart(signatories):
    p = signatories
    run = runs.run_now(full=True)

    assert run.status == "succeeded"
    assert one(p["maggie (press)"], p["maggie (site)"], p["maggie (feed)"])
    assert one(p["paul (site)"], p["paul (press)"])
    assert one(p["alfonso (press)"], p["alfonso (site)"])
    assert one(p["bob"], p["robert"])
    for first, second in [
        ("jake", "maggie (site)"),
        ("lana", "lilly"),
        ("eva", "sam"),
        ("chris (actor)", "chris (radio)"),
    ]:
        assert not one(p[first], p[second]), (first, second)
    pending = MatchJudgement.objects.get(decision="pending")
    assert {pending.person_a_id, pending.person_b_id} == {
        p["chris (actor)"].pk,
        p["chris (radio)"].pk,
    }
    assert pending.explanation["disagreed"]
    assert (run.merged, run.queued) == (5, 1)
    assert run.pairs_scored > 0 and run.people_considered == 16
    assert run.duration is not None


def test_the_survivor_shows_the_name_of_the_most_reliable_source(signatories):
    runs.run_now(full=True)
    maggie = survivor_of(signatories["maggie (press)"])
    # The newspaper's person came first, but the letter's own site spells it right.
    assert maggie.pk == signatories["maggie (press)"].pk
    assert maggie.display_name == "Maggie Gyllenhaal"
    assert survivor_of(signatories["paul (press)"]).display_name == "Paul McCartney"


def test_each_merge_records_why_with_the_explanation(signatories):
    run = runs.run_now(full=True)
    merge = Merge.objects.filter(run=run).select_related("judgement").first()
    assert merge.automatic
    assert merge.judgement.decision == "same" and merge.judgement.automatic
    features = {item["feature"] for item in merge.judgement.explanation["agreed"]}
    assert {"family name", "given name"} <= features


def test_a_different_judgement_survives_a_full_rerun_even_through_a_third_record(db):
    _letter, site, press, feed = ostp_letter()
    lilly = sign(site, "Lilly Wachowski", title="Director")
    lilly_press = sign(press, "Lilly Wachowski")
    lilly_feed = sign(feed, "WACHOWSKI, LILLY")
    first, second = sorted([lilly, lilly_press], key=lambda x: x.pk)
    judgement = MatchJudgement.objects.create(person_a=first, person_b=second)
    judgement_decide(judgement=judgement, decision="different", reason="Two people.")

    for _ in range(2):
        run = runs.run_now(full=True)
        assert not one(lilly, lilly_press)
        assert run.blocked_by_judgements >= 1
    assert one(lilly_feed, lilly) or one(lilly_feed, lilly_press)


def test_a_different_judgement_holds_for_everyone_merged_with_either_side(db):
    _letter, site, press, feed = ostp_letter()
    lana = sign(site, "Lana Wachowski")
    lana_again = person_create(name="Lana Wachowski")
    other = person_create(name="Lana Wachowski")
    other_again = person_create(name="LANA WACHOWSKI")
    sign(press, "Lana Wachowski", person=lana_again)
    sign(feed, "LANA WACHOWSKI", person=other_again)
    person_merge(survivor=lana, merged=lana_again)
    person_merge(survivor=other, merged=other_again)
    judgement = MatchJudgement.objects.create(person_a=lana_again, person_b=other_again)
    judgement_decide(judgement=judgement, decision="different", reason="Namesakes.")

    runs.run_now(full=True)

    assert not one(lana, other)


def test_undoing_an_automatic_merge_restores_the_database_exactly_and_sticks(signatories):
    before = snapshot()
    run = runs.run_now(full=True)
    assert snapshot() != before

    for merge in Merge.objects.filter(run=run).order_by("-pk"):
        merge_undo(merge=merge, reason="Checking undo.")

    assert snapshot() == before
    rerun = runs.run_now(full=True)
    assert rerun.merged == 0
    assert rerun.blocked_by_judgements >= 5


def test_only_one_run_goes_on_at_a_time(db):
    running = runs.run_start(mode="full")
    assert running is not None
    assert runs.run_start(mode="incremental", focus=[1]) is None
    skipped = runs.run_now(full=True)
    assert skipped.status == "skipped"
    with pytest.raises(IntegrityError), transaction.atomic():
        MatchRun.objects.create(mode="full", status="running")
    runs.run_fail(running.pk, RuntimeError("stopped"))
    assert runs.run_now(full=True).status == "succeeded"


def test_an_incremental_run_agrees_with_a_full_run(signatories):
    runs.run_now(full=True)
    _letter, site, press, _feed = ostp_letter()
    new = [
        sign(press, "Cate Blanchet", title="Actress"),
        sign(site, "Blanchett, Cate", title="Actress"),
        sign(press, "Paul McCartney CBE"),
        sign(site, "Lilly Wachowski", title="Director"),
    ]
    state = snapshot()
    judgements = set(MatchJudgement.objects.values_list("pk", flat=True))

    incremental = runs.run_now(full=False, person_ids=[p.pk for p in new])
    after_incremental = _clusters()
    _forget(incremental, judgements)
    assert snapshot() == state

    runs.run_now(full=True)
    assert _clusters() == after_incremental
    assert incremental.merged >= 2


def test_an_incremental_run_on_the_kept_names_decides_as_one_reading_every_name(signatories):
    runs.run_now(full=True)
    _letter, site, press, _feed = ostp_letter()
    new = [
        sign(press, "Cate Blanchet", title="Actress"),
        sign(site, "Blanchett, Cate", title="Actress"),
        sign(press, "Paul McCartney CBE"),
        sign(site, "Lilly Wachowski", title="Director"),
    ]
    state = snapshot()
    judgements = set(MatchJudgement.objects.values_list("pk", flat=True))
    kept_names = set(NameKey.objects.values_list("name", flat=True))
    new_names = set(PersonName.objects.filter(person__in=new).values_list("name", flat=True))
    new_names |= {p.display_name for p in new}

    on_kept = runs.run_now(full=False, person_ids=[p.pk for p in new])
    decided = (_clusters(), _pending())
    _forget(on_kept, judgements)
    assert snapshot() == state
    NameKey.objects.all().delete()
    reading_all = runs.run_now(full=False, person_ids=[p.pk for p in new])

    assert on_kept.details["names_kept"] == len(kept_names) > 10
    assert on_kept.details["names_read"] == len(new_names - kept_names) >= 3
    assert "Lilly Wachowski" in kept_names
    assert reading_all.details["names_kept"] == 0
    assert (_clusters(), _pending()) == decided
    assert on_kept.merged == reading_all.merged >= 2
    assert on_kept.candidates == reading_all.candidates


def test_a_run_keeps_every_name_it_read_and_reads_a_new_or_stale_one_afresh(signatories):
    runs.run_now(full=True)
    written = set(PersonName.objects.values_list("name", flat=True))
    written |= set(Person.objects.values_list("display_name", flat=True))
    assert set(NameKey.objects.values_list("name", flat=True)) == written
    # A row read by another version of the code is never used, and is replaced.
    NameKey.objects.filter(name="Jake Gyllenhaal").update(
        version="0" * 16, family="smith", keys="f|smith\tjake"
    )
    _letter, site, _press, _feed = ostp_letter()
    newcomer = sign(site, "Maggie Gyllenhall", title="Actor")

    run = runs.run_now(full=False, person_ids=[newcomer.pk])

    assert run.details["names_read"] == 2
    for name in ("Jake Gyllenhaal", "Maggie Gyllenhall"):
        row = NameKey.objects.get(name=name)
        fresh = prepare_name(name)
        assert row.version == version()
        assert row.family == fresh.form.family
        assert row.keys == "\n".join(f"{text}\t{order}" for text, order in fresh.keys)
    assert one(newcomer, signatories["maggie (site)"], signatories["maggie (press)"])


def _clusters() -> set[frozenset[int]]:
    groups: dict[int, set[int]] = {}
    for person in Person.objects.all():
        groups.setdefault(person_survivor(person).pk, set()).add(person.pk)
    return {frozenset(g) for g in groups.values() if len(g) > 1}


def _forget(run: MatchRun, judgements_before: set[int]) -> None:
    """Undo a run's merges and drop every judgement since, as if it never ran."""
    for merge in Merge.objects.filter(run=run).order_by("-pk"):
        merge_undo(merge=merge)
    Merge.objects.filter(run=run).delete()
    MatchJudgement.objects.exclude(pk__in=judgements_before).delete()


def test_the_dedupe_command_runs_and_reports(signatories, capsys):
    call_command("dedupe", "--full")
    out = capsys.readouterr().out
    assert "succeeded" in out and "5 merged" in out and "1 queued" in out
    call_command("dedupe")
    assert "No new or changed people" in capsys.readouterr().out


def _wait_for(run_id: int, seconds: float = 90) -> MatchRun:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        run = MatchRun.objects.get(pk=run_id)
        if run.status != "running":
            return run
        time.sleep(0.3)
    raise AssertionError(f"Match run {run_id} did not finish in {seconds} s.")


@pytest.mark.slow
def test_a_run_split_over_blocks_on_celery_workers_gives_the_single_process_result(
    signatories, celery_worker, monkeypatch, settings
):
    settings.MATCHING_DEBOUNCE_SECONDS = 1
    state = snapshot()
    judgements = set(MatchJudgement.objects.values_list("pk", flat=True))

    run = _wait_for(runs.match_request(full=True).pk)
    assert run.status == "succeeded", run.error
    assert run.blocks >= 3 and run.blocks_done == run.blocks
    on_workers = (_clusters(), _pending())
    _forget(run, judgements)
    assert snapshot() == state

    monkeypatch.setattr(runs, "PAIRS_PER_BLOCK", 10**6)
    single = runs.run_now(full=True)
    assert single.blocks == 1
    assert (_clusters(), _pending()) == on_workers
    assert (single.merged, single.queued, single.pairs_scored) == (
        run.merged,
        run.queued,
        run.pairs_scored,
    )

    # After a sync, the new people are matched on the workers too.
    _letter, site, press, _feed = ostp_letter()
    new = [sign(press, "Cate Blanchet", title="Actress"), sign(site, "Cate Blanchett")]
    runs.match_queue([p.pk for p in new])
    deadline = time.monotonic() + 90
    while not MatchRun.objects.filter(mode="incremental", status="succeeded").exists():
        assert time.monotonic() < deadline, "the incremental run did not finish"
        time.sleep(0.3)
    assert one(*new)


def _pending() -> set[tuple[int, int, float]]:
    return set(
        MatchJudgement.objects.filter(decision="pending").values_list(
            "person_a_id", "person_b_id", "score"
        )
    )


FAMILIES = [
    "Gyllenhaal",
    "Blanchett",
    "Cuarón",
    "Wachowski",
    "McCartney",
    "Mendes",
    "DuVernay",
    "Bigelow",
    "Villeneuve",
    "Iñárritu",
    "Kurosawa",
    "Almodóvar",
]
GIVENS = ["Maggie", "Cate", "Alfonso", "Lana", "Paul", "Eva", "Ava", "Kathryn"]


def three_spellings_each(count: int) -> list[list[Person]]:
    """``count`` people, each listed by the site, the newspaper and the feed of
    one letter: three records whose signatures fold into one when merged."""
    _letter, site, press, feed = ostp_letter()
    clusters = []
    for n in range(count):
        given, family = GIVENS[n % len(GIVENS)], FAMILIES[n % len(FAMILIES)]
        family = family if n < len(FAMILIES) else f"{family}-{GIVENS[n // len(FAMILIES)]}"
        clusters.append(
            [
                sign(site, f"{given} {family}", title="Film director"),
                sign(press, f"{family}, {given}", title="Director"),
                sign(feed, f"{given} {family}".upper()),
            ]
        )
    return clusters


def test_a_run_merges_many_clusters_at_once_and_each_merge_undoes_exactly(db):
    clusters = three_spellings_each(10)
    # A retraction seen by one source must survive the folding of signatures.
    retracted = clusters[0][2].signatures.get()
    signature_change_status(signature=retracted, status="retracted", reason="Withdrew.")
    before = snapshot()

    run = runs.run_now(full=True)

    assert run.merged == 20
    for records in clusters:
        assert one(*records)
        survivor = survivor_of(records[0])
        assert survivor.signatures.filter(merged_into__isnull=True).count() == 1
        assert Sighting.objects.filter(signature__person=survivor).count() == 3
    kept = survivor_of(clusters[0][0]).signatures.get(merged_into__isnull=True)
    assert kept.status == "retracted"

    # Undoing one cluster's merges gives its records back exactly what they
    # held; the other clusters stay merged.
    undone = {p.pk for p in clusters[3]}
    for merge in Merge.objects.filter(run=run, merged__in=undone).order_by("-pk"):
        merge_undo(merge=merge, reason="Checking a partial undo.")
    assert rows_of(snapshot(), undone) == rows_of(before, undone)
    assert not one(*clusters[3][:2]) and not one(*clusters[3][1:])
    assert all(one(*records) for n, records in enumerate(clusters) if n != 3)

    # Undoing the rest puts the database back as it was.
    for merge in Merge.objects.filter(run=run, undone_at__isnull=True).order_by("-pk"):
        merge_undo(merge=merge, reason="Checking undo.")
    assert snapshot() == before


def rows_of(state: dict, people: set[int]) -> dict:
    """The rows of a snapshot that belong to these people."""
    signatures = state["signatures"]
    return {
        "people": {pk: row for pk, row in state["people"].items() if pk in people},
        **{
            key: {pk: row for pk, row in state[key].items() if row["person"] in people}
            for key in ("names", "affiliations", "signatures")
        },
        "sightings": {
            pk: row
            for pk, row in state["sightings"].items()
            if signatures[row["signature"]]["person"] in people
        },
    }


COMBINE_QUERIES = 36


@pytest.mark.parametrize("count", [3, 12])
def test_applying_a_run_takes_the_same_number_of_queries_however_many_clusters(db, count):
    three_spellings_each(count)
    run = runs.run_start(mode="full")
    for number in runs.run_plan(run.pk):
        runs.block_score(run.pk, number, queue_combine=False)

    with CaptureQueriesContext(connection) as queries:
        run = runs.run_combine(run.pk)

    assert run.merged == 2 * count
    # 5 to read: the run, its blocks' results, "different" judgements, then the
    # people lock and editors' decisions on these people under it.
    # 25 to merge every cluster: survivors, the people lock, their letters'
    # locks, locks, everyone merged into them, "different" judgements between
    # them, "same" judgements written (4: a staging table, its COPY, the upsert
    # from it, dropping it); their
    # signatures, names, affiliations, the names' sources' ranks and the folded
    # signatures' sightings;
    # then one statement per change: signatures folded, signatures kept,
    # sightings moved, their history, names moved, people merged, names for
    # search, search texts, and the merges (their ids, then COPY).
    # 6 to finish: 2 savepoints and their releases, the run's counts, reloading it.
    assert len(queries) == COMBINE_QUERIES, "\n".join(q["sql"][:120] for q in queries)


@pytest.mark.django_db(transaction=True)
def test_the_planning_step_delivered_twice_at_once_writes_its_blocks_once(signatories):
    import threading

    from tests.reliability.conftest import a_session_waits_on_a_lock, wait_until

    run = runs.run_start(mode=MatchRun.Mode.FULL)
    second: list = []

    def plan_again() -> None:
        try:
            second.append(runs.run_plan(run.pk))
        except Exception as exc:  # noqa: BLE001 - handed back to the test
            second.append(exc)
        finally:
            connection.close()

    with transaction.atomic():
        # The first delivery holds the run; the second plans meanwhile, then
        # must wait for it rather than write blocks of its own.
        MatchRun.objects.select_for_update().get(pk=run.pk)
        other = threading.Thread(target=plan_again)
        other.start()
        wait_until(
            a_session_waits_on_a_lock, 30, lambda: f"the second planning did not wait: {second}"
        )
        first = runs.run_plan(run.pk)
    other.join(30)

    assert second == [first], second
    assert first
    assert run.run_blocks.count() == len(first)


def test_blocks_scored_together_give_each_block_what_it_gives_alone(signatories, monkeypatch):
    monkeypatch.setattr(runs, "PAIRS_PER_BLOCK", 4)
    run = runs.run_start(mode=MatchRun.Mode.FULL, by=None)
    numbers = runs.run_plan(run.pk)
    assert len(numbers) >= 3
    for number in numbers:
        runs.block_score(run.pk, number, queue_combine=False)
    blocks = run.run_blocks.order_by("number")
    alone = [(b.pairs_scored, {**b.result, "seconds": 0}) for b in blocks]
    blocks.update(finished_at=None, result={}, pairs_scored=0)
    MatchRun.objects.filter(pk=run.pk).update(blocks_done=0, pairs_scored=0)

    runs.blocks_score_together(run.pk)
    together = [(b.pairs_scored, {**b.result, "seconds": 0}) for b in blocks.all()]
    assert together == alone
    run.refresh_from_db()
    assert run.blocks_done == len(numbers)
    assert run.pairs_scored == sum(scored for scored, _result in alone)
