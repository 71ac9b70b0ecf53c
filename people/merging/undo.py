"""Undoing a merge, whole or in part.

A whole undo puts back exactly what the merge moved (the followers' rows, the
names, the affiliations, the survivor's shown name) and records that the two
are different people, so that no later run merges them again.

A partial undo takes only some of the records that came in with the merged
person back out: the merged person and everyone merged into it before are
"the merge's people"; the chosen ones leave the survivor, the others stay with
it. It is made of whole undos and merges, each recorded, so that history shows
every step and each step can be undone in turn.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.db import transaction
from django.utils import timezone

from people.merging import followers
from people.merging.merge import cluster_roots, person_merge, user_or_none
from people.models import Affiliation, MatchJudgement, Merge, Person, PersonName, PersonRename
from people.services import people_refresh_search_texts, person_renames_record
from tracker.errors import Conflict, DomainError
from tracker.locks import people_lock


def merge_people(merge: Merge) -> list[int]:
    """The records that came in with a merge: its merged person and everyone
    merged into that person (transitively) before it, still merged."""
    root_of = cluster_roots({merge.merged_id})
    return sorted(root_of)


@transaction.atomic
def merge_undo(
    *, merge: Merge, by: Any = None, reason: str = "", people: Iterable[int] | None = None
) -> Merge:
    """Undo ``merge``: all of it, or only for ``people`` (ids among
    ``merge_people(merge)``), the others staying with the survivor."""
    by = user_or_none(by)
    reason = (reason or "").strip()
    people_lock(exclusive=True)
    merge = Merge.objects.select_for_update().get(pk=merge.pk)
    if merge.undone_at is not None:
        raise Conflict(f"Merge #{merge.pk} was already undone.", code="already_undone")
    came_in = merge_people(merge)
    chosen = set(came_in) if people is None else {int(pk) for pk in people}
    strangers = sorted(chosen - set(came_in))
    if strangers:
        raise DomainError(
            f"#{strangers[0]} did not come in with merge #{merge.pk}; choose among "
            f"{', '.join(f'#{pk}' for pk in came_in)}.",
            field="people",
        )
    if not chosen:
        raise DomainError("Choose at least one record to take back out.", field="people")
    followers.lock([merge.survivor_id, *came_in])
    note = reason or f"Merge #{merge.pk} undone."
    if chosen == set(came_in):
        _undo_whole(merge, by=by, reason=note, judge=True)
        merge.refresh_from_db()
        return merge
    # Take the whole merged cluster out, separate chosen from unchosen inside
    # it, and put the unchosen back with the survivor.
    _undo_whole(merge, by=by, reason=note, judge=False)
    roots = _separate(merge.merged_id, chosen, by=by, reason=note)
    survivor = Person.objects.get(pk=merge.survivor_id)
    kept_in = []
    for root in roots:
        if root in chosen:
            continue
        again = person_merge(
            survivor=survivor,
            merged=Person.objects.get(pk=root),
            by=by,
            reason=f"Kept in when merge #{merge.pk} was partly undone. {reason}".strip(),
        )
        kept_in.append(again.pk)
    for root in roots:
        if root in chosen:
            _judge_different(merge.survivor_id, root, by=by, reason=note)
    Merge.objects.filter(pk=merge.pk).update(
        undo_detail={"people": sorted(chosen), "kept_in": kept_in}
    )
    merge.refresh_from_db()
    return merge


def _separate(root: int, chosen: set[int], *, by: Any, reason: str) -> list[int]:
    """Undo, top down, the merges inside ``root``'s cluster that join a chosen
    record with one not chosen; return the roots of the clusters left.
    A merge whose records are on one side but hold a boundary further down is
    undone, its inside separated, and made again."""
    roots = [root]
    for merge in Merge.objects.filter(survivor_id=root, undone_at__isnull=True).order_by("-pk"):
        child = merge.merged_id
        below = set(cluster_roots({child}))
        crosses_here = (child in chosen) != (root in chosen)
        crosses_below = len({pk in chosen for pk in below}) > 1
        if not crosses_here and not crosses_below:
            continue
        _undo_whole(merge, by=by, reason=reason, judge=crosses_here)
        inner = _separate(child, chosen, by=by, reason=reason)
        if crosses_here:
            roots.extend(inner)
            continue
        # Same side as its parent: put it back, and the far side stays out.
        person_merge(
            survivor=Person.objects.get(pk=root),
            merged=Person.objects.get(pk=child),
            by=by,
            reason=f"Made again when merge #{merge.pk} was partly undone.",
        )
        roots.extend(pk for pk in inner if pk != child)
    return roots


def _undo_whole(merge: Merge, *, by: Any, reason: str, judge: bool) -> None:
    merge = Merge.objects.select_for_update().get(pk=merge.pk)
    if merge.undone_at is not None:
        raise Conflict(f"Merge #{merge.pk} was already undone.", code="already_undone")
    people = {
        p.pk: p
        for p in Person.objects.select_for_update()
        .filter(pk__in=[merge.survivor_id, merge.merged_id])
        .order_by("pk")
    }
    survivor, merged = people[merge.survivor_id], people[merge.merged_id]
    if survivor.merged_into_id is not None:
        later = Merge.objects.filter(merged=survivor, undone_at__isnull=True).first()
        raise Conflict(
            f"{survivor} was merged again afterwards; undo merge #{later.pk if later else '?'} "
            "first.",
            code="undo_later_first",
        )
    now = timezone.now()
    moved = merge.moved
    for follower in followers.followers():
        follower.restore(moved, survivor=survivor.pk, merged=merged.pk, at=now, by=by, note=reason)
    PersonName.objects.filter(pk__in=moved.get("names", []), person=survivor).update(person=merged)
    Affiliation.objects.filter(pk__in=moved.get("affiliations", []), person=survivor).update(
        person=merged
    )
    merged.merged_into = None
    merged.merged_at = None
    merged.save(update_fields=["merged_into", "merged_at", "updated_at"])
    if moved.get("survivor_before"):
        shown = survivor.display_name
        for field, value in moved["survivor_before"].items():
            setattr(survivor, field, value)
        survivor.save(update_fields=[*moved["survivor_before"], "updated_at"])
        person_renames_record(
            [(survivor.pk, shown, survivor.display_name)],
            cause=PersonRename.Cause.UNMERGE,
            by=by,
            at=now,
        )
    people_refresh_search_texts(
        display_of={survivor.pk: survivor.display_name, merged.pk: merged.display_name}
    )
    if judge:
        _judge_different(survivor.pk, merged.pk, by=by, reason=reason)
    Merge.objects.filter(pk=merge.pk).update(undone_at=now, undone_by=by, undo_reason=reason)


def _judge_different(one: int, other: int, *, by: Any, reason: str) -> MatchJudgement:
    first, second = sorted((one, other))
    judgement, _ = MatchJudgement.objects.update_or_create(
        person_a_id=first,
        person_b_id=second,
        defaults={
            "decision": MatchJudgement.Decision.DIFFERENT,
            "automatic": False,
            "decided_by": by,
            "decided_at": timezone.now(),
            "reason": reason,
        },
    )
    return judgement
