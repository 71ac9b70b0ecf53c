"""The Celery application shared by the web process, workers and beat."""

import os
from pathlib import Path

from celery import Celery

import tracker.observability  # noqa: F401 - connects the request-id signals

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tracker.settings.local")

app = Celery("tracker")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@app.on_after_configure.connect
def _create_filesystem_broker_folders(sender: Celery, **kwargs) -> None:
    """The embedded file-system broker needs its folders before the first message."""
    options = sender.conf.broker_transport_options or {}
    for key in ("data_folder_in", "data_folder_out", "processed_folder", "control_folder"):
        if options.get(key):
            Path(options[key]).mkdir(parents=True, exist_ok=True)
