"""Production: HTTPS, secure cookies, HSTS; a strong SECRET_KEY and DATABASE_URL
required, DEBUG refused (``manage.py check --deploy`` passes with no warning)."""

import os

from django.core.exceptions import ImproperlyConfigured

for _name in ("SECRET_KEY", "DATABASE_URL"):
    if not os.environ.get(_name):
        raise ImproperlyConfigured(f"{_name} must be set in production.")

from tracker.settings.base import *  # noqa: E402, F403

if DEBUG:  # noqa: F405
    raise ImproperlyConfigured(
        "DEBUG=1 is refused by the production settings: error pages would show settings, "
        "source and data. Debug with DJANGO_SETTINGS_MODULE=tracker.settings.local."
    )
# Django's own measure of a strong key (check --deploy, security.W009).
if (
    len(SECRET_KEY) < 50  # noqa: F405
    or len(set(SECRET_KEY)) < 5  # noqa: F405
    or SECRET_KEY.startswith("django-insecure-")  # noqa: F405
    or "change-me" in SECRET_KEY  # noqa: F405
):
    raise ImproperlyConfigured(
        "SECRET_KEY is too weak for production: give at least 50 random characters, such as "
        'the output of python -c "import secrets; print(secrets.token_urlsafe(50))".'
    )

SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", default=True)  # noqa: F405
SESSION_COOKIE_SECURE = True
CSRF_COOKIE_SECURE = True
SESSION_COOKIE_HTTPONLY = True
SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 31536000, minimum=0)  # noqa: F405
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", default=True)  # noqa: F405
SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", default=True)  # noqa: F405
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
# Load balancers and container health checks speak plain HTTP to the process.
SECURE_REDIRECT_EXEMPT = [r"^health/"]
