"""Sync runs: requesting, claiming, carrying out and recording them.

One run per source at a time. The database allows one queued-or-running run
per source (constraint ``sync_run_one_pending``), so a second request while one
is pending is recorded as skipped. A worker carries a run out while holding the
source's lock (tracker.locks), a lease the database server ends when the
worker's connection dies. A run found "running" whose source lock is free was
left by a worker that died (killed, or its machine gone): the periodic check
(beat, every minute) sends it again at once, up to ``MAX_ATTEMPTS`` times, instead
of waiting for the broker to redeliver the dead worker's job (an hour later,
Redis's visibility timeout). Whichever delivery comes first carries the run out;
the others find it done.

All or nothing: everything a run writes besides its own record (sightings,
people, signatures, events, the content, the source's fetch state) is written
in one transaction with the record's final state. A run that fails writes only
its failed record.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import logging
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import IntegrityError, InterfaceError, OperationalError, connection, transaction
from django.db.models import F, Q
from django.utils import timezone

from letters.models import Source, SyncRun, SyncRunContent
from letters.sync.errors import SourceBusy, SyncError, TransientSyncError
from letters.sync.fetch import content_type_refusal, fetch
from letters.sync.ingest import Phases, ingest
from letters.sync.parse import parse
from letters.sync.rows import row_hashes
from letters.versions import record_version
from tracker import resend
from tracker.bulk import is_postgres
from tracker.collector import cycle_collector_paused
from tracker.errors import DomainError, NotFound
from tracker.locks import source_lock

logger = logging.getLogger(__name__)

READABLE_FORMATS = (Source.Format.CSV, Source.Format.JSON, Source.Format.HTML)
PENDING = (SyncRun.Outcome.QUEUED, SyncRun.Outcome.RUNNING)
# How long a duplicate delivery waits for the worker that holds the source.
LOCK_WAIT_SECONDS = 30
# The rows a run left out are kept on its record up to this many (all are counted).
REJECTED_ROWS_KEPT = 1_000
# A run whose worker died this many times is failed rather than sent again.
MAX_ATTEMPTS = 3
DIED = "The worker carrying it out stopped before it finished."
# A queued run whose job was lost (broker restarted) is queued again.
REQUEUE_AFTER = timedelta(minutes=15)
_CONTENT_TYPES = {
    Source.Format.CSV: "text/csv",
    Source.Format.JSON: "application/json",
    Source.Format.HTML: "text/html",
}


def _config_hash(format: str, options: dict[str, Any]) -> str:  # noqa: A002
    text = json.dumps({"format": format, "options": options}, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()


def _pending_message(source: Source) -> str:
    pending = SyncRun.objects.filter(source=source, outcome__in=PENDING).first()
    if pending is None:
        return "Another process was syncing this source."
    return f"Run {pending.pk} of this source is {pending.outcome}."


def _record_skipped(source: Source, trigger: str, by: Any, why: str = "") -> SyncRun:
    now = timezone.now()
    return SyncRun.objects.create(
        source=source,
        trigger=trigger,
        requested_by=by if getattr(by, "pk", None) else None,
        outcome=SyncRun.Outcome.SKIPPED,
        requested_at=now,
        finished_at=now,
        error=why or _pending_message(source),
    )


def _insert_pending(source: Source, *, outcome: str, trigger: str, by: Any) -> SyncRun | None:
    """A new queued or running run, or None when the source already has one."""
    try:
        with transaction.atomic():
            return SyncRun.objects.create(
                source=source,
                trigger=trigger,
                requested_by=by if getattr(by, "pk", None) else None,
                outcome=outcome,
                requested_at=timezone.now(),
                attempts=1 if outcome == SyncRun.Outcome.RUNNING else 0,
            )
    except IntegrityError:
        return None


def _enqueue(source_id: int, run_id: int) -> bool:
    """Send the run's job; when the broker cannot take it, the run stays queued,
    marked as unsent, and the next sources_sync_due sends it again."""
    from letters.tasks import source_sync as source_sync_task

    return resend.send(
        lambda: source_sync_task.delay(source_id, run_id),
        run=SyncRun.objects.filter(pk=run_id, outcome=SyncRun.Outcome.QUEUED),
        what=f"run {run_id} of source {source_id}",
    )


def _check_fetchable(source: Source) -> None:
    if not source.is_fetched:
        raise DomainError(
            "This source has no address to fetch (or is the editors' or the API's); "
            "import a file into it instead.",
            field="source",
        )
    if source.format not in READABLE_FORMATS:
        raise DomainError(
            f"A source of format {source.format!r} cannot be synced; set CSV, JSON or HTML.",
            field="format",
        )


def _request(source: Source, *, trigger: str, by: Any) -> SyncRun:
    run = _insert_pending(source, outcome=SyncRun.Outcome.QUEUED, trigger=trigger, by=by)
    if run is None:
        return _record_skipped(source, trigger, by)
    transaction.on_commit(lambda: _enqueue(source.pk, run.pk))
    return run


@transaction.atomic
def sync_request(*, source: Source, by: Any = None) -> SyncRun:
    """Queue a sync of ``source`` for a worker (the API's "sync now").

    Returns the queued run, or, when the source already has a run queued or
    running, a run recorded as skipped. The job is sent once the transaction
    commits.
    """
    _check_fetchable(source)
    return _request(source, trigger=SyncRun.Trigger.MANUAL, by=by)


def source_sync(
    *,
    source_id: int,
    trigger: str = SyncRun.Trigger.MANUAL,
    run_id: int | None = None,
    may_retry: bool = False,
) -> SyncRun:
    """Sync a source now, in this process, and return its run.

    With ``run_id``, carry out that queued run (a worker's job): doing it
    again after it finished, or while another worker does it, changes
    nothing. ``may_retry`` puts the run back in the queue on a transient
    error and raises it, for the task to retry later. Without ``run_id``,
    start a new run, or record a skipped one if the source is busy.
    """
    source = Source.objects.select_related("letter").filter(pk=source_id).first()
    if source is None:
        raise NotFound(f"There is no source {source_id}.")
    if run_id is None:
        _check_fetchable(source)
        return _sync_new(source, trigger=trigger, by=None)
    return _sync_queued(source, run_id=run_id, may_retry=may_retry)


def import_file(
    *,
    source: Source,
    content: bytes,
    format: str | None = None,  # noqa: A002 - the field's name
    by: Any = None,
) -> SyncRun:
    """Run the sync pipeline on a file's content instead of a fetch."""
    format = format or source.format
    if format not in READABLE_FORMATS:
        raise DomainError(
            f"Cannot read format {format!r}; use one of {', '.join(READABLE_FORMATS)}.",
            field="format",
        )
    return _sync_new(source, trigger=SyncRun.Trigger.IMPORT, by=by, content=content, format=format)


def _sync_new(
    source: Source,
    *,
    trigger: str,
    by: Any,
    content: bytes | None = None,
    format: str | None = None,  # noqa: A002
) -> SyncRun:
    with source_lock(source.pk) as held:
        if not held:
            return _record_skipped(source, trigger, by)
        _fail_dead_runs(source)
        run = _insert_pending(source, outcome=SyncRun.Outcome.RUNNING, trigger=trigger, by=by)
        if run is None:
            return _record_skipped(source, trigger, by)
        with cycle_collector_paused():
            return _carry_out(source, run, content=content, format=format)


def _sync_queued(source: Source, *, run_id: int, may_retry: bool) -> SyncRun:
    with source_lock(source.pk, wait=LOCK_WAIT_SECONDS) as held:
        run = SyncRun.objects.filter(pk=run_id, source=source).first()
        if run is None:
            raise NotFound(f"Source {source.pk} has no run {run_id}.")
        if run.outcome not in PENDING:
            return run  # done already: a repeated delivery
        if not held:
            if run.outcome == SyncRun.Outcome.RUNNING:
                return run  # a live worker is carrying it out
            raise SourceBusy(f"Source {source.pk} is being synced by another process.")
        # With the lock held, a "running" run was left by a worker that died.
        claimed = SyncRun.objects.filter(pk=run.pk, outcome__in=PENDING).update(
            outcome=SyncRun.Outcome.RUNNING,
            started_at=timezone.now(),
            attempts=F("attempts") + 1,
        )
        run.refresh_from_db()
        if not claimed:
            return run
        with cycle_collector_paused():
            return _carry_out(source, run, may_retry=may_retry)


def _fail_dead_runs(source: Source) -> None:
    """Fail the source's runs left running by dead workers; call holding its lock."""
    SyncRun.objects.filter(source=source, outcome=SyncRun.Outcome.RUNNING).update(
        outcome=SyncRun.Outcome.FAILED, finished_at=timezone.now(), error=DIED
    )


def _last_good_run(source: Source) -> SyncRun | None:
    return (
        SyncRun.objects.filter(
            source=source, outcome__in=[SyncRun.Outcome.SUCCEEDED, SyncRun.Outcome.UNCHANGED]
        )
        .order_by("-finished_at", "-id")
        .first()
    )


def _carry_out(
    source: Source,
    run: SyncRun,
    *,
    content: bytes | None = None,
    format: str | None = None,  # noqa: A002
    may_retry: bool = False,
) -> SyncRun:
    source.refresh_from_db()
    format = format or source.format
    config_hash = _config_hash(format, source.options)
    last_good = _last_good_run(source)
    same_config = last_good is not None and last_good.config_hash == config_hash
    http_status = None
    content_hash = ""
    timings: dict[str, float] = {}
    phase = Phases(timings, run_id=run.pk)
    try:
        etag, last_modified, declared, base_url = "", "", None, source.url
        if content is None:
            with phase("fetch"):
                fetched = fetch(
                    source.url,
                    etag=source.etag if same_config else "",
                    last_modified=source.last_modified if same_config else "",
                )
            http_status = fetched.status
            if fetched.not_modified:
                return _finish_unchanged(
                    source, run, http_status, source.content_hash, config_hash, source.etag,
                    source.last_modified,
                )  # fmt: skip
            refusal = content_type_refusal(fetched.content_type, format)
            if refusal:
                raise SyncError(refusal, http_status=http_status)
            content, etag, last_modified = fetched.content, fetched.etag, fetched.last_modified
            declared, base_url = fetched.encoding, fetched.url
        elif len(content) > settings.TRACKER_SYNC_MAX_BYTES:
            raise SyncError(
                f"The file is larger than the {settings.TRACKER_SYNC_MAX_BYTES:,} byte cap "
                "(TRACKER_SYNC_MAX_BYTES)."
            )
        content_hash = hashlib.sha256(content).hexdigest()
        if same_config and content_hash == source.content_hash:
            return _finish_unchanged(
                source, run, http_status, content_hash, config_hash, etag, last_modified
            )
        rejected: list[dict[str, Any]] = []
        with phase("parse"):
            entries = parse(
                content,
                format=format,
                options=source.options,
                declared_encoding=declared,
                base_url=base_url,
                rejected=rejected,
                # Rows read before are left unbuilt (the run checks them again, locked).
                known=row_hashes(source) if settings.TRACKER_SYNC_SKIP_UNCHANGED else frozenset(),
            )
        phase.report(rows=len(entries))
        _check_rejected(source, run, rejected, len(entries) + len(rejected))
        with phase("write"), transaction.atomic():
            if is_postgres():
                with connection.cursor() as cursor:
                    # Losing the last moment of a run to a server crash is harmless (the
                    # run stays "running" and is run again); waiting for the disk is not.
                    cursor.execute("SET LOCAL synchronous_commit TO OFF")
            at = timezone.now()
            result = ingest(source=source, run=run, entries=entries, at=at)
            timings.update(result.timings)
            with phase("content"):
                SyncRunContent.objects.create(
                    run=run,
                    data=gzip.compress(content, compresslevel=6),
                    size=len(content),
                    content_type=_CONTENT_TYPES[format],
                )
            if result.added or result.changed or result.gone or result.back:
                with phase("version"):
                    record_version(source.letter, run=run, reason=f"Sync of {source.name}")
            result.diff["previous_run"] = last_good.pk if last_good else None
            SyncRun.objects.filter(pk=run.pk).update(
                outcome=SyncRun.Outcome.SUCCEEDED,
                finished_at=timezone.now(),
                http_status=http_status,
                seen=result.seen,
                added=result.added,
                changed=result.changed,
                gone=result.gone,
                back=result.back,
                rejected=len(rejected),
                rejected_rows=rejected[:REJECTED_ROWS_KEPT],
                error="",
                content_hash=content_hash,
                config_hash=config_hash,
                diff=result.diff,
            )
            Source.objects.filter(pk=source.pk).update(
                etag=etag,
                last_modified=last_modified,
                content_hash=content_hash,
                last_synced_at=at,
            )
        with phase("matching"):
            _queue_matching(result.people)
        logger.debug("Run %s of source %s took %s", run.pk, source.pk, timings)
    except TransientSyncError as exc:
        if may_retry:
            SyncRun.objects.filter(pk=run.pk).update(
                outcome=SyncRun.Outcome.QUEUED, error=f"Will try again: {exc.message}"
            )
            raise
        _record_failure(run, exc.message, exc.http_status or http_status, content_hash)
    except SyncError as exc:
        _record_failure(run, exc.message, exc.http_status or http_status, content_hash)
    except (OperationalError, InterfaceError):
        # The database went away (a restart, a failover): nothing can be recorded
        # now. Everything the run wrote was rolled back with its transaction, and
        # the run stays "running" with its source's lock gone, so a worker's retry
        # carries it out again and the periodic check fails it if none does.
        raise
    except Exception as exc:
        logger.exception("Run %s of source %s failed", run.pk, source.pk)
        _record_failure(run, f"Internal error: {type(exc).__name__}: {exc}", http_status, "")
    run.refresh_from_db()
    logger.info(
        "Run %s of source %s %s: %s seen, %s added, %s changed, %s gone, %s back",
        run.pk, source.pk, run.outcome, run.seen, run.added, run.changed, run.gone, run.back,
    )  # fmt: skip
    return run


def _check_rejected(
    source: Source, run: SyncRun, rejected: list[dict[str, Any]], rows: int
) -> None:
    """Fail the run when more of the file's rows cannot be read than the source
    allows (``max_rejected_percent``), keeping the rows on its record."""
    if not rejected or len(rejected) * 100 <= source.max_rejected_percent * rows:
        return
    SyncRun.objects.filter(pk=run.pk).update(
        rejected=len(rejected), rejected_rows=rejected[:REJECTED_ROWS_KEPT]
    )
    shown = "; ".join(f"{row['where']}: {row['reason']}" for row in rejected[:5])
    more = f"; and {len(rejected) - 5:,} more" if len(rejected) > 5 else ""
    raise SyncError(
        f"{len(rejected):,} of {rows:,} rows cannot be read, more than the "
        f"{source.max_rejected_percent}% the source allows: {shown}{more}."
    )


def _queue_matching(person_ids: set[int]) -> None:
    """Ask the matcher to look at the people this run added or respelled. Called
    after the run committed: a broker that cannot take the job does not undo it."""
    if not person_ids:
        return
    try:
        from people.merging.runs import match_queue

        match_queue(person_ids)
    except Exception:
        logger.exception("Could not queue matching for %s people", len(person_ids))


def _finish_unchanged(
    source: Source,
    run: SyncRun,
    http_status: int | None,
    content_hash: str,
    config_hash: str,
    etag: str,
    last_modified: str,
) -> SyncRun:
    now = timezone.now()
    with transaction.atomic():
        SyncRun.objects.filter(pk=run.pk).update(
            outcome=SyncRun.Outcome.UNCHANGED,
            finished_at=now,
            http_status=http_status,
            seen=source.sightings.filter(present=True).count(),
            error="",
            content_hash=content_hash,
            config_hash=config_hash,
            diff={},
        )
        Source.objects.filter(pk=source.pk).update(
            etag=etag or source.etag,
            last_modified=last_modified or source.last_modified,
            last_synced_at=now,
        )
    run.refresh_from_db()
    return run


def _record_failure(run: SyncRun, error: str, http_status: int | None, content_hash: str) -> None:
    SyncRun.objects.filter(pk=run.pk).update(
        outcome=SyncRun.Outcome.FAILED,
        finished_at=timezone.now(),
        http_status=http_status,
        error=error,
        content_hash=content_hash,
    )


def sources_sync_due(*, limit: int = 100) -> list[SyncRun]:
    """Queue a run of every enabled source whose time has come (the beat's job
    each minute), and tidy up after lost workers and lost jobs."""
    now = timezone.now()
    _recover(now)
    runs = []
    with transaction.atomic():
        due = (
            Source.objects.select_for_update(skip_locked=True)
            .filter(enabled=True, format__in=READABLE_FORMATS)
            .exclude(url="")
            .exclude(kind__in=[Source.Kind.MANUAL, Source.Kind.API])
            .filter(Q(next_sync_at__isnull=True) | Q(next_sync_at__lte=now))
            .order_by("pk")[:limit]
        )
        for source in due:
            Source.objects.filter(pk=source.pk).update(next_sync_at=now + source.sync_interval)
            runs.append(_request(source, trigger=SyncRun.Trigger.SCHEDULE, by=None))
    return runs


def _recover(now: Any) -> None:
    for run in SyncRun.objects.filter(outcome=SyncRun.Outcome.RUNNING).only(
        "pk", "source_id", "trigger", "attempts"
    ):
        with source_lock(run.source_id) as held:
            if held:  # nobody is carrying it out: its worker died
                _recover_run(run)
    queued = SyncRun.objects.filter(outcome=SyncRun.Outcome.QUEUED)
    for pk in resend.claim(queued, stale=Q(requested_at__lt=now - REQUEUE_AFTER), requested_at=now):
        run = SyncRun.objects.only("source_id").get(pk=pk)
        _enqueue(run.source_id, pk)


def _recover_run(run: SyncRun) -> None:
    """Send again a run whose worker died, or fail it when it cannot be carried
    out again (an imported file is not kept) or died too often. Call holding the
    source's lock."""
    still = SyncRun.objects.filter(pk=run.pk, outcome=SyncRun.Outcome.RUNNING)
    if run.trigger == SyncRun.Trigger.IMPORT or run.attempts >= MAX_ATTEMPTS:
        why = DIED if run.trigger == SyncRun.Trigger.IMPORT else f"{DIED} ({run.attempts} times)"
        still.update(outcome=SyncRun.Outcome.FAILED, finished_at=timezone.now(), error=why)
        return
    if still.update(outcome=SyncRun.Outcome.QUEUED, error=f"{DIED} Sent again."):
        logger.warning("Run %s of source %s: its worker died; sent again", run.pk, run.source_id)
        _enqueue(run.source_id, run.pk)


def run_content(*, run: SyncRun) -> bytes | None:
    """The content a run read: its own for a run that changed something; for an
    unchanged run, that of the latest run before it with the same content."""
    if not run.content_hash:
        return None
    holder = (
        SyncRunContent.objects.filter(
            run__source_id=run.source_id, run__content_hash=run.content_hash, run_id__lte=run.pk
        )
        .order_by("-run_id")
        .first()
    )
    return gzip.decompress(holder.data) if holder is not None else None
