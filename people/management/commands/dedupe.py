from django.core.management.base import BaseCommand, CommandError

from people.merging import runs
from people.models import MatchRun


class Command(BaseCommand):
    help = (
        "Find duplicate people: merge the sure pairs and queue the doubtful ones for review. "
        "Without --full, only the people no run has considered yet are matched against "
        "everyone."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("--full", action="store_true", help="Match everyone against everyone.")
        parser.add_argument(
            "--queue",
            action="store_true",
            help="Hand the run to the Celery workers instead of running it here.",
        )

    def handle(self, *args, full: bool, queue: bool, **options) -> None:
        person_ids: list[int] = []
        if not full:
            person_ids = runs.people_since_last_run()
            if not person_ids:
                self.stdout.write("No new or changed people since the last run.")
                return
        if queue:
            run = runs.match_request(full=full, person_ids=person_ids)
        else:
            run = runs.run_now(full=full, person_ids=person_ids)
        if run.status == MatchRun.Status.SKIPPED:
            raise CommandError("Another match run is going on; try again when it has finished.")
        if queue:
            self.stdout.write(f"Match run {run.pk} ({run.mode}) handed to the workers.")
            return
        seconds = run.duration.total_seconds() if run.duration else 0.0
        self.stdout.write(
            f"Match run {run.pk} ({run.mode}) {run.status} in {seconds:.1f} s: "
            f"{run.people_considered} people, {run.blocks} blocks, {run.pairs_scored} pairs "
            f"scored, {run.merged} merged, {run.queued} queued for review, "
            f"{run.blocked_by_judgements} kept apart by judgements."
        )
