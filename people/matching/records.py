"""The matcher's input: plain records in memory, and their prepared arrays.

A ``Record`` is one person (or one entry of a list, in a benchmark) with every
name written for it and its context. The matcher knows nothing of the
database: ``people.matching.jobs`` loads records from it and applies the
decisions through the services.
"""

from __future__ import annotations

import gc
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import jellyfish
import numpy as np

from people.matching.context import org_key, title_fields
from people.matching.identifiers import identifiers
from people.matching.normalize import NameForm, name_form

if TYPE_CHECKING:
    from people.matching.index import NameIndex

PSEUDO_NAMES = 1000
TYPICAL_GIVEN = 0.004
TYPICAL_FAMILY = 0.0005


@dataclass(frozen=True, slots=True)
class Record:
    id: int
    names: tuple[str | NameForm, ...]
    orgs: tuple[str, ...] = ()  # organisations and stated affiliations, as written
    titles: tuple[str, ...] = ()  # stated titles or roles, as written
    letters: tuple[int, ...] = ()  # letters signed
    listings: tuple[int, ...] = ()  # source lists naming this record (one source of one letter)
    # Strong identifiers as written: (key, value) pairs, read by ``identifiers``.
    identifiers: tuple[tuple[str, object], ...] = ()


@dataclass
class Frequencies:
    """How often each given and family name occurs, for term-frequency weights.

    A run computes them once over everyone so that a pair scores the same
    whichever block it is scored in.
    """

    given: Counter = field(default_factory=Counter)
    family: Counter = field(default_factory=Counter)
    total: int = 0

    @classmethod
    def of(cls, forms: Iterable[NameForm]) -> Frequencies:
        given: Counter = Counter()
        family: Counter = Counter()
        total = 0
        for form in forms:
            total += 1
            if form.given and len(form.given) > 1:
                given[form.given] += 1
            if form.family:
                family[form.family] += 1
        return cls(given=given, family=family, total=total)

    def restricted(self, forms: Iterable[NameForm]) -> dict:
        """The counts a block needs, as JSON."""
        givens = {f.given for f in forms if f.given in self.given}
        families = {f.family for f in forms if f.family in self.family}
        return {
            "given": {name: self.given[name] for name in givens},
            "family": {name: self.family[name] for name in families},
            "total": self.total,
        }

    @classmethod
    def from_json(cls, data: dict) -> Frequencies:
        return cls(Counter(data["given"]), Counter(data["family"]), data["total"])


@contextmanager
def collection_paused() -> Iterator[None]:
    """No cyclic garbage collection while a run builds its arrays from a million
    small objects: they hold no cycles, and every full collection would walk
    them all again (and every name an index keeps)."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


class Vocabulary:
    """Strings as small integers, 0 for the empty string."""

    def __init__(self) -> None:
        self.codes: dict[str, int] = {"": 0}

    def encode(self, values: Iterable[str]) -> np.ndarray:
        values = values if isinstance(values, list) else list(values)
        codes = self.codes
        # New values numbered in the order first seen, each distinct one once;
        # then every value looked up without a Python call per value.
        for value in dict.fromkeys(values):
            if value not in codes:
                codes[value] = len(codes)
        return np.fromiter(map(codes.__getitem__, values), dtype=np.int64, count=len(values))


def _padded(sets: Sequence[Iterable], vocabulary: Vocabulary) -> np.ndarray:
    """Sets of values as a matrix of codes, one row per record, -1 for padding."""
    codes = vocabulary.codes
    setdefault = codes.setdefault
    width = max((len(s) for s in sets), default=0)
    matrix = np.full((len(sets), max(width, 1)), -1, dtype=np.int64)
    if width <= 1:
        matrix[:, 0] = np.fromiter(
            (setdefault(next(iter(s)), len(codes)) if s else -1 for s in sets),
            dtype=np.int64,
            count=len(sets),
        )
        return matrix
    for index, values in enumerate(sets):
        if values:
            row = sorted({setdefault(v, len(codes)) for v in values})
            matrix[index, : len(row)] = row
    return matrix


class Prepared:
    """Records as arrays: distinct names, rows (a record's name), and context.

    Names are compared once per pair of distinct names, however many records
    carry them: a million entries hold far fewer distinct spellings. With an
    ``index``, written names are read from it (and those it lacks are added to
    it) instead of being parsed, sounded and keyed again. With ``scoring`` off,
    only what blocking needs: no codes or frequencies of the names to score by.
    """

    def __init__(
        self,
        records: Sequence[Record],
        *,
        frequencies: Frequencies | None = None,
        index: NameIndex | None = None,
        scoring: bool = True,
    ) -> None:
        self.records = records
        self.ids = np.fromiter((r.id for r in records), dtype=np.int64, count=len(records))
        name_index: dict[str, int] = {}
        forms: list[NameForm] = []
        row_record: list[int] = []
        row_name: list[int] = []
        row_forms: list[NameForm] = []
        kept: list = []  # per distinct name, its entry in the index (or None)
        lookup = index.get if index is not None else None
        # Each written name read once: its distinct name (-1 for none) and form.
        read: dict[str, tuple[int, NameForm]] = {}
        for position, record in enumerate(records):
            seen: set[int] = set()
            for name in record.names:
                known = read.get(name) if isinstance(name, str) else None
                if known is None:
                    entry = None
                    if isinstance(name, NameForm):
                        form = name
                    elif lookup is not None:
                        entry = lookup(name)
                        form = entry.form
                    else:
                        form = name_form(name)
                    number = -1
                    if form.given or form.family:
                        key = form.key
                        number = name_index.get(key, -1)
                        if number < 0:
                            number = name_index[key] = len(forms)
                            forms.append(form)
                            kept.append(entry)
                    if isinstance(name, str):
                        read[name] = (number, form)
                else:
                    number, form = known
                if number < 0 or number in seen:
                    continue
                seen.add(number)
                row_record.append(position)
                row_name.append(number)
                row_forms.append(form)
        del read
        self.forms = forms
        # The blocking keys the index keeps, per distinct name (None: key it).
        self.name_keys = (
            [e.keys if e is not None else None for e in kept] if index is not None else None
        )
        self.row_record = np.asarray(row_record, dtype=np.int64)
        self.row_name = np.asarray(row_name, dtype=np.int64)
        self.frequencies = frequencies or Frequencies.of(row_forms)

        phonetic = [
            (e.given_meta, e.family_meta) if e is not None else _metaphone_pair(f)
            for f, e in zip(forms, kept, strict=True)
        ]
        self.family_meta = np.asarray([p[1] for p in phonetic], dtype=object)
        self.given_meta = np.asarray([p[0] for p in phonetic], dtype=object)
        self._context(records)
        if scoring:
            self._scoring(forms)

    def _scoring(self, forms: list[NameForm]) -> None:
        """The codes and frequencies pairs are scored by (not needed to block)."""
        names = Vocabulary()
        self.vocabulary = names
        self.given = np.asarray([f.given for f in forms], dtype=object)
        self.family_full = np.asarray([f.family_full for f in forms], dtype=object)
        self.given_c = names.encode(self.given)
        self.given_full_c = names.encode(f.given + f.middle.replace(" ", "") for f in forms)
        self.family_c = names.encode(f.family for f in forms)
        self.family_full_c = names.encode(self.family_full)
        self.tail_c = names.encode(f.tail for f in forms)
        self.middle_initial_c = names.encode(f.middle[:1] for f in forms)
        self.family_first_c = names.encode(f.family_parts.split(" ")[0] for f in forms)
        self.family_last_c = names.encode(f.family_parts.rpartition(" ")[2] for f in forms)
        self.given_initial_c = names.encode(f.given[:1] for f in forms)
        # Two family names read from one string: the pieces of a double family
        # name ("Belda-Menendez", "Belda Menendez, Gonzalo"), or, when one given
        # and one middle name precede it, the middle name and the family name
        # ("Gonzalo Belda Menendez"). Empty when the name offers neither.
        double = [_two_family_names(f) for f in forms]
        self.first_family_c = names.encode(d[0] for d in double)
        self.second_family_c = names.encode(d[1] for d in double)
        self.second_family = np.asarray([d[1] for d in double], dtype=object)
        self.middle_c = names.encode(f.middle for f in forms)
        self.given_is_initial = np.fromiter((len(f.given) == 1 for f in forms), dtype=bool)
        self.family_meta_c = names.encode(self.family_meta)
        # How likely two different people share the name, smoothed towards a
        # typical frequency so that a small database does not make every name rare.
        total = self.frequencies.total + PSEUDO_NAMES
        given_counts, family_counts = self.frequencies.given, self.frequencies.family
        self.u_given = np.fromiter(
            ((given_counts.get(f.given, 1) + PSEUDO_NAMES * TYPICAL_GIVEN) / total for f in forms),
            dtype=np.float64,
        )
        self.u_family = np.fromiter(
            (
                (family_counts.get(f.family, 1) + PSEUDO_NAMES * TYPICAL_FAMILY) / total
                for f in forms
            ),
            dtype=np.float64,
        )

    def _context(self, records: Sequence[Record]) -> None:
        context = Vocabulary()
        self.org_texts = [
            tuple(sorted({org_key(o) for o in r.orgs} - {""})) if r.orgs else () for r in records
        ]
        self.orgs = _padded(self.org_texts, context)
        # The fields each record's titles name, as texts, for the clustering too.
        self.field_texts = [
            frozenset().union(*(title_fields(t) for t in r.titles)) if r.titles else frozenset()
            for r in records
        ]
        self.fields = _padded(self.field_texts, context)
        # Strong identifiers, "key=value", per record (for the clustering too).
        self.identifier_texts = [
            identifiers(r.identifiers) if r.identifiers else frozenset() for r in records
        ]
        self.has_identifiers = np.fromiter(
            (bool(t) for t in self.identifier_texts), dtype=bool, count=len(records)
        )
        numbers = Vocabulary()
        self.letters = _padded([r.letters for r in records], numbers)
        self.listings = _padded([[-1 - x for x in r.listings] for r in records], numbers)
        # One code per distinct context, to keep a name's records with the
        # same organisation and field side by side.
        self.context_c = np.unique(
            np.concatenate([self.orgs, self.fields], axis=1), axis=0, return_inverse=True
        )[1].reshape(-1)

    def __len__(self) -> int:
        return len(self.records)

    def members(self, name: str) -> tuple[np.ndarray, np.ndarray, int]:
        """The codes of a padded matrix (``"orgs"``, ``"letters"``...) as one
        sorted array of ``record * span + code``, each record's count of codes,
        and ``span``: to ask whether a record holds a code by binary search,
        whatever the widest record (made once per matrix)."""
        cache = self.__dict__.setdefault("_members", {})
        if name not in cache:
            matrix = getattr(self, name)
            present = matrix >= 0
            span = int(matrix.max(initial=0)) + 1
            rows, columns = np.nonzero(present)
            keys = np.sort(rows.astype(np.int64) * span + matrix[rows, columns])
            cache[name] = (keys, present.sum(axis=1), span)
        return cache[name]

    def rows_of(self) -> tuple[np.ndarray, np.ndarray]:
        """Where each record's rows start, and how many it has."""
        counts = np.bincount(self.row_record, minlength=len(self.records))
        starts = np.concatenate(([0], np.cumsum(counts)[:-1]))
        return starts, counts


def _two_family_names(form: NameForm) -> tuple[str, str]:
    parts = form.family_parts.split()
    if len(parts) == 2:
        return parts[0], parts[1]
    one_middle = len(form.middle) > 1 and " " not in form.middle
    if not parts and form.given and one_middle and len(form.family) > 1:
        return form.middle, form.family
    return "", ""


_metaphone_cache: dict[str, str] = {}


def _metaphone(text: str) -> str:
    code = _metaphone_cache.get(text)
    if code is None:
        code = jellyfish.metaphone(text) if text else ""
        if len(_metaphone_cache) < 2_000_000:
            _metaphone_cache[text] = code
    return code


def _metaphone_pair(form: NameForm) -> tuple[str, str]:
    return _metaphone(form.given), _metaphone(form.family_full)
