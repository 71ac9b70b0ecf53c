"""The prepared names kept between runs: each written name's parts, sounds and
blocking keys, so that a run reads only the names it has not seen before.

An entry is found by the name exactly as written: a changed name is another
string, so it is read afresh and never gets the keys of the name it replaced.
Every entry carries the ``VERSION`` of the code that read it (a digest of the
normaliser, the nickname tables, the keys and the packages they use): after any
change to them, the entries kept are ignored and read again.

``people.models.NameKey`` keeps them in the database; ``rows`` and
``from_rows`` turn an index into table rows and back.
"""

from __future__ import annotations

import hashlib
import inspect
import uuid
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from functools import cache
from importlib import metadata
from pathlib import Path

from people.matching import blocking, normalize, records
from people.matching.normalize import NameForm, name_form

_FORM_FIELDS = (
    "written",
    "given",
    "middle",
    "family",
    "family_full",
    "family_parts",
    "honorific",
    "suffix",
)
# Blocking keys and their ordering text hold only folded letters, digits,
# spaces and "|", so tabs and newlines can separate them.
_FIELD, _ROW = "\t", "\n"


@cache
def version() -> str:
    """A digest of everything a prepared name depends on."""
    digest = hashlib.sha256()
    data = Path(normalize.__file__).with_name("data")
    try:
        sources = (
            inspect.getsource(normalize),
            inspect.getsource(blocking.name_keys),
            inspect.getsource(records._metaphone),
            Path(blocking.__file__).with_name("nicknames.py").read_text(encoding="utf-8"),
            (data / "nicknames_extra.csv").read_text(encoding="utf-8"),
        )
    except OSError:
        # Installed without its source: no digest can vouch for kept names, so
        # this process neither trusts nor shares any (correct, only slower).
        sources = (uuid.uuid4().hex,)
    for source in sources:
        digest.update(source.encode())
    for package in ("nameparser", "nicknames", "jellyfish", "Unidecode"):
        try:
            digest.update(f"{package}={metadata.version(package)};".encode())
        except metadata.PackageNotFoundError:
            digest.update(f"{package}=?;".encode())
    return digest.hexdigest()[:16]


@dataclass(frozen=True, slots=True)
class PreparedName:
    """One written name as the matcher reads it."""

    form: NameForm
    given_meta: str
    family_meta: str
    keys: tuple[tuple[str, str], ...]  # blocking key and the text ordering it


def prepare_name(written: str) -> PreparedName:
    form = name_form(written)
    given_meta = records._metaphone(form.given)
    family_meta = records._metaphone(form.family_full)
    keys = blocking.name_keys(form, given_meta, family_meta)
    return PreparedName(form, given_meta, family_meta, keys)


class NameIndex:
    """Prepared names by the name as written; names not in it are prepared on
    first use and listed in ``added`` until ``mark_kept`` (once they are stored)."""

    def __init__(self, entries: dict[str, PreparedName] | None = None) -> None:
        self.entries: dict[str, PreparedName] = entries if entries is not None else {}
        self.added: list[str] = []

    def __len__(self) -> int:
        return len(self.entries)

    def __contains__(self, written: str) -> bool:
        return written in self.entries

    def get(self, written: str) -> PreparedName:
        entry = self.entries.get(written)
        if entry is None:
            entry = self.entries[written] = prepare_name(written)
            self.added.append(written)
        return entry

    def update(self, names: Iterable[str]) -> None:
        for written in names:
            self.get(written)

    def mark_kept(self) -> None:
        self.added = []

    def rows(self, names: Iterable[str] | None = None) -> Iterator[tuple[str, ...]]:
        """Table rows (the name as written, the form's fields, the two sounds,
        the keys as text) of the given names, or of every name."""
        for written in self.entries if names is None else names:
            entry = self.entries[written]
            form = entry.form
            yield (
                written,
                *(getattr(form, name) for name in _FORM_FIELDS),
                entry.given_meta,
                entry.family_meta,
                _ROW.join(text + _FIELD + order for text, order in entry.keys),
            )

    @classmethod
    def from_rows(cls, rows: Iterable[Iterable[str]]) -> NameIndex:
        """An index of rows as ``rows`` writes them."""
        entries: dict[str, PreparedName] = {}
        for row in rows:
            written, *parts, given_meta, family_meta, keys = row
            # Each line is one key, a tab and its ordering text (neither holds a
            # tab): split at both at once, then taken two by two.
            texts = iter(keys.replace(_ROW, _FIELD).split(_FIELD)) if keys else iter(())
            entries[written] = PreparedName(
                NameForm(*parts), given_meta, family_meta, tuple(zip(texts, texts, strict=True))
            )
        return cls(entries)


# The columns of ``people.models.NameKey`` that ``rows`` fills, in order.
ROW_FIELDS = ("name", *_FORM_FIELDS, "given_meta", "family_meta", "keys")
