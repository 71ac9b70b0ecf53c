"""What other apps do when an organization's names change.

An organization created, renamed or given another alias may now be what
affiliations stated earlier refer to. People own organizations; the rows of
other apps that state affiliations (a letter's signatures) link themselves.
Those apps register a callback in their ``AppConfig.ready()``; the
organization services call every registered callback, once the change is
committed, with the organization's id, and never import the apps themselves.
"""

from __future__ import annotations

from collections.abc import Callable

from django.db import transaction

OrganizationNamed = Callable[[int], None]

_CALLBACKS: list[OrganizationNamed] = []


def register(callback: OrganizationNamed) -> None:
    if callback not in _CALLBACKS:
        _CALLBACKS.append(callback)


def callbacks() -> list[OrganizationNamed]:
    return list(_CALLBACKS)


def organization_named(organization_id: int) -> None:
    """Tell every registered app, once the transaction commits, that this
    organization's name or aliases changed. Each callback runs on its own: one
    that fails is logged and leaves the organization as committed (the
    ``link_organizations`` command links what it missed)."""
    for callback in callbacks():
        # A function of its own, not a functools.partial: Django's robust
        # on_commit names a failing callback by its __qualname__, which a
        # partial lacks, and would raise in its own error handler.
        def run(callback: OrganizationNamed = callback) -> None:
            callback(organization_id)

        run.__qualname__ = f"organization_named:{getattr(callback, '__qualname__', callback)}"
        transaction.on_commit(run, robust=True)
