"""python manage.py sync_sources [--all | SOURCE_ID ...]"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from letters.management.commands.import_signatures import run_summary
from letters.models import Source, SyncRun
from letters.sync import source_sync
from tracker.errors import DomainError


class Command(BaseCommand):
    help = "Sync sources now, in this process, and print each run's counts."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("source_ids", nargs="*", type=int, metavar="SOURCE_ID")
        parser.add_argument(
            "--all", action="store_true", help="Every enabled source that has an address."
        )

    def handle(self, *args: Any, **options: Any) -> None:
        ids: list[int] = options["source_ids"]
        if options["all"] == bool(ids):
            raise CommandError("Give source ids or --all (not both).")
        if options["all"]:
            ids = list(
                Source.objects.filter(
                    enabled=True,
                    format__in=[Source.Format.CSV, Source.Format.JSON, Source.Format.HTML],
                )
                .exclude(url="")
                .exclude(kind__in=[Source.Kind.MANUAL, Source.Kind.API])
                .order_by("pk")
                .values_list("pk", flat=True)
            )
        failures = 0
        for source_id in ids:
            try:
                run = source_sync(source_id=source_id, trigger=SyncRun.Trigger.MANUAL)
            except DomainError as exc:
                self.stderr.write(f"Source {source_id}: {exc.message}")
                failures += 1
                continue
            summary = run_summary(run)
            if run.outcome in (SyncRun.Outcome.FAILED, SyncRun.Outcome.SKIPPED):
                self.stderr.write(summary)
                failures += 1
            else:
                self.stdout.write(summary)
        if failures:
            raise CommandError(f"{failures} of {len(ids)} sources did not sync.")
