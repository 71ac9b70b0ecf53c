"""The matcher on records in memory: prepare, block, score, decide, cluster.

``match`` runs it all in one call, splitting the candidate pairs into blocks
that are scored independently (in worker processes when ``workers`` > 1) and
combined at the end. ``people.matching.jobs`` runs the same steps with each
block as a Celery task.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterable, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from enum import IntEnum
from multiprocessing import get_context

import numpy as np

from people.matching.blocking import DEFAULT_WINDOW, Candidates, candidate_pairs
from people.matching.clustering import cluster, recluster
from people.matching.index import NameIndex
from people.matching.learning import fit_weights
from people.matching.records import Frequencies, Prepared, Record, collection_paused
from people.matching.scoring import (
    DEFAULT_WEIGHTS,
    Decision,
    Field,
    Org,
    Scored,
    Weights,
    score_pairs,
)


class Outcome(IntEnum):
    NONE = 0
    MERGED = 1
    QUEUED = 2
    BLOCKED = 3  # a stored "different" judgement keeps the two apart


@dataclass
class MatchResult:
    ids: np.ndarray  # record ids, by record index
    scored: Scored  # the pairs in the review band or above
    outcome: np.ndarray  # per scored pair
    labels: np.ndarray  # per record: the index of a record of its cluster
    counts: dict = field(default_factory=dict)
    timings: dict = field(default_factory=dict)
    params: dict = field(default_factory=dict)  # the learned weights, when learned
    weights: Weights = DEFAULT_WEIGHTS  # the weights the pairs were scored with

    def clusters(self) -> list[list[int]]:
        """Groups of record ids found to be one person (two or more)."""
        order = np.argsort(self.labels, kind="stable")
        labels = self.labels[order]
        cuts = np.flatnonzero(labels[1:] != labels[:-1]) + 1
        return [
            sorted(self.ids[group].tolist()) for group in np.split(order, cuts) if len(group) > 1
        ]

    def pairs(self, outcome: Outcome) -> list[tuple[int, int]]:
        """Pairs of record ids (smaller first) with that outcome."""
        chosen = np.flatnonzero(self.outcome == outcome)
        first, second = self.ids[self.scored.a[chosen]], self.ids[self.scored.b[chosen]]
        return sorted(
            zip(
                np.minimum(first, second).tolist(),
                np.maximum(first, second).tolist(),
                strict=True,
            )
        )


def split_blocks(candidates: Candidates, blocks: int) -> list[np.ndarray]:
    """Candidate pairs in ``blocks`` independent groups, by the key that proposed them."""
    blocks = max(1, blocks)
    assignment = candidates.group % blocks
    order = np.argsort(assignment, kind="stable")
    cuts = np.searchsorted(assignment[order], np.arange(1, blocks))
    return [part for part in np.split(order, cuts) if len(part)]


def _pairs(scored: Scored, chosen: np.ndarray) -> list[tuple[int, int]]:
    return list(zip(scored.a[chosen].tolist(), scored.b[chosen].tolist(), strict=True))


# Name bits within which two namesakes count as equally close to a third record.
_AS_CLOSE = 1.0


def combine(
    size: int,
    scored: Scored,
    *,
    judged_apart: Iterable[tuple[int, int]] = (),
    contextless: np.ndarray | None = None,
    fields: Sequence[frozenset] | None = None,
    listings: Sequence[frozenset] | None = None,
    orgs: Sequence[frozenset] | None = None,
    identifiers: Sequence[frozenset] | None = None,
    weights: Weights = DEFAULT_WEIGHTS,
    population: int | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Decide the scored pairs of all blocks together: cluster the pairs to
    merge, queue the middle band, and count what stored judgements blocked.
    ``population`` is how many records the run matched among (``size`` when
    None: the records of the scored pairs may be only some of them).

    Returns the outcome of each scored pair and the cluster label of each record.
    """
    judged = list(judged_apart)
    auto = np.flatnonzero(scored.decision == Decision.AUTO)
    strong = scored.strong_conflict
    context = np.flatnonzero(strong)
    weak = np.flatnonzero(scored.conflict & ~strong) if weights.org_veto else np.empty(0, int)
    constraints = {
        "judged_apart": judged,
        "context_apart": np.stack([scored.a[context], scored.b[context]], axis=1),
        "weakly_apart": np.stack([scored.a[weak], scored.b[weak]], axis=1),
        "fields": fields,
        "listings": listings,
        "orgs": orgs,
        "identifiers": identifiers,
    }
    field_apart = context[scored.field[context] == Field.DISAGREE]
    if contextless is not None and len(field_apart):
        # A record without context whose name is as close to both sides of a
        # pair whose fields disagree (an actor and a radio host of the same
        # name) could be either, even when blocking paired it with one side
        # only: none of its merges is made, and it goes to review.
        conflicted = np.full(size, -np.inf)
        np.maximum.at(conflicted, scored.a[field_apart], scored.name_bits[field_apart])
        np.maximum.at(conflicted, scored.b[field_apart], scored.name_bits[field_apart])
        a, b, names = scored.a[auto], scored.b[auto], scored.name_bits[auto]
        either = np.zeros(size, dtype=bool)
        either[a[contextless[a] & (conflicted[b] >= names - _AS_CLOSE)]] = True
        either[b[contextless[b] & (conflicted[a] >= names - _AS_CLOSE)]] = True
        auto = auto[~(either[a] | either[b])]

    def pairs_of(pairs: np.ndarray) -> dict:
        # Organisations as evidence: a pair that merges with its own
        # organisations disagreeing may bring a record seen once elsewhere
        # into a cluster (``clustering.cluster``, ``weighed``).
        return {
            "a": scored.a[pairs],
            "b": scored.b[pairs],
            "bits": scored.bits[pairs],
            "weighed": None if weights.org_veto else scored.org[pairs] == Org.DISAGREE,
        }

    def without(clustering, pairs: np.ndarray, dropped: np.ndarray):
        # The pairs left, clustered again where they lost one.
        return recluster(clustering, ~dropped, size, **pairs_of(pairs), **constraints)

    clustering = cluster(size, **pairs_of(auto), **constraints)
    if contextless is not None:
        # A record without context that would join two people kept apart (an
        # actor and a radio host of the same name) could be either: it goes to
        # review instead of to whichever scored higher.
        ambiguous = np.zeros(size, dtype=bool)
        for k, result in zip(auto.tolist(), clustering.outcome, strict=True):
            if result == "context":
                for record in (int(scored.a[k]), int(scored.b[k])):
                    ambiguous[record] |= bool(contextless[record])
        if ambiguous.any():
            dropped = ambiguous[scored.a[auto]] | ambiguous[scored.b[auto]]
            clustering = without(clustering, auto, dropped)
            auto = auto[~dropped]
    if not weights.org_veto and len(auto):
        # Another organisation weighed as evidence: such a pair merges only
        # when one person is likely enough given all it states, with the odds
        # that two records of this run are one person as the prior.
        unlikely = (scored.org[auto] == Org.DISAGREE) & ~likely(
            scored.bits[auto], prior_bits(clustering.labels, population)
        )
        if unlikely.any():
            clustering = without(clustering, auto, unlikely)
            auto = auto[~unlikely]
    outcome = np.full(len(scored), Outcome.NONE, dtype=np.int64)
    for k, result in zip(auto.tolist(), clustering.outcome, strict=True):
        outcome[k] = {
            "joined": Outcome.MERGED,
            "same": Outcome.MERGED,
            "judged": Outcome.BLOCKED,
            "context": Outcome.QUEUED,
            "weak": Outcome.QUEUED,
        }[result]
    labels = clustering.labels
    review = np.flatnonzero(
        (scored.decision == Decision.REVIEW)
        | ((scored.decision == Decision.AUTO) & (outcome == Outcome.NONE))
    )
    if len(review):
        hard: dict[int, set[int]] = {}
        for x, y in judged:
            hard.setdefault(int(labels[x]), set()).add(int(labels[y]))
            hard.setdefault(int(labels[y]), set()).add(int(labels[x]))
        left, right = labels[scored.a[review]], labels[scored.b[review]]
        for k, x, y in zip(review.tolist(), left.tolist(), right.tolist(), strict=True):
            if x == y:
                continue
            outcome[k] = Outcome.BLOCKED if y in hard.get(x, ()) else Outcome.QUEUED
    return outcome, labels


# A merge against other organisations needs this posterior of one person.
MERGE_POSTERIOR = 0.99


def prior_bits(labels: np.ndarray, population: int | None = None) -> float:
    """log2 of the odds that two records drawn at random from ``population``
    records (``len(labels)`` when None) are one person, the people being the
    clusters found (``labels``; records outside them are alone).

    The bits of a score are log2(m/u) with ``u`` counted on random pairs
    (``people.matching.learning``), so this prior and a score add up to the
    posterior odds of one person (Fellegi and Sunter)."""
    size = max(len(labels), population or 0)
    if size < 2:
        return 0.0
    counts = np.unique(labels, return_counts=True)[1].astype(float)
    same = max(float((counts * (counts - 1) / 2).sum()), 1.0)
    every = size * (size - 1) / 2
    return float(np.log2(same / max(every - same, 1.0)))


def likely(bits: np.ndarray, prior: float, posterior: float = MERGE_POSTERIOR) -> np.ndarray:
    """Pairs whose score, after the prior, gives one person at least ``posterior``."""
    return bits + prior >= np.log2(posterior / (1.0 - posterior))


def contextless_records(prepared: Prepared) -> np.ndarray:
    """Records that could stand for either of two namesakes: stating neither an
    organisation nor a title's field, or known by an initial only ("L. Wachowski")."""
    no_context = (prepared.orgs[:, 0] < 0) & (prepared.fields[:, 0] < 0)
    full_given = np.zeros(len(prepared), dtype=bool)
    has_full = ~prepared.given_is_initial[prepared.row_name] & (
        prepared.given_c[prepared.row_name] != 0
    )
    full_given[prepared.row_record[has_full]] = True
    return no_context | ~full_given


_shared: dict = {}


def _score_block(pairs: np.ndarray) -> Scored:
    prepared, candidates, weights = _shared["job"]
    return score_pairs(prepared, candidates.a[pairs], candidates.b[pairs], weights)


@collection_paused()
def match(
    records: Sequence[Record],
    *,
    focus: Iterable[int] | None = None,
    judged_apart: Iterable[tuple[int, int]] = (),
    weights: Weights = DEFAULT_WEIGHTS,
    window: int = DEFAULT_WINDOW,
    blocks: int = 1,
    workers: int = 1,
    frequencies: Frequencies | None = None,
    prepared: Prepared | None = None,
    index: NameIndex | None = None,
    learn: bool = False,
    seed: int = 0,
) -> MatchResult:
    """Find the records that are one person.

    ``focus`` (record ids) limits the run to pairs touching those records, as
    after a sync; ``judged_apart`` (pairs of record ids) are never merged,
    directly or through others. ``index`` keeps the prepared names between
    runs: only names it lacks are read (and added to it). With ``learn`` the
    weights of the levels are learned from these records and their candidate
    pairs (``people.matching.learning``), starting from ``weights``; ``seed``
    makes the draw repeatable.
    """
    timings: dict[str, float] = {}
    started = time.perf_counter()
    if prepared is None:
        prepared = Prepared(records, frequencies=frequencies, index=index)
    timings["prepare"] = time.perf_counter() - started
    index_of = {int(record_id): i for i, record_id in enumerate(prepared.ids.tolist())}
    focus_mask = None
    if focus is not None:
        focus_mask = np.zeros(len(prepared), dtype=bool)
        focus_mask[[index_of[i] for i in focus if i in index_of]] = True

    mark = time.perf_counter()
    candidates = candidate_pairs(prepared, focus=focus_mask, window=window, unfiltered=True)
    later = None
    if focus_mask is not None:
        # First the pairs touching the new records; then, among the records those
        # reached, the pairs a full run would also weigh when clustering them.
        touching = focus_mask[candidates.a] | focus_mask[candidates.b]
        later, candidates = candidates.take(~touching), candidates.take(touching)
    parts = split_blocks(candidates, blocks)
    timings["block"] = time.perf_counter() - mark

    params: dict = {}
    if learn:
        mark = time.perf_counter()
        fitted = fit_weights(prepared, candidates.a, candidates.b, weights, seed=seed)
        weights, params = fitted.weights, fitted.params
        timings["learn"] = time.perf_counter() - mark

    mark = time.perf_counter()
    if workers > 1 and len(parts) > 1:
        _shared["job"] = (prepared, candidates, weights)
        try:
            with ProcessPoolExecutor(
                max_workers=min(workers, os.cpu_count() or 1), mp_context=get_context("fork")
            ) as pool:
                scored_parts = list(pool.map(_score_block, parts))
        finally:
            _shared.clear()
    else:
        scored_parts = [
            score_pairs(prepared, candidates.a[part], candidates.b[part], weights) for part in parts
        ]
    scored = Scored.concat(scored_parts)
    # What combining needs is in ``scored``: the blocks' own copies and the
    # candidate pairs are let go (at a million records, gigabytes).
    scored_before = sum(part.scored for part in scored_parts)
    counts = {"blocks": len(parts), "candidates": len(candidates)}
    del scored_parts, parts, candidates
    if later is not None and len(later):
        reached = focus_mask.copy()
        reached[scored.a] = True
        reached[scored.b] = True
        among = later.take(reached[later.a] & reached[later.b])
        more = score_pairs(prepared, among.a, among.b, weights)
        scored = Scored.concat([scored, more])
        scored.scored = scored_before + more.scored
    timings["score"] = time.perf_counter() - mark

    mark = time.perf_counter()
    judged = [
        (index_of[x], index_of[y]) for x, y in judged_apart if x in index_of and y in index_of
    ]
    outcome, labels = combine(
        len(prepared),
        scored,
        judged_apart=judged,
        contextless=contextless_records(prepared),
        fields=prepared.field_texts,
        listings=[frozenset(record.listings) for record in prepared.records],
        orgs=[frozenset(keys) for keys in prepared.org_texts],
        identifiers=prepared.identifier_texts,
        weights=weights,
    )
    timings["combine"] = time.perf_counter() - mark
    timings["total"] = time.perf_counter() - started
    merged_records = len(prepared) - len(np.unique(labels))
    return MatchResult(
        ids=prepared.ids,
        scored=scored,
        outcome=outcome,
        labels=labels,
        counts={
            "records": len(prepared),
            **counts,
            "pairs_scored": scored.scored,
            "merged": int(merged_records),
            "queued": int((outcome == Outcome.QUEUED).sum()),
            "blocked_by_judgements": int((outcome == Outcome.BLOCKED).sum()),
        },
        timings=timings,
        params=params,
        weights=weights,
    )
