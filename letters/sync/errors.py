"""Why a sync run fails. The message is what the run record shows."""

from __future__ import annotations


class SyncError(Exception):
    """A run that cannot succeed as things stand: a refused address, an HTTP
    error, a malformed file. The run fails with this message."""

    def __init__(self, message: str, *, http_status: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.http_status = http_status


class TransientSyncError(SyncError):
    """A failure that may pass by itself (a timeout, a refused connection, a
    5xx answer): worth trying again later."""


class ParseError(SyncError):
    """A file that cannot be read, with where (row, line or position) and why."""


class RowError(ParseError):
    """One row (line, item or entry) that cannot be read, in a file that can:
    the row is left out and recorded on the run."""

    def __init__(self, message: str, *, number: int, where: str, reason: str) -> None:
        super().__init__(message)
        self.number = number
        self.where = where
        self.reason = reason


class SourceBusy(Exception):
    """Another live process is syncing the source."""
