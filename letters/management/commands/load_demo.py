from django.core.management.base import BaseCommand

from letters.demo import demo_load


class Command(BaseCommand):
    help = (
        "Load the demo letters (the March 2025 letter to the OSTP and the MIPCOM 2025 "
        "opinion piece) with their signatories as printed. Running it again changes nothing."
    )

    def handle(self, *args, **options) -> None:
        counts = demo_load()
        self.stdout.write(
            f"Demo loaded: {counts.letters} letters, {counts.organizations} organizations, "
            f"{counts.people} people, {counts.signatures} signatures, "
            f"{counts.sightings} sightings."
        )
