"""Recording what one fetch of a source listed, all rows at once.

The same outcome as calling ``letters.services.signature_record`` for each
entry in order, then marking the entries no longer listed as gone, but with a
handful of set-based statements instead of about ten queries per row. The
caller runs it in one transaction with the run's own record.

One difference, for speed: an entry listed exactly as before is not rewritten
(its position, last_seen_at and last_run stay those of the run that last wrote
it, and its signature's last_seen_at too); the source's last_synced_at says it
was seen since, and every reader of "last seen" takes it from there
(``letters.selectors.sighting_seen_at`` and ``signature_seen_at``). Rewriting
100,000 unchanged rows and their signatures cost seconds on every run.

Nor is such an entry built, loaded or compared: a row read exactly as before (its
row hash, see rows.py) stands for the values its sighting holds, so that what a
run reads and compares is proportional to what changed too, with the same
outcome as reading every row (``TRACKER_SYNC_SKIP_UNCHANGED=0`` reads them all).

Each phase has its module: rows.py keys the entries and loads the sightings,
names.py parses the names, compare.py sorts rows into added, changed, back and
gone, and write.py writes them.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.conf import settings

from letters.models import Source, SyncRun
from letters.services import Entry
from letters.sync import write
from letters.sync.compare import Comparison, before_after, compare
from letters.sync.names import Names
from letters.sync.parse import UnbuiltEntry
from letters.sync.rows import load_existing, load_values, rows_by_key
from people.selectors import organization_resolver
from tracker import locks
from tracker.progress import progress_report

DIFF_LIMIT = 1000


@dataclass
class IngestResult:
    seen: int = 0
    added: int = 0
    changed: int = 0
    gone: int = 0
    back: int = 0
    duplicates: int = 0
    diff: dict[str, Any] = field(default_factory=dict)
    # People whose entries were added or respelled: what the matcher looks at next.
    people: set[int] = field(default_factory=set)
    # Seconds spent in each step, for the log.
    timings: dict[str, float] = field(default_factory=dict)


class Phases:
    """Seconds spent in each step of a run, for the log; with ``run_id``, each
    step is also reported as the run's phase, for its admin page to show."""

    def __init__(self, timings: dict[str, float], run_id: int | None = None) -> None:
        self.timings = timings
        self.run_id = run_id

    def report(self, **values: Any) -> None:
        if self.run_id is not None and not progress_report("sync", self.run_id, **values):
            self.run_id = None  # the cache is out of reach: go on without reporting

    @contextmanager
    def __call__(self, name: str) -> Iterator[None]:
        self.report(phase=name)
        started = time.perf_counter()
        try:
            yield
        finally:
            self.timings[name] = round(time.perf_counter() - started, 3)


def ingest(
    *, source: Source, run: SyncRun, entries: list[Entry | UnbuiltEntry], at: datetime
) -> IngestResult:
    """Upsert the sightings of ``entries``, resolve new ones to people and
    signatures, mark the missing ones gone; return counts and the diff.

    ``entries`` is emptied once read, to free its memory early.
    """
    locks.people_lock(exclusive=False)
    # Two sources of one letter may add the same person at once.
    locks.letter_locks([source.letter_id])
    timings: dict[str, float] = {}
    phase = Phases(timings, run_id=run.pk)
    names = Names()
    skip_unchanged = settings.TRACKER_SYNC_SKIP_UNCHANGED
    with phase("load"):
        existing = load_existing(source, values=not skip_unchanged)
    with phase("key"):
        rows, duplicates = rows_by_key(entries, existing, names)
        # The rows hold all that is needed from here; a 100,000-entry list is big.
        entries.clear()
    with phase("compare"):
        if skip_unchanged:
            load_values(rows, existing)
        found = compare(rows, existing)

    names_to_add: list[tuple[int, str]] = []  # (signature id, name as written)
    # Organizations' names and aliases, read once for the run's affiliations.
    resolve = organization_resolver()
    with phase("add"):
        people = write.add(source, run, found.added, at, names, names_to_add, resolve)
    with phase("change"):
        write.change(run, found.changed, at, names_to_add, resolve)
        write.back(run, found.back, at)
        write.gone(source, run, found.gone, at)
        write.row_hashes(found.rehashed)
    with phase("names"):
        people |= write.person_names(source, names_to_add, names, at)

    return IngestResult(
        seen=len(rows),
        added=len(found.added),
        changed=len(found.changed),
        gone=len(found.gone),
        back=len(found.back),
        duplicates=len(duplicates),
        diff=_diff(found, duplicates),
        people=people,
        timings=timings,
    )


def _diff(found: Comparison, duplicates: list[dict[str, Any]]) -> dict[str, Any]:
    """What the run changed, for people to read: at most DIFF_LIMIT of each."""

    def names_of(items: list[Any]) -> list[str]:
        return [item.values["name"] for item in items[:DIFF_LIMIT]]

    return {
        "added": names_of(found.added),
        "gone": names_of(found.gone),
        "back": names_of([row for row, _ in found.back]),
        "changed": [
            dict(zip(("before", "after"), before_after(row, sighting, differing), strict=True))
            | {"name": row.values["name"]}
            for row, sighting, differing in found.changed[:DIFF_LIMIT]
        ],
        "duplicates": duplicates[:DIFF_LIMIT],
        "truncated": max(
            len(found.added),
            len(found.gone),
            len(found.back),
            len(found.changed),
            len(duplicates),
        )
        > DIFF_LIMIT,
    }
