"""Applying the identity rules to what is stored: people whose entries the
rules keep apart (two entries of one source's list, or entries whose stated
fields or organisations conflict) are split, each split recorded and undoable.

A person made by an editor's decision (a merge that was not automatic, in the
person's own cluster) is left for an editor: the rules never overrule a person.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from people.matching.identity import Known, Listed, apart_groups
from people.merging import followers
from people.merging.merge import cluster_roots
from people.merging.split import person_split
from people.models import Merge, Person


@dataclass
class Regrouping:
    person: int
    name: str
    groups: list[list[int]]
    left_for_an_editor: bool = False
    splits: list[int] | None = None


def people_reresolve(*, by: Any = None, apply: bool = True, batch: int = 2000) -> list[Regrouping]:
    """Every active person whose entries the rules keep apart, with the groups
    they fall into; with ``apply``, each group after the first is split off to
    a person of its own."""
    found: list[Regrouping] = []
    ids = list(
        Person.objects.filter(merged_into__isnull=True).order_by("pk").values_list("pk", flat=True)
    )
    for start in range(0, len(ids), batch):
        chunk = ids[start : start + batch]
        entries = followers.entries(chunk)
        names = dict(Person.objects.filter(pk__in=chunk).values_list("pk", "display_name"))
        for pk in chunk:
            listed = [
                Listed(
                    id=entry.id,
                    source=entry.source,
                    written={"name": entry.name, "title": entry.title,
                             "affiliation": entry.affiliation},
                    known=Known.of(titles=[entry.title], orgs=[entry.affiliation]),
                )
                for entry in entries.get(pk, [])
            ]  # fmt: skip
            groups = apart_groups(listed)
            if len(groups) > 1:
                found.append(Regrouping(person=pk, name=names[pk], groups=groups))
    for regrouping in found:
        if _made_by_an_editor(regrouping.person):
            regrouping.left_for_an_editor = True
            continue
        if not apply:
            continue
        regrouping.splits = [
            person_split(
                person=Person.objects.get(pk=regrouping.person),
                sightings=group,
                reason="The identity rules keep these entries apart from the others "
                "(another entry of the same list, or another field or organisation).",
                by=by,
            ).pk
            for group in regrouping.groups[1:]
        ]
    return found


def _made_by_an_editor(person: int) -> bool:
    cluster = cluster_roots({person})
    return Merge.objects.filter(
        survivor_id__in=list(cluster), undone_at__isnull=True, automatic=False
    ).exists()
