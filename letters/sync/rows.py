"""The two sides a run compares: the entries it read, keyed as rows, and the
sightings the source had before, read in one pass."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date
from typing import Any

from django.db import connection

from letters.models import Sighting, Source
from letters.services import Entry
from letters.sync.names import Names
from people.matching.identity import same_entry

VALUE_FIELDS = ("name", "title", "affiliation", "country", "signed_on", "url", "extra")


@dataclass
class Row:
    """One entry of this run, under the key its sighting has."""

    key: str
    values: dict[str, Any]
    position: int | None


@dataclass
class Existing:
    """One sighting the source had before this run."""

    key: str
    id: int
    signature_id: int
    present: bool
    values: dict[str, Any]


def load_existing(source: Source) -> dict[str, Existing]:
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
                # Other texts are decoded when compared (see compare.differing): most are equal.
                if isinstance(values[signed_on], str):  # SQLite gives dates as text
                    values[signed_on] = date.fromisoformat(values[signed_on])
                existing[key] = Existing(
                    key,
                    id_,
                    signature_id,
                    bool(present),
                    dict(zip(VALUE_FIELDS, values, strict=True)),
                )
    return existing


def rows_by_key(
    entries: list[Entry], existing: dict[str, Existing], names: Names
) -> tuple[dict[str, Row], list[dict[str, Any]]]:
    """Key every entry; the same key twice in one file is one entry written
    twice when the rows agree on name, title and affiliation, and separate
    entries (``key#2``...) when they do not, such as two people of one name
    with different affiliations: two entries of one list are two people. Returns the rows and the
    entries written twice (name and position)."""
    # A name written as an existing sighting's name has that sighting's key.
    key_of_name = {
        sighting.values["name"]: key
        for key, sighting in existing.items()
        if key.startswith("name:") and "#" not in key
    }
    all_values = [entry.values() for entry in entries]
    # Every name this run needs parsed, in one pass (one pool of processes): those
    # keyed by name, and those of entries keyed by the source that are new, whose
    # people are made from them.
    names.parse_many(
        values["name"]
        for entry, values in zip(entries, all_values, strict=True)
        if (entry.key[:400] not in existing if entry.key else values["name"] not in key_of_name)
    )
    rows: dict[str, Row] = {}
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
            if any(same_entry(values, seen) for seen in seen_values):
                duplicates.append({"name": values["name"], "position": entry.position})
                continue
            seen_values.append(values)
            key = f"{key}#{len(seen_values)}"
        rows[key] = Row(key=key, values=values, position=entry.position)
    return rows, duplicates
