from django.core.management.base import BaseCommand

from letters.demo import demo_counts, demo_load, demo_versions
from people.merging.runs import run_now


class Command(BaseCommand):
    help = (
        "Load the demo letters (the March 2025 letter to the OSTP and the MIPCOM 2025 "
        "opinion piece) with their signatories as printed, an illustrative sheet of "
        "affiliations and history, and a first run of the duplicate finder. Running it "
        "again changes nothing."
    )

    def handle(self, *args, **options) -> None:
        counts = demo_load()
        if counts.loaded:
            # The duplicate finder's first pass, so that the review queue has the
            # demo's pending pair at once.
            run = run_now(full=True)
            self.stdout.write(f"Match run {run.pk}: {run.merged} merged, {run.queued} to review.")
            counts = demo_counts(loaded=True)  # people as the run left them
        # Each letter's list as published, version 1 on the first load.
        versions = demo_versions()
        if versions:
            self.stdout.write(f"Published {versions} list versions.")
        self.stdout.write(
            f"Demo loaded: {counts.letters} letters, {counts.organizations} organizations, "
            f"{counts.people} people, {counts.signatures} signatures, "
            f"{counts.sightings} sightings."
        )
