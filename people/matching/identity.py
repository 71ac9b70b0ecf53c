"""Who is who: the rules every path follows to decide whether an entry is a
person already known, written once for all of them (a sync, an import, an
editor's entry, an API write; the match runs apply the same context rule
pair by pair in ``scoring.context_conflict``).

- A new entry joins an existing person at once only when that is certain:
  exactly one active person carries its name, nothing the entry states (the
  field of its title, its affiliation) disagrees with what that person is
  known by, and that person is not already on the same source's list as
  another entry. Otherwise it gets a person of its own and the next match run
  decides (merge, or review).
- Two entries of one source's list are two people, unless they are the same
  entry written twice (same name, title and affiliation).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from people.matching.context import org_key, title_fields
from people.matching.normalize import fold, parse_name


@dataclass(frozen=True)
class Known:
    """What an entry states, or a person is known by, besides the name: the
    fields their titles name and the keys of their organisations."""

    fields: frozenset[str] = frozenset()
    orgs: frozenset[str] = frozenset()

    @classmethod
    def of(cls, *, titles: Iterable[str] = (), orgs: Iterable[str] = ()) -> Known:
        return cls(
            fields=frozenset(field for title in titles if title for field in title_fields(title)),
            orgs=frozenset(org_key(org) for org in orgs if org and org_key(org)),
        )

    def __or__(self, other: Known) -> Known:
        return Known(self.fields | other.fields, self.orgs | other.orgs)

    @property
    def states_nothing(self) -> bool:
        return not self.fields and not self.orgs


def contexts_conflict(one: Known, other: Known) -> bool:
    """Their contexts disagree: both name fields and share none; or both name
    organisations, share none, and share no field either (an actor at two
    studios still agrees on the field). The same rule as
    ``scoring.context_conflict`` applies to a scored pair."""
    shared_field = bool(one.fields & other.fields)
    if one.fields and other.fields and not shared_field:
        return True
    return bool(one.orgs and other.orgs and not one.orgs & other.orgs and not shared_field)


@dataclass(frozen=True)
class Candidate:
    """An active person carrying an entry's name."""

    person: int
    known: Known
    on_this_list: bool


def entry_joins(entry: Known, candidates: list[Candidate]) -> int | None:
    """The person a new entry joins at once, or None for a person of its own."""
    if len(candidates) != 1:
        return None
    candidate = candidates[0]
    if candidate.on_this_list or contexts_conflict(entry, candidate.known):
        return None
    return candidate.person


def same_entry(one: dict, other: dict) -> bool:
    """One entry written twice: the same name (as normalised), title and
    affiliation (as folded)."""
    return parse_name(one.get("name") or "").key == parse_name(other.get("name") or "").key and all(
        fold(one.get(name) or "") == fold(other.get(name) or "")
        for name in ("title", "affiliation")
    )


@dataclass(frozen=True)
class Listed:
    """One entry of one source's list, as stored: for regrouping what a person holds."""

    id: int
    source: int
    written: dict
    known: Known


def apart_groups(entries: list[Listed]) -> list[list[int]]:
    """The entries of one person grouped as the rules keep them: an entry goes
    with the first group it agrees with, never beside another entry of its own
    source's list (unless it is that entry written twice) nor beside context
    it conflicts with. An entry stating nothing stays in the first group it
    fits. The first group is the person's; each other one is someone else."""
    groups: list[list[Listed]] = []
    for entry in entries:
        for group in groups:
            if any(
                other.source == entry.source and not same_entry(other.written, entry.written)
                for other in group
            ):
                continue
            known = Known()
            for other in group:
                known = known | other.known
            if contexts_conflict(known, entry.known):
                continue
            group.append(entry)
            break
        else:
            groups.append([entry])
    return [[entry.id for entry in group] for group in groups]
