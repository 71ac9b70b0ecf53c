"""Recording what one fetch of a source listed, all rows at once.

The same outcome as calling ``letters.services.signature_record`` for each
entry in order, then marking the entries no longer listed as gone, but with a
handful of set-based statements instead of about ten queries per row. The
caller runs it in one transaction with the run's own record.

One difference, for speed: an entry listed exactly as before is not rewritten
(its position, last_seen_at and last_run stay those of the run that last wrote
it); the source's last_synced_at says it was seen since. Rewriting 100,000
unchanged rows and their signatures costs seconds on every run.
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import time
from collections import defaultdict
from collections.abc import Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime
from functools import cache
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import connection
from rapidfuzz import fuzz, process

from letters.models import (
    Sighting,
    SightingEvent,
    Signature,
    SignatureStatusChange,
    Source,
    SyncRun,
)
from letters.services import Entry
from people.matching.normalize import ParsedName, fold, parse_name
from people.models import Person, PersonName
from tracker import locks
from tracker.bulk import chunked, insert_rows, update_rows

logger = logging.getLogger(__name__)

VALUE_FIELDS = ("name", "title", "affiliation", "country", "signed_on", "url", "extra")
DIFF_LIMIT = 1000
GONE_REASON_PREFIX = "No source lists it any more"
# Folded names at least this similar (0-100) count as one entry respelled.
RESPELLING_SIMILARITY = 90
MAX_RESPELLING_PAIRS = 10_000_000


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
    """Seconds spent in each step of a run, for the log."""

    def __init__(self, timings: dict[str, float]) -> None:
        self.timings = timings

    @contextmanager
    def __call__(self, name: str) -> Iterator[None]:
        started = time.perf_counter()
        try:
            yield
        finally:
            self.timings[name] = round(time.perf_counter() - started, 3)


@dataclass
class _Row:
    key: str
    values: dict[str, Any]
    position: int | None


@dataclass
class _Existing:
    key: str
    id: int
    signature_id: int
    present: bool
    values: dict[str, Any]


def _before_after(
    row: _Row, sighting: _Existing, differing: set[str]
) -> tuple[dict[str, Any], dict[str, Any]]:
    before = {**sighting.values, "key": sighting.key}
    after = {**row.values, "key": row.key}
    return (
        _jsonable({name: before[name] for name in sorted(differing)}),
        _jsonable({name: after[name] for name in sorted(differing)}),
    )


def _jsonable(values: dict[str, Any]) -> dict[str, Any]:
    return {
        name: value.isoformat() if isinstance(value, date | datetime) else value
        for name, value in values.items()
    }


@cache
def _max_length(model: type, name: str) -> int:
    return model._meta.get_field(name).max_length


def _cut(text: str, model: type, name: str) -> str:
    return text[: _max_length(model, name)]


def _parse_with_key(name: str) -> tuple[ParsedName, str]:
    parsed = parse_name(name)
    return parsed, parsed.key


class _Names:
    """parse_name is the slow part of a first run: parse each spelling once,
    many at a time on every core, and fold each text once."""

    def __init__(self) -> None:
        self._parsed: dict[str, tuple[ParsedName, str]] = {}
        self._folded: dict[str, str] = {}

    def parse(self, name: str) -> ParsedName:
        return self._parse(name)[0]

    def key(self, name: str) -> str:
        """parse_name(name).key, the normalised name people are resolved by."""
        return self._parse(name)[1]

    def fold(self, text: str) -> str:
        folded = self._folded.get(text)
        if folded is None:
            folded = self._folded[text] = fold(text)
        return folded

    def parse_many(self, names: Iterable[str]) -> None:
        todo = list(dict.fromkeys(name for name in names if name not in self._parsed))
        workers = min(os.cpu_count() or 1, 4)
        # Below some thousands of names, starting processes costs more than it saves.
        if len(todo) >= settings.TRACKER_SYNC_PARALLEL_PARSE_MIN and workers > 1:
            try:
                self._parsed.update(zip(todo, _parse_in_processes(todo, workers), strict=True))
                return
            except (OSError, ValueError, TypeError, subprocess.SubprocessError) as exc:
                logger.warning(
                    "Cannot parse names in other processes (%s); parsing them here.", exc
                )
        for name in todo:
            self._parse(name)

    def _parse(self, name: str) -> tuple[ParsedName, str]:
        found = self._parsed.get(name)
        if found is None:
            found = self._parsed[name] = _parse_with_key(name)
        return found


# Fresh interpreters that only import the name parser: a Celery worker's pool
# processes are daemons, which multiprocessing does not let have children.
_PARSER_PROGRAM = """
import dataclasses, json, sys
from people.matching.normalize import parse_name
for line in sys.stdin:
    p = parse_name(json.loads(line))
    fields = {f.name: getattr(p, f.name) for f in dataclasses.fields(p)}
    sys.stdout.write(json.dumps([fields, p.key]) + "\\n")
"""


def _parse_in_processes(names: list[str], workers: int) -> list[tuple[ParsedName, str]]:
    size = -(-len(names) // workers)
    chunks = [names[start : start + size] for start in range(0, len(names), size)]
    root = str(Path(__file__).resolve().parent.parent.parent)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([root, *sys.path])}

    def parse_chunk(chunk: list[str]) -> list[list[str]]:
        process = subprocess.run(
            [sys.executable, "-c", _PARSER_PROGRAM],
            input="".join(json.dumps(name) + "\n" for name in chunk).encode(),
            capture_output=True,
            env=env,
            timeout=600,
            check=False,
        )
        if process.returncode:
            raise subprocess.SubprocessError(process.stderr.decode(errors="replace")[-500:])
        return [json.loads(line) for line in process.stdout.splitlines()]

    with ThreadPoolExecutor(max_workers=workers) as pool:
        results = [row for rows in pool.map(parse_chunk, chunks) for row in rows]
    return [(ParsedName(**fields), key) for fields, key in results]


def _load_existing(source: Source) -> dict[str, _Existing]:
    """Every sighting of the source, by key, with the values to compare."""
    quote = connection.ops.quote_name
    columns = ["key", "id", "signature_id", "present", *VALUE_FIELDS]
    extra, signed_on = VALUE_FIELDS.index("extra"), VALUE_FIELDS.index("signed_on")
    existing = {}
    with connection.cursor() as cursor:
        # A plain cursor: the ORM's per-value conversions cost seconds on 100,000 rows.
        cursor.execute(
            f"SELECT {', '.join(quote(column) for column in columns)} "  # noqa: S608
            f"FROM {quote(Sighting._meta.db_table)} WHERE source_id = %s",
            [source.pk],
        )
        while batch := cursor.fetchmany(10_000):
            for key, id_, signature_id, present, *values in batch:
                if isinstance(values[extra], str) and not values[extra].startswith("{"):
                    values[extra] = json.loads(values[extra])
                # Other texts are decoded when compared (see _differing): most are equal.
                if isinstance(values[signed_on], str):  # SQLite gives dates as text
                    values[signed_on] = date.fromisoformat(values[signed_on])
                existing[key] = _Existing(
                    key,
                    id_,
                    signature_id,
                    bool(present),
                    dict(zip(VALUE_FIELDS, values, strict=True)),
                )
    return existing


def _rows_by_key(
    entries: list[Entry], existing: dict[str, _Existing], names: _Names
) -> tuple[dict[str, _Row], list[dict[str, Any]]]:
    """Key every entry; the same key twice in one file is one entry when the rows
    agree, and separate entries (``key#2``...) when they do not, such as two
    people of one name with different affiliations."""
    # A name written as an existing sighting's name has that sighting's key.
    key_of_name = {
        sighting.values["name"]: key
        for key, sighting in existing.items()
        if key.startswith("name:") and "#" not in key
    }
    all_values = [entry.values() for entry in entries]
    names.parse_many(
        values["name"]
        for entry, values in zip(entries, all_values, strict=True)
        if not entry.key and values["name"] not in key_of_name
    )
    rows: dict[str, _Row] = {}
    variants: dict[str, list[dict[str, Any]]] = {}
    duplicates = []
    for entry, values in zip(entries, all_values, strict=True):
        if entry.key:
            key = entry.key[:400]
        else:
            key = key_of_name.get(values["name"], "")
            if not key:
                key = f"name:{names.key(values['name'])}"[:396]
        if key in rows:
            seen_values = variants.setdefault(key, [rows[key].values])
            if values in seen_values:
                duplicates.append({"name": values["name"], "position": entry.position})
                continue
            seen_values.append(values)
            key = f"{key}#{len(seen_values)}"
        rows[key] = _Row(key=key, values=values, position=entry.position)
    return rows, duplicates


def ingest(*, source: Source, run: SyncRun, entries: list[Entry], at: datetime) -> IngestResult:
    """Upsert the sightings of ``entries``, resolve new ones to people and
    signatures, mark the missing ones gone; return counts and the diff.

    ``entries`` is emptied once read, to free its memory early.
    """
    locks.people_lock(exclusive=False)
    # Two sources of one letter may add the same person at once.
    locks.letter_locks([source.letter_id])
    timings: dict[str, float] = {}
    phase = Phases(timings)
    names = _Names()
    with phase("load"):
        existing = _load_existing(source)
    with phase("key"):
        rows, duplicates = _rows_by_key(entries, existing, names)
        # The rows hold all that is needed from here; a 100,000-entry list is big.
        entries.clear()

    with phase("compare"):
        added: list[_Row] = []
        changed: list[tuple[_Row, _Existing, set[str]]] = []
        back: list[tuple[_Row, _Existing]] = []
        seen: list[tuple[_Row, _Existing]] = []
        for key, row in rows.items():
            sighting = existing.get(key)
            if sighting is None:
                added.append(row)
                continue
            seen.append((row, sighting))
            differing = _differing(sighting, row)
            if differing:
                changed.append((row, sighting, differing))
            if not sighting.present:
                back.append((row, sighting))
        gone = [s for key, s in existing.items() if s.present and key not in rows]
        respelled = _pair_respellings(added, gone)
        if respelled:
            paired_rows = {id(row) for row, _ in respelled}
            paired_sightings = {sighting.id for _, sighting in respelled}
            added = [row for row in added if id(row) not in paired_rows]
            gone = [sighting for sighting in gone if sighting.id not in paired_sightings]
        for row, sighting in respelled:
            differing = _differing(sighting, row)
            changed.append((row, sighting, differing | {"key"}))
            seen.append((row, sighting))

    names_to_add: list[tuple[int, str]] = []  # (signature id, name as written)
    with phase("add"):
        people = _add(source, run, added, at, names, names_to_add)
    with phase("change"):
        _change(run, changed, at, names_to_add, existing)
        _back(run, back, at)
        _gone(source, run, gone, at)
        _touch(run, seen, at)
    with phase("names"):
        people |= _add_person_names(source, names_to_add, names, at)

    def names_of(items: list[Any]) -> list[str]:
        return [item.values["name"] for item in items[:DIFF_LIMIT]]

    diff = {
        "added": names_of(added),
        "gone": names_of(gone),
        "back": names_of([row for row, _ in back]),
        "changed": [
            dict(zip(("before", "after"), _before_after(row, sighting, differing), strict=True))
            | {"name": row.values["name"]}
            for row, sighting, differing in changed[:DIFF_LIMIT]
        ],
        "duplicates": duplicates[:DIFF_LIMIT],
        "truncated": max(len(added), len(gone), len(back), len(changed), len(duplicates))
        > DIFF_LIMIT,
    }
    return IngestResult(
        seen=len(rows),
        added=len(added),
        changed=len(changed),
        gone=len(gone),
        back=len(back),
        duplicates=len(duplicates),
        diff=diff,
        people=people,
        timings=timings,
    )


def _jsonb_text(value: Any) -> str:
    """JSON as PostgreSQL writes out a jsonb value: keys by length, then bytes."""
    if isinstance(value, dict):
        items = sorted(value.items(), key=lambda item: (len(item[0].encode()), item[0].encode()))
        return "{" + ", ".join(f"{_jsonb_text(k)}: {_jsonb_text(v)}" for k, v in items) + "}"
    if isinstance(value, list):
        return "[" + ", ".join(_jsonb_text(v) for v in value) + "]"
    return json.dumps(value, ensure_ascii=False)


def _differing(sighting: _Existing, row: _Row) -> set[str]:
    """The value fields in which an entry differs from its sighting. The
    sighting's extra fields may still be the database's JSON text: when it is
    written as the new ones would be, they are equal; otherwise decode it."""
    old = sighting.values
    if isinstance(old["extra"], str):
        if old["extra"] == _jsonb_text(row.values["extra"]):
            old["extra"] = row.values["extra"]
        else:
            old["extra"] = json.loads(old["extra"])
    return {f for f in VALUE_FIELDS if old[f] != row.values[f]}


def _pair_respellings(added: list[_Row], gone: list[_Existing]) -> list[tuple[_Row, _Existing]]:
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


PERSON_FIELDS = [
    "display_name",
    "sort_name",
    "given_name",
    "middle_name",
    "family_name",
    "honorific",
    "suffix",
    "name_key",
    "external_ids",
    "notes",
    "search_text",
    "created_at",
    "updated_at",
]


def _person_row(row: _Row, written: list[str], names: _Names, at: datetime) -> tuple[Any, ...]:
    """A new person, as person_create makes one, with every spelling seen."""
    parsed = names.parse(row.values["name"])
    name_key = names.key(row.values["name"])
    display = _cut(parsed.display or parsed.written, Person, "display_name")
    # The key is the folded display name (see ParsedName.key).
    folded = (
        name_key if text == display and parsed.display else names.fold(text)
        for text in [display, *sorted(written)]
    )
    return (
        display,
        _cut(parsed.sort_name or parsed.written, Person, "sort_name"),
        _cut(parsed.given, Person, "given_name"),
        _cut(parsed.middle, Person, "middle_name"),
        _cut(parsed.family, Person, "family_name"),
        _cut(parsed.honorific, Person, "honorific"),
        _cut(parsed.suffix, Person, "suffix"),
        _cut(name_key, Person, "name_key"),
        {},
        "",
        " | ".join(dict.fromkeys(f for f in folded if f)),
        at,
        at,
    )


def _resolve_people(
    source: Source, rows: list[_Row], names: _Names, at: datetime
) -> tuple[list[int], set[int]]:
    """Each new row's person: the one active person with its normalised name,
    else a new person (one per name; one per row when several people share it).
    Returns the person of each row and the ids of the people created."""
    names.parse_many(row.values["name"] for row in rows)
    row_keys = [names.key(row.values["name"]) for row in rows]
    wanted = sorted(set(row_keys))
    candidates: dict[str, list[int]] = defaultdict(list)
    for chunk in chunked(wanted):
        for name_key, person_id in Person.objects.filter(
            name_key__in=chunk, merged_into__isnull=True
        ).values_list("name_key", "id"):
            candidates[name_key].append(person_id)

    people: list[tuple[str, int]] = []  # ("old", person id) or ("new", index in new_rows)
    new_rows: list[_Row] = []
    spellings: list[list[str]] = []
    new_for_key: dict[str, int] = {}
    for row, name_key in zip(rows, row_keys, strict=True):
        found = candidates.get(name_key, [])
        if len(found) == 1:
            people.append(("old", found[0]))
            continue
        if not found and name_key in new_for_key:
            index = new_for_key[name_key]
        else:
            index = len(new_rows)
            if not found:
                new_for_key[name_key] = index
            new_rows.append(row)
            spellings.append([])
        people.append(("new", index))
        name = _cut(row.values["name"], PersonName, "name")
        if name not in spellings[index]:
            spellings[index].append(name)

    def person_rows() -> Iterator[tuple[Any, ...]]:
        for row, written in zip(new_rows, spellings, strict=True):
            yield _person_row(row, written, names, at)

    new_ids = insert_rows(
        Person,
        PERSON_FIELDS,
        person_rows(),
        count=len(new_rows),
    )
    insert_rows(
        PersonName,
        ["person_id", "name", "name_key", "source_id", "first_seen_at"],
        [
            (person_id, name, _cut(names.key(name), PersonName, "name_key"), source.pk, at)
            for person_id, written in zip(new_ids, spellings, strict=True)
            for name in written
        ],
    )
    person_ids = [person_id if kind == "old" else new_ids[person_id] for kind, person_id in people]
    return person_ids, set(new_ids)


def _add(
    source: Source,
    run: SyncRun,
    rows: list[_Row],
    at: datetime,
    names: _Names,
    names_to_add: list[tuple[int, str]],
) -> set[int]:
    """Create the sightings of new entries, with their people and signatures;
    return the ids of those people."""
    if not rows:
        return set()
    person_ids, created = _resolve_people(source, rows, names, at)

    # The signature each row supports: an existing one (followed through a
    # signature merge) or one made from the first row that names the person.
    signature_of_person: dict[int, dict[str, Any]] = {}
    known = sorted(set(person_ids) - created)
    for chunk in chunked(known):
        for person_id, id_, merged_into_id in Signature.objects.filter(
            letter_id=source.letter_id, person_id__in=chunk
        ).values_list("person_id", "id", "merged_into_id"):
            signature_of_person[person_id] = {"id": merged_into_id or id_, "new": False}
    current = {
        id_: (title, affiliation, last_seen_at, person_id)
        for chunk in chunked(sorted({s["id"] for s in signature_of_person.values()}))
        for id_, title, affiliation, last_seen_at, person_id in Signature.objects.filter(
            id__in=chunk
        ).values_list("id", "title", "affiliation", "last_seen_at", "person_id")
    }
    for signature in signature_of_person.values():
        title, affiliation, last_seen_at, person_id = current[signature["id"]]
        signature.update(
            title=title,
            affiliation=affiliation,
            last_seen_at=last_seen_at,
            person_id=person_id,
            touched=False,
        )

    new_signatures: list[dict[str, Any]] = []
    row_signature: list[dict[str, Any]] = []
    for row, person_id in zip(rows, person_ids, strict=True):
        signature = signature_of_person.get(person_id)
        values = row.values
        if signature is None:
            signature = signature_of_person[person_id] = {
                "new": True,
                "person_id": person_id,
                "title": values["title"],
                "affiliation": values["affiliation"],
                "signed_on": values["signed_on"],
                "evidence_url": values["url"] or source.url,
            }
            new_signatures.append(signature)
        else:
            if not signature["title"] and values["title"]:
                signature.update(title=values["title"], touched=True)
            if not signature["affiliation"] and values["affiliation"]:
                signature.update(affiliation=values["affiliation"], touched=True)
            if not signature["new"] and signature["last_seen_at"] < at:
                signature.update(last_seen_at=at, touched=True)
        row_signature.append(signature)

    ids = insert_rows(
        Signature,
        [
            "letter_id",
            "person_id",
            "status",
            "title",
            "affiliation",
            "signed_on",
            "first_seen_at",
            "last_seen_at",
            "needs_review",
            "review_reason",
            "created_at",
            "updated_at",
        ],
        [
            (
                source.letter_id,
                signature["person_id"],
                Signature.Status.LISTED,
                signature["title"],
                signature["affiliation"],
                signature["signed_on"],
                at,
                at,
                False,
                "",
                at,
                at,
            )
            for signature in new_signatures
        ],
    )
    for signature, id_ in zip(new_signatures, ids, strict=True):
        signature["id"] = id_
    insert_rows(
        SignatureStatusChange,
        [
            "signature_id",
            "from_status",
            "to_status",
            "changed_at",
            "actor",
            "reason",
            "evidence_method",
            "evidence_url",
        ],
        [
            (
                signature["id"],
                "",
                Signature.Status.LISTED,
                at,
                f"source:{source.name}"[:100],
                f"Listed by {source.name}.",
                SignatureStatusChange.Method.SOURCE,
                signature["evidence_url"][:1000],
            )
            for signature in new_signatures
        ],
    )
    update_rows(
        Signature,
        ["title", "affiliation", "last_seen_at", "updated_at"],
        [
            (s["id"], s["title"], s["affiliation"], s["last_seen_at"], at)
            for s in signature_of_person.values()
            if not s["new"] and s["touched"]
        ],
    )

    sighting_ids = insert_rows(
        Sighting,
        [
            "source_id",
            "key",
            "signature_id",
            *VALUE_FIELDS,
            "position",
            "present",
            "first_seen_at",
            "last_seen_at",
            "first_run_id",
            "last_run_id",
        ],
        (
            (
                source.pk,
                row.key,
                signature["id"],
                *(row.values[name] for name in VALUE_FIELDS),
                row.position,
                True,
                at,
                at,
                run.pk,
                run.pk,
            )
            for row, signature in zip(rows, row_signature, strict=True)
        ),
        count=len(rows),
    )
    insert_rows(
        SightingEvent,
        ["sighting_id", "run_id", "kind", "at", "before", "after"],
        (
            (id_, run.pk, SightingEvent.Kind.ADDED, at, {}, _jsonable(row.values))
            for id_, row in zip(sighting_ids, rows, strict=True)
        ),
        count=len(rows),
    )
    # People made by this run have their names already.
    for row, signature in zip(rows, row_signature, strict=True):
        if signature["person_id"] not in created:
            names_to_add.append((signature["id"], row.values["name"]))
    return set(person_ids)


def _add_person_names(
    source: Source,
    names_to_add: list[tuple[int, str]],
    names: _Names,
    at: datetime,
) -> set[int]:
    """Every spelling a source used is one of its person's names; return the
    people who got a new one."""
    wanted = names_to_add
    if not wanted:
        return set()
    person_of_signature: dict[int, int] = {}
    for chunk in chunked(sorted({sig for sig, _ in wanted})):
        person_of_signature.update(
            Signature.objects.filter(id__in=chunk).values_list("id", "person_id")
        )
    pairs = {
        (person_of_signature[sig], _cut(name, PersonName, "name"))
        for sig, name in wanted
        if sig in person_of_signature
    }
    people = sorted({person_id for person_id, _ in pairs})
    known: set[tuple[int, str]] = set()
    for chunk in chunked(people):
        known.update(
            PersonName.objects.filter(person_id__in=chunk, source=source).values_list(
                "person_id", "name"
            )
        )
    missing = sorted(pairs - known)
    if not missing:
        return set()
    insert_rows(
        PersonName,
        ["person_id", "name", "name_key", "source_id", "first_seen_at"],
        [
            (person_id, name, _cut(names.key(name), PersonName, "name_key"), source.pk, at)
            for person_id, name in missing
        ],
    )
    respelled = {person_id for person_id, _ in missing}
    _refresh_search_text(sorted(respelled))
    return respelled


def _refresh_search_text(person_ids: list[int]) -> None:
    """What people.services.person_refresh_search_text does, for many people."""
    display: dict[int, str] = {}
    spellings: dict[int, list[str]] = defaultdict(list)
    for chunk in chunked(person_ids):
        display.update(Person.objects.filter(id__in=chunk).values_list("id", "display_name"))
        for person_id, name in (
            PersonName.objects.filter(person_id__in=chunk)
            .order_by("name", "id")
            .values_list("person_id", "name")
        ):
            spellings[person_id].append(name)
    updates = []
    for person_id, display_name in display.items():
        folded = [fold(text) for text in [display_name, *spellings[person_id]]]
        updates.append((person_id, " | ".join(dict.fromkeys(f for f in folded if f))))
    update_rows(Person, ["search_text"], updates)


def _change(
    run: SyncRun,
    changed: list[tuple[_Row, _Existing, set[str]]],
    at: datetime,
    names_to_add: list[tuple[int, str]],
    existing: dict[str, _Existing],
) -> None:
    if not changed:
        return
    insert_rows(
        SightingEvent,
        ["sighting_id", "run_id", "kind", "at", "before", "after"],
        [
            (
                sighting.id,
                run.pk,
                SightingEvent.Kind.CHANGED,
                at,
                *_before_after(row, sighting, differing),
            )
            for row, sighting, differing in changed
        ],
    )
    update_rows(
        Sighting,
        ["key", *VALUE_FIELDS],
        [
            (sighting.id, row.key, *(row.values[name] for name in VALUE_FIELDS))
            for row, sighting, _ in changed
        ],
    )
    for row, sighting, differing in changed:
        if "name" in differing:
            names_to_add.append((sighting.signature_id, row.values["name"]))


def _touch(run: SyncRun, touched: list[tuple[Any, ...]], at: datetime) -> None:
    """Every entry this run listed was seen by it, at its position, and so were
    the signatures they support: "last seen" is a fact readers quote, so it is
    stored, not inferred."""
    if not touched:
        return
    rows = {sighting.id: (row.position, sighting.signature_id) for row, sighting, *_ in touched}
    update_rows(
        Sighting,
        ["position", "last_seen_at", "last_run_id"],
        [(id_, position, at, run.pk) for id_, (position, _) in rows.items()],
    )
    for chunk in chunked(sorted({signature_id for _, signature_id in rows.values()})):
        Signature.objects.filter(id__in=chunk, last_seen_at__lt=at).update(
            last_seen_at=at, updated_at=at
        )


def _back(run: SyncRun, back: list[tuple[_Row, _Existing]], at: datetime) -> None:
    if not back:
        return
    insert_rows(
        SightingEvent,
        ["sighting_id", "run_id", "kind", "at", "before", "after"],
        [(sighting.id, run.pk, SightingEvent.Kind.BACK, at, {}, {}) for _, sighting in back],
    )
    update_rows(
        Sighting,
        ["present", "gone_at", "gone_run_id"],
        [(sighting.id, True, None, None) for _, sighting in back],
    )
    # The sync's own "gone" flag no longer holds; an editor's flag stays.
    signature_ids = sorted({sighting.signature_id for _, sighting in back})
    for chunk in chunked(signature_ids):
        Signature.objects.filter(
            id__in=chunk, needs_review=True, review_reason__startswith=GONE_REASON_PREFIX
        ).update(needs_review=False, review_reason="", updated_at=at)


def _gone(source: Source, run: SyncRun, gone: list[_Existing], at: datetime) -> None:
    if not gone:
        return
    # Present entries were all listed by the source's previous good run.
    previous = (
        SyncRun.objects.filter(
            source=source, outcome__in=[SyncRun.Outcome.SUCCEEDED, SyncRun.Outcome.UNCHANGED]
        )
        .exclude(pk=run.pk)
        .order_by("-finished_at", "-id")
        .first()
    )
    last_seen = {}
    if previous is not None and source.last_synced_at is not None:
        last_seen = {"last_seen_at": source.last_synced_at, "last_run": previous}
    for chunk in chunked([sighting.id for sighting in gone]):
        Sighting.objects.filter(id__in=chunk).update(
            present=False, gone_at=at, gone_run=run, **last_seen
        )
    insert_rows(
        SightingEvent,
        ["sighting_id", "run_id", "kind", "at", "before", "after"],
        [(sighting.id, run.pk, SightingEvent.Kind.GONE, at, {}, {}) for sighting in gone],
    )
    signature_ids = sorted({sighting.signature_id for sighting in gone})
    still_listed: set[int] = set()
    for chunk in chunked(signature_ids):
        still_listed.update(
            Sighting.objects.filter(signature_id__in=chunk, present=True).values_list(
                "signature_id", flat=True
            )
        )
    unlisted = [id_ for id_ in signature_ids if id_ not in still_listed]
    reason = f"{GONE_REASON_PREFIX}: {source.name} dropped it (run {run.pk})."[:300]
    for chunk in chunked(unlisted):
        Signature.objects.filter(id__in=chunk, needs_review=False).update(
            needs_review=True, review_reason=reason, updated_at=at
        )
