"""Reading signatory lists: CSV, JSON and HTML into entries.

A source's ``options`` say how to read it:

- ``encoding``: the text encoding, when neither a byte-order mark nor the
  server says it and it is not UTF-8 (Windows-1252 is tried after UTF-8).
- ``key``: the column whose value identifies an entry across fetches, such as
  ``"id"`` or ``"url"``; by default an entry is identified by its folded name.
- ``columns`` (CSV, JSON): renames, ``{"Full name": "name", "Org": "affiliation"}``.
- ``delimiter`` (CSV): when it is not the one the header line suggests.
- ``json_key`` (JSON): the key holding the list when the file is an object;
  dots go deeper (``"data.signatories"``).
- ``selectors`` (HTML): CSS selectors, ``entry`` for each entry and, within it,
  ``name`` (default: the entry's whole text), ``affiliation``, ``title``,
  ``country`` and ``url`` (the ``href`` of the element it picks).

Understood columns are ``name`` (or ``first_name`` and ``last_name``),
``title``, ``affiliation``, ``country``, ``signed_at`` and ``url``; every other
column is kept, under its own heading, in the entry's ``extra``.
"""

from __future__ import annotations

import codecs
import csv
import hashlib
import io
import json
import re
import unicodedata
from collections.abc import Callable, Container
from datetime import date
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import urljoin

import django
from django.core.exceptions import ValidationError
from django.core.validators import URLValidator
from selectolax.lexbor import LexborHTMLParser, SelectolaxError

import letters.services
from letters.models import SourceFormat
from letters.services import Entry
from letters.sync.errors import ParseError, RowError
from people.matching import normalize
from people.matching.normalize import clean_whitespace, fold
from tracker.errors import DomainError

KNOWN_FIELDS = ("name", "first_name", "last_name", "title", "affiliation", "country", "url")
_ALIASES = {
    "full_name": "name",
    "fullname": "name",
    "signatory": "name",
    "first": "first_name",
    "firstname": "first_name",
    "given_name": "first_name",
    "last": "last_name",
    "lastname": "last_name",
    "surname": "last_name",
    "family_name": "last_name",
    "organisation": "affiliation",
    "organization": "affiliation",
    "institution": "affiliation",
    "role": "title",
    "job_title": "title",
    "signed_on": "signed_at",
    "date": "signed_at",
}
_UNDERSTOOD = {*KNOWN_FIELDS, "signed_at"}
_HTML_SELECTORS = ("entry", "name", "affiliation", "title", "country", "url")
_OPTION_KEYS = {
    SourceFormat.CSV: {"encoding", "key", "columns", "delimiter"},
    SourceFormat.JSON: {"encoding", "key", "columns", "json_key"},
    SourceFormat.HTML: {"encoding", "key", "selectors"},
}
_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)
# Servers often label UTF-8 as Latin-1; valid UTF-8 is never plausible Latin-1 text.
_WEAK_DECLARATIONS = {"latin-1", "iso8859-1", "cp1252", "ascii"}
_META_CHARSET = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?\s*([a-zA-Z0-9_.:-]+)""", re.I)
_ISO_DATE = re.compile(r"^(\d{4}-\d{2}-\d{2})(?:$|[T ])")
_url_validator = URLValidator(schemes=["http", "https"])


def column_name(heading: str) -> str:
    """'First Name ' -> 'first_name'."""
    return re.sub(r"[\s\-]+", "_", heading.strip().lstrip("\ufeff").strip().casefold())


def options_validate(*, format: str, options: Any) -> None:  # noqa: A002 - the field's name
    """Raise DomainError when a source's options cannot work for its format."""
    if not isinstance(options, dict):
        raise DomainError("Options are an object.", field="options")
    allowed = _OPTION_KEYS.get(format, set())
    unknown = set(options) - allowed
    if unknown:
        raise DomainError(
            f"Unknown options for {format}: {', '.join(sorted(unknown))}"
            f" (known: {', '.join(sorted(allowed)) or 'none'}).",
            field="options",
        )
    encoding = options.get("encoding")
    if encoding:
        try:
            codecs.lookup(encoding)
        except (LookupError, TypeError):
            raise DomainError(f"Unknown encoding {encoding!r}.", field="options") from None
    for name in ("key", "delimiter", "json_key"):
        if name in options and not isinstance(options[name], str):
            raise DomainError(f"The option {name!r} is a text.", field="options")
    if "delimiter" in options and len(options["delimiter"]) != 1:
        raise DomainError("The delimiter is one character.", field="options")
    columns = options.get("columns", {})
    if not isinstance(columns, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in columns.items()
    ):
        raise DomainError(
            'Give column renames as an object of texts, such as {"Org": "affiliation"}.',
            field="options",
        )
    if format == SourceFormat.HTML:
        selectors = options.get("selectors")
        if not isinstance(selectors, dict) or not selectors.get("entry"):
            raise DomainError(
                'An HTML source needs selectors, at least {"entry": "..."}.', field="options"
            )
        unknown = set(selectors) - set(_HTML_SELECTORS)
        if unknown:
            raise DomainError(f"Unknown selectors: {', '.join(sorted(unknown))}.", field="options")
        probe = LexborHTMLParser("<p></p>")
        for name, selector in selectors.items():
            try:
                probe.css(selector)
            except (SelectolaxError, TypeError):
                raise DomainError(
                    f"The {name} selector {selector!r} is not valid CSS.", field="options"
                ) from None


def decode(content: bytes, *, declared: str | None = None, override: str | None = None) -> str:
    """Bytes to text: the source's encoding, else a byte-order mark, else what the
    server or page declares, else UTF-8, else Windows-1252 (a superset of Latin-1)."""
    if override:
        try:
            return content.decode(override)
        except UnicodeDecodeError as exc:
            raise ParseError(
                f"The content is not {override}: byte 0x{content[exc.start]:02x} "
                f"at position {exc.start}."
            ) from None
        except LookupError:
            raise ParseError(f"Unknown encoding {override!r} in the source's options.") from None
    for bom, encoding in _BOMS:
        if content.startswith(bom):
            try:
                return content.decode(encoding).lstrip("\ufeff")
            except UnicodeDecodeError as exc:
                raise ParseError(
                    f"The content starts with a {encoding} byte-order mark but is not "
                    f"{encoding}: bad bytes at position {exc.start}."
                ) from None
    candidates = ["utf-8", "cp1252", "latin-1"]
    if declared:
        try:
            declared = codecs.lookup(declared).name
        except LookupError:
            declared = None
    if declared and declared not in _WEAK_DECLARATIONS:
        candidates.insert(0, declared)
    elif declared:
        candidates.insert(1, declared)
    for encoding in candidates:
        try:
            return content.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise AssertionError("latin-1 decodes any bytes")  # pragma: no cover


def parse(
    content: bytes,
    *,
    format: str,  # noqa: A002 - the field's name
    options: dict[str, Any] | None = None,
    declared_encoding: str | None = None,
    base_url: str = "",
    rejected: list[dict[str, Any]] | None = None,
    known: Container[bytes] = frozenset(),
) -> list[Entry | UnbuiltEntry]:
    """Read a signatory list. Raises ParseError saying where and why it cannot.

    ``base_url`` is where the content came from, against which an HTML page's
    relative links are resolved. With a ``rejected`` list, a row that cannot
    be read (no name, a wrong shape) in a file that can is left out and
    appended to it as ``{"line", "where", "reason"}`` (the line of a CSV file,
    the item of a JSON list, the entry of a page); without, it fails the read.

    Every entry has the ``row_hash`` of its row (see ``_EntryBuilder.row_hash``). A
    row whose hash is in ``known`` (those of the source's sightings) was read
    before into the values its sighting holds: it is left as an ``UnbuiltEntry``,
    built only when needed.
    """
    options = options or {}

    def reject(error: RowError) -> None:
        if rejected is None:
            raise error
        rejected.append({"line": error.number, "where": error.where, "reason": error.reason})

    readers: dict[str, Callable[[str, dict[str, Any]], list[Entry | UnbuiltEntry]]] = {
        SourceFormat.CSV: lambda text, options: _parse_csv(text, options, reject, known),
        SourceFormat.JSON: lambda text, options: _parse_json(text, options, reject, known),
        SourceFormat.HTML: lambda text, options: _parse_html(
            text, options, base_url, reject, known
        ),
    }
    if format not in readers:
        raise ParseError(f"A source of format {format!r} has nothing to read.")
    if format == SourceFormat.HTML and not declared_encoding:
        match = _META_CHARSET.search(content[:4096])
        declared_encoding = match.group(1).decode("ascii") if match else None
    text = decode(content, declared=declared_encoding, override=options.get("encoding"))
    nul = text.find("\x00")
    if nul >= 0:
        raise ParseError(
            f"Line {text.count(chr(10), 0, nul) + 1}: a NUL character; "
            "this looks like a binary file or an encoding the source's options should name."
        )
    entries = readers[format](text, options)
    if rejected:
        rejected.sort(key=lambda row: row["line"])
    return entries


# --- CSV ----------------------------------------------------------------------


def _guess_delimiter(text: str) -> str:
    """The most frequent of , ; tab | on the header line (outside quotes)."""
    first_line = ""
    for line in io.StringIO(text):
        if line.strip():
            first_line = line
            break
    unquoted = re.sub(r'"[^"]*"', "", first_line)
    counts = {candidate: unquoted.count(candidate) for candidate in ",;\t|"}
    best = max(counts, key=lambda candidate: counts[candidate])
    return best if counts[best] else ","


def row_error(where: str, reason: str) -> RowError:
    """The error of one row, ``where`` being "Line 6", "Item 2" or "Entry 3"."""
    return RowError(
        f"{where}: {reason}.", number=int(where.rsplit(" ", 1)[-1]), where=where, reason=reason
    )


def _parse_csv(
    text: str,
    options: dict[str, Any],
    reject: Callable[[RowError], None],
    known: Container[bytes],
) -> list[Entry | UnbuiltEntry]:
    delimiter = options.get("delimiter") or _guess_delimiter(text)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=True)
    headings: list[str] | None = None
    fields: list[str] = []
    entries: list[Entry | UnbuiltEntry] = []
    builder: _EntryBuilder | None = None
    last_line = 0
    try:
        for row in reader:
            where = f"Line {last_line + 1}"
            last_line = reader.line_num
            if not "".join(row).strip():  # blank: no cell has anything but spaces
                continue
            if headings is None:
                headings = [cell.strip().lstrip("\ufeff") for cell in row]
                fields = _fields_for(headings, options)
                builder = _EntryBuilder(headings, fields, options, texts=True)
                continue
            if len(row) > len(fields):
                if any(cell.strip() for cell in row[len(fields) :]):
                    reject(
                        row_error(where, f"{len(row)} fields where the header has {len(fields)}")
                    )
                    continue
                row = row[: len(fields)]
            assert builder is not None
            try:
                entries.append(
                    builder.read(row, position=len(entries) + 1, where=where, known=known)
                )
            except RowError as error:
                reject(error)
    except csv.Error as exc:
        reason = str(exc)
        if "unexpected end of data" in reason:
            reason = "a quoted field opened here is never closed"
        raise ParseError(f"Line {last_line + 1}: {reason}.") from None
    if headings is None:
        raise ParseError("The file is empty: no header line.")
    return entries


def _fields_for(headings: list[str], options: dict[str, Any]) -> list[str]:
    renames = {column_name(k): column_name(v) for k, v in options.get("columns", {}).items()}
    fields = []
    for heading in headings:
        name = column_name(heading)
        name = renames[name] if name in renames else _ALIASES.get(name, name)
        fields.append(name)
    seen: set[str] = set()
    for name in fields:
        if name in _UNDERSTOOD and name in seen:
            raise ParseError(f"The header has the {name!r} column twice.")
        seen.add(name)
    if "name" not in seen and not {"first_name", "last_name"} & seen:
        raise ParseError(
            "The header has no 'name' column (nor 'first_name' and 'last_name'); "
            f"it has: {', '.join(headings) or 'nothing'}."
        )
    return fields


class _EntryBuilder:
    """Turns one row (a list of cells in heading order) into an Entry."""

    def __init__(
        self,
        headings: list[str],
        fields: list[str],
        options: dict[str, Any],
        *,
        texts: bool = False,
    ) -> None:
        """``texts``: every cell is a text without NUL characters (a CSV file's)."""
        self.headings = headings
        self.fields = fields
        self.index = {name: i for i, name in enumerate(fields) if name in _UNDERSTOOD}
        self.key_field = column_name(options["key"]) if options.get("key") else ""
        if self.key_field:
            self.key_field = _ALIASES.get(self.key_field, self.key_field)
            if self.key_field not in fields:
                raise ParseError(
                    f"The key column {options['key']!r} is not in the header; "
                    f"it has: {', '.join(headings)}."
                )
        self.extra_columns = [
            (i, heading)
            for i, (heading, name) in enumerate(zip(headings, fields, strict=True))
            if name not in _UNDERSTOOD
        ]
        self._hasher = None
        code = _reading_code_digest()
        if code is not None:
            # Everything besides the cells that decides what build() makes of a row.
            self._hasher = hashlib.blake2b(code, digest_size=16)
            self._hasher.update(repr((headings, fields, self.key_field, texts)).encode())
            self._hasher.update(b"\x00")
        self._texts = texts

    def row_hash(self, row: list[Any]) -> bytes | None:
        """A digest of the row's cells and of all that decides the entry built from
        them: two rows of one hash are read into the same values and key. None when
        the reading code cannot be told apart from another version's."""
        if self._hasher is None:
            return None
        hasher = self._hasher.copy()
        # Texts without NUL are told apart joined by NUL; repr tells texts, numbers,
        # true, null and nested values apart.
        hasher.update(("\x00".join(row) if self._texts else repr(row)).encode())
        return hasher.digest()

    def read(
        self, row: list[Any], *, position: int, where: str, known: Container[bytes]
    ) -> Entry | UnbuiltEntry:
        """The row's entry, or, when its hash is ``known``, the row left to build later."""
        row_hash = self.row_hash(row)
        if row_hash is not None and row_hash in known:
            return UnbuiltEntry(self, row, position, where, row_hash)
        entry = self.build(row, position=position, where=where)
        entry.row_hash = row_hash
        return entry

    def key_of(self, row: list[Any]) -> str:
        """The key the source gives the row's entry, or "" (keyed by its name)."""
        if not self.key_field:
            return ""
        i = self.fields.index(self.key_field)
        value = row[i] if i < len(row) else ""
        value = clean_whitespace(str(value)) if value not in (None, "") else ""
        return f"{self.key_field}:{value}"[:400] if value else ""

    def build(self, row: list[Any], *, position: int, where: str) -> Entry:
        def cell(name: str) -> Any:
            i = self.index.get(name)
            return row[i] if i is not None and i < len(row) else ""

        extra: dict[str, Any] = {}
        for i, heading in self.extra_columns:
            value = row[i] if i < len(row) else ""
            if value not in ("", None):
                extra[heading or f"column {i + 1}"] = value
        name = _text(cell("name"), "name", where)
        if not _has_name(name):
            first = _text(cell("first_name"), "first_name", where)
            last = _text(cell("last_name"), "last_name", where)
            name = f"{first} {last}".strip()
        if not _has_name(name):
            raise row_error(where, "no name")
        url = _text(cell("url"), "url", where).strip()
        if url:
            try:
                _url_validator(url)
            except ValidationError:
                extra["url"] = url
                url = ""
        signed_on = None
        signed_at = _text(cell("signed_at"), "signed_at", where).strip()
        if signed_at:
            match = _ISO_DATE.match(signed_at)
            try:
                signed_on = date.fromisoformat(match.group(1)) if match else None
            except ValueError:
                signed_on = None
            if signed_on is None:
                extra["signed_at"] = signed_at
        key = self.key_of(row)
        return Entry(
            name=name,
            title=_text(cell("title"), "title", where),
            affiliation=_text(cell("affiliation"), "affiliation", where),
            country=_text(cell("country"), "country", where),
            signed_on=signed_on,
            url=url,
            extra=extra,
            key=key,
            position=position,
        )


class UnbuiltEntry:
    """A row read before into the values a sighting holds (its hash says so), not
    built into an Entry unless something needs its values."""

    __slots__ = ("_builder", "_row", "key", "position", "row_hash", "_where")

    def __init__(
        self, builder: _EntryBuilder, row: list[Any], position: int, where: str, row_hash: bytes
    ) -> None:
        self._builder, self._row, self._where = builder, row, where
        self.position, self.row_hash = position, row_hash
        self.key = builder.key_of(row)

    def build(self) -> Entry:
        entry = self._builder.build(self._row, position=self.position, where=self._where)
        entry.row_hash = self.row_hash
        return entry


@cache
def _reading_code_digest() -> bytes | None:
    """The code that turns cells into values (this module, Entry.values and the
    text normalisation, the URL validator's Django, Unicode's tables), so that a
    row hash written by one version of it is never taken for another's."""
    hasher = hashlib.blake2b(digest_size=16)
    try:
        for path in (__file__, letters.services.__file__, normalize.__file__):
            hasher.update(Path(path or "").read_bytes())
    except OSError:
        return None
    hasher.update(f"{django.__version__} {unicodedata.unidata_version}".encode())
    return hasher.digest()


_ASCII_ALNUM = re.compile(r"[A-Za-z0-9]")


def _has_name(text: str) -> bool:
    """Whether text has a letter or digit once folded (fold is slow): an ASCII
    letter or digit stays one ("Björk" has "B"), so only text without any is folded."""
    if _ASCII_ALNUM.search(text) is not None:
        return True
    return not text.isascii() and bool(fold(text))


def _text(value: Any, name: str, where: str) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, bool | int | float):
        return str(value)
    raise row_error(where, f"{name!r} is {type(value).__name__}, where a text was expected")


# --- JSON ---------------------------------------------------------------------


def _parse_json(
    text: str,
    options: dict[str, Any],
    reject: Callable[[RowError], None],
    known: Container[bytes],
) -> list[Entry | UnbuiltEntry]:
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ParseError(f"Line {exc.lineno}, column {exc.colno}: {exc.msg}.") from None
    except RecursionError:
        raise ParseError("The JSON is nested too deeply.") from None
    items = _json_list(data, options.get("json_key") or "")
    records: list[tuple[int, dict[str, Any]]] = []
    for number, item in enumerate(items, start=1):
        if isinstance(item, str):
            item = {"name": item}
        if not isinstance(item, dict):
            reject(
                row_error(
                    f"Item {number}",
                    f"a {type(item).__name__}, where an object or a name was expected",
                )
            )
            continue
        records.append((number, item))
    headings: list[str] = []
    seen: set[str] = set()
    for _number, record in records:
        for heading in record:
            if heading not in seen:
                seen.add(heading)
                headings.append(heading)
    if not records:
        return []
    fields = _fields_for(headings, options)
    builder = _EntryBuilder(headings, fields, options)
    entries: list[Entry | UnbuiltEntry] = []
    for number, record in records:
        try:
            entries.append(
                builder.read(
                    [record.get(heading, "") for heading in headings],
                    position=number,
                    where=f"Item {number}",
                    known=known,
                )
            )
        except RowError as error:
            reject(error)
    return entries


def _json_list(data: Any, json_key: str) -> list[Any]:
    if json_key:
        node = data
        for part in json_key.split("."):
            if not isinstance(node, dict) or part not in node:
                raise ParseError(f"The JSON has no {json_key!r} (the source's json_key).")
            node = node[part]
        if not isinstance(node, list):
            raise ParseError(f"The JSON's {json_key!r} is not a list.")
        return node
    if isinstance(data, list):
        return data
    if isinstance(data, dict):
        lists = [key for key, value in data.items() if isinstance(value, list)]
        if len(lists) == 1:
            return data[lists[0]]
        raise ParseError(
            "The JSON is an object; set the source's json_key option to the key holding "
            f"the list (it has: {', '.join(map(str, data)) or 'nothing'})."
        )
    raise ParseError(f"The JSON is a {type(data).__name__}, where a list was expected.")


# --- HTML ---------------------------------------------------------------------


# The HTML parser takes time in proportion to the square of the nesting depth
# (100,000 nested <div>s: minutes); real pages nest a few dozen deep.
MAX_HTML_DEPTH = 512
_TAG = re.compile(r"<(/?)([a-zA-Z][^\s/>]*)[^>]*?(/?)>")
# Elements that never hold others, or that the next of their kind closes.
_NOT_NESTING = frozenset(
    {
        *("area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta"),
        *("param", "source", "track", "wbr", "li", "p", "dt", "dd", "option", "optgroup"),
        *("tr", "td", "th", "thead", "tbody", "tfoot", "colgroup", "caption"),
        *("rb", "rt", "rp", "rtc", "html", "head", "body"),
    }
)


def _check_html_depth(text: str) -> None:
    depth = 0
    for match in _TAG.finditer(text):
        closing, name, self_closing = match.groups()
        if self_closing or name.lower() in _NOT_NESTING:
            continue
        if closing:
            depth = max(0, depth - 1)
            continue
        depth += 1
        if depth > MAX_HTML_DEPTH:
            line = text.count("\n", 0, match.start()) + 1
            raise ParseError(
                f"Line {line}: elements are nested more than {MAX_HTML_DEPTH} deep; "
                "the page is refused rather than read."
            )


def _parse_html(
    text: str,
    options: dict[str, Any],
    base_url: str,
    reject: Callable[[RowError], None],
    known: Container[bytes],
) -> list[Entry | UnbuiltEntry]:
    selectors = options.get("selectors") or {}
    if not selectors.get("entry"):
        raise ParseError('The source has no entry selector (options "selectors": {"entry": ...}).')
    _check_html_depth(text)
    tree = LexborHTMLParser(text)
    # Only the text a reader sees: never scripts, styles or templates.
    tree.strip_tags(["script", "style", "template", "noscript"])
    try:
        nodes = tree.css(selectors["entry"])
    except SelectolaxError:
        raise ParseError(f"The entry selector {selectors['entry']!r} is not valid CSS.") from None
    if not nodes:
        raise ParseError(
            f"The entry selector {selectors['entry']!r} matched nothing: "
            "the page may have changed its layout."
        )
    headings = ["name", "affiliation", "title", "country", "url"]
    fields = _fields_for(headings, {})
    builder = _EntryBuilder(headings, fields, {"key": options["key"]} if options.get("key") else {})
    entries: list[Entry | UnbuiltEntry] = []
    for number, node in enumerate(nodes, start=1):
        where = f"Entry {number}"
        row = [
            _select_text(node, selectors.get("name"), where, whole=True),
            _select_text(node, selectors.get("affiliation"), where),
            _select_text(node, selectors.get("title"), where),
            _select_text(node, selectors.get("country"), where),
            _select_href(node, selectors.get("url"), where, base_url),
        ]
        try:
            entries.append(builder.read(row, position=number, where=where, known=known))
        except RowError as error:
            reject(error)
    return entries


def _select(node: Any, selector: str, where: str) -> Any:
    try:
        return node.css_first(selector)
    except SelectolaxError:
        raise ParseError(f"{where}: the selector {selector!r} is not valid CSS.") from None


def _select_text(node: Any, selector: str | None, where: str, *, whole: bool = False) -> str:
    if not selector:
        return clean_whitespace(node.text(separator=" ")) if whole else ""
    found = _select(node, selector, where)
    return clean_whitespace(found.text(separator=" ")) if found is not None else ""


def _select_href(node: Any, selector: str | None, where: str, base_url: str) -> str:
    if not selector:
        return ""
    found = _select(node, selector, where)
    if found is None:
        return ""
    href = (found.attributes.get("href") or found.text() or "").strip()
    return urljoin(base_url, href) if base_url and href else href
