"""The writes of a run, each a few set-based statements whatever the number
of rows: new entries with their people and signatures, changed entries, entries
back and gone, and the names of people.

An entry listed exactly as before is not written: it was seen by the run, and
``letters.selectors.sighting_seen_at`` reads that from its source's
``last_synced_at``. What a run writes is proportional to what changed."""

from __future__ import annotations

from datetime import datetime
from functools import cache
from typing import Any

from letters.affiliations import Resolve, organization_stated, signatures_link
from letters.models import (
    Sighting,
    SightingEvent,
    Signature,
    SignatureStatusChange,
    Source,
    SyncRun,
)
from letters.sync.compare import before_after, jsonable
from letters.sync.names import Names
from letters.sync.rows import VALUE_FIELDS, Existing, Row
from people.matching.identity import Known
from people.models import PersonName
from people.selectors import organization_resolver
from people.services import people_for_entries, people_refresh_search_texts, person_create_many
from tracker.bulk import Copies, chunked, insert_rows, update_rows


@cache
def _max_length(model: type, name: str) -> int:
    return model._meta.get_field(name).max_length


def _cut(text: str, model: type, name: str) -> str:
    return text[: _max_length(model, name)]


def _found_people(source: Source, rows: list[Row], names: Names) -> list[int | None]:
    """Each new row's known person, by the identity rules every path follows
    (``people.services.people_for_entries``): a known person only when that is
    certain, otherwise None (a person of its own, one per row)."""
    names.parse_many(row.values["name"] for row in rows)
    return people_for_entries(
        keys=[names.key(row.values["name"]) for row in rows],
        stated=[
            Known.of(titles=[row.values["title"]], orgs=[row.values["affiliation"]]) for row in rows
        ],
        source_id=source.pk,
    )


def _new_people(
    source: Source,
    rows: list[Row],
    found: list[int | None],
    names: Names,
    at: datetime,
    copies: Copies,
) -> tuple[list[int], set[int]]:
    """The person of each row: the one found, or a new one made from its name.
    Returns the person of each row and the ids of the people created."""
    new_rows = [row for row, person_id in zip(rows, found, strict=True) if person_id is None]
    created_ids = person_create_many(
        people=[(row.values["name"], []) for row in new_rows],
        source=source,
        at=at,
        parse=names.parse,
        key=names.key,
        fold=names.fold,
        copies=copies,
    )
    new_ids = iter(created_ids)
    person_ids = [next(new_ids) if person_id is None else person_id for person_id in found]
    return person_ids, set(created_ids)


def add(
    source: Source,
    run: SyncRun,
    rows: list[Row],
    at: datetime,
    names: Names,
    names_to_add: list[tuple[int, str]],
    resolve: Resolve | None = None,
) -> set[int]:
    """Create the sightings of new entries, with their people and signatures;
    return the ids of those people. A signature with no organization takes the
    one its affiliation names (``resolve``, read once per run)."""
    if not rows:
        return set()
    resolve = resolve or organization_resolver()
    found = _found_people(source, rows, names)

    # The signature each row supports: an existing one (followed through a
    # signature merge) or one made from the first row that names the person.
    # Read before the new rows are written (Copies), which these reads would wait for.
    signature_of_person: dict[int, dict[str, Any]] = {}
    known = sorted({person_id for person_id in found if person_id is not None})
    for chunk in chunked(known):
        for person_id, id_, merged_into_id in Signature.objects.filter(
            letter_id=source.letter_id, person_id__in=chunk
        ).values_list("person_id", "id", "merged_into_id"):
            signature_of_person[person_id] = {"id": merged_into_id or id_, "new": False}
    current = {
        row[0]: row[1:]
        for chunk in chunked(sorted({s["id"] for s in signature_of_person.values()}))
        for row in Signature.objects.filter(id__in=chunk).values_list(
            "id",
            "title",
            "affiliation",
            "last_seen_at",
            "person_id",
            "organization_id",
            "organization_by_hand",
        )
    }
    for signature in signature_of_person.values():
        title, affiliation, last_seen_at, person_id, organization, by_hand = current[
            signature["id"]
        ]
        signature.update(
            title=title,
            affiliation=affiliation,
            last_seen_at=last_seen_at,
            person_id=person_id,
            touched=False,
            linkable=organization is None and not by_hand,
        )
    # New rows go by COPY from another thread, each table's while the next is built.
    with Copies() as copies:
        person_ids, created = _new_people(source, rows, found, names, at, copies)
        to_link, row_signature, new_signatures = _signatures(
            source, rows, person_ids, signature_of_person, at, resolve
        )
        _insert_new(source, run, rows, at, new_signatures, row_signature, copies)
    update_rows(
        Signature,
        ["title", "affiliation", "last_seen_at", "updated_at"],
        [
            (s["id"], s["title"], s["affiliation"], s["last_seen_at"], at)
            for s in signature_of_person.values()
            if not s["new"] and s["touched"]
        ],
    )
    signatures_link(to_link, at=at, resolve=resolve)
    # People made by this run have their names already.
    for row, signature in zip(rows, row_signature, strict=True):
        if signature["person_id"] not in created:
            names_to_add.append((signature["id"], row.values["name"]))
    return set(person_ids)


def _signatures(
    source: Source,
    rows: list[Row],
    person_ids: list[int],
    signature_of_person: dict[int, dict[str, Any]],
    at: datetime,
    resolve: Resolve,
) -> tuple[set[int], list[dict[str, Any]], list[dict[str, Any]]]:
    """The signature of each row (the person's, or a new one from the first row
    naming them); returns the stored signatures without an organization that a
    row names, each row's signature and the new ones."""
    # Signatures stored without an organization that an added entry may name.
    to_link: set[int] = set()

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
                "stated": [],
            }
            new_signatures.append(signature)
        else:
            if not signature["title"] and values["title"]:
                signature.update(title=values["title"], touched=True)
            if not signature["affiliation"] and values["affiliation"]:
                signature.update(affiliation=values["affiliation"], touched=True)
            if not signature["new"] and signature["last_seen_at"] < at:
                signature.update(last_seen_at=at, touched=True)
        if signature["new"]:
            signature["stated"].append((values["affiliation"], source.pk))
        elif signature["linkable"] and resolve(values["affiliation"]) is not None:
            to_link.add(signature["id"])
        row_signature.append(signature)

    for signature in new_signatures:
        stated = organization_stated(signature["affiliation"], signature.pop("stated"), resolve)
        signature["organization_id"], signature["organization_source_id"] = stated or (None, None)
    return to_link, row_signature, new_signatures


def _insert_new(
    source: Source,
    run: SyncRun,
    rows: list[Row],
    at: datetime,
    new_signatures: list[dict[str, Any]],
    row_signature: list[dict[str, Any]],
    copies: Copies,
) -> None:
    """The new signatures with their first status, and the rows' sightings
    with their "added" events."""
    ids = copies.insert(
        Signature,
        [
            "letter_id",
            "person_id",
            "status",
            "title",
            "affiliation",
            "organization_id",
            "organization_source_id",
            "signed_on",
            "first_seen_at",
            "last_seen_at",
            "needs_review",
            "review_cause",
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
                signature["organization_id"],
                signature["organization_source_id"],
                signature["signed_on"],
                at,
                at,
                False,
                Signature.ReviewCause.NONE,
                "",
                at,
                at,
            )
            for signature in new_signatures
        ],
    )
    for signature, id_ in zip(new_signatures, ids, strict=True):
        signature["id"] = id_
    copies.insert(
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
        ids=False,
    )
    sighting_ids = copies.insert(
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
            "row_hash",
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
                row.row_hash,
            )
            for row, signature in zip(rows, row_signature, strict=True)
        ),
    )
    copies.insert(
        SightingEvent,
        ["sighting_id", "run_id", "kind", "at", "before", "after"],
        (
            (id_, run.pk, SightingEvent.Kind.ADDED, at, {}, jsonable(row.values))
            for id_, row in zip(sighting_ids, rows, strict=True)
        ),
        ids=False,
    )


def change(
    run: SyncRun,
    changed: list[tuple[Row, Existing, set[str]]],
    at: datetime,
    names_to_add: list[tuple[int, str]],
    resolve: Resolve | None = None,
) -> None:
    """Record the new values of changed entries, and the previous ones in their
    history; a new spelling becomes one of the person's names (see person_names).
    A signature with no organization takes the one a changed affiliation names."""
    if not changed:
        return
    resolve = resolve or organization_resolver()
    insert_rows(
        SightingEvent,
        ["sighting_id", "run_id", "kind", "at", "before", "after"],
        [
            (
                sighting.id,
                run.pk,
                SightingEvent.Kind.CHANGED,
                at,
                *before_after(row, sighting, differing),
            )
            for row, sighting, differing in changed
        ],
    )
    update_rows(
        Sighting,
        ["key", *VALUE_FIELDS, "position", "last_seen_at", "last_run_id", "row_hash"],
        [
            (
                sighting.id,
                row.key,
                *(row.values[name] for name in VALUE_FIELDS),
                row.position,
                at,
                run.pk,
                row.row_hash,
            )
            for row, sighting, _ in changed
        ],
    )
    for row, sighting, differing in changed:
        if "name" in differing:
            names_to_add.append((sighting.signature_id, row.values["name"]))
    signatures_link(
        {
            sighting.signature_id
            for row, sighting, differing in changed
            if "affiliation" in differing and resolve(row.values["affiliation"]) is not None
        },
        at=at,
        resolve=resolve,
    )


def row_hashes(rehashed: list[tuple[Row, Existing]]) -> None:
    """The row hash of entries read into their sightings' values from other rows
    (such as other spacing), or first read since sightings had hashes: the next
    run recognises them."""
    update_rows(Sighting, ["row_hash"], [(sighting.id, row.row_hash) for row, sighting in rehashed])


def back(run: SyncRun, back: list[tuple[Row, Existing]], at: datetime) -> None:
    """Entries listed again: their sightings are present, and the signatures
    the sync flagged as gone are no longer flagged."""
    if not back:
        return
    insert_rows(
        SightingEvent,
        ["sighting_id", "run_id", "kind", "at", "before", "after"],
        [(sighting.id, run.pk, SightingEvent.Kind.BACK, at, {}, {}) for _, sighting in back],
    )
    update_rows(
        Sighting,
        ["present", "gone_at", "gone_run_id", "position", "last_seen_at", "last_run_id"],
        [(sighting.id, True, None, None, row.position, at, run.pk) for row, sighting in back],
    )
    # The sync's own "gone" flag no longer holds; an editor's flag stays.
    signature_ids = sorted({sighting.signature_id for _, sighting in back})
    for chunk in chunked(signature_ids):
        Signature.objects.filter(id__in=chunk, review_cause=Signature.ReviewCause.GONE).update(
            needs_review=False,
            review_cause=Signature.ReviewCause.NONE,
            review_reason="",
            updated_at=at,
        )


def gone(source: Source, run: SyncRun, gone: list[Existing], at: datetime) -> None:
    """Entries the source no longer lists: their sightings stay as history, and
    a signature no source lists any more is flagged for review, as gone."""
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
    # The cause is what the sync reads back; the reason is for people.
    cause = Signature.ReviewCause.GONE
    reason = f"{cause.label}: {source.name} dropped it (run {run.pk})."[:300]
    for chunk in chunked(unlisted):
        Signature.objects.filter(id__in=chunk, needs_review=False).update(
            needs_review=True, review_cause=cause, review_reason=reason, updated_at=at
        )


def person_names(
    source: Source,
    names_to_add: list[tuple[int, str]],
    names: Names,
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
    people_refresh_search_texts(person_ids=respelled)
    return respelled
