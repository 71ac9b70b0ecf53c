"""gunicorn settings, from the environment (see README.md, "Configuration")."""

import multiprocessing
import os

bind = os.environ.get("WEB_BIND", "127.0.0.1:8000")
workers = int(os.environ.get("WEB_CONCURRENCY", min(multiprocessing.cpu_count() * 2 + 1, 8)))
threads = int(os.environ.get("WEB_THREADS", "1"))
timeout = int(os.environ.get("WEB_TIMEOUT", "60"))
graceful_timeout = 30
keepalive = 5
accesslog = os.environ.get("WEB_ACCESS_LOG", "-")
errorlog = "-"
