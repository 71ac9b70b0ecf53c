"""Writes on people and organizations. Every function runs in a transaction
and raises ``DomainError`` for input the domain refuses."""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from datetime import date, datetime
from functools import cache
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.text import slugify

from people import organization_hooks, person_hooks
from people.matching.identity import Candidate, Known, entry_joins
from people.matching.normalize import _PARTICLES as PARTICLES
from people.matching.normalize import (
    ParsedName,
    clean_whitespace,
    fold,
    is_blank,
    name_key,
    parse_name,
)
from people.merging import followers
from people.models import (
    Affiliation,
    Organization,
    Person,
    PersonName,
    PersonRename,
)
from tracker.bulk import Copies, among, chunked, insert_objects, update_rows
from tracker.errors import Conflict, DomainError
from tracker.locks import organization_tree_lock

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
    if is_blank(organization.name):
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
    _check_no_loop(organization)


def _check_no_loop(organization: Organization) -> None:
    """Walk up the parents as committed: an organization cannot sit under itself.
    Under the tree's lock, so that a concurrent change of parents is seen."""
    if organization.parent_id is None:
        return
    organization_tree_lock()
    seen = {organization.pk} if organization.pk else set()
    parent_id = organization.parent_id
    while parent_id is not None:
        if parent_id in seen:
            raise DomainError("That parent would make a loop of organizations.", field="parent")
        seen.add(parent_id)
        parent_id = (
            Organization.objects.filter(pk=parent_id).values_list("parent_id", flat=True).first()
        )


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
        raise Conflict(f"An organization with the slug {slug!r} exists.", field="slug")
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
    organization_hooks.organization_named(organization.pk)
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
        raise Conflict(f"An organization with the slug {fields['slug']!r} exists.", field="slug")
    for field, value in fields.items():
        setattr(organization, field, value)
    organization.search_text = _organization_search_text(organization.name, organization.aliases)
    _validate_organization(organization)
    organization.save()
    if {"name", "aliases"} & fields.keys():
        # Affiliations stated before may now resolve to it.
        organization_hooks.organization_named(organization.pk)
    return organization


# --- People -------------------------------------------------------------------


def person_refresh_search_text(*, person: Person) -> None:
    """Keep the folded display name and every name seen, for search."""
    texts = people_refresh_search_texts(display_of={person.pk: person.display_name})
    person.search_text = texts[person.pk]


def people_refresh_search_texts(
    *, display_of: dict[int, str] | None = None, person_ids: Iterable[int] = ()
) -> dict[int, str]:
    """The search text of many people at once (their folded display name and
    every name seen), kept and returned. ``display_of`` gives display names
    already at hand; the others of ``person_ids`` are read."""
    display = dict(display_of or {})
    wanted = sorted(set(person_ids) - display.keys())
    for chunk in chunked(wanted):
        display.update(
            Person.objects.filter(among(Person, "id", chunk)).values_list("id", "display_name")
        )
    spellings: dict[int, list[str]] = defaultdict(list)
    for chunk in chunked(sorted(display)):
        for person_id, name in (
            PersonName.objects.filter(among(PersonName, "person", chunk))
            .order_by("name", "id")
            .values_list("person_id", "name")
        ):
            spellings[person_id].append(name)
    texts = {}
    for pk, shown in display.items():
        folded = (fold(text) for text in [shown, *spellings[pk]])
        texts[pk] = " | ".join(dict.fromkeys(key for key in folded if key))
    update_rows(Person, ["search_text"], list(texts.items()))
    return texts


@cache
def _max_length(model: type, field: str) -> int:
    return model._meta.get_field(field).max_length


def _fit(text: str, model: type, field: str) -> str:
    return text[: _max_length(model, field)]


_PERSON_NAME_FIELDS = (
    "display_name",
    "sort_name",
    "sort_key",
    "given_name",
    "middle_name",
    "family_name",
    "honorific",
    "suffix",
    "name_key",
)


PERSON_NAME_FIELDS = _PERSON_NAME_FIELDS


def person_name_fields(written: str) -> dict[str, str]:
    """A person's name fields (display, sort, parts, key) for a name as written."""
    parsed = parse_name(written)
    return dict(zip(_PERSON_NAME_FIELDS, _person_fields(parsed, parsed.key), strict=True))


def person_sort_key(sort_name: str) -> str:
    """What lists sort people by: the sort name folded, with the particles that
    open the family name moved after it ("del Toro, Guillermo" -> "toro guillermo
    del"), so that case, accents and particles do not decide the order."""
    family, _, given = sort_name.partition(",")
    words = fold(family).split()
    opening = 0
    while opening < len(words) - 1 and words[opening] in PARTICLES:
        opening += 1
    return " ".join([*words[opening:], *fold(given).split(), *words[:opening]])


def _person_fields(parsed: ParsedName, key: str) -> tuple[str, ...]:
    """A new person's name fields from its parsed name (``key`` is
    ``parsed.key``, which a caller may have at hand), cut to their columns, in
    the order of ``_PERSON_NAME_FIELDS``."""
    sort_name = parsed.sort_name or parsed.written
    return tuple(
        text[:limit]
        for text, limit in zip(
            (
                parsed.display or parsed.written,
                sort_name,
                person_sort_key(sort_name),
                parsed.given,
                parsed.middle,
                parsed.family,
                parsed.honorific,
                parsed.suffix,
                key,
            ),
            _person_field_limits(),
            strict=True,
        )
    )


@cache
def _person_field_limits() -> tuple[int, ...]:
    return tuple(_max_length(Person, field) for field in _PERSON_NAME_FIELDS)


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
        **dict(zip(_PERSON_NAME_FIELDS, _person_fields(parsed, key), strict=True)),
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
    fold: Callable[[str], str] = fold,
    copies: Copies | None = None,
) -> list[int]:
    """Create one person per ``(name as written, other spellings)``, as
    person_create would one by one, with a few statements whatever their
    number: each is parsed from its name, and has it and the other spellings as
    its names from ``source``. Returns the new ids, in order.

    ``parse``, ``key`` (``parse(name).key``) and ``fold`` may be the caller's
    caches. With ``copies`` the rows go with the caller's other new rows
    (``tracker.bulk.Copies``), written by the time its block ends. Whether a
    person of that name exists is the caller's concern.
    """
    if copies is None:
        with Copies() as own:
            return person_create_many(
                people=people, source=source, at=at, parse=parse, key=key, fold=fold, copies=own
            )
    named: list[list[str]] = []
    person_rows = []
    fit_name = _max_length(PersonName, "name")
    extra = ({}, "")
    for written, others in people:
        parsed = parse(written)
        person_key = key(written)
        _check_person_key(person_key)
        fields = _person_fields(parsed, person_key)
        display = fields[0]
        # The key is the folded display name (see ParsedName.key).
        if not others:
            # As below for one spelling, without the generators.
            spellings = [parsed.written[:fit_name]]
            shown = person_key if parsed.display else fold(display)
            spelled = person_key if spellings[0] == display and parsed.display else None
            spelled = fold(spellings[0]) if spelled is None else spelled
            if spelled == shown or not spelled:
                search_text = shown
            else:
                search_text = f"{shown} | {spelled}" if shown else spelled
        else:
            spellings = list(dict.fromkeys(text[:fit_name] for text in [parsed.written, *others]))
            folded = (
                person_key if text == display and parsed.display else fold(text)
                for text in [display, *sorted(spellings)]
            )
            search_text = " | ".join(dict.fromkeys(f for f in folded if f))
        named.append(spellings)
        person_rows.append((*fields, *extra, search_text, at, at))

    ids = copies.insert(
        Person,
        [*_PERSON_NAME_FIELDS, "external_ids", "notes", "search_text", "created_at", "updated_at"],
        person_rows,
    )
    source_id = getattr(source, "pk", None)
    fit_key = _max_length(PersonName, "name_key")
    copies.insert(
        PersonName,
        ["person_id", "name", "name_key", "source_id", "first_seen_at"],
        [
            (person_id, name, key(name)[:fit_key], source_id, at)
            for person_id, spellings in zip(ids, named, strict=True)
            for name in spellings
        ],
        ids=False,
    )
    return ids


def person_renames_record(
    renames: Iterable[tuple[int, str, str]],
    *,
    cause: str,
    by: Any = None,
    at: datetime | None = None,
) -> None:
    """Keep, for the change feed and the person's timeline, each change of the
    name people are shown by: ``(person id, name before, name after)``; a
    "change" to the same name is none."""
    by = by if getattr(by, "pk", None) else None
    at = at or timezone.now()
    # By COPY (a run renames people by the thousand); nothing points at these rows.
    insert_objects(
        [
            PersonRename(
                person_id=pk,
                before=_fit(before, PersonRename, "before"),
                after=_fit(after, PersonRename, "after"),
                cause=cause,
                by=by,
                created_at=at,
            )
            for pk, before, after in renames
            if before != after
        ],
        ids=False,
    )


@transaction.atomic
def person_update(*, person: Person, by: Any = None, **fields: Any) -> Person:
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
        raise Conflict(
            f"This person was merged into #{person.merged_into_id}; edit that record instead.",
            code="merged",
        )
    if "external_ids" in fields:
        fields["external_ids"] = _clean_external_ids(fields["external_ids"])
    # As stored: a form may already have set the new values on ``person``.
    shown_before = (
        Person.objects.filter(pk=person.pk).values_list("display_name", flat=True).first() or ""
    )
    for field, value in fields.items():
        setattr(person, field, clean_whitespace(value) if isinstance(value, str) else value)
    if not fold(person.display_name):
        raise DomainError("A person needs a display name.", field="display_name")
    person.name_key = parse_name(person.display_name).key
    person.sort_name = person.sort_name or parse_name(person.display_name).sort_name
    person.sort_key = _fit(person_sort_key(person.sort_name), Person, "sort_key")
    person.save()
    person_renames_record(
        [(person.pk, shown_before, person.display_name)], cause=PersonRename.Cause.EDIT, by=by
    )
    person_refresh_search_text(person=person)
    if person.display_name != shown_before:
        person_hooks.person_renamed(person.pk)
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


def person_resolve(
    *, name: str, source: Any = None, title: str = "", affiliation: str = ""
) -> Person:
    """The person a new entry names: an existing one only when the identity
    rules say it is certain (``people.matching.identity``), otherwise a new
    person, for the next match run to weigh against the others."""
    key = parse_name(name).key
    [found] = people_for_entries(
        keys=[key],
        stated=[Known.of(titles=[title], orgs=[affiliation])],
        source_id=getattr(source, "pk", None),
    )
    if found is not None:
        return Person.objects.get(pk=found)
    return person_create(name=name, source=source)


def people_known_by(person_ids: Iterable[int]) -> dict[int, tuple[Known, set[int]]]:
    """What each person is known by (titles' fields and organisations, from
    their affiliations and what their entries stated) and the sources listing
    them, read set-based."""
    ids = sorted(set(person_ids))
    titles: dict[int, set[str]] = defaultdict(set)
    orgs: dict[int, set[str]] = defaultdict(set)
    for chunk in chunked(ids):
        for pk, org, role in Affiliation.objects.filter(
            among(Affiliation, "person", chunk)
        ).values_list("person_id", "organization__name", "role"):
            orgs[pk].add(org)
            titles[pk].add(role)
    context = followers.context(ids)
    empty = followers.Context()
    return {
        pk: (
            Known.of(
                titles=titles[pk] | context.get(pk, empty).titles,
                orgs=orgs[pk] | context.get(pk, empty).orgs,
            ),
            context.get(pk, empty).listings,
        )
        for pk in ids
    }


def people_for_entries(
    *, keys: Sequence[str], stated: Sequence[Known], source_id: int | None
) -> list[int | None]:
    """For each new entry of one source (its normalised name and what it
    states), in order, the active person it joins at once, or None when it is
    to get a person of its own (``people.matching.identity.entry_joins``). An
    entry joining a person puts them on the source's list, so a later entry
    of the same name in the batch is another person."""
    candidates: dict[str, list[int]] = defaultdict(list)
    for chunk in chunked(sorted(set(keys))):
        for key, person_id in Person.objects.filter(
            name_key__in=chunk, merged_into__isnull=True
        ).values_list("name_key", "id"):
            candidates[key].append(person_id)
    single = sorted(found[0] for found in candidates.values() if len(found) == 1)
    known = people_known_by(single)
    joined: set[int] = set()
    people: list[int | None] = []
    for key, entry in zip(keys, stated, strict=True):
        found = candidates.get(key, [])
        choice = entry_joins(
            entry,
            [
                Candidate(
                    person=pk,
                    known=known[pk][0] if pk in known else Known(),
                    on_this_list=pk in joined or (pk in known and source_id in known[pk][1]),
                )
                for pk in found
            ],
        )
        if choice is not None:
            joined.add(choice)
        people.append(choice)
    return people


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
