"""Celery tasks for people: the duplicate finder's steps, thin and by id.

A run fans out into one ``match_block`` task per block; the last block to
finish queues ``match_combine``. Every step is safe to run twice.
"""

from __future__ import annotations

from celery import shared_task
from django.db import OperationalError

from people.matching import jobs
from people.models import MatchRun


class RunBusy(Exception):
    """Another run is going on; the incremental run waits for it."""


_RETRY = {
    "autoretry_for": (OperationalError,),
    "retry_backoff": 5,
    "retry_backoff_max": 120,
    "max_retries": 5,
}


@shared_task(acks_late=True, ignore_result=True, **_RETRY)
def match_plan(run_id: int) -> int:
    """Block everyone and queue one task per block."""
    try:
        numbers = jobs.run_plan(run_id)
    except OperationalError:
        raise
    except Exception as exc:
        jobs.run_fail(run_id, exc)
        raise
    for number in numbers:
        match_block.delay(run_id, number)
    if not numbers:
        match_combine.delay(run_id)
    return len(numbers)


@shared_task(acks_late=True, ignore_result=True, **_RETRY)
def match_block(run_id: int, number: int) -> None:
    try:
        jobs.block_score(run_id, number)
    except OperationalError:
        raise
    except Exception as exc:
        jobs.run_fail(run_id, exc)
        raise


@shared_task(acks_late=True, ignore_result=True, **_RETRY)
def match_combine(run_id: int) -> str:
    try:
        return jobs.run_combine(run_id).status
    except OperationalError:
        raise
    except Exception as exc:
        jobs.run_fail(run_id, exc)
        raise


@shared_task(
    bind=True,
    acks_late=True,
    ignore_result=True,
    autoretry_for=(RunBusy, OperationalError),
    retry_backoff=30,
    retry_backoff_max=600,
    retry_jitter=True,
    max_retries=20,
)
def match_incremental(self, person_ids: list[int]) -> int | None:
    """The people a sync added or changed, against everyone. Waits for a run
    already going on rather than dropping them."""
    run = jobs.run_start(mode=MatchRun.Mode.INCREMENTAL, focus=person_ids)
    if run is None:
        if self.request.retries >= self.max_retries:
            return jobs._skipped(mode=MatchRun.Mode.INCREMENTAL, by=None, focus=person_ids).pk
        raise RunBusy()
    match_plan.delay(run.pk)
    return run.pk


@shared_task(acks_late=True, ignore_result=True)
def match_full() -> int:
    """The periodic full run (beat)."""
    return jobs.match_request(full=True).pk
