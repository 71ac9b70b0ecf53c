"""The two sides a run compares: the entries it read, keyed as rows, and the
sightings the source had before, read in one pass.

A row read exactly as its sighting was written (the same row hash, see
letters.sync.parse) is not built or compared: its sighting's values are its
values. Such a sighting is loaded without its values, and a run builds,
loads and compares only the others, so that its work follows what changed.
Every row keeps the key the whole reading would give it: a row hash stands
for the row only where its key is certain without its values (see
``rows_by_key``); anything else is read in full."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date
from typing import Any

from django.db import connection

from letters.models import Sighting, Source
from letters.services import Entry
from letters.sync.names import Names
from letters.sync.parse import UnbuiltEntry
from people.matching.identity import same_entry
from tracker.bulk import chunked

# The longest key a sighting holds (its column).
KEY_LENGTH = Sighting._meta.get_field("key").max_length

VALUE_FIELDS = ("name", "title", "affiliation", "country", "signed_on", "url", "extra")


@dataclass(slots=True)
class Row:
    """One entry of this run, under the key its sighting has."""

    key: str
    # None for a row listed exactly as its sighting holds it, until something needs them.
    values: dict[str, Any] | None
    position: int | None
    row_hash: bytes | None = None
    # Read exactly as its sighting (of the same key) was written: nothing to compare.
    unchanged: bool = False


@dataclass(slots=True)
class Existing:
    """One sighting the source had before this run."""

    key: str
    id: int
    signature_id: int
    present: bool
    # None until loaded (load_values), for sightings a run needs to compare.
    values: dict[str, Any] | None
    row_hash: bytes | None = None
    # The name of a sighting keyed by its name, when its values are not loaded.
    name: str | None = None


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
    return value if value is None or isinstance(value, bytes) else bytes(value)


def _table() -> str:
    return connection.ops.quote_name(Sighting._meta.db_table)


def load_existing(source: Source, *, values: bool = True) -> dict[str, Existing]:
    """Every sighting of the source, by key, with the values to compare; with
    ``values=False``, only the names of those keyed by their names (load_values
    loads the values a run needs)."""
    columns = _quote_columns(["key", "id", "signature_id", "present", "row_hash"])
    name = connection.ops.quote_name("name")
    # Names keyed by a source's own key are not needed to key rows.
    columns += (
        f", {_quote_columns(list(VALUE_FIELDS))}"
        if values
        else (f", CASE WHEN {connection.ops.quote_name('key')} LIKE 'name:%%' THEN {name} END")
    )
    existing = {}
    with connection.cursor() as cursor:
        # A plain cursor: the ORM's per-value conversions cost seconds on 100,000 rows.
        cursor.execute(
            f"SELECT {columns} FROM {_table()} WHERE source_id = %s",  # noqa: S608
            [source.pk],
        )
        while batch := cursor.fetchmany(10_000):
            if values:
                for key, id_, signature_id, present, row_hash, *fields in batch:
                    existing[key] = Existing(
                        key, id_, signature_id, bool(present), _decode(fields), _hash(row_hash)
                    )
            else:
                for key, id_, signature_id, present, row_hash, name_ in batch:
                    existing[key] = Existing(
                        key, id_, signature_id, bool(present), None, _hash(row_hash), name_
                    )
    return existing


def _name_keyed(key: str) -> bool:
    return key.startswith("name:") and "#" not in key


def load_values(rows: dict[str, Row], existing: dict[str, Existing]) -> None:
    """Load the values of the sightings a run compares: those a row read in full
    has the key of, and those present that no row lists (gone, or respelled)."""
    needed = {
        sighting.id: sighting
        for key, sighting in existing.items()
        if sighting.values is None
        and ((key in rows and not rows[key].unchanged) or (key not in rows and sighting.present))
    }
    with connection.cursor() as cursor:
        for chunk in chunked(sorted(needed)):
            cursor.execute(
                f"SELECT id, {_quote_columns(list(VALUE_FIELDS))} FROM {_table()} "  # noqa: S608
                f"WHERE id IN ({', '.join(['%s'] * len(chunk))})",
                chunk,
            )
            for id_, *fields in cursor.fetchall():
                needed[id_].values = _decode(fields)


def _claimable(existing: dict[str, Existing]) -> dict[bytes, Existing]:
    """The present sightings by row hash, but for hashes two of them have."""
    by_hash: dict[bytes, Existing] = {}
    twice: set[bytes] = set()
    for sighting in existing.values():
        if sighting.present and sighting.row_hash is not None:
            if sighting.row_hash in by_hash:
                twice.add(sighting.row_hash)
            by_hash[sighting.row_hash] = sighting
    for row_hash in twice:
        del by_hash[row_hash]
    return by_hash


def _holds(claim: Existing, entry: Entry | UnbuiltEntry, key_of_name: dict[str, str]) -> bool:
    """Whether the entry's key is certain to be the key of the sighting its row
    hash claims: the key its source gives it, or, keyed by its name (the
    sighting's, of one hash), the key of its name."""
    if entry.key:
        return claim.key == entry.key[:400]
    return claim.name is not None and key_of_name.get(claim.name) == claim.key


def _built(entry: Entry | UnbuiltEntry) -> Entry:
    return entry.build() if isinstance(entry, UnbuiltEntry) else entry


def rows_by_key(
    entries: list[Entry | UnbuiltEntry],
    existing: dict[str, Existing],
    names: Names,
) -> tuple[dict[str, Row], list[dict[str, Any]]]:
    """Key every entry; the same key twice in one file is one entry written
    twice when the rows agree on name, title and affiliation, and separate
    entries (``key#2``...) when they do not, such as two people of one name
    with different affiliations: two entries of one list are two people. Returns the rows and the
    entries written twice (name and position).

    When ``existing`` was loaded without values, an entry
    listed exactly as its sighting is a row ``unchanged``, and the others are
    built; the outcome is the same as when every entry is built and compared."""
    # A name written as an existing sighting's name has that sighting's key (the
    # oldest's, when several have it).
    key_of_name: dict[str, str] = {}
    for key, sighting in existing.items():
        if _name_keyed(key):
            name = sighting.name if sighting.values is None else sighting.values["name"]
            held = key_of_name.get(name)  # type: ignore[arg-type]
            if held is None or sighting.id < existing[held].id:
                key_of_name[name] = key  # type: ignore[index]
    loaded = all(sighting.values is not None for sighting in existing.values())
    by_hash = {} if loaded else _claimable(existing)
    # Each entry with the sighting it is listed exactly as (its claim), or its values.
    # Whether another row takes the claimed key first is seen below.
    items: list[tuple[Entry | UnbuiltEntry, Existing | None, dict[str, Any] | None]] = []
    for entry in entries:
        claim = by_hash.get(entry.row_hash) if by_hash else None  # type: ignore[arg-type]
        if claim is not None and not _holds(claim, entry, key_of_name):
            claim = None
        if claim is None:
            entry = _built(entry)
            items.append((entry, None, entry.values()))
        else:
            items.append((entry, claim, None))
    # Every name this run needs parsed, in one pass (one pool of processes): those
    # keyed by name, and those of entries keyed by the source that are new, whose
    # people are made from them.
    names.parse_many(
        values["name"]
        for entry, _, values in items
        if values is not None
        and (entry.key[:400] not in existing if entry.key else values["name"] not in key_of_name)
    )
    rows: dict[str, Row] = {}
    unbuilt: dict[str, Entry | UnbuiltEntry] = {}
    variants: dict[str, list[dict[str, Any]]] = {}
    duplicates = []
    for entry, claim, values in items:
        if claim is not None:
            key = claim.key
            if key not in rows:
                rows[key] = Row(key, None, entry.position, entry.row_hash, True)
                unbuilt[key] = entry
                continue
            # An earlier row has its key: it is read as any other.
            values = _built(entry).values()
        elif entry.key:
            key = entry.key[:400]
        else:
            assert values is not None
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
            key = numbered(key, len(seen_values))
        rows[key] = Row(key=key, values=values, position=entry.position, row_hash=entry.row_hash)
    return rows, duplicates


def numbered(key: str, n: int) -> str:
    """The key of the ``n``-th entry of one key in one file: ``key#n``, the
    number taking the key's last characters when it would not fit the column
    (a key its source gives may be as long as the column holds)."""
    suffix = f"#{n}"
    return f"{key[: KEY_LENGTH - len(suffix)]}{suffix}"


def row_hashes(source: Source) -> set[bytes]:
    """The row hashes of the source's present sightings: the rows a run need not build."""
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT row_hash FROM {connection.ops.quote_name(Sighting._meta.db_table)} "  # noqa: S608
            "WHERE source_id = %s AND present AND row_hash IS NOT NULL",
            [source.pk],
        )
        return {bytes(row_hash) for (row_hash,) in cursor.fetchall()}
