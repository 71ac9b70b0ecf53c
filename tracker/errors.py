"""The domain errors services raise; the API answers each with its ``status_code``:
``DomainError`` 400, ``NotFound`` 404, ``Conflict`` 409."""

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
    """No such thing: the record named does not exist (404)."""

    status_code = 404

    def __init__(self, message: str, *, field: str | None = None, code: str = "not_found") -> None:
        super().__init__(message, field=field, code=code)


class Conflict(DomainError):
    """The request clashes with the state of the data (409): done already
    ("already_undone"), changed meanwhile ("decided"), or at odds with another
    record ("merged")."""

    status_code = 409

    def __init__(self, message: str, *, field: str | None = None, code: str = "conflict") -> None:
        super().__init__(message, field=field, code=code)
