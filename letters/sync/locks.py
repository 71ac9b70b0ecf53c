"""Who is syncing a source right now.

The lock lives as long as the process holding it: a PostgreSQL session
advisory lock (released by the server when the worker's connection dies), or,
on SQLite, an advisory lock on a file under var/ (released by the kernel when
the process dies). So a run left "running" by a killed worker is recognisable:
its source's lock is free.
"""

from __future__ import annotations

import fcntl
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager

from django.conf import settings
from django.db import connection

from letters.sync.bulk import is_postgres

SOURCE_LOCK_CLASS = 7_460_300
_POLL_SECONDS = 0.25


def _try_postgres(source_id: int) -> bool:
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_try_advisory_lock(%s, %s)", [SOURCE_LOCK_CLASS, source_id])
        return bool(cursor.fetchone()[0])


def _release_postgres(source_id: int) -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_unlock(%s, %s)", [SOURCE_LOCK_CLASS, source_id])


@contextmanager
def source_lock(source_id: int, *, wait: float = 0) -> Iterator[bool]:
    """Hold the source's sync lock for the block; yields whether it was had,
    trying for up to ``wait`` seconds."""
    deadline = time.monotonic() + wait
    if is_postgres():
        held = _try_postgres(source_id)
        while not held and time.monotonic() < deadline:
            time.sleep(_POLL_SECONDS)
            held = _try_postgres(source_id)
        try:
            yield held
        finally:
            if held:
                _release_postgres(source_id)
        return
    directory = settings.VAR_DIR / "locks"
    directory.mkdir(parents=True, exist_ok=True)
    descriptor = os.open(directory / f"source-{source_id}.lock", os.O_RDWR | os.O_CREAT, 0o600)
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
