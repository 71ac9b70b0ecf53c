"""Who is who, end to end: generated lists imported through the real pipeline,
matched as the service matches them, and scored against the truth.

    python bench/identity_e2e.py --entries 10000
    python bench/identity_e2e.py --entries 100000
    python bench/identity_e2e.py --entries 10000 --queued-runs

About one minute and five minutes on 2 cores (more with ``--queued-runs``);
``--score-only`` scores again what the database holds.

Generates six signatory lists over three letters (``bench/identity_data.py``,
seeded: ``--seed``), with the true person of every row, and writes them as CSV
files in ``--workdir`` (default /tmp/bench-identity-e2e-ENTRIES). Then, each
step a process of its own, timed, with the peak resident set of its largest
process (through /usr/bin/time where there is one):

1. drops and creates the PostgreSQL database named by BENCH_DATABASE_URL
   (default postgres://postgres@127.0.0.1:5432/bench_e2e) and runs
   ``manage.py migrate``;
2. creates the letters and their sources (kinds letter_site, press, feed)
   through ``letters.services.letter_create`` and ``source_create`` (this
   script with ``--setup``);
3. imports each list: ``manage.py import_signatures LETTER FILE --source NAME
   --format csv``;
4. with ``--queued-runs``, after each import, answers the match queue the
   import filled with one incremental run, as the queue's job does on a worker
   (this script with ``--answer-queue``);
5. runs ``manage.py dedupe --full``.

Then it reads back every row's sighting, its signature's person (followed
through merges to the survivor) and the pending review pairs, and scores them
pairwise over rows against the truth: precision, recall and F1 of what was
merged automatically; the pairs sent to review and the share of them that are
true (yield); precision and recall if every queued pair were decided rightly
(a true pending pair joined, transitively); and rows of one source's list of
different people that ended in one person. It prints samples of wrong joins
and missed pairs (``--samples``), tagged with what they have in common, and
writes everything to ``result.json`` and ``samples.txt`` in the work folder.

The match queue's jobs go to a file-system broker in a folder of the
benchmark's own (no Redis, no worker reads them): the runs are the steps above.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import random
import subprocess
import sys
import threading
import time
from collections import Counter, defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
DATABASE_URL = os.environ.get("BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/bench_e2e")
os.environ["DATABASE_URL"] = DATABASE_URL
os.environ["DJANGO_SETTINGS_MODULE"] = "tracker.settings.local"
os.environ.setdefault("SECRET_KEY", "bench-secret-key")
os.environ["DEBUG"] = "0"
os.environ.setdefault("LOG_LEVEL", "WARNING")
os.environ["TRACKER_VAR_DIR"] = os.environ.get("BENCH_VAR_DIR", "/tmp/bench-identity-e2e-var")
# The match queue's jobs go to the file-system broker under TRACKER_VAR_DIR.
os.environ.pop("REDIS_URL", None)

import django  # noqa: E402

django.setup()

TARGETS = {
    "precision": 0.995,
    "recall_after_review": 0.95,
    "review_yield": 0.5,
    "same_list_folded": 0,
}


# --- Steps, each a process of its own ------------------------------------------------


TIME = Path("/usr/bin/time")


def run_step(label: str, argv: list[str], log: Path) -> dict:
    """Run one step; its wall time and the peak RSS of its largest process.

    Through /usr/bin/time where there is one: a process forked from this one
    (which holds the generated lists) would report this one's size as its
    peak, since Linux keeps the high-water mark of the memory a process had
    before exec."""
    started = time.perf_counter()
    measured = log.with_suffix(".rss")
    command = [str(TIME), "-f", "%M", "-o", str(measured), *argv] if TIME.exists() else argv
    with log.open("ab") as out:
        out.write(f"\n$ {' '.join(argv)}\n".encode())
        out.flush()
        process = subprocess.Popen(command, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT)
        _, status, usage = os.wait4(process.pid, 0)
        process.returncode = os.waitstatus_to_exitcode(status)
    seconds = time.perf_counter() - started
    if process.returncode:
        tail = log.read_text(errors="replace")[-4000:]
        raise SystemExit(f"{label} failed ({process.returncode}):\n{tail}")
    peak_kb = usage.ru_maxrss
    if TIME.exists():
        peak_kb = int(measured.read_text().split()[-1])
    last = log.read_text(errors="replace").rstrip().splitlines()[-1]
    step = {"step": label, "seconds": seconds, "peak_mb": peak_kb / 1024, "said": last}
    print(f"  {label:<52} {seconds:8.1f} s  {step['peak_mb']:6.0f} MB   {last[:110]}", flush=True)
    return step


def recreate_database() -> None:
    import psycopg
    from django.conf import settings

    db = settings.DATABASES["default"]
    with psycopg.connect(
        host=db.get("HOST") or None,
        port=db.get("PORT") or None,
        user=db.get("USER") or None,
        password=db.get("PASSWORD") or None,
        dbname="postgres",
        autocommit=True,
    ) as conn:
        name = psycopg.sql.Identifier(db["NAME"])
        conn.execute(psycopg.sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(name))
        conn.execute(psycopg.sql.SQL("CREATE DATABASE {}").format(name))


def setup(manifest: Path) -> None:
    """The letters and sources, through the services (``--setup``)."""
    from letters.models import Source
    from letters.services import letter_create, source_create

    plan = json.loads(manifest.read_text())
    letters = {
        slug: letter_create(title=title, slug=slug) for slug, title in plan["letters"].items()
    }
    for source in plan["sources"]:
        source_create(
            letter=letters[source["letter"]],
            name=source["name"],
            kind=source["kind"],
            format=Source.Format.CSV,
            enabled=False,
        )
    print(f"Created {len(letters)} letters and {len(plan['sources'])} sources.")


def answer_queue() -> None:
    """One incremental run on everyone the match queue holds, as the queue's
    job (``runs.queue_match``) starts it, carried out in this process."""
    from people.merging import runs
    from people.models import MatchQueueEntry

    ids = list(MatchQueueEntry.objects.order_by("person_id").values_list("person_id", flat=True))
    MatchQueueEntry.objects.filter(person_id__in=ids).delete()
    if not ids:
        print("The match queue is empty.")
        return
    run = runs.run_now(full=False, person_ids=ids)
    print(
        f"Match run {run.pk} (incremental, {len(ids)} queued) {run.status}: "
        f"{run.merged} merged, {run.queued} queued for review."
    )


# --- Writing the lists ------------------------------------------------------------


def write_lists(generated, workdir: Path) -> Path:
    workdir.mkdir(parents=True, exist_ok=True)
    sources = []
    truth = []
    for index, (spec, rows) in enumerate(zip(generated.sources, generated.lists, strict=True)):
        path = workdir / f"list-{index + 1}-{spec.style}.csv"
        with path.open("w", encoding="utf-8", newline="") as handle:
            writer = csv.writer(handle, lineterminator="\n")
            writer.writerow(["name", "title", "affiliation"])
            writer.writerows([row.name, row.title, row.affiliation] for row in rows)
        sources.append(
            {"letter": spec.letter, "name": spec.name, "kind": spec.kind, "file": str(path)}
        )
        truth.append([row.truth for row in rows])
    manifest = workdir / "manifest.json"
    manifest.write_text(json.dumps({"letters": generated.letters, "sources": sources}, indent=1))
    (workdir / "truth.json").write_text(json.dumps(truth))
    return manifest


# --- Reading back and scoring -------------------------------------------------------


def pairs(n: int) -> int:
    return n * (n - 1) // 2


def pairwise(truth: list[int], predicted: list[int]) -> dict:
    joined = sum(pairs(n) for n in Counter(predicted).values())
    true = sum(pairs(n) for n in Counter(truth).values())
    right = sum(pairs(n) for n in Counter(zip(truth, predicted, strict=True)).values())
    precision = right / joined if joined else 1.0
    recall = right / true if true else 1.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {
        "precision": precision,
        "recall": recall,
        "f1": f1,
        "joined_pairs": joined,
        "true_pairs": true,
        "right_pairs": right,
        "people": len(set(predicted)),
        "true_people": len(set(truth)),
    }


def same_list_folded(sources: list[int], truth: list[int], predicted: list[int]) -> dict:
    """Pairs of rows of one source's list, of different people, in one person."""
    groups: dict[tuple[int, int], list[int]] = defaultdict(list)
    for i, key in enumerate(zip(sources, predicted, strict=True)):
        groups[key].append(i)
    folded_pairs, rows = 0, []
    for members in groups.values():
        truths = Counter(truth[i] for i in members)
        if len(truths) > 1:
            folded_pairs += pairs(len(members)) - sum(pairs(n) for n in truths.values())
            rows.extend(members)
    return {"pairs": folded_pairs, "rows": len(rows), "row_ids": rows}


class Survivors:
    def __init__(self, merged_into: dict[int, int | None]) -> None:
        self.merged_into = merged_into

    def __call__(self, pk: int) -> int:
        seen = 0
        while (parent := self.merged_into.get(pk)) is not None:
            pk = parent
            seen += 1
            if seen > 1000:
                raise RuntimeError(f"a cycle of merges through person {pk}")
        return pk


def read_back(workdir: Path, manifest: dict) -> dict:
    """Every row's source, truth and final person; the pending pairs' survivors."""
    from letters.models import Sighting, Signature, Source
    from people.matching.normalize import clean_whitespace, fold, parse_name
    from people.models import MatchJudgement, MatchRun, Person

    def entry_key(name: str, title: str, affiliation: str) -> tuple[str, str, str]:
        return parse_name(name).key, fold(title), fold(affiliation)

    truth_lists = json.loads((workdir / "truth.json").read_text())
    source_ids = {
        (letter, name): pk
        for pk, letter, name in Source.objects.values_list("pk", "letter__slug", "name")
    }
    person_parent = Survivors(dict(Person.objects.values_list("pk", "merged_into_id")))
    signature_rows = {
        pk: (person, merged)
        for pk, person, merged in Signature.objects.values_list("pk", "person_id", "merged_into_id")
    }

    def signature_person(pk: int) -> int:
        hops = 0
        while signature_rows[pk][1] is not None and hops < 1000:
            pk = signature_rows[pk][1]
            hops += 1
        return person_parent(signature_rows[pk][0])

    rows: list[dict] = []
    unmapped = 0
    for index, source in enumerate(manifest["sources"]):
        source_id = source_ids[(source["letter"], source["name"])]
        by_position, by_entry = {}, {}
        for position, name, title, affiliation, signature in Sighting.objects.filter(
            source_id=source_id
        ).values_list("position", "name", "title", "affiliation", "signature_id"):
            by_position[position] = (name, title, affiliation, signature)
            by_entry.setdefault(entry_key(name, title, affiliation), signature)
        with Path(source["file"]).open(encoding="utf-8", newline="") as handle:
            written = list(csv.reader(handle))[1:]
        for position, ((name, title, affiliation), truth) in enumerate(
            zip(written, truth_lists[index], strict=True), start=1
        ):
            text = tuple(clean_whitespace(v) for v in (name, title, affiliation))
            found = by_position.get(position)
            if found is not None and found[:3] == text:
                signature = found[3]
            else:  # an entry written twice is one sighting (identity.same_entry)
                signature = by_entry.get(entry_key(*text))
            if signature is None:
                unmapped += 1
                continue
            rows.append(
                {
                    "source": index,
                    "name": name,
                    "title": title,
                    "affiliation": affiliation,
                    "truth": truth,
                    "person": signature_person(signature),
                }
            )
    pending = [
        (person_parent(a), person_parent(b))
        for a, b in MatchJudgement.objects.filter(
            decision=MatchJudgement.Decision.PENDING
        ).values_list("person_a_id", "person_b_id")
    ]
    match_runs = [
        {
            "id": run.pk,
            "mode": run.mode,
            "status": run.status,
            "people": run.people_considered,
            "candidates": run.candidates,
            "scored": run.pairs_scored,
            "merged": run.merged,
            "queued": run.queued,
            "seconds": run.duration.total_seconds() if run.duration else None,
            "details": run.details,
        }
        for run in MatchRun.objects.order_by("pk")
    ]
    return {"rows": rows, "unmapped": unmapped, "pending": pending, "runs": match_runs}


class UnionFind:
    def __init__(self) -> None:
        self.parent: dict[int, int] = {}

    def find(self, x: int) -> int:
        root = x
        while self.parent.get(root, root) != root:
            root = self.parent[root]
        while self.parent.get(x, x) != root:
            self.parent[x], x = root, self.parent[x]
        return root

    def union(self, a: int, b: int) -> None:
        a, b = self.find(a), self.find(b)
        if a != b:
            self.parent[max(a, b)] = min(a, b)


def score(back: dict) -> dict:
    rows = back["rows"]
    truth = [r["truth"] for r in rows]
    person = [r["person"] for r in rows]
    sources = [r["source"] for r in rows]
    automatic = pairwise(truth, person)
    folded = same_list_folded(sources, truth, person)

    truths_of: dict[int, set[int]] = defaultdict(set)
    for t, p in zip(truth, person, strict=True):
        truths_of[p].add(t)
    true_pending, already_joined = [], 0
    for a, b in back["pending"]:
        if a == b:
            already_joined += 1
        elif truths_of[a] & truths_of[b]:
            true_pending.append((a, b))
    queued = len(back["pending"])
    union = UnionFind()
    for a, b in true_pending:
        union.union(a, b)
    reviewed = [union.find(p) for p in person]
    after = pairwise(truth, reviewed)
    folded_after = same_list_folded(sources, truth, reviewed)

    # Pairs of rows of one person on one list: written twice (one sighting), or
    # listed twice under two spellings, which the rules keep as two people.
    per_list = Counter(zip(sources, truth, strict=True))
    twice_on_a_list = sum(pairs(n) for n in per_list.values())
    return {
        "rows": len(rows),
        "unmapped_rows": back["unmapped"],
        "automatic": automatic,
        "queued": queued,
        "queued_true": len(true_pending),
        "queued_already_joined": already_joined,
        "review_yield": len(true_pending) / queued if queued else None,
        # Leaving out pending pairs whose two people were merged since, through others.
        "review_yield_open": (
            len(true_pending) / (queued - already_joined) if queued > already_joined else None
        ),
        "after_review": after,
        "same_list_folded": {k: v for k, v in folded.items() if k != "row_ids"},
        "same_list_folded_after_review": {k: v for k, v in folded_after.items() if k != "row_ids"},
        "true_pairs_within_one_list": twice_on_a_list,
        "_folded_rows": folded["row_ids"],
    }


# --- Looking at the errors --------------------------------------------------------


def _context(rows: list[dict]):
    from people.matching.identity import Known

    return Known.of(titles=[r["title"] for r in rows], orgs=[r["affiliation"] for r in rows])


def _describe(row: dict, sources: list[dict]) -> str:
    source = sources[row["source"]]
    said = ", ".join(x for x in (row["title"], row["affiliation"]) if x) or "(nothing stated)"
    return (
        f"[{source['letter'][:12]}/{source['kind']}] {row['name']!r} {said}"
        f" (truth {row['truth']}, person {row['person']})"
    )


def _wrong_join_kind(one: list[dict], other: list[dict], people) -> str:
    a, b = people[one[0]["truth"]], people[other[0]["truth"]]
    from people.matching.identity import contexts_conflict

    if (a.given, a.family) == (b.given, b.family):
        kind = "namesake (same given and family name)"
    elif a.family == b.family:
        kind = "same family name, other given name"
    else:
        kind = "other names"
    if _context(one).states_nothing or _context(other).states_nothing:
        kind += "; one side states nothing"
    elif contexts_conflict(_context(one), _context(other)):
        kind += "; their stated contexts conflict"
    return kind


def _missed_kind(
    one: list[dict], other: list[dict], queued: bool, lists: tuple[set[int], set[int]]
) -> str:
    """``lists``: the sources of every row of each side's person, whoever's rows."""
    from people.matching.identity import contexts_conflict
    from people.matching.normalize import parse_name

    if {r["source"] for r in one} & {r["source"] for r in other}:
        kind = "listed twice on one list"
    elif lists[0] & lists[1]:
        kind = "kept apart by another person's row of one list, joined to one side"
    elif contexts_conflict(_context(one), _context(other)):
        kind = "stated contexts conflict (other field or organisation)"
    elif {parse_name(r["name"]).key for r in one} & {parse_name(r["name"]).key for r in other}:
        kind = "same normalised name, not merged"
    else:
        kind = "names written differently"
    return kind + ("; queued for review" if queued else "")


def errors(back: dict, result: dict, generated, manifest: dict, samples: int, out: Path) -> dict:
    rows = back["rows"]
    sources = manifest["sources"]
    rng = random.Random(5)
    by_person: dict[int, dict[int, list[dict]]] = defaultdict(lambda: defaultdict(list))
    by_truth: dict[int, dict[int, list[dict]]] = defaultdict(lambda: defaultdict(list))
    for row in rows:
        by_person[row["person"]][row["truth"]].append(row)
        by_truth[row["truth"]][row["person"]].append(row)
    pending = {frozenset(pair) for pair in back["pending"]}

    wrong = []  # (person, truth a, truth b)
    for person, truths in by_person.items():
        ids = sorted(truths)
        wrong.extend((person, a, b) for i, a in enumerate(ids) for b in ids[i + 1 :])
    missed = []  # (truth, person a, person b)
    for truth, people in by_truth.items():
        ids = sorted(people)
        missed.extend((truth, a, b) for i, a in enumerate(ids) for b in ids[i + 1 :])

    person_lists: dict[int, set[int]] = defaultdict(set)
    for row in rows:
        person_lists[row["person"]].add(row["source"])

    def missed_kind(t: int, a: int, b: int) -> str:
        queued = frozenset((a, b)) in pending
        lists = (person_lists[a], person_lists[b])
        return _missed_kind(by_truth[t][a], by_truth[t][b], queued, lists)

    wrong_kinds = Counter(
        _wrong_join_kind(by_person[p][a], by_person[p][b], generated.people) for p, a, b in wrong
    )
    missed_kinds = Counter(missed_kind(t, a, b) for t, a, b in missed)
    lines = [f"Wrong joins: {len(wrong):,} pairs of true people put in one person, by kind:"]
    lines += [f"  {n:7,}  {kind}" for kind, n in wrong_kinds.most_common()]
    lines.append(f"Samples ({min(samples, len(wrong))}):")
    for p, a, b in rng.sample(wrong, min(samples, len(wrong))):
        lines.append(f"- {_wrong_join_kind(by_person[p][a], by_person[p][b], generated.people)}")
        lines += [f"    {_describe(r, sources)}" for r in by_person[p][a] + by_person[p][b]]
    lines.append("")
    lines.append(
        f"Missed pairs: {len(missed):,} pairs of pieces of one true person left apart, by kind:"
    )
    lines += [f"  {n:7,}  {kind}" for kind, n in missed_kinds.most_common()]
    lines.append(f"Samples ({min(samples, len(missed))}):")
    for t, a, b in rng.sample(missed, min(samples, len(missed))):
        lines.append(f"- {missed_kind(t, a, b)}")
        lines += [f"    {_describe(r, sources)}" for r in by_truth[t][a] + by_truth[t][b]]
    folded = result.pop("_folded_rows")
    if folded:
        lines.append("")
        lines.append("Rows of one list, of different people, in one person (first 40):")
        lines += [f"    {_describe(rows[i], sources)}" for i in folded[:40]]
    lines.append("")
    lines.append("Planted cases: the people their rows ended in")
    for case, ids in generated.planted.items():
        ends = {t: sorted({r["person"] for r in rows if r["truth"] == t}) for t in ids}
        lines.append(f"  {case}: " + "; ".join(f"truth {t} -> {p}" for t, p in ends.items()))
    text = "\n".join(lines)
    out.write_text(text + "\n")
    print(text)
    return {"wrong_join_kinds": dict(wrong_kinds), "missed_kinds": dict(missed_kinds)}


# --- The whole job ----------------------------------------------------------------


class LoadSampler(threading.Thread):
    """The machine's load average every few seconds, while the job runs."""

    def __init__(self) -> None:
        super().__init__(daemon=True)
        self.samples: list[float] = []
        self.done = threading.Event()

    def run(self) -> None:
        while not self.done.wait(5):
            self.samples.append(os.getloadavg()[0])


def report(result: dict, steps: list[dict], loads: list[float], args) -> None:
    auto, after = result["automatic"], result["after_review"]
    imports = [s for s in steps if s["step"].startswith("import")]
    matching = [s for s in steps if s["step"].startswith(("dedupe", "answer"))]

    def verdict(ok: bool) -> str:
        return "met" if ok else "NOT MET"

    yield_ = result["review_yield"]
    folded = result["same_list_folded"]["pairs"]
    print()
    print(f"{args.entries:,} rows ({result['rows']:,} read back, {result['unmapped_rows']} not)")
    print(f"{auto['true_people']:,} true people -> {auto['people']:,} people after the runs")
    print(
        f"true pairs {auto['true_pairs']:,}; joined {auto['joined_pairs']:,}; "
        f"of them right {auto['right_pairs']:,}"
    )
    lines = [
        ("automatic precision", f"{auto['precision']:.4f}", ">= 0.995", auto["precision"] >= 0.995),
        ("automatic recall", f"{auto['recall']:.4f}", "", None),
        ("automatic F1", f"{auto['f1']:.4f}", "", None),
        ("pairs sent to review", f"{result['queued']:,}", "", None),
        ("  of them true", f"{result['queued_true']:,}", "", None),
        (
            "review yield",
            "-" if yield_ is None else f"{yield_:.3f}",
            ">= 0.5",
            yield_ is not None and yield_ >= 0.5,
        ),
        ("  pending, already one person", f"{result['queued_already_joined']:,}", "", None),
        ("precision after review", f"{after['precision']:.4f}", "", None),
        ("recall after review", f"{after['recall']:.4f}", ">= 0.95", after["recall"] >= 0.95),
        ("F1 after review", f"{after['f1']:.4f}", "", None),
        ("same-list rows folded (pairs)", f"{folded:,}", "0", folded == 0),
        ("seconds, imports", f"{sum(s['seconds'] for s in imports):.1f}", "", None),
        ("seconds, match runs", f"{sum(s['seconds'] for s in matching):.1f}", "", None),
        (
            "peak RSS of the job",
            f"{max((s['peak_mb'] for s in steps), default=0):.0f} MB",
            "",
            None,
        ),
    ]
    for name, value, target, ok in lines:
        tail = f"target {target}: {verdict(ok)}" if target else ""
        print(f"  {name:<34} {value:>12}   {tail}")
    if loads:
        print(f"load average during the run: {min(loads):.2f} to {max(loads):.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--entries", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=12)
    parser.add_argument("--workdir", type=Path)
    parser.add_argument("--samples", type=int, default=20)
    parser.add_argument(
        "--queued-runs",
        action="store_true",
        help="After each import, answer the match queue with an incremental run.",
    )
    parser.add_argument("--score-only", action="store_true", help="Score what the database holds.")
    parser.add_argument(
        "--imports-only",
        action="store_true",
        help="Leave out the final full run: score what the imports (and queued runs) decided.",
    )
    parser.add_argument("--setup", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--answer-queue", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.setup:
        setup(args.setup)
        return
    if args.answer_queue:
        answer_queue()
        return

    from bench.identity_data import generate

    workdir = args.workdir or Path(f"/tmp/bench-identity-e2e-{args.entries}")
    workdir.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    generated = generate(args.entries, seed=args.seed)
    manifest_path = write_lists(generated, workdir)
    manifest = json.loads(manifest_path.read_text())
    print(
        f"generated {generated.entries:,} rows of {len(generated.people):,} people in "
        f"{time.perf_counter() - started:.1f} s: "
        + ", ".join(
            f"{s.letter[:12]}/{s.kind} {len(rows):,}"
            for s, rows in zip(generated.sources, generated.lists, strict=True)
        )
    )
    print(f"{os.cpu_count()} cores; load average at the start: {os.getloadavg()[0]:.2f}")
    log = workdir / "steps.log"
    steps: list[dict] = []
    sampler = LoadSampler()
    sampler.start()
    python = sys.executable
    if not args.score_only:
        log.write_text("")
        recreate_database()
        steps.append(run_step("migrate", [python, "manage.py", "migrate", "--no-input"], log))
        steps.append(run_step("setup", [python, __file__, "--setup", str(manifest_path)], log))
        for source in manifest["sources"]:
            label = f"import {source['letter'][:16]} / {source['name']}"
            command = [
                python,
                "manage.py",
                "import_signatures",
                source["letter"],
                source["file"],
                "--source",
                source["name"],
                "--format",
                "csv",
            ]
            steps.append(run_step(label, command, log))
            if args.queued_runs:
                answer = [python, __file__, "--answer-queue"]
                steps.append(run_step("answer the queue", answer, log))
        if not args.imports_only:
            dedupe = [python, "manage.py", "dedupe", "--full"]
            steps.append(run_step("dedupe --full", dedupe, log))
    else:
        earlier = workdir / "result.json"
        if earlier.exists():  # the steps of the run that filled the database
            before = json.loads(earlier.read_text())
            steps = before.get("steps", [])
            sampler.samples = [x for x in before.get("load", []) if x]
    sampler.done.set()

    back = read_back(workdir, manifest)
    result = score(back)
    kinds = errors(back, result, generated, manifest, args.samples, workdir / "samples.txt")
    report(result, steps, sampler.samples, args)
    summary = {
        "entries": args.entries,
        "seed": args.seed,
        "queued_runs": args.queued_runs,
        "cores": os.cpu_count(),
        "load": [min(sampler.samples, default=0), max(sampler.samples, default=0)],
        "steps": steps,
        "runs": back["runs"],
        "targets": TARGETS,
        **result,
        **kinds,
    }
    (workdir / "result.json").write_text(json.dumps(summary, indent=1, default=str))
    print(f"details in {workdir}/result.json, samples in {workdir}/samples.txt")


if __name__ == "__main__":
    main()
