"""Writes on letters, sources, sightings and signatures.

Every signature is backed by a sighting: an editor's entry is a sighting of the
letter's "manual" source, an API client's of its "api" source, a sync's of the
source it fetched. ``signature_record`` is the one path all of them take.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from django.core.exceptions import ValidationError
from django.core.validators import URLValidator
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.text import slugify

from letters import affiliations
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
from letters.versions import record_versions_later
from people.matching.identity import Known, contexts_conflict, same_entry
from people.matching.normalize import clean_whitespace, fold, is_blank, parse_name
from people.merging.runs import match_queue
from people.models import Organization, Person
from people.services import person_add_name, person_resolve, person_survivor
from tracker import locks
from tracker.errors import Conflict, DomainError

LETTER_FIELDS = {
    "title",
    "slug",
    "summary",
    "text",
    "language",
    "published_on",
    "url",
    "status",
    "claimed_count",
    "organisers_note",
}
_CLAIMED_NUMBER = re.compile(r"\d[\d,.\s\u202f]*")
_url_validator = URLValidator(schemes=["http", "https"])


def _check_url(value: str, field_name: str) -> str:
    value = (value or "").strip()
    if value:
        try:
            _url_validator(value)
        except ValidationError:
            raise DomainError(
                f"{value!r} is not an http or https address.", field=field_name
            ) from None
    return value


def parse_claimed_count(text: str) -> int | None:
    """'400+' -> 400, 'more than 1,200' -> 1200, '' -> None."""
    match = _CLAIMED_NUMBER.search(text or "")
    if not match:
        return None
    digits = re.sub(r"\D", "", match.group(0))
    return int(digits) if digits else None


def _validate_letter(letter: Letter) -> None:
    if is_blank(letter.title):
        raise DomainError(
            "A letter needs a title with at least one letter or digit.", field="title"
        )
    if not letter.slug or slugify(letter.slug) != letter.slug:
        raise DomainError(
            "A slug is lower-case letters, digits and hyphens, such as 'ai-copyright-2025'.",
            field="slug",
        )
    if letter.status not in Letter.Status.values:
        raise DomainError(
            f"Unknown status {letter.status!r}; use one of {', '.join(Letter.Status.values)}.",
            field="status",
        )
    letter.url = _check_url(letter.url, "url")


def _letter_search_text(letter: Letter) -> str:
    return fold(f"{letter.title} {letter.slug}")


@transaction.atomic
def letter_create(
    *, title: str, slug: str, organisers: list[Organization] | None = None, **fields: Any
) -> Letter:
    unknown = set(fields) - LETTER_FIELDS
    if unknown:
        raise DomainError(f"Unknown letter fields: {', '.join(sorted(unknown))}.")
    if Letter.objects.filter(slug=slug).exists():
        raise Conflict(f"A letter with the slug {slug!r} exists.", field="slug")
    letter = Letter(title=clean_whitespace(title), slug=slug, **fields)
    letter.claimed_count_min = parse_claimed_count(letter.claimed_count)
    _validate_letter(letter)
    letter.search_text = _letter_search_text(letter)
    letter.save()
    if organisers is not None:
        letter.organisers.set(organisers)
    return letter


@transaction.atomic
def letter_update(
    *, letter: Letter, organisers: list[Organization] | None = None, **fields: Any
) -> Letter:
    unknown = set(fields) - LETTER_FIELDS
    if unknown:
        raise DomainError(f"Unknown letter fields: {', '.join(sorted(unknown))}.")
    if (
        "slug" in fields
        and Letter.objects.filter(slug=fields["slug"]).exclude(pk=letter.pk).exists()
    ):
        raise Conflict(f"A letter with the slug {fields['slug']!r} exists.", field="slug")
    for name, value in fields.items():
        setattr(letter, name, value)
    letter.title = clean_whitespace(letter.title)
    letter.claimed_count_min = parse_claimed_count(letter.claimed_count)
    _validate_letter(letter)
    letter.search_text = _letter_search_text(letter)
    letter.save()
    if organisers is not None:
        letter.organisers.set(organisers)
    return letter


@transaction.atomic
def letter_target_set(
    *, letter: Letter, organization: Organization, role: str, note: str | None = None
) -> LetterTarget:
    """Record that a letter is sent to (addressee) or about (subject) an organization."""
    if role not in LetterTarget.Role.values:
        raise DomainError(
            f"Unknown role {role!r}; use one of {', '.join(LetterTarget.Role.values)}.",
            field="role",
        )
    target, created = LetterTarget.objects.get_or_create(
        letter=letter, organization=organization, role=role, defaults={"note": note or ""}
    )
    if not created and note is not None and target.note != note:
        target.note = note
        target.save(update_fields=["note"])
    return target


@transaction.atomic
def letter_target_remove(*, target: LetterTarget) -> None:
    target.delete()


# --- Sources ------------------------------------------------------------------

_INTERNAL_SOURCES = {
    Source.Kind.MANUAL: ("Editors", Source.Format.NONE),
    Source.Kind.API: ("API", Source.Format.NONE),
}


def source_internal_for(*, letter: Letter, kind: str) -> Source:
    """The letter's source for editors' entries ("manual") or API clients ("api")."""
    name, format_ = _INTERNAL_SOURCES[kind]
    source = Source.objects.filter(letter=letter, kind=kind).first()
    if source is None:
        try:
            with transaction.atomic():
                source = Source.objects.create(
                    letter=letter,
                    kind=kind,
                    name=name,
                    format=format_,
                    enabled=False,
                    reliability=Source.DEFAULT_RELIABILITY[kind],
                )
        except IntegrityError:
            # The first two entries of a letter arrived together; the other made it.
            source = Source.objects.get(letter=letter, kind=kind)
    return source


def _validate_source(source: Source) -> None:
    source.name = clean_whitespace(source.name)
    if is_blank(source.name):
        raise DomainError("A source needs a name.", field="name")
    if source.kind not in Source.Kind.values:
        raise DomainError(
            f"Unknown kind {source.kind!r}; use one of {', '.join(Source.Kind.values)}.",
            field="kind",
        )
    if source.format not in Source.Format.values:
        raise DomainError(
            f"Unknown format {source.format!r}; use one of {', '.join(Source.Format.values)}.",
            field="format",
        )
    taken = Source.objects.filter(letter=source.letter, name=source.name)
    if source.pk:
        taken = taken.exclude(pk=source.pk)
    if taken.exists():
        raise Conflict(f"This letter already has a source named {source.name!r}.", field="name")
    if source.kind in _INTERNAL_SOURCES:
        twin = Source.objects.filter(letter=source.letter, kind=source.kind)
        if source.pk:
            twin = twin.exclude(pk=source.pk)
        if twin.exists():
            raise Conflict(f"This letter already has its {source.kind} source.", field="kind")
    if not 0 <= source.reliability <= 100:
        raise DomainError("Reliability goes from 0 to 100.", field="reliability")
    if not 0 <= source.max_rejected_percent <= 100:
        raise DomainError(
            "The share of rows a run may leave out goes from 0 to 100 (percent).",
            field="max_rejected_percent",
        )
    if source.sync_interval < timedelta(minutes=1):
        raise DomainError("Sync at most once a minute.", field="sync_interval")
    if not isinstance(source.options, dict):
        raise DomainError("Options are an object.", field="options")
    source.url = _check_url(source.url, "url")
    if source.url:
        from letters.sync.fetch import source_url_validate

        source_url_validate(url=source.url)  # a private address is refused here, not at sync


SOURCE_EDITABLE_FIELDS = {
    "name",
    "url",
    "format",
    "options",
    "reliability",
    "max_rejected_percent",
    "sync_interval",
    "enabled",
    "next_sync_at",
}


@transaction.atomic
def source_update(*, source: Source, **fields: Any) -> Source:
    """Change a source's settings; its letter and kind stay as created."""
    unknown = set(fields) - SOURCE_EDITABLE_FIELDS
    if unknown:
        raise DomainError(f"These source fields cannot be changed: {', '.join(sorted(unknown))}.")
    # Work on a fresh row so that a refused change leaves the caller's object as it was.
    source = Source.objects.select_for_update().get(pk=source.pk)
    for name, value in fields.items():
        setattr(source, name, value if value is not None or name == "next_sync_at" else "")
    if "options" in fields and fields["options"] is None:
        source.options = {}
    _validate_source(source)
    source.save()
    return source


@transaction.atomic
def source_create(
    *,
    letter: Letter,
    name: str,
    kind: str,
    url: str = "",
    format: str = Source.Format.NONE,  # noqa: A002 - the field's name
    options: dict | None = None,
    reliability: int | None = None,
    max_rejected_percent: int | None = None,
    sync_interval: timedelta | None = None,
    enabled: bool = True,
) -> Source:
    source = Source(
        letter=letter,
        name=name or "",
        kind=kind,
        url=url or "",
        format=format,
        options={} if options is None else options,
        reliability=Source.DEFAULT_RELIABILITY.get(kind, 50)
        if reliability is None
        else reliability,
        enabled=enabled,
    )
    if sync_interval is not None:
        source.sync_interval = sync_interval
    if max_rejected_percent is not None:
        source.max_rejected_percent = max_rejected_percent
    _validate_source(source)
    source.save()
    return source


# --- Sightings and signatures -------------------------------------------------

_SIGHTING_VALUE_FIELDS = ("name", "title", "affiliation", "country", "signed_on", "url", "extra")


@dataclass
class Entry:
    """One entry of a signatory list, as written by its source."""

    name: str
    title: str = ""
    affiliation: str = ""
    country: str = ""
    signed_on: date | None = None
    url: str = ""
    extra: dict[str, Any] = field(default_factory=dict)
    key: str = ""
    position: int | None = None
    # A digest of the row it was read from (letters.sync.parse), kept on its sighting.
    row_hash: bytes | None = field(default=None, compare=False, repr=False)

    def values(self) -> dict[str, Any]:
        return {
            "name": clean_whitespace(self.name)[:500],
            "title": clean_whitespace(self.title)[:500],
            "affiliation": clean_whitespace(self.affiliation)[:500],
            "country": clean_whitespace(self.country)[:100],
            "signed_on": self.signed_on,
            "url": (self.url or "").strip()[:1000],
            "extra": self.extra or {},
        }


def sighting_key_for(entry: Entry) -> str:
    """The key of an entry within its source: given by the source, or its folded name."""
    if entry.key:
        return entry.key[:400]
    return f"name:{parse_name(entry.name).key}"[:400]


def _jsonable(values: dict[str, Any]) -> dict[str, Any]:
    return {
        key: value.isoformat() if isinstance(value, date | datetime) else value
        for key, value in values.items()
    }


def _status_change_create(
    *,
    signature: Signature,
    from_status: str,
    to_status: str,
    at: datetime,
    by: Any = None,
    actor: str = "",
    reason: str = "",
    evidence_method: str = "",
    evidence_url: str = "",
) -> SignatureStatusChange:
    return SignatureStatusChange.objects.create(
        signature=signature,
        from_status=from_status,
        to_status=to_status,
        changed_at=at,
        changed_by=by if getattr(by, "pk", None) else None,
        actor=actor[:100],
        reason=reason,
        evidence_method=evidence_method,
        evidence_url=evidence_url[:1000],
    )


def _lock_letter(letter: Letter) -> None:
    """Record one entry of a letter at a time, as syncs of its sources do: two
    writers of one entry or one person would otherwise both find nothing and
    both create it."""
    locks.letter_locks([letter.pk])


def _lock_person(person: Person) -> Person:
    """The person's row, locked against a merge for the rest of the transaction.
    A merge of theirs in flight is waited for and followed to its survivor, so
    that no signature is made for a record merged a moment before."""
    while True:
        locked = (
            Person.objects.select_for_update(no_key=True, of=("self",)).order_by().get(pk=person.pk)
        )
        if locked.merged_into_id is None:
            return locked
        person = person_survivor(locked)


@dataclass
class RecordResult:
    signature: Signature
    sighting: Sighting
    sighting_created: bool
    sighting_changed: bool
    signature_created: bool


@transaction.atomic
def signature_record(
    *,
    letter: Letter,
    source: Source,
    entry: Entry,
    person: Person | None = None,
    by: Any = None,
    run: SyncRun | None = None,
    at: datetime | None = None,
) -> RecordResult:
    """Record one entry of a source: upsert its sighting, resolve its person,
    and make sure the signature it supports exists.

    Re-recording the same entry changes nothing; a changed spelling or
    affiliation updates the sighting and keeps the previous values in its
    history.
    """
    if source.letter_id != letter.pk:
        raise DomainError("That source lists another letter's signatories.", field="source")
    values = entry.values()
    if not fold(values["name"]) and person is None:
        raise DomainError("An entry needs a name.", field="name")
    if person is not None:
        person = person_survivor(person)
        if not fold(values["name"]):
            values["name"] = person.display_name
    values["url"] = _check_url(values["url"], "url")
    at = at or timezone.now()
    key = (
        entry.key[:400]
        if entry.key
        else (
            f"person:{person.pk}"
            if person is not None and not fold(entry.name)
            else sighting_key_for(Entry(name=values["name"]))
        )
    )

    _lock_letter(letter)
    # Only the sighting row: a join or an ordering through the letter would lock the
    # letter's row too, in an order that deadlocks against other writers.
    if entry.key or key.startswith("person:"):
        sighting = (
            Sighting.objects.select_for_update(of=("self",))
            .select_related("signature")
            .filter(source=source, key=key)
            .order_by()
            .first()
        )
    else:
        sighting, key = _same_entry(source, key, values)
    created = changed = renamed = signature_created = back = False
    if sighting is None:
        if person is None:
            locks.name_lock(parse_name(values["name"]).key)
            person = person_resolve(
                name=values["name"],
                source=source,
                title=values["title"],
                affiliation=values["affiliation"],
            )
        person = _lock_person(person)
        signature, signature_created = _signature_get_or_create(
            letter=letter, person=person, values=values, source=source, by=by, at=at
        )
        sighting = Sighting.objects.create(
            source=source,
            key=key,
            signature=signature,
            position=entry.position,
            present=True,
            first_seen_at=at,
            last_seen_at=at,
            first_run=run,
            last_run=run,
            entered_by=by if getattr(by, "pk", None) else None,
            **values,
        )
        SightingEvent.objects.create(
            sighting=sighting,
            run=run,
            kind=SightingEvent.Kind.ADDED,
            at=at,
            after=_jsonable(values),
        )
        created = True
    else:
        signature = sighting.signature
        before = {name: getattr(sighting, name) for name in _SIGHTING_VALUE_FIELDS}
        differing = {name for name in _SIGHTING_VALUE_FIELDS if before[name] != values[name]}
        if differing:
            SightingEvent.objects.create(
                sighting=sighting,
                run=run,
                kind=SightingEvent.Kind.CHANGED,
                at=at,
                before=_jsonable({name: before[name] for name in differing}),
                after=_jsonable({name: values[name] for name in differing}),
            )
            for name in differing:
                setattr(sighting, name, values[name])
            # Its values are no longer those of the row a sync read.
            sighting.row_hash = None
            changed = True
            renamed = "name" in differing
        if not sighting.present:
            back = True
            SightingEvent.objects.create(
                sighting=sighting, run=run, kind=SightingEvent.Kind.BACK, at=at
            )
            sighting.present = True
            sighting.gone_at = None
            sighting.gone_run = None
        sighting.last_seen_at = at
        sighting.last_run = run
        if entry.position is not None:
            sighting.position = entry.position
        sighting.save()
        if signature.last_seen_at < at:
            signature.last_seen_at = at
            signature.save(update_fields=["last_seen_at", "updated_at"])

    if values["affiliation"] and (created or changed):
        affiliations.signature_link(signature, at=at)
    person_add_name(person=signature.person, name=values["name"], source=source)
    if created or renamed:
        # A new entry or a respelling may duplicate someone listed already.
        match_queue([signature.person_id])
    if created or changed or back:
        record_versions_later([letter.pk], by=by, reason=f"Entry of {source.name}")
    return RecordResult(
        signature=signature,
        sighting=sighting,
        sighting_created=created,
        sighting_changed=changed,
        signature_created=signature_created,
    )


def _same_entry(source: Source, key: str, values: dict[str, Any]) -> tuple[Sighting | None, str]:
    """The source's sighting this entry, keyed by its name, writes again (the
    same entry, or one whose title and affiliation do not disagree with it: a
    correction), and its key; or, when there is none, the key of a new
    sighting: an entry of the same name whose context disagrees is another
    person's (``key#2``...), as two such rows of one file are in a sync."""
    # Only the sighting rows: a join or an ordering through the letter would lock
    # the letter's row too, in an order that deadlocks against other writers.
    namesakes = sorted(
        Sighting.objects.select_for_update(of=("self",))
        .select_related("signature")
        .filter(Q(key=key) | Q(key__startswith=f"{key}#"), source=source)
        .order_by(),
        key=lambda sighting: (len(sighting.key), sighting.key),
    )
    stated = Known.of(titles=[values["title"]], orgs=[values["affiliation"]])
    written = {
        "name": values["name"],
        "title": values["title"],
        "affiliation": values["affiliation"],
    }
    for same in (True, False):
        for sighting in namesakes:
            was = {
                "name": sighting.name,
                "title": sighting.title,
                "affiliation": sighting.affiliation,
            }
            if (
                same_entry(was, written)
                if same
                else not contexts_conflict(
                    Known.of(titles=[sighting.title], orgs=[sighting.affiliation]), stated
                )
            ):
                return sighting, sighting.key
    taken = {sighting.key for sighting in namesakes}
    if key not in taken:
        return None, key
    number = len(taken) + 1
    while f"{key[:396]}#{number}" in taken:
        number += 1
    return None, f"{key[:396]}#{number}"


def _signature_get_or_create(
    *,
    letter: Letter,
    person: Person,
    values: dict[str, Any],
    source: Source,
    by: Any,
    at: datetime,
) -> tuple[Signature, bool]:
    signature = (
        Signature.objects.select_for_update(of=("self",))
        .filter(letter=letter, person=person)
        .order_by()
        .first()
    )
    if signature is not None:
        if signature.merged_into_id:
            signature = signature.merged_into
        changed_fields = []
        if signature.last_seen_at < at:
            signature.last_seen_at = at
            changed_fields.append("last_seen_at")
        if not signature.title and values["title"]:
            signature.title = values["title"]
            changed_fields.append("title")
        if not signature.affiliation and values["affiliation"]:
            signature.affiliation = values["affiliation"]
            changed_fields.append("affiliation")
        if changed_fields:
            signature.save(update_fields=[*changed_fields, "updated_at"])
        return signature, False
    signature = Signature.objects.create(
        letter=letter,
        person=person,
        status=Signature.Status.LISTED,
        title=values["title"],
        affiliation=values["affiliation"],
        signed_on=values["signed_on"],
        first_seen_at=at,
        last_seen_at=at,
    )
    _status_change_create(
        signature=signature,
        from_status="",
        to_status=Signature.Status.LISTED,
        at=at,
        by=by,
        actor=f"source:{source.name}",
        reason=f"Listed by {source.name}.",
        evidence_method=SignatureStatusChange.Method.SOURCE,
        evidence_url=values["url"] or source.url,
    )
    return signature, True


@transaction.atomic
def signature_record_manual(*, letter: Letter, by: Any, **entry: Any) -> Signature:
    """An editor's entry: a sighting of the letter's manual source (see
    ``manual_entry_record``, which also says what the entry changed)."""
    return manual_entry_record(letter=letter, by=by, **entry).signature


@transaction.atomic
def manual_entry_record(
    *,
    letter: Letter,
    by: Any,
    name: str = "",
    person: Person | None = None,
    title: str = "",
    affiliation: str = "",
    signed_on: date | None = None,
    url: str = "",
) -> RecordResult:
    """An editor's entry: a sighting of the letter's manual source. The result
    says whether it made a signature, added or changed a sighting of one, or
    changed nothing."""
    if not fold(name) and person is None:
        raise DomainError("Give the signatory's name or choose a person.", field="name")
    source = source_internal_for(letter=letter, kind=Source.Kind.MANUAL)
    entry = Entry(name=name, title=title, affiliation=affiliation, signed_on=signed_on, url=url)
    if person is not None:
        entry.key = f"person:{person_survivor(person).pk}"
    return signature_record(letter=letter, source=source, entry=entry, person=person, by=by)


@transaction.atomic
def signature_change_status(
    *,
    signature: Signature,
    status: str,
    reason: str,
    by: Any = None,
    actor: str = "",
    evidence_method: str = "",
    evidence_url: str = "",
    at: datetime | None = None,
) -> Signature:
    """Change a signature's status, leaving a history row with the evidence;
    ``at`` is when it changed, if not now (a change recorded after the fact)."""
    reason, evidence_url = _status_change_check(status, reason, evidence_method, evidence_url)
    locked, from_status = _status_change_apply(
        signature.pk,
        status=status,
        reason=reason,
        by=by,
        actor=actor,
        evidence_method=evidence_method,
        evidence_url=evidence_url,
        at=at or timezone.now(),
    )
    record_versions_later(
        [locked.letter_id],
        by=by,
        reason=f"Signature {locked.pk}: {from_status} to {status} ({reason})",
    )
    return locked


@dataclass
class StatusChanges:
    """What a change of many signatures' status did: the signatures changed,
    and those refused with the reason (already of that status, merged)."""

    changed: list[Signature] = field(default_factory=list)
    refused: list[tuple[Signature, str]] = field(default_factory=list)


@transaction.atomic
def signatures_change_status(
    *,
    signatures: Iterable[Signature],
    status: str,
    reason: str,
    by: Any = None,
    evidence_method: str = "",
    evidence_url: str = "",
) -> StatusChanges:
    """Change the status of many signatures at once, with one reason and one
    piece of evidence, each with its history row. One transaction: either
    every change that can be made is, or none; a signature whose change is
    refused is reported and the others go on. Each letter touched gets one new
    version for the whole change, not one per signature."""
    reason, evidence_url = _status_change_check(status, reason, evidence_method, evidence_url)
    now = timezone.now()
    result = StatusChanges()
    for signature in signatures:
        try:
            with transaction.atomic():
                locked, _ = _status_change_apply(
                    signature.pk,
                    status=status,
                    reason=reason,
                    by=by,
                    actor="",
                    evidence_method=evidence_method,
                    evidence_url=evidence_url,
                    at=now,
                )
        except DomainError as error:
            result.refused.append((signature, error.message))
        else:
            result.changed.append(locked)
    letters = {signature.letter_id for signature in result.changed}
    record_versions_later(
        letters, by=by, reason=f"{len(result.changed)} signature(s) to {status} ({reason})"
    )
    return result


def _status_change_check(
    status: str, reason: str, evidence_method: str, evidence_url: str
) -> tuple[str, str]:
    """Refuse an unknown status or evidence method, or no reason; return the
    reason and evidence address as stored."""
    if status not in Signature.Status.values:
        raise DomainError(
            f"Unknown status {status!r}; use one of {', '.join(Signature.Status.values)}.",
            field="status",
        )
    if evidence_method and evidence_method not in SignatureStatusChange.Method.values:
        raise DomainError(
            f"Unknown evidence method {evidence_method!r}; use one of "
            f"{', '.join(SignatureStatusChange.Method.values)}.",
            field="evidence_method",
        )
    reason = (reason or "").strip()
    if is_blank(reason):
        raise DomainError("Say why the status changes.", field="reason")
    return reason, _check_url(evidence_url, "evidence_url")


def _status_change_apply(
    signature_id: int,
    *,
    status: str,
    reason: str,
    by: Any,
    actor: str,
    evidence_method: str,
    evidence_url: str,
    at: datetime,
) -> tuple[Signature, str]:
    """Change one signature's status under its row lock, with its history row;
    the signature and the status it had. The caller queues the new version."""
    locked = Signature.objects.select_for_update().get(pk=signature_id)
    if locked.merged_into_id:
        raise Conflict(
            f"This signature was merged into #{locked.merged_into_id}; change that one.",
            code="merged",
        )
    if locked.status == status:
        raise Conflict(f"The signature is already {status}.", field="status", code="unchanged")
    from_status = locked.status
    _status_change_create(
        signature=locked,
        from_status=from_status,
        to_status=status,
        at=at,
        by=by,
        actor=actor,
        reason=reason,
        evidence_method=evidence_method,
        evidence_url=evidence_url,
    )
    locked.status = status
    update_fields = ["status", "updated_at"]
    if locked.needs_review:
        locked.needs_review = False
        locked.review_cause = Signature.ReviewCause.NONE
        locked.review_reason = ""
        update_fields += ["needs_review", "review_cause", "review_reason"]
    locked.save(update_fields=update_fields)
    return locked, from_status


_UNCHANGED: Any = object()


@transaction.atomic
def signature_update_stated(
    *,
    signature: Signature,
    title: str = _UNCHANGED,
    affiliation: str = _UNCHANGED,
    organization: Organization | None = _UNCHANGED,
    signed_on: date | None = _UNCHANGED,
    needs_review: bool = _UNCHANGED,
    review_reason: str = _UNCHANGED,
    by: Any = None,
) -> Signature:
    """Correct the title, affiliation, organization or date as stated when
    signing; what is not given stays as it is, None clears.

    An editor may also flag the signature for review, or clear its flag: a flag
    an editor set or reworded is theirs, and no sync clears it."""
    signature = Signature.objects.select_for_update().get(pk=signature.pk)
    if title is not _UNCHANGED:
        signature.title = clean_whitespace(title or "")
    if affiliation is not _UNCHANGED:
        signature.affiliation = clean_whitespace(affiliation or "")
    if organization is not _UNCHANGED:
        # The editor's choice, even of none: resolving affiliations leaves it alone.
        signature.organization = organization
        signature.organization_source = None
        signature.organization_by_hand = True
    if signed_on is not _UNCHANGED:
        signature.signed_on = signed_on
    if needs_review is not _UNCHANGED or review_reason is not _UNCHANGED:
        _review_set(
            signature,
            signature.needs_review if needs_review is _UNCHANGED else bool(needs_review),
            signature.review_reason if review_reason is _UNCHANGED else review_reason,
        )
    signature.save()
    if signature.affiliation and affiliation is not _UNCHANGED:
        affiliations.signature_link(signature, at=signature.updated_at)
    record_versions_later(
        [signature.letter_id], by=by, reason=f"Signature {signature.pk} corrected"
    )
    return signature


def _review_set(signature: Signature, needs_review: bool, reason: str) -> None:
    reason = clean_whitespace(reason or "")
    if (needs_review, reason) == (signature.needs_review, signature.review_reason):
        return
    if not needs_review:
        if reason and reason != signature.review_reason:
            raise DomainError(
                "Give a reason only when flagging the signature for review.",
                field="review_reason",
            )
        reason = ""
    signature.needs_review = needs_review
    signature.review_cause = (
        Signature.ReviewCause.EDITOR if needs_review else Signature.ReviewCause.NONE
    )
    signature.review_reason = reason[: Signature._meta.get_field("review_reason").max_length]
