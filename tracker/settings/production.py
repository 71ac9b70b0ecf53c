"""Production: HTTPS, secure cookies, HSTS; SECRET_KEY and DATABASE_URL required."""

import os

from django.core.exceptions import ImproperlyConfigured

for _name in ("SECRET_KEY", "DATABASE_URL"):
    if not os.environ.get(_name):
        raise ImproperlyConfigured(f"{_name} must be set in production.")

from tracker.settings.base import *  # noqa: E402, F403

SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", default=True)  # noqa: F405
SESSION_COOKIE_SECURE = True
CSRF_COOKIE_SECURE = True
SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 31536000, minimum=0)  # noqa: F405
SECURE_HSTS_INCLUDE_SUBDOMAINS = True
SECURE_HSTS_PRELOAD = True
SECURE_CONTENT_TYPE_NOSNIFF = True
# Load balancers and container health checks speak plain HTTP to the process.
SECURE_REDIRECT_EXEMPT = [r"^health/"]
