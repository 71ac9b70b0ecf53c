"""How a letter's signatures and sightings follow what happens to people.

When people are merged, the merged person's signatures move to the survivor,
two signatures of one letter become one (the merged one stays as history) and
the sightings of a folded signature move with it; an undo puts all of it back.
When a person is split, the chosen sightings move to the new person, each with
its signature, or with a new signature when only some of a signature's
sightings move. ``SignatureFollower`` does this for ``people.merging``, which
calls it through the registry set up in ``letters.apps``.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from django.db.models import Q

from letters.models import Sighting, SightingEvent, Signature, SignatureStatusChange, Source
from letters.versions import record_versions_later
from people.matching.identifiers import identifier_key, written_keys
from people.merging.followers import Context, Entry, Join, SplitMove
from tracker.bulk import (
    among,
    array_of,
    chunked,
    insert_objects,
    insert_rows,
    is_postgres,
    update_rows,
)
from tracker.errors import DomainError
from tracker.locks import letter_locks_from

# When two signatures of one letter become one, the status that says more wins:
# a retraction or a removal must never be lost in a merge.
STATUS_WEIGHT = {"listed": 0, "verified": 1, "disputed": 2, "retracted": 3, "removed": 4}
# Which sources' spellings of a name to trust most: a letter's own list over the
# press, the press over API clients and scraped feeds, any of them over an editor.
SPELLING_AUTHORITY = {
    Source.Kind.LETTER_SITE: 4,
    Source.Kind.PRESS: 3,
    Source.Kind.API: 2,
    Source.Kind.FEED: 1,
    Source.Kind.MANUAL: 0,
}
# What a folded signature gives the one kept, and what undo puts back.
KEPT_FIELDS = (
    "status",
    "first_seen_at",
    "last_seen_at",
    "needs_review",
    "review_reason",
    "review_cause",
    "title",
    "affiliation",
    "organization_id",
    "organization_source_id",
    "organization_by_hand",
)
_SIGNATURE_FIELDS = ("pk", "letter_id", "person_id", *KEPT_FIELDS)


class SignatureFollower:
    """Signatures and sightings, following people's merges, undos and splits."""

    def lock(self, person_ids: Iterable[int]) -> None:
        """The letters these people signed, as syncs and entries lock their letter:
        a merge then waits for them and they for it, so that neither writes from
        rows the other moved meanwhile."""
        letter_locks_from(
            "SELECT DISTINCT letter_id FROM letters_signature WHERE person_id = ANY(%s::bigint[])",
            [array_of(sorted(set(person_ids)))],
        )

    def fold(
        self, joins: Sequence[Join], *, at: datetime, by: Any, actor: str
    ) -> list[dict[str, Any]]:
        return fold_signatures(joins, at=at, by=by, actor=actor)

    def restore(
        self, moved: dict[str, Any], *, survivor: int, merged: int, at: datetime, by: Any,
        note: str,
    ) -> None:  # fmt: skip
        restore_signatures(moved, survivor=survivor, merged=merged, at=at, by=by, note=note)
        _versions_later({survivor, merged}, by=by, reason="Merge undone")

    def split(
        self, *, person: int, new_person: int, items: Sequence[int], at: datetime, by: Any
    ) -> SplitMove:
        move = split_signatures(person=person, new_person=new_person, sightings=items, at=at, by=by)
        _versions_later({person, new_person}, by=by, reason="Person split")
        return move

    def context(self, person_ids: Sequence[int]) -> dict[int, Context]:
        return signatures_context(person_ids)

    def entries(self, person_ids: Sequence[int]) -> dict[int, list[Entry]]:
        found: dict[int, list[Entry]] = defaultdict(list)
        for chunk in chunked(sorted(set(person_ids))):
            for pk, person, source, name, title, affiliation in (
                Sighting.objects.filter(
                    signature__person_id__in=chunk, signature__merged_into__isnull=True
                )
                .order_by("first_seen_at", "pk")
                .values_list(
                    "pk", "signature__person_id", "source_id", "name", "title", "affiliation"
                )
            ):
                found[person].append(Entry(pk, source, name, title, affiliation))
        return dict(found)

    def spelling_rank(self, source_ids: Iterable[int]) -> dict[int, tuple]:
        ids = sorted(set(source_ids))
        return {
            pk: (SPELLING_AUTHORITY.get(kind, 0), reliability)
            for chunk in chunked(ids)
            for pk, kind, reliability in Source.objects.filter(pk__in=chunk).values_list(
                "pk", "kind", "reliability"
            )
        }


def _versions_later(person_ids: set[int], *, by: Any, reason: str) -> None:
    """New versions, once committed, of the lists of the letters these people signed."""
    letter_ids = (
        Signature.objects.filter(person_id__in=sorted(person_ids))
        .order_by()
        .values_list("letter_id", flat=True)
        .distinct()
    )
    record_versions_later(list(letter_ids), by=by, reason=reason)


def person_renamed(person_id: int) -> None:
    """A person's display name changed: the lists they are on change with it."""
    _versions_later({person_id}, by=None, reason="Signatory's display name changed")


# --- Merge -----------------------------------------------------------------------------


def fold_signatures(
    joins: Sequence[Join], *, at: datetime, by: Any, actor: str
) -> list[dict[str, Any]]:
    """Move each merged person's signatures to its survivor, join after join,
    folding two signatures of one letter into one; return for each join the
    ids of what moved and the kept signatures' values before, for undo."""
    involved = sorted({pk for join in joins for pk in (join.survivor, join.merged)})
    signatures_at: dict[int, dict[int, dict]] = defaultdict(dict)  # person -> letter -> row
    held_by: dict[int, int] = {}
    for chunk in chunked(involved):
        for row in (
            Signature.objects.select_for_update()
            .filter(among(Signature, "person", chunk), merged_into__isnull=True)
            .order_by("pk")
            .values(*_SIGNATURE_FIELDS)
        ):
            signatures_at[row["person_id"]][row["letter_id"]] = row
            held_by[row["pk"]] = row["person_id"]
    # The lists of every letter these people signed change (a survivor's display
    # name may change too), once the merge is committed.
    record_versions_later(
        {row["letter_id"] for rows in signatures_at.values() for row in rows.values()},
        by=by,
        reason="People merged",
    )

    changed_kept: dict[int, dict] = {}
    folds: list[tuple[int, int, dict]] = []  # (signature, into, the join's record)
    status_changes: list[SignatureStatusChange] = []
    moves: list[dict[str, Any]] = []
    for join in joins:
        moved: dict[str, Any] = {"signatures": [], "folded_signatures": [], "sightings": []}
        moves.append(moved)
        kept_by_letter = signatures_at[join.survivor]
        for signature in sorted(signatures_at.pop(join.merged, {}).values(), key=lambda s: s["pk"]):
            kept = kept_by_letter.get(signature["letter_id"])
            if kept is None:
                moved["signatures"].append(signature["pk"])
                kept_by_letter[signature["letter_id"]] = signature
                continue
            # Two signatures of one letter become one; the merged one stays as history.
            moved["folded_signatures"].append(
                {
                    "signature": signature["pk"],
                    "into": kept["pk"],
                    "kept_before": _kept_before(kept),
                }
            )
            folds.append((signature["pk"], kept["pk"], moved))
            if STATUS_WEIGHT[signature["status"]] > STATUS_WEIGHT[kept["status"]]:
                status_changes.append(
                    SignatureStatusChange(
                        signature_id=kept["pk"],
                        from_status=kept["status"],
                        to_status=signature["status"],
                        changed_at=at,
                        changed_by=by,
                        actor=actor,
                        reason=f"Merged with signature #{signature['pk']}, which was "
                        f"{signature['status']}.",
                    )
                )
                kept["status"] = signature["status"]
            _absorb(kept, signature)
            changed_kept[kept["pk"]] = kept

    # Sightings of a folded signature move to the one kept, with their history
    # (a sighting may move twice when a cluster is absorbed in turn).
    sightings_on: dict[int, list[int]] = defaultdict(list)
    for chunk in chunked(sorted({signature for signature, _into, _moved in folds})):
        for pk, signature in (
            Sighting.objects.select_for_update()
            .filter(among(Sighting, "signature", chunk))
            .order_by("pk")
            .values_list("pk", "signature_id")
        ):
            sightings_on[signature].append(pk)
    sighting_at: dict[int, int] = {}
    events: list[tuple] = []  # rows of _MOVED_FIELDS
    for signature, into, moved in folds:
        for pk in sorted(sightings_on.pop(signature, [])):
            moved["sightings"].append({"id": pk, "from": signature, "to": into})
            sightings_on[into].append(pk)
            sighting_at[pk] = into
            events.append(
                (pk, SightingEvent.Kind.MOVED, at, {"signature": signature}, {"signature": into})
            )

    update_rows(
        Signature,
        ["person_id", "updated_at"],
        [
            (row["pk"], person, at)
            for person, rows in signatures_at.items()
            for row in rows.values()
            if held_by[row["pk"]] != person
        ],
    )
    update_rows(
        Signature,
        ["merged_into_id", "updated_at"],
        [(signature, into, at) for signature, into, _moved in folds],
    )
    update_rows(
        Signature,
        [*KEPT_FIELDS, "updated_at"],
        [(pk, *(kept[f] for f in KEPT_FIELDS), at) for pk, kept in changed_kept.items()],
    )
    update_rows(Sighting, ["signature_id"], list(sighting_at.items()))
    # The moves' history by COPY: nothing points at these rows.
    insert_rows(SightingEvent, _MOVED_FIELDS, events, ids=False)
    insert_objects(status_changes, ids=False)
    return moves


def _kept_before(kept: dict) -> dict[str, Any]:
    return {
        name: value.isoformat() if isinstance(value, datetime) else value
        for name, value in ((name, kept[name]) for name in KEPT_FIELDS)
    }


def _absorb(kept: dict, other: dict) -> None:
    """What the kept signature takes from the one folded into it (the status apart)."""
    kept["first_seen_at"] = min(kept["first_seen_at"], other["first_seen_at"])
    kept["last_seen_at"] = max(kept["last_seen_at"], other["last_seen_at"])
    if not kept["needs_review"] and other["needs_review"]:
        kept["needs_review"] = True
        kept["review_reason"] = other["review_reason"]
        kept["review_cause"] = other["review_cause"]
    kept["title"] = kept["title"] or other["title"]
    kept["affiliation"] = kept["affiliation"] or other["affiliation"]
    if kept["organization_id"] is None and not kept["organization_by_hand"]:
        kept["organization_id"] = other["organization_id"]
        kept["organization_source_id"] = other["organization_source_id"]
        kept["organization_by_hand"] = other["organization_by_hand"]


def _review_cause_of(before: dict[str, Any]) -> str:
    """The review cause of a signature recorded before causes were kept."""
    if not before["needs_review"]:
        return Signature.ReviewCause.NONE
    if before["review_reason"].startswith("No source lists it any more"):
        return Signature.ReviewCause.GONE
    return Signature.ReviewCause.EDITOR


# A move's history as rows (``_moved_event`` as values), for a run's thousands.
_MOVED_FIELDS = ("sighting_id", "kind", "at", "before", "after")


def _moved_event(sighting: int, source: int, target: int, at: datetime) -> SightingEvent:
    return SightingEvent(
        sighting_id=sighting,
        kind=SightingEvent.Kind.MOVED,
        at=at,
        before={"signature": source},
        after={"signature": target},
    )


def restore_signatures(
    moved: dict[str, Any], *, survivor: int, merged: int, at: datetime, by: Any, note: str
) -> None:
    """Put back what ``fold_signatures`` recorded for one join: sightings to
    the signatures they came from, folded signatures and the kept ones' values
    as they were, moved signatures to the merged person. A row that moved on
    since (another merge, a later edit) stays where it now is."""
    records = list(reversed(moved.get("sightings", [])))
    at_now = dict(
        Sighting.objects.select_for_update()
        .filter(pk__in=[record["id"] for record in records])
        .values_list("pk", "signature_id")
    )
    back = [record for record in records if at_now.get(record["id"]) == record["to"]]
    update_rows(Sighting, ["signature_id"], [(record["id"], record["from"]) for record in back])
    SightingEvent.objects.bulk_create(
        [_moved_event(record["id"], record["to"], record["from"], at) for record in back]
    )
    folded = list(reversed(moved.get("folded_signatures", [])))
    kept_rows = {
        signature.pk: signature
        for signature in Signature.objects.select_for_update().filter(
            pk__in=[record["into"] for record in folded]
        )
    }
    changes = []
    for record in folded:
        kept = kept_rows[record["into"]]
        before = record["kept_before"]
        if kept.status != before["status"]:
            changes.append(
                SignatureStatusChange(
                    signature=kept,
                    from_status=kept.status,
                    to_status=before["status"],
                    changed_at=at,
                    changed_by=by,
                    actor="undo merge",
                    reason=note,
                )
            )
        for name in KEPT_FIELDS:
            if name not in before and name != "review_cause":
                continue  # recorded before the field was kept: left as it is
            value = before[name] if name in before else _review_cause_of(before)
            setattr(
                kept,
                name,
                datetime.fromisoformat(value) if name.endswith("_seen_at") else value,
            )
    Signature.objects.filter(pk__in=[record["signature"] for record in folded]).update(
        merged_into=None, updated_at=at
    )
    for kept in kept_rows.values():
        kept.save()
    SignatureStatusChange.objects.bulk_create(changes)
    Signature.objects.filter(pk__in=moved.get("signatures", []), person_id=survivor).update(
        person_id=merged, updated_at=at
    )


# --- Split ----------------------------------------------------------------------------------


def split_signatures(
    *, person: int, new_person: int, sightings: Sequence[int], at: datetime, by: Any
) -> SplitMove:
    """Move these sightings of ``person`` to ``new_person``: a signature all of
    whose sightings move goes with them; otherwise the moved ones get a new
    signature of the same letter, and both signatures' first and last seen
    follow their sightings."""
    wanted = sorted({int(pk) for pk in sightings})
    if not wanted:
        raise DomainError("Choose the entries that belong to the other person.", field="sightings")
    signatures = {
        signature.pk: signature
        for signature in Signature.objects.select_for_update().filter(
            person_id=person, merged_into__isnull=True
        )
    }
    rows = list(
        Sighting.objects.select_for_update()
        .filter(signature_id__in=list(signatures))
        .order_by("pk")
        .values("pk", "signature_id", "name", "source_id", "title", "affiliation",
                "first_seen_at", "last_seen_at")
    )  # fmt: skip
    by_id = {row["pk"]: row for row in rows}
    foreign = [pk for pk in wanted if pk not in by_id]
    if foreign:
        raise DomainError(
            f"Entry #{foreign[0]} is not one of this person's; choose among theirs.",
            field="sightings",
        )
    chosen = set(wanted)
    if chosen == set(by_id):
        raise DomainError(
            "Every entry of this person would move; leave at least one with them.",
            field="sightings",
        )
    on_signature: dict[int, list[dict]] = defaultdict(list)
    for row in rows:
        on_signature[row["signature_id"]].append(row)
    moved: dict[str, Any] = {"signatures": [], "new_signatures": [], "sightings": []}
    partial = []
    for signature_id, its in sorted(on_signature.items()):
        moving = [row for row in its if row["pk"] in chosen]
        if not moving:
            continue
        if len(moving) == len(its):
            moved["signatures"].append(signature_id)
        else:
            partial.append((signatures[signature_id], moving, [r for r in its if r not in moving]))
    Signature.objects.filter(pk__in=moved["signatures"]).update(person_id=new_person, updated_at=at)

    new_ids = insert_rows(
        Signature,
        ["letter_id", "person_id", "status", "title", "affiliation", "signed_on",
         "first_seen_at", "last_seen_at", "needs_review", "review_reason", "review_cause",
         "created_at", "updated_at"],
        [
            (
                signature.letter_id, new_person, signature.status,
                next((r["title"] for r in moving if r["title"]), ""),
                next((r["affiliation"] for r in moving if r["affiliation"]), ""),
                signature.signed_on,
                min(r["first_seen_at"] for r in moving), max(r["last_seen_at"] for r in moving),
                signature.needs_review, signature.review_reason, signature.review_cause, at, at,
            )
            for signature, moving, _staying in partial
        ],
    )  # fmt: skip
    SignatureStatusChange.objects.bulk_create(
        [
            SignatureStatusChange(
                signature_id=new_id,
                from_status="",
                to_status=signature.status,
                changed_at=at,
                changed_by=by,
                actor="split",
                reason=f"Split from signature #{signature.pk}, which was {signature.status}.",
            )
            for new_id, (signature, _moving, _staying) in zip(new_ids, partial, strict=True)
        ]
    )
    sighting_moves = []
    for new_id, (signature, moving, staying) in zip(new_ids, partial, strict=True):
        moved["new_signatures"].append({"signature": new_id, "from": signature.pk})
        for row in moving:
            moved["sightings"].append({"id": row["pk"], "from": signature.pk, "to": new_id})
            sighting_moves.append((row["pk"], new_id))
        signature.first_seen_at = min(r["first_seen_at"] for r in staying)
        signature.last_seen_at = max(r["last_seen_at"] for r in staying)
        signature.save(update_fields=["first_seen_at", "last_seen_at", "updated_at"])
    update_rows(Sighting, ["signature_id"], sighting_moves)
    SightingEvent.objects.bulk_create(
        [_moved_event(pk, source, target, at) for pk, target in sighting_moves
         for source in [by_id[pk]["signature_id"]]]
    )  # fmt: skip
    return SplitMove(
        moved=moved,
        spellings=[(by_id[pk]["name"], by_id[pk]["source_id"]) for pk in wanted],
        remaining={(row["name"], row["source_id"]) for row in rows if row["pk"] not in chosen},
    )


# --- Context for the matcher -------------------------------------------------------------


_IDENTIFIER_HEADINGS = written_keys()


def signatures_context(person_ids: Sequence[int]) -> dict[int, Context]:
    """The letters each person signed, the titles and affiliations stated, the
    sources listing them, and the strong identifiers their entries state in
    other columns (a date of birth, an ORCID, an e-mail)."""
    found: dict[int, Context] = defaultdict(Context)
    # No ordering: the models' default ones join letters and sources only to sort.
    for chunk in chunked(sorted(set(person_ids))):
        for pk, letter, title, affiliation, org in (
            Signature.objects.filter(among(Signature, "person", chunk), merged_into__isnull=True)
            .order_by()
            .values_list("person_id", "letter_id", "title", "affiliation", "organization__name")
        ):
            context = found[pk]
            context.letters.add(letter)
            if title:
                context.titles.add(title)
            if org or affiliation:
                context.orgs.add(org or affiliation)
        for pk, source in (
            Sighting.objects.filter(_signed_by(chunk))
            .order_by()
            .values_list("signature__person_id", "source_id")
            .distinct()
        ):
            found[pk].listings.add(source)
        for pk, extra in (
            Sighting.objects.filter(_signed_by(chunk), extra__has_any_keys=_IDENTIFIER_HEADINGS)
            .order_by()
            .values_list("signature__person_id", "extra")
        ):
            found[pk].identifiers.update(
                (key, str(value))
                for key, value in extra.items()
                if isinstance(value, str | int) and identifier_key(key, any_key=False)
            )
    return dict(found)


def _signed_by(person_ids: Sequence[int]) -> Any:
    """Sightings of these people's signatures: on PostgreSQL one array parameter
    (``among``) on the joined signature, rather than a placeholder per id."""
    if not is_postgres():
        return Q(signature__person_id__in=list(person_ids))
    return among(Signature, "person", person_ids)
