"""python manage.py import_signatures LETTER_SLUG FILE --source NAME [--format csv|json]"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from letters.models import Letter, Source, SyncRun
from letters.services import source_create
from letters.sync import import_file
from tracker.errors import DomainError

_FORMATS = {".csv": Source.Format.CSV, ".json": Source.Format.JSON, ".html": Source.Format.HTML}


def run_summary(run: SyncRun) -> str:
    line = (
        f"Run {run.pk} of {run.source.name!r} {run.outcome}: {run.seen} seen, {run.added} added, "
        f"{run.changed} changed, {run.gone} gone, {run.back} back."
    )
    if run.rejected and run.outcome != SyncRun.Outcome.FAILED:
        shown = "; ".join(f"{row['where']}: {row['reason']}" for row in run.rejected_rows[:5])
        more = f"; and {run.rejected - 5:,} more" if run.rejected > 5 else ""
        rows = "row" if run.rejected == 1 else "rows"
        line += f" {run.rejected:,} {rows} left out, which cannot be read: {shown}{more}."
    return f"{line} {run.error}" if run.error else line


class Command(BaseCommand):
    help = (
        "Import a CSV or JSON file of signatories into a letter through the sync pipeline, "
        "as a run of the named source (created as a feed if the letter has none of that name)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("letter", help="The letter's slug.")
        parser.add_argument("file", type=Path, help="The file to import.")
        parser.add_argument("--source", required=True, help="The source's name.")
        parser.add_argument(
            "--format",
            choices=[Source.Format.CSV, Source.Format.JSON, Source.Format.HTML],
            help="The file's format (default: the source's, else from the file name).",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        letter = Letter.objects.filter(slug=options["letter"]).first()
        if letter is None:
            raise CommandError(f"There is no letter with the slug {options['letter']!r}.")
        path: Path = options["file"]
        try:
            content = path.read_bytes()
        except OSError as exc:
            raise CommandError(f"Cannot read {path}: {exc.strerror}.") from None
        source = Source.objects.filter(letter=letter, name=options["source"]).first()
        format_ = options["format"] or (
            source.format
            if source is not None and source.format != Source.Format.NONE
            else _FORMATS.get(path.suffix.lower())
        )
        if format_ is None:
            raise CommandError(f"Cannot tell the format of {path.name}; give --format.")
        try:
            if source is None:
                source = source_create(
                    letter=letter,
                    name=options["source"],
                    kind=Source.Kind.FEED,
                    format=format_,
                    enabled=False,
                )
                self.stdout.write(f"Created the source {source.name!r} (id {source.pk}).")
            run = import_file(source=source, content=content, format=format_)
        except DomainError as exc:
            raise CommandError(exc.message) from None
        summary = run_summary(run)
        if run.outcome in (SyncRun.Outcome.FAILED, SyncRun.Outcome.SKIPPED):
            raise CommandError(summary)
        self.stdout.write(summary)
