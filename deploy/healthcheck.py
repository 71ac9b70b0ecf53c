"""The image's health check, right for whichever process the container runs.

    python deploy/healthcheck.py [web [PATH] | worker [NODE] | beat | none]

With no argument it looks at the container's main process (PID 1, or the one
its init started): gunicorn is
checked as web on /health/live, a Celery worker and beat as below, anything else
(a one-off such as migrate) has nothing to check and passes.

- web: asks gunicorn at WEB_BIND (a wildcard bind is asked on loopback) with the
  first name of ALLOWED_HOSTS as Host, so Django's host check lets it through.
- worker: a Celery ping of this container's worker only (NODE, default
  celery@HOSTNAME), so one live worker does not vouch for a dead one.
- beat: beat touched its heartbeat file recently (tracker/beat.py).

Exits 0 when healthy, 1 otherwise, printing why.
"""

from __future__ import annotations

import http.client
import os
import socket
import sys
from pathlib import Path

APP_DIR = Path(__file__).resolve().parent.parent
TIMEOUT = 4.0


class UnixHTTPConnection(http.client.HTTPConnection):
    def __init__(self, path: str, timeout: float) -> None:
        super().__init__("localhost", timeout=timeout)
        self.socket_path = path

    def connect(self) -> None:
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(self.timeout)
        self.sock.connect(self.socket_path)


def web_connection(bind: str) -> http.client.HTTPConnection:
    """A connection to what gunicorn's --bind names (its first address when several)."""
    bind = bind.split(",")[0].strip()
    if bind.startswith("unix:"):
        return UnixHTTPConnection(bind.removeprefix("unix:"), TIMEOUT)
    host, _, port = bind.rpartition(":")
    if not host:  # a bare port, or a bare host with gunicorn's default port
        host, port = (bind, "8000") if not bind.isdigit() else ("", bind)
    host = host.strip("[]")
    host = {"": "127.0.0.1", "0.0.0.0": "127.0.0.1", "::": "::1"}.get(host, host)  # noqa: S104
    return http.client.HTTPConnection(host, int(port), timeout=TIMEOUT)


def host_header() -> str:
    for name in os.environ.get("ALLOWED_HOSTS", "").split(","):
        name = name.strip().lstrip(".")
        if name and name != "*":
            return name
    return "localhost"


def check_web(path: str = "/health/live") -> str:
    connection = web_connection(os.environ.get("WEB_BIND", "127.0.0.1:8000"))
    try:
        connection.request("GET", path, headers={"Host": host_header()})
        response = connection.getresponse()
        body = response.read(2000)
    finally:
        connection.close()
    if response.status != 200:
        raise RuntimeError(f"{path} answered {response.status}: {body.decode(errors='replace')}")
    return f"{path} answered 200"


def django_setup() -> None:
    sys.path.insert(0, str(APP_DIR))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tracker.settings.production")
    import django

    django.setup()


def check_worker(node: str = "") -> str:
    django_setup()
    from tracker.celery import app

    node = node or f"celery@{socket.gethostname()}"
    answers = app.control.ping(destination=[node], timeout=TIMEOUT)
    if not any(node in answer for answer in answers):
        raise RuntimeError(f"worker {node} did not answer a ping within {TIMEOUT:g} s")
    return f"worker {node} answered"


def check_beat() -> str:
    django_setup()
    from tracker.beat import beat_heartbeat_age, beat_heartbeat_limit, beat_heartbeat_path

    age, limit = beat_heartbeat_age(), beat_heartbeat_limit()
    if age is None:
        raise RuntimeError(f"beat has not ticked: {beat_heartbeat_path()} does not exist")
    if age > limit:
        raise RuntimeError(f"beat last ticked {age:.0f} s ago (more than {limit:g} s)")
    return f"beat ticked {age:.0f} s ago"


def process_role(pid: int) -> str | None:
    try:
        words = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return None
    names = {Path(word.decode(errors="replace")).name for word in words if word}
    if "gunicorn" in names:
        return "web"
    if "celery" in names:
        return "beat" if "beat" in names else "worker" if "worker" in names else "none"
    return None


def main_process_role() -> str:
    """The role of the container's main process: PID 1, or the first process an init
    (compose's `init: true`) started."""
    pids = sorted(int(entry.name) for entry in Path("/proc").iterdir() if entry.name.isdigit())
    for pid in pids[:3]:
        role = process_role(pid)
        if role:
            return role
    return "none"


def main(argv: list[str]) -> int:
    role, *args = argv or [main_process_role()]
    checks = {"web": check_web, "worker": check_worker, "beat": check_beat}
    if role == "none":
        print("nothing to check: the container runs no service")
        return 0
    if role not in checks:
        print(f"unknown role {role!r}: give web, worker, beat or none", file=sys.stderr)
        return 2
    try:
        print(checks[role](*args))
    except Exception as exc:  # any failure is an unhealthy answer, with its reason
        print(f"unhealthy: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
