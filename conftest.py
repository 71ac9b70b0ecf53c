"""Fixtures shared by every test."""

from __future__ import annotations

import os

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission

# The browser's fixtures (tests/browser.py): Chromium pages, screenshots on failure.
pytest_plugins = ["tests.browser"]


@pytest.fixture(scope="session")
def django_db_setup(django_db_setup):
    """Processes a test starts (workers, servers) read the test settings, which
    take their database from ``TEST_DATABASE_URL``: name the database
    pytest-django created, not the one it was created beside."""
    from tests.processes import current_database_url

    before = os.environ.get("TEST_DATABASE_URL")
    os.environ["TEST_DATABASE_URL"] = current_database_url()
    yield
    if before is None:
        os.environ.pop("TEST_DATABASE_URL", None)
    else:
        os.environ["TEST_DATABASE_URL"] = before


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
