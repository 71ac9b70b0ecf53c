"""The change feed: one event per real change, oldest first, read from the
history the services already keep (status changes, what happened to each entry
of a source, merges and splits), never from "last seen" times.

Each kind of history is read by its own query, filtered from the cursor and cut
at the page size; the page is the first rows of their merge by (time, kind of
history, id), so a page costs one query per kind of history whatever its size.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from heapq import merge
from itertools import islice
from typing import Any

from django.db.models import Q, QuerySet

from letters.models import Letter, SightingEvent, SignatureStatusChange
from people.models import Merge, PersonRename, Split
from tracker.fields import iso_datetime
from tracker.links import detail_path

KINDS = [
    "signature_added",
    "status_changed",
    "respelled",
    "gone",
    "back",
    "merged",
    "unmerged",
    "split",
    "person_renamed",
]


@dataclass(frozen=True)
class Cursor:
    at: datetime
    rank: int
    id: int


@dataclass
class Event:
    at: datetime
    rank: int
    row_id: int
    kind: str
    letter: str | None = None
    signature: int | None = None
    person: tuple[int, str] | None = None
    survivor: tuple[int, str] | None = None
    source: str | None = None
    reason: str = ""
    before: dict | None = None
    after: dict | None = None

    @property
    def position(self) -> Cursor:
        return Cursor(self.at, self.rank, self.row_id)

    @property
    def id(self) -> str:
        return f"{'csmupr'[self.rank]}{self.row_id}"


def _after(cursor: Cursor | None, rank: int, at: str, pk: str = "pk") -> Q:
    if cursor is None:
        return Q()
    if rank > cursor.rank:
        return Q(**{f"{at}__gte": cursor.at})
    if rank < cursor.rank:
        return Q(**{f"{at}__gt": cursor.at})
    return Q(**{f"{at}__gt": cursor.at}) | Q(**{at: cursor.at, f"{pk}__gt": cursor.id})


def _narrowed(
    rows: QuerySet, filters: Filters, *, at: str, people: tuple[str, ...], letter: str = ""
) -> QuerySet:
    """The rows of one kind of event that the filters keep: at ``since`` or later,
    of the letter (through ``letter``), about the person (through any of ``people``)."""
    if filters.since:
        rows = rows.filter(**{f"{at}__gte": filters.since})
    if filters.letter and letter:
        rows = rows.filter(**{letter: filters.letter.pk})
    if filters.letter_ids and letter:
        rows = rows.filter(**{f"{letter}__in": sorted(filters.letter_ids)})
    if filters.person_id:
        about = Q()
        for field in people:
            about |= Q(**{field: filters.person_id})
        rows = rows.filter(about)
    return rows


@dataclass
class Filters:
    since: datetime | None = None
    letter: Letter | None = None
    person_id: int | None = None
    kinds: frozenset[str] = frozenset(KINDS)
    # Any of these letters (a webhook subscription's), beside or instead of ``letter``.
    letter_ids: frozenset[int] = frozenset()

    @property
    def by_letter(self) -> bool:
        """Whether only changes to letters' lists are kept (no merges or splits)."""
        return self.letter is not None or bool(self.letter_ids)


def _status_changes(filters: Filters, cursor: Cursor | None, limit: int | None) -> Any:
    wanted = {"signature_added", "status_changed"} & filters.kinds
    if not wanted:
        return [] if limit is not None else 0
    changes: QuerySet = SignatureStatusChange.objects.filter(_after(cursor, 0, "changed_at"))
    if wanted == {"signature_added"}:
        changes = changes.filter(from_status="")
    elif wanted == {"status_changed"}:
        changes = changes.exclude(from_status="")
    changes = _narrowed(
        changes,
        filters,
        at="changed_at",
        letter="signature__letter_id",
        people=("signature__person_id",),
    )
    if limit is None:
        return changes.count()
    rows = changes.order_by("changed_at", "pk").values_list(
        "pk",
        "changed_at",
        "from_status",
        "to_status",
        "reason",
        "signature_id",
        "signature__letter__slug",
        "signature__person_id",
        "signature__person__display_name",
    )[:limit]
    return [
        Event(
            at,
            0,
            pk,
            "signature_added" if not before else "status_changed",
            letter=slug,
            signature=signature,
            person=(person, name),
            reason=reason,
            before={"status": before} if before else {},
            after={"status": after},
        )
        for pk, at, before, after, reason, signature, slug, person, name in rows
    ]


_SIGHTING_KINDS = {
    SightingEvent.Kind.CHANGED: "respelled",
    SightingEvent.Kind.GONE: "gone",
    SightingEvent.Kind.BACK: "back",
}


def _sighting_events(filters: Filters, cursor: Cursor | None, limit: int | None) -> Any:
    kinds = [stored for stored, shown in _SIGHTING_KINDS.items() if shown in filters.kinds]
    if not kinds:
        return [] if limit is not None else 0
    events = SightingEvent.objects.filter(_after(cursor, 1, "at"), kind__in=kinds)
    events = _narrowed(
        events,
        filters,
        at="at",
        letter="sighting__source__letter_id",
        people=("sighting__signature__person_id",),
    )
    if limit is None:
        return events.count()
    rows = events.order_by("at", "pk").values_list(
        "pk",
        "at",
        "kind",
        "before",
        "after",
        "sighting__source__name",
        "sighting__source__letter__slug",
        "sighting__signature_id",
        "sighting__signature__person_id",
        "sighting__signature__person__display_name",
    )[:limit]
    return [
        Event(
            at,
            1,
            pk,
            _SIGHTING_KINDS[kind],
            letter=slug,
            signature=signature,
            person=(person, name),
            source=source,
            before=before or {},
            after=after or {},
        )
        for pk, at, kind, before, after, source, slug, signature, person, name in rows
    ]


def _merges(filters: Filters, cursor: Cursor | None, limit: int | None, *, undone: bool) -> Any:
    kind, rank, at = ("unmerged", 3, "undone_at") if undone else ("merged", 2, "created_at")
    if kind not in filters.kinds or filters.by_letter:
        return [] if limit is not None else 0
    merges = Merge.objects.filter(_after(cursor, rank, at)).defer("moved")
    if undone:
        merges = merges.filter(undone_at__isnull=False)
    merges = _narrowed(merges, filters, at=at, people=("survivor_id", "merged_id"))
    if limit is None:
        return merges.count()
    return [
        Event(
            getattr(merge, at),
            rank,
            merge.pk,
            kind,
            person=(merge.merged_id, merge.merged_name),
            survivor=(merge.survivor_id, merge.survivor_name),
            reason=merge.undo_reason if undone else merge.reason,
        )
        for merge in merges.order_by(at, "pk")[:limit]
    ]


def _splits(filters: Filters, cursor: Cursor | None, limit: int | None) -> Any:
    if "split" not in filters.kinds or filters.by_letter:
        return [] if limit is not None else 0
    splits = Split.objects.filter(_after(cursor, 4, "created_at")).defer("moved")
    splits = _narrowed(splits, filters, at="created_at", people=("person_id", "new_person_id"))
    if limit is None:
        return splits.count()
    return [
        Event(
            split.created_at,
            4,
            split.pk,
            "split",
            person=(split.person_id, split.person_name),
            survivor=(split.new_person_id, split.new_person_name),
            reason=split.reason,
        )
        for split in splits.order_by("created_at", "pk")[:limit]
    ]


def _renames(filters: Filters, cursor: Cursor | None, limit: int | None) -> Any:
    if "person_renamed" not in filters.kinds or filters.by_letter:
        return [] if limit is not None else 0
    renames = PersonRename.objects.filter(_after(cursor, 5, "created_at"))
    renames = _narrowed(renames, filters, at="created_at", people=("person_id",))
    if limit is None:
        return renames.count()
    return [
        Event(
            rename.created_at,
            5,
            rename.pk,
            "person_renamed",
            person=(rename.person_id, rename.after),
            reason=rename.get_cause_display(),
            before={"name": rename.before},
            after={"name": rename.after},
        )
        for rename in renames.order_by("created_at", "pk")[:limit]
    ]


READERS: list[Callable[..., Any]] = [
    _status_changes,
    _sighting_events,
    lambda filters, cursor, limit: _merges(filters, cursor, limit, undone=False),
    lambda filters, cursor, limit: _merges(filters, cursor, limit, undone=True),
    _splits,
    _renames,
]


def change_count(*, filters: Filters) -> int:
    """How many events the filters select, on every page: one count per kind of history."""
    return sum(reader(filters, None, None) for reader in READERS)


def change_page(*, filters: Filters, cursor: Cursor | None, size: int) -> tuple[list[Event], bool]:
    """The ``size`` events after ``cursor``, oldest first, and whether more follow."""
    parts = [reader(filters, cursor, size + 1) for reader in READERS]
    ordered = merge(*parts, key=lambda event: (event.at, event.rank, event.row_id))
    page = list(islice(ordered, size + 1))
    return page[:size], len(page) > size


def event_json(event: Event, *, absolute: Callable[[str], str]) -> dict:
    """An event as the API and webhooks show it; ``absolute`` makes a path a full URL."""

    def link(name: str, value: object) -> str:
        return absolute(detail_path(name, value))

    def person(pair):
        if pair is None:
            return None
        return {"id": pair[0], "name": pair[1], "api_url": link("person-detail", pair[0])}

    return {
        "id": event.id,
        "at": iso_datetime(event.at),
        "kind": event.kind,
        "letter": None
        if event.letter is None
        else {"slug": event.letter, "api_url": link("letter-detail", event.letter)},
        "signature": None
        if event.signature is None
        else {"id": event.signature, "api_url": link("signature-detail", event.signature)},
        "person": person(event.person),
        "survivor": person(event.survivor),
        "source": event.source,
        "reason": event.reason,
        "before": event.before or {},
        "after": event.after or {},
    }
