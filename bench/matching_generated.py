"""Generated signatory lists: this project's matcher beside Splink and
recordlinkage, and the incremental run.

    python bench/matching_generated.py --size 100000 [--peers] [--repeat 3]
    python bench/matching_generated.py --size 1000000 [--peers]
    python bench/matching_generated.py --incremental 10000 --size 1000000 [--prepare-everyone]

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

from bench.matching_data import generate  # noqa: E402
from bench.matching_peers import f1_from_labels  # noqa: E402
from people.matching.records import Record  # noqa: E402

MODES = ("names", "names + affiliation", "full context")


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


def one_ours(size: int, mode: str, workers: int) -> dict:
    from people.matching.engine import match

    entries = generate(size)
    truth = np.fromiter((e.entity for e in entries), dtype=np.int64, count=len(entries))
    records = records_for(entries, mode)
    started = time.perf_counter()
    result = match(records, blocks=max(1, workers) * 4, workers=workers)
    elapsed = time.perf_counter() - started
    return {
        **f1_from_labels(result.labels, truth),
        "seconds": elapsed,
        "peak_mb": peak_mb(),
        "timings": result.timings,
        "counts": result.counts,
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
    result = match(records, focus=focus, index=index)
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
    command = [sys.executable, __file__, "--one", *args]
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
    parser.add_argument("--one", nargs="+", help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.one:
        what, *rest = args.one
        if what == "ours":
            print(json.dumps(one_ours(int(rest[0]), rest[1], int(rest[2]))))
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

    print(f"generated set of {args.size:,} records, median of {args.repeat}")
    print("| fields | matcher | precision | recall | F1 | seconds | peak MB |")
    print("|---|---|---|---|---|---|---|")
    for mode in MODES:
        results = {
            "this project": [
                spawn("ours", str(args.size), mode, str(args.workers), timeout=1800)
                for _ in range(args.repeat)
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
                print(f"| {mode} | {label} | {runs[0]['error']} | | | | |")
                continue
            r = good[0]
            seconds = statistics.median(x["seconds"] for x in good)
            print(
                f"| {mode} | {label} | {r['precision']:.4f} | {r['recall']:.4f} | "
                f"{r['f1']:.4f} | {seconds:.2f} | {max(x['peak_mb'] for x in good):,.0f} |"
            )
            if label == "this project":
                print(f"<!-- steps {r['timings']} counts {r['counts']} -->")


if __name__ == "__main__":
    main()
