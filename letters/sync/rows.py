"""The two sides a run compares: the entries it read, keyed as rows, and the
sightings the source had before, read in one pass.

A row read exactly as its sighting was written (the same row hash, see
letters.sync.parse) is not built or compared: its sighting's values are its
values. Such a sighting is loaded without its values, and a run builds,
loads and compares only the others, so that its work follows what changed.
Every row keeps the key the whole reading would give it: a row hash stands
for the row only where its key is certain without its values (see
``_claims``); anything else is read in full."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date
from typing import Any

from django.db import connection
from django.db.models import Count, QuerySet, Subquery

from letters.models import Sighting, Source
from letters.services import Entry
from letters.sync.names import Names
from letters.sync.parse import UnbuiltEntry
from people.matching.identity import same_entry
from tracker.bulk import among, chunked

VALUE_FIELDS = ("name", "title", "affiliation", "country", "signed_on", "url", "extra")


@dataclass
class Row:
    """One entry of this run, under the key its sighting has."""

    key: str
    # None for a row listed exactly as its sighting holds it, until something needs them.
    values: dict[str, Any] | None
    position: int | None
    row_hash: bytes | None = None
    # Read exactly as its sighting (of the same key) was written: nothing to compare.
    unchanged: bool = False


@dataclass
class Existing:
    """One sighting the source had before this run."""

    key: str
    id: int
    signature_id: int
    present: bool
    # None until loaded (load_values), for sightings a run needs to compare.
    values: dict[str, Any] | None
    row_hash: bytes | None = None
    # Keyed by its name, while another sighting of the same name, older, has its
    # name's key (see rows_by_key's key_of_name).
    shadowed: bool = False


def _quote_columns(columns: list[str]) -> str:
    quote = connection.ops.quote_name
    return ", ".join(quote(column) for column in columns)


def _decode(values: list[Any]) -> dict[str, Any]:
    extra, signed_on = VALUE_FIELDS.index("extra"), VALUE_FIELDS.index("signed_on")
    if isinstance(values[extra], str) and not values[extra].startswith("{"):
        values[extra] = json.loads(values[extra])
    # Other texts are decoded when compared (see compare.differing): most are equal.
    if isinstance(values[signed_on], str):  # SQLite gives dates as text
        values[signed_on] = date.fromisoformat(values[signed_on])
    return dict(zip(VALUE_FIELDS, values, strict=True))


def _hash(value: Any) -> bytes | None:
    return None if value is None else bytes(value)


def load_existing(source: Source, *, values: bool = True) -> dict[str, Existing]:
    """Every sighting of the source, by key, with the values to compare; with
    ``values=False``, without them (load_values loads those a run needs)."""
    columns = ["key", "id", "signature_id", "present", "row_hash"]
    if values:
        columns += VALUE_FIELDS
    existing = {}
    with connection.cursor() as cursor:
        # A plain cursor: the ORM's per-value conversions cost seconds on 100,000 rows.
        cursor.execute(
            f"SELECT {_quote_columns(columns)} "  # noqa: S608
            f"FROM {connection.ops.quote_name(Sighting._meta.db_table)} WHERE source_id = %s",
            [source.pk],
        )
        while batch := cursor.fetchmany(10_000):
            for key, id_, signature_id, present, row_hash, *fields in batch:
                existing[key] = Existing(
                    key,
                    id_,
                    signature_id,
                    bool(present),
                    _decode(fields) if values else None,
                    _hash(row_hash),
                )
    if not values:
        shadowed = _shadowed(source)
        for sighting in existing.values():
            sighting.shadowed = sighting.id in shadowed
    return existing


def _name_keyed(key: str) -> bool:
    return key.startswith("name:") and "#" not in key


def _keyed_by_name(source: Source) -> QuerySet[Sighting]:
    return Sighting.objects.filter(source=source, key__startswith="name:").exclude(
        key__contains="#"
    )


def _shadowed(source: Source) -> set[int]:
    """The sightings keyed by a name that an older sighting keyed by a name also has."""
    names_twice = (
        _keyed_by_name(source)
        .order_by()
        .values("name")
        .annotate(count=Count("id"))
        .filter(count__gt=1)
        .values("name")
    )
    shadowed, previous = set(), None
    for name, id_ in (
        _keyed_by_name(source)
        .filter(name__in=Subquery(names_twice))
        .order_by("name", "id")
        .values_list("name", "id")
    ):
        if name == previous:
            shadowed.add(id_)
        previous = name
    return shadowed


def load_values(rows: dict[str, Row], existing: dict[str, Existing]) -> None:
    """Load the values of the sightings a run compares: those a row read in full
    has the key of, and those present that no row lists (gone, or respelled)."""
    needed = {
        sighting.id: sighting
        for key, sighting in existing.items()
        if sighting.values is None
        and ((key in rows and not rows[key].unchanged) or (key not in rows and sighting.present))
    }
    for chunk in chunked(sorted(needed)):
        for id_, *fields in Sighting.objects.filter(among(Sighting, "id", chunk)).values_list(
            "id", *VALUE_FIELDS
        ):
            needed[id_].values = dict(zip(VALUE_FIELDS, fields, strict=True))


def _names_keyed(source: Source | None, names: set[str]) -> dict[str, str]:
    """The key of each of ``names`` that a sighting keyed by its name has (the
    oldest such sighting's)."""
    if source is None or not names:
        return {}
    key_of_name: dict[str, str] = {}
    for chunk in chunked(sorted(names)):
        key_of_name.update(
            _keyed_by_name(source).filter(name__in=chunk).order_by("-id").values_list("name", "key")
        )
    return key_of_name


def _claims(
    entries: list[Entry | UnbuiltEntry], existing: dict[str, Existing]
) -> list[Existing | None]:
    """For each entry, the present sighting written from a row of its hash,
    when the entry's key is certain to be that sighting's: the key its source
    gives it, or, keyed by its name, a key no other sighting of its name holds.
    Whether another row of the run takes that key first is for rows_by_key."""
    by_hash: dict[bytes, Existing] = {}
    twice: set[bytes] = set()
    for sighting in existing.values():
        if sighting.present and sighting.row_hash is not None:
            if sighting.row_hash in by_hash:
                twice.add(sighting.row_hash)
            by_hash[sighting.row_hash] = sighting
    for row_hash in twice:
        del by_hash[row_hash]
    claims: list[Existing | None] = []
    for entry in entries:
        sighting = by_hash.get(entry.row_hash) if entry.row_hash is not None else None
        if sighting is not None and not (
            sighting.key == entry.key[:400]
            if entry.key
            else _name_keyed(sighting.key) and not sighting.shadowed
        ):
            sighting = None
        claims.append(sighting)
    return claims


def _built(entry: Entry | UnbuiltEntry) -> Entry:
    return entry.build() if isinstance(entry, UnbuiltEntry) else entry


def rows_by_key(
    entries: list[Entry | UnbuiltEntry],
    existing: dict[str, Existing],
    names: Names,
    *,
    source: Source | None = None,
) -> tuple[dict[str, Row], list[dict[str, Any]]]:
    """Key every entry; the same key twice in one file is one entry written
    twice when the rows agree on name, title and affiliation, and separate
    entries (``key#2``...) when they do not, such as two people of one name
    with different affiliations: two entries of one list are two people. Returns the rows and the
    entries written twice (name and position).

    When ``existing`` was loaded without values (its ``source`` given), an entry
    listed exactly as its sighting is a row ``unchanged``, and the others are
    built; the outcome is the same as when every entry is built and compared."""
    loaded = all(sighting.values is not None for sighting in existing.values())
    claims = [None] * len(entries) if loaded else _claims(entries, existing)
    built: list[Entry | None] = [
        None if claim is not None else _built(entry)
        for entry, claim in zip(entries, claims, strict=True)
    ]
    all_values = [None if entry is None else entry.values() for entry in built]
    # A name written as an existing sighting's name has that sighting's key (the
    # oldest's, when several have it).
    if loaded:
        key_of_name: dict[str, str] = {}
        for key, sighting in existing.items():
            if _name_keyed(key):
                assert sighting.values is not None
                held = key_of_name.get(sighting.values["name"])
                if held is None or sighting.id < existing[held].id:
                    key_of_name[sighting.values["name"]] = key
    else:
        key_of_name = _names_keyed(
            source,
            {
                values["name"]
                for entry, values in zip(built, all_values, strict=True)
                if entry is not None and not entry.key
            },
        )
    # Every name this run needs parsed, in one pass (one pool of processes): those
    # keyed by name, and those of entries keyed by the source that are new, whose
    # people are made from them.
    names.parse_many(
        values["name"]
        for entry, values in zip(built, all_values, strict=True)
        if entry is not None
        and (entry.key[:400] not in existing if entry.key else values["name"] not in key_of_name)
    )
    rows: dict[str, Row] = {}
    unbuilt: dict[str, Entry | UnbuiltEntry] = {}
    variants: dict[str, list[dict[str, Any]]] = {}
    duplicates = []
    for entry, claim, values in zip(entries, claims, all_values, strict=True):
        if claim is not None:
            key = claim.key
            if key not in rows:
                rows[key] = Row(key, None, entry.position, entry.row_hash, unchanged=True)
                unbuilt[key] = entry
                continue
            # An earlier row has its key: it is read as any other.
            values = _built(entry).values()
        elif entry.key:
            key = entry.key[:400]
        else:
            key = key_of_name.get(values["name"], "")
            if not key:
                key = f"name:{names.key(values['name'])}"[:396]
        assert values is not None
        if key in rows:
            first = rows[key]
            if first.values is None:
                first.values = _built(unbuilt[key]).values()
            seen_values = variants.setdefault(key, [first.values])
            if any(same_entry(values, seen) for seen in seen_values):
                duplicates.append({"name": values["name"], "position": entry.position})
                continue
            seen_values.append(values)
            key = f"{key}#{len(seen_values)}"
        rows[key] = Row(key=key, values=values, position=entry.position, row_hash=entry.row_hash)
    return rows, duplicates


def row_hashes(source: Source) -> set[bytes]:
    """The row hashes of the source's present sightings: the rows a run need not build."""
    return {
        bytes(row_hash)
        for row_hash in Sighting.objects.filter(
            source=source, present=True, row_hash__isnull=False
        ).values_list("row_hash", flat=True)
    }
