"""Editors' decisions on pairs of people the matcher found alike."""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.utils import timezone

from people.matching.normalize import is_blank
from people.merging.merge import person_merge, user_or_none
from people.models import MatchJudgement, Merge
from people.services import person_survivor
from tracker.errors import Conflict, DomainError
from tracker.locks import people_lock

_DECIDABLE = (
    MatchJudgement.Decision.SAME,
    MatchJudgement.Decision.DIFFERENT,
    MatchJudgement.Decision.UNSURE,
)


@transaction.atomic
def judgement_decide(
    *,
    judgement: MatchJudgement,
    decision: str,
    reason: str,
    by: Any = None,
    replaces: str = MatchJudgement.Decision.PENDING,
) -> MatchJudgement:
    """An editor's decision on a pair: "same" merges them, "different" becomes a
    constraint no automatic run overrules, "unsure" is recorded for later.

    ``replaces`` is the decision the editor saw: a pair whose decision is
    another by now (someone decided meanwhile) is refused, not decided again,
    so that no decision is lost."""
    if decision not in _DECIDABLE:
        raise DomainError(
            f"Unknown decision {decision!r}; use same, different or unsure.", field="decision"
        )
    replaces = str(replaces)  # the value, not the enum member, in the messages below
    if replaces not in MatchJudgement.Decision.values:
        raise DomainError(
            f"Unknown decision {replaces!r}; use pending, same, different or unsure.",
            field="replaces",
        )
    reason = (reason or "").strip()
    if is_blank(reason):
        raise DomainError("Say why you decide so.", field="reason")
    # The people lock before the pair's row (tracker.locks): a run merging or
    # queueing this pair holds the lock and then writes the row.
    people_lock(exclusive=True)
    judgement = MatchJudgement.objects.select_for_update().get(pk=judgement.pk)
    if judgement.decision != replaces:
        who = f" by {judgement.decided_by}" if judgement.decided_by_id else ""
        raise Conflict(
            f"This pair's decision is now {judgement.get_decision_display()!r}{who}, not "
            f"'{replaces}'; to change it, say that you replace '{judgement.decision}'.",
            code="decided",
        )
    first, second = judgement.person_a, judgement.person_b
    same_cluster = person_survivor(first).pk == person_survivor(second).pk
    if decision == MatchJudgement.Decision.DIFFERENT and same_cluster:
        active = Merge.objects.filter(undone_at__isnull=True, merged__in=[first, second]).first()
        raise Conflict(
            "These records are merged; undo the merge"
            + (f" #{active.pk}" if active else "")
            + " to separate them.",
            code="merged",
        )
    judgement.decision = decision
    judgement.reason = reason
    judgement.automatic = False
    judgement.decided_by = user_or_none(by)
    judgement.decided_at = timezone.now()
    judgement.save()
    if decision == MatchJudgement.Decision.SAME and not same_cluster:
        survivor, merged = sorted(
            (person_survivor(first), person_survivor(second)), key=lambda p: p.pk
        )
        person_merge(survivor=survivor, merged=merged, by=by, reason=reason, judgement=judgement)
    return judgement
