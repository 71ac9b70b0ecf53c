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

``--snapshot DB`` copies the database as the full run left it (with the entries
still to add) to ``DB``; ``--from-snapshot DB`` starts from such a copy and times
only the incremental run, so that two versions of the code run it on the same data.
``--loaded-snapshot DB`` copies the database once loaded, before the full run;
``--full-from DB`` starts from such a copy and times the full run (and the
incremental one after it), so that two versions of the code run the full run on
the same loaded data.
``--check-loader`` checks the loader's keys on a small case built for it.
"""

from __future__ import annotations

import argparse
import os
import pickle
import resource
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
import psycopg  # noqa: E402
from psycopg import sql  # noqa: E402

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
    sightings, suffixed = sighting_keys(sightings)
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
        ]
    )
    if suffixed:
        print(f"{suffixed:,} new entries keyed name:...#2 (their name's key was another's)")
    # As autovacuum does after a load this size: without statistics the planner
    # reads the context through the wrong index (seconds a chunk of people).
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    return [p.pk for p in created]


def sighting_keys(sightings: dict) -> tuple[dict, int]:
    """The sightings to write, keyed as a sync keys them: an entry whose key a
    sighting of its source already has is that sighting when the sighting is its
    person's (listed again: nothing to write), and otherwise a second entry of one
    name, ``key#2`` (or the next number free), as ``letters.sync.rows`` keys one.
    A person merged away leaves its sightings' keys to the person it went to, so
    a new entry folding to such a key is a new person's with a ``#2`` key. Returns
    the sightings and how many were keyed with a number."""
    taken: dict[tuple[int, str], int] = {}
    bases = sorted({key for _, key in sightings})
    for start in range(0, len(bases), 10_000):
        chunk = bases[start : start + 10_000]
        taken.update(
            ((source, key), person)
            for source, key, person in Sighting.objects.filter(key__in=chunk).values_list(
                "source_id", "key", "signature__person_id"
            )
        )
    collided = [k for k, (_, _, person) in sightings.items() if k in taken and taken[k] != person]
    if collided:
        # The numbered keys already there, for the few names that need one.
        numbered = [f"{key[:396]}#{n}" for _, key in collided for n in range(2, 100)]
        taken.update(
            ((source, key), person)
            for source, key, person in Sighting.objects.filter(key__in=numbered).values_list(
                "source_id", "key", "signature__person_id"
            )
        )
    written = {}
    for (source, key), row in sightings.items():
        if (source, key) not in taken:
            written[(source, key)] = row
        elif taken[(source, key)] != row[2]:
            n = 2
            while (source, f"{key[:396]}#{n}") in taken or (
                source,
                f"{key[:396]}#{n}",
            ) in written:
                n += 1
            written[(source, f"{key[:396]}#{n}")] = row
    return written, len(collided)


def check_loader() -> None:
    """The loader against the case that broke it at 1,000,000: a person merged
    away keeps nothing of its key, so a new entry of the same source folding to
    its name is a new person's entry, keyed ``#2`` beside the sighting that went
    to the survivor; an entry listed again is written once."""
    from bench.matching_data import Entry
    from people.merging.merge import person_merge

    empty()
    load(
        [
            Entry(1, "Lillah Keninsen", "Poet", "", letter=1, source=0),
            Entry(2, "Lilah Keninsen", "Poet", "", letter=1, source=0),
        ]
    )
    first, second = Person.objects.order_by("pk")
    person_merge(survivor=second, merged=first)
    # "LILLAH KENINSEN" folds to the merged person's key; the other is listed again.
    new = load(
        [
            Entry(3, "LILLAH KENINSEN", "Poet", "", letter=1, source=0),
            Entry(2, "Lilah Keninsen", "Poet", "", letter=1, source=0),
        ]
    )
    keys = sorted(Sighting.objects.values_list("key", "signature__person_id"))
    key, other = parse_name("Lillah Keninsen").key, parse_name("Lilah Keninsen").key
    expected = sorted(
        [(f"name:{key}", second.pk), (f"name:{key}#2", new[0]), (f"name:{other}", second.pk)]
    )
    assert len(new) == 1 and keys == expected, keys
    print("loader: a merged person's key taken again is keyed #2; one listed again written once")


def snapshot_save(name: str, new_entries) -> None:
    """The database as the full run left it, with the entries still to add,
    copied to database ``name`` (for ``--from-snapshot``)."""
    with connection.cursor() as cursor:
        cursor.execute("DROP TABLE IF EXISTS bench_new_entries")
        cursor.execute("CREATE TABLE bench_new_entries (data bytea)")
        cursor.execute("INSERT INTO bench_new_entries VALUES (%s)", [pickle.dumps(new_entries)])
    _copy_database(connection.settings_dict["NAME"], name)


def snapshot_restore(name: str):
    """The benchmark's database made again from the copy ``name``; returns the
    entries still to add."""
    _copy_database(name, connection.settings_dict["NAME"])
    with connection.cursor() as cursor:
        cursor.execute("SELECT data FROM bench_new_entries")
        return pickle.loads(bytes(cursor.fetchone()[0]))  # noqa: S301 (our own copy)


def _copy_database(source: str, target: str) -> None:
    connection.close()
    settings = connection.settings_dict
    with psycopg.connect(
        host=settings["HOST"],
        port=settings["PORT"] or None,
        user=settings["USER"],
        password=settings["PASSWORD"] or None,
        dbname="postgres",
        autocommit=True,
    ) as server:
        server.execute(sql.SQL("DROP DATABASE IF EXISTS {}").format(sql.Identifier(target)))
        server.execute(
            sql.SQL("CREATE DATABASE {} TEMPLATE {}").format(
                sql.Identifier(target), sql.Identifier(source)
            )
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--size", type=int, default=10_000)
    parser.add_argument(
        "--forget-names",
        action="store_true",
        help="Empty the kept names before the incremental run, so it reads every name.",
    )
    parser.add_argument(
        "--snapshot",
        metavar="DATABASE",
        help="After the full run, copy the database (and the entries still to add) to DATABASE.",
    )
    parser.add_argument(
        "--from-snapshot",
        metavar="DATABASE",
        help="Skip loading and the full run: start from a copy made by --snapshot and time "
        "only the incremental run.",
    )
    parser.add_argument(
        "--loaded-snapshot",
        metavar="DATABASE",
        help="Once loaded, before the full run, copy the database (and the entries still to "
        "add) to DATABASE.",
    )
    parser.add_argument(
        "--full-from",
        metavar="DATABASE",
        help="Skip loading: start from a copy made by --loaded-snapshot and time the full run "
        "and the incremental one.",
    )
    parser.add_argument(
        "--check-loader", action="store_true", help="Check the loader on a case it must key."
    )
    args = parser.parse_args()
    if args.from_snapshot and args.full_from:
        parser.error("--from-snapshot and --full-from start from different copies: give one")
    if args.from_snapshot:
        new_entries = snapshot_restore(args.from_snapshot)
    elif args.full_from:
        new_entries = snapshot_restore(args.full_from)
    call_command("migrate", verbosity=0)
    if args.check_loader:
        check_loader()
        return
    if not args.from_snapshot:
        if not args.full_from:
            empty()
            entries = generate(args.size + args.size // 100, seed=11)
            new_entries = entries[args.size :]
            started = time.perf_counter()
            load(entries[: args.size])
            print(
                f"loaded {args.size:,} entries as {Person.objects.count():,} people in "
                f"{time.perf_counter() - started:.1f} s"
            )
            if args.loaded_snapshot:
                snapshot_save(args.loaded_snapshot, new_entries)
        started, cpu = time.perf_counter(), time.process_time()
        run = runs.run_now(full=True)
        total = time.perf_counter() - started
        print(f"full run: {time.process_time() - cpu:.1f} s of this process's CPU")
        print(
            f"full run: {total:.1f} s ({run.details}); {run.people_considered:,} people, "
            f"{run.candidates:,} candidate pairs, {run.blocks} blocks, "
            f"{run.pairs_scored:,} scored, {run.merged:,} merged, {run.queued:,} queued",
            flush=True,
        )
        if args.snapshot:
            snapshot_save(args.snapshot, new_entries)
    started = time.perf_counter()
    new_people = load(new_entries)
    print(f"loaded {len(new_entries):,} new entries in {time.perf_counter() - started:.1f} s")
    if args.forget_names:
        with connection.cursor() as cursor:
            cursor.execute("TRUNCATE people_namekey")
    started, cpu = time.perf_counter(), time.process_time()
    run = runs.run_now(full=False, person_ids=new_people)
    print(
        f"incremental run for {len(new_entries):,} new entries "
        f"({len(new_people):,} new people): {time.perf_counter() - started:.1f} s, "
        f"{time.process_time() - cpu:.1f} s of this process's CPU "
        f"({run.details}); {run.candidates:,} candidate pairs, {run.merged:,} merged, "
        f"{run.queued:,} queued"
    )
    print(f"peak resident {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e6:.2f} GB")


if __name__ == "__main__":
    main()
