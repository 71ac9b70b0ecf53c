"""The Celery application shared by the web process, workers and beat."""

import os
import signal
import threading
from pathlib import Path

from celery import Celery
from celery.signals import worker_ready

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


@worker_ready.connect
def _begin_shutdown_at_once(sender: object = None, **kwargs) -> None:
    """Begin a warm shutdown as soon as SIGTERM arrives, not after the broker
    poll in progress ends (up to 2 s, then the timer's tick): with the soft
    shutdown that follows (``CELERY_WORKER_SOFT_SHUTDOWN_TIMEOUT``), a worker told
    to stop finishes or hands back its job within the few seconds a supervisor
    (honcho: 5 s) waits before killing it."""
    from celery.concurrency.prefork import TaskPool as ProcessPool

    if isinstance(getattr(sender, "pool", None), ProcessPool):
        # Its pool's processes, signalled too by a supervisor that signals the whole
        # group, must be let go first: Celery's own warm shutdown does that.
        return
    previous = signal.getsignal(signal.SIGTERM)
    if not callable(previous) or threading.current_thread() is not threading.main_thread():
        return

    def handler(signum: int, frame: object) -> None:
        previous(signum, frame)
        from celery.worker import state

        state.maybe_shutdown()  # raises WorkerShutdown in the consumer's loop, now

    signal.signal(signal.SIGTERM, handler)
