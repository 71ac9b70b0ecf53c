from django.core.management.base import BaseCommand, CommandError

from people.merging.undo import merge_people, merge_undo
from people.models import Merge, Person
from tracker.errors import DomainError


def _named(pks) -> str:
    names = dict(Person.objects.filter(pk__in=pks).values_list("pk", "display_name"))
    return ", ".join(f"{names.get(pk, '?')} (#{pk})" for pk in sorted(pks))


class Command(BaseCommand):
    help = (
        "Undo a merge of people: put back what it moved and record that the records are "
        "different people, so that no run merges them again. With --person, only those "
        "records (the merged person or anyone merged into it before) leave the survivor."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("merge", type=int, help="The merge's id (/api/merges/, the admin).")
        parser.add_argument("--reason", required=True, help="Why the merge was wrong.")
        parser.add_argument(
            "--person",
            type=int,
            action="append",
            dest="people",
            metavar="ID",
            help="Take only this record back out; repeat for several. All of them when absent.",
        )

    def handle(self, *args, merge: int, reason: str, people: list[int] | None, **options) -> None:
        reason = (reason or "").strip()
        if not reason:
            raise CommandError("Say why the merge was wrong (--reason).")
        found = Merge.objects.filter(pk=merge).first()
        if found is None:
            raise CommandError(f"There is no merge #{merge}.")
        came_in = merge_people(found) if found.undone_at is None else []
        try:
            done = merge_undo(merge=found, reason=reason, people=people)
        except DomainError as error:
            raise CommandError(error.message) from error
        taken_out = sorted(set(people)) if people else came_in
        survivor = _named([done.survivor_id])
        if not people or set(people) == set(came_in):
            self.stdout.write(
                f"Merge #{done.pk} undone: {_named(taken_out)} taken back out of {survivor}."
            )
            return
        detail = done.undo_detail or {}
        kept = ", ".join(f"#{pk}" for pk in detail.get("kept_in", [])) or "none"
        self.stdout.write(
            f"Merge #{done.pk} partly undone: {_named(taken_out)} taken back out of "
            f"{survivor}; {_named(sorted(set(came_in) - set(taken_out)))} kept in "
            f"(merges {kept})."
        )
