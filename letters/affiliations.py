"""Signatures linked to the organization their stated affiliation names.

A signature whose organization is empty takes the one its affiliation resolves
to (``people.selectors.organization_resolver``: the exact key of a name or an
alias, never a guess), with the source that stated it. The signature's own
affiliation decides; when it names no known organization, its sightings'
affiliations do if they all name the same one. An organization an editor chose,
or chose to leave empty, is theirs: nothing here changes it.

Entries link as they are written (``signature_record``, a sync's writes), and
stored signatures when an organization is created or renamed later
(``organization_named``, which ``letters.apps`` registers with
``people.organization_hooks``) and by the ``link_organizations`` command.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Collection, Iterable, Sequence
from datetime import datetime

from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone

from letters.models import Sighting, Signature
from people.selectors import organization_resolver
from tracker import locks
from tracker.bulk import among, chunked, update_rows

Resolve = Callable[[str], int | None]
# (signature id, organization id, id of the source that stated it or None)
Link = tuple[int, int, int | None]


def organization_stated(
    affiliation: str, stated: Iterable[tuple[str, int | None]], resolve: Resolve
) -> tuple[int, int | None] | None:
    """The organization a signature's affiliation names, and the source that
    stated it: the first of ``stated`` (its sightings' affiliations and
    sources, earliest first) naming that organization. When the signature's
    own affiliation names none, its sightings' do, if they all name one."""
    stated = list(stated)
    organization = resolve(affiliation)
    if organization is None:
        named = {resolve(text) for text, _source in stated} - {None}
        if len(named) != 1:
            return None
        [organization] = named
    source = next((source for text, source in stated if resolve(text) == organization), None)
    return organization, source


def _unlinked() -> QuerySet:
    return Signature.objects.filter(
        organization__isnull=True, organization_by_hand=False, merged_into__isnull=True
    )


def link(links: Sequence[Link], *, at: datetime) -> list[Link]:
    """Set these signatures' organizations and their sources, those still
    without one and not an editor's (read again under lock); return the links made."""
    wanted = {signature: (organization, source) for signature, organization, source in links}
    still: list[int] = []
    for chunk in chunked(sorted(wanted)):
        still += (
            _unlinked()
            .select_for_update(of=("self",))
            .filter(among(Signature, "id", chunk))
            .order_by("pk")
            .values_list("pk", flat=True)
        )
    made = [(pk, *wanted[pk]) for pk in still]
    update_rows(
        Signature,
        ["organization_id", "organization_source_id", "updated_at"],
        [(*made_link, at) for made_link in made],
    )
    return made


def signatures_link(
    signature_ids: Collection[int],
    *,
    at: datetime,
    resolve: Resolve | None = None,
    organization_ids: Collection[int] | None = None,
) -> list[Link]:
    """Link those of these signatures whose organization is empty and whose
    affiliation resolves (to one of ``organization_ids`` when given), reading
    them and their sightings; return the links made. A run passes the
    ``resolve`` it read once for all its rows."""
    if not signature_ids:
        return []
    resolve = resolve or organization_resolver()
    affiliation_of: dict[int, str] = {}
    for chunk in chunked(sorted(set(signature_ids))):
        affiliation_of.update(
            _unlinked()
            .filter(among(Signature, "id", chunk))
            .order_by()
            .values_list("pk", "affiliation")
        )
    stated: dict[int, list[tuple[str, int | None]]] = defaultdict(list)
    for chunk in chunked(sorted(affiliation_of)):
        for signature, text, source in (
            Sighting.objects.filter(among(Sighting, "signature", chunk))
            .exclude(affiliation="")
            .order_by("first_seen_at", "pk")
            .values_list("signature_id", "affiliation", "source_id")
        ):
            stated[signature].append((text, source))
    links = []
    for pk, affiliation in affiliation_of.items():
        found = organization_stated(affiliation, stated[pk], resolve)
        if found is not None and (organization_ids is None or found[0] in organization_ids):
            links.append((pk, *found))
    return link(links, at=at)


def _distinct(queryset: QuerySet) -> set[str]:
    return set(queryset.exclude(affiliation="").order_by().values_list("affiliation", flat=True))


def stored_link(*, organization_ids: Collection[int] | None = None) -> int:
    """Link every stored signature whose organization is empty and whose
    affiliation (or its sightings') resolves, to one of ``organization_ids``
    or to any organization; return how many. Each text is read and resolved
    once, not once per signature, and only the signatures stating a text that
    resolves are read further."""
    resolve = organization_resolver()
    unlinked = _unlinked()
    texts = _distinct(unlinked) | _distinct(Sighting.objects.filter(signature__in=unlinked))
    wanted = sorted(
        text
        for text in texts
        if resolve(text) is not None
        and (organization_ids is None or resolve(text) in organization_ids)
    )
    candidates: set[int] = set()
    for chunk in chunked(wanted):
        candidates.update(
            unlinked.filter(affiliation__in=chunk).order_by().values_list("pk", flat=True)
        )
        candidates.update(
            Sighting.objects.filter(signature__in=unlinked, affiliation__in=chunk)
            .order_by()
            .values_list("signature_id", flat=True)
        )
    if not candidates:
        return 0
    letter_ids: set[int] = set()
    for chunk in chunked(sorted(candidates)):
        letter_ids.update(
            Signature.objects.filter(among(Signature, "id", chunk))
            .order_by()
            .values_list("letter_id", flat=True)
            .distinct()
        )
    with transaction.atomic():
        # The letters' locks first, as their writers take them, then the rows.
        locks.letter_locks(letter_ids)
        made = signatures_link(
            candidates, at=timezone.now(), resolve=resolve, organization_ids=organization_ids
        )
    return len(made)


def signature_link(signature: Signature, *, at: datetime) -> None:
    """Link one signature an entry or an editor just stated an affiliation
    for, if its organization is empty and the affiliation resolves; the
    instance shows the link."""
    if signature.organization_id is not None or signature.organization_by_hand:
        return
    for _pk, organization, source in signatures_link([signature.pk], at=at):
        signature.organization_id, signature.organization_source_id = organization, source


def organization_named(organization_id: int) -> None:
    """An organization was created, renamed or given an alias: the signatures
    stating it now, with no organization yet, are linked to it."""
    stored_link(organization_ids={organization_id})
