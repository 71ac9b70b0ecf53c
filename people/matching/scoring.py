"""Scoring a pair of records with features that explain themselves.

Each feature takes a level ("family name: misspelt", "organisation:
disagrees") and each level a weight in bits, as in Fellegi and Sunter's model:
the base-2 logarithm of how much likelier the level is for two records of one
person than for two different people. The score of a pair is the sum. Exact
given and family names weigh by how common the name is: two "Smith"s say less
than two "Gyllenhaal"s. Counts also tell a slip from a name: a spelling written
once beside a common one is likely a typo of it, but two spellings each written
several times ("Stenerson", "Stenverton") are two names.

The weights are set by hand from those likelihoods rather than fitted, so that
an editor can read why a pair scored as it did; ``explain`` spells it out.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from enum import IntEnum

import numpy as np
from rapidfuzz.distance import OSA, JaroWinkler
from rapidfuzz.process import cpdist

from people.matching.context import orgs_written_alike
from people.matching.identifiers import Agreement, compare
from people.matching.nicknames import are_nicknames
from people.matching.records import PSEUDO_NAMES, TYPICAL_FAMILY, Prepared


class Family(IntEnum):
    MISSING = 0
    EXACT = 1
    PART = 2
    TYPO = 3
    PHONETIC = 4
    CLOSE = 5
    DIFFERENT = 6
    # Two family names each, the first the same, the second another
    # ("Belda Menendez", "Belda Garcia"): two people.
    SECOND_DIFFERS = 7


class Given(IntEnum):
    MISSING = 0
    EXACT = 1
    NICKNAME = 2
    INITIAL = 3
    TYPO = 4
    CLOSE = 5
    DIFFERENT = 6


class Middle(IntEnum):
    NONE = 0
    AGREE = 1
    CONFLICT = 2


class Org(IntEnum):
    NONE = 0
    AGREE = 1
    SIMILAR = 2
    DISAGREE = 3


class Field(IntEnum):
    NONE = 0
    AGREE = 1
    DISAGREE = 2


class Decision(IntEnum):
    NONE = 0
    REVIEW = 1
    AUTO = 2


@dataclass(frozen=True)
class Weights:
    """Bits for each level, and the thresholds of the decisions."""

    # Share of one person's record pairs whose family (given) names agree
    # exactly: with a name's share of all names, the bits of two exact names.
    m_family_exact: float = 0.95
    m_given_exact: float = 0.95
    family_exact_min: float = 4.0
    family_exact_max: float = 13.0
    family_part: float = 4.0
    family_typo: float = 6.0
    family_phonetic: float = 3.0
    family_close: float = 0.0
    family_different: float = -10.0
    given_exact_min: float = 2.0
    given_exact_max: float = 10.0
    given_nickname: float = 4.0
    given_initial: float = 1.5
    given_typo: float = 4.0
    given_close: float = -2.0
    given_different: float = -9.0
    middle_agree: float = 1.0
    middle_conflict: float = -4.0
    org_agree: float = 5.0
    org_similar: float = 3.0
    org_disagree: float = -4.0
    field_agree: float = 2.0
    field_disagree: float = -4.0
    swapped: float = -3.0
    # A shared date of birth: about one chance in 20,000 for two people.
    born_agree: float = 14.0
    # A shared QID, ORCID, e-mail or other external id: one person.
    identifier_agree: float = 24.0
    identifier_disagree: float = -24.0
    given_replaced: float = -2.0  # a different given name beside an agreeing identifier
    letters_together: float = 1.0
    # Other organisations (and no shared field) keep two records from being
    # merged automatically; when False they only weigh ``org_disagree``.
    org_veto: bool = True
    same_list: float = -12.0
    # Decisions: merge at ``merge_at`` bits with nothing disagreeing, queue for
    # review from ``review_at`` bits. A score is shown as a probability with
    # ``merge_at`` at 0.99. A deployment sets both with the settings
    # MATCHING_MERGE_AT and MATCHING_REVIEW_AT (``people.weights.run_weights``).
    merge_at: float = 14.0
    review_at: float = 8.0

    def as_dict(self) -> dict:
        return asdict(self)


DEFAULT_WEIGHTS = Weights()
# A family name written this many times is taken as a name in its own right, not
# as a slip, when a close spelling differs from it by two edits or more.
ESTABLISHED = 2
# Letters from which a family name two edits from another is read as a slip.
LONG_NAME = 8


@dataclass
class Scored:
    """Scored pairs of records (indexes into the prepared records)."""

    a: np.ndarray
    b: np.ndarray
    bits: np.ndarray
    name_bits: np.ndarray
    family_bits: np.ndarray
    given_bits: np.ndarray
    family: np.ndarray
    given: np.ndarray
    middle: np.ndarray
    swapped: np.ndarray
    org: np.ndarray
    field: np.ndarray
    letters: np.ndarray
    same_list: np.ndarray
    decision: np.ndarray
    identifier: np.ndarray
    scored: int = 0  # pairs scored, including those dropped below the review floor
    extra: dict = field(default_factory=dict)

    COLUMNS = (
        "a",
        "b",
        "bits",
        "name_bits",
        "family_bits",
        "given_bits",
        "family",
        "given",
        "middle",
        "swapped",
        "org",
        "field",
        "letters",
        "same_list",
        "decision",
        "identifier",
    )

    def __len__(self) -> int:
        return len(self.a)

    @property
    def conflict(self) -> np.ndarray:
        """Context that disagrees: never merged automatically."""
        return context_conflict(self.org, self.field, self.same_list)

    @property
    def strong_conflict(self) -> np.ndarray:
        """Other fields, both on one source's list, an identifier with other
        values, or one family name with different given names (Lana and Lilly
        Wachowski) unless an identifier agrees: not only other organisations."""
        return (
            (self.field == Field.DISAGREE)
            | self.same_list
            | (self.identifier == Agreement.DISAGREE)
            | (
                names_conflict(self.family, self.given, self.middle)
                & ~identified(self.identifier, self.family)
            )
        )

    def take(self, mask: np.ndarray) -> Scored:
        return Scored(
            **{name: getattr(self, name)[mask] for name in self.COLUMNS},
            scored=self.scored,
        )

    @classmethod
    def concat(cls, parts: list[Scored]) -> Scored:
        if not parts:
            return empty_scored()
        return cls(
            **{name: np.concatenate([getattr(p, name) for p in parts]) for name in cls.COLUMNS},
            scored=sum(p.scored for p in parts),
        )


def empty_scored() -> Scored:
    nothing = np.empty(0, dtype=np.int64)
    return Scored(
        a=nothing,
        b=nothing,
        bits=np.empty(0),
        name_bits=np.empty(0),
        family_bits=np.empty(0),
        given_bits=np.empty(0),
        family=nothing,
        given=nothing,
        middle=nothing,
        swapped=np.empty(0, dtype=bool),
        org=nothing,
        field=nothing,
        letters=np.empty(0, dtype=bool),
        same_list=np.empty(0, dtype=bool),
        decision=nothing,
        identifier=nothing,
    )


def _exact_bits(m: float, u: np.ndarray, low: float, high: float) -> np.ndarray:
    return np.clip(np.log2(m / u), low, high)


def _family_counts(p: Prepared, rows: np.ndarray) -> np.ndarray:
    """How many records write each name row's family name (undoing the smoothing of ``u``)."""
    total = p.frequencies.total + PSEUDO_NAMES
    return p.u_family[rows] * total - PSEUDO_NAMES * TYPICAL_FAMILY


def _name_levels(p: Prepared, ri: np.ndarray, rj: np.ndarray, w: Weights):
    """Levels and bits of the name features for pairs of name rows."""
    n = len(ri)
    ff_i, ff_j = p.family_full_c[ri], p.family_full_c[rj]
    has_family = (ff_i != 0) & (ff_j != 0)
    family = np.full(n, Family.MISSING, dtype=np.int64)
    exact = has_family & ((p.family_c[ri] == p.family_c[rj]) | (ff_i == ff_j))
    family[exact] = Family.EXACT
    tail_i, tail_j = p.tail_c[ri], p.tail_c[rj]
    first_i, first_j = p.family_first_c[ri], p.family_first_c[rj]
    last_i, last_j = p.family_last_c[ri], p.family_last_c[rj]
    part = (
        has_family
        & ~exact
        & (
            ((tail_i == ff_j) & (tail_i != 0))
            | ((tail_j == ff_i) & (tail_j != 0))
            | ((first_i == ff_j) & (first_i != 0))
            | ((last_i == ff_j) & (last_i != 0))
            | ((first_j == ff_i) & (first_j != 0))
            | ((last_j == ff_i) & (last_j != 0))
        )
    )
    family[part] = Family.PART
    rest = np.flatnonzero(has_family & ~exact & ~part)
    if len(rest):
        left, right = p.family_full[ri[rest]], p.family_full[rj[rest]]
        jw = cpdist(left, right, scorer=JaroWinkler.normalized_similarity, workers=1)
        edits = cpdist(left, right, scorer=OSA.distance, workers=1)
        shortest = np.minimum(
            np.fromiter(map(len, left), np.int64, len(rest)),
            np.fromiter(map(len, right), np.int64, len(rest)),
        )
        phonetic = p.family_meta_c[ri[rest]] == p.family_meta_c[rj[rest]]
        level = np.full(len(rest), Family.DIFFERENT, dtype=np.int64)
        level[jw >= 0.85] = Family.CLOSE
        level[phonetic] = Family.PHONETIC
        # One slip in a name of five letters or more, two in one of
        # ``LONG_NAME`` or more ("Kowalczykowa", "Kowalzcykowa").
        level[
            (jw >= 0.92)
            | ((edits <= 1) & (shortest >= 5))
            | ((edits == 2) & (shortest >= LONG_NAME))
        ] = Family.TYPO
        # Two spellings each written several times, two edits or more apart,
        # are two names ("Casssen", "Casmissen"), not one name and its slip.
        established = (
            (level == Family.TYPO)
            & (edits >= 2)
            & (_family_counts(p, ri[rest]) >= ESTABLISHED - 0.5)
            & (_family_counts(p, rj[rest]) >= ESTABLISHED - 0.5)
        )
        level[established] = np.where(phonetic[established], Family.PHONETIC, Family.CLOSE)
        family[rest] = level
    _double_family_names(p, ri, rj, family, has_family)

    g_i, g_j = p.given_c[ri], p.given_c[rj]
    has_given = (g_i != 0) & (g_j != 0)
    given = np.full(n, Given.MISSING, dtype=np.int64)
    exact_g = has_given & ((g_i == g_j) | (p.given_full_c[ri] == p.given_full_c[rj]))
    given[exact_g] = Given.EXACT
    initial = (
        has_given
        & ~exact_g
        & (p.given_is_initial[ri] | p.given_is_initial[rj])
        & (p.given_initial_c[ri] == p.given_initial_c[rj])
    )
    given[initial] = Given.INITIAL
    rest = np.flatnonzero(has_given & ~exact_g & ~initial)
    if len(rest):
        left, right = p.given[ri[rest]], p.given[rj[rest]]
        jw = cpdist(left, right, scorer=JaroWinkler.normalized_similarity, workers=1)
        level = np.full(len(rest), Given.DIFFERENT, dtype=np.int64)
        level[jw >= 0.8] = Given.CLOSE
        level[jw >= 0.9] = Given.TYPO
        short = p.given_is_initial[ri[rest]] | p.given_is_initial[rj[rest]]
        level[short] = Given.DIFFERENT
        # A nickname matters only beside a family name that agrees.
        family_agrees = np.isin(
            family[rest], [Family.EXACT, Family.PART, Family.TYPO, Family.PHONETIC]
        )
        unsure = np.flatnonzero((level != Given.TYPO) & ~short & family_agrees)
        if len(unsure):
            nick = np.fromiter(
                (are_nicknames(x, y) for x, y in zip(left[unsure], right[unsure], strict=True)),
                dtype=bool,
                count=len(unsure),
            )
            level[unsure[nick]] = Given.NICKNAME
        given[rest] = level

    # "Smith John" for "John Smith": the two names written in each other's place.
    swapped = (g_i != 0) & (ff_i != 0) & (g_i == ff_j) & (ff_i == g_j) & ~(exact & exact_g)
    family[swapped] = Family.EXACT
    given[swapped] = Given.EXACT
    u_family = np.where(swapped, np.maximum(p.u_family[ri], p.u_given[rj]), p.u_family[ri])
    u_family = np.minimum(u_family, np.where(swapped, p.u_given[ri], p.u_family[rj]))
    u_given = np.where(swapped, np.maximum(p.u_given[ri], p.u_family[rj]), p.u_given[ri])
    u_given = np.minimum(u_given, np.where(swapped, p.u_family[ri], p.u_given[rj]))

    m_i, m_j = p.middle_initial_c[ri], p.middle_initial_c[rj]
    middle = np.full(n, Middle.NONE, dtype=np.int64)
    both = (m_i != 0) & (m_j != 0)
    middle[both & (m_i == m_j)] = Middle.AGREE
    middle[both & (m_i != m_j)] = Middle.CONFLICT

    family_bits = np.select(
        [
            family == Family.EXACT,
            family == Family.PART,
            family == Family.TYPO,
            family == Family.PHONETIC,
            family == Family.CLOSE,
            (family == Family.DIFFERENT) | (family == Family.SECOND_DIFFERS),
        ],
        [
            _exact_bits(w.m_family_exact, u_family, w.family_exact_min, w.family_exact_max),
            w.family_part,
            w.family_typo,
            w.family_phonetic,
            w.family_close,
            w.family_different,
        ],
        0.0,
    )
    given_bits = np.select(
        [
            given == Given.EXACT,
            given == Given.NICKNAME,
            given == Given.INITIAL,
            given == Given.TYPO,
            given == Given.CLOSE,
            given == Given.DIFFERENT,
        ],
        [
            _exact_bits(w.m_given_exact, u_given, w.given_exact_min, w.given_exact_max),
            w.given_nickname,
            w.given_initial,
            w.given_typo,
            w.given_close,
            w.given_different,
        ],
        0.0,
    )
    middle_bits = np.select(
        [middle == Middle.AGREE, middle == Middle.CONFLICT],
        [w.middle_agree, w.middle_conflict],
        0.0,
    )
    # Names in each other's place are likelier a clerical slip than chance, but
    # less telling than names in their places.
    given_bits = np.where(swapped, given_bits + w.swapped, given_bits)
    return family_bits, given_bits, middle_bits, family, given, middle, swapped


def _double_family_names(p: Prepared, ri, rj, family: np.ndarray, has_family: np.ndarray) -> None:
    """Read a name written with two family names in one string ("Gonzalo Belda
    Menendez", read given, middle, family) also as given and two family names.

    The same words split elsewhere ("Belda Menendez, Gonzalo", "Gonzalo
    Belda-Menendez") are the same name; the first family name alone ("Gonzalo
    Belda") is one part of it, as for a hyphenated name; the same first family
    name with another second ("Gonzalo Belda Garcia") is another person.
    Only where the given names are the same, so that an English middle name
    ("John Michael Smith" against "John Robert Smith") is compared as before.
    """
    g_i, g_j = p.given_c[ri], p.given_c[rj]
    same_given = (g_i == g_j) & (g_i != 0)
    ff_i, ff_j = p.family_full_c[ri], p.family_full_c[rj]
    tail_i, tail_j = p.tail_c[ri], p.tail_c[rj]
    mid_i, mid_j = p.middle_c[ri], p.middle_c[rj]
    resplit = (
        same_given
        & (family == Family.PART)
        & (
            ((tail_i == ff_j) & (tail_i != 0) & (mid_j == 0))
            | ((tail_j == ff_i) & (tail_j != 0) & (mid_i == 0))
        )
    )
    family[resplit] = Family.EXACT
    first_i, first_j = p.first_family_c[ri], p.first_family_c[rj]
    undecided = has_family & ~np.isin(family, [Family.EXACT, Family.PART, Family.TYPO])
    dropped = (
        same_given
        & undecided
        & (
            ((first_i == ff_j) & (first_i != 0) & (mid_j == 0))
            | ((first_j == ff_i) & (first_j != 0) & (mid_i == 0))
        )
    )
    family[dropped] = Family.PART
    second_i, second_j = p.second_family_c[ri], p.second_family_c[rj]
    other = np.flatnonzero(
        undecided & ~dropped & (first_i == first_j) & (first_i != 0) & (second_i != second_j)
    )
    if len(other):
        left, right = p.second_family[ri[other]], p.second_family[rj[other]]
        jw = cpdist(left, right, scorer=JaroWinkler.normalized_similarity, workers=1)
        family[other[jw < 0.85]] = Family.SECOND_DIFFERS


def _overlap(p: Prepared, name: str, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Whether records ``a[k]`` and ``b[k]`` share a code of the matrix ``name``:
    each code of the side with fewer is looked up among the other's, so the
    cost follows the smaller sets, not the widest record (a person on forty
    letters made every pair pay for forty by forty comparisons)."""
    keys, counts, span = p.members(name)
    matrix = getattr(p, name)
    hit = np.zeros(len(a), dtype=bool)
    if not len(a) or not len(keys):
        return hit
    fewer = counts[a] <= counts[b]
    small, big = np.where(fewer, a, b), np.where(fewer, b, a)
    width = np.minimum(counts[a], counts[b])
    for column in range(int(width.max())):
        at = np.flatnonzero(width > column)
        wanted = big[at] * span + matrix[small[at], column]
        found = np.minimum(np.searchsorted(keys, wanted), len(keys) - 1)
        hit[at] |= keys[found] == wanted
    return hit


def _present(matrix: np.ndarray, index: np.ndarray) -> np.ndarray:
    return matrix[index, 0] >= 0


def _expand(p: Prepared, a: np.ndarray, b: np.ndarray):
    """Every pair of name rows of each pair of records."""
    starts, counts = p.rows_of()
    ca, cb = counts[a], counts[b]
    if (ca == 1).all() and (cb == 1).all():
        return np.arange(len(a)), starts[a], starts[b]
    sizes = ca * cb
    owner = np.repeat(np.arange(len(a)), sizes)
    within = np.arange(sizes.sum()) - np.repeat(np.cumsum(sizes) - sizes, sizes)
    ri = starts[a][owner] + within // cb[owner]
    rj = starts[b][owner] + within % cb[owner]
    return owner, ri, rj


CHUNK = 200_000


def score_pairs(
    p: Prepared,
    a: np.ndarray,
    b: np.ndarray,
    weights: Weights = DEFAULT_WEIGHTS,
    *,
    keep_all: bool = False,
    identifiers: bool = True,
) -> Scored:
    """Score record pairs and decide each: merge, review or nothing.

    Only pairs reaching the review band are kept unless ``keep_all``; strong
    identifiers are left uncompared when not ``identifiers`` (to learn the
    weights of the other levels, which they do not change).
    """
    _starts, counts = p.rows_of()
    named = (counts[a] > 0) & (counts[b] > 0)
    named_a, named_b = a[named], b[named]
    parts = [
        _score_chunk(
            p,
            named_a[start : start + CHUNK],
            named_b[start : start + CHUNK],
            weights,
            keep_all,
            identifiers,
        )
        for start in range(0, len(named_a), CHUNK)
    ]
    scored = Scored.concat(parts)
    scored.scored = len(a)
    return scored


def _score_chunk(p: Prepared, a, b, w: Weights, keep_all: bool, identifiers: bool) -> Scored:
    owner, ri, rj = _expand(p, a, b)
    # Names are compared once per pair of distinct names.
    names_i, names_j = p.row_name[ri], p.row_name[rj]
    low, high = np.minimum(names_i, names_j), np.maximum(names_i, names_j)
    codes, inverse = np.unique(low * np.int64(len(p.forms)) + high, return_inverse=True)
    first_names, second_names = codes // len(p.forms), codes % len(p.forms)
    levels = tuple(column[inverse] for column in _name_levels(p, first_names, second_names, w))
    family_bits, given_bits, middle_bits = levels[:3]
    name_bits = family_bits + given_bits + middle_bits
    if len(owner) != len(a):
        # The best-scoring pair of names stands for the two records.
        order = np.lexsort((name_bits, owner))
        last = np.ones(len(order), dtype=bool)
        last[:-1] = owner[order][1:] != owner[order][:-1]
        best = order[last]
        levels = tuple(column[best] for column in levels)
        name_bits = name_bits[best]
    family_bits, given_bits, middle_bits, family, given, middle, swapped = levels

    org = np.full(len(a), Org.NONE, dtype=np.int64)
    both = _present(p.orgs, a) & _present(p.orgs, b)
    agree = both & _overlap(p, "orgs", a, b)
    org[agree] = Org.AGREE
    org[both & ~agree] = Org.DISAGREE
    field_level = np.full(len(a), Field.NONE, dtype=np.int64)
    both = _present(p.fields, a) & _present(p.fields, b)
    agree = both & _overlap(p, "fields", a, b)
    field_level[agree] = Field.AGREE
    field_level[both & ~agree] = Field.DISAGREE
    same_list = _overlap(p, "listings", a, b)
    letters = _overlap(p, "letters", a, b) & ~same_list
    identifier = (
        _identifier_levels(p, a, b)
        if identifiers
        else np.full(len(a), Agreement.NONE, dtype=np.int64)
    )
    # Beside an agreeing identifier, a different given name is likelier a name
    # replaced or another of the person's given names than another person.
    replaced = (given == Given.DIFFERENT) & identified(identifier, family)
    if replaced.any():
        given_bits = np.where(replaced, w.given_replaced, given_bits)
        name_bits = family_bits + given_bits + middle_bits

    context_bits = (
        np.select([org == Org.AGREE, org == Org.DISAGREE], [w.org_agree, w.org_disagree], 0.0)
        + np.select(
            [field_level == Field.AGREE, field_level == Field.DISAGREE],
            [w.field_agree, w.field_disagree],
            0.0,
        )
        + np.where(letters, w.letters_together, 0.0)
        + np.where(same_list, w.same_list, 0.0)
        + identifier_bits(identifier, w)
    )
    total = name_bits + context_bits
    # Organisations written differently ("Univ. of Oxford", "Oxford University
    # Press") are compared as text only where that could change the decision.
    check = np.flatnonzero(
        (org == Org.DISAGREE) & (total - w.org_disagree + w.org_similar >= w.review_at)
    )
    for index in check:
        left, right = p.org_texts[a[index]], p.org_texts[b[index]]
        if orgs_written_alike(left, right):
            org[index] = Org.SIMILAR
            total[index] += w.org_similar - w.org_disagree

    decision = decide(
        total, family, given, swapped, org, field_level, same_list, w, middle, identifier
    )
    # Namesakes whose context disagrees are always shown to an editor, unless an
    # identifier tells them apart.
    namesakes = (
        (family == Family.EXACT)
        & (given == Given.EXACT)
        & ~same_list
        & (identifier != Agreement.DISAGREE)
        & (total >= w.review_at - 8)
    )
    decision[namesakes & (decision == Decision.NONE)] = Decision.REVIEW
    conflict = context_conflict(org, field_level, same_list)
    # Pairs whose names agree but whose context does not are kept too: they
    # keep clusters apart even when they score too low to review.
    keep = (
        slice(None)
        if keep_all
        else (decision != Decision.NONE)
        | (conflict & (name_bits >= w.review_at))
        | names_conflict(family, given, middle)
        | (identifier == Agreement.DISAGREE)
    )
    return Scored(
        a=a[keep],
        b=b[keep],
        bits=total[keep],
        name_bits=name_bits[keep],
        family_bits=family_bits[keep],
        given_bits=given_bits[keep],
        family=family[keep],
        given=given[keep],
        middle=middle[keep],
        swapped=swapped[keep],
        org=org[keep],
        field=field_level[keep],
        letters=letters[keep],
        same_list=same_list[keep],
        decision=decision[keep],
        identifier=identifier[keep],
        scored=len(a),
    )


def _identifier_levels(p: Prepared, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """How the strong identifiers of each pair compare (most records carry none)."""
    level = np.full(len(a), Agreement.NONE, dtype=np.int64)
    texts = p.identifier_texts
    for k in np.flatnonzero(p.has_identifiers[a] & p.has_identifiers[b]).tolist():
        level[k] = compare(texts[a[k]], texts[b[k]])
    return level


def identifier_bits(identifier: np.ndarray, w: Weights) -> np.ndarray:
    return np.select(
        [
            identifier == Agreement.BORN,
            identifier == Agreement.AGREE,
            identifier == Agreement.DISAGREE,
        ],
        [w.born_agree, w.identifier_agree, w.identifier_disagree],
        0.0,
    )


# Family name levels beside which an agreeing identifier outweighs a different given name.
_FAMILY_NEAR = (Family.EXACT, Family.PART, Family.TYPO, Family.PHONETIC, Family.CLOSE)


def identified(identifier: np.ndarray, family: np.ndarray) -> np.ndarray:
    """An identifier of one person only (a QID, an ORCID, an e-mail) agrees
    beside a family name that agrees or is close: the given or middle names may
    differ (a name replaced, a second given name used). A date of birth is not
    one person's: twins share it with their family name, so with other given
    names it weighs as evidence and the pair goes to an editor."""
    return np.isin(family, _FAMILY_NEAR) & (identifier == Agreement.AGREE)


def names_conflict(
    family: np.ndarray, given: np.ndarray, middle: np.ndarray | None = None
) -> np.ndarray:
    """One family name, two different given names, or two different middle
    initials ("Tom C. Gylarford", "Tom E. Gylarford"), or one first family name
    and two different second ones: two people, whoever else ("L. Wachowski",
    "Tom Gylarford", "Gonzalo Belda") might link them."""
    family_agrees = np.isin(family, [Family.EXACT, Family.TYPO, Family.PART])
    conflict = given == Given.DIFFERENT
    if middle is not None:
        conflict = conflict | (middle == Middle.CONFLICT)
    return (family_agrees & conflict) | (family == Family.SECOND_DIFFERS)


def context_conflict(org, field_level, same_list, org_veto: bool = True) -> np.ndarray:
    """Context that disagrees: other fields, or other organisations without a
    shared field (an actor at two studios still agrees on the field) unless
    organisations are only evidence (``Weights.org_veto``), or both listed by
    one source for one letter."""
    conflict = (field_level == Field.DISAGREE) | same_list
    if org_veto:
        conflict = conflict | ((org == Org.DISAGREE) & (field_level != Field.AGREE))
    return conflict


def decide(
    total,
    family,
    given,
    swapped,
    org,
    field_level,
    same_list,
    w: Weights,
    middle=None,
    identifier=None,
) -> np.ndarray:
    """Merge only a high score whose names agree and whose context does not
    disagree; a nickname, an initial or one part of a family name ("Dominich"
    for "Dominich-Valkassen", often a relative) needs agreeing context as well;
    other middle initials never merge automatically. An agreeing identifier
    beside a close family name stands for agreeing names (``identified``); an
    identifier with other values never merges."""
    conflict = context_conflict(org, field_level, same_list, w.org_veto)
    if identifier is None:
        identifier = np.zeros(len(total), dtype=np.int64)
    # An agreeing date of birth or identifier supports a nickname or an initial
    # as agreeing context does; alone it never joins two given names.
    supported = (
        (org == Org.AGREE)
        | (org == Org.SIMILAR)
        | (field_level == Field.AGREE)
        | np.isin(identifier, [Agreement.BORN, Agreement.AGREE])
    )
    family_agrees = np.isin(family, [Family.EXACT, Family.PART, Family.TYPO])
    strong_names = (
        np.isin(family, [Family.EXACT, Family.TYPO]) & np.isin(given, [Given.EXACT, Given.TYPO])
    ) | swapped
    weak_names = (
        (family_agrees | (family == Family.PHONETIC))
        & np.isin(given, [Given.EXACT, Given.TYPO, Given.NICKNAME, Given.INITIAL, Given.MISSING])
        & supported
    )
    if middle is None:
        middle = np.zeros(len(total), dtype=np.int64)
    by_identifier = identified(identifier, family)
    auto = (total >= w.merge_at) & ~conflict & (strong_names | weak_names | by_identifier)
    auto &= (middle != Middle.CONFLICT) | by_identifier
    auto &= identifier != Agreement.DISAGREE
    decision = np.full(len(total), Decision.NONE, dtype=np.int64)
    decision[total >= w.review_at] = Decision.REVIEW
    decision[auto] = Decision.AUTO
    return decision


_LOG2_99 = math.log2(99.0)


def probability(bits: float | np.ndarray, w: Weights = DEFAULT_WEIGHTS):
    """The score as a probability, 0.99 at the merge threshold."""
    return 1.0 / (1.0 + np.exp2(-(np.asarray(bits) - w.merge_at + np.log2(99.0))))


_AGREEING = {
    "family name": {Family.EXACT, Family.PART, Family.TYPO, Family.PHONETIC},
    "given name": {Given.EXACT, Given.NICKNAME, Given.INITIAL, Given.TYPO},
    "middle name": {Middle.AGREE},
    "organisation": {Org.AGREE, Org.SIMILAR},
    "field": {Field.AGREE},
    "identifier": {Agreement.BORN, Agreement.AGREE},
}


def explain(scored: Scored, index: int, w: Weights = DEFAULT_WEIGHTS) -> dict:
    """What agreed, what disagreed, and the weight of each, for one pair."""
    org = Org(int(scored.org[index]))
    field_level = Field(int(scored.field[index]))
    middle = Middle(int(scored.middle[index]))
    identifier = Agreement(int(scored.identifier[index]))
    features = [
        ("family name", Family(int(scored.family[index])), float(scored.family_bits[index])),
        ("given name", Given(int(scored.given[index])), float(scored.given_bits[index])),
        (
            "middle name",
            middle,
            {Middle.AGREE: w.middle_agree, Middle.CONFLICT: w.middle_conflict}.get(middle, 0.0),
        ),
        (
            "organisation",
            org,
            {Org.AGREE: w.org_agree, Org.SIMILAR: w.org_similar, Org.DISAGREE: w.org_disagree}.get(
                org, 0.0
            ),
        ),
        (
            "field",
            field_level,
            {Field.AGREE: w.field_agree, Field.DISAGREE: w.field_disagree}.get(field_level, 0.0),
        ),
        (
            "identifier",
            identifier,
            {
                Agreement.BORN: w.born_agree,
                Agreement.AGREE: w.identifier_agree,
                Agreement.DISAGREE: w.identifier_disagree,
            }.get(identifier, 0.0),
        ),
    ]
    agreed, disagreed = [], []
    for name, level, bits in features:
        if level == 0:
            continue
        item = {"feature": name, "level": level.name.lower(), "weight": round(bits, 2)}
        (agreed if level in _AGREEING[name] else disagreed).append(item)
    if scored.swapped[index]:
        agreed.append({"feature": "name order", "level": "swapped", "weight": 0.0})
    if scored.letters[index]:
        agreed.append(
            {"feature": "letters", "level": "signed together", "weight": w.letters_together}
        )
    if scored.same_list[index]:
        disagreed.append(
            {"feature": "sources", "level": "both on one source's list", "weight": w.same_list}
        )
    bits = float(scored.bits[index])
    return {
        "bits": round(bits, 2),
        # probability(), without numpy for one number (explain runs once a pair kept).
        "probability": round(1.0 / (1.0 + 2.0 ** -(bits - w.merge_at + _LOG2_99)), 4),
        "agreed": agreed,
        "disagreed": disagreed,
        "thresholds": {"merge": w.merge_at, "review": w.review_at},
    }


def explain_many(
    scored: Scored, indexes: Sequence[int], w: Weights = DEFAULT_WEIGHTS
) -> list[dict]:
    """``explain`` of many pairs at once, the same dicts: the columns read once
    as Python values, each level's name and side looked up once (a run
    explains tens of thousands of pairs)."""
    at = np.asarray(indexes, dtype=np.int64)
    column = {name: getattr(scored, name)[at].tolist() for name in _EXPLAINED}
    set_weight = {
        "middle name": {Middle.AGREE: w.middle_agree, Middle.CONFLICT: w.middle_conflict},
        "organisation": {
            Org.AGREE: w.org_agree,
            Org.SIMILAR: w.org_similar,
            Org.DISAGREE: w.org_disagree,
        },
        "field": {Field.AGREE: w.field_agree, Field.DISAGREE: w.field_disagree},
        "identifier": {
            Agreement.BORN: w.born_agree,
            Agreement.AGREE: w.identifier_agree,
            Agreement.DISAGREE: w.identifier_disagree,
        },
    }
    # Per feature and level: (name, agrees, the set weight rounded or None for the pair's bits).
    levels = {
        feature: {
            int(level): (
                level.name.lower(),
                level in _AGREEING[feature],
                round(set_weight[feature].get(level, 0.0), 2) if feature in set_weight else None,
            )
            for level in kind
            if level != 0
        }
        for feature, kind, _column, _bits in _FEATURES
    }
    thresholds = {"merge": w.merge_at, "review": w.review_at}
    explained = []
    for k in range(len(at)):
        agreed, disagreed = [], []
        for feature, _kind, name, bits_name in _FEATURES:
            level = column[name][k]
            if level == 0:
                continue
            label, agrees, weight = levels[feature][level]
            if weight is None:
                weight = round(column[bits_name][k], 2)
            item = {"feature": feature, "level": label, "weight": weight}
            (agreed if agrees else disagreed).append(item)
        if column["swapped"][k]:
            agreed.append({"feature": "name order", "level": "swapped", "weight": 0.0})
        if column["letters"][k]:
            agreed.append(
                {"feature": "letters", "level": "signed together", "weight": w.letters_together}
            )
        if column["same_list"][k]:
            disagreed.append(
                {"feature": "sources", "level": "both on one source's list", "weight": w.same_list}
            )
        bits = column["bits"][k]
        explained.append(
            {
                "bits": round(bits, 2),
                "probability": round(1.0 / (1.0 + 2.0 ** -(bits - w.merge_at + _LOG2_99)), 4),
                "agreed": agreed,
                "disagreed": disagreed,
                "thresholds": dict(thresholds),
            }
        )
    return explained


# The features ``explain`` names, in its order: (name, levels, column, column of its bits).
_FEATURES = (
    ("family name", Family, "family", "family_bits"),
    ("given name", Given, "given", "given_bits"),
    ("middle name", Middle, "middle", None),
    ("organisation", Org, "org", None),
    ("field", Field, "field", None),
    ("identifier", Agreement, "identifier", None),
)
_EXPLAINED = (
    *(column for _f, _k, column, _b in _FEATURES),
    "family_bits",
    "given_bits",
    "swapped",
    "letters",
    "same_list",
    "bits",
)
