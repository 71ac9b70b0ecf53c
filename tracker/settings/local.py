"""Local use: ``make run`` and ``manage.py`` without DJANGO_SETTINGS_MODULE."""

from tracker.settings.base import *  # noqa: F403
