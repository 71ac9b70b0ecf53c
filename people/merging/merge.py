"""Folding people into one: ``person_merge`` for one pair, ``person_merge_many``
for a run's thousands, with the same outcome as one merge after another.

A merge goes through these phases, each a function below:

1. ``_lock``: the people lock (exclusive), the followers' locks, then the rows
   of the people standing for the pairs, in id order, following anyone merged
   meanwhile.
2. ``_kept_apart``: the stored "different" judgements between the clusters.
3. ``_plan``: join the clusters pair by pair in memory, refusing (or, for a
   run, leaving out) pairs already one or kept apart.
4. ``_record_same``: the "same" judgements the merges follow.
5. ``_fold``: what the people hold moves to the survivors: the followers' rows
   (signatures, sightings), then the names and affiliations; the survivor is
   shown by its most trusted spelling.
6. ``_record``: one ``Merge`` a join, with exactly what moved, for undo.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from django.db import transaction
from django.utils import timezone

from people.merging import followers
from people.merging.followers import Join
from people.merging.names import best_spelling
from people.models import (
    Affiliation,
    MatchJudgement,
    MatchRun,
    Merge,
    Person,
    PersonName,
    PersonRename,
)
from people.services import (
    PERSON_NAME_FIELDS,
    people_refresh_search_texts,
    person_name_fields,
    person_renames_record,
    person_survivor_ids,
)
from tracker.bulk import among, chunked, insert_objects, update_rows, upsert_rows
from tracker.errors import Conflict, NotFound
from tracker.locks import people_lock

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class MergePair:
    """Two people to make one, by id; whoever each was merged into since stands
    for them. ``judgement`` is the id of the judgement the merge follows;
    ``same`` instead gives the fields of an automatic "same" judgement to
    record on the pair (smaller id first) if, and only if, it is merged."""

    survivor: int
    merged: int
    judgement: int | None = None
    same: dict[str, Any] | None = None


def user_or_none(by: Any) -> Any:
    return by if getattr(by, "pk", None) else None


@transaction.atomic
def person_merge(
    *,
    survivor: Person,
    merged: Person,
    by: Any = None,
    reason: str = "",
    judgement: MatchJudgement | None = None,
    run: MatchRun | None = None,
    automatic: bool = False,
) -> Merge:
    """Fold ``merged`` into ``survivor``: signatures, sightings, names and
    affiliations move, and the merged record points at the survivor.

    What moved is recorded on the Merge so that ``merge_undo`` can put it back.
    A stored "different" judgement between the two clusters refuses the merge.
    """
    pair = MergePair(survivor.pk, merged.pk, judgement.pk if judgement else None)
    merges = person_merge_many(
        pairs=[pair], by=by, reason=reason, run=run, automatic=automatic, strict=True
    )
    return merges[0]


@transaction.atomic
def person_merge_many(
    *,
    pairs: Sequence[MergePair],
    by: Any = None,
    reason: str = "",
    run: MatchRun | None = None,
    automatic: bool = False,
    smaller_survives: bool = False,
    strict: bool = True,
) -> list[Merge]:
    """Merge many pairs at once, in the order given, with set-based writes: a
    fixed number of statements however many pairs (a run's automatic merges).

    Each pair joins the clusters of its two people: the survivor's cluster
    absorbs the other (or the one whose record is older, with
    ``smaller_survives``). Each join is one Merge recording exactly what moved,
    as one ``person_merge`` after another would, so that ``merge_undo`` puts
    back any of them. A pair already in one cluster, or kept apart by a stored
    "different" judgement between the two clusters, raises ``Conflict`` when
    ``strict``; otherwise it is left out.
    """
    if not pairs:
        return []
    start, locked = _lock(pairs, strict=strict)
    apart = _kept_apart(set(start.values()))
    joins = _plan(pairs, start, apart, smaller_survives=smaller_survives, strict=strict)
    if not joins:
        return []
    judgement_of = _record_same(pairs, joins)
    by_user = user_or_none(by)
    now = timezone.now()
    moves = _fold([join for _index, join in joins], locked, at=now, by=by_user, automatic=automatic)
    names = {pk: locked[pk].display_name for pk in locked}
    merges = [
        Merge(
            survivor_id=join.survivor,
            merged_id=join.merged,
            survivor_name=names[join.survivor][:300],
            merged_name=names[join.merged][:300],
            judgement_id=judgement_of[index],
            run=run,
            automatic=automatic,
            by=by_user,
            reason=reason,
            moved=moved,
        )
        for (index, join), moved in zip(joins, moves, strict=True)
    ]
    return insert_objects(merges)


# --- 1. Locks ----------------------------------------------------------------------


def _lock(pairs: Sequence[MergePair], *, strict: bool) -> tuple[dict[int, int], dict[int, Person]]:
    """Lock the people standing for the pairs, in primary-key order so that
    concurrent merges cannot deadlock, following anyone merged meanwhile.
    Returns who stands for each person of the pairs, and their locked rows."""
    asked = {pk for pair in pairs for pk in (pair.survivor, pair.merged)}
    start = person_survivor_ids(asked)
    people_lock(exclusive=True)
    followers.lock({*start, *start.values()})
    missing = asked - start.keys()
    if missing:
        raise NotFound(f"No person #{min(missing)}.")
    if strict and len(pairs) == 1 and start[pairs[0].survivor] == start[pairs[0].merged]:
        raise Conflict("These records are already one person.", code="already_merged")
    locked: dict[int, Person] = {}
    while True:
        wanted = sorted(set(start.values()) - locked.keys())
        for chunk in chunked(wanted):
            locked.update(
                (p.pk, p)
                for p in Person.objects.select_for_update()
                .filter(among(Person, "id", chunk))
                .order_by("pk")
            )
        moved_on = [pk for pk in wanted if locked[pk].merged_into_id is not None]
        if not moved_on:
            return start, locked
        if strict:
            raise Conflict("One of these people was merged meanwhile; try again.")
        again = person_survivor_ids(start)
        start = {pk: again[pk] for pk in start}


# --- 2. Who must stay apart ----------------------------------------------------------


def cluster_roots(roots: set[int]) -> dict[int, int]:
    """Everyone merged into these people, transitively, with the root each stands under."""
    root_of = {pk: pk for pk in roots}
    frontier = list(root_of)
    while frontier:
        found = []
        for chunk in chunked(frontier):
            for pk, into in Person.objects.filter(among(Person, "merged_into", chunk)).values_list(
                "pk", "merged_into_id"
            ):
                if pk not in root_of:
                    root_of[pk] = root_of[into]
                    found.append(pk)
        frontier = found
    return root_of


def _kept_apart(roots: set[int]) -> dict[int, list[tuple[int, int]]]:
    """For each cluster root, the roots it must stay apart from, with the
    "different" judgement that says so."""
    root_of = cluster_roots(roots)
    apart: dict[int, list[tuple[int, int]]] = defaultdict(list)
    for chunk in chunked(sorted(root_of)):
        for pk, a, b in MatchJudgement.objects.filter(
            among(MatchJudgement, "person_a", chunk), decision=MatchJudgement.Decision.DIFFERENT
        ).values_list("pk", "person_a_id", "person_b_id"):
            if b in root_of and root_of[a] != root_of[b]:
                apart[root_of[a]].append((root_of[b], pk))
                apart[root_of[b]].append((root_of[a], pk))
    return apart


# --- 3. The joins ----------------------------------------------------------------------


def _plan(
    pairs: Sequence[MergePair],
    start: dict[int, int],
    apart: dict[int, list[tuple[int, int]]],
    *,
    smaller_survives: bool,
    strict: bool,
) -> list[tuple[int, Join]]:
    """Join the clusters pair by pair, in memory: (pair index, join) for each
    pair that makes two clusters one."""
    parent = {pk: pk for pk in set(start.values())}
    members = {pk: [pk] for pk in parent}

    def find(pk: int) -> int:
        while parent[pk] != pk:
            parent[pk] = parent[parent[pk]]
            pk = parent[pk]
        return pk

    joins: list[tuple[int, Join]] = []
    for index, pair in enumerate(pairs):
        keep, gone = find(start[pair.survivor]), find(start[pair.merged])
        if keep == gone:
            if strict:
                raise Conflict("These records are already one person.", code="already_merged")
            continue
        if smaller_survives and gone < keep:
            keep, gone = gone, keep
        small, large = sorted((keep, gone), key=lambda root: len(members[root]))
        conflict = next(
            (
                judgement
                for member in members[small]
                for other, judgement in apart.get(member, ())
                if judgement != pair.judgement and find(other) == large
            ),
            None,
        )
        if conflict is not None:
            if strict:
                raise Conflict(
                    f"An editor judged these people different (judgement #{conflict}); "
                    "they cannot be merged.",
                    code="judged_different",
                )
            logger.info(
                "Not merging %s and %s: judgement #%s.", pair.survivor, pair.merged, conflict
            )
            continue
        parent[gone] = keep
        members[keep].extend(members.pop(gone))
        joins.append((index, Join(keep, gone)))
    return joins


# --- 4. Judgements -----------------------------------------------------------------------


def _record_same(
    pairs: Sequence[MergePair], joins: list[tuple[int, Join]]
) -> dict[int, int | None]:
    """The judgement each join follows: the pair's own, or the automatic
    "same" judgement recorded now for a pair that brought one."""
    judgement_of = {index: pairs[index].judgement for index, _join in joins}
    decided = {
        (min(pairs[i].survivor, pairs[i].merged), max(pairs[i].survivor, pairs[i].merged)): i
        for i, _join in joins
        if pairs[i].same is not None
    }
    if decided:
        fields = sorted({name for row in decided.values() for name in pairs[row].same})
        columns = [MatchJudgement._meta.get_field(name) for name in fields]
        # As rows (a run records thousands): a field a pair leaves out takes its
        # default, a related row its id.
        rows = [
            (a, b, *(_value(column, pairs[i].same) for column in columns))
            for (a, b), i in decided.items()
        ]
        ids = upsert_rows(
            MatchJudgement,
            ["person_a_id", "person_b_id", *(column.attname for column in columns)],
            rows,
            unique_fields=["person_a", "person_b"],
            update_fields=[*fields, "updated_at"],
            ids=True,
        )
        for pair, i in decided.items():
            judgement_of[i] = ids[pair]
    return judgement_of


def _value(column: Any, given: dict[str, Any]) -> Any:
    if column.name not in given:
        return column.get_default()
    value = given[column.name]
    return value.pk if column.is_relation and value is not None else value


# --- 5. Moving what the people hold ----------------------------------------------------------


def _fold(
    joins: list[Join], locked: dict[int, Person], *, at: Any, by: Any, automatic: bool
) -> list[dict[str, Any]]:
    """Apply the joins one after another, as one merge after another would:
    first the followers' rows, then names and affiliations, then each
    survivor's shown name; write where everything ended up. Returns each
    join's record of what moved."""
    moves: list[dict[str, Any]] = [{} for _ in joins]
    actor = "matcher" if automatic else "merge"
    for follower in followers.followers():
        for moved, part in zip(moves, follower.fold(joins, at=at, by=by, actor=actor), strict=True):
            moved.update(part)

    involved = sorted({pk for join in joins for pk in (join.survivor, join.merged)})
    names_at: dict[int, list[tuple[int, str, int | None]]] = defaultdict(list)
    affiliations_at: dict[int, list[int]] = defaultdict(list)
    held_by: dict[tuple[str, int], int] = {}  # where each row was before
    for chunk in chunked(involved):
        for pk, person_id, name, source_id in (
            PersonName.objects.filter(among(PersonName, "person", chunk))
            .order_by("pk")
            .values_list("pk", "person_id", "name", "source_id")
        ):
            names_at[person_id].append((pk, name, source_id))
            held_by["name", pk] = person_id
        for pk, person_id in (
            Affiliation.objects.filter(among(Affiliation, "person", chunk))
            .order_by("pk")
            .values_list("pk", "person_id")
        ):
            affiliations_at[person_id].append(pk)
            held_by["affiliation", pk] = person_id

    rank = followers.spelling_rank(
        source for rows in names_at.values() for _pk, _name, source in rows
    )
    shown = {
        pk: {name: getattr(locked[pk], name) for name in PERSON_NAME_FIELDS} for pk in involved
    }
    reshown: set[int] = set()
    for join, moved in zip(joins, moves, strict=True):
        keep, gone = join.survivor, join.merged
        moved.setdefault("names", [])
        moved.setdefault("affiliations", [])
        survivor_names = {(name, source) for _pk, name, source in names_at[keep]}
        staying = []
        for row in sorted(names_at[gone]):
            if (row[1], row[2]) in survivor_names:
                staying.append(row)  # the survivor already shows this name from this source
                continue
            moved["names"].append(row[0])
            names_at[keep].append(row)
        names_at[gone] = staying
        names_at[keep].sort()
        for pk in sorted(affiliations_at.pop(gone, [])):
            moved["affiliations"].append(pk)
            affiliations_at[keep].append(pk)
        best = best_spelling(
            shown[keep]["display_name"],
            [(name, source) for _pk, name, source in names_at[keep]],
            rank,
        )
        if best is not None:
            moved["survivor_before"] = dict(shown[keep])
            shown[keep] = person_name_fields(best)
            reshown.add(keep)

    update_rows(
        PersonName,
        ["person_id"],
        [
            (row[0], person)
            for person, rows in names_at.items()
            for row in rows
            if held_by["name", row[0]] != person
        ],
    )
    update_rows(
        Affiliation,
        ["person_id"],
        [
            (pk, person)
            for person, pks in affiliations_at.items()
            for pk in pks
            if held_by["affiliation", pk] != person
        ],
    )
    update_rows(
        Person,
        [*PERSON_NAME_FIELDS, "updated_at"],
        [(pk, *(shown[pk][f] for f in PERSON_NAME_FIELDS), at) for pk in sorted(reshown)],
    )
    person_renames_record(
        [
            (pk, locked[pk].display_name, shown[pk]["display_name"])
            for pk in sorted(reshown - {join.merged for join in joins})
        ],
        cause=PersonRename.Cause.MERGE,
        by=by,
        at=at,
    )
    update_rows(
        Person,
        ["merged_into_id", "merged_at", "updated_at"],
        [(join.merged, join.survivor, at, at) for join in joins],
    )
    people_refresh_search_texts(display_of={pk: shown[pk]["display_name"] for pk in involved})
    return moves
