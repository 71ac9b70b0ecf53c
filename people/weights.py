"""The matcher's weights for this deployment.

``people.matching`` stays free of Django; this module gives it the decision
thresholds set in the settings (``MATCHING_MERGE_AT``, ``MATCHING_REVIEW_AT``)
and the weights a run learned (stored in ``MatchRun.details["weights"]``).
"""

from __future__ import annotations

from dataclasses import replace

from django.conf import settings

from people.matching.learning import weights_from_params
from people.matching.scoring import DEFAULT_WEIGHTS, Weights


def run_weights() -> Weights:
    """The default weights with the merge and review thresholds of the settings."""
    return replace(
        DEFAULT_WEIGHTS,
        merge_at=float(settings.MATCHING_MERGE_AT),
        review_at=float(settings.MATCHING_REVIEW_AT),
    )


def weights_of_run(details: dict | None) -> Weights:
    """The weights a run scores with: those it learned, or the set ones."""
    return weights_from_params((details or {}).get("weights") or {}, run_weights())


def learned_latest() -> tuple[int, dict] | None:
    """The id and learned parameters of the last run that learned its own."""
    from people.models import MatchRun

    runs = MatchRun.objects.filter(
        status=MatchRun.Status.SUCCEEDED,
        details__weights__learned=True,
        details__weights__from_run__isnull=True,
    )
    found = runs.order_by("-started_at", "-id").values_list("pk", "details").first()
    return (found[0], found[1]["weights"]) if found else None


def weights_current() -> Weights:
    """The weights of the last run that learned them (the set ones before any):
    what a reconciliation query is scored with between runs."""
    latest = learned_latest()
    return weights_from_params(latest[1], run_weights()) if latest else run_weights()
