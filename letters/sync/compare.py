"""What changed between the source's sightings and the entries of this run:
added, changed, back, gone, and every entry seen."""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from rapidfuzz import fuzz, process

from letters.sync.rows import VALUE_FIELDS, Existing, Row
from people.matching.normalize import fold

# Folded names at least this similar (0-100) count as one entry respelled.
RESPELLING_SIMILARITY = 90
MAX_RESPELLING_PAIRS = 10_000_000


@dataclass
class Comparison:
    # Entries no sighting has: new sightings, people and signatures.
    added: list[Row] = field(default_factory=list)
    # Entries whose sighting has other values, with the fields that differ.
    changed: list[tuple[Row, Existing, set[str]]] = field(default_factory=list)
    # Entries whose sighting was gone.
    back: list[tuple[Row, Existing]] = field(default_factory=list)
    # Sightings present before that no entry lists any more.
    gone: list[Existing] = field(default_factory=list)
    # Every entry that has a sighting: seen by this run.
    seen: list[tuple[Row, Existing]] = field(default_factory=list)
    # Entries read from other rows than their sightings were (another row hash)
    # into the same values: only the hash is written.
    rehashed: list[tuple[Row, Existing]] = field(default_factory=list)


def compare(rows: dict[str, Row], existing: dict[str, Existing]) -> Comparison:
    """Sort every row and sighting into what the run writes; a corrected
    spelling counts as a change of its sighting, not as one gone and one added."""
    result = Comparison()
    for key, row in rows.items():
        sighting = existing.get(key)
        if sighting is None:
            result.added.append(row)
            continue
        result.seen.append((row, sighting))
        if row.unchanged:  # read exactly as its sighting was written, and present
            continue
        differing = _differing(sighting, row)
        if differing:
            result.changed.append((row, sighting, differing))
        elif row.row_hash != sighting.row_hash:
            result.rehashed.append((row, sighting))
        if not sighting.present:
            result.back.append((row, sighting))
    result.gone = [s for key, s in existing.items() if s.present and key not in rows]
    respelled = pair_respellings(result.added, result.gone)
    if respelled:
        paired_rows = {id(row) for row, _ in respelled}
        paired_sightings = {sighting.id for _, sighting in respelled}
        result.added = [row for row in result.added if id(row) not in paired_rows]
        result.gone = [s for s in result.gone if s.id not in paired_sightings]
    for row, sighting in respelled:
        differing = _differing(sighting, row)
        result.changed.append((row, sighting, differing | {"key"}))
        result.seen.append((row, sighting))
    return result


def before_after(
    row: Row, sighting: Existing, differing: set[str]
) -> tuple[dict[str, Any], dict[str, Any]]:
    """The differing values as the sighting had them and as the entry has them."""
    before = {**sighting.values, "key": sighting.key}
    after = {**row.values, "key": row.key}
    return (
        jsonable({name: before[name] for name in sorted(differing)}),
        jsonable({name: after[name] for name in sorted(differing)}),
    )


def jsonable(values: dict[str, Any]) -> dict[str, Any]:
    return {
        name: value.isoformat() if isinstance(value, date | datetime) else value
        for name, value in values.items()
    }


def jsonb_text(value: Any) -> str:
    """JSON as PostgreSQL writes out a jsonb value: keys by length, then bytes."""
    if isinstance(value, dict):
        items = sorted(value.items(), key=lambda item: (len(item[0].encode()), item[0].encode()))
        return "{" + ", ".join(f"{jsonb_text(k)}: {jsonb_text(v)}" for k, v in items) + "}"
    if isinstance(value, list):
        return "[" + ", ".join(jsonb_text(v) for v in value) + "]"
    return json.dumps(value, ensure_ascii=False)


def _differing(sighting: Existing, row: Row) -> set[str]:
    """The value fields in which an entry differs from its sighting. The
    sighting's extra fields may still be the database's JSON text: decoded (in
    C, faster than writing the new ones out to compare texts), and when equal
    the entry's own are kept, so that one copy stays in memory."""
    old = sighting.values
    if isinstance(old["extra"], str):
        extra = json.loads(old["extra"])
        old["extra"] = row.values["extra"] if extra == row.values["extra"] else extra
    return {f for f in VALUE_FIELDS if old[f] != row.values[f]}


def pair_respellings(added: list[Row], gone: list[Existing]) -> list[tuple[Row, Existing]]:
    """Entries keyed by name whose spelling was corrected ("Maggie Gylenhall" ->
    "Maggie Gyllenhaal") come as one name gone and one added. Pair them back
    when the two names are close, their affiliations agree, and neither has
    another equally close partner, so the sighting is updated, not replaced."""
    candidates = [row for row in added if row.key.startswith("name:")]
    olds = [sighting for sighting in gone if sighting.key.startswith("name:")]
    if not candidates or not olds or len(candidates) * len(olds) > MAX_RESPELLING_PAIRS:
        return []
    old_names = [fold(sighting.values["name"]) for sighting in olds]
    best_for_old: dict[int, list[tuple[float, int]]] = defaultdict(list)
    for index, row in enumerate(candidates):
        matches = process.extract(
            fold(row.values["name"]),
            old_names,
            scorer=fuzz.ratio,
            score_cutoff=RESPELLING_SIMILARITY,
            limit=2,
        )
        if not matches or (len(matches) == 2 and matches[1][1] == matches[0][1]):
            continue
        _, score, old_index = matches[0]
        if _affiliations_agree(row.values["affiliation"], olds[old_index].values["affiliation"]):
            best_for_old[old_index].append((score, index))
    pairs = []
    for old_index, claims in best_for_old.items():
        claims.sort(reverse=True)
        if len(claims) == 1 or claims[0][0] > claims[1][0]:
            pairs.append((candidates[claims[0][1]], olds[old_index]))
    return pairs


def _affiliations_agree(one: str, other: str) -> bool:
    return not one or not other or fold(one) == fold(other)
