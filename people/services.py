"""Writes on people and organizations. Every function runs in a transaction
and raises ``DomainError`` for input the domain refuses."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.text import slugify

from people.matching.normalize import clean_whitespace, fold, parse_name
from people.models import (
    Affiliation,
    MatchJudgement,
    MatchRun,
    Merge,
    Organization,
    Person,
    PersonName,
)
from tracker.errors import DomainError

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


@transaction.atomic
def person_create(
    *,
    name: str,
    source: Any = None,
    external_ids: dict[str, str] | None = None,
    notes: str = "",
) -> Person:
    parsed = parse_name(name)
    if not parsed.key:
        raise DomainError("A person needs a name with at least one letter or digit.", field="name")
    person = Person.objects.create(
        display_name=parsed.display or parsed.written,
        sort_name=parsed.sort_name or parsed.written,
        given_name=parsed.given,
        middle_name=parsed.middle,
        family_name=parsed.family,
        honorific=parsed.honorific,
        suffix=parsed.suffix,
        name_key=parsed.key,
        external_ids=_clean_external_ids(external_ids),
        notes=notes,
    )
    person_add_name(person=person, name=parsed.written, source=source)
    return person


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
    from django.db.models import Q

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


def _display_from_most_reliable_source(person: Person) -> dict[str, str] | None:
    """The display fields of the name written by the most reliable source, when
    that source is more reliable than those of the current display name.

    A name an editor added by hand counts as the editors' source. A tie keeps
    the current name, so merging never flips a name back and forth.
    """
    from letters.models import Source

    by_hand = Source.DEFAULT_RELIABILITY[Source.Kind.MANUAL]
    rows = list(
        PersonName.objects.filter(person=person)
        .order_by("pk")
        .values_list("name", "source__reliability")
    )
    if not rows:
        return None
    ranked = [(by_hand if r is None else r, name) for name, r in rows]
    current = max(
        (r for r, name in ranked if parse_name(name).display == person.display_name), default=-1
    )
    best_reliability = max(r for r, _name in ranked)
    if best_reliability <= current:
        return None
    best = next(name for r, name in ranked if r == best_reliability)
    parsed = parse_name(best)
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
    from letters.models import SightingEvent, Signature, SignatureStatusChange

    survivor = person_survivor(Person.objects.get(pk=survivor.pk))
    merged = person_survivor(Person.objects.get(pk=merged.pk))
    if survivor.pk == merged.pk:
        raise DomainError("These records are already one person.", code="already_merged")
    # Lock both rows in primary-key order so that concurrent merges cannot deadlock.
    locked = {
        p.pk: p
        for p in Person.objects.select_for_update()
        .filter(pk__in=[survivor.pk, merged.pk])
        .order_by("pk")
    }
    survivor, merged = locked[survivor.pk], locked[merged.pk]
    if survivor.merged_into_id or merged.merged_into_id:
        raise DomainError("One of these people was merged meanwhile; try again.", code="conflict")
    conflicts = judgements_between(
        person_cluster_ids(survivor), person_cluster_ids(merged), MatchJudgement.Decision.DIFFERENT
    )
    conflicts = [j for j in conflicts if judgement is None or j.pk != judgement.pk]
    if conflicts:
        raise DomainError(
            "An editor judged these people different (judgement "
            f"#{conflicts[0].pk}); they cannot be merged.",
            code="judged_different",
        )

    now = timezone.now()
    actor = "merge" if not automatic else "matcher"
    moved: dict[str, list] = {
        "signatures": [],
        "folded_signatures": [],
        "sightings": [],
        "names": [],
        "affiliations": [],
    }
    kept_by_letter = {
        s.letter_id: s
        for s in Signature.objects.select_for_update().filter(
            person=survivor, merged_into__isnull=True
        )
    }
    for signature in (
        Signature.objects.select_for_update()
        .filter(person=merged, merged_into__isnull=True)
        .order_by("pk")
    ):
        kept = kept_by_letter.get(signature.letter_id)
        if kept is None:
            moved["signatures"].append(signature.pk)
            signature.person = survivor
            signature.save(update_fields=["person", "updated_at"])
            continue
        # Two signatures of one letter become one; the merged one stays as history.
        fold_record = {
            "signature": signature.pk,
            "into": kept.pk,
            "kept_before": {
                "status": kept.status,
                "first_seen_at": kept.first_seen_at.isoformat(),
                "last_seen_at": kept.last_seen_at.isoformat(),
                "needs_review": kept.needs_review,
                "review_reason": kept.review_reason,
                "title": kept.title,
                "affiliation": kept.affiliation,
            },
        }
        for sighting in signature.sightings.select_for_update().order_by("pk"):
            moved["sightings"].append({"id": sighting.pk, "from": signature.pk, "to": kept.pk})
            sighting.signature = kept
            sighting.save(update_fields=["signature"])
            SightingEvent.objects.create(
                sighting=sighting,
                kind=SightingEvent.Kind.MOVED,
                at=now,
                before={"signature": signature.pk},
                after={"signature": kept.pk},
            )
        if _STATUS_WEIGHT[signature.status] > _STATUS_WEIGHT[kept.status]:
            SignatureStatusChange.objects.create(
                signature=kept,
                from_status=kept.status,
                to_status=signature.status,
                changed_at=now,
                changed_by=by if getattr(by, "pk", None) else None,
                actor=actor,
                reason=f"Merged with signature #{signature.pk}, which was {signature.status}.",
            )
            kept.status = signature.status
        kept.first_seen_at = min(kept.first_seen_at, signature.first_seen_at)
        kept.last_seen_at = max(kept.last_seen_at, signature.last_seen_at)
        kept.needs_review = kept.needs_review or signature.needs_review
        kept.review_reason = kept.review_reason or signature.review_reason
        kept.title = kept.title or signature.title
        kept.affiliation = kept.affiliation or signature.affiliation
        kept.save()
        signature.merged_into = kept
        signature.save(update_fields=["merged_into", "updated_at"])
        moved["folded_signatures"].append(fold_record)

    survivor_names = set(
        PersonName.objects.filter(person=survivor).values_list("name", "source_id")
    )
    for person_name in PersonName.objects.filter(person=merged).order_by("pk"):
        if (person_name.name, person_name.source_id) in survivor_names:
            continue  # the survivor already shows this name from this source
        moved["names"].append(person_name.pk)
        person_name.person = survivor
        person_name.save(update_fields=["person"])
    for affiliation in Affiliation.objects.filter(person=merged).order_by("pk"):
        moved["affiliations"].append(affiliation.pk)
        affiliation.person = survivor
        affiliation.save(update_fields=["person"])

    # The survivor shows its name as the most reliable source writes it (a
    # letter's own list over the press, the press over scraped feeds).
    display = _display_from_most_reliable_source(survivor)
    if display is not None:
        moved["survivor_before"] = {field: getattr(survivor, field) for field in _DISPLAY_FIELDS}
        for field, value in display.items():
            setattr(survivor, field, value)
        survivor.save(update_fields=[*_DISPLAY_FIELDS, "updated_at"])

    merged.merged_into = survivor
    merged.merged_at = now
    merged.save(update_fields=["merged_into", "merged_at", "updated_at"])
    person_refresh_search_text(person=survivor)
    person_refresh_search_text(person=merged)
    return Merge.objects.create(
        survivor=survivor,
        merged=merged,
        judgement=judgement,
        run=run,
        automatic=automatic,
        by=by if getattr(by, "pk", None) else None,
        reason=reason,
        moved=moved,
    )


@transaction.atomic
def merge_undo(*, merge: Merge, by: Any = None, reason: str = "") -> Merge:
    """Put back what a merge moved, and record that the two are different
    people so that no later run merges them again."""
    from datetime import datetime

    from letters.models import Sighting, SightingEvent, Signature, SignatureStatusChange

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
    *, judgement: MatchJudgement, decision: str, reason: str, by: Any = None
) -> MatchJudgement:
    """An editor's decision on a pair: "same" merges them, "different" becomes a
    constraint no automatic run overrules, "unsure" is recorded for later."""
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
