"""Forming clusters from the pairs to merge, respecting what must stay apart.

Pairs are joined strongest first. Two clusters are never joined when any
member of one must stay apart from any member of the other: a stored
"different" judgement (a hard constraint, whatever the score) or, within one
run, a pair whose context or names disagree. So "A is B" and "B is C" do not
make A into C when A and C were judged different. Nor are two clusters joined
whose fields disagree (an actor and a radio host), or that are both on one
source's list, or that carry one identifier (a date of birth, a QID, an ORCID,
an e-mail) with other values, even when no pair between them was scored: a
chain through a record stating nothing never makes two conflicting people one.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np

from people.matching.context import orgs_written_alike
from people.matching.identifiers import disagree

JUDGED, CONTEXT, WEAK = 3, 2, 1
_OUTCOME = {JUDGED: "judged", CONTEXT: "context", WEAK: "weak"}


class _Clusters:
    """Union-find that keeps, per cluster, its members, and per record, whom it
    must stay apart from; a join looks through the smaller cluster's members."""

    def __init__(
        self,
        size: int,
        fields: Sequence[frozenset] | None = None,
        listings: Sequence[frozenset] | None = None,
        orgs: Sequence[frozenset] | None = None,
        identifiers: Sequence[frozenset] | None = None,
    ) -> None:
        self.record_identifiers = identifiers
        self.cluster_identifiers: dict[int, frozenset] = {}
        self.record_orgs = orgs
        self.cluster_orgs: dict[int, frozenset] = {}
        self.record_fields = fields
        self.cluster_fields: dict[int, frozenset] = {}
        self.record_listings = listings
        self.cluster_listings: dict[int, frozenset] = {}
        self.parent = list(range(size))
        self.members: dict[int, list[int]] = {}
        self.apart: dict[int, list[tuple[int, int]]] = {}  # record -> [(other, strength)]

    def find(self, item: int) -> int:
        parent = self.parent
        root = item
        while parent[root] != root:
            root = parent[root]
        while parent[item] != root:
            parent[item], item = root, parent[item]
        return root

    def keep_apart(self, first: int, second: int, strength: int) -> None:
        self.apart.setdefault(first, []).append((second, strength))
        self.apart.setdefault(second, []).append((first, strength))

    def join(self, first: int, second: int, weighed: bool = False) -> str:
        """'joined', 'same', or what keeps them apart: 'judged' (a stored
        judgement), 'context' (other fields, one source's list, other given
        names) or 'weak' (other organisations, unless ``weighed``, the pair
        scored enough with its own organisations disagreeing, and one side is
        a single record)."""
        first, second = self.find(first), self.find(second)
        if first == second:
            return "same"
        small, large = first, second
        if len(self.members.get(small, (small,))) > len(self.members.get(large, (large,))):
            small, large = large, small
        strongest = 0
        apart, find = self.apart, self.find
        for member in self.members.get(small, (small,)):
            for other, strength in apart.get(member, ()):
                if strength > strongest and find(other) == large:
                    strongest = strength
        if strongest:
            return _OUTCOME[strongest]
        small_ids = large_ids = frozenset()
        if self.record_identifiers is not None:
            small_ids, large_ids = self._identifiers(small), self._identifiers(large)
            if small_ids and large_ids and disagree(small_ids, large_ids):
                return "context"
        small_fields = large_fields = frozenset()
        if self.record_fields is not None:
            small_fields, large_fields = self._fields(small), self._fields(large)
            if small_fields and large_fields and not small_fields & large_fields:
                return "context"
        if self.record_orgs is not None:
            # Other organisations and no shared field: apart, weakly (an editor decides).
            small_orgs, large_orgs = self._orgs(small), self._orgs(large)
            lone = len(self.members.get(small, (small,))) == 1
            if (
                not (weighed and lone)
                and small_orgs
                and large_orgs
                and not small_fields & large_fields
                and not _orgs_alike(small_orgs, large_orgs)
            ):
                return "weak"
        if self.record_fields is not None and small_fields | large_fields:
            self.cluster_fields[large] = small_fields | large_fields
        if self.record_orgs is not None and small_orgs | large_orgs:
            self.cluster_orgs[large] = small_orgs | large_orgs
        if self.record_listings is not None:
            small_lists, large_lists = self._listings(small), self._listings(large)
            if small_lists & large_lists:
                return "context"  # two entries of one source's list are two people
            if small_lists | large_lists:
                self.cluster_listings[large] = small_lists | large_lists
        if small_ids | large_ids:
            self.cluster_identifiers[large] = small_ids | large_ids
        self.parent[small] = large
        grown = self.members.setdefault(large, [large])
        grown.extend(self.members.pop(small, (small,)))
        return "joined"

    def _listings(self, root: int) -> frozenset:
        found = self.cluster_listings.get(root)
        return self.record_listings[root] if found is None else found

    def _identifiers(self, root: int) -> frozenset:
        found = self.cluster_identifiers.get(root)
        return self.record_identifiers[root] if found is None else found

    def _orgs(self, root: int) -> frozenset:
        found = self.cluster_orgs.get(root)
        return self.record_orgs[root] if found is None else found

    def _fields(self, root: int) -> frozenset:
        found = self.cluster_fields.get(root)
        return self.record_fields[root] if found is None else found


def _orgs_alike(one: frozenset, other: frozenset) -> bool:
    """Some organisation of one is another's, or written alike (a slip, an
    abbreviation), as the scoring compares them."""
    if one & other:
        return True
    return orgs_written_alike(one, other)


@dataclass
class Clustering:
    labels: np.ndarray  # the cluster of each record: the index of one member
    outcome: list[str]  # per candidate pair, in the order given
    component: np.ndarray  # the connected component of the pairs of each record


def cluster(
    size: int,
    a: np.ndarray,
    b: np.ndarray,
    bits: np.ndarray,
    *,
    judged_apart: Iterable[tuple[int, int]] | np.ndarray = (),
    context_apart: Iterable[tuple[int, int]] | np.ndarray = (),
    weakly_apart: Iterable[tuple[int, int]] | np.ndarray = (),
    fields: Sequence[frozenset] | None = None,
    listings: Sequence[frozenset] | None = None,
    orgs: Sequence[frozenset] | None = None,
    identifiers: Sequence[frozenset] | None = None,
    weighed: np.ndarray | None = None,
) -> Clustering:
    """Join the pairs (a[k], b[k]) strongest first, never across a pair kept
    apart, nor between clusters whose ``fields`` (per record) disagree, that
    share one of their ``listings`` (the sources listing each record), or whose
    ``identifiers`` ("key=value") disagree. Clusters known by other
    organisations are kept apart too, except that a pair marked ``weighed``
    (its score counted its own organisations disagreeing) may bring a single
    record into a cluster: a person seen once elsewhere."""
    clusters = _Clusters(size, fields, listings, orgs, identifiers)
    # Only two records of one component of the pairs can ever meet in a join
    # (a record no pair joins is a component of its own).
    component = components(size, a, b)
    for pairs, strength in (
        (judged_apart, JUDGED),
        (context_apart, CONTEXT),
        (weakly_apart, WEAK),
    ):
        pairs = np.asarray(pairs if isinstance(pairs, np.ndarray) else list(pairs), dtype=np.int64)
        x, y = pairs.reshape(-1, 2).T
        meet = (component[x] == component[y]) & (x != y)
        for first, second in zip(x[meet].tolist(), y[meet].tolist(), strict=True):
            clusters.keep_apart(first, second, strength)
    order = np.lexsort((b, a, -bits))
    outcome = [""] * len(a)
    for k in order.tolist():
        outcome[k] = clusters.join(int(a[k]), int(b[k]), weighed is not None and weighed[k])
    labels = np.arange(size, dtype=np.int64)
    for root, members in clusters.members.items():
        labels[members] = root
    return Clustering(labels=labels, outcome=outcome, component=component)


def components(size: int, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """The connected component of each record in the graph of the pairs
    (a[k], b[k]), named by its smallest record."""
    labels = np.arange(size, dtype=np.int64)
    if not len(a):
        return labels
    while True:
        low = np.minimum(labels[a], labels[b])
        before = labels.copy()
        np.minimum.at(labels, a, low)
        np.minimum.at(labels, b, low)
        while True:  # point each record at its label's label, to the end
            jumped = labels[labels]
            if np.array_equal(jumped, labels):
                break
            labels = jumped
        if np.array_equal(labels, before):
            return labels


def recluster(
    previous: Clustering,
    kept: np.ndarray,
    size: int,
    a: np.ndarray,
    b: np.ndarray,
    bits: np.ndarray,
    *,
    weighed: np.ndarray | None = None,
    **constraints,
) -> Clustering:
    """What ``cluster`` gives for the pairs ``kept`` (a mask over the pairs
    ``previous`` clustered, given again as ``a``, ``b``, ``bits``, ``weighed``),
    with the same ``constraints``, clustering again only the connected
    components that lost a pair.

    Joins and refusals never reach beyond a component of the pairs, and the
    order of the pairs within one is the same, so every other component keeps
    its outcomes and its labels as they were."""
    kept = np.asarray(kept, dtype=bool)
    if kept.all():
        return previous
    component = previous.component
    lost = np.zeros(size, dtype=bool)
    lost[component[a[~kept]]] = True
    touched = lost[component]
    again = kept & touched[a]
    redone = cluster(
        size,
        a[again],
        b[again],
        bits[again],
        weighed=None if weighed is None else weighed[again],
        **constraints,
    )
    labels = np.where(touched, redone.labels, previous.labels)
    # A component that lost a pair may fall apart; the others stay as they were.
    component = np.where(touched, redone.component, component)
    fresh = iter(redone.outcome)
    outcome = [
        next(fresh) if redo else result
        for result, keep, redo in zip(previous.outcome, kept.tolist(), again.tolist(), strict=True)
        if keep
    ]
    return Clustering(labels=labels, outcome=outcome, component=component)
