"""Reads on letters that the API, the admin and commands share."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from itertools import islice
from typing import Any

from django.db import DEFAULT_DB_ALIAS, connection
from django.db.models import (
    Case,
    CharField,
    Count,
    Exists,
    F,
    Max,
    OuterRef,
    Prefetch,
    Q,
    QuerySet,
    Subquery,
    Value,
    When,
)
from django.db.models.expressions import RawSQL
from django.db.models.functions import Coalesce

from letters.models import (
    Letter,
    LetterTarget,
    Sighting,
    SightingEvent,
    Signature,
    SignatureStatusChange,
    Source,
    SyncRun,
)
from people.models import Affiliation, Merge, Person, PersonRename, Split
from people.selectors import queryset_search
from tracker.csv import csv_records, neutralise
from tracker.db import (
    FORMULA_QUOTED,
    FORMULA_START,
    APITime,
    CompiledQuery,
    LoadedJSON,
    Neutralised,
    UTCText,
    csv_copy,
    utc_iso_sql,
)
from tracker.fields import iso_datetime

STANDING_STATUSES = (
    Signature.Status.LISTED,
    Signature.Status.VERIFIED,
    Signature.Status.DISPUTED,
)


@dataclass
class SourceCount:
    source_id: int
    name: str
    kind: str
    people: int
    only_here: int


@dataclass
class LetterSourceCounts:
    """How many people a letter's sources list, next to what its organisers claim."""

    claimed: str
    claimed_min: int | None
    tracked: int
    listed: int
    listed_by_one_source: int
    sources: list[SourceCount] = field(default_factory=list)

    @property
    def claimed_minus_tracked(self) -> int | None:
        return None if self.claimed_min is None else self.claimed_min - self.tracked


# A signature merged into another counts as the one it was merged into.
_SIGNATURE_PEOPLE_SQL = """
    SELECT sighting.source_id AS source_id, COALESCE(kept.person_id, sig.person_id) AS person_id
    FROM {sighting} sighting
    JOIN {source} source ON source.id = sighting.source_id
    JOIN {signature} sig ON sig.id = sighting.signature_id
    LEFT JOIN {signature} kept ON kept.id = sig.merged_into_id
    WHERE source.letter_id = %s AND sighting.present
"""


def letter_source_counts(*, letter: Letter) -> LetterSourceCounts:
    """Per source, the distinct people it lists now and those no other source
    lists; for the letter, the people tracked (standing signatures), listed by
    any source now, and listed by one source only. Five queries, whatever the
    size of the letter."""
    quote = connection.ops.quote_name
    listed_by = _SIGNATURE_PEOPLE_SQL.format(
        sighting=quote(Sighting._meta.db_table),
        source=quote(Source._meta.db_table),
        signature=quote(Signature._meta.db_table),
    )
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT source_id, COUNT(DISTINCT person_id) FROM ({listed_by}) listed "  # noqa: S608
            "GROUP BY source_id",
            [letter.pk],
        )
        people = dict(cursor.fetchall())
        cursor.execute(
            "SELECT source_id, COUNT(*) FROM ("  # noqa: S608 - table names are ours
            f"  SELECT person_id, MIN(source_id) AS source_id FROM ({listed_by}) listed"
            "   GROUP BY person_id HAVING COUNT(DISTINCT source_id) = 1"
            ") alone GROUP BY source_id",
            [letter.pk],
        )
        only_here = dict(cursor.fetchall())
        cursor.execute(
            f"SELECT COUNT(DISTINCT person_id) FROM ({listed_by}) listed",  # noqa: S608
            [letter.pk],
        )
        listed = cursor.fetchone()[0]
    tracked = Signature.objects.filter(
        Q(letter=letter, merged_into__isnull=True, status__in=STANDING_STATUSES)
    ).aggregate(people=Count("person_id", distinct=True))["people"]
    sources = [
        SourceCount(
            source_id=source.pk,
            name=source.name,
            kind=source.kind,
            people=people.get(source.pk, 0),
            only_here=only_here.get(source.pk, 0),
        )
        for source in letter.sources.order_by("-reliability", "name")
    ]
    return LetterSourceCounts(
        claimed=letter.claimed_count,
        claimed_min=letter.claimed_count_min,
        tracked=tracked,
        listed=listed,
        listed_by_one_source=sum(only_here.values()),
        sources=sources,
    )


SIGNATURE_VALUES = (
    "id",
    "letter__slug",
    "person_id",
    "person__display_name",
    "status",
    "title",
    "affiliation",
    "person__sort_key",
)
SIGHTING_KEYS = ("source", "name", "title", "affiliation", "present", "first_seen", "last_seen")
SIGHTING_VALUES = (
    "signature_id",
    "source__name",
    "name",
    "title",
    "affiliation",
    "present",
    "first_seen_at",
    "seen_at",
)
CSV_CHUNK = 2000
# When a sighting was last seen listed (``sighting_seen_at``), in SQL for the
# queries written by hand (``g``: the sighting, ``src``: its source).
SIGHTING_SEEN_SQL = (
    "CASE WHEN g.present AND src.last_synced_at > g.last_seen_at "
    "THEN src.last_synced_at ELSE g.last_seen_at END"
)


# --- The API's reads: letters, signatures, sources and runs --------------------
#
# The signature lists are the hot path (a page of 100 with every sighting, CSV
# exports of 100,000 rows): they read plain values, never model instances, in a
# fixed number of queries whatever the page size.


def letter_list(
    *,
    search: str = "",
    status: str = "",
    language: str = "",
    target_ids: Sequence[int] | None = None,
    target_role: str = "",
) -> QuerySet[Letter]:
    """Letters, filtered; ``target_ids`` are organizations any of which the
    letter is sent to or about (none of them: no letter)."""
    letters = Letter.objects.prefetch_related(
        Prefetch(
            "letter_targets",
            queryset=LetterTarget.objects.select_related("organization"),
        )
    )
    if status:
        letters = letters.filter(status=status)
    if language:
        letters = letters.filter(language__iexact=language)
    if target_ids is not None and not target_ids:
        return letters.none()
    if target_ids is not None or target_role:
        targets = LetterTarget.objects.filter(letter=OuterRef("pk"))
        if target_ids is not None:
            targets = targets.filter(organization_id__in=target_ids)
        if target_role:
            targets = targets.filter(role=target_role)
        letters = letters.filter(Exists(targets))
    if search:
        letters = queryset_search(letters, search, rank=False)
    return letters


# A slug cannot hold a NUL: it stands for the slug while the lookup is compiled.
_LETTER_REF = CompiledQuery(
    lambda slug: Letter.objects.filter(slug=slug).values_list("id", "slug")[:1],
    marker="\x00slug",
)


def letter_ref(slug: str) -> Letter | None:
    """The letter with this slug, its id and slug only (``only("id", "slug")``), in a
    query compiled once: every request under /api/letters/{slug}/ reads it."""
    rows = _LETTER_REF.rows(slug)
    return Letter.from_db(DEFAULT_DB_ALIAS, ["id", "slug"], rows[0]) if rows else None


def letter_ids_by_slug(slugs: Iterable[str]) -> dict[str, int]:
    """The ids of the letters with these slugs (those that exist)."""
    wanted = sorted(set(slugs))
    if not wanted:
        return {}
    return dict(Letter.objects.filter(slug__in=wanted).values_list("slug", "pk"))


def letter_detail(*, slug: str) -> Letter | None:
    return (
        Letter.objects.filter(slug=slug)
        .prefetch_related(
            Prefetch(
                "letter_targets",
                queryset=LetterTarget.objects.select_related("organization"),
            ),
            Prefetch("sources", queryset=Source.objects.order_by("-reliability", "name")),
            "organisers",
        )
        .first()
    )


def letter_counts(*, letter: Letter, include_removed: bool) -> dict[str, Any]:
    """Signatures by status and distinct people, in one aggregate query."""
    statuses = [
        status
        for status in Signature.Status.values
        if include_removed or status != Signature.Status.REMOVED
    ]
    signatures = signature_queryset(letter=letter, include_removed=include_removed)
    public = [status for status in PUBLIC_STATUSES if status in statuses or status == UNLISTED]
    counts = signatures.annotate(shown_status=public_status()).aggregate(
        signatures=Count("id"),
        people=Count("person_id", distinct=True),
        **{f"status_{status}": Count("id", filter=Q(status=status)) for status in statuses},
        **{f"public_{status}": Count("id", filter=Q(shown_status=status)) for status in public},
    )
    return {
        "signatures": counts["signatures"],
        "people": counts["people"],
        "by_status": {status: counts[f"status_{status}"] for status in statuses},
        "by_public_status": {status: counts[f"public_{status}"] for status in public},
    }


# --- Signatures ---------------------------------------------------------------


def signature_queryset(*, letter: Letter | None = None, include_removed: bool) -> QuerySet:
    """Signatures that stand: merged ones stay as history, out of lists, and
    signatures removed as fake show only to staff.

    The letter is given as a row, not a slug to join: with its id as a literal,
    PostgreSQL knows how many signatures it has and walks its (first_seen_at, id)
    index from the cursor, where a join or a subquery made it sort the whole letter.
    """
    signatures = Signature.objects.filter(merged_into__isnull=True)
    if letter is not None:
        signatures = signatures.filter(letter_id=letter.pk)
    if not include_removed:
        signatures = signatures.exclude(status=Signature.Status.REMOVED)
    return signatures


def signatures_with_source(signatures: QuerySet, source_id: int) -> QuerySet:
    return signatures.filter(
        Exists(Sighting.objects.filter(signature=OuterRef("pk"), source_id=source_id))
    )


def signatures_with_organization(signatures: QuerySet, organization_ids: Sequence[int]) -> QuerySet:
    """Signed in the name of one of these organizations, or by someone
    affiliated with one (none of them: no signature)."""
    if not organization_ids:
        return signatures.none()
    ids = list(organization_ids)
    return signatures.filter(
        Q(organization_id__in=ids)
        | Exists(
            Affiliation.objects.filter(person_id=OuterRef("person_id"), organization_id__in=ids)
        )
    )


def signatures_matching(signatures: QuerySet, text: str) -> QuerySet:
    """Signatures whose person goes by a name close to ``text`` (any spelling seen)."""
    return queryset_search(signatures, text, field="person__search_text", rank=False)


def _sightings_json() -> RawSQL:
    """Each signature's sightings as one JSON array, built by PostgreSQL in the
    page's own query: one round trip, and no row-by-row conversion in Python (the
    times come written as the API writes them).
    Written as SQL because composing it with the ORM cost more than running it."""
    sighting, source = Sighting._meta.db_table, Source._meta.db_table
    signature = Signature._meta.db_table
    sql = (
        "SELECT json_agg(json_build_object("  # noqa: S608 - the table names are ours
        "'source', src.name, 'name', g.name, 'title', g.title, 'affiliation', g.affiliation, "
        "'present', g.present, 'first_seen', "
        f"{utc_iso_sql('g.first_seen_at')}, 'last_seen', {utc_iso_sql(SIGHTING_SEEN_SQL)}"
        ") ORDER BY g.first_seen_at, g.id) "
        f'FROM "{sighting}" g JOIN "{source}" src ON src.id = g.source_id '
        f'WHERE g.signature_id = "{signature}".id'
    )
    return RawSQL(sql, [], output_field=LoadedJSON())  # noqa: S611 - no input in the SQL


def _sightings_inline() -> bool:
    return connection.vendor == "postgresql"


UNLISTED = "unlisted"
PUBLIC_STATUSES = [*Signature.Status.values, UNLISTED]


def public_status() -> Case:
    """The status readers see: as recorded, except that a signature still
    "listed" that no source lists any more (every sighting gone) is "unlisted"."""
    return Case(
        When(
            Q(status=Signature.Status.LISTED)
            & Exists(Sighting.objects.filter(signature=OuterRef("pk")))
            & ~Exists(Sighting.objects.filter(signature=OuterRef("pk"), present=True)),
            then=Value(UNLISTED),
        ),
        default=F("status"),
        output_field=CharField(),
    )


def signature_public_status(signature: Signature) -> str:
    """``public_status`` of one signature whose sightings are at hand."""
    return public_status_of(
        signature.status, [sighting.present for sighting in signature.sightings.all()]
    )


def public_status_of(status: str, present: Sequence[bool]) -> str:
    """``public_status`` of a signature with this status whose sightings are
    ``present`` or not, one flag each."""
    if status == Signature.Status.LISTED and present and not any(present):
        return UNLISTED
    return status


def signatures_as_of(signatures: QuerySet, at: datetime) -> QuerySet:
    """The list as it stood at ``at``: the signatures a source listed then (an
    entry seen by then and not gone at that moment), with the status they had
    then (``status_then``, removed ones left out unless asked for)."""
    last_change = SignatureStatusChange.objects.filter(
        signature=OuterRef("pk"), changed_at__lte=at
    ).order_by("-changed_at", "-id")
    last_presence = SightingEvent.objects.filter(
        sighting=OuterRef("pk"),
        kind__in=[SightingEvent.Kind.GONE, SightingEvent.Kind.BACK],
        at__lte=at,
    ).order_by("-at", "-id")
    listed = (
        Sighting.objects.filter(signature=OuterRef("pk"), first_seen_at__lte=at)
        .annotate(presence=Subquery(last_presence.values("kind")[:1]))
        .filter(Q(presence__isnull=True) | Q(presence=SightingEvent.Kind.BACK))
    )
    # One listed sighting, looked up by each signature's own index entry: as an
    # EXISTS, PostgreSQL would join every sighting of every letter instead (a
    # count over a 100,000-signature letter took a minute).
    return signatures.annotate(
        status_then=Subquery(last_change.values("to_status")[:1]),
        listed_then=Subquery(listed.order_by().values("pk")[:1]),
    ).filter(listed_then__isnull=False, status_then__isnull=False)


def _as_of(signatures: QuerySet) -> bool:
    return "status_then" in signatures.query.annotations


def signature_values(signatures: QuerySet) -> QuerySet:
    """The values of a list's rows; ``attach_sightings`` completes them. When each
    was last seen and its public status are read from its sightings there, not by
    sub-queries per row over the same sightings."""
    then = ["status_then"] if _as_of(signatures) else []
    if not _sightings_inline():
        times = {"first_seen": F("first_seen_at"), "recorded_seen": F("last_seen_at")}
        return signatures.values(*SIGNATURE_VALUES, *then, **times)
    # Times written by PostgreSQL as the API writes them, not read into datetimes
    # and written again row by row.
    times = {"first_seen": APITime("first_seen_at"), "recorded_seen": APITime("last_seen_at")}
    return signatures.values(*SIGNATURE_VALUES, *then, **times).annotate(
        sightings=_sightings_json()
    )


def sightings_by_signature(signature_ids: Iterable[int]) -> dict[int, list[dict]]:
    """Every sighting of these signatures, grouped, in one query."""
    grouped: dict[int, list[dict]] = {}
    rows = (
        sightings_seen(Sighting.objects.filter(signature_id__in=list(signature_ids)))
        .order_by("signature_id", "first_seen_at", "id")
        .values_list(*SIGHTING_VALUES)
    )
    for signature_id, *values in rows:
        grouped.setdefault(signature_id, []).append(dict(zip(SIGHTING_KEYS, values, strict=True)))
    return grouped


def attach_sightings(rows: list[dict]) -> list[dict]:
    """Give each row its sightings (PostgreSQL gave them with the page; elsewhere
    one more query reads them for the whole page), when it was last seen
    (``signature_seen_at``: the latest of its sightings' times, as they were read,
    text or datetime) and its ``public_status``. A list as it stood at a time
    (``signatures_as_of``) shows the statuses of then."""
    if _sightings_inline():
        for row in rows:
            row["sightings"] = row["sightings"] or []
    else:
        grouped = sightings_by_signature(row["id"] for row in rows)
        for row in rows:
            row["sightings"] = grouped.get(row["id"], [])
    for row in rows:
        sightings = row["sightings"]
        row["seen_at"] = max(
            (sighting["last_seen"] for sighting in sightings),
            key=_datetime,
            default=row["recorded_seen"],
        )
        row["public_status"] = public_status_of(
            row["status"], [sighting["present"] for sighting in sightings]
        )
        if "status_then" in row:
            row["status"] = row["public_status"] = row.pop("status_then")
    return rows


def _datetime(value: datetime | str) -> datetime:
    """A time read from the database, or written by PostgreSQL as text inside JSON."""
    return datetime.fromisoformat(value) if isinstance(value, str) else value


def signature_rows(*, ids: list[int]) -> list[dict]:
    rows = list(signature_values(Signature.objects.filter(pk__in=ids)))
    return attach_sightings(rows)


def signature_detail(*, signature_id: int, include_removed: bool) -> Signature | None:
    signatures = Signature.objects.filter(pk=signature_id)
    if not include_removed:
        signatures = signatures.exclude(status=Signature.Status.REMOVED)
    return (
        signatures_seen(signatures)
        .select_related("letter", "person", "organization")
        .prefetch_related(
            Prefetch(
                "sightings", queryset=sightings_seen(Sighting.objects.select_related("source"))
            ),
            Prefetch("status_changes"),
        )
        .first()
    )


CSV_HEADER = [
    "signature_id",
    "letter",
    "person_id",
    "name",
    "status",
    "title",
    "affiliation",
    "first_seen",
    "last_seen",
    "sources",
    "names_as_written",
    "public_status",
]


# The export on PostgreSQL: the signatures' own columns (``{signatures}``, compiled by the
# ORM with the list's filters) and what their sightings say, read in one pass over each
# signature's sightings (a LATERAL join) rather than five sub-queries per row over the
# same index entries (last seen, sources, spellings and public_status's two EXISTS).
# Empty text is NULL (``tracker.db.csv_copy``). Written as SQL: the ORM has no LATERAL.
_CSV_COPY_SQL = (
    "SELECT b.id, NULLIF(b.shown_letter, ''), b.person_id, NULLIF(b.shown_name, ''), "  # noqa: S608 - no input in the SQL
    "{status}, NULLIF(b.shown_title, ''), NULLIF(b.shown_affiliation, ''), b.first_seen, "
    "{last_seen}, NULLIF(regexp_replace(a.sources, %s, %s), ''), "
    "NULLIF(regexp_replace(a.names, %s, %s), ''), {public_status} "
    "FROM ({signatures}) b CROSS JOIN LATERAL ("
    f"SELECT max({SIGHTING_SEEN_SQL}) AS seen_at, "
    "string_agg(DISTINCT src.name, '; ' ORDER BY src.name) AS sources, "
    "string_agg(DISTINCT g.name, '; ' ORDER BY g.name) AS names, "
    "count(*) AS sightings, bool_or(g.present) AS present "
    f'FROM "{Sighting._meta.db_table}" g JOIN "{Source._meta.db_table}" src '
    "ON src.id = g.source_id WHERE g.signature_id = b.id) a "
    "ORDER BY {ordering}"
)
# ``public_status()`` over the pass's count of sightings and whether any is present.
_CSV_PUBLIC_STATUS_SQL = (
    f"CASE WHEN b.status = '{Signature.Status.LISTED}' AND a.sightings > 0 AND NOT a.present "
    f"THEN '{UNLISTED}' ELSE b.status END"
)


def signature_csv_records(signatures: QuerySet, *, ordering: tuple[str, ...]) -> Iterator[bytes]:
    """The records of a CSV export (``CSV_HEADER``), their formulas neutralised, for
    ``csv_response(..., written=True)``. On PostgreSQL the database writes them
    (``tracker.db.csv_copy``), streamed as it reads the rows; elsewhere they are read
    through a server-side cursor in chunks, one query per chunk reading the sightings.
    Memory holds a chunk, never the export."""
    then = _as_of(signatures)
    if not _sightings_inline():
        yield from csv_records(_signature_csv_rows(signatures.order_by(*ordering)))
        return
    sort = {f"sort_{index}": F(name.lstrip("-")) for index, name in enumerate(ordering)}
    columns = signatures.order_by().values_list("id", "person_id", "status", "last_seen_at")
    columns = columns.annotate(
        shown_letter=Neutralised("letter__slug"),
        shown_name=Neutralised("person__display_name"),
        shown_title=Neutralised("title"),
        shown_affiliation=Neutralised("affiliation"),
        first_seen=UTCText("first_seen_at"),
        **({"shown_then": F("status_then")} if then else {}),
        **sort,
    )
    inner, inner_params = columns.query.sql_with_params()
    sql = _CSV_COPY_SQL.format(
        signatures=inner,
        status="b.shown_then" if then else "b.status",
        last_seen=UTCText.template % {"expressions": "COALESCE(a.seen_at, b.last_seen_at)"},
        public_status="b.shown_then" if then else _CSV_PUBLIC_STATUS_SQL,
        ordering=", ".join(
            f"b.{key} {'DESC' if name.startswith('-') else 'ASC'}"
            for key, name in zip(sort, ordering, strict=True)
        ),
    )
    params = [FORMULA_START, FORMULA_QUOTED, FORMULA_START, FORMULA_QUOTED, *inner_params]
    yield from csv_copy(sql, params)


def _signature_csv_rows(signatures: QuerySet) -> Iterator[list]:
    rows = signature_values(signatures).iterator(chunk_size=CSV_CHUNK)
    while chunk := list(islice(rows, CSV_CHUNK)):
        for row in attach_sightings(chunk):
            sightings = row["sightings"]
            yield [
                neutralise(value)
                for value in (
                    *(row[name] for name in SIGNATURE_VALUES[:7]),
                    iso_datetime(row["first_seen"]),
                    iso_datetime(row["seen_at"]),
                    "; ".join(sorted({sighting["source"] for sighting in sightings})),
                    "; ".join(sorted({sighting["name"] for sighting in sightings})),
                    row["public_status"],
                )
            ]


# --- Sources and runs ---------------------------------------------------------


def source_list(*, letter_slug: str = "", kind: str = "", enabled: bool | None = None):
    sources = Source.objects.select_related("letter")
    if letter_slug:
        sources = sources.filter(letter__slug=letter_slug)
    if kind:
        sources = sources.filter(kind=kind)
    if enabled is not None:
        sources = sources.filter(enabled=enabled)
    return sources.order_by("letter__slug", "name", "id")


def sync_run_list(
    *, source_id: int | None = None, letter_slug: str = "", outcome: str = ""
) -> QuerySet[SyncRun]:
    runs = SyncRun.objects.select_related("source__letter", "requested_by").defer("diff", "error")
    if source_id is not None:
        runs = runs.filter(source_id=source_id)
    if letter_slug:
        runs = runs.filter(source__letter__slug=letter_slug)
    if outcome:
        runs = runs.filter(outcome=outcome)
    return runs


def sighting_seen_at(prefix: str = "") -> Case:
    """When a sighting was last seen listed, as an expression (``prefix``: the
    path to the sighting, such as ``"sightings__"``).

    A run writes only the entries it adds, changes, brings back or loses: an
    entry listed exactly as before keeps the ``last_seen_at`` of the run that
    last wrote it, and every later good run of its source (``last_synced_at``)
    saw it too, since it is still present. A gone entry's ``last_seen_at`` is
    the last run that listed it, stored when it went.
    """
    synced = F(f"{prefix}source__last_synced_at")
    return Case(
        When(
            Q(**{f"{prefix}present": True})
            & Q(**{f"{prefix}source__last_synced_at__gt": F(f"{prefix}last_seen_at")}),
            then=synced,
        ),
        default=F(f"{prefix}last_seen_at"),
    )


def signature_seen_at() -> Coalesce:
    """When any source last listed a signature, as an expression: the latest
    of its sightings' (``sighting_seen_at``), or its own ``last_seen_at`` when
    it has none (an editor's entry). A subquery per signature, so that a page
    reads it for its own rows only and keeps walking its index."""
    latest = (
        Sighting.objects.filter(signature=OuterRef("pk"))
        .order_by()
        .values("signature")
        .annotate(at=Max(sighting_seen_at()))
        .values("at")
    )
    return Coalesce(Subquery(latest), F("last_seen_at"))


def sighting_last_run(sighting: Sighting) -> SyncRun | None:
    """The run that last listed a sighting: its source's latest good run while
    the source still lists it and ran since it was written, else the one stored."""
    synced = sighting.source.last_synced_at
    if sighting.present and synced is not None and synced > sighting.last_seen_at:
        latest = (
            SyncRun.objects.filter(
                source_id=sighting.source_id,
                outcome__in=[SyncRun.Outcome.SUCCEEDED, SyncRun.Outcome.UNCHANGED],
            )
            .order_by("-finished_at", "-id")
            .first()
        )
        if latest is not None:
            return latest
    return sighting.last_run


def sightings_seen(sightings: QuerySet) -> QuerySet:
    """Annotate ``seen_at``: when each sighting was last seen listed."""
    return sightings.annotate(seen_at=sighting_seen_at())


def signatures_seen(signatures: QuerySet) -> QuerySet:
    """Annotate ``seen_at``: when any source last listed each signature."""
    return signatures.annotate(seen_at=signature_seen_at())


# --- Journalists' questions: overlap, timeline, an organization's signatories ---

# Who signed, for the questions below: standing signatures, not retracted or removed.
NOT_SIGNED = (Signature.Status.RETRACTED, Signature.Status.REMOVED)


def signed(signatures: QuerySet) -> QuerySet:
    return signatures.filter(merged_into__isnull=True).exclude(status__in=NOT_SIGNED)


@dataclass
class Overlap:
    letter: Letter
    shared: int
    jaccard: float


def letter_overlap(*, letter: Letter) -> list[Overlap]:
    """The other letters ranked by how many people signed both, with the Jaccard
    index of the two lists (shared / signed either), in two queries."""
    mine = signed(Signature.objects.filter(letter_id=letter.pk)).values("person_id")
    shared = dict(
        signed(Signature.objects.filter(person_id__in=mine))
        .exclude(letter_id=letter.pk)
        .order_by()
        .values("letter_id")
        .annotate(n=Count("person_id", distinct=True))
        .values_list("letter_id", "n")
    )
    sizes = dict(
        signed(Signature.objects.filter(letter_id__in=[letter.pk, *shared]))
        .order_by()
        .values("letter_id")
        .annotate(n=Count("person_id", distinct=True))
        .values_list("letter_id", "n")
    )
    letters = Letter.objects.only("id", "slug", "title").in_bulk(list(shared))
    own = sizes.get(letter.pk, 0)
    ranked = [
        Overlap(letters[pk], n, round(n / (own + sizes.get(pk, 0) - n), 4))
        for pk, n in shared.items()
    ]
    return sorted(ranked, key=lambda item: (-item.shared, -item.jaccard, item.letter.slug))


def people_who_signed_both(*, letter: Letter, other: Letter) -> QuerySet:
    """The people who signed both letters, by family name."""
    both = Exists(signed(Signature.objects.filter(person=OuterRef("pk"), letter_id=other.pk)))
    return (
        Person.objects.filter(
            Exists(signed(Signature.objects.filter(person=OuterRef("pk"), letter_id=letter.pk))),
            both,
        )
        .only("id", "display_name", "sort_key")
        .order_by("sort_key", "id")
    )


def signatures_of(
    *, person_ids: Iterable[int], letter_ids: Iterable[int] | None = None
) -> dict[int, list[dict]]:
    """The signatures of these people (on these letters, or any one they signed),
    by person, oldest first, with the public status, in one query."""
    rows = signed(Signature.objects.filter(person_id__in=list(person_ids)))
    if letter_ids is not None:
        rows = rows.filter(letter_id__in=list(letter_ids))
    rows = (
        rows.annotate(shown_status=public_status(), seen_at=signature_seen_at())
        .values(
            "id",
            "person_id",
            "letter_id",
            "letter__slug",
            "status",
            "shown_status",
            "first_seen_at",
            "seen_at",
        )
        .order_by("first_seen_at", "id")
    )
    grouped: dict[int, list[dict]] = {}
    for row in rows:
        grouped.setdefault(row["person_id"], []).append(
            {
                "id": row["id"],
                "letter": row["letter__slug"],
                "status": row["status"],
                "public_status": row["shown_status"],
                "first_seen": row["first_seen_at"],
                "last_seen": row["seen_at"],
            }
        )
    return grouped


def shared_csv_rows(people: QuerySet, *, letters: list[Letter]) -> Iterator[list]:
    """CSV rows of the people who signed both letters: id, name and the public
    status on each, read in chunks with one query for each chunk's signatures."""
    rows = people.iterator(chunk_size=CSV_CHUNK)
    while chunk := list(islice(rows, CSV_CHUNK)):
        signatures = signatures_of(
            person_ids=[person.pk for person in chunk], letter_ids=[letter.pk for letter in letters]
        )
        for person in chunk:
            status = {row["letter"]: row["public_status"] for row in signatures.get(person.pk, [])}
            yield [
                person.pk,
                person.display_name,
                *(status.get(letter.slug, "") for letter in letters),
            ]


def person_timeline(*, person_id: int, include_removed: bool) -> dict:
    """Every letter the person signed, when first and last seen and by which
    sources, and what happened, in time order: sources listing, dropping and
    listing again each entry, status changes with their reasons, merges,
    splits and changes of the name shown. Seven queries whatever the number of
    letters, each reading only the columns shown."""
    signatures = list(
        Signature.objects.filter(person_id=person_id, merged_into__isnull=True)
        .exclude(status__in=[] if include_removed else [Signature.Status.REMOVED])
        .annotate(shown_status=public_status(), seen_at=signature_seen_at())
        .order_by("first_seen_at", "id")
        .values_list(
            "id", "letter__slug", "letter__title", "status", "shown_status", "first_seen_at",
            "seen_at",
        )
    )  # fmt: skip
    slug_of = {row[0]: row[1] for row in signatures}
    sightings = list(
        Sighting.objects.filter(signature_id__in=list(slug_of))
        .order_by("first_seen_at", "id")
        .values_list("id", "signature_id", "first_seen_at", "source__name", "name")
    )
    events: list[dict] = [
        {"at": at, "kind": "listed", "letter": slug_of[signature], "source": source, "name": name}
        for _pk, signature, at, source, name in sightings
    ]
    entry_of = {
        pk: (slug_of[signature], source, name) for pk, signature, _at, source, name in sightings
    }
    for at, kind, sighting in (
        SightingEvent.objects.filter(
            sighting_id__in=list(entry_of),
            kind__in=[SightingEvent.Kind.GONE, SightingEvent.Kind.BACK],
        )
        .order_by("at", "id")
        .values_list("at", "kind", "sighting_id")
    ):
        slug, source, name = entry_of[sighting]
        events.append({"at": at, "kind": kind, "letter": slug, "source": source, "name": name})
    # The first record of each signature's history is its listing, told above.
    changes = (
        SignatureStatusChange.objects.filter(signature_id__in=list(slug_of))
        .exclude(from_status="")
        .order_by("changed_at", "id")
        .values_list(
            "changed_at", "signature_id", "from_status", "to_status", "reason", "evidence_url"
        )
    )
    for at, signature, before, after, reason, evidence_url in changes:
        events.append(
            {
                "at": at,
                "kind": "status_changed",
                "letter": slug_of[signature],
                "before": before,
                "after": after,
                "reason": reason,
                "evidence_url": evidence_url,
            }
        )
    merges = Merge.objects.filter(Q(survivor_id=person_id) | Q(merged_id=person_id)).values_list(
        "created_at", "merged_id", "merged_name", "survivor_id", "survivor_name", "reason",
        "undone_at", "undo_reason",
    )  # fmt: skip
    for at, merged, merged_name, survivor, survivor_name, reason, undone_at, undo_reason in merges:
        people = {
            "person": {"id": merged, "name": merged_name},
            "into": {"id": survivor, "name": survivor_name},
        }
        events.append({"at": at, "kind": "merged", **people, "reason": reason})
        if undone_at:
            events.append({"at": undone_at, "kind": "unmerged", **people, "reason": undo_reason})
    splits = Split.objects.filter(Q(person_id=person_id) | Q(new_person_id=person_id)).values_list(
        "created_at", "person_id", "person_name", "new_person_id", "new_person_name", "reason"
    )
    for at, person, person_name, new_person, new_person_name, reason in splits:
        events.append(
            {
                "at": at,
                "kind": "split",
                "person": {"id": person, "name": person_name},
                "into": {"id": new_person, "name": new_person_name},
                "reason": reason,
            }
        )
    causes = dict(PersonRename.Cause.choices)
    renames = PersonRename.objects.filter(person_id=person_id).values_list(
        "created_at", "before", "after", "cause"
    )
    for at, before, after, cause in renames:
        events.append(
            {
                "at": at,
                "kind": "renamed",
                "before": before,
                "after": after,
                "reason": str(causes.get(cause, cause)),
            }
        )
    events.sort(key=lambda event: event["at"])
    sources: dict[int, list[str]] = {}
    for _pk, signature, _at, source, _name in sightings:
        names = sources.setdefault(signature, [])
        if source not in names:
            names.append(source)
    letters = [
        {
            "letter": {"slug": slug, "title": title},
            "signature": pk,
            "status": status,
            "public_status": shown_status,
            "first_seen": first_seen,
            "last_seen": seen_at,
            "sources": sources.get(pk, []),
        }
        for pk, slug, title, status, shown_status, first_seen, seen_at in signatures
    ]
    return {"letters": letters, "events": events}


def organization_signatories(*, organization_ids: Sequence[int], letter: Letter | None) -> QuerySet:
    """Active people affiliated with one of these organizations, or who signed in
    the name of one, and who signed a letter (``letter``: that one), by name."""
    ids = list(organization_ids)
    people = Person.objects.filter(merged_into__isnull=True).only("id", "display_name", "sort_key")
    if not ids:
        return people.none()
    signatures = signed(Signature.objects.filter(person=OuterRef("pk")))
    if letter is not None:
        signatures = signatures.filter(letter_id=letter.pk)
    # Who is affiliated or signed in its name, read from the organization's side
    # (its affiliations and signatures, by index) rather than tested person by
    # person, then those of them who signed.
    affiliated = Affiliation.objects.filter(organization_id__in=ids).order_by().values("person_id")
    in_its_name = (
        signed(Signature.objects.filter(organization_id__in=ids)).order_by().values("person_id")
    )
    return (
        people.filter(pk__in=affiliated.union(in_its_name))
        .filter(Exists(signatures))
        .order_by("sort_key", "id")
    )


def organization_letter_counts(people: QuerySet, *, letter: Letter | None) -> list[dict]:
    """How many of these people signed each letter, most first, in one query."""
    signatures = signed(Signature.objects.filter(person_id__in=people.values("pk")))
    if letter is not None:
        signatures = signatures.filter(letter_id=letter.pk)
    rows = (
        signatures.order_by()
        .values("letter__slug", "letter__title")
        .annotate(people=Count("person_id", distinct=True))
        .order_by("-people", "letter__slug")
    )
    return [
        {
            "letter": {"slug": row["letter__slug"], "title": row["letter__title"]},
            "people": row["people"],
        }
        for row in rows
    ]
