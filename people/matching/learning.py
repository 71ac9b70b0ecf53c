"""Weights learned from the data of each run, in Fellegi and Sunter's model.

For each comparison (family name, given name, middle initial, organisation,
field) and each of its levels, two probabilities:

- ``u``, how often two records of *different* people reach the level, counted
  on pairs of records drawn at random (almost all of them two people);
- ``m``, how often two records of *one* person reach it, found by expectation
  maximisation over the candidate pairs that blocking proposed, with ``u``
  held fixed and the share of true pairs among candidates (``lambda``) fitted
  beside ``m``.

A level then weighs ``log2(m / u)`` bits. Exact names keep their adjustment
by term frequency: two "Smith"s weigh ``log2(m_exact / u_smith)``, with
``m_exact`` learned and ``u_smith`` the name's share of all names.

Only the bits are learned. What protects people stays outside the score, as
constraints: one family name with two given names (Lana and Lilly
Wachowski), other middle initials, two entries of one list, identifiers with
other values, other fields, stored "different" judgements
(``scoring.decide``, ``clustering``). Strong identifiers, letters signed
together and a shared list keep the weights set for them: they are rare or
are rules, and EM would learn little of them.

What keeps a fit honest: a level fewer than ``MIN_PAIRS`` candidates reach
keeps its set weight; a session whose pairs state fewer than two comparisons
besides the one they were chosen by is not used (one comparison cannot tell
how many pairs are one person and how they compare); one whose pairs come out
nearly all one person or
nearly all two (one comparison stated, or no duplicates in the data) is not
used; a learned weight moves at most ``BAND`` bits from the set one. Another
organisation is weighed as evidence, not a veto, only when its weight was
learned (``Weights.org_veto``).

Everything drawn at random is drawn from ``numpy.random.default_rng(seed)``,
so one seed on the same records gives the same weights.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from people.matching.records import Prepared
from people.matching.scoring import (
    DEFAULT_WEIGHTS,
    Decision,
    Family,
    Field,
    Given,
    Middle,
    Org,
    Scored,
    Weights,
    score_pairs,
)

# The comparisons whose levels are learned, and for each level the weight it
# sets. Level 0 of each is "not stated by one record" and weighs nothing.
LEVELS: dict[str, dict[int, str]] = {
    "family": {
        Family.EXACT: "family_exact",
        Family.PART: "family_part",
        Family.TYPO: "family_typo",
        Family.PHONETIC: "family_phonetic",
        Family.CLOSE: "family_close",
        Family.DIFFERENT: "family_different",
        Family.SECOND_DIFFERS: "family_different",
    },
    "given": {
        Given.EXACT: "given_exact",
        Given.NICKNAME: "given_nickname",
        Given.INITIAL: "given_initial",
        Given.TYPO: "given_typo",
        Given.CLOSE: "given_close",
        Given.DIFFERENT: "given_different",
    },
    "middle": {Middle.AGREE: "middle_agree", Middle.CONFLICT: "middle_conflict"},
    "org": {Org.AGREE: "org_agree", Org.SIMILAR: "org_similar", Org.DISAGREE: "org_disagree"},
    "field": {Field.AGREE: "field_agree", Field.DISAGREE: "field_disagree"},
}
COMPARISONS = tuple(LEVELS)
_ENUMS = {"family": Family, "given": Given, "middle": Middle, "org": Org, "field": Field}
_SIZES = {name: len(levels) for name, levels in _ENUMS.items()}
LEVEL_NAMES = {
    name: {level.value: level.name.lower() for level in levels} for name, levels in _ENUMS.items()
}

# A learned weight stays within these bits: a level seen a handful of times is
# not allowed to decide alone.
BITS_LIMIT = 16.0
# Pairs a level needs among the random pairs before its own count is trusted;
# below, its u is taken as this many (a level never seen is not "impossible").
MIN_COUNT = 0.5
# Candidate pairs a level needs for its weight to be learned; a rarer level
# keeps the weight set for it.
MIN_PAIRS = 30
# Bits a learned weight may move from the weight set for its level.
BAND = 3.0
# The share of one person's pairs a session may find; outside, it is not used.
LAMBDA_RANGE = (0.001, 0.99)


@dataclass(frozen=True)
class Fitted:
    """The weights of one run and what they were learned from."""

    weights: Weights
    params: dict


def _levels(p: Prepared, a: np.ndarray, b: np.ndarray, base: Weights) -> tuple[np.ndarray, Scored]:
    """Each pair's level of each comparison, one column per comparison, and
    the pairs as the set weights score them."""
    scored = score_pairs(p, a, b, base, keep_all=True, identifiers=False)
    # Pairs whose records carry no name are left out by the scorer.
    return np.stack([getattr(scored, name) for name in COMPARISONS], axis=1), scored


def _random_pairs(size: int, count: int, rng: np.random.Generator):
    a = rng.integers(0, size, count)
    b = rng.integers(0, size - 1, count)
    b = b + (b >= a)  # never a record with itself
    return a, b


def _shares(
    values: np.ndarray,
    name: str,
    weights: np.ndarray | None = None,
    *,
    add: float = 0.0,
    floor: float = 0.0,
) -> np.ndarray:
    """The share of each level of comparison ``name`` among ``values`` (each
    counted ``weights`` times), level 0 ("not stated") left out; ``add`` is
    given to every level, and no level counts less than ``floor``."""
    counts = np.bincount(values, weights=weights, minlength=_SIZES[name]).astype(float)
    counts = np.maximum(counts + add, floor)
    counts[0] = 0.0
    total = counts.sum()
    return counts / total if total > 0 else counts


def _u(levels: np.ndarray) -> dict[str, np.ndarray]:
    """The share of each level among random pairs stating the comparison (a
    level never seen is not impossible: it counts as ``MIN_COUNT`` pairs)."""
    return {
        name: _shares(levels[:, column], name, floor=MIN_COUNT)
        for column, name in enumerate(COMPARISONS)
    }


def _log_probabilities(patterns: np.ndarray, probabilities: dict, columns) -> np.ndarray:
    out = np.zeros(len(patterns))
    for column in columns:
        name = COMPARISONS[column]
        stated = patterns[:, column] > 0
        out[stated] += np.log(np.maximum(probabilities[name][patterns[stated, column]], 1e-300))
    return out


def expectation_maximisation(
    patterns: np.ndarray,
    counts: np.ndarray,
    m: dict[str, np.ndarray],
    u: dict[str, np.ndarray],
    share: float,
    columns: tuple[int, ...],
    *,
    iterations: int = 300,
    tolerance: float = 1e-6,
) -> tuple[dict[str, np.ndarray], float, int]:
    """Fit ``m`` of the comparisons in ``columns`` and the share of true pairs
    to pairs grouped by their pattern of levels (``counts`` pairs each), ``u``
    held fixed. Returns m, the share and the iterations it took."""
    names = [COMPARISONS[column] for column in columns]
    log_u = _log_probabilities(patterns, u, columns)
    done = 0
    while done < iterations:
        done += 1
        odds = np.log(share) - np.log1p(-share) + _log_probabilities(patterns, m, columns) - log_u
        posterior = 1.0 / (1.0 + np.exp(-np.clip(odds, -700, 700)))
        same = posterior * counts
        new_share = float(np.clip(same.sum() / counts.sum(), 1e-6, 1 - 1e-6))
        change = abs(new_share - share)
        new_m = dict(m)
        for column, name in zip(columns, names, strict=True):
            # A level no pair reaches stays possible.
            found = _shares(patterns[:, column], name, same, add=1e-6)
            stated = float(same[patterns[:, column] > 0].sum())
            new_m[name] = found if stated > 1e-3 else m[name]
            change = max(change, float(np.abs(new_m[name] - m[name]).max()))
        m, share = new_m, new_share
        if change < tolerance:
            break
    return m, share, done


def _start(levels: np.ndarray, chosen: np.ndarray) -> dict[str, np.ndarray]:
    """Where EM starts: the level shares of the ``chosen`` pairs, one added to each."""
    return {
        name: _shares(levels[chosen, column], name, add=1.0)
        for column, name in enumerate(COMPARISONS)
    }


# EM is run once per session: among the candidate pairs sharing the exact
# family name, to learn the other comparisons, and among those sharing the
# exact given name, to learn the family name. A comparison a session's pairs
# were chosen by says nothing there: all of them agree on it.
SESSIONS = (("family", Family.EXACT), ("given", Given.EXACT))


def fit_weights(
    p: Prepared,
    a: np.ndarray,
    b: np.ndarray,
    base: Weights = DEFAULT_WEIGHTS,
    *,
    seed: int = 0,
    random_pairs: int = 300_000,
    candidates: int = 500_000,
    population: np.ndarray | None = None,
) -> Fitted:
    """Learn the level weights from the records ``p`` and their candidate pairs
    ``a``, ``b`` (indexes into ``p``); everything else comes from ``base``.
    Random pairs are drawn among ``population`` (indexes into ``p``; all
    records when None)."""
    rng = np.random.default_rng(seed)
    drawn = np.arange(len(p)) if population is None else np.asarray(population)
    size = len(drawn)
    if size < 2 or len(a) == 0:
        return Fitted(base, {"learned": False, "why": "too few records or candidate pairs"})
    ra, rb = _random_pairs(size, min(random_pairs, size * (size - 1)), rng)
    ra, rb = drawn[ra], drawn[rb]
    random_levels, _ = _levels(p, ra, rb, base)
    u = _u(random_levels)
    if len(a) > candidates:
        chosen = np.sort(rng.choice(len(a), candidates, replace=False))
        a, b = a[chosen], b[chosen]
    levels, scored = _levels(p, a, b, base)
    decided = scored.decision == Decision.AUTO
    if not decided.any():
        decided = scored.bits >= np.median(scored.bits)
    start = _start(levels, decided)
    found: dict[str, list[np.ndarray]] = {name: [] for name in COMPARISONS}
    sessions = []
    for by, level in SESSIONS:
        column = COMPARISONS.index(by)
        among = levels[:, column] == level
        # The comparisons these pairs state often enough to learn from.
        others = tuple(
            k
            for k in range(len(COMPARISONS))
            if k != column and int((levels[among, k] > 0).sum()) >= MIN_PAIRS
        )
        session = {"by": by, "pairs": int(among.sum())}
        sessions.append(session)
        if among.sum() < 100:
            session["skipped"] = "too few pairs"
            continue
        if len(others) < 2:
            # With one comparison, how often one person's pairs reach each level
            # and how many are one person cannot both be found.
            session["skipped"] = "fewer than two comparisons to learn from"
            continue
        patterns, counts = np.unique(levels[among], axis=0, return_counts=True)
        m, share, iterations = expectation_maximisation(
            patterns,
            counts.astype(float),
            start,
            u,
            float(np.clip(decided[among].mean(), 0.01, 0.99)),
            others,
        )
        session["lambda"] = round(share, 6)
        if not LAMBDA_RANGE[0] <= share <= LAMBDA_RANGE[1]:
            # Nearly all or nearly none of the pairs one person: the levels do
            # not tell the two kinds apart here (no duplicates at all, say), and
            # what EM found says nothing.
            session["skipped"] = "the pairs do not tell one person from two"
            continue
        session.update(patterns=len(patterns), iterations=iterations)
        for k in others:
            found[COMPARISONS[k]].append(m[COMPARISONS[k]])
    m = {name: np.mean(found[name], axis=0) if found[name] else start[name] for name in COMPARISONS}
    learned, kept = {}, []
    for column, (name, levels_of) in enumerate(LEVELS.items()):
        seen = np.bincount(levels[:, column], minlength=_SIZES[name])
        for level, weight in levels_of.items():
            if weight in learned or weight in kept:
                continue  # a weight shared by two levels takes the first's
            if seen[level] < MIN_PAIRS:
                kept.append(weight)  # too few candidates at this level to learn from
                continue
            if not found[name]:
                kept.append(weight)  # no session learned this comparison
                continue
            bits = float(np.log2(max(m[name][level], 1e-12) / u[name][level]))
            # The set weight is where the learned one starts from, and how far
            # it may move.
            if hasattr(base, weight):  # exact names: their m, below
                set_bits = getattr(base, weight)
                bits = np.clip(bits, set_bits - BAND, set_bits + BAND)
            learned[weight] = round(float(np.clip(bits, -BITS_LIMIT, BITS_LIMIT)), 4)
    exact = {}
    for name, level in (("family", Family.EXACT), ("given", Given.EXACT)):
        weight = f"{name}_exact"
        if learned.pop(weight, None) is not None:
            # m of exact names moves the bits of every exact name alike.
            low, high = getattr(base, f"m_{weight}") / 2**BAND, 1.0
            exact[f"m_{weight}"] = round(float(np.clip(m[name][level], low, high)), 6)
    # With its weight learned, another organisation is evidence, not a veto.
    org_veto = "org_disagree" not in learned
    weights = replace(base, **learned, **exact, org_veto=org_veto)

    def table(probabilities):
        return {
            name: {
                LEVEL_NAMES[name][k]: round(float(v), 8)
                for k, v in enumerate(probabilities[name])
                if k
            }
            for name in COMPARISONS
        }

    params = {
        "learned": True,
        "org_veto": org_veto,
        "seed": seed,
        "random_pairs": len(ra),
        "candidate_pairs": len(a),
        "sessions": sessions,
        "m": table(m),
        "u": table(u),
        "bits": {**learned, **exact},
        "kept": kept,
    }
    return Fitted(weights, params)


def weights_from_params(params: dict, base: Weights = DEFAULT_WEIGHTS) -> Weights:
    """The weights a run used, from the parameters stored on it."""
    if not params.get("learned"):
        return base
    return replace(base, **params["bits"], org_veto=params.get("org_veto", True))
