"""Test settings: PostgreSQL and Redis are required, never SQLite in disguise.

The tests use servers of their own, named by ``TEST_DATABASE_URL`` and
``TEST_REDIS_URL``, never the service's ``DATABASE_URL`` and ``REDIS_URL``: some
tests empty their Redis database, which must not be the one a running service
uses. The service's variables are replaced here, so that every process a test
starts inherits the test servers too.
"""

import os

DEFAULT_TEST_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/test"
DEFAULT_TEST_REDIS_URL = "redis://127.0.0.1:6379/15"

os.environ.setdefault("SECRET_KEY", "test-secret-key-not-for-production")
os.environ["DATABASE_URL"] = os.environ.get("TEST_DATABASE_URL") or DEFAULT_TEST_DATABASE_URL
os.environ["REDIS_URL"] = os.environ.get("TEST_REDIS_URL") or DEFAULT_TEST_REDIS_URL

from tracker.settings.base import *  # noqa: E402, F403

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
