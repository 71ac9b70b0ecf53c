"""Splitting a person found to be two people, and undoing a split.

A split moves some of a person's entries (sightings) to a new person, with
the signatures they support (a signature is split in two when only some of
its sightings move) and the names those entries wrote; it records a
"different" judgement between the two, so that no run joins them again, and a
``Split`` row saying exactly what moved. Undoing a split merges the new person
back (a merge like any other, which can be undone in turn).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.db import transaction
from django.utils import timezone

from people.matching.normalize import is_blank
from people.merging import followers
from people.merging.merge import person_merge, user_or_none
from people.merging.names import best_spelling
from people.merging.undo import _judge_different
from people.models import MatchJudgement, Person, PersonName, PersonRename, Split
from people.services import (
    PERSON_NAME_FIELDS,
    people_refresh_search_texts,
    person_create,
    person_name_fields,
    person_renames_record,
)
from tracker.errors import Conflict, DomainError
from tracker.locks import people_lock


@transaction.atomic
def person_split(*, person: Person, sightings: Sequence[int], reason: str, by: Any = None) -> Split:
    """Move ``sightings`` (ids of this person's entries) to a new person."""
    by = user_or_none(by)
    reason = (reason or "").strip()
    if is_blank(reason):
        raise DomainError("Say why these entries are another person.", field="reason")
    people_lock(exclusive=True)
    followers.lock([person.pk])
    person = Person.objects.select_for_update().get(pk=person.pk)
    if person.merged_into_id is not None:
        raise Conflict(
            f"This person was merged into #{person.merged_into_id}; split that record instead.",
            code="merged",
        )
    now = timezone.now()
    # A placeholder name until the entries say which spelling to show.
    new_person = person_create(name=person.display_name)
    PersonName.objects.filter(person=new_person).delete()
    moved: dict[str, Any] = {}
    spellings: list[tuple[str, int | None]] = []
    remaining: set[tuple[str, int | None]] = set()
    for follower in followers.followers():
        part = follower.split(
            person=person.pk, new_person=new_person.pk, items=sightings, at=now, by=by
        )
        moved.update(part.moved)
        spellings.extend(part.spellings)
        remaining |= part.remaining
    if not spellings:
        raise DomainError("Choose the entries that belong to the other person.", field="sightings")
    # Every entry that moved, including those that moved with their whole
    # signature (the followers list only the ones that changed signature).
    moved["entries"] = sorted({int(pk) for pk in sightings})

    moved["names"], moved["added_names"] = [], []
    for name, source in dict.fromkeys(spellings):
        row = PersonName.objects.filter(person=person, name=name, source_id=source).first()
        if row is not None and (name, source) not in remaining:
            row.person = new_person
            row.save(update_fields=["person"])
            moved["names"].append(row.pk)
        else:
            copy = PersonName.objects.create(
                person=new_person,
                name=name,
                source_id=source,
                name_key=person_name_fields(name)["name_key"],
            )
            moved["added_names"].append(copy.pk)
    _show_best_spelling(new_person, force=True)
    before = {field: getattr(person, field) for field in PERSON_NAME_FIELDS}
    if _show_best_spelling(person, force=False):
        moved["person_before"] = before
        person_renames_record(
            [(person.pk, before["display_name"], person.display_name)],
            cause=PersonRename.Cause.SPLIT,
            by=by,
            at=now,
        )
    people_refresh_search_texts(
        display_of={person.pk: person.display_name, new_person.pk: new_person.display_name}
    )
    judgement = _judge_different(person.pk, new_person.pk, by=by, reason=reason)
    return Split.objects.create(
        person=person,
        new_person=new_person,
        person_name=person.display_name[:300],
        new_person_name=new_person.display_name[:300],
        judgement=judgement,
        by=by,
        reason=reason,
        moved=moved,
    )


def _show_best_spelling(person: Person, *, force: bool) -> bool:
    """Show the person by their most trusted spelling; with ``force``, even
    when the name shown is no longer among theirs."""
    names = list(
        PersonName.objects.filter(person=person).order_by("pk").values_list("name", "source_id")
    )
    shown_is_theirs = any(person_name_fields(name)["display_name"] == person.display_name
                          for name, _source in names)  # fmt: skip
    best = best_spelling(person.display_name if shown_is_theirs or not force else "", names)
    if best is None:
        return False
    for field, value in person_name_fields(best).items():
        setattr(person, field, value)
    person.save(update_fields=[*PERSON_NAME_FIELDS, "updated_at"])
    return True


@transaction.atomic
def split_undo(*, split: Split, reason: str = "", by: Any = None) -> Split:
    """Put the split's entries back with the person they were split from, by
    merging the new person back into them."""
    by = user_or_none(by)
    reason = (reason or "").strip() or f"Split #{split.pk} undone."
    people_lock(exclusive=True)  # before the rows of the split and its judgement
    split = Split.objects.select_for_update().get(pk=split.pk)
    if split.undone_at is not None:
        raise Conflict(f"Split #{split.pk} was already undone.", code="already_undone")
    person, new_person = split.person, split.new_person
    for record in (person, new_person):
        if record.merged_into_id is not None:
            raise Conflict(
                f"{record} (#{record.pk}) was merged into #{record.merged_into_id} since; "
                "undo that merge first.",
                code="undo_later_first",
            )
    judgement = split.judgement
    if judgement is not None:
        MatchJudgement.objects.filter(pk=judgement.pk).update(
            decision=MatchJudgement.Decision.SAME,
            automatic=False,
            decided_by=by,
            decided_at=timezone.now(),
            reason=reason,
        )
        judgement.refresh_from_db()
    merge = person_merge(
        survivor=person, merged=new_person, by=by, reason=reason, judgement=judgement
    )
    Split.objects.filter(pk=split.pk).update(
        undone_at=timezone.now(), undone_by=by, undo_reason=reason, undo_merge=merge
    )
    split.refresh_from_db()
    return split
