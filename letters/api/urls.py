"""The letters app's resources on the API router."""

from __future__ import annotations

from rest_framework.routers import BaseRouter

from letters.api.views import (
    ChangeViewSet,
    LetterSignatureViewSet,
    LetterVersionViewSet,
    LetterViewSet,
    SignatureViewSet,
    SourceViewSet,
    SyncRunViewSet,
    WebhookSubscriptionViewSet,
)


def register(router: BaseRouter) -> None:
    router.register("letters", LetterViewSet, basename="letter")
    router.register(
        r"letters/(?P<letter_slug>[-a-zA-Z0-9_]{1,200})/signatures",
        LetterSignatureViewSet,
        basename="letter-signature",
    )
    router.register(
        r"letters/(?P<letter_slug>[-a-zA-Z0-9_]{1,200})/versions",
        LetterVersionViewSet,
        basename="letter-version",
    )
    router.register("signatures", SignatureViewSet, basename="signature")
    router.register("changes", ChangeViewSet, basename="change")
    router.register("sources", SourceViewSet, basename="source")
    router.register("sync-runs", SyncRunViewSet, basename="sync-run")
    router.register("webhooks", WebhookSubscriptionViewSet, basename="webhook")
