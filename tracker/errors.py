"""The one domain error type services raise; the API maps it to HTTP."""

from __future__ import annotations


class DomainError(Exception):
    """A request the domain refuses, with a message a person can act on.

    ``field`` names the input at fault when there is one; ``code`` is a short
    machine-readable reason.
    """

    status_code = 400

    def __init__(self, message: str, *, field: str | None = None, code: str = "invalid") -> None:
        super().__init__(message)
        self.message = message
        self.field = field
        self.code = code


class NotFound(DomainError):
    status_code = 404

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message, field=field, code="not_found")


class Conflict(DomainError):
    status_code = 409

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message, field=field, code="conflict")
