"""The matcher's weights for this deployment.

``people.matching`` stays free of Django; this module gives it the decision
thresholds set in the settings (``MATCHING_MERGE_AT``, ``MATCHING_REVIEW_AT``).
"""

from __future__ import annotations

from dataclasses import replace

from django.conf import settings

from people.matching.scoring import DEFAULT_WEIGHTS, Weights


def run_weights() -> Weights:
    """The default weights with the merge and review thresholds of the settings."""
    return replace(
        DEFAULT_WEIGHTS,
        merge_at=float(settings.MATCHING_MERGE_AT),
        review_at=float(settings.MATCHING_REVIEW_AT),
    )
