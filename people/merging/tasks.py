"""Celery tasks for people: the duplicate finder's steps, thin and by id.

A run fans out into one ``match_block`` task per block; the last block to
finish queues ``match_combine``. Every step is safe to run twice.

People that entries and syncs add or respell wait in the database
(``MatchQueueEntry``); ``match_queued``, sent once per burst after
``MATCHING_DEBOUNCE_SECONDS``, starts one incremental run on all of them.

The database, not the broker, says what is left to do: a step the broker could
not take (Redis down) or lost (Redis restarted) is sent again by
``match_runs_resend``, which beat runs every minute (``tracker.resend``), as
is the queue's job when none is on its way. So is the step of a run whose
worker died: each step holds the run's lock (``tracker.locks``) while it works,
and a run that made no progress for ``MATCHING_STEP_LOST_AFTER_SECONDS`` with
that lock free has nobody at it.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from celery import Task, shared_task
from django.conf import settings
from django.db import OperationalError

from people.merging import runs
from people.models import MatchRun, Person
from tracker import resend
from tracker.locks import match_run_step_lock

logger = logging.getLogger(__name__)

QUEUE_LOST_AFTER_SECONDS = 300


def _resend_after() -> timedelta:
    """How long a run may go without progress before its next step is sent again:
    by then any worker still at it was stopped by the task time limit."""
    return timedelta(seconds=settings.CELERY_TASK_TIME_LIMIT)


def _queue_resend_after() -> timedelta:
    """How long the queue's job may be on its way before it is taken for lost:
    the debounce, then a few minutes behind other matching jobs."""
    return timedelta(seconds=settings.MATCHING_DEBOUNCE_SECONDS + QUEUE_LOST_AFTER_SECONDS)


class RunStep(Task):
    """A step of a match run, whose first argument is the run's id. When the
    broker cannot take it, the run is marked and the step sent again later,
    instead of the run staying "running" with nothing queued to finish it."""

    def apply_async(self, args=None, kwargs=None, **options):
        run_id = (args or [None])[0]
        if run_id is None:
            return super().apply_async(args, kwargs, **options)
        sent = []
        resend.send(
            lambda: sent.append(super(RunStep, self).apply_async(args, kwargs, **options)),
            run=MatchRun.objects.filter(pk=run_id, status=MatchRun.Status.RUNNING),
            what=f"{self.name} for match run {run_id}",
        )
        return sent[0] if sent else None


_RETRY = {
    "autoretry_for": (OperationalError,),
    "retry_backoff": 5,
    "retry_backoff_max": 120,
    "max_retries": 5,
}


@shared_task(base=RunStep, acks_late=True, ignore_result=True, **_RETRY)
def match_plan(run_id: int) -> int:
    """Block everyone and queue one task per block."""
    try:
        with match_run_step_lock(run_id):  # the run has a live worker at it
            numbers = runs.run_plan(run_id)
    except OperationalError:
        raise
    except Exception as exc:
        runs.run_fail(run_id, exc)
        raise
    for number in numbers:
        match_block.delay(run_id, number)
    if not numbers:
        match_combine.delay(run_id)
    return len(numbers)


@shared_task(base=RunStep, acks_late=True, ignore_result=True, **_RETRY)
def match_block(run_id: int, number: int) -> None:
    try:
        with match_run_step_lock(run_id):
            runs.block_score(run_id, number)
    except OperationalError:
        raise
    except Exception as exc:
        runs.run_fail(run_id, exc)
        raise


@shared_task(base=RunStep, acks_late=True, ignore_result=True, **_RETRY)
def match_combine(run_id: int) -> str:
    try:
        with match_run_step_lock(run_id):
            return runs.run_combine(run_id).status
    except OperationalError:
        raise
    except Exception as exc:
        runs.run_fail(run_id, exc)
        raise


@shared_task(acks_late=True, ignore_result=True, **_RETRY)
def match_queued() -> int | None:
    """One incremental run on everyone queued for matching (entries and syncs
    queue them, ``runs.match_queue``); with a run going on, asks again later.
    Two at once take each person once."""
    run = runs.queue_match()
    return run.pk if run else None


@shared_task(acks_late=True, ignore_result=True)
def match_incremental(person_ids: list[int]) -> None:
    """The people of a sync, as jobs sent before the queue carried them: queued."""
    runs.match_queue(Person.objects.filter(pk__in=person_ids).values_list("pk", flat=True))


@shared_task(acks_late=True, ignore_result=True)
def match_full() -> int:
    """The periodic full run (beat)."""
    return runs.match_request(full=True).pk


@shared_task(acks_late=True, ignore_result=True)
def match_runs_resend() -> list[int]:
    """Send again the next step of running runs whose step the broker could not
    take, or that made no progress for longer than a step may take (beat, every
    minute), and the matching of the queued people when none is on its way.
    Steps are idempotent, so a step sent twice does its work once."""
    resent = runs.runs_resend(
        stalled_after=_resend_after(),
        lost_after=timedelta(seconds=settings.MATCHING_STEP_LOST_AFTER_SECONDS),
    )
    runs.queue_resend(stalled_after=_queue_resend_after())
    return resent
