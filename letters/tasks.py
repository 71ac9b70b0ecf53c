"""Celery tasks for letters: thin, by id, safe to run twice."""

from __future__ import annotations

from celery import shared_task
from django.db import InterfaceError, OperationalError

from letters import sync, versions, webhooks
from letters.sync.errors import SourceBusy, TransientSyncError

# Where settings.CELERY_TASK_ROUTES sends these tasks.
SYNC_QUEUE = "sync"
# A database that went away usually comes back within seconds (a restart).
DATABASE_RETRY_SECONDS = 5


@shared_task(
    bind=True,
    acks_late=True,
    reject_on_worker_lost=True,
    autoretry_for=(TransientSyncError, SourceBusy),
    retry_backoff=30,
    retry_backoff_max=600,
    retry_jitter=True,
    max_retries=4,
)
def source_sync(self, source_id: int, run_id: int) -> str:
    """Carry out a queued sync run; a repeat of a finished one does nothing."""
    try:
        run = sync.source_sync(
            source_id=source_id, run_id=run_id, may_retry=self.request.retries < self.max_retries
        )
    except (OperationalError, InterfaceError) as exc:
        raise self.retry(
            exc=exc, countdown=DATABASE_RETRY_SECONDS * (self.request.retries + 1)
        ) from None
    return run.outcome


@shared_task(acks_late=True, ignore_result=True)
def sources_sync_due() -> int:
    """Queue the sources whose interval has passed (beat, every minute)."""
    return len(sync.sources_sync_due())


@shared_task(acks_late=True, ignore_result=True)
def webhooks_deliver_due() -> int:
    """Queue a delivery for each subscription with new events (beat, every
    WEBHOOK_BATCH_SECONDS); also sends again retries the broker lost."""
    due = webhooks.webhook_subscriptions_due()
    for subscription_id in due:
        webhook_deliver.delay(subscription_id)
    return len(due)


@shared_task(bind=True, acks_late=True, reject_on_worker_lost=True, ignore_result=True)
def webhook_deliver(self, subscription_id: int) -> None:
    """Send a subscription its events; a failed request is tried again with
    backoff (the service says when), until the subscription pauses."""
    try:
        retry_in = webhooks.webhook_deliver(subscription_id=subscription_id)
    except (OperationalError, InterfaceError) as exc:
        raise self.retry(exc=exc, countdown=DATABASE_RETRY_SECONDS, max_retries=None) from None
    if retry_in is not None:
        raise self.retry(countdown=retry_in, max_retries=None)


@shared_task(
    acks_late=True,
    reject_on_worker_lost=True,
    autoretry_for=(OperationalError, InterfaceError),
    retry_backoff=DATABASE_RETRY_SECONDS,
    max_retries=5,
    ignore_result=True,
)
def letter_versions_record(
    letter_ids: list[int], user_id: int | None = None, reason: str = ""
) -> int:
    """Publish a new version of each letter whose list changed; a repeat makes none."""
    return versions.letters_record(letter_ids=letter_ids, user_id=user_id, reason=reason)
