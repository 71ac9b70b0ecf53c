"""Blocking: which records are compared at all.

Each name gets a few keys; records sharing a key are compared. A key shared
by more than ``window`` names (a common family name) is sorted by the rest of
the name and each name is compared with its ``window`` neighbours only, so the
work grows with the number of names times the window, never quadratically.

The keys, each catching what the others miss:
- ``phonetic``: the family name's metaphone and the first given initial
  ("Gylenhall" and "Gyllenhaal" sound alike);
- ``given``: the given name, or a full name it is short for ("Bob" under
  "robert"), with the family name's first letter (a misspelt family name),
  and with a single middle name's, which may be a first family name;
- ``family``: the whole family name, or middle and family names run together
  ("Lillie Hinrichs" and "Lillie-Hinrichs"), whatever the given name;
- ``swapped``: the two names' sounds in either order ("Smith John").
- ``given_alone``: the given name whatever the family name, for a family name
  replaced (a marriage) or missing, and a single name, which may be a given name;
- ``family_sound``: the family name's metaphone whatever the given name, for a
  given name replaced or missing beside a misspelt family name.

These last two keys have a small block's names all compared (at most
``WHOLE_BLOCK``), and a bigger one's with their window only; two names they
bring together are compared through one pair of records, as the names'
other records are compared with those of their own name.

Records sharing a strong identifier (a date of birth, a QID, an e-mail) are
compared whatever their names.
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import chain

import numpy as np

from people.matching.nicknames import blocking_names
from people.matching.normalize import NameForm
from people.matching.records import Prepared, Vocabulary

KEYS = ("phonetic", "given", "family", "prefix", "swapped", "given_alone", "family_sound")
_KEY_MARKS = {
    "phonetic": "p",
    "given": "g",
    "family": "f",
    "prefix": "x",
    "swapped": "s",
    "given_alone": "n",
    "family_sound": "m",
}
DEFAULT_WINDOW = 8
WHOLE_BLOCK = 32
# The keys that catch a replaced name part: every name of a small block, one pair
# per pair of names.
WHOLE_KEYS = (_KEY_MARKS["given_alone"], _KEY_MARKS["family_sound"])
SAME_NAME_WINDOW = 6
PAIRS_PER_NAME_PAIR = 4


@dataclass
class Candidates:
    """Candidate pairs of records (indexes into the prepared records, a < b) and
    the key group that proposed each, which decides its block."""

    a: np.ndarray
    b: np.ndarray
    group: np.ndarray

    def __len__(self) -> int:
        return len(self.a)

    def take(self, mask: np.ndarray) -> Candidates:
        return Candidates(self.a[mask], self.b[mask], self.group[mask])


def name_keys(form: NameForm, given_meta: str, family_meta: str) -> tuple[tuple[str, str], ...]:
    """The blocking keys of one name under every key of ``KEYS``, each with the
    text that orders the key's names."""
    given, family = form.given, form.family_full
    rows: list[tuple[str, str]] = []
    if family_meta:
        rows.append((f"p|{family_meta}|{given[:1]}", given + " " + family))
    # The first of two family names in one string ("Gonzalo Belda Menendez"),
    # for the name written with it alone ("Gonzalo Belda").
    first_family = form.middle if len(form.middle) > 1 and " " not in form.middle else ""
    if len(given) > 1 and family:
        for name in blocking_names(given):
            for initial in sorted({family[:1], first_family[:1]} - {""}):
                rows.append((f"g|{name}|{initial}", family))
    if family:
        for value in sorted({family, form.tail} - {""}):
            rows.append((f"f|{value}", given + " " + form.middle))
    if len(given) > 1 and len(family) > 1:
        first, second = sorted((given[:2], family[:2]))
        rows.append((f"x|{first}|{second}", given + family))
    if given_meta and family_meta and len(given) > 1:
        first, second = sorted((given_meta, family_meta))
        rows.append((f"s|{first}|{second}", given + family))
    # A single name ("Christopher") may be the given name of a full one.
    alone = given if len(given) > 1 else family if not given else ""
    if alone:
        rows.append((f"n|{alone}", family if given else ""))
    if family_meta:
        rows.append((f"m|{family_meta}", given))
    return tuple(rows)


def _key_rows(prepared: Prepared, keys: tuple[str, ...]) -> tuple[list[str], list[int], list[str]]:
    """Blocking keys of each distinct name, with the text that orders a key's names.

    Names read through a ``NameIndex`` bring the keys it keeps; the others are
    keyed here."""
    wanted = {_KEY_MARKS[key] for key in keys}
    every = wanted >= set(_KEY_MARKS.values())
    kept = prepared.name_keys
    given_meta, family_meta = prepared.given_meta, prepared.family_meta
    per_name = [
        rows
        if (rows := kept[number] if kept is not None else None) is not None
        else name_keys(form, given_meta[number], family_meta[number])
        for number, form in enumerate(prepared.forms)
    ]
    if every:
        # Every key of every name, flattened in C: the same rows in the same order.
        flat = list(chain.from_iterable(per_name))
        counts = np.fromiter(map(len, per_name), dtype=np.int64, count=len(per_name))
        names = np.repeat(np.arange(len(per_name), dtype=np.int64), counts).tolist()
        return [text for text, _ in flat], names, [order for _, order in flat]
    texts: list[str] = []
    names = []
    secondary: list[str] = []
    for number, rows in enumerate(per_name):
        for text, order in rows:
            if text[0] in wanted:
                texts.append(text)
                names.append(number)
                secondary.append(order)
    return texts, names, secondary


def _windows(
    keys: np.ndarray,
    values: np.ndarray,
    window: int,
    whole: int = 0,
    wholeable: np.ndarray | None = None,
):
    """Pairs of values at most ``window`` apart among equal, sorted keys; every
    pair in a key of at most ``whole`` values (of the keys ``wholeable`` marks)."""
    firsts, seconds, groups = [], [], []
    small = np.zeros(len(keys), dtype=bool)
    if whole > window + 1 and len(keys):
        starts = np.flatnonzero(np.concatenate(([True], keys[1:] != keys[:-1])))
        sizes = np.diff(np.append(starts, len(keys)))
        small = np.repeat(sizes <= whole, sizes)
        if wholeable is not None:
            small &= wholeable
    for distance in range(1, max(window, whole - 1) + 1):
        same = keys[:-distance] == keys[distance:]
        if distance > window:
            same &= small[distance:]
        if not same.any():
            break
        firsts.append(values[:-distance][same])
        seconds.append(values[distance:][same])
        groups.append(keys[:-distance][same])
    if not firsts:
        nothing = np.empty(0, dtype=np.int64)
        return nothing, nothing, nothing
    return np.concatenate(firsts), np.concatenate(seconds), np.concatenate(groups)


def candidate_pairs(
    prepared: Prepared,
    *,
    focus: np.ndarray | None = None,
    window: int = DEFAULT_WINDOW,
    whole_block: int = WHOLE_BLOCK,
    same_name_window: int = SAME_NAME_WINDOW,
    keys: tuple[str, ...] = KEYS,
    cap: int = PAIRS_PER_NAME_PAIR,
    unfiltered: bool = False,
    narrow: bool = True,
) -> Candidates:
    """Pairs of records sharing a blocking key.

    Records written with the same name are compared with their neighbours once
    sorted by context, so those sharing an organisation and field sit together.
    Between two different names, one record per distinct context of each name
    stands for the rest (at most ``cap`` pairs per pair of names).

    With ``focus`` (a boolean per record), only pairs touching a focused record
    and pairs among the records those touch: an incremental run then sees every
    pair a full run would weigh when clustering the new records. ``unfiltered``
    returns every pair among the focused records' names and the names compared
    with them (focused records still stand for their names), for a caller that
    narrows them itself. ``narrow=False`` blocks every name even with
    ``focus``: slower, and the same pairs.
    """
    n_records = len(prepared)
    n_names = len(prepared.forms)
    empty = Candidates(np.empty(0, np.int64), np.empty(0, np.int64), np.empty(0, np.int64))
    if not len(prepared.row_record):
        return empty
    row_record, row_name = prepared.row_record, prepared.row_name

    # Which names are compared with which: neighbours under each blocking key.
    texts, key_names, secondary = _key_rows(prepared, keys)
    windows = [np.empty(0, np.int64)] * 3
    one_pair = np.zeros(0, dtype=bool)
    if key_names:
        key_codes, distinct = _first_seen_codes(texts)
        key_names_arr = np.asarray(key_names, dtype=np.int64)
        # Whether a key's names are all compared, per distinct key (code 0 is none).
        one_pair = np.fromiter(
            (False, *(text[0] in WHOLE_KEYS for text in distinct)),
            dtype=bool,
            count=len(distinct) + 1,
        )
        del distinct
        wholeable = one_pair[key_codes]
        secondary_sortable = _sortable(secondary)
    keyed = bool(key_names)
    # The keys as text are not needed past here (at a million records, most
    # of a gigabyte of strings).
    del texts, key_names, secondary
    if keyed:

        def neighbours(names: np.ndarray | None) -> list[np.ndarray]:
            """The window pairs of every key, or, given a mask of names, of the
            keys those names have: each such key with all its names, sorted as
            among every key, so its pairs are those blocking every key finds."""
            if names is None:
                chosen = np.arange(len(key_codes))
            else:
                keys_of = np.zeros(len(one_pair), dtype=bool)
                keys_of[key_codes[names[key_names_arr]]] = True
                chosen = np.flatnonzero(keys_of[key_codes])
            codes = key_codes[chosen]
            order = chosen[np.lexsort((key_names_arr[chosen], secondary_sortable(chosen), codes))]
            return list(
                _windows(
                    key_codes[order], key_names_arr[order], window, whole_block, wholeable[order]
                )
            )

    if focus is not None and narrow:
        # A pair touching a focused record is between a focused record's name and
        # that name or one compared with it; a pair between two records such
        # pairs reach is between any names of those records. Pairs between other
        # names are never built, and only the keys of the names involved sorted.
        involved = np.zeros(n_names, dtype=bool)
        involved[row_name[focus[row_record]]] = True
        if keyed:
            windows = neighbours(involved)
        touching = involved[windows[0]] | involved[windows[1]]
        involved[windows[0][touching]] = True
        involved[windows[1][touching]] = True
        reachable = np.zeros(n_records, dtype=bool)
        reachable[row_record[involved[row_name]]] = True
        involved[row_name[reachable[row_record]]] = True
        if keyed:
            windows = neighbours(involved)
        windows = [part[involved[windows[0]] & involved[windows[1]]] for part in windows]
        rows = involved[row_name]
        row_record, row_name = row_record[rows], row_name[rows]
    elif keyed:
        windows = neighbours(None)

    context = prepared.context_c[row_record]
    unfocused = (
        np.zeros(len(row_record), dtype=np.int64)
        if focus is None
        else (~focus[row_record]).astype(np.int64)
    )
    order = np.lexsort((row_record, unfocused, context, row_name))
    sorted_names, sorted_records = row_name[order], row_record[order]
    sorted_context = context[order]
    starts = np.ones(len(order), dtype=bool)
    starts[1:] = (sorted_names[1:] != sorted_names[:-1]) | (
        sorted_context[1:] != sorted_context[:-1]
    )
    # Records with the same name and context are each compared with the first of
    # them (a focused one if any), enough to join them, and with their next
    # neighbours: a record that could be either of two such records kept apart
    # (two entries of one list) is then seen to be ambiguous. Linear however many.
    first_of_run = np.maximum.accumulate(np.where(starts, np.arange(len(order)), 0))
    star = ~starts
    run_of = np.cumsum(starts) - 1
    near_a, near_b, near_run = _windows(run_of, sorted_records, same_name_window)
    chain_a = np.concatenate([sorted_records[first_of_run[star]], near_a])
    chain_b = np.concatenate([sorted_records[star], near_b])
    chain_group = np.concatenate([sorted_names[star], sorted_names[starts][near_run]])

    # One representative per name and context, focused records first; the
    # representatives of one name are compared with their neighbours.
    rep_names, rep_records = sorted_names[starts], sorted_records[starts]
    same_a, same_b, same_group = _windows(rep_names, rep_records, same_name_window)
    same_a = np.concatenate([chain_a, same_a])
    same_b = np.concatenate([chain_b, same_b])
    same_group = np.concatenate([chain_group, same_group])
    rep_count = np.bincount(rep_names, minlength=n_names)
    rep_start = np.concatenate(([0], np.cumsum(rep_count)[:-1]))

    cross = _cross_pairs(windows, rep_count, rep_start, rep_records, one_pair, cap, n_names)
    del windows
    by_id = _identifier_pairs(prepared, same_name_window, 2 * n_names)
    # The parts are let go as they are joined: at a million records each is
    # hundreds of megabytes, and the peak of a run is here.
    a = np.concatenate([same_a, cross[0], by_id[0]])
    b = np.concatenate([same_b, cross[1], by_id[1]])
    group = np.concatenate([same_group, cross[2], by_id[2]])
    del same_a, same_b, same_group, cross, by_id, chain_a, chain_b, chain_group
    low = np.minimum(a, b)
    np.maximum(a, b, out=b)
    a = low
    del low
    distinct = a != b
    if not distinct.all():
        a, b, group = a[distinct], b[distinct], group[distinct]
    del distinct

    if focus is not None and not unfiltered:
        touching = focus[a] | focus[b]
        near = np.zeros(n_records, dtype=bool)
        near[a[touching]] = True
        near[b[touching]] = True
        keep = touching | (near[a] & near[b])
        a, b, group = a[keep], b[keep], group[keep]

    # One pair, one row: keep the smallest key group that proposed it, so the
    # block a pair falls in does not depend on the order of the keys.
    pair_code = a * np.int64(n_records) + b
    del a, b
    groups = int(group.max()) + 1 if len(group) else 1
    if n_records * n_records * groups < 2**63:
        # Pair and group as one number, sorted in place: no order and no copies.
        pair_code *= groups
        pair_code += group
        pair_code.sort()
        group = pair_code % groups
        pair_code //= groups
    else:
        order = np.lexsort((group, pair_code))
        pair_code, group = pair_code[order], group[order]
        del order
    first_of = np.ones(len(pair_code), dtype=bool)
    first_of[1:] = pair_code[1:] != pair_code[:-1]
    pair_code, group = pair_code[first_of], group[first_of]
    return Candidates(pair_code // n_records, pair_code % n_records, group)


def _cross_pairs(windows, rep_count, rep_start, rep_records, one_pair, cap: int, n_names: int):
    """Pairs of records between two names compared under a key: one record per
    distinct context of each name (``rep_*``), at most ``cap`` pairs per pair of
    names, or one under a key whose names are all compared (``one_pair``)."""
    first, second, group = windows
    if not len(first):
        return [np.empty(0, np.int64)] * 3
    count_1, count_2 = rep_count[first], rep_count[second]
    sizes = np.minimum(count_1 * count_2, np.where(one_pair[group], 1, cap))
    owner = np.repeat(np.arange(len(first)), sizes)
    # The k-th pair of a pair of names: row k // count_2, column k % count_2.
    within = np.arange(sizes.sum())
    within -= np.repeat(np.cumsum(sizes) - sizes, sizes)
    del count_1, sizes
    row, column = np.divmod(within, count_2[owner])
    del within
    row += rep_start[first][owner]
    column += rep_start[second][owner]
    firsts = rep_records[row]
    del row
    seconds = rep_records[column]
    del column
    groups = group[owner]
    groups += n_names
    return [firsts, seconds, groups]


def _identifier_pairs(prepared: Prepared, window: int, offset: int):
    """Records carrying one identifier value, each with its ``window`` neighbours."""
    carriers = np.flatnonzero(prepared.has_identifiers)
    if not len(carriers):
        nothing = np.empty(0, dtype=np.int64)
        return nothing, nothing, nothing
    records, texts = [], []
    for record in carriers.tolist():
        for text in prepared.identifier_texts[record]:
            records.append(record)
            texts.append(text)
    codes = Vocabulary().encode(texts)
    records_arr = np.asarray(records, dtype=np.int64)
    order = np.lexsort((records_arr, codes))
    first, second, group = _windows(codes[order], records_arr[order], window)
    return first, second, group + offset


def _first_seen_codes(values: list[str]) -> tuple[np.ndarray, list[str]]:
    """Codes 1, 2... in the order values are first seen (as a fresh ``Vocabulary``
    gives non-empty values), and the distinct values in that order."""
    codes: dict[str, int] = dict.fromkeys(values)  # type: ignore[arg-type]
    distinct = list(codes)
    codes.update(zip(distinct, range(1, len(distinct) + 1), strict=True))
    return np.fromiter(map(codes.__getitem__, values), dtype=np.int64, count=len(values)), distinct


def _sortable(values: list[str]):
    """A function of positions giving codes that sort like the values at them."""
    as_bytes = _ascii_bytes(values)
    if as_bytes is not None:
        return lambda chosen: np.unique(as_bytes[chosen], return_inverse=True)[1].reshape(-1)
    codes = _sort_codes(values)
    return lambda chosen: codes[chosen]


def _sort_codes(values: list[str]) -> np.ndarray:
    """Codes that sort like the strings."""
    as_bytes = _ascii_bytes(values)
    if as_bytes is not None:
        return np.unique(as_bytes, return_inverse=True)[1].astype(np.int64).reshape(-1)
    distinct = sorted(set(values))
    rank = {value: index for index, value in enumerate(distinct)}
    return np.fromiter((rank[v] for v in values), dtype=np.int64, count=len(values))


def _ascii_bytes(values: list[str]) -> np.ndarray | None:
    """The values as a byte array, when they are all ASCII (folded names are):
    sorted as bytes, in C, they sort as the strings do. None otherwise."""
    if not values:
        return None
    try:
        return np.array(values, dtype=np.bytes_)
    except UnicodeEncodeError:
        return None


def blocking_recall(
    candidates: Candidates, true_pairs: set[tuple[int, int]], *, connected: bool = False
) -> float:
    """The share of true pairs (record indexes, a < b) that land in a common block.

    With ``connected``, the share of true pairs joined through true candidate
    pairs, which is what clustering needs: a record compared with one of its
    person's records under each spelling finds the rest through them.
    """
    if not true_pairs:
        return 1.0
    found = set(zip(candidates.a.tolist(), candidates.b.tolist(), strict=True))
    if not connected:
        return len(found & true_pairs) / len(true_pairs)
    parent: dict[int, int] = {}

    def root(item: int) -> int:
        parent.setdefault(item, item)
        while parent[item] != item:
            parent[item] = parent[parent[item]]
            item = parent[item]
        return item

    for a, b in found & true_pairs:
        parent[root(a)] = root(b)
    return sum(root(a) == root(b) for a, b in true_pairs) / len(true_pairs)
