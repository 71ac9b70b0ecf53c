"""python manage.py verify_list SLUG"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError

from letters.models import Letter
from letters.versions import verify


class Command(BaseCommand):
    help = (
        "Recompute a letter's chain of list versions from the stored CSVs: each file's "
        "SHA-256 against its content_sha256, its rows against its count, and each hash "
        "from the previous one. Exits with 1 and names each version where the chain "
        "breaks, and what differs."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("slug", help="The letter's slug.")

    def handle(self, *args: Any, slug: str, **options: Any) -> None:
        letter = Letter.objects.filter(slug=slug).first()
        if letter is None:
            raise CommandError(f"There is no letter with the slug {slug!r}.")
        found = verify(letter)
        if found.breaks:
            for broken in found.breaks:
                self.stderr.write(f"Version {broken.number}: {broken.problem}.")
            first = found.breaks[0].number
            raise CommandError(
                f"The chain of {slug} breaks at version {first} "
                f"({len(found.breaks)} problem{'s' if len(found.breaks) > 1 else ''} "
                f"in {found.versions} versions)."
            )
        if not found.versions:
            self.stdout.write(f"{slug} has no list versions yet.")
            return
        plural = "" if found.versions == 1 else "s"
        self.stdout.write(
            f"{slug}: {found.versions} version{plural} verified; latest hash {found.latest_hash}."
        )
