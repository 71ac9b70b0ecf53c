"""The matcher and its peers on the same records, timed the same way.

Each function takes the records already in memory (a DataFrame for the peers,
``Record`` objects for this project) and returns the predicted matches as
pairs of row positions, or cluster labels, with the seconds it took. Building
the inputs is not timed for anyone.

- Splink 5 (DuckDB): Fellegi-Sunter with ``NameComparison`` (Jaro-Winkler
  levels, term-frequency adjusted) on given and family names, Levenshtein
  levels on the context field; probability of a match and u estimated, m by
  EM; predictions at 0.5, clustered into connected components at 0.5.
- recordlinkage 0.16: sorted-neighbourhood indexing on each name (window 9),
  Jaro-Winkler at 0.85 per field, a pair matches when every field agrees.
"""

from __future__ import annotations

import logging
import time

import numpy as np
import pandas as pd


def run_splink(
    frames: list[pd.DataFrame], *, context: str | None, link: bool, em_sample: float = 1.0
) -> tuple[set[tuple[int, int]], float, dict]:
    """Pairs (positions in the concatenated frames) that Splink clusters together."""
    import splink.comparison_library as cl
    from splink import DuckDBAPI, Linker, SettingsCreator, block_on

    logging.getLogger("splink").setLevel(logging.ERROR)
    started = time.perf_counter()
    comparisons = [
        cl.NameComparison("given_name").configure(term_frequency_adjustments=True),
        cl.NameComparison("surname").configure(term_frequency_adjustments=True),
    ]
    rules = [
        block_on("given_name"),
        block_on("surname"),
        block_on("substr(given_name, 1, 2)", "substr(surname, 1, 2)"),
    ]
    if context:
        comparisons.append(cl.LevenshteinAtThresholds(context, [1, 2]))
        rules.append(block_on(context))
    settings = SettingsCreator(
        link_type="link_only" if link else "dedupe_only",
        unique_id_column_name="unique_id",
        comparisons=comparisons,
        blocking_rules_to_generate_predictions=rules,
        retain_intermediate_calculation_columns=False,
        retain_matching_columns=False,
    )
    db_api = DuckDBAPI()
    tables = [db_api.register(frame, table_name=f"input_{i}") for i, frame in enumerate(frames)]
    linker = Linker(tables if link else tables[0], settings, log_level=logging.ERROR)
    linker.training.estimate_probability_two_random_records_match(
        [block_on("given_name", "surname")], recall=0.7
    )
    linker.training.estimate_u_using_random_sampling(max_pairs=1e6, seed=1)
    for rule in (block_on("given_name"), block_on("surname")):
        linker.training.estimate_parameters_using_expectation_maximisation(
            rule, record_sample_proportion=em_sample
        )
    predictions = linker.inference.predict(threshold_match_probability=0.01)
    clusters = linker.clustering.cluster_pairwise_predictions_at_threshold(
        predictions, threshold_match_probability=0.5
    )
    labels = clusters.as_pandas_dataframe()[["unique_id", "cluster_id"]]
    elapsed = time.perf_counter() - started
    scores = predictions.as_pandas_dataframe()[["unique_id_l", "unique_id_r", "match_probability"]]
    return _pairs_from_labels(labels), elapsed, {"scores": scores}


def _pairs_from_labels(labels: pd.DataFrame) -> set[tuple[int, int]]:
    pairs = set()
    for members in labels.groupby("cluster_id")["unique_id"]:
        ids = sorted(int(x) for x in members[1])
        pairs.update((a, b) for i, a in enumerate(ids) for b in ids[i + 1 :])
    return pairs


def run_recordlinkage(
    frames: list[pd.DataFrame], *, context: str | None, link: bool
) -> tuple[set[tuple[int, int]], float, dict]:
    """Pairs (positions) that recordlinkage classifies as matches."""
    import recordlinkage

    started = time.perf_counter()
    indexer = recordlinkage.Index()
    indexer.sortedneighbourhood("surname", window=9)
    indexer.sortedneighbourhood("given_name", window=9)
    candidates = indexer.index(*frames) if link else indexer.index(frames[0])
    compare = recordlinkage.Compare()
    fields = ["given_name", "surname"] + ([context] if context else [])
    for name in fields:
        compare.string(name, name, method="jarowinkler", threshold=0.85, label=name)
    features = (
        compare.compute(candidates, *frames) if link else compare.compute(candidates, frames[0])
    )
    matches = features[features.sum(axis=1) >= len(fields)].index
    elapsed = time.perf_counter() - started
    pairs = {(int(min(a, b)), int(max(a, b))) for a, b in matches}
    return pairs, elapsed, {"features": features}


def frame(rows: list[dict], offset: int = 0) -> pd.DataFrame:
    """Rows as a DataFrame indexed by their position (``unique_id``)."""
    data = pd.DataFrame(rows)
    data.index = pd.RangeIndex(offset, offset + len(data))
    data.insert(0, "unique_id", data.index)
    return data.replace({"": None})


def f1(predicted: set[tuple[int, int]], truth: set[tuple[int, int]]) -> dict:
    hits = len(predicted & truth)
    precision = hits / len(predicted) if predicted else 0.0
    recall = hits / len(truth) if truth else 0.0
    score = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"precision": precision, "recall": recall, "f1": score}


def f1_from_labels(predicted: np.ndarray, truth: np.ndarray) -> dict:
    """Pairwise precision, recall and F1 of two clusterings, without listing pairs."""

    def pairs(labels: np.ndarray) -> int:
        _, counts = np.unique(labels, return_counts=True)
        return int((counts * (counts - 1) // 2).sum())

    joint = predicted.astype(np.int64) * (int(truth.max()) + 1) + truth.astype(np.int64)
    hits = pairs(joint)
    predicted_pairs, true_pairs = pairs(predicted), pairs(truth)
    precision = hits / predicted_pairs if predicted_pairs else 0.0
    recall = hits / true_pairs if true_pairs else 0.0
    score = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"precision": precision, "recall": recall, "f1": score}
