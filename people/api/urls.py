"""The people app's resources on the API router."""

from __future__ import annotations

from rest_framework.routers import BaseRouter

from people.api.reconcile import ReconcileViewSet
from people.api.views import (
    DuplicateViewSet,
    MatchRunViewSet,
    MergeViewSet,
    OrganizationViewSet,
    PersonViewSet,
    SplitViewSet,
)


def register(router: BaseRouter) -> None:
    router.register("people", PersonViewSet, basename="person")
    router.register("organizations", OrganizationViewSet, basename="organization")
    router.register("duplicates", DuplicateViewSet, basename="duplicate")
    router.register("match-runs", MatchRunViewSet, basename="match-run")
    router.register("merges", MergeViewSet, basename="merge")
    router.register("splits", SplitViewSet, basename="split")
    router.register("reconcile", ReconcileViewSet, basename="reconcile")
