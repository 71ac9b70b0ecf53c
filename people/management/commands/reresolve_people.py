"""Apply the identity rules to the people already stored."""

from django.core.management.base import BaseCommand

from people.merging.reresolve import people_reresolve


class Command(BaseCommand):
    help = (
        "Split people whose entries the identity rules keep apart (two entries of one "
        "source's list, or other fields or organisations), each as a recorded, undoable split. "
        "People an editor merged are listed, not split."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--dry-run", action="store_true", help="Say what would be split; change nothing."
        )

    def handle(self, *args, dry_run: bool = False, **options):
        found = people_reresolve(apply=not dry_run)
        for regrouping in found:
            if regrouping.left_for_an_editor:
                what = "left for an editor (merged by hand)"
            elif dry_run:
                what = f"would be split into {len(regrouping.groups)}"
            else:
                what = f"split: splits {', '.join(f'#{pk}' for pk in regrouping.splits or [])}"
            self.stdout.write(f"#{regrouping.person} {regrouping.name}: {what}")
        split = sum(1 for r in found if not r.left_for_an_editor)
        verb = "would be split" if dry_run else "split"
        self.stdout.write(f"{split} people {verb}, {len(found) - split} left for an editor.")
