"""Clients for each kind of caller: anonymous, an account without permissions,
an editor (staff with the letters and people permissions) and a superuser."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from django.core.cache import cache
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient


@pytest.fixture(autouse=True)
def _fresh_throttle_counts():
    # Throttle counts live in the cache (this suite's own Redis database).
    cache.clear()
    yield
    cache.clear()


def _client_for(user) -> APIClient:
    client = APIClient()
    token, _ = Token.objects.get_or_create(user=user)
    client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
    client.user = user
    return client


@pytest.fixture
def anon(db) -> APIClient:
    return APIClient()


@pytest.fixture
def reader(db) -> APIClient:
    user = get_user_model().objects.create_user(
        username="reader", email="reader@example.org", password="reader-password-123"
    )
    return _client_for(user)


@pytest.fixture
def editor_client(editor) -> APIClient:
    return _client_for(editor)


@pytest.fixture
def staff_client(staff_user) -> APIClient:
    return _client_for(staff_user)
