"""Fixtures of the sync tests: a letter and a server of its signatory lists."""

from __future__ import annotations

import pytest

from tests.factories import make_letter
from tracker.testing.servers import FeedServer


@pytest.fixture
def private_sources_allowed(settings):
    """The feed server listens on loopback, which sources may not use otherwise."""
    settings.TRACKER_ALLOW_PRIVATE_SOURCES = True
    settings.TRACKER_SOURCE_ALLOWED_NETWORKS = []


@pytest.fixture
def feeds():
    with FeedServer() as server:
        yield server


@pytest.fixture
def letter(db):
    return make_letter(title="AI and copyright", slug="ai-copyright", claimed_count="400+")
