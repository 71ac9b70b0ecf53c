"""Generated signatory lists: this project's matcher beside Splink and
recordlinkage, and the incremental run.

    python bench/matching_generated.py --size 100000 [--peers] [--repeat 3]
    python bench/matching_generated.py --size 1000000 [--peers]
    python bench/matching_generated.py --incremental 10000 --size 1000000 [--prepare-everyone]
    python bench/matching_generated.py --generator alt --size 100000 [--peers] [--breakdown]
    python bench/matching_generated.py --size 100000 --blocking
    python bench/matching_generated.py --size 300000 --repeat 2 --fields full

``--generator`` picks the records: ``project`` (bench/matching_data.py, the
default) or ``alt`` (bench/matching_data_alt.py, built on other assumptions);
with ``alt``, ``--breakdown`` also counts this project's missed pairs by what
was done to the names and its false merges by how the two people's names relate.
``--fields`` (names, affiliation, full; repeatable) runs only those rows.

Each measurement runs in its own process, so that its peak memory (the
process's maximum resident set, records included) is its own. The matcher is
timed from records in memory to clusters, as the peers are timed from a
DataFrame in memory to matches; generating the records is not timed.

Fields: "names" (the name as written; the peers get it split into given and
family names by this project's normaliser), "names + affiliation" (the
affiliation as stated), and, for this project only, "full context" (stated
title, affiliation, the letter and the source list it came from).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tracker.settings.test")

import numpy as np  # noqa: E402

from bench.matching_peers import f1_from_labels  # noqa: E402
from people.matching.records import Record  # noqa: E402

MODES = ("names", "names + affiliation", "full context")
GENERATOR = "project"


def learned() -> bool:
    """Weights learned from each data set (the default), or the set ones."""
    return os.environ.get("BENCH_WEIGHTS", "learned") == "learned"


def generate(size: int):
    if GENERATOR == "alt":
        from bench.matching_data_alt import generate as generate_alt

        return generate_alt(size)
    from bench.matching_data import generate as generate_project

    return generate_project(size)


def records_for(entries, mode: str) -> list[Record]:
    if mode == "names":
        return [Record(i, (e.name,)) for i, e in enumerate(entries)]
    if mode == "names + affiliation":
        return [
            Record(i, (e.name,), orgs=(e.affiliation,) if e.affiliation else ())
            for i, e in enumerate(entries)
        ]
    return [
        Record(
            i,
            (e.name,),
            orgs=(e.affiliation,) if e.affiliation else (),
            titles=(e.title,) if e.title else (),
            letters=(e.letter,),
            listings=(e.letter * 6 + e.source,),
        )
        for i, e in enumerate(entries)
    ]


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def blocking_figures(records: list[Record], truth: np.ndarray) -> dict:
    """Blocking alone: its candidate pairs, the share of true pairs among them (in a
    common block) and the share joined through true candidate pairs."""
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    from people.matching.blocking import candidate_pairs
    from people.matching.records import Prepared

    prepared = Prepared(records)
    candidates = candidate_pairs(prepared)
    entity = truth[prepared.ids]
    same = entity[candidates.a] == entity[candidates.b]
    counts = np.unique(entity, return_counts=True)[1]
    total = int((counts * (counts - 1) // 2).sum())
    n = len(entity)
    edges = coo_matrix(
        (np.ones(int(same.sum())), (candidates.a[same], candidates.b[same])), shape=(n, n)
    )
    component = connected_components(edges, directed=False)[1]
    joined = np.unique(entity * np.int64(n) + component, return_counts=True)[1]
    return {
        "candidates": len(candidates),
        "recall": int(same.sum()) / total,
        "connected": int((joined * (joined - 1) // 2).sum()) / total,
    }


def one_ours(
    size: int, mode: str, workers: int, breakdown: bool = False, blocking: bool = False
) -> dict:
    """With ``blocking``, also the blocking figures, after the peak is taken."""
    from people.matching.engine import Outcome, match

    labels = None
    if breakdown:
        from bench.matching_data_alt import generate_labelled

        entries, labels = generate_labelled(size)
    else:
        entries = generate(size)
    truth = np.fromiter((e.entity for e in entries), dtype=np.int64, count=len(entries))
    records = records_for(entries, mode)
    started = time.perf_counter()
    result = match(records, blocks=max(1, workers) * 4, workers=workers, learn=learned())
    elapsed = time.perf_counter() - started
    queued = np.asarray(result.pairs(Outcome.QUEUED), dtype=np.int64).reshape(-1, 2)
    peak = peak_mb()
    return {
        **f1_from_labels(result.labels, truth),
        # Pairs sent to an editor, and the share of them that are one person.
        "review": len(queued),
        "review_yield": float((truth[queued[:, 0]] == truth[queued[:, 1]]).mean())
        if len(queued)
        else 0.0,
        "seconds": elapsed,
        "peak_mb": peak,
        **({"blocking": blocking_figures(records, truth)} if blocking else {}),
        "timings": result.timings,
        "counts": result.counts,
        **({"breakdown": kinds_of_errors(entries, labels, result.labels)} if labels else {}),
    }


NAME_KINDS = (
    "nickname",
    "initials",
    "typo1",
    "typo2",
    "swap",
    "comma",
    "no_given",
    "case",
    "accents_dropped",
    "surname_dropped",
    "middle_dropped",
    "middle_initial",
    "honorific",
)


def kinds_of_errors(entries, labels, predicted) -> dict:
    """Missed true pairs by what was done to either name, and false merges
    (pairs of records of two people in one cluster) by how the people's
    names relate. Counted outside the timed part."""
    from collections import Counter, defaultdict

    by_entity: dict[int, list[int]] = defaultdict(list)
    for i, entry in enumerate(entries):
        by_entity[entry.entity].append(i)
    pairs: Counter = Counter()
    missed: Counter = Counter()
    alone: Counter = Counter()
    alone_missed: Counter = Counter()
    for members in by_entity.values():
        for x, i in enumerate(members):
            for j in members[x + 1 :]:
                a, b = labels[i], labels[j]
                kinds = {k for k in (*a.kinds, *b.kinds) if k in NAME_KINDS} or {"names as given"}
                only = next(iter(kinds)) if len(kinds) == 1 else None
                if a.org and b.org:
                    kinds.add("both state an organisation, the same")
                    if a.org != b.org:
                        kinds.discard("both state an organisation, the same")
                        kinds.add("both state an organisation, different ones")
                else:
                    kinds.add("one or both state no organisation")
                apart = int(predicted[i] != predicted[j])
                for kind in kinds:
                    pairs[kind] += 1
                    missed[kind] += apart
                if only:
                    alone[only] += 1
                    alone_missed[only] += apart
    clusters: dict[int, Counter] = defaultdict(Counter)
    for i, entry in enumerate(entries):
        clusters[int(predicted[i])][entry.entity] += 1
    person = {entry.entity: labels[i] for i, entry in enumerate(entries)}
    false: Counter = Counter()
    for people in clusters.values():
        if len(people) < 2:
            continue
        ids = sorted(people)
        for x, p in enumerate(ids):
            for q in ids[x + 1 :]:
                a, b = person[p], person[q]
                if a.canonical == b.canonical:
                    kind = "namesakes (same full name)"
                elif a.family == b.family and a.given[:1] == b.given[:1]:
                    kind = "same family name and given initial"
                elif a.family == b.family:
                    kind = "same family name, other given name"
                elif a.given == b.given:
                    kind = "same given name, other family name"
                else:
                    kind = "other"
                false[kind] += people[p] * people[q]
    return {
        "true_pairs": {k: [pairs[k], missed[k]] for k in sorted(pairs)},
        "true_pairs_one_kind": {k: [alone[k], alone_missed[k]] for k in sorted(alone)},
        "false_merges": dict(false.most_common()),
    }


def one_peer(size: int, mode: str, peer: str) -> dict:
    from bench.matching_peers import frame, run_recordlinkage, run_splink
    from people.matching.context import org_key
    from people.matching.normalize import name_form

    entries = generate(size)
    rows = []
    for e in entries:
        form = name_form(e.name)
        row = {"given_name": form.given, "surname": form.family_full}
        if mode != "names":
            row["affiliation"] = org_key(e.affiliation) if e.affiliation else ""
        rows.append(row)
    data = frame(rows)
    context = None if mode == "names" else "affiliation"
    if peer == "Splink":
        pairs, elapsed, _ = run_splink([data], context=context, link=False, em_sample=0.2)
    else:
        pairs, elapsed, _ = run_recordlinkage([data], context=context, link=False)
    # Pairs become clusters (connected components) to be scored like the others.
    labels = np.arange(len(entries))
    parent = labels.copy()

    def root(item: int) -> int:
        while parent[item] != item:
            parent[item] = parent[parent[item]]
            item = parent[item]
        return item

    for a, b in pairs:
        parent[root(a)] = root(b)
    labels = np.fromiter((root(i) for i in range(len(entries))), np.int64, len(entries))
    truth = np.fromiter((e.entity for e in entries), dtype=np.int64, count=len(entries))
    return {**f1_from_labels(labels, truth), "seconds": elapsed, "peak_mb": peak_mb()}


def one_incremental(size: int, new: int, kept: bool) -> dict:
    """An incremental run of ``new`` records against ``size``. With ``kept``,
    as the job runs it: the existing names' prepared forms and keys kept by the
    previous run (built here untimed, through the rows the table keeps, and the
    parsing caches emptied), so only the new names are read."""
    from people.matching import normalize
    from people.matching import records as prepared_records
    from people.matching.engine import Outcome, match
    from people.matching.index import NameIndex, prepare_name

    entries = generate(size + new)
    records = records_for(entries, "full context")
    focus = [r.id for r in records[size:]]
    index = None
    if kept:

        def kept_rows():
            seen: set[str] = set()
            for record in records[:size]:
                for name in record.names:
                    if name not in seen:
                        seen.add(name)
                        yield from NameIndex({name: prepare_name(name)}).rows()

        index = NameIndex.from_rows(kept_rows())
        normalize.name_form.cache_clear()
        prepared_records._metaphone_cache.clear()
    started = time.perf_counter()
    result = match(records, focus=focus, index=index, learn=learned())
    elapsed = time.perf_counter() - started
    return {
        "seconds": elapsed,
        "peak_mb": peak_mb(),
        "timings": result.timings,
        "counts": result.counts,
        "merged_pairs": len(result.pairs(Outcome.MERGED)),
        "names_kept": len(index) - len(index.added) if index is not None else 0,
        "names_read": len(index.added) if index is not None else None,
    }


def spawn(*args: str, timeout: int) -> dict:
    command = [sys.executable, __file__, "--generator", GENERATOR, "--one", *args]
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=timeout, check=False)
    except subprocess.TimeoutExpired:
        return {"error": f"did not finish in {timeout} s"}
    lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
    if done.returncode or not lines:
        return {"error": (done.stderr or done.stdout).strip().splitlines()[-1:]}
    return json.loads(lines[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--size", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--peers", action="store_true", help="Also run Splink and recordlinkage.")
    parser.add_argument("--workers", type=int, default=1, help="Processes scoring blocks.")
    parser.add_argument("--incremental", type=int, default=0, help="New records against --size.")
    parser.add_argument(
        "--prepare-everyone",
        action="store_true",
        help="With --incremental, also time runs that prepare every existing name again.",
    )
    parser.add_argument("--peer-timeout", type=int, default=1800)
    parser.add_argument("--generator", choices=("project", "alt"), default="project")
    parser.add_argument(
        "--breakdown",
        action="store_true",
        help="With --generator alt, count this project's misses and false merges by kind.",
    )
    parser.add_argument(
        "--weights",
        choices=("learned", "set"),
        default=os.environ.get("BENCH_WEIGHTS", "learned"),
        help="This project's weights: learned from each data set, or the set ones.",
    )
    parser.add_argument(
        "--blocking",
        action="store_true",
        help="Also report blocking alone: candidate pairs and the true pairs they hold.",
    )
    parser.add_argument(
        "--fields",
        choices=("names", "affiliation", "full"),
        action="append",
        help="Only these rows (names, names + affiliation, full context); all when not given.",
    )
    parser.add_argument("--one", nargs="+", help=argparse.SUPPRESS)
    args = parser.parse_args()
    os.environ["BENCH_WEIGHTS"] = args.weights
    global GENERATOR
    GENERATOR = args.generator
    if args.breakdown and args.generator != "alt":
        parser.error("--breakdown needs --generator alt (it reads what was done to each entry)")

    if args.one:
        what, *rest = args.one
        if what == "ours":
            flags = rest[3:]
            print(
                json.dumps(
                    one_ours(
                        int(rest[0]),
                        rest[1],
                        int(rest[2]),
                        breakdown="breakdown" in flags,
                        blocking="blocking" in flags,
                    )
                )
            )
        elif what == "peer":
            print(json.dumps(one_peer(int(rest[0]), rest[1], rest[2])))
        else:
            print(json.dumps(one_incremental(int(rest[0]), int(rest[1]), rest[2] == "kept")))
        return

    if args.incremental:
        # Interleaved, so that both see the same load.
        variants = ("kept", "everyone") if args.prepare_everyone else ("kept",)
        runs: dict[str, list[dict]] = {variant: [] for variant in variants}
        for _ in range(args.repeat):
            for variant in variants:
                load = os.getloadavg()[0]
                run = spawn(
                    "incremental", str(args.size), str(args.incremental), variant, timeout=1800
                )
                run["load"] = load
                runs[variant].append(run)
                print(f"{variant}: {json.dumps(run)}", flush=True)
        for variant, done in runs.items():
            seconds = statistics.median(r["seconds"] for r in done)
            steps = {
                step: round(statistics.median(r["timings"][step] for r in done), 2)
                for step in done[0]["timings"]
            }
            print(
                f"incremental ({variant}): {args.incremental:,} new against {args.size:,}: "
                f"median {seconds:.2f} s of {[round(r['seconds'], 1) for r in done]} "
                f"(load {[round(r['load'], 1) for r in done]}), "
                f"peak {max(r['peak_mb'] for r in done):,.0f} MB; steps {steps}; "
                f"counts {done[0]['counts']}; merged pairs {done[0]['merged_pairs']}"
            )
        return

    print(
        f"generated set ({args.generator}) of {args.size:,} records, median of {args.repeat}, "
        f"load {os.getloadavg()[0]:.1f}"
    )
    breakdowns = {}
    print("| fields | matcher | precision | recall | F1 | seconds | peak MB |")
    print("|---|---|---|---|---|---|---|")
    chosen = {"names": MODES[0], "affiliation": MODES[1], "full": MODES[2]}
    for mode in [chosen[f] for f in args.fields] if args.fields else MODES:
        results = {
            "this project": [
                spawn(
                    "ours",
                    str(args.size),
                    mode,
                    str(args.workers),
                    *(["breakdown"] if args.breakdown and repeat == 0 else []),
                    *(["blocking"] if args.blocking and repeat == 0 else []),
                    timeout=1800,
                )
                for repeat in range(args.repeat)
            ]
        }
        if args.peers and mode != "full context":
            for peer in ("Splink", "recordlinkage"):
                results[peer] = [
                    spawn("peer", str(args.size), mode, peer, timeout=args.peer_timeout)
                ]
        for label, runs in results.items():
            good = [r for r in runs if "error" not in r]
            if not good:
                print(f"| {mode} | {label} | {runs[0]['error']} | | | | |", flush=True)
                continue
            r = good[0]
            seconds = statistics.median(x["seconds"] for x in good)
            print(
                f"| {mode} | {label} | {r['precision']:.4f} | {r['recall']:.4f} | "
                f"{r['f1']:.4f} | {seconds:.2f} | {max(x['peak_mb'] for x in good):,.0f} |",
                flush=True,
            )
            if label == "this project":
                print(f"<!-- steps {r['timings']} counts {r['counts']} -->", flush=True)
                print(
                    f"<!-- review: {r['review']:,} pairs queued, "
                    f"{r['review_yield']:.3f} of them one person -->",
                    flush=True,
                )
                if "blocking" in r:
                    b = r["blocking"]
                    print(
                        f"<!-- blocking: {b['candidates']:,} candidate pairs, recall "
                        f"{b['recall']:.4f} in a common block, {b['connected']:.4f} joined "
                        "through true pairs in blocks -->",
                        flush=True,
                    )
                if "breakdown" in r:
                    breakdowns[mode] = r["breakdown"]
    print(f"load at the end {os.getloadavg()[0]:.1f}")
    if breakdowns:
        print_breakdowns(breakdowns)


def print_breakdowns(breakdowns: dict[str, dict]) -> None:
    modes = list(breakdowns)
    for key, what in (
        ("true_pairs", "with a kind on either side"),
        ("true_pairs_one_kind", "whose names differ by that kind alone"),
    ):
        print(f"\ntrue pairs {what}: pairs / missed (share missed)")
        print("| kind | " + " | ".join(modes) + " |")
        print("|---|" + "---|" * len(modes))
        first = breakdowns[modes[0]][key]
        for kind in sorted(first, key=lambda k: -first[k][0]):
            cells = []
            for mode in modes:
                pairs, missed = breakdowns[mode][key].get(kind, [0, 0])
                cells.append(f"{pairs:,} / {missed:,} ({missed / pairs:.2f})" if pairs else "")
            print(f"| {kind} | " + " | ".join(cells) + " |")
    print("\nfalse merges: pairs of records of two people in one cluster")
    print("| kind | " + " | ".join(modes) + " |")
    print("|---|" + "---|" * len(modes))
    kinds = sorted({k for b in breakdowns.values() for k in b["false_merges"]})
    for kind in kinds:
        counts = [breakdowns[mode]["false_merges"].get(kind, 0) for mode in modes]
        print(f"| {kind} | " + " | ".join(f"{c:,}" for c in counts) + " |")


if __name__ == "__main__":
    main()
