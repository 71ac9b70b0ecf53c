"""Every advisory lock of the service, with its key space and its place in
the one order in which locks are taken.

A PostgreSQL advisory lock is named by two integers: the first says what kind
of thing is locked (``KEY_SPACES``), the second which one. Writers take them in
``LOCK_ORDER`` and, within one space, in ascending key order (several at once in
one statement), then lock rows; never the other way round, so that no two
writers can wait for each other.

- ``source``: a sync of one source at a time. A session lock held for the whole
  run, outside its transaction (released by the server if the worker's
  connection dies; on SQLite, a file lock the kernel releases with the process).
- ``people``: merges, undos and splits (exclusive) against writers resolving
  entries to people (shared, so that they do not wait for each other): an entry
  is never attached to a person merged or split while it was written.
- ``letter``: one writer of a letter's signatures at a time (syncs, entries,
  and merges of people who signed it).
- ``name``: one writer of a new name at a time across letters, so that two
  writers of one new name create one person.
- ``match_run``: held (shared) by every process carrying out a step of a match
  run, for the step's whole length, outside its transactions, like a source's:
  a running run whose lock is free has no live worker at it.
- ``webhook``: one delivery of one webhook subscription at a time. A session
  lock like a source's, held across the HTTP request and released with the
  worker's connection if the worker dies, so that another worker can deliver.
- ``organization_tree``: one writer of organizations' parents at a time, so
  that two changes that are each fine alone (3 under 4, 4 under 3) cannot both
  be checked against the tree before the other and make a loop.

Without PostgreSQL (the embedded SQLite default) writes are serialised by the
database itself and the transaction locks are no-ops.
"""

from __future__ import annotations

import fcntl
import os
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager

from django.conf import settings
from django.db import connection

from tracker.bulk import is_postgres

KEY_SPACES = {
    "source": 7_460_300,
    "letter": 7_460_301,
    "name": 7_460_302,
    "people": 7_460_303,
    "organization_tree": 7_460_304,
    "match_run": 7_460_305,
    "webhook": 7_460_306,
}
LOCK_ORDER = ("source", "webhook", "match_run", "people", "letter", "name", "organization_tree")
_POLL_SECONDS = 0.25


# --- Transaction locks, released at commit or rollback --------------------------


def people_lock(*, exclusive: bool) -> None:
    """Exclusive for a merge, an undo or a split; shared for writers of entries."""
    if is_postgres():
        function = "pg_advisory_xact_lock" if exclusive else "pg_advisory_xact_lock_shared"
        with connection.cursor() as cursor:
            cursor.execute(f"SELECT {function}(%s, 0)", [KEY_SPACES["people"]])


def letter_locks(letter_ids: Iterable[int]) -> None:
    """The locks of these letters, in id order, in one statement."""
    ids = sorted({int(pk) for pk in letter_ids})
    if ids and is_postgres():
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT count(pg_advisory_xact_lock(%s, id)) FROM unnest(%s::integer[]) AS id",
                [KEY_SPACES["letter"], ids],
            )


def letter_locks_from(query: str, params: list) -> None:
    """The locks of the letters a query selects (one column, ``letter_id``), in
    id order, in one statement whatever their number."""
    if is_postgres():
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT count(pg_advisory_xact_lock(%s, letter_id::integer)) "  # noqa: S608
                f"FROM ({query} ORDER BY letter_id) AS chosen",
                [KEY_SPACES["letter"], *params],
            )


def name_lock(key: str) -> None:
    """The lock of one normalised name."""
    if is_postgres():
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT pg_advisory_xact_lock(%s, hashtext(%s))", [KEY_SPACES["name"], key]
            )


def organization_tree_lock() -> None:
    """The lock of the organizations' tree of parents, for a writer that sets a parent."""
    if is_postgres():
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s, 0)", [KEY_SPACES["organization_tree"]])


# --- Session locks of a source or a webhook subscription, held across transactions ---


def _try_session(space: str, key: int) -> bool:
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_try_advisory_lock(%s, %s)", [KEY_SPACES[space], key])
        return bool(cursor.fetchone()[0])


def _release_session(space: str, key: int) -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_unlock(%s, %s)", [KEY_SPACES[space], key])


@contextmanager
def _session_lock(space: str, key: int, wait: float) -> Iterator[bool]:
    deadline = time.monotonic() + wait
    if is_postgres():
        held = _try_session(space, key)
        while not held and time.monotonic() < deadline:
            time.sleep(_POLL_SECONDS)
            held = _try_session(space, key)
        try:
            yield held
        finally:
            if held:
                _release_session(space, key)
        return
    descriptor = os.open(_flock_path(f"{space}-{key}"), os.O_RDWR | os.O_CREAT, 0o600)
    try:
        while True:
            try:
                fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
                held = True
            except BlockingIOError:
                held = False
            if held or time.monotonic() >= deadline:
                break
            time.sleep(_POLL_SECONDS)
        yield held
    finally:
        os.close(descriptor)  # also releases the lock


@contextmanager
def source_lock(source_id: int, *, wait: float = 0) -> Iterator[bool]:
    """Hold the source's sync lock for the block; yields whether it was had,
    trying for up to ``wait`` seconds. Held as long as the process holding it
    lives: a run left "running" by a killed worker has its source's lock free."""
    with _session_lock("source", source_id, wait) as held:
        yield held


@contextmanager
def webhook_lock(subscription_id: int) -> Iterator[bool]:
    """Hold the delivery lock of a webhook subscription for the block, if it is
    free; yields whether it was had."""
    with _session_lock("webhook", subscription_id, 0) as held:
        yield held


# --- Session lock of a match run's steps, held across transactions ------------------


def _flock_path(name: str):
    directory = settings.VAR_DIR / "locks"
    directory.mkdir(parents=True, exist_ok=True)
    return directory / f"{name}.lock"


@contextmanager
def match_run_step_lock(run_id: int) -> Iterator[None]:
    """Hold, shared with the run's other steps, the mark that a live process
    is at a step of this match run, for the block. The server (or, on SQLite,
    the kernel) drops it when the process dies."""
    if is_postgres():
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT pg_advisory_lock_shared(%s, %s)", [KEY_SPACES["match_run"], run_id]
            )
        try:
            yield
        finally:
            try:
                with connection.cursor() as cursor:
                    cursor.execute(
                        "SELECT pg_advisory_unlock_shared(%s, %s)",
                        [KEY_SPACES["match_run"], run_id],
                    )
            except Exception:  # noqa: S110 - the connection went away, and its locks with it
                pass
        return
    descriptor = os.open(_flock_path(f"match-run-{run_id}"), os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(descriptor, fcntl.LOCK_SH)
        yield
    finally:
        os.close(descriptor)


def match_run_step_live(run_id: int) -> bool:
    """Whether some live process is at a step of this match run."""
    if is_postgres():
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_try_advisory_lock(%s, %s)", [KEY_SPACES["match_run"], run_id])
            free = bool(cursor.fetchone()[0])
            if free:
                cursor.execute(
                    "SELECT pg_advisory_unlock(%s, %s)", [KEY_SPACES["match_run"], run_id]
                )
        return not free
    descriptor = os.open(_flock_path(f"match-run-{run_id}"), os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(descriptor)
    return False
