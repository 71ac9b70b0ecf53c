"""The whole job on PostgreSQL: from synced sightings to merged people.

    python bench/matching_db.py --size 10000

On the database named by BENCH_DATABASE_URL (default
postgres://postgres@127.0.0.1:5432/bench_matching), never the tests' own.

Loads a generated set as a sync would leave it (letters, one source per list,
a person per distinct written name as ``person_resolve`` makes them, their
names, signatures and sightings), then times a full run in one process
(``dedupe --full``): loading, blocking, scoring every block, clustering, and
every merge with its history (all of a run's merges at once, through
``person_merge_many``). Then times an incremental run for 1% new entries, which
reads the existing names as the full run kept them (``people_namekey``), or
with ``--forget-names`` reads every name again. The database is emptied first.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tracker.settings.test")
# The test settings take their database from TEST_DATABASE_URL: the benchmark's own.
os.environ["TEST_DATABASE_URL"] = os.environ.get(
    "BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/bench_matching"
)

import django  # noqa: E402

django.setup()

from django.core.management import call_command  # noqa: E402
from django.db import connection  # noqa: E402
from django.utils import timezone  # noqa: E402

from bench.matching_data import SOURCES, generate  # noqa: E402
from letters.models import Letter, Sighting, Signature, Source  # noqa: E402
from people.matching.normalize import fold, parse_name  # noqa: E402
from people.merging import runs  # noqa: E402
from people.models import Person, PersonName  # noqa: E402
from tracker.bulk import insert_objects  # noqa: E402

KINDS = ["letter_site", "press", "press", "feed", "feed", "manual"]


def empty() -> None:
    tables = [
        "letters_sightingevent",
        "letters_sighting",
        "letters_signaturestatuschange",
        "letters_signature",
        "letters_source",
        "letters_letter",
        "people_merge",
        "people_matchjudgement",
        "people_matchrunblock",
        "people_matchrun",
        "people_namekey",
        "people_affiliation",
        "people_personname",
        "people_person",
    ]
    with connection.cursor() as cursor:
        cursor.execute(f"TRUNCATE {', '.join(tables)} RESTART IDENTITY CASCADE")


def load(entries) -> list[int]:
    """Rows as a sync leaves them; returns the ids of the people created."""
    now = timezone.now()
    letters = {e.letter for e in entries}
    Letter.objects.bulk_create(
        [Letter(title=f"Letter {n}", slug=f"letter-{n}") for n in sorted(letters)],
        batch_size=5000,
        ignore_conflicts=True,
    )
    letter_id = dict(Letter.objects.values_list("slug", "pk"))
    sources = {}
    rows = []
    for letter, source in sorted({(e.letter, e.source) for e in entries}):
        name, reliability = SOURCES[source]
        rows.append(
            Source(
                letter_id=letter_id[f"letter-{letter}"],
                name=name,
                kind=KINDS[source],
                reliability=reliability,
                enabled=False,
            )
        )
    Source.objects.bulk_create(rows, batch_size=5000, ignore_conflicts=True)
    for pk, letter, name in Source.objects.values_list("pk", "letter_id", "name"):
        sources[(letter, name)] = pk

    # As person_resolve does: a name already known goes to that person.
    people: dict[str, Person] = {
        p.name_key: p for p in Person.objects.filter(merged_into__isnull=True)
    }
    known = set(people)
    for e in entries:
        parsed = parse_name(e.name)
        if parsed.key not in people:
            people[parsed.key] = Person(
                display_name=parsed.display or parsed.written,
                sort_name=parsed.sort_name or parsed.written,
                given_name=parsed.given[:150],
                middle_name=parsed.middle[:150],
                family_name=parsed.family[:150],
                honorific=parsed.honorific[:60],
                suffix=parsed.suffix[:60],
                name_key=parsed.key,
                search_text=fold(parsed.display),
            )
    created = [p for key, p in people.items() if key not in known]
    insert_objects(created)

    # What the people already known hold stays as it is (as the sync's upserts leave it).
    touched = sorted({people[parse_name(e.name).key].pk for e in entries} - {p.pk for p in created})
    had_names = set(
        PersonName.objects.filter(person_id__in=touched).values_list(
            "person_id", "name", "source_id"
        )
    )
    signature_id = {
        (letter, person): pk
        for pk, letter, person in Signature.objects.filter(person_id__in=touched).values_list(
            "pk", "letter_id", "person_id"
        )
    }
    had_sightings = set(
        Sighting.objects.filter(signature__person_id__in=touched).values_list("source_id", "key")
    )
    names, signatures, sightings = {}, {}, {}
    for e in entries:
        key = parse_name(e.name).key
        person = people[key]
        letter = letter_id[f"letter-{e.letter}"]
        source = sources[(letter, SOURCES[e.source][0])]
        names.setdefault((person.pk, e.name, source), None)
        signatures.setdefault(
            (letter, person.pk),
            Signature(
                letter_id=letter,
                person_id=person.pk,
                title=e.title,
                affiliation=e.affiliation,
                first_seen_at=now,
                last_seen_at=now,
            ),
        )
        sightings.setdefault((source, f"name:{key}"[:400]), (e, letter, person.pk))
    # The keys above are the tables' unique keys: without the rows already
    # there, nothing conflicts.
    insert_objects(
        [
            PersonName(person_id=p, name=n, name_key=parse_name(n).key, source_id=s)
            for p, n, s in names
            if (p, n, s) not in had_names
        ]
    )
    signatures = {k: s for k, s in signatures.items() if k not in signature_id}
    insert_objects(list(signatures.values()))
    signature_id.update((k, s.pk) for k, s in signatures.items())
    insert_objects(
        [
            Sighting(
                source_id=source,
                key=key,
                signature_id=signature_id[(letter, person)],
                name=e.name,
                title=e.title,
                affiliation=e.affiliation,
                first_seen_at=now,
                last_seen_at=now,
            )
            for (source, key), (e, letter, person) in sightings.items()
            if (source, key) not in had_sightings
        ]
    )
    # As autovacuum does after a load this size: without statistics the planner
    # reads the context through the wrong index (seconds a chunk of people).
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    return [p.pk for p in created]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--size", type=int, default=10_000)
    parser.add_argument(
        "--forget-names",
        action="store_true",
        help="Empty the kept names before the incremental run, so it reads every name.",
    )
    args = parser.parse_args()
    call_command("migrate", verbosity=0)
    empty()
    entries = generate(args.size + args.size // 100, seed=11)
    started = time.perf_counter()
    load(entries[: args.size])
    print(
        f"loaded {args.size:,} entries as {Person.objects.count():,} people in "
        f"{time.perf_counter() - started:.1f} s"
    )
    started = time.perf_counter()
    run = runs.run_now(full=True)
    total = time.perf_counter() - started
    print(
        f"full run: {total:.1f} s ({run.details}); {run.people_considered:,} people, "
        f"{run.candidates:,} candidate pairs, {run.blocks} blocks, {run.pairs_scored:,} scored, "
        f"{run.merged:,} merged, {run.queued:,} queued"
    )
    new_people = load(entries[args.size :])
    if args.forget_names:
        with connection.cursor() as cursor:
            cursor.execute("TRUNCATE people_namekey")
    started = time.perf_counter()
    run = runs.run_now(full=False, person_ids=new_people)
    print(
        f"incremental run for {len(entries) - args.size:,} new entries "
        f"({len(new_people):,} new people): {time.perf_counter() - started:.1f} s "
        f"({run.details}); {run.merged:,} merged, {run.queued:,} queued"
    )


if __name__ == "__main__":
    main()
