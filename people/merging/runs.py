"""Runs of the duplicate finder on the database.

A run goes through three steps, each a Celery task in ``people.merging.tasks`` or a
plain call in one process (``run_now``); both paths call the same functions:

1. ``run_plan``: load everyone's names, block, and write the candidate pairs
   as independent ``MatchRunBlock`` rows.
2. ``block_score``: load the people of one block with their context, score
   its pairs, and keep what reached the review band. Blocks run in parallel;
   the last one to finish queues the combining step.
3. ``run_combine``: gather the blocks, cluster under the stored "different"
   judgements, merge every cluster at once through ``person_merge_many`` (a
   fixed number of statements, not a set per pair), queue the middle band as
   pending judgements, and record the counts, in one transaction.

One run at a time: a partial unique index on ``MatchRun.status = 'running'``.

The people that entries and syncs add or respell wait in ``MatchQueueEntry``
(``match_queue``); one job per burst takes them all into one incremental run
(``queue_match``), and ``queue_resend`` sends that job again when it was lost.
"""

from __future__ import annotations

import logging
import time
from collections import defaultdict
from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

import numpy as np
from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.db.models import F, Max, Q
from django.utils import timezone

from people.matching.blocking import candidate_pairs
from people.matching.engine import Outcome, combine, contextless_records, split_blocks
from people.matching.index import ROW_FIELDS, NameIndex, version
from people.matching.learning import fit_weights
from people.matching.records import Frequencies, Prepared, Record, collection_paused
from people.matching.scoring import (
    Scored,
    Weights,
    explain_many,
    probability,
    score_pairs,
)
from people.merging import followers
from people.merging.merge import MergePair, person_merge_many
from people.models import (
    Affiliation,
    MatchJudgement,
    MatchQueueEntry,
    MatchQueueSend,
    MatchRun,
    MatchRunBlock,
    NameKey,
    Person,
    PersonName,
)
from people.services import person_survivor_ids
from people.weights import learned_latest, run_weights, weights_of_run
from tracker import resend
from tracker.bulk import among, chunked, is_postgres, upsert_rows
from tracker.env import env_int
from tracker.locks import match_run_step_live, match_run_step_lock, people_lock

logger = logging.getLogger(__name__)

PAIRS_PER_BLOCK = env_int("MATCHING_PAIRS_PER_BLOCK", 50_000, minimum=1)
MAX_BLOCKS = 64


# --- Loading records -------------------------------------------------------------


def load_names(person_ids: Iterable[int] | None = None) -> list[Record]:
    """Active people with every name seen for them and their external ids,
    without context."""
    names: dict[int, list[str]] = defaultdict(list)
    external: dict[int, tuple] = {}
    people = Person.objects.filter(merged_into__isnull=True)
    if person_ids is not None:
        people = people.filter(pk__in=list(person_ids))
    for pk, display in people.order_by().values_list("pk", "display_name").iterator(20_000):
        names[pk].append(display)
    # Most people have no external id: only the others' JSON is read.
    stating = people.exclude(external_ids={}).order_by().values_list("pk", "external_ids")
    for pk, external_ids in stating.iterator(chunk_size=20_000):
        if external_ids:
            external[pk] = tuple(sorted(external_ids.items()))
    rows = PersonName.objects.filter(person__merged_into__isnull=True)
    if person_ids is not None:
        rows = rows.filter(person_id__in=list(person_ids))
    for pk, name in rows.values_list("person_id", "name").iterator(chunk_size=20_000):
        if pk in names:
            names[pk].append(name)
    return [
        Record(pk, tuple(dict.fromkeys(names[pk])), identifiers=external.get(pk, ()))
        for pk in sorted(names)
    ]


def load_records(
    person_ids: Iterable[int], *, known: dict[int, Record] | None = None
) -> list[Record]:
    """People with their names and context: organisations and stated
    affiliations, stated titles and roles, letters signed, and the sources
    listing them (the last three from the followers of people, see
    ``people.merging.followers``), and strong identifiers: the person's
    external ids and those their entries state (a date of birth, an ORCID).

    ``known``: records already read in this run (``run_now``); only the others
    are read, and added to it."""
    wanted = sorted(set(person_ids))
    if known is None:
        return _read_records(wanted)
    known.update(
        (record.id, record) for record in _read_records([pk for pk in wanted if pk not in known])
    )
    return [known[pk] for pk in wanted]


def _read_records(ids: list[int]) -> list[Record]:
    names: dict[int, list[str]] = defaultdict(list)
    orgs: dict[int, set[str]] = defaultdict(set)
    titles: dict[int, set[str]] = defaultdict(set)
    external: dict[int, set[tuple[str, str]]] = defaultdict(set)
    for chunk in chunked(ids):
        for pk, display, external_ids in (
            Person.objects.filter(among(Person, "id", chunk))
            .order_by()
            .values_list("pk", "display_name", "external_ids")
        ):
            names[pk].append(display)
            external[pk].update((external_ids or {}).items())
        for pk, name in PersonName.objects.filter(among(PersonName, "person", chunk)).values_list(
            "person_id", "name"
        ):
            names[pk].append(name)
        for pk, org, role in (
            Affiliation.objects.filter(among(Affiliation, "person", chunk))
            .order_by()
            .values_list("person_id", "organization__name", "role")
        ):
            orgs[pk].add(org)
            if role:
                titles[pk].add(role)
    context = followers.context(ids)
    empty = followers.Context()
    return [
        Record(
            pk,
            tuple(dict.fromkeys(names[pk])),
            orgs=tuple(sorted(orgs[pk] | context.get(pk, empty).orgs)),
            titles=tuple(sorted(titles[pk] | context.get(pk, empty).titles)),
            letters=tuple(sorted(context.get(pk, empty).letters)),
            listings=tuple(sorted(context.get(pk, empty).listings)),
            identifiers=tuple(sorted(external[pk] | context.get(pk, empty).identifiers)),
        )
        for pk in ids
    ]


def load_name_index() -> NameIndex:
    """The prepared names kept by earlier runs, read by this version of the code."""
    rows = NameKey.objects.filter(version=version()).values_list(*ROW_FIELDS)
    return NameIndex.from_rows(rows.iterator(chunk_size=20_000))


def save_name_index(index: NameIndex) -> int:
    """Keep the names a run read afresh; a row another version wrote is replaced."""
    current = version()
    added = index.added
    # A first run writes every name: COPY and one upsert (``upsert_objects``).
    upsert_rows(
        NameKey,
        [*ROW_FIELDS, "version"],
        ((*row, current) for row in index.rows(added)),
        unique_fields=["name"],
        update_fields=[*ROW_FIELDS[1:], "version"],
    )
    index.mark_kept()
    return len(added)


def judged_different() -> list[tuple[int, int]]:
    """Pairs of active people that a stored "different" judgement keeps apart,
    through whoever each side was merged into since."""
    pairs = list(
        MatchJudgement.objects.filter(decision=MatchJudgement.Decision.DIFFERENT).values_list(
            "person_a_id", "person_b_id"
        )
    )
    if not pairs:
        return []
    involved = {pk for pair in pairs for pk in pair}
    survivor = person_survivor_ids(involved)
    return [(survivor[a], survivor[b]) for a, b in pairs if survivor[a] != survivor[b]]


def people_since_last_run() -> list[int]:
    """Active people created or changed since the last run finished (the run's
    own merges touch people before it finishes)."""
    last = (
        MatchRun.objects.filter(status=MatchRun.Status.SUCCEEDED).order_by("-finished_at").first()
    )
    people = Person.objects.filter(merged_into__isnull=True)
    if last is not None:
        people = people.filter(updated_at__gt=last.finished_at)
    return list(people.values_list("pk", flat=True))


# --- Starting a run ----------------------------------------------------------------


def _stale_after() -> timedelta:
    return timedelta(seconds=getattr(settings, "CELERY_TASK_TIME_LIMIT", 1800) * 2)


def run_start(*, mode: str, by: Any = None, focus: Iterable[int] = ()) -> MatchRun | None:
    """A new running run, or None when another run is going on."""
    stale = timezone.now() - _stale_after()
    MatchRun.objects.filter(status=MatchRun.Status.RUNNING, started_at__lt=stale).update(
        status=MatchRun.Status.FAILED,
        finished_at=timezone.now(),
        error="Abandoned: no progress within twice the task time limit.",
    )
    try:
        with transaction.atomic():
            return MatchRun.objects.create(
                mode=mode,
                status=MatchRun.Status.RUNNING,
                requested_by=by if getattr(by, "pk", None) else None,
                focus=sorted(set(focus)),
            )
    except IntegrityError:
        return None


def run_skipped(*, mode: str, by: Any, focus: Iterable[int] = ()) -> MatchRun:
    now = timezone.now()
    return MatchRun.objects.create(
        mode=mode,
        status=MatchRun.Status.SKIPPED,
        finished_at=now,
        requested_by=by if getattr(by, "pk", None) else None,
        focus=sorted(set(focus)),
        error="Another run was in progress.",
    )


def match_request(*, full: bool = True, by: Any = None, person_ids: Iterable[int] = ()) -> MatchRun:
    """Ask for a run on Celery workers: a full one, or an incremental one on
    ``person_ids``. Returns the new run, or a "skipped" run when one is already
    going on (it is the admin's and the API's answer to "run the duplicate
    finder")."""
    from people.merging.tasks import match_plan

    mode = MatchRun.Mode.FULL if full else MatchRun.Mode.INCREMENTAL
    focus = [] if full else sorted(set(person_ids))
    run = run_start(mode=mode, by=by, focus=focus)
    if run is None:
        return run_skipped(mode=mode, by=by, focus=focus)
    transaction.on_commit(lambda: match_plan.delay(run.pk))
    return run


# --- The queue of people waiting for an incremental run -------------------------------

# How long an incremental run waits for one going on before asking again.
BUSY_RETRY_SECONDS = 30


def match_queue(person_ids: Iterable[int]) -> None:
    """Queue people an entry or a sync added or respelled for an incremental run.

    They are written to the queue in the caller's transaction; once it commits,
    the job that matches the queue is sent ``MATCHING_DEBOUNCE_SECONDS`` later,
    unless one is already on its way: a burst of entries, or a sync and entries
    at once, give one run. A broker that cannot take the job loses no one: the
    people stay queued and ``match_runs_resend`` sends the job again."""
    ids = sorted({int(pk) for pk in person_ids})
    if not ids:
        return
    if is_postgres():
        # One statement with one array, where a first run queues 100,000 people.
        table = connection.ops.quote_name(MatchQueueEntry._meta.db_table)
        with connection.cursor() as cursor:
            cursor.execute(
                f"INSERT INTO {table} (person_id, queued_at) "  # noqa: S608 - our table
                "SELECT unnest(%s::bigint[]), %s ON CONFLICT DO NOTHING",
                [ids, timezone.now()],
            )
    else:
        for chunk in chunked(ids):
            MatchQueueEntry.objects.bulk_create(
                [MatchQueueEntry(person_id=pk) for pk in chunk], ignore_conflicts=True
            )
    transaction.on_commit(queue_send, robust=True)


def _queue_marker() -> Any:
    return MatchQueueSend.objects.filter(pk=1)


def _queue_marker_claim(now: datetime) -> bool:
    """Mark the queue's job as on its way, unless it already is: a conditional
    update, so that of many senders at once one sends."""
    if _queue_marker().filter(sent_at__isnull=True).update(sent_at=now, error=""):
        return True
    if _queue_marker().exists():
        return False
    try:
        with transaction.atomic():
            MatchQueueSend.objects.create(pk=1, sent_at=now)
    except IntegrityError:
        return False  # another sender made the row, and sends
    return True


def _queue_job_send(countdown: float) -> bool:
    from people.merging.tasks import match_queued

    return resend.send(
        lambda: match_queued.apply_async(countdown=countdown),
        run=_queue_marker(),
        what="the matching of the queued people",
    )


def queue_send() -> bool:
    """Send the job that matches the queue after the debounce, unless one is
    on its way; whether this call sent it."""
    if not _queue_marker_claim(timezone.now()):
        return False
    return _queue_job_send(settings.MATCHING_DEBOUNCE_SECONDS)


class _Busy(Exception):
    """Another run is going on: the queue waits, as it was."""


def queue_match() -> MatchRun | None:
    """One incremental run on everyone queued, or None when no one is.

    The queue is taken and the run started in one transaction, holding the
    queue's row so that two jobs at once take each person once. From the moment
    it is taken, a new entry sends a job of its own. With a run going on,
    nothing is taken and the job is sent again ``BUSY_RETRY_SECONDS`` later."""
    from people.merging.tasks import match_plan

    try:
        with transaction.atomic():
            MatchQueueSend.objects.select_for_update().get_or_create(pk=1)
            _queue_marker().update(sent_at=None, error="")
            ids = list(
                MatchQueueEntry.objects.select_for_update(skip_locked=True)
                .order_by("person_id")
                .values_list("person_id", flat=True)
            )
            if not ids:
                return None
            if MatchRun.objects.filter(
                status=MatchRun.Status.RUNNING, started_at__gte=timezone.now() - _stale_after()
            ).exists():
                raise _Busy
            run = run_start(mode=MatchRun.Mode.INCREMENTAL, focus=ids)
            if run is None:
                raise _Busy
            for chunk in chunked(ids):
                MatchQueueEntry.objects.filter(among(MatchQueueEntry, "person", chunk)).delete()
            transaction.on_commit(lambda: match_plan.delay(run.pk))
    except _Busy:
        MatchQueueSend.objects.update_or_create(
            pk=1, defaults={"sent_at": timezone.now(), "error": ""}
        )
        _queue_job_send(BUSY_RETRY_SECONDS)
        return None
    logger.info("Match run %s started on %s queued people", run.pk, len(ids))
    return run


def queue_resend(*, stalled_after: timedelta) -> bool:
    """Send the queue's job again when people wait and none is on its way: the
    broker could not take it, lost it (none ran for ``stalled_after``), or the
    process that queued them stopped before sending (``tracker.resend``)."""
    if not MatchQueueEntry.objects.exists():
        return False
    now = timezone.now()
    MatchQueueSend.objects.get_or_create(pk=1)
    stale = Q(sent_at__isnull=True) | Q(sent_at__lt=now - stalled_after)
    if not resend.claim(_queue_marker(), stale=stale, sent_at=now):
        return False
    logger.info("Sent the matching of the queued people again")
    return _queue_job_send(0)


def run_now(*, full: bool = True, by: Any = None, person_ids: Iterable[int] = ()) -> MatchRun:
    """A whole run in this process, block after block (the ``dedupe`` command)."""
    mode = MatchRun.Mode.FULL if full else MatchRun.Mode.INCREMENTAL
    focus = [] if full else sorted(set(person_ids))
    run = run_start(mode=mode, by=by, focus=focus)
    if run is None:
        return run_skipped(mode=mode, by=by, focus=focus)
    try:
        with match_run_step_lock(run.pk):
            # The kept names read once, for planning and scoring alike, and each
            # person's context once: learning reads most people, and the blocks
            # take them from it (what a person states is read at planning).
            index = load_name_index()
            known: dict[int, Record] = {}
            run_plan(run.pk, index=index, known=known)
            blocks_score_together(run.pk, index=index, known=known)
            del known
            run_combine(run.pk)
    except Exception as exc:
        run_fail(run.pk, exc)
        raise
    run.refresh_from_db()
    return run


def run_fail(run_id: int, exc: BaseException) -> None:
    MatchRun.objects.filter(pk=run_id, status=MatchRun.Status.RUNNING).update(
        status=MatchRun.Status.FAILED, finished_at=timezone.now(), error=f"{exc!r}"[:5000]
    )


# --- Step 1: plan --------------------------------------------------------------------


def run_plan(
    run_id: int, *, index: NameIndex | None = None, known: dict[int, Record] | None = None
) -> list[int]:
    """Block everyone's names and write the run's independent blocks; ``index``
    is the kept names when the caller already read them, ``known`` the records
    read in this run so far (``load_records``).

    Returns the block numbers (the same on a repeat: planning twice is a no-op).
    """
    started = time.perf_counter()
    run = MatchRun.objects.get(pk=run_id)
    existing = list(run.run_blocks.values_list("number", flat=True))
    if existing or run.blocks:
        return sorted(existing)
    focus = None
    if run.mode == MatchRun.Mode.INCREMENTAL:
        wanted = set(person_survivor_ids(run.focus).values()) if run.focus else set()
    with collection_paused():
        records = load_names()
        if index is None:
            index = load_name_index()
        kept = len(index)
        # Planning blocks the names: nothing here is scored.
        prepared = Prepared(records, index=index, scoring=False)
        if run.mode == MatchRun.Mode.INCREMENTAL:
            focus = np.isin(prepared.ids, np.fromiter(wanted, dtype=np.int64, count=len(wanted)))
        candidates = candidate_pairs(prepared, focus=focus)
        learned = _learn(prepared, candidates, index, incremental=focus is not None, known=known)
    wanted_blocks = min(MAX_BLOCKS, max(1, -(-len(candidates) // PAIRS_PER_BLOCK)))
    parts = split_blocks(candidates, wanted_blocks)
    blocks = []
    for number, part in enumerate(parts):
        a, b = prepared.ids[candidates.a[part]], prepared.ids[candidates.b[part]]
        members = np.unique(np.concatenate([candidates.a[part], candidates.b[part]]))
        rows = (prepared.row_name[np.isin(prepared.row_record, members)]).tolist()
        blocks.append(
            MatchRunBlock(
                run=run,
                number=number,
                # Flat (a, b, a, b...): a list per pair costs seconds at 400,000.
                pairs=np.stack([a, b], axis=1).ravel().tolist(),
                frequencies=prepared.frequencies.restricted(prepared.forms[i] for i in rows),
            )
        )
    with transaction.atomic():
        # The same step delivered twice at once plans twice; the first to lock
        # the run writes its blocks and the other keeps them.
        locked = MatchRun.objects.select_for_update().get(pk=run_id)
        existing = list(locked.run_blocks.values_list("number", flat=True))
        if existing or locked.blocks:
            return sorted(existing)
        MatchRunBlock.objects.bulk_create(blocks, batch_size=100)
        read = save_name_index(index)
        MatchRun.objects.filter(pk=run_id).update(
            people_considered=len(records),
            candidates=len(candidates),
            blocks=len(blocks),
            details={
                "plan_seconds": round(time.perf_counter() - started, 3),
                "names_kept": kept,
                "names_read": read,
                "weights": learned,
            },
        )
    return list(range(len(blocks)))


LEARN_AT_LEAST = 1_000  # candidate pairs a run needs to learn weights of its own


def _learn(
    prepared: Prepared,
    candidates,
    index: NameIndex,
    *,
    incremental: bool,
    known: dict[int, Record] | None = None,
) -> dict:
    """The weights this run learns (``people.matching.learning``), as stored on it.

    From a sample of the candidate pairs and as many people drawn at random,
    read with their context. An incremental run, whose pairs all touch a few
    new people and so say little of everyone, and a run with too few candidate
    pairs take the weights the last full run learned.
    """
    if not settings.MATCHING_LEARN:
        return {"learned": False, "why": "MATCHING_LEARN is off: the set weights"}
    if incremental or len(candidates) < LEARN_AT_LEAST or len(prepared) < 2:
        latest = learned_latest()
        if latest is None:
            why = (
                "an incremental run takes the weights of the last full run"
                if incremental
                else f"{len(candidates):,} candidate pairs, fewer than the "
                f"{LEARN_AT_LEAST:,} needed to learn from"
            )
            return {"learned": False, "why": f"{why}, and no full run has learned weights yet"}
        run_id, params = latest
        return {**params, "from_run": run_id}
    started = time.perf_counter()
    seed = settings.MATCHING_LEARN_SEED
    rng = np.random.default_rng(seed)
    wanted = settings.MATCHING_LEARN_PAIRS
    chosen = rng.choice(len(candidates), min(wanted, len(candidates)), replace=False)
    drawn = rng.choice(len(prepared), min(wanted, len(prepared)), replace=False)
    a, b = candidates.a[chosen], candidates.b[chosen]
    people = np.unique(np.concatenate([a, b, drawn]))
    context = Prepared(
        load_records(prepared.ids[people].tolist(), known=known),
        frequencies=prepared.frequencies,
        index=index,
    )

    def local(records: np.ndarray) -> np.ndarray:
        return np.searchsorted(context.ids, prepared.ids[records])

    fitted = fit_weights(
        context,
        local(a),
        local(b),
        run_weights(),
        seed=seed,
        random_pairs=10 * wanted,
        candidates=wanted,
        population=local(drawn),
    )
    return {**fitted.params, "seconds": round(time.perf_counter() - started, 3)}


# --- Step 2: score a block --------------------------------------------------------------

_RESULT_COLUMNS = Scored.COLUMNS[2:]


def block_score(run_id: int, number: int, *, queue_combine: bool = True) -> None:
    """Score one block's pairs with everyone's name frequencies, keep what
    reached the review band, and, if it is the last block, queue the combine."""
    started = time.perf_counter()
    block = MatchRunBlock.objects.select_related("run").get(run_id=run_id, number=number)
    if block.finished_at is None:
        pairs = _block_pairs(block)
        records = load_records(np.unique(pairs).tolist())
        prepared = Prepared(records, frequencies=Frequencies.from_json(block.frequencies))
        weights = weights_of_run(block.run.details)
        _block_keep(run_id, block, _block_result(prepared, pairs, started, weights))
    if queue_combine:
        _queue_combine_when_done(run_id)


def blocks_score_together(
    run_id: int, *, index: NameIndex | None = None, known: dict[int, Record] | None = None
) -> None:
    """Every unfinished block of a run scored in this process, as ``block_score``
    scores each (the same pairs, frequencies and results), with the people's
    context read once for all of them (those ``known`` already read in this run
    not again) and their names from the kept index (``index``, when the caller
    already read it)."""
    blocks = list(MatchRunBlock.objects.filter(run_id=run_id, finished_at__isnull=True))
    if not blocks:
        return
    started = time.perf_counter()
    pairs_of = {block.pk: _block_pairs(block) for block in blocks}
    # Each block carries everyone's counts of the names in it: together, the
    # counts of every name in the run, as the planning step counted them.
    given: dict[str, int] = {}
    family: dict[str, int] = {}
    total = 0
    for block in blocks:
        given.update(block.frequencies["given"])
        family.update(block.frequencies["family"])
        total = block.frequencies["total"]
    frequencies = Frequencies.from_json({"given": given, "family": family, "total": total})
    people = np.unique(np.concatenate([pairs.ravel() for pairs in pairs_of.values()]))
    with collection_paused():
        prepared = Prepared(
            load_records(people.tolist(), known=known),
            frequencies=frequencies,
            index=index if index is not None else load_name_index(),
        )
    contextless = contextless_records(prepared)  # once for all the blocks
    weights = weights_of_run(MatchRun.objects.values_list("details", flat=True).get(pk=run_id))
    shared = time.perf_counter() - started
    for block in blocks:
        mark = time.perf_counter()
        result = _block_result(prepared, pairs_of[block.pk], mark, weights, contextless)
        result["seconds"] = round(result["seconds"] + shared / len(blocks), 3)
        _block_keep(run_id, block, result)


def _block_pairs(block: MatchRunBlock) -> np.ndarray:
    return np.asarray(block.pairs, dtype=np.int64).reshape(-1, 2)


def _block_result(
    prepared: Prepared,
    pairs: np.ndarray,
    started: float,
    weights: Weights,
    contextless: np.ndarray | None = None,
) -> dict:
    """A block's scored pairs in the review band or above, and what the
    clustering needs of each person in them."""
    index = np.searchsorted(prepared.ids, pairs)
    scored = score_pairs(prepared, index[:, 0], index[:, 1], weights)
    involved_index = np.unique(np.concatenate([scored.a, scored.b]))
    if contextless is None:
        contextless = contextless_records(prepared)
    contextless = prepared.ids[involved_index[contextless[involved_index]]]
    records = [prepared.records[i] for i in involved_index.tolist()]
    return {
        "a": prepared.ids[scored.a].tolist(),
        "b": prepared.ids[scored.b].tolist(),
        **{
            name: np.round(getattr(scored, name), 4).tolist()
            if getattr(scored, name).dtype.kind == "f"
            else getattr(scored, name).astype(int).tolist()
            for name in _RESULT_COLUMNS
        },
        "contextless": sorted(contextless.tolist()),
        # The fields each scored person's titles name, for the clustering.
        "fields": {
            str(prepared.ids[i]): sorted(prepared.field_texts[i])
            for i in involved_index.tolist()
            if prepared.field_texts[i]
        },
        # The sources listing each scored person: one list's entries are two people.
        "listings": {
            str(record.id): list(record.listings) for record in records if record.listings
        },
        # The organisations each scored person is known by, as keys.
        "orgs": {
            str(prepared.ids[i]): list(prepared.org_texts[i])
            for i in involved_index.tolist()
            if prepared.org_texts[i]
        },
        # The strong identifiers of each scored person, as "key=value".
        "identifiers": {
            str(prepared.ids[i]): sorted(prepared.identifier_texts[i])
            for i in involved_index.tolist()
            if prepared.identifier_texts[i]
        },
        "pairs_scored": scored.scored,
        "seconds": round(time.perf_counter() - started, 3),
    }


def _block_keep(run_id: int, block: MatchRunBlock, result: dict) -> None:
    """Store a block's result once (a block scored twice keeps the first)."""
    pairs_scored = result.pop("pairs_scored")
    with transaction.atomic():
        updated = MatchRunBlock.objects.filter(pk=block.pk, finished_at__isnull=True).update(
            result=result, pairs_scored=pairs_scored, finished_at=timezone.now()
        )
        if updated:
            MatchRun.objects.filter(pk=run_id).update(
                blocks_done=F("blocks_done") + 1, pairs_scored=F("pairs_scored") + pairs_scored
            )


def _queue_combine_when_done(run_id: int) -> None:
    from people.merging.tasks import match_combine

    with transaction.atomic():
        run = MatchRun.objects.select_for_update().get(pk=run_id)
        if run.status != MatchRun.Status.RUNNING or run.combine_started_at is not None:
            return
        if run.run_blocks.filter(finished_at__isnull=True).exists():
            return
        run.combine_started_at = timezone.now()
        run.save(update_fields=["combine_started_at"])
        transaction.on_commit(lambda: match_combine.delay(run_id))


# --- Step 3: combine and apply ---------------------------------------------------------------


_PER_PERSON = ("fields", "listings", "orgs", "identifiers")


def _gather(
    run: MatchRun,
) -> tuple[Scored, np.ndarray, np.ndarray, dict[str, list[frozenset]]]:
    """All blocks' results as one set of scored pairs over the people involved,
    with who states no context, and per person the fields their titles name,
    the sources listing them and the organisations they are known by."""
    columns: dict[str, list] = defaultdict(list)
    contextless: set[int] = set()
    per_person: dict[str, dict[int, frozenset]] = {name: {} for name in _PER_PERSON}
    for result in run.run_blocks.order_by("number").values_list("result", flat=True):
        for name in Scored.COLUMNS:
            columns[name].extend(result.get(name, []))
        contextless.update(result.get("contextless", []))
        for name, found in per_person.items():
            found.update((int(pk), frozenset(v)) for pk, v in result.get(name, {}).items())
    ids = np.unique(np.asarray(columns["a"] + columns["b"], dtype=np.int64))
    arrays = {}
    for name in Scored.COLUMNS:
        values = columns[name]
        if name in ("a", "b"):
            arrays[name] = np.searchsorted(ids, np.asarray(values, dtype=np.int64))
        elif name in ("swapped", "letters", "same_list"):
            arrays[name] = np.asarray(values, dtype=bool)
        elif name in ("bits", "name_bits", "family_bits", "given_bits"):
            arrays[name] = np.asarray(values, dtype=np.float64)
        else:
            arrays[name] = np.asarray(values, dtype=np.int64)
    scored = Scored(**arrays)
    context = {
        name: [found.get(pk, frozenset()) for pk in ids.tolist()]
        for name, found in per_person.items()
    }
    contextless_mask = np.isin(ids, np.fromiter(contextless, np.int64, len(contextless)))
    return scored, ids, contextless_mask, context


def run_combine(run_id: int) -> MatchRun:
    """Cluster, merge and queue: the decisions of a run, applied through the services."""
    started = time.perf_counter()
    run = MatchRun.objects.get(pk=run_id)
    if run.status != MatchRun.Status.RUNNING:
        return run
    weights = weights_of_run(run.details)
    learned = bool(((run.details or {}).get("weights") or {}).get("learned"))
    scored, ids, contextless, context = _gather(run)
    index_of = {int(pk): i for i, pk in enumerate(ids.tolist())}
    judged = [
        (index_of[a], index_of[b]) for a, b in judged_different() if a in index_of and b in index_of
    ]
    outcome, _labels = combine(
        len(ids),
        scored,
        judged_apart=judged,
        contextless=contextless,
        weights=weights,
        population=run.people_considered or None,
        **context,
    )

    blocked = int((outcome == Outcome.BLOCKED).sum())
    with transaction.atomic():
        # Editors' decisions are read under the people lock, which deciding takes
        # too: a pair decided while the run scored is left as decided, not queued
        # or merged over the decision.
        people_lock(exclusive=True)
        decided = _human_decisions(ids)
        to_merge: list[MergePair] = []
        to_queue: list[tuple] = []  # pending judgements, as rows
        now = timezone.now()
        order = np.lexsort((scored.b, scored.a, -scored.bits))
        outcomes = outcome.tolist()
        first, second = ids[scored.a].tolist(), ids[scored.b].tolist()
        merged, queued = int(Outcome.MERGED), int(Outcome.QUEUED)
        kept: list[tuple[int, tuple[int, int], bool]] = []  # (pair, its ids, merged)
        for k in order.tolist():
            if outcomes[k] != merged and outcomes[k] != queued:
                continue  # most scored pairs: below the review band, or kept apart
            a, b = first[k], second[k]
            pair = (min(a, b), max(a, b))
            if outcomes[k] == merged:
                if decided.get(pair) == MatchJudgement.Decision.UNSURE:
                    continue  # an editor left it open; the matcher does not overrule
                kept.append((k, pair, True))
            elif pair not in decided:
                kept.append((k, pair, False))
        # The kept pairs' scores and explanations at once, not a pair at a time.
        chosen = [k for k, _pair, _merged in kept]
        scores = probability(scored.bits[chosen], weights).tolist()
        explanations = _explanations(scored, chosen, weights, learned)
        for (_k, pair, is_merged), score, explanation in zip(
            kept, scores, explanations, strict=True
        ):
            if is_merged:
                to_merge.append(
                    MergePair(
                        pair[0],
                        pair[1],
                        same={
                            "score": score,
                            "explanation": explanation,
                            "decision": MatchJudgement.Decision.SAME,
                            "automatic": True,
                            "decided_at": now,
                            "reason": "Merged automatically: the score passed the merge threshold "
                            "and no context disagreed.",
                            "run": run,
                        },
                    )
                )
            else:
                to_queue.append(
                    (
                        pair[0],
                        pair[1],
                        score,
                        explanation,
                        MatchJudgement.Decision.PENDING,
                        True,
                        run.pk,
                    )
                )
        # All of the run's merges at once, in the order of their scores: the
        # survivor of a cluster is its oldest record.
        merges = person_merge_many(
            pairs=to_merge,
            run=run,
            automatic=True,
            reason=f"Match run {run.pk}.",
            smaller_survives=True,
            strict=False,
        )
        upsert_rows(
            MatchJudgement,
            _QUEUED_FIELDS,
            to_queue,
            unique_fields=["person_a", "person_b"],
            update_fields=["score", "explanation", "decision", "automatic", "run", "updated_at"],
        )
        elapsed = time.perf_counter() - started
        details = dict(run.details or {})
        details.update(
            combine_seconds=round(elapsed, 3),
            thresholds={"merge": weights.merge_at, "review": weights.review_at},
        )
        MatchRun.objects.filter(pk=run_id).update(
            status=MatchRun.Status.SUCCEEDED,
            finished_at=timezone.now(),
            merged=len(merges),
            queued=len(to_queue),
            blocked_by_judgements=blocked,
            details=details,
        )
    run.refresh_from_db()
    return run


# A pending judgement's columns, in the order of the rows ``run_combine`` queues.
_QUEUED_FIELDS = (
    "person_a_id",
    "person_b_id",
    "score",
    "explanation",
    "decision",
    "automatic",
    "run_id",
)


def _human_decisions(ids: np.ndarray) -> dict[tuple[int, int], str]:
    """Pairs an editor already decided (or left unsure), which the run leaves alone."""
    if not len(ids):
        return {}
    decided = {}
    id_list = ids.tolist()
    for chunk in chunked(id_list):
        rows = MatchJudgement.objects.filter(
            among(MatchJudgement, "person_a", chunk) | among(MatchJudgement, "person_b", chunk),
            automatic=False,
        ).exclude(decision=MatchJudgement.Decision.PENDING)
        for a, b, decision in rows.values_list("person_a_id", "person_b_id", "decision"):
            decided[(a, b)] = decision
    return decided


def _explanations(
    scored: Scored, indexes: list[int], weights: Weights, learned: bool = False
) -> list[dict]:
    """What agreed and disagreed in each pair, in the bits of the weights the
    run scored with (``learned``: those it learned, stored on it as
    ``details["weights"]``), all at once (``explain_many``)."""
    which = "learned" if learned else "set"
    return [{**found, "weights": which} for found in explain_many(scored, indexes, weights)]


# --- Steps the broker could not take, or lost ---------------------------------------------


def run_last_progress(run: MatchRun) -> datetime:
    """When the run last moved: started, a block finished, combining started, or
    a step was sent again."""
    finished = run.run_blocks.aggregate(last=Max("finished_at"))["last"]
    resent = (run.details or {}).get("resent_at")
    moments = [run.started_at, finished, run.combine_started_at]
    if resent:
        moments.append(datetime.fromisoformat(resent))
    return max(moment for moment in moments if moment is not None)


def run_send_next_step(run: MatchRun) -> str:
    """Send again the step the run waits for, once the transaction commits;
    return its name."""
    from people.merging.tasks import match_block, match_combine, match_plan

    unfinished = list(
        run.run_blocks.filter(finished_at__isnull=True).values_list("number", flat=True)
    )
    planned = run.blocks or run.run_blocks.exists()
    if not planned:
        transaction.on_commit(lambda: match_plan.delay(run.pk))
        return "plan"
    if unfinished:
        transaction.on_commit(lambda: [match_block.delay(run.pk, n) for n in unfinished])
        return "blocks"
    if run.combine_started_at is None:
        MatchRun.objects.filter(pk=run.pk).update(combine_started_at=timezone.now())
    transaction.on_commit(lambda: match_combine.delay(run.pk))
    return "combine"


def runs_resend(*, stalled_after: timedelta, lost_after: timedelta | None = None) -> list[int]:
    """Send again the next step of running runs whose step the broker could not
    take, that made no progress for ``stalled_after``, or that made none for
    ``lost_after`` with no live process at any of their steps: their worker died
    (killed, or its machine gone), and its job would come back only after the
    broker's visibility timeout (``tracker.resend``). A step still waiting in a
    long queue may so be sent twice; it does its work once."""
    now = timezone.now()
    running = MatchRun.objects.filter(status=MatchRun.Status.RUNNING)
    stalled = []
    for run in running:
        last = run_last_progress(run)
        if last <= now - stalled_after or (
            lost_after is not None and last <= now - lost_after and not match_run_step_live(run.pk)
        ):
            stalled.append(run.pk)
    resent = []
    for pk in resend.claim(running, stale=Q(pk__in=stalled)):
        with transaction.atomic():
            run = MatchRun.objects.select_for_update().get(pk=pk)
            details = {**(run.details or {}), "resent_at": now.isoformat()}
            MatchRun.objects.filter(pk=pk).update(details=details)
            step = run_send_next_step(run)
        logger.info("Match run %s: sent its %s step again", pk, step)
        resent.append(pk)
    return resent
