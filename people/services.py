"""Writes on people and organizations. Every function runs in a transaction
and raises ``DomainError`` for input the domain refuses."""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from functools import cache
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.text import slugify

from people.matching.normalize import ParsedName, clean_whitespace, fold, name_key, parse_name
from people.models import (
    Affiliation,
    MatchJudgement,
    MatchRun,
    Merge,
    Organization,
    Person,
    PersonName,
)
from tracker.bulk import among, chunked, insert_rows, update_rows
from tracker.errors import DomainError
from tracker.locks import people_lock

logger = logging.getLogger(__name__)


ORGANIZATION_FIELDS = {
    "name",
    "slug",
    "kind",
    "country",
    "parent",
    "aliases",
    "external_ids",
    "url",
    "description",
}


def _organization_search_text(name: str, aliases: Iterable[str]) -> str:
    return " | ".join(fold(text) for text in [name, *aliases] if fold(text))


def _clean_aliases(aliases: Any) -> list[str]:
    if aliases is None:
        return []
    if isinstance(aliases, str) or not isinstance(aliases, list | tuple):
        raise DomainError("Give aliases as a list of names.", field="aliases")
    cleaned = []
    for alias in aliases:
        if not isinstance(alias, str):
            raise DomainError("Each alias must be a text.", field="aliases")
        alias = clean_whitespace(alias)
        if alias and alias not in cleaned:
            cleaned.append(alias)
    return cleaned


def _clean_external_ids(external_ids: Any) -> dict[str, str]:
    if external_ids is None:
        return {}
    if not isinstance(external_ids, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in external_ids.items()
    ):
        raise DomainError(
            'Give external ids as an object of texts, such as {"wikidata": "Q30"}.',
            field="external_ids",
        )
    return {k.strip(): v.strip() for k, v in external_ids.items() if k.strip() and v.strip()}


def _unique_slug(model: type, base: str, *, exclude_pk: int | None = None) -> str:
    base = slugify(fold(base))[:100] or "item"
    slug, counter = base, 2
    queryset = model.objects.all()
    if exclude_pk is not None:
        queryset = queryset.exclude(pk=exclude_pk)
    while queryset.filter(slug=slug).exists():
        slug = f"{base}-{counter}"
        counter += 1
    return slug


def _validate_organization(organization: Organization) -> None:
    if not organization.name:
        raise DomainError("An organization needs a name.", field="name")
    if organization.kind not in Organization.Kind.values:
        raise DomainError(
            f"Unknown kind {organization.kind!r}; use one of "
            f"{', '.join(Organization.Kind.values)}.",
            field="kind",
        )
    country = organization.country
    if country and (len(country) != 2 or not country.isalpha()):
        raise DomainError("Give the country as a two-letter ISO code, such as US.", field="country")
    # Walk up the parents: an organization cannot sit under itself.
    seen = {organization.pk} if organization.pk else set()
    parent = organization.parent
    while parent is not None:
        if parent.pk in seen:
            raise DomainError("That parent would make a loop of organizations.", field="parent")
        seen.add(parent.pk)
        parent = parent.parent


@transaction.atomic
def organization_create(
    *,
    name: str,
    kind: str = Organization.Kind.OTHER,
    slug: str = "",
    country: str = "",
    parent: Organization | None = None,
    aliases: list[str] | None = None,
    external_ids: dict[str, str] | None = None,
    url: str = "",
    description: str = "",
) -> Organization:
    name = clean_whitespace(name)
    aliases = _clean_aliases(aliases)
    if slug and Organization.objects.filter(slug=slug).exists():
        raise DomainError(f"An organization with the slug {slug!r} exists.", field="slug")
    organization = Organization(
        name=name,
        slug=slug or _unique_slug(Organization, name),
        kind=kind,
        country=(country or "").upper(),
        parent=parent,
        aliases=aliases,
        external_ids=_clean_external_ids(external_ids),
        url=url or "",
        description=description or "",
        search_text=_organization_search_text(name, aliases),
    )
    _validate_organization(organization)
    organization.save()
    return organization


@transaction.atomic
def organization_update(*, organization: Organization, **fields: Any) -> Organization:
    unknown = set(fields) - ORGANIZATION_FIELDS
    if unknown:
        raise DomainError(f"Unknown organization fields: {', '.join(sorted(unknown))}.")
    if "name" in fields:
        fields["name"] = clean_whitespace(fields["name"])
    if "aliases" in fields:
        fields["aliases"] = _clean_aliases(fields["aliases"])
    if "external_ids" in fields:
        fields["external_ids"] = _clean_external_ids(fields["external_ids"])
    if "country" in fields:
        fields["country"] = (fields["country"] or "").upper()
    if (
        "slug" in fields
        and Organization.objects.filter(slug=fields["slug"]).exclude(pk=organization.pk).exists()
    ):
        raise DomainError(f"An organization with the slug {fields['slug']!r} exists.", field="slug")
    for field, value in fields.items():
        setattr(organization, field, value)
    organization.search_text = _organization_search_text(organization.name, organization.aliases)
    _validate_organization(organization)
    organization.save()
    return organization


def organization_find(*, name: str) -> Organization | None:
    """The organization whose name or alias folds to the same text, if exactly one."""
    key = fold(name)
    if not key:
        return None
    candidates = [
        organization
        for organization in Organization.objects.filter(search_text__contains=key)
        if key in organization.search_text.split(" | ")
    ]
    return candidates[0] if len(candidates) == 1 else None


def organization_get_or_create(
    *, name: str, kind: str = Organization.Kind.OTHER, **fields: Any
) -> Organization:
    return organization_find(name=name) or organization_create(name=name, kind=kind, **fields)


# --- People -------------------------------------------------------------------


def person_refresh_search_text(*, person: Person) -> None:
    """Keep the folded display name and every name seen, for search."""
    names = [person.display_name, *person.names.values_list("name", flat=True)]
    folded: list[str] = []
    for name in names:
        key = fold(name)
        if key and key not in folded:
            folded.append(key)
    person.search_text = " | ".join(folded)
    Person.objects.filter(pk=person.pk).update(search_text=person.search_text)


@cache
def _max_length(model: type, field: str) -> int:
    return model._meta.get_field(field).max_length


def _fit(text: str, model: type, field: str) -> str:
    return text[: _max_length(model, field)]


_PERSON_NAME_FIELDS = (
    "display_name",
    "sort_name",
    "given_name",
    "middle_name",
    "family_name",
    "honorific",
    "suffix",
    "name_key",
)


def _person_fields(parsed: ParsedName, key: str) -> dict[str, str]:
    """A new person's name fields from its parsed name (``key`` is
    ``parsed.key``, which a caller may have at hand), cut to their columns."""
    fields = {
        "display_name": parsed.display or parsed.written,
        "sort_name": parsed.sort_name or parsed.written,
        "given_name": parsed.given,
        "middle_name": parsed.middle,
        "family_name": parsed.family,
        "honorific": parsed.honorific,
        "suffix": parsed.suffix,
        "name_key": key,
    }
    return {field: _fit(text, Person, field) for field, text in fields.items()}


def _check_person_key(key: str) -> None:
    if not key:
        raise DomainError("A person needs a name with at least one letter or digit.", field="name")


@transaction.atomic
def person_create(
    *,
    name: str,
    source: Any = None,
    external_ids: dict[str, str] | None = None,
    notes: str = "",
) -> Person:
    parsed = parse_name(name)
    key = parsed.key
    _check_person_key(key)
    person = Person.objects.create(
        **_person_fields(parsed, key),
        external_ids=_clean_external_ids(external_ids),
        notes=notes,
    )
    person_add_name(person=person, name=parsed.written, source=source)
    return person


@transaction.atomic
def person_create_many(
    *,
    people: Sequence[tuple[str, Sequence[str]]],
    source: Any = None,
    at: datetime,
    parse: Callable[[str], ParsedName] = parse_name,
    key: Callable[[str], str] = name_key,
) -> list[int]:
    """Create one person per ``(name as written, other spellings)``, as
    person_create would one by one, with a few statements whatever their
    number: each is parsed from its name, and has it and the other spellings as
    its names from ``source``. Returns the new ids, in order.

    ``parse`` and ``key`` (``parse(name).key``) may be the caller's cache of
    parsed names. Whether a person of that name exists is the caller's concern.
    """
    named: list[list[str]] = []

    def person_rows() -> Iterator[tuple[Any, ...]]:
        for written, others in people:
            parsed = parse(written)
            person_key = key(written)
            _check_person_key(person_key)
            fields = _person_fields(parsed, person_key)
            display = fields["display_name"]
            spellings = list(
                dict.fromkeys(_fit(text, PersonName, "name") for text in [parsed.written, *others])
            )
            named.append(spellings)
            # The key is the folded display name (see ParsedName.key).
            folded = (
                person_key if text == display and parsed.display else fold(text)
                for text in [display, *sorted(spellings)]
            )
            search_text = " | ".join(dict.fromkeys(f for f in folded if f))
            yield (*(fields[field] for field in _PERSON_NAME_FIELDS), {}, "", search_text, at, at)

    ids = insert_rows(
        Person,
        [*_PERSON_NAME_FIELDS, "external_ids", "notes", "search_text", "created_at", "updated_at"],
        person_rows(),
        count=len(people),
    )
    source_id = getattr(source, "pk", None)
    insert_rows(
        PersonName,
        ["person_id", "name", "name_key", "source_id", "first_seen_at"],
        [
            (person_id, name, _fit(key(name), PersonName, "name_key"), source_id, at)
            for person_id, spellings in zip(ids, named, strict=True)
            for name in spellings
        ],
    )
    return ids


@transaction.atomic
def person_update(*, person: Person, **fields: Any) -> Person:
    allowed = {
        "display_name",
        "sort_name",
        "given_name",
        "middle_name",
        "family_name",
        "honorific",
        "suffix",
        "external_ids",
        "notes",
    }
    unknown = set(fields) - allowed
    if unknown:
        raise DomainError(f"Unknown person fields: {', '.join(sorted(unknown))}.")
    if person.merged_into_id:
        raise DomainError(
            f"This person was merged into #{person.merged_into_id}; edit that record instead.",
            code="merged",
        )
    if "external_ids" in fields:
        fields["external_ids"] = _clean_external_ids(fields["external_ids"])
    for field, value in fields.items():
        setattr(person, field, clean_whitespace(value) if isinstance(value, str) else value)
    if not fold(person.display_name):
        raise DomainError("A person needs a display name.", field="display_name")
    person.name_key = parse_name(person.display_name).key
    person.sort_name = person.sort_name or parse_name(person.display_name).sort_name
    person.save()
    person_refresh_search_text(person=person)
    return person


@transaction.atomic
def person_add_name(*, person: Person, name: str, source: Any = None) -> PersonName:
    written = clean_whitespace(name)
    if not fold(written):
        raise DomainError("A name needs at least one letter or digit.", field="name")
    person_name, _ = PersonName.objects.get_or_create(
        person=person,
        name=written,
        source=source,
        defaults={"name_key": parse_name(written).key},
    )
    person_refresh_search_text(person=person)
    return person_name


def person_survivor(person: Person) -> Person:
    """Follow merges to the record that stands for this person now."""
    seen = set()
    while person.merged_into_id is not None and person.pk not in seen:
        seen.add(person.pk)
        person = person.merged_into
    return person


def person_resolve(*, name: str, source: Any = None) -> Person:
    """The person a new entry names: an existing one when exactly one active
    person has the same normalised name, otherwise a new person.

    Two active people sharing a name (homonyms) are never guessed between: the
    entry gets a new person and the matcher weighs the context afterwards.
    """
    key = parse_name(name).key
    candidates = list(Person.objects.filter(name_key=key, merged_into__isnull=True)[:2])
    if len(candidates) == 1:
        return candidates[0]
    return person_create(name=name, source=source)


@transaction.atomic
def affiliation_create(
    *,
    person: Person,
    organization: Organization,
    role: str = "",
    start_date: date | None = None,
    end_date: date | None = None,
    source: Any = None,
    evidence_url: str = "",
) -> Affiliation:
    if start_date and end_date and end_date < start_date:
        raise DomainError("The end date comes before the start date.", field="end_date")
    person = person_survivor(person)
    try:
        with transaction.atomic():
            return Affiliation.objects.create(
                person=person,
                organization=organization,
                role=clean_whitespace(role),
                start_date=start_date,
                end_date=end_date,
                source=source,
                evidence_url=evidence_url,
            )
    except IntegrityError as exc:  # pragma: no cover - guarded above
        raise DomainError(str(exc)) from exc


@transaction.atomic
def affiliation_update(*, affiliation: Affiliation, **fields: Any) -> Affiliation:
    allowed = {"organization", "role", "start_date", "end_date", "source", "evidence_url"}
    unknown = set(fields) - allowed
    if unknown:
        raise DomainError(f"Unknown affiliation fields: {', '.join(sorted(unknown))}.")
    for field, value in fields.items():
        setattr(affiliation, field, value)
    if (
        affiliation.start_date
        and affiliation.end_date
        and affiliation.end_date < affiliation.start_date
    ):
        raise DomainError("The end date comes before the start date.", field="end_date")
    affiliation.save()
    return affiliation


# --- Merges, undo and judgements ------------------------------------------------

# When two signatures of one letter become one, the status that says more wins:
# a retraction or a removal must never be lost in a merge.
_STATUS_WEIGHT = {"listed": 0, "verified": 1, "disputed": 2, "retracted": 3, "removed": 4}


def person_cluster_ids(person: Person) -> set[int]:
    """The ids of a person's survivor and of everyone merged into it, transitively."""
    root = person_survivor(person)
    cluster = {root.pk}
    frontier = [root.pk]
    while frontier:
        children = list(
            Person.objects.filter(merged_into__in=frontier).values_list("pk", flat=True)
        )
        frontier = [pk for pk in children if pk not in cluster]
        cluster.update(frontier)
    return cluster


def judgements_between(first: set[int], second: set[int], decision: str) -> list[MatchJudgement]:
    return list(
        MatchJudgement.objects.filter(decision=decision).filter(
            Q(person_a__in=first, person_b__in=second) | Q(person_a__in=second, person_b__in=first)
        )
    )


def _ordered_pair(first: Person, second: Person) -> tuple[Person, Person]:
    return (first, second) if first.pk < second.pk else (second, first)


_DISPLAY_FIELDS = (
    "display_name",
    "sort_name",
    "given_name",
    "middle_name",
    "family_name",
    "honorific",
    "suffix",
    "name_key",
)


def _display_fields(written: str) -> dict[str, str]:
    parsed = parse_name(written)
    return {
        "display_name": parsed.display or parsed.written,
        "sort_name": parsed.sort_name or parsed.written,
        "given_name": parsed.given,
        "middle_name": parsed.middle,
        "family_name": parsed.family,
        "honorific": parsed.honorific,
        "suffix": parsed.suffix,
        "name_key": parsed.key,
    }


def _most_reliable_name(display_name: str, names: list[tuple[str, int]]) -> str | None:
    """Of a person's names (as written, with their source's reliability, oldest
    first), the one to display when its source is more reliable than those of
    the current display name.

    A tie keeps the current name, so merging never flips a name back and forth.
    """
    if not names:
        return None
    current = max((r for name, r in names if parse_name(name).display == display_name), default=-1)
    best_reliability = max(r for _name, r in names)
    if best_reliability <= current:
        return None
    return next(name for name, r in names if r == best_reliability)


@dataclass(frozen=True)
class MergePair:
    """Two people to make one, by id; whoever each was merged into since stands
    for them. ``judgement`` is the id of the judgement the merge follows;
    ``same`` instead gives the fields of an automatic "same" judgement to
    record on the pair (smaller id first) if, and only if, it is merged."""

    survivor: int
    merged: int
    judgement: int | None = None
    same: dict[str, Any] | None = None


def person_survivor_ids(ids: Iterable[int]) -> dict[int, int]:
    """The id of the record that stands for each of these people now, following
    merges; a query per level of merges, not per person."""
    parent: dict[int, int | None] = {}
    frontier = set(ids)
    while frontier:
        found: set[int] = set()
        for chunk in chunked(sorted(frontier)):
            for pk, into in Person.objects.filter(among(Person, "id", chunk)).values_list(
                "pk", "merged_into_id"
            ):
                parent[pk] = into
                if into is not None:
                    found.add(into)
        frontier = found - parent.keys()

    def root(pk: int) -> int:
        seen = set()
        while parent.get(pk) is not None and pk not in seen:
            seen.add(pk)
            pk = parent[pk]
        return pk

    return {pk: root(pk) for pk in parent}


@transaction.atomic
def person_merge(
    *,
    survivor: Person,
    merged: Person,
    by: Any = None,
    reason: str = "",
    judgement: MatchJudgement | None = None,
    run: MatchRun | None = None,
    automatic: bool = False,
) -> Merge:
    """Fold ``merged`` into ``survivor``: signatures, sightings, names and
    affiliations move, and the merged record points at the survivor.

    What moved is recorded on the Merge so that ``merge_undo`` can put it back.
    A stored "different" judgement between the two clusters refuses the merge.
    """
    pair = MergePair(survivor.pk, merged.pk, judgement.pk if judgement else None)
    merges = person_merge_many(
        pairs=[pair], by=by, reason=reason, run=run, automatic=automatic, strict=True
    )
    return merges[0]


@transaction.atomic
def person_merge_many(
    *,
    pairs: Sequence[MergePair],
    by: Any = None,
    reason: str = "",
    run: MatchRun | None = None,
    automatic: bool = False,
    smaller_survives: bool = False,
    strict: bool = True,
) -> list[Merge]:
    """Merge many pairs at once, in the order given, with set-based writes: a
    fixed number of statements however many pairs (a run's automatic merges).

    Each pair joins the clusters of its two people: the survivor's cluster
    absorbs the other (or the one whose record is older, with
    ``smaller_survives``). Each join is one Merge recording exactly what moved,
    as one ``person_merge`` after another would, so that ``merge_undo`` puts
    back any of them. A pair already in one cluster, or kept apart by a stored
    "different" judgement between the two clusters, raises ``DomainError`` when
    ``strict``; otherwise it is left out.
    """
    from letters.models import Sighting, SightingEvent, Signature, SignatureStatusChange

    if not pairs:
        return []
    by_user = by if getattr(by, "pk", None) else None
    # Lock the people standing for the pairs, in primary-key order so that
    # concurrent merges cannot deadlock; follow anyone merged meanwhile.
    start = person_survivor_ids({pk for pair in pairs for pk in (pair.survivor, pair.merged)})
    from letters.services import letters_lock_for_people

    people_lock(exclusive=True)
    letters_lock_for_people({*start, *start.values()})
    missing = {pk for pair in pairs for pk in (pair.survivor, pair.merged)} - start.keys()
    if missing:
        raise DomainError(f"No person #{min(missing)}.", code="not_found")
    if strict and len(pairs) == 1 and start[pairs[0].survivor] == start[pairs[0].merged]:
        raise DomainError("These records are already one person.", code="already_merged")
    locked: dict[int, Person] = {}
    while True:
        wanted = sorted(set(start.values()) - locked.keys())
        for chunk in chunked(wanted):
            locked.update(
                (p.pk, p)
                for p in Person.objects.select_for_update()
                .filter(among(Person, "id", chunk))
                .order_by("pk")
            )
        moved_on = [pk for pk in wanted if locked[pk].merged_into_id is not None]
        if not moved_on:
            break
        if strict:
            raise DomainError(
                "One of these people was merged meanwhile; try again.", code="conflict"
            )
        again = person_survivor_ids(start)
        start = {pk: again[pk] for pk in start}

    # Who must stay apart: "different" judgements between anyone of the clusters.
    root_of = {pk: pk for pk in set(start.values())}
    frontier = list(root_of)
    while frontier:
        found = []
        for chunk in chunked(frontier):
            for pk, into in Person.objects.filter(among(Person, "merged_into", chunk)).values_list(
                "pk", "merged_into_id"
            ):
                if pk not in root_of:
                    root_of[pk] = root_of[into]
                    found.append(pk)
        frontier = found
    apart: dict[int, list[tuple[int, int]]] = defaultdict(list)
    for chunk in chunked(sorted(root_of)):
        for pk, a, b in MatchJudgement.objects.filter(
            among(MatchJudgement, "person_a", chunk), decision=MatchJudgement.Decision.DIFFERENT
        ).values_list("pk", "person_a_id", "person_b_id"):
            if b in root_of and root_of[a] != root_of[b]:
                apart[root_of[a]].append((root_of[b], pk))
                apart[root_of[b]].append((root_of[a], pk))

    # Join the clusters pair by pair, in memory.
    parent = {pk: pk for pk in set(start.values())}
    members = {pk: [pk] for pk in parent}

    def find(pk: int) -> int:
        while parent[pk] != pk:
            parent[pk] = parent[parent[pk]]
            pk = parent[pk]
        return pk

    joins: list[tuple[int, int, int]] = []  # (pair index, survivor, the person absorbed)
    for index, pair in enumerate(pairs):
        keep, gone = find(start[pair.survivor]), find(start[pair.merged])
        if keep == gone:
            if strict:
                raise DomainError("These records are already one person.", code="already_merged")
            continue
        if smaller_survives and gone < keep:
            keep, gone = gone, keep
        small, large = sorted((keep, gone), key=lambda root: len(members[root]))
        conflict = next(
            (
                judgement
                for member in members[small]
                for other, judgement in apart.get(member, ())
                if judgement != pair.judgement and find(other) == large
            ),
            None,
        )
        if conflict is not None:
            if strict:
                raise DomainError(
                    f"An editor judged these people different (judgement #{conflict}); "
                    "they cannot be merged.",
                    code="judged_different",
                )
            logger.info(
                "Not merging %s and %s: judgement #%s.", pair.survivor, pair.merged, conflict
            )
            continue
        parent[gone] = keep
        members[keep].extend(members.pop(gone))
        joins.append((index, keep, gone))
    if not joins:
        return []

    judgement_of = {index: pairs[index].judgement for index, _keep, _gone in joins}
    decided = {
        (min(pairs[i].survivor, pairs[i].merged), max(pairs[i].survivor, pairs[i].merged)): i
        for i, _keep, _gone in joins
        if pairs[i].same is not None
    }
    if decided:
        rows = [
            MatchJudgement(person_a_id=a, person_b_id=b, **pairs[i].same)
            for (a, b), i in decided.items()
        ]
        fields = sorted({name for row in decided.values() for name in pairs[row].same})
        MatchJudgement.objects.bulk_create(
            rows,
            batch_size=2000,
            update_conflicts=True,
            unique_fields=["person_a", "person_b"],
            update_fields=[*fields, "updated_at"],
        )
        for row, i in zip(rows, decided.values(), strict=True):
            judgement_of[i] = row.pk

    # What the people involved hold, read once.
    involved = sorted({pk for _index, keep, gone in joins for pk in (keep, gone)})
    signature_fields = (
        "pk",
        "letter_id",
        "person_id",
        "status",
        "first_seen_at",
        "last_seen_at",
        "needs_review",
        "review_reason",
        "title",
        "affiliation",
    )
    signatures_at: dict[int, dict[int, dict]] = defaultdict(dict)  # person -> letter -> row
    names_at: dict[int, list[tuple]] = defaultdict(list)  # (pk, name, source, reliability)
    affiliations_at: dict[int, list[int]] = defaultdict(list)
    held_by: dict[tuple[str, int], int] = {}  # where each row was before
    for chunk in chunked(involved):
        for row in (
            Signature.objects.select_for_update()
            .filter(among(Signature, "person", chunk), merged_into__isnull=True)
            .order_by("pk")
            .values(*signature_fields)
        ):
            signatures_at[row["person_id"]][row["letter_id"]] = row
            held_by["signature", row["pk"]] = row["person_id"]
        for pk, person_id, name, source_id, reliability in (
            PersonName.objects.filter(among(PersonName, "person", chunk))
            .order_by("pk")
            .values_list("pk", "person_id", "name", "source_id", "source__reliability")
        ):
            names_at[person_id].append((pk, name, source_id, reliability))
            held_by["name", pk] = person_id
        for pk, person_id in (
            Affiliation.objects.filter(among(Affiliation, "person", chunk))
            .order_by("pk")
            .values_list("pk", "person_id")
        ):
            affiliations_at[person_id].append(pk)
            held_by["affiliation", pk] = person_id

    # Apply the joins in memory, one after another, exactly as one merge after
    # another would; then write where everything ended up.
    from letters.models import Source

    by_hand = Source.DEFAULT_RELIABILITY[Source.Kind.MANUAL]
    now = timezone.now()
    actor = "matcher" if automatic else "merge"
    shown = {
        pk: {field: getattr(locked[pk], field) for field in _DISPLAY_FIELDS} for pk in involved
    }
    reshown: set[int] = set()
    changed_kept: dict[int, dict] = {}
    folds: list[tuple[int, int, dict]] = []  # (signature, into, the merge's record)
    status_changes: list[SignatureStatusChange] = []
    moves: list[dict[str, Any]] = []
    for _index, keep, gone in joins:
        moved: dict[str, Any] = {
            "signatures": [],
            "folded_signatures": [],
            "sightings": [],
            "names": [],
            "affiliations": [],
        }
        moves.append(moved)
        kept_by_letter = signatures_at[keep]
        for signature in sorted(signatures_at.pop(gone, {}).values(), key=lambda s: s["pk"]):
            kept = kept_by_letter.get(signature["letter_id"])
            if kept is None:
                moved["signatures"].append(signature["pk"])
                kept_by_letter[signature["letter_id"]] = signature
                continue
            # Two signatures of one letter become one; the merged one stays as history.
            moved["folded_signatures"].append(
                {
                    "signature": signature["pk"],
                    "into": kept["pk"],
                    "kept_before": {
                        "status": kept["status"],
                        "first_seen_at": kept["first_seen_at"].isoformat(),
                        "last_seen_at": kept["last_seen_at"].isoformat(),
                        "needs_review": kept["needs_review"],
                        "review_reason": kept["review_reason"],
                        "title": kept["title"],
                        "affiliation": kept["affiliation"],
                    },
                }
            )
            folds.append((signature["pk"], kept["pk"], moved))
            if _STATUS_WEIGHT[signature["status"]] > _STATUS_WEIGHT[kept["status"]]:
                status_changes.append(
                    SignatureStatusChange(
                        signature_id=kept["pk"],
                        from_status=kept["status"],
                        to_status=signature["status"],
                        changed_at=now,
                        changed_by=by_user,
                        actor=actor,
                        reason=f"Merged with signature #{signature['pk']}, which was "
                        f"{signature['status']}.",
                    )
                )
                kept["status"] = signature["status"]
            kept["first_seen_at"] = min(kept["first_seen_at"], signature["first_seen_at"])
            kept["last_seen_at"] = max(kept["last_seen_at"], signature["last_seen_at"])
            kept["needs_review"] = kept["needs_review"] or signature["needs_review"]
            kept["review_reason"] = kept["review_reason"] or signature["review_reason"]
            kept["title"] = kept["title"] or signature["title"]
            kept["affiliation"] = kept["affiliation"] or signature["affiliation"]
            changed_kept[kept["pk"]] = kept

        survivor_names = {(name, source) for _pk, name, source, _r in names_at[keep]}
        staying = []
        for row in sorted(names_at[gone]):
            if (row[1], row[2]) in survivor_names:
                staying.append(row)  # the survivor already shows this name from this source
                continue
            moved["names"].append(row[0])
            names_at[keep].append(row)
        names_at[gone] = staying
        names_at[keep].sort()
        for pk in sorted(affiliations_at.pop(gone, [])):
            moved["affiliations"].append(pk)
            affiliations_at[keep].append(pk)

        # The survivor shows its name as the most reliable source writes it (a
        # letter's own list over the press, the press over scraped feeds).
        best = _most_reliable_name(
            shown[keep]["display_name"],
            [(name, by_hand if r is None else r) for _pk, name, _s, r in names_at[keep]],
        )
        if best is not None:
            moved["survivor_before"] = dict(shown[keep])
            shown[keep] = _display_fields(best)
            reshown.add(keep)

    # Sightings of a folded signature move to the one kept, with their history
    # (a sighting may move twice when a cluster is absorbed in turn).
    sightings_on: dict[int, list[int]] = defaultdict(list)
    for chunk in chunked(sorted({signature for signature, _into, _moved in folds})):
        for pk, signature in (
            Sighting.objects.select_for_update()
            .filter(among(Sighting, "signature", chunk))
            .order_by("pk")
            .values_list("pk", "signature_id")
        ):
            sightings_on[signature].append(pk)
    sighting_at: dict[int, int] = {}
    events: list[SightingEvent] = []
    for signature, into, moved in folds:
        for pk in sorted(sightings_on.pop(signature, [])):
            moved["sightings"].append({"id": pk, "from": signature, "to": into})
            sightings_on[into].append(pk)
            sighting_at[pk] = into
            events.append(
                SightingEvent(
                    sighting_id=pk,
                    kind=SightingEvent.Kind.MOVED,
                    at=now,
                    before={"signature": signature},
                    after={"signature": into},
                )
            )

    kept_fields = [
        "status",
        "first_seen_at",
        "last_seen_at",
        "needs_review",
        "review_reason",
        "title",
        "affiliation",
    ]
    update_rows(
        Signature,
        ["person_id", "updated_at"],
        [
            (row["pk"], person, now)
            for person, rows in signatures_at.items()
            for row in rows.values()
            if held_by["signature", row["pk"]] != person
        ],
    )
    update_rows(
        Signature,
        ["merged_into_id", "updated_at"],
        [(signature, into, now) for signature, into, _moved in folds],
    )
    update_rows(
        Signature,
        [*kept_fields, "updated_at"],
        [(pk, *(kept[f] for f in kept_fields), now) for pk, kept in changed_kept.items()],
    )
    update_rows(Sighting, ["signature_id"], list(sighting_at.items()))
    SightingEvent.objects.bulk_create(events, batch_size=2000)
    SignatureStatusChange.objects.bulk_create(status_changes, batch_size=2000)
    update_rows(
        PersonName,
        ["person_id"],
        [
            (row[0], person)
            for person, rows in names_at.items()
            for row in rows
            if held_by["name", row[0]] != person
        ],
    )
    update_rows(
        Affiliation,
        ["person_id"],
        [
            (pk, person)
            for person, pks in affiliations_at.items()
            for pk in pks
            if held_by["affiliation", pk] != person
        ],
    )
    update_rows(
        Person,
        [*_DISPLAY_FIELDS, "updated_at"],
        [(pk, *(shown[pk][f] for f in _DISPLAY_FIELDS), now) for pk in sorted(reshown)],
    )
    update_rows(
        Person,
        ["merged_into_id", "merged_at", "updated_at"],
        [(gone, keep, now, now) for _index, keep, gone in joins],
    )
    _refresh_search_texts({pk: shown[pk]["display_name"] for pk in involved})
    merges = [
        Merge(
            survivor_id=keep,
            merged_id=gone,
            judgement_id=judgement_of[index],
            run=run,
            automatic=automatic,
            by=by_user,
            reason=reason,
            moved=moved,
        )
        for (index, keep, gone), moved in zip(joins, moves, strict=True)
    ]
    return Merge.objects.bulk_create(merges, batch_size=2000)


def _refresh_search_texts(display_of: dict[int, str]) -> None:
    """What ``person_refresh_search_text`` does, for many people at once."""
    spellings: dict[int, list[str]] = defaultdict(list)
    for chunk in chunked(sorted(display_of)):
        for person_id, name in (
            PersonName.objects.filter(among(PersonName, "person", chunk))
            .order_by("name", "id")
            .values_list("person_id", "name")
        ):
            spellings[person_id].append(name)
    rows = []
    for pk, display in display_of.items():
        folded = (fold(text) for text in [display, *spellings[pk]])
        rows.append((pk, " | ".join(dict.fromkeys(key for key in folded if key))))
    update_rows(Person, ["search_text"], rows)


@transaction.atomic
def merge_undo(*, merge: Merge, by: Any = None, reason: str = "") -> Merge:
    """Put back what a merge moved, and record that the two are different
    people so that no later run merges them again."""
    from datetime import datetime

    from letters.models import Sighting, SightingEvent, Signature, SignatureStatusChange
    from letters.services import letters_lock_for_people

    people_lock(exclusive=True)
    letters_lock_for_people([merge.survivor_id, merge.merged_id])
    merge = Merge.objects.select_for_update().get(pk=merge.pk)
    if merge.undone_at is not None:
        raise DomainError("This merge was already undone.", code="already_undone")
    people = {
        p.pk: p
        for p in Person.objects.select_for_update()
        .filter(pk__in=[merge.survivor_id, merge.merged_id])
        .order_by("pk")
    }
    survivor, merged = people[merge.survivor_id], people[merge.merged_id]
    if survivor.merged_into_id is not None:
        later = Merge.objects.filter(merged=survivor, undone_at__isnull=True).first()
        raise DomainError(
            f"{survivor} was merged again afterwards; undo merge #{later.pk if later else '?'} "
            "first.",
            code="undo_later_first",
        )
    now = timezone.now()
    moved = merge.moved
    for record in reversed(moved.get("sightings", [])):
        sighting = Sighting.objects.select_for_update().get(pk=record["id"])
        if sighting.signature_id != record["to"]:
            continue  # it has moved on since; leave it where it now is
        sighting.signature_id = record["from"]
        sighting.save(update_fields=["signature"])
        SightingEvent.objects.create(
            sighting=sighting,
            kind=SightingEvent.Kind.MOVED,
            at=now,
            before={"signature": record["to"]},
            after={"signature": record["from"]},
        )
    for record in reversed(moved.get("folded_signatures", [])):
        Signature.objects.filter(pk=record["signature"]).update(merged_into=None, updated_at=now)
        kept = Signature.objects.select_for_update().get(pk=record["into"])
        before = record["kept_before"]
        if kept.status != before["status"]:
            SignatureStatusChange.objects.create(
                signature=kept,
                from_status=kept.status,
                to_status=before["status"],
                changed_at=now,
                changed_by=by if getattr(by, "pk", None) else None,
                actor="undo merge",
                reason=f"Merge #{merge.pk} undone.",
            )
        kept.status = before["status"]
        kept.first_seen_at = datetime.fromisoformat(before["first_seen_at"])
        kept.last_seen_at = datetime.fromisoformat(before["last_seen_at"])
        kept.needs_review = before["needs_review"]
        kept.review_reason = before["review_reason"]
        kept.title = before["title"]
        kept.affiliation = before["affiliation"]
        kept.save()
    Signature.objects.filter(pk__in=moved.get("signatures", []), person=survivor).update(
        person=merged, updated_at=now
    )
    PersonName.objects.filter(pk__in=moved.get("names", []), person=survivor).update(person=merged)
    Affiliation.objects.filter(pk__in=moved.get("affiliations", []), person=survivor).update(
        person=merged
    )
    merged.merged_into = None
    merged.merged_at = None
    merged.save(update_fields=["merged_into", "merged_at", "updated_at"])
    if moved.get("survivor_before"):
        for field, value in moved["survivor_before"].items():
            setattr(survivor, field, value)
        survivor.save(update_fields=[*moved["survivor_before"], "updated_at"])
    person_refresh_search_text(person=survivor)
    person_refresh_search_text(person=merged)

    first, second = _ordered_pair(survivor, merged)
    MatchJudgement.objects.update_or_create(
        person_a=first,
        person_b=second,
        defaults={
            "decision": MatchJudgement.Decision.DIFFERENT,
            "automatic": False,
            "decided_by": by if getattr(by, "pk", None) else None,
            "decided_at": now,
            "reason": reason or f"Merge #{merge.pk} undone.",
        },
    )
    merge.undone_at = now
    merge.undone_by = by if getattr(by, "pk", None) else None
    merge.undo_reason = reason
    merge.save(update_fields=["undone_at", "undone_by", "undo_reason"])
    return merge


@transaction.atomic
def judgement_decide(
    *,
    judgement: MatchJudgement,
    decision: str,
    reason: str,
    by: Any = None,
    only_if_pending: bool = False,
) -> MatchJudgement:
    """An editor's decision on a pair: "same" merges them, "different" becomes a
    constraint no automatic run overrules, "unsure" is recorded for later.

    With ``only_if_pending`` (the review queue, where the editor saw the pair
    undecided), a pair someone decided meanwhile is refused, not decided again."""
    allowed = [
        MatchJudgement.Decision.SAME,
        MatchJudgement.Decision.DIFFERENT,
        MatchJudgement.Decision.UNSURE,
    ]
    if decision not in allowed:
        raise DomainError(
            f"Unknown decision {decision!r}; use same, different or unsure.", field="decision"
        )
    reason = (reason or "").strip()
    if not reason:
        raise DomainError("Say why you decide so.", field="reason")
    judgement = MatchJudgement.objects.select_for_update().get(pk=judgement.pk)
    if only_if_pending and judgement.decision != MatchJudgement.Decision.PENDING:
        raise DomainError(
            f"This pair was decided meanwhile ({judgement.get_decision_display()}"
            + (f", by {judgement.decided_by}" if judgement.decided_by_id else "")
            + ").",
            field="decision",
            code="decided",
        )
    first, second = judgement.person_a, judgement.person_b
    same_cluster = person_survivor(first).pk == person_survivor(second).pk
    if decision == MatchJudgement.Decision.DIFFERENT and same_cluster:
        active = Merge.objects.filter(undone_at__isnull=True, merged__in=[first, second]).first()
        raise DomainError(
            "These records are merged; undo the merge"
            + (f" #{active.pk}" if active else "")
            + " to separate them.",
            field="decision",
            code="merged",
        )
    judgement.decision = decision
    judgement.reason = reason
    judgement.automatic = False
    judgement.decided_by = by if getattr(by, "pk", None) else None
    judgement.decided_at = timezone.now()
    judgement.save()
    if decision == MatchJudgement.Decision.SAME and not same_cluster:
        survivor, merged = _ordered_pair(person_survivor(first), person_survivor(second))
        person_merge(survivor=survivor, merged=merged, by=by, reason=reason, judgement=judgement)
    return judgement
