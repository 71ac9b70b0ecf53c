"""What other apps do when people are merged, split or put back apart.

People own who is who; the rows of other apps that point at people (a
letter's signatures and sightings) follow a merge, an undo and a split. Those
apps register a ``Follower`` in their ``AppConfig.ready()``; the merging code
calls every registered follower and never imports the apps themselves.

Each follower's record of what it moved is stored in the merge's (or split's)
``moved`` JSON, beside the people's own, and handed back to it on undo.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol


@dataclass(frozen=True)
class Join:
    """One person absorbed by another, in the order a merge applies them."""

    survivor: int
    merged: int


@dataclass
class Context:
    """What a person is known by besides their names: the evidence the matcher weighs."""

    orgs: set[str] = field(default_factory=set)
    titles: set[str] = field(default_factory=set)
    letters: set[int] = field(default_factory=set)
    listings: set[int] = field(default_factory=set)
    # Strong identifiers the person's entries state, as (key, value) as written.
    identifiers: set[tuple[str, str]] = field(default_factory=set)


@dataclass
class SplitMove:
    """What a follower moved to the new person of a split, and the spellings
    (name as written, source id) the moved and the remaining entries use."""

    moved: dict[str, Any]
    spellings: list[tuple[str, int | None]]
    remaining: set[tuple[str, int | None]]


@dataclass(frozen=True)
class Entry:
    """One item a follower holds for a person (a sighting), as the source wrote it."""

    id: int
    source: int
    name: str
    title: str
    affiliation: str


class Follower(Protocol):
    def lock(self, person_ids: Iterable[int]) -> None:
        """Take the locks this app's writers take, before any row is read."""

    def fold(
        self, joins: Sequence[Join], *, at: datetime, by: Any, actor: str
    ) -> list[dict[str, Any]]:
        """Move what each merged person holds to its survivor, join after join;
        return, for each join, the record of what moved."""

    def restore(
        self, moved: dict[str, Any], *, survivor: int, merged: int, at: datetime, by: Any,
        note: str,
    ) -> None:  # fmt: skip
        """Put back what ``fold`` recorded in ``moved``."""

    def split(
        self, *, person: int, new_person: int, items: Sequence[int], at: datetime, by: Any
    ) -> SplitMove:
        """Move the given items (sighting ids) of ``person`` to ``new_person``."""

    def context(self, person_ids: Sequence[int]) -> dict[int, Context]:
        """Each person's context, for the matcher."""

    def entries(self, person_ids: Sequence[int]) -> dict[int, list[Entry]]:
        """Each person's entries (the items ``split`` moves), oldest first."""

    def spelling_rank(self, source_ids: Iterable[int]) -> dict[int, tuple]:
        """How much each source's spelling of a name is to be trusted, as a sort key."""


_FOLLOWERS: list[Follower] = []


def register(follower: Follower) -> None:
    if not any(type(known) is type(follower) for known in _FOLLOWERS):
        _FOLLOWERS.append(follower)


def followers() -> list[Follower]:
    return list(_FOLLOWERS)


def lock(person_ids: Iterable[int]) -> None:
    ids = sorted(set(person_ids))
    for follower in _FOLLOWERS:
        follower.lock(ids)


def context(person_ids: Sequence[int]) -> dict[int, Context]:
    found: dict[int, Context] = {}
    for follower in _FOLLOWERS:
        for pk, part in follower.context(person_ids).items():
            mine = found.setdefault(pk, Context())
            mine.orgs |= part.orgs
            mine.titles |= part.titles
            mine.letters |= part.letters
            mine.listings |= part.listings
            mine.identifiers |= part.identifiers
    return found


def spelling_rank(source_ids: Iterable[int]) -> dict[int, tuple]:
    ids = sorted({pk for pk in source_ids if pk is not None})
    ranks: dict[int, tuple] = {}
    for follower in _FOLLOWERS:
        ranks.update(follower.spelling_rank(ids))
    return ranks


def entries(person_ids: Sequence[int]) -> dict[int, list[Entry]]:
    found: dict[int, list[Entry]] = {}
    for follower in _FOLLOWERS:
        for pk, items in follower.entries(person_ids).items():
            found.setdefault(pk, []).extend(items)
    return found
