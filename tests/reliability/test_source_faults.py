"""Sources that misbehave: too slow, failing, redirecting in a loop, sending
without end, or sending something else than the list. Each run fails with a
message that says what happened, within the fetch's time limits, and changes
nothing but its own record. (tests/letters/test_sync.py covers a 404, a 503, a
declared size past the cap and malformed files.)"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from letters.models import SyncRun
from letters.sync import fetch as fetch_module
from letters.sync import source_sync
from letters.tasks import source_sync as source_sync_task
from tests.factories import make_letter, make_source
from tests.letters.test_sync import snapshot

pytestmark = pytest.mark.django_db

LIST = b"name,affiliation\nCate Blanchett,Dirty Films\nAva DuVernay,ARRAY\n"
HTML_PAGE = (
    b"<!doctype html><html><body><h1>Please sign in</h1><p>Session expired</p></body></html>"
)
PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 8
READ_TIMEOUT = 1
DEADLINE = 3


class Misbehaving(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    stop = threading.Event()
    asked: list[str] = []

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002
        pass

    def do_GET(self) -> None:  # noqa: N802 - the http.server hook's name
        self.asked.append(self.path)
        path, _, query = self.path.partition("?")
        if path == "/list.csv":
            self._whole(200, LIST, "text/csv")
        elif path == "/slow.csv":
            # Nothing at all until well past the read timeout.
            self.stop.wait(READ_TIMEOUT * 4)
            self._whole(200, LIST, "text/csv")
        elif path == "/trickle.csv":
            # A byte now and then: every read within the timeout, the whole never done.
            self._chunked_start("text/csv")
            while not self.stop.wait(0.2):
                self._chunk(b"x")
        elif path == "/error.csv":
            self._whole(500, b"Internal error", "text/plain")
        elif path.startswith("/loop/"):
            step = int(path.rsplit("/", 1)[1])
            self.send_response(302)
            self.send_header("Location", f"/loop/{(step + 1) % 2}")
            self.send_header("Content-Length", "0")
            self.end_headers()
        elif path == "/endless.csv":
            self._chunked_start("text/csv")
            line = b"Endless Signatory,Nowhere\n" * 2000
            try:
                self._chunk(b"name,affiliation\n")
                while not self.stop.is_set():
                    self._chunk(line)
            except (BrokenPipeError, ConnectionResetError):
                return
        elif path == "/typed":
            kind = query.removeprefix("type=").replace("%2F", "/")
            self._whole(200, PNG if kind.startswith("image/") else HTML_PAGE, kind)
        else:
            self._whole(404, b"not here", "text/plain")

    def _whole(self, status: int, body: bytes, content_type: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _chunked_start(self, content_type: str) -> None:
        self.send_response(200)
        self.send_header("Content-Type", content_type)
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()

    def _chunk(self, data: bytes) -> None:
        self.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
        self.wfile.flush()


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Misbehaving)
    httpd.daemon_threads = True
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    Misbehaving.stop.set()
    httpd.shutdown()
    httpd.server_close()


@pytest.fixture(autouse=True)
def limits(settings, monkeypatch):
    settings.TRACKER_ALLOW_PRIVATE_SOURCES = True
    settings.TRACKER_SYNC_READ_TIMEOUT = READ_TIMEOUT
    settings.TRACKER_SYNC_CONNECT_TIMEOUT = READ_TIMEOUT
    settings.TRACKER_SYNC_MAX_BYTES = 1024 * 1024
    monkeypatch.setattr(fetch_module, "OVERALL_DEADLINE_SECONDS", DEADLINE)


def synced_source(server: str, url: str, format: str = "csv"):  # noqa: A002 - the field's name
    """A source with one good run behind it, so that a failure has something to
    spoil, now pointing at ``url``."""
    source = make_source(make_letter(), url=f"{server}/list.csv", format="csv")
    assert source_sync(source_id=source.pk).outcome == "succeeded"
    type(source).objects.filter(pk=source.pk).update(url=url, format=format)
    return source


def timed_sync(source) -> tuple[SyncRun, float]:
    started = time.monotonic()
    run = source_sync(source_id=source.pk)
    return run, time.monotonic() - started


@pytest.mark.parametrize(
    ("path", "message", "most_seconds"),
    [
        ("/slow.csv", "Timed out fetching", READ_TIMEOUT + 2),
        ("/trickle.csv", f"took longer than {DEADLINE} s", DEADLINE + READ_TIMEOUT + 2),
        ("/error.csv", "HTTP 500 Internal Server Error from", 2),
        ("/loop/0", "More than 5 redirects from", 2),
        ("/endless.csv", "larger than the 1,048,576 byte cap", 5),
    ],
)
def test_a_source_that_misbehaves_fails_the_run_in_time_and_changes_nothing(
    server, path, message, most_seconds
):
    source = synced_source(server, f"{server}{path}")
    before = snapshot()

    run, seconds = timed_sync(source)

    assert (run.outcome, run.finished_at is not None) == ("failed", True), run.error
    assert message in run.error
    assert seconds < most_seconds, (seconds, run.error)
    assert snapshot() == before


@pytest.mark.parametrize(
    ("format", "content_type"),
    [("csv", "text/html; charset=utf-8"), ("json", "text/html"), ("csv", "image/png")],
)
def test_a_source_answering_with_another_kind_of_content_fails_the_run(
    server,
    format,  # noqa: A002
    content_type,
):
    source = synced_source(server, f"{server}/typed?type={content_type.split(';')[0]}", format)
    before = snapshot()

    run, seconds = timed_sync(source)

    assert run.outcome == "failed", run.error
    media = content_type.split(";")[0]
    assert f"answered with {media}" in run.error and format.upper() in run.error
    assert seconds < 2
    assert snapshot() == before


def test_a_worker_gives_up_on_a_source_slower_than_the_timeout_after_its_retries(server):
    source = make_source(make_letter(), url=f"{server}/slow.csv", format="csv")
    run = SyncRun.objects.create(source=source, outcome="queued")
    started = time.monotonic()

    source_sync_task.apply(args=(source.pk, run.pk))

    seconds = time.monotonic() - started
    run.refresh_from_db()
    attempts = source_sync_task.max_retries + 1
    assert (run.outcome, run.attempts) == ("failed", attempts)
    assert "Timed out fetching" in run.error
    assert seconds < attempts * (READ_TIMEOUT + 1), seconds
