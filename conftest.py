"""Fixtures shared by every test."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission

# The browser's fixtures (tests/browser.py): Chromium pages, screenshots on failure.
pytest_plugins = ["tests.browser"]


@pytest.fixture
def staff_user(db):
    return get_user_model().objects.create_superuser(
        username="staff", email="staff@example.org", password="staff-password-123"
    )


@pytest.fixture
def editor(db):
    user = get_user_model().objects.create_user(
        username="editor",
        email="editor@example.org",
        password="editor-password-123",
        is_staff=True,
    )
    user.user_permissions.set(
        Permission.objects.filter(content_type__app_label__in=["letters", "people"])
    )
    return user


@pytest.fixture
def admin_client_staff(client, staff_user):
    client.force_login(staff_user)
    return client
