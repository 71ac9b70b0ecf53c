"""Reads for the editor's desk, the admin's index: what needs an editor now.

Each item counts rows and names the admin list, filtered, where they are; the
counts are one query each, however many rows.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.db.models import F, Q, QuerySet
from django.utils import timezone

from letters.models import Signature, Source, SyncRun
from people.models import MatchJudgement, MatchRun

# A run queued or running for longer than this is shown as stuck: a sync takes
# seconds to minutes, and a lost one is queued again after 15 minutes.
STUCK_AFTER = timedelta(minutes=15)
# Failed runs are shown for this long; older ones are in the runs lists.
FAILED_WITHIN = timedelta(days=7)
_FETCHED_FORMATS = (Source.Format.CSV, Source.Format.JSON, Source.Format.HTML)


@dataclass
class DeskItem:
    label: str
    count: int
    url_name: str
    query: dict[str, Any]
    help: str = ""
    # A warning when there is something; "ok" otherwise.
    level: str = "warning"


def sources_overdue(now: datetime | None = None) -> QuerySet[Source]:
    """Enabled sources with an address to fetch that have not been synced for
    longer than their schedule says (or never)."""
    now = now or timezone.now()
    return (
        Source.objects.filter(enabled=True, format__in=_FETCHED_FORMATS, url__gt="")
        .exclude(kind__in=[Source.Kind.MANUAL, Source.Kind.API])
        .filter(Q(last_synced_at__isnull=True) | Q(last_synced_at__lt=now - F("sync_interval")))
    )


def desk_overview(now: datetime | None = None) -> list[DeskItem]:
    """What the admin's index shows, in the order an editor deals with it."""
    now = now or timezone.now()
    stuck_before = (now - STUCK_AFTER).isoformat()
    failed_since = (now - FAILED_WITHIN).isoformat()
    pending = (SyncRun.Outcome.QUEUED, SyncRun.Outcome.RUNNING)
    items = [
        DeskItem(
            "Suspected duplicates to review",
            MatchJudgement.objects.filter(decision=MatchJudgement.Decision.PENDING).count(),
            "admin:people_matchjudgement_review",
            {},
            "Pairs the duplicate finder could not decide alone.",
        ),
        DeskItem(
            "Signatures needing review",
            Signature.objects.filter(needs_review=True, merged_into__isnull=True).count(),
            "admin:letters_signature_changelist",
            {"needs_review__exact": "1", "merged": "no"},
            "Gone from a source, disputed, or flagged by an editor.",
        ),
        DeskItem(
            "Failed syncs (last 7 days)",
            SyncRun.objects.filter(
                outcome=SyncRun.Outcome.FAILED, started_at__gte=now - FAILED_WITHIN
            ).count(),
            "admin:letters_syncrun_changelist",
            {"outcome__exact": SyncRun.Outcome.FAILED, "started_at__gte": failed_since},
            "Each run's page says why; a failed run changed nothing.",
        ),
        DeskItem(
            "Stuck syncs (pending over 15 minutes)",
            SyncRun.objects.filter(outcome__in=pending, started_at__lt=now - STUCK_AFTER).count(),
            "admin:letters_syncrun_changelist",
            {"outcome__in": ",".join(pending), "started_at__lt": stuck_before},
            "Queued or running for long: is a worker up?",
        ),
        DeskItem(
            "Failed duplicate-finder runs (last 7 days)",
            MatchRun.objects.filter(
                status=MatchRun.Status.FAILED, started_at__gte=now - FAILED_WITHIN
            ).count(),
            "admin:people_matchrun_changelist",
            {"status__exact": MatchRun.Status.FAILED, "started_at__gte": failed_since},
        ),
        DeskItem(
            "Stuck duplicate-finder runs (running over 15 minutes)",
            MatchRun.objects.filter(
                status=MatchRun.Status.RUNNING, started_at__lt=now - STUCK_AFTER
            ).count(),
            "admin:people_matchrun_changelist",
            {"status__exact": MatchRun.Status.RUNNING, "started_at__lt": stuck_before},
        ),
        DeskItem(
            "Sources not synced on schedule",
            sources_overdue(now).count(),
            "admin:letters_source_changelist",
            {"schedule": "overdue"},
            "Enabled sources last synced longer ago than their interval, or never.",
        ),
    ]
    for item in items:
        if not item.count:
            item.level = "ok"
    return items
