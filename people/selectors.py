"""Reads on people, organizations and duplicate judgements, shaped for the API."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field

from django.contrib.postgres.search import TrigramWordSimilarity
from django.db import connection
from django.db.models import (
    Case,
    Count,
    Exists,
    FloatField,
    IntegerField,
    OuterRef,
    Prefetch,
    Q,
    QuerySet,
    Subquery,
    Value,
    When,
    prefetch_related_objects,
)
from django.db.models.functions import Coalesce
from rapidfuzz import fuzz

from people.matching.normalize import fold
from people.matching.organizations import organization_key
from people.models import (
    Affiliation,
    MatchJudgement,
    MatchRun,
    Merge,
    Organization,
    Person,
    PersonName,
    Split,
)
from tracker.db import CompiledQuery

MAX_SEARCH_LENGTH = 200
# Shorter queries have no trigram to look up: they are matched as substrings.
MIN_TRIGRAM_LENGTH = 3
AFFILIATED_SHOWN = 100


def search_folded(text: str) -> str:
    """The query folded as the stored ``search_text`` is: "Cuarón" -> "cuaron"."""
    return fold((text or "").replace("\x00", " ")[:MAX_SEARCH_LENGTH])


def queryset_search(
    queryset: QuerySet,
    text: str,
    *,
    field: str = "search_text",
    rank: bool = True,
    vendor: str | None = None,
) -> QuerySet:
    """Rows whose folded names contain the query or come close to it, best first:
    the one search of people and organizations, for the API and the admin alike.

    ``search_text`` is folded in Python by ``fold`` (transliteration, case,
    punctuation), and so is the query, which covers what ``unaccent`` would and
    more scripts besides. Close matches are found on every database ("gylenhall"
    finds "Gyllenhaal", "stiler" Stiller, "cuar" Cuarón): on PostgreSQL by the
    trigram GIN index; on SQLite (the embedded default) the FTS5 trigram index
    proposes the texts sharing most trigrams with the query, which
    ``search_score`` then keeps or drops. Queries too short for trigrams match
    as substrings, every word of the query appearing.

    A query of nothing but punctuation or symbols (``%``, ``_``, ``\\``) has no
    word to look for, and finds nothing; a blank one searches nothing.
    """
    if not (text or "").strip():
        return queryset
    folded = search_folded(text)
    if not folded:
        return queryset.none()
    vendor = vendor or connection.vendor
    if vendor == "postgresql" and len(folded) >= MIN_TRIGRAM_LENGTH:
        # "%>": some run of the stored text is close to the query, by trigrams.
        queryset = queryset.filter(**{f"{field}__trigram_word_similar": folded})
        if rank:
            queryset = queryset.annotate(search_rank=TrigramWordSimilarity(folded, field)).order_by(
                "-search_rank", "pk"
            )
        return queryset
    if vendor == "sqlite" and any(len(word) >= MIN_TRIGRAM_LENGTH for word in folded.split()):
        return _sqlite_search(queryset, folded, field=field, rank=rank)
    for word in folded.split():
        queryset = queryset.filter(**{f"{field}__contains": word})
    return queryset


# SQLite's full-text tables of folded names (migration people 0008), by the
# table whose ``search_text`` they index.
SQLITE_SEARCH_TABLES = {
    "people_person": "people_person_search",
    "people_organization": "people_organization_search",
}
# How many texts sharing the most trigrams with the query are scored, and the
# score (0 to 100) a text needs to be found.
SQLITE_CANDIDATES = 500
SEARCH_MIN_SCORE = 75.0


def _trigrams(word: str) -> set[str]:
    return {word[start : start + 3] for start in range(len(word) - 2)}


def search_score(folded_query: str, search_text: str) -> float:
    """How close a folded query comes to the best of the folded names in a
    ``search_text`` ("name | other spelling"), from 0 to 100: the mean, over the
    query's words, of how close each comes to the nearest word of that name
    (a word the query starts counts as equal: "cuar" for "cuaron"), or how
    close the query comes to a run of the name with spaces left out, whichever is
    higher ("mc cartney" for "paul mccartney")."""
    words = folded_query.split()
    joined = "".join(words)
    best = 0.0
    for name in search_text.split(" | "):
        name_words = name.split()
        if not name_words:
            continue
        total = 0.0
        for word in words:
            total += max(
                100.0
                if len(word) >= MIN_TRIGRAM_LENGTH and other.startswith(word)
                else fuzz.ratio(word, other)
                for other in name_words
            )
        together = fuzz.partial_ratio(joined, "".join(name_words))
        best = max(best, total / len(words), together)
    return best


def _sqlite_search(queryset: QuerySet, folded: str, *, field: str, rank: bool) -> QuerySet:
    model = queryset.model
    *path, _column = field.split("__")
    for part in path:
        model = model._meta.get_field(part).related_model
    table = connection.ops.quote_name(SQLITE_SEARCH_TABLES[model._meta.db_table])
    trigrams = sorted(set().union(*(_trigrams(word) for word in folded.split())))
    # Folded text is letters, digits and spaces only: each trigram is a safe phrase.
    match = " OR ".join(f'"{trigram}"' for trigram in trigrams)
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT rowid, search_text FROM {table} WHERE {table} MATCH %s "  # noqa: S608
            "ORDER BY rank LIMIT %s",
            [match, SQLITE_CANDIDATES],
        )
        scored = [(search_score(folded, text), pk) for pk, text in cursor.fetchall()]
    found = sorted(((-score, pk) for score, pk in scored if score >= SEARCH_MIN_SCORE))
    prefix = "".join(f"{part}__" for part in path)
    queryset = queryset.filter(**{f"{prefix}pk__in": [pk for _score, pk in found]})
    if rank and found:
        queryset = queryset.annotate(
            search_rank=Case(
                *(When(**{f"{prefix}pk": pk}, then=Value(-score)) for score, pk in found),
                output_field=FloatField(),
            )
        ).order_by("-search_rank", "pk")
    return queryset


# --- People -------------------------------------------------------------------


def person_list(
    *,
    search: str = "",
    letter_slug: str = "",
    organization_ids: Iterable[int] | None = None,
    include_removed: bool = False,
) -> QuerySet[Person]:
    """Active people (not merged into another), filtered and searched;
    ``organization_ids``: affiliated with one of these organizations or
    signed in its name (none of them: nobody)."""
    from letters.models import Signature

    people = Person.objects.filter(merged_into__isnull=True).only(
        "id", "display_name", "sort_name", "external_ids"
    )
    if letter_slug:
        signed = Signature.objects.filter(
            person=OuterRef("pk"), letter__slug=letter_slug, merged_into__isnull=True
        )
        if not include_removed:
            signed = signed.exclude(status=Signature.Status.REMOVED)
        people = people.filter(Exists(signed))
    if organization_ids is not None:
        ids = list(organization_ids)
        if not ids:
            return people.none()
        people = people.filter(
            Exists(Affiliation.objects.filter(person=OuterRef("pk"), organization_id__in=ids))
            | Exists(Signature.objects.filter(person=OuterRef("pk"), organization_id__in=ids))
        )
    if search:
        people = queryset_search(people, search)
    return people


PERSON_EXPORT_HEADER = ["id", "name", "sort_name", "external_ids"]
EXPORT_CHUNK = 2000


def person_export_rows(people: QuerySet[Person]) -> Iterator[dict]:
    """The people of a filtered list as export rows, read in chunks."""
    rows = people.values_list("id", "display_name", "sort_name", "external_ids")
    for pk, name, sort_name, external_ids in rows.iterator(chunk_size=EXPORT_CHUNK):
        yield {"id": pk, "name": name, "sort_name": sort_name, "external_ids": external_ids or {}}


def person_record(person_id: int) -> Person | None:
    """A person's record, merged into another or not."""
    return Person.objects.filter(pk=person_id).first()


def person_detail(
    *, person_id: int, include_removed: bool, with_sightings: bool = False
) -> Person | None:
    """A person with every name seen and its source, affiliations and signatures;
    ``with_sightings`` adds each signature's sightings (``sightings_shown``),
    whose ids a split takes."""
    # Reads only: when each was last seen follows the letters' own rule.
    from letters.models import Sighting, Signature
    from letters.selectors import sightings_seen, signatures_seen

    signatures = (
        signatures_seen(Signature.objects.filter(merged_into__isnull=True))
        .select_related("letter")
        .only(
            "id",
            "person_id",
            "status",
            "title",
            "affiliation",
            "first_seen_at",
            "last_seen_at",
            "letter__slug",
            "letter__title",
        )
        .order_by("-first_seen_at", "id")
    )
    if not include_removed:
        signatures = signatures.exclude(status=Signature.Status.REMOVED)
    if with_sightings:
        signatures = signatures.prefetch_related(
            Prefetch(
                "sightings",
                queryset=sightings_seen(Sighting.objects.select_related("source"))
                .only(
                    "id",
                    "signature_id",
                    "name",
                    "title",
                    "affiliation",
                    "present",
                    "first_seen_at",
                    "last_seen_at",
                    "source__id",
                    "source__name",
                )
                .order_by("source__name", "first_seen_at", "id"),
                to_attr="sightings_shown",
            )
        )
    return (
        Person.objects.filter(pk=person_id)
        .prefetch_related(*_person_facts(signatures, shown_only=True))
        .first()
    )


# --- A person's page, as the public reads it ----------------------------------
# Four reads of fixed shape, compiled once per connection (tracker.db.CompiledQuery):
# the page is asked for far more often than anything else, and building and
# compiling four querysets cost ten times what running them does.

PERSON_SHOWN = (
    "id",
    "display_name",
    "sort_name",
    "external_ids",
    "given_name",
    "middle_name",
    "family_name",
    "honorific",
    "suffix",
    "merged_into_id",
)


def _page_person(person_id: int) -> QuerySet:
    return Person.objects.filter(pk=person_id).values_list(*PERSON_SHOWN)


def _page_names(person_id: int) -> QuerySet:
    return (
        PersonName.objects.filter(person_id=person_id)
        .order_by("name", "first_seen_at", "id")
        .values_list("name", "first_seen_at", "source_id", "source__name", "source__letter__slug")
    )


def _page_affiliations(person_id: int) -> QuerySet:
    return Affiliation.objects.filter(person_id=person_id).values_list(
        "organization_id",
        "organization__slug",
        "organization__name",
        "role",
        "start_date",
        "end_date",
        "source__name",
        "evidence_url",
    )


def _page_signatures(person_id: int) -> QuerySet:
    # Reads only: when each was last seen follows the letters' own rule.
    from letters.models import Signature
    from letters.selectors import signatures_seen

    return (
        signatures_seen(Signature.objects.filter(person_id=person_id, merged_into__isnull=True))
        .exclude(status=Signature.Status.REMOVED)
        .order_by("-first_seen_at", "id")
        .values_list(
            "id",
            "letter__slug",
            "letter__title",
            "status",
            "title",
            "affiliation",
            "first_seen_at",
            "seen_at",
        )
    )


_PAGE_PERSON = CompiledQuery(_page_person)
_PAGE_NAMES = CompiledQuery(_page_names)
_PAGE_AFFILIATIONS = CompiledQuery(_page_affiliations)
_PAGE_SIGNATURES = CompiledQuery(_page_signatures)


@dataclass
class PersonPage:
    """What ``person_detail`` gives the public, as rows: ``person`` in the order of
    ``PERSON_SHOWN``; ``names`` (name, first seen, source id, source name, its
    letter's slug) by name; ``affiliations`` (organization id, slug and name, role,
    start, end, source name, evidence) by organization name; ``signatures`` (id,
    letter slug and title, status, title, affiliation, first seen, last seen) by
    first seen, latest first, removed ones left out."""

    person: tuple
    names: list[tuple] = field(default_factory=list)
    affiliations: list[tuple] = field(default_factory=list)
    signatures: list[tuple] = field(default_factory=list)

    @property
    def merged_into_id(self) -> int | None:
        return self.person[-1]


def person_page(person_id: int) -> PersonPage | None:
    """A person's public page in four queries of fixed shape; the facts are left
    unread for a person merged into another (whose page is the survivor's)."""
    found = _PAGE_PERSON.rows(person_id)
    if not found:
        return None
    page = PersonPage(person=found[0])
    if page.merged_into_id is None:
        page.names = _PAGE_NAMES.rows(person_id)
        page.affiliations = _PAGE_AFFILIATIONS.rows(person_id)
        page.signatures = _PAGE_SIGNATURES.rows(person_id)
    return page


# What a person's page shows of each name and affiliation: reading only these
# columns keeps the three joined tables' other columns out of the query to build.
_NAME_SHOWN = (
    "id",
    "person_id",
    "name",
    "first_seen_at",
    "source__id",
    "source__name",
    "source__letter__id",
    "source__letter__slug",
)
_AFFILIATION_SHOWN = (
    "id",
    "person_id",
    "role",
    "start_date",
    "end_date",
    "evidence_url",
    "organization__id",
    "organization__slug",
    "organization__name",
    "source__id",
    "source__name",
)


def _person_facts(signatures: QuerySet, *, shown_only: bool = False) -> list[Prefetch]:
    """A person's names with their sources, affiliations with their organization
    and source, and ``signatures`` as ``signatures_shown``."""
    names = PersonName.objects.select_related("source__letter").order_by(
        "name", "first_seen_at", "id"
    )
    if shown_only:
        names = names.only(*_NAME_SHOWN)
        affiliations = Affiliation.objects.select_related("organization", "source").only(
            *_AFFILIATION_SHOWN
        )
    else:
        affiliations = Affiliation.objects.select_related("organization", "source__letter")
    return [
        Prefetch("names", queryset=names),
        Prefetch("affiliations", queryset=affiliations),
        Prefetch("signatures", queryset=signatures, to_attr="signatures_shown"),
    ]


def person_names_by_spelling(person: Person) -> list[dict]:
    """The names seen for a person, each with the sources that wrote it so."""
    grouped: dict[str, dict] = {}
    for person_name in person.names.all():
        entry = grouped.setdefault(
            person_name.name,
            {"name": person_name.name, "first_seen": person_name.first_seen_at, "sources": []},
        )
        entry["first_seen"] = min(entry["first_seen"], person_name.first_seen_at)
        if person_name.source is not None:
            entry["sources"].append(person_name.source)
    return list(grouped.values())


# --- Organizations ------------------------------------------------------------


def organization_list(*, search: str = "", kind: str = "", country: str = "") -> QuerySet:
    from letters.models import LetterTarget

    organizations = Organization.objects.select_related("parent").prefetch_related(
        Prefetch(
            "letter_targets",
            queryset=LetterTarget.objects.select_related("letter").order_by("letter__slug", "role"),
        )
    )
    if kind:
        organizations = organizations.filter(kind=kind)
    if country:
        organizations = organizations.filter(country=country.upper())
    if search:
        organizations = queryset_search(organizations, search)
    return organizations


ORGANIZATION_EXPORT_HEADER = [
    "id",
    "slug",
    "name",
    "kind",
    "country",
    "parent",
    "aliases",
    "external_ids",
]


def organization_export_rows(organizations: QuerySet[Organization]) -> Iterator[dict]:
    """The organizations of a filtered list as export rows (``parent`` by its
    slug), read in chunks."""
    rows = organizations.prefetch_related(None).values_list(
        "id", "slug", "name", "kind", "country", "parent__slug", "aliases", "external_ids"
    )
    for values in rows.iterator(chunk_size=EXPORT_CHUNK):
        row = dict(zip(ORGANIZATION_EXPORT_HEADER, values, strict=True))
        row["parent"] = row["parent"] or None
        row["aliases"] = row["aliases"] or []
        row["external_ids"] = row["external_ids"] or {}
        yield row


def organization_keys() -> dict[str, int]:
    """The organization each key of a name or alias stands for, in one query.
    A key two organizations share is left out: an affiliation stated so is
    linked to neither."""
    owners: dict[str, set[int]] = {}
    for pk, name, aliases in Organization.objects.order_by().values_list("pk", "name", "aliases"):
        texts = [name, *(alias for alias in aliases or [] if isinstance(alias, str))]
        for key in {organization_key(text) for text in texts} - {""}:
            owners.setdefault(key, set()).add(pk)
    return {key: next(iter(ids)) for key, ids in owners.items() if len(ids) == 1}


def organization_resolver() -> Callable[[str], int | None]:
    """The organization an affiliation as stated refers to, by the key of its
    name or an alias, or None. The keys (``organization_keys``) are read once,
    when the first affiliation is resolved."""
    keys: dict[str, int] | None = None
    found: dict[str, int | None] = {}

    def resolve(text: str) -> int | None:
        nonlocal keys
        if not text:
            return None
        if text not in found:
            if keys is None:
                keys = organization_keys()
            found[text] = keys.get(organization_key(text)) if keys else None
        return found[text]

    return resolve


def organization_and_below(reference: int | str) -> list[int]:
    """The organization with this id (a number) or slug, and every one under it,
    however deep (a studio under its company), in one query; empty for none."""
    table = connection.ops.quote_name(Organization._meta.db_table)
    column = "id" if isinstance(reference, int) else "slug"
    with connection.cursor() as cursor:
        cursor.execute(
            f"WITH RECURSIVE tree(id) AS ("  # noqa: S608 - the names are ours
            f"  SELECT id FROM {table} WHERE {column} = %s"
            f"  UNION SELECT o.id FROM {table} o JOIN tree ON o.parent_id = tree.id"
            ") SELECT id FROM tree ORDER BY id",
            [reference],
        )
        return [row[0] for row in cursor.fetchall()]


def organization_affiliated(organization: Organization) -> tuple[list[Affiliation], int]:
    """The first affiliations of an organization (current people first) and how many
    there are in all; the full list is ``/api/people/?organization=ID``."""
    affiliations = Affiliation.objects.filter(
        organization=organization, person__merged_into__isnull=True
    )
    total = affiliations.aggregate(n=Count("id"))["n"]
    shown = list(
        affiliations.select_related("person").order_by("person__sort_name", "id")[:AFFILIATED_SHOWN]
    )
    return shown, total


# --- Duplicates ---------------------------------------------------------------


def _signature_count(person_field: str) -> Coalesce:
    """How many letters the judgement's person signed (signatures kept after
    merges), as a correlated subquery that uses the signature's person index."""
    from letters.models import Signature

    rows = (
        Signature.objects.filter(person=OuterRef(person_field), merged_into__isnull=True)
        .order_by()
        .values("person")
        .annotate(n=Count("pk"))
        .values("n")
    )
    return Coalesce(Subquery(rows, output_field=IntegerField()), 0)


def judgement_list(*, decision: str | None = MatchJudgement.Decision.PENDING) -> QuerySet:
    """Judgements, best score first and, among equal scores, the pairs that carry
    the most signatures together (``impact``): deciding those first fixes the most
    lists."""
    judgements = MatchJudgement.objects.select_related(
        "person_a", "person_b", "decided_by"
    ).annotate(impact=_signature_count("person_a") + _signature_count("person_b"))
    if decision:
        judgements = judgements.filter(decision=decision)
    return judgements.order_by("-score", "-impact", "id")


def review_queue(*, person_id: int | None = None) -> QuerySet:
    """Pending pairs in the order an editor should decide them, optionally only
    those involving one person."""
    judgements = judgement_list(decision=MatchJudgement.Decision.PENDING)
    if person_id is not None:
        judgements = judgements.filter(Q(person_a_id=person_id) | Q(person_b_id=person_id))
    return judgements


def people_for_review(people: Iterable[Person]) -> None:
    """Load what an editor compares, for any number of people in four queries:
    every name with the source that gave it, affiliations with their organization
    and source, and the letters signed (``signatures_shown``) with the source of
    each sighting."""
    from letters.models import Sighting, Signature

    signatures = (
        Signature.objects.filter(merged_into__isnull=True)
        .select_related("letter")
        .prefetch_related(
            Prefetch(
                "sightings",
                queryset=Sighting.objects.select_related("source").order_by(
                    "source__name", "first_seen_at", "id"
                ),
            )
        )
        .order_by("letter__title", "id")
    )
    prefetch_related_objects(list(people), *_person_facts(signatures))


def match_run_list() -> QuerySet:
    return MatchRun.objects.select_related("requested_by")


# --- Merges and splits --------------------------------------------------------


def merge_list(*, person_id: int | None = None, undone: bool | None = None) -> QuerySet[Merge]:
    """Merges with who made and who undid each; ``person_id`` on either side.
    What moved (``moved``, thousands of ids for a large merge) is left unread."""
    merges = Merge.objects.select_related("by", "undone_by").defer("moved")
    if person_id is not None:
        merges = merges.filter(Q(survivor_id=person_id) | Q(merged_id=person_id))
    if undone is not None:
        merges = merges.filter(undone_at__isnull=not undone)
    return merges


def merge_people_named(merge: Merge) -> list[dict]:
    """The records a merge brought in that an undo can still take back out (none
    once it is undone), each with the name it shows."""
    from people.merging.undo import merge_people

    if merge.undone_at is not None:
        return []
    ids = merge_people(merge)
    names = dict(Person.objects.filter(pk__in=ids).values_list("pk", "display_name"))
    return [{"id": pk, "name": names[pk]} for pk in ids]


def split_list(*, person_id: int | None = None, undone: bool | None = None) -> QuerySet[Split]:
    """Splits with who made and who undid each; ``person_id`` on either side."""
    splits = Split.objects.select_related("by", "undone_by")
    if person_id is not None:
        splits = splits.filter(Q(person_id=person_id) | Q(new_person_id=person_id))
    if undone is not None:
        splits = splits.filter(undone_at__isnull=not undone)
    return splits
