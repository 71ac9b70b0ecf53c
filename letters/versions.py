"""Citable versions of a letter's public list, chained by their hashes.

The public list is what the API shows anyone: the letter's standing signatures
(none merged away into another, none removed as fake), one row per signature,
with the status readers see (``selectors.public_status``: "unlisted" when no
source lists it any more). Each state of it that differs from the last one
published is a version, numbered 1, 2, 3... per letter, and never changes
afterwards: a later merge, retraction or correction makes a new version.

The canonical CSV of a version (what ``list.csv`` serves, byte for byte):

- UTF-8, no byte order mark, every line ended by a single LF ("\\n");
- a header row: ``signature_id,person_id,name,title,affiliation,status``;
- then one row per signature, sorted by ``signature_id`` ascending: the
  signature's id, the signatory's person id, their display name, the title and
  affiliation as stated when signing, and the public status;
- quoted as RFC 4180 says and Python's ``csv`` module does by default (a cell
  is put in double quotes only when it holds a comma, a quote or a line break;
  a quote inside is doubled); nothing else is escaped or changed.

``content_sha256`` is the SHA-256 of those bytes (``sha256sum list.csv``), and

    hash = sha256(previous_hash + "\\n" + content_sha256)

over the ASCII text of the two lowercase hex digests, ``previous_hash`` being
the previous version's ``hash``, and the empty string for version 1. Anyone
holding the CSVs can recompute the chain; ``verify_list`` does it from the
stored files.
"""

from __future__ import annotations

import csv
import gzip
import hashlib
import io
import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from django.db import connection, transaction
from django.utils import timezone

from letters import selectors
from letters.models import Letter, ListVersion, SyncRun
from tracker import locks
from tracker.bulk import is_postgres
from tracker.resend import BROKER_ERRORS

logger = logging.getLogger(__name__)

HEADER = ("signature_id", "person_id", "name", "title", "affiliation", "status")
_ROW_FIELDS = ("id", "person_id", "person__display_name", "title", "affiliation", "shown_status")
REASON_LENGTH = ListVersion._meta.get_field("reason").max_length


def chain_hash(previous_hash: str, content_sha256: str) -> str:
    """The hash of a version, from the one before and its own content's."""
    return hashlib.sha256(f"{previous_hash}\n{content_sha256}".encode("ascii")).hexdigest()


def canonical_csv(rows: Iterable[Sequence[Any]]) -> bytes:
    """The canonical CSV of these rows (in the order given, which must be by
    signature id)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(HEADER)
    writer.writerows(rows)
    return buffer.getvalue().encode("utf-8")


def public_list(letter: Letter) -> tuple[bytes, int]:
    """The letter's public list as it stands, in canonical form, and its row
    count: one query, whatever the letter's size."""
    rows = list(
        selectors.signature_queryset(letter=letter, include_removed=False)
        .annotate(shown_status=selectors.public_status())
        .order_by("id")
        .values_list(*_ROW_FIELDS)
    )
    return canonical_csv(rows), len(rows)


def version_content(version: ListVersion) -> bytes:
    """The canonical CSV stored with a version."""
    if version.compression != "gzip":
        raise ValueError(f"Unknown compression {version.compression!r}.")
    return gzip.decompress(bytes(version.data))


@transaction.atomic
def record_version(
    letter: Letter, *, run: SyncRun | None = None, user: Any = None, reason: str = ""
) -> ListVersion | None:
    """Publish the letter's list as a new version if it differs from the
    latest one; return the new version, or None when nothing changed. Under
    the letter's lock, so that two writers never number two versions alike or
    chain both to the same predecessor."""
    locks.letter_locks([letter.pk])
    if is_postgres():
        with connection.cursor() as cursor:
            # The estimated cost of reading a whole large list makes PostgreSQL
            # compile the query first (JIT), which takes longer than running it.
            cursor.execute("SET LOCAL jit = off")
    latest = (
        ListVersion.objects.filter(letter_id=letter.pk)
        .order_by("-number")
        .values("number", "hash", "content_sha256")
        .first()
    )
    content, count = public_list(letter)
    content_sha256 = hashlib.sha256(content).hexdigest()
    if latest is not None and latest["content_sha256"] == content_sha256:
        return None
    previous_hash = latest["hash"] if latest is not None else ""
    return ListVersion.objects.create(
        letter_id=letter.pk,
        number=latest["number"] + 1 if latest is not None else 1,
        created_at=timezone.now(),
        count=count,
        content_sha256=content_sha256,
        previous_hash=previous_hash,
        hash=chain_hash(previous_hash, content_sha256),
        run=run,
        created_by=user if getattr(user, "pk", None) else None,
        reason=reason[:REASON_LENGTH],
        data=gzip.compress(content, compresslevel=6),
        size=len(content),
    )


def record_versions_later(letter_ids: Iterable[int], *, by: Any = None, reason: str = "") -> None:
    """Once the transaction commits, have a worker publish a new version of
    each of these letters whose list changed. A broker that cannot take the
    job leaves the change committed: the next version of the letter includes it."""
    ids = sorted({int(pk) for pk in letter_ids})
    if not ids:
        return
    user_id = getattr(by, "pk", None)

    def queue() -> None:
        from letters.tasks import letter_versions_record

        try:
            letter_versions_record.delay(ids, user_id=user_id, reason=reason)
        except BROKER_ERRORS:
            logger.exception("Could not queue new versions of letters %s", ids)

    transaction.on_commit(queue)


def letters_record(*, letter_ids: Sequence[int], user_id: int | None, reason: str) -> int:
    """Publish a new version of each of these letters whose list changed; the
    number of versions made. Safe to repeat."""
    from django.contrib.auth import get_user_model

    user = get_user_model().objects.filter(pk=user_id).first() if user_id else None
    made = 0
    for letter in Letter.objects.filter(pk__in=list(letter_ids)).only("id").order_by("id"):
        made += record_version(letter, user=user, reason=reason) is not None
    return made


# --- Checking a letter's chain -------------------------------------------------------


@dataclass
class Break:
    """Where a letter's chain breaks: the version, and what differs."""

    number: int
    problem: str


@dataclass
class Verification:
    versions: int
    latest_hash: str
    breaks: list[Break]


def verify(letter: Letter) -> Verification:
    """Recompute the letter's chain from the stored CSVs, one version at a time,
    and list every place where a stored figure disagrees with the file."""
    breaks: list[Break] = []
    expected_previous = ""
    expected_number = 1
    checked = 0
    numbers = list(
        ListVersion.objects.filter(letter_id=letter.pk)
        .order_by("number")
        .values_list("pk", flat=True)
    )
    for pk in numbers:
        version = ListVersion.objects.get(pk=pk)
        checked += 1
        number = version.number
        if number != expected_number:
            breaks.append(Break(number, f"expected version {expected_number} here"))
        try:
            content = version_content(version)
        except (OSError, EOFError, ValueError) as exc:
            breaks.append(Break(number, f"the stored list cannot be read: {exc}"))
            content = None
        if content is not None:
            actual_sha = hashlib.sha256(content).hexdigest()
            if actual_sha != version.content_sha256:
                breaks.append(
                    Break(
                        number,
                        f"the stored list's SHA-256 is {actual_sha}, "
                        f"not the published content_sha256 {version.content_sha256}",
                    )
                )
            rows = _row_count(content)
            if rows is None:
                breaks.append(Break(number, "the stored list is not UTF-8 CSV"))
            elif rows != version.count:
                breaks.append(
                    Break(
                        number,
                        f"the stored list has {rows} rows, not the published count {version.count}",
                    )
                )
        if version.previous_hash != expected_previous:
            breaks.append(
                Break(
                    number,
                    f"previous_hash is {version.previous_hash or '(empty)'}, but the version "
                    f"before has hash {expected_previous or '(none: this is the first)'}",
                )
            )
        # Each version's hash from its own fields, so that one broken link is
        # reported once, where it breaks, not again at every later version.
        recomputed = chain_hash(version.previous_hash, version.content_sha256)
        if recomputed != version.hash:
            breaks.append(Break(number, f"hash is {version.hash}, recomputed {recomputed}"))
        expected_previous = version.hash
        expected_number = number + 1
    return Verification(versions=checked, latest_hash=expected_previous, breaks=breaks)


def _row_count(content: bytes) -> int | None:
    try:
        text = content.decode("utf-8")
    except UnicodeDecodeError:
        return None
    return max(sum(1 for _ in csv.reader(io.StringIO(text))) - 1, 0)
