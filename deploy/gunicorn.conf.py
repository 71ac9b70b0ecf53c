"""gunicorn settings, from the environment (see deploy/README.md, "Configuration")."""

import multiprocessing
import os
import shutil
from pathlib import Path

bind = os.environ.get("WEB_BIND", "127.0.0.1:8000")
workers = int(os.environ.get("WEB_CONCURRENCY", min(multiprocessing.cpu_count() * 2 + 1, 8)))
threads = int(os.environ.get("WEB_THREADS", "1"))
timeout = int(os.environ.get("WEB_TIMEOUT", "60"))
graceful_timeout = 30
keepalive = 5
# gunicorn 25+ opens a control socket under $HOME for gunicornc; nothing here uses it,
# and the image's user may not write there. Reload with SIGHUP instead.
control_socket_disable = True
accesslog = os.environ.get("WEB_ACCESS_LOG", "-")
errorlog = "-"
# Hides credentials in query strings, referers and auth headers (tracker/redact.py).
logger_class = "tracker.redact.GunicornLogger"
# One JSON object per request, with the request id the application set.
access_log_format = (
    '{"time": "%(t)s", "logger": "access", "remote": "%(h)s", "method": "%(m)s", '
    '"path": "%(U)s", "query": "%(q)s", "status": %(s)s, "bytes": "%(B)s", '
    '"duration_ms": %(M)s, "user_agent": "%(a)s", "request_id": "%({x-request-id}o)s"}'
)

# Workers share Prometheus counters through files in this folder.
_metrics_dir = Path(
    os.environ.setdefault(
        "PROMETHEUS_MULTIPROC_DIR",
        str(Path(os.environ.get("TRACKER_VAR_DIR", "var")).resolve() / "prometheus"),
    )
)


def on_starting(server):
    shutil.rmtree(_metrics_dir, ignore_errors=True)
    _metrics_dir.mkdir(parents=True, exist_ok=True)


def child_exit(server, worker):
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)
