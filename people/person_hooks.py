"""What other apps do when a person's display name changes.

A letter's published list shows each signatory's display name; the letters
app registers a callback in its ``AppConfig.ready()`` that publishes a new
version of the lists the person is on. The person services call every
registered callback once the change is committed, with the person's id, and
never import the apps themselves.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from django.db import transaction

PersonRenamed = Callable[[int], None]

_CALLBACKS: list[PersonRenamed] = []
logger = logging.getLogger(__name__)


def register(callback: PersonRenamed) -> None:
    if callback not in _CALLBACKS:
        _CALLBACKS.append(callback)


def person_renamed(person_id: int) -> None:
    """Tell every registered app, once the transaction commits, that this
    person's display name changed. A callback that fails is logged and leaves
    the person as committed."""
    for callback in list(_CALLBACKS):
        transaction.on_commit(_after_commit(callback, person_id))


def _after_commit(callback: PersonRenamed, person_id: int) -> Callable[[], None]:
    def call() -> None:
        try:
            callback(person_id)
        except Exception:
            logger.exception("%s failed for person %s", callback.__qualname__, person_id)

    return call
