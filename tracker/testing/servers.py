"""Servers on loopback for tests and benchmarks: free ports, and a real HTTP
server that serves signatory lists to syncs (ETags and 304s, redirects, slow or
held answers, and a log of what it was asked)."""

from __future__ import annotations

import hashlib
import socket
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for_port(port: int, seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), 0.5):
                return
        except OSError:
            time.sleep(0.1)
    raise TimeoutError(f"nothing listens on port {port} after {seconds} s")


@dataclass
class Document:
    body: bytes
    content_type: str = "text/csv"
    status: int = 200
    etag: bool = True
    delay: float = 0.0
    # When set, the server sends the headers and half the body, then waits for it.
    hold: threading.Event | None = None
    location: str = ""

    @property
    def etag_value(self) -> str:
        return '"' + hashlib.sha256(self.body).hexdigest()[:20] + '"'


@dataclass
class Request:
    path: str
    headers: dict[str, str] = field(default_factory=dict)


class FeedServer:
    def __init__(self, host: str = "127.0.0.1") -> None:
        self.documents: dict[str, Document] = {}
        self.requests: list[Request] = []
        self.arrived = threading.Event()
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: object) -> None:  # noqa: A002
                pass

            def do_GET(self) -> None:  # noqa: N802 - the http.server hook's name
                server.requests.append(Request(self.path, dict(self.headers.items())))
                server.arrived.set()
                document = server.documents.get(self.path)
                if document is None:
                    self._answer(404, b"not here", "text/plain")
                    return
                if document.delay:
                    time.sleep(document.delay)
                if document.location:
                    self.send_response(document.status)
                    self.send_header("Location", document.location)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                if document.etag and self.headers.get("If-None-Match") == document.etag_value:
                    self.send_response(304)
                    self.send_header("ETag", document.etag_value)
                    self.end_headers()
                    return
                headers = {"ETag": document.etag_value} if document.etag else {}
                if document.hold is not None:
                    half = len(document.body) // 2
                    self._start(document.status, len(document.body), document.content_type, headers)
                    self.wfile.write(document.body[:half])
                    self.wfile.flush()
                    document.hold.wait(60)
                    self.wfile.write(document.body[half:])
                    return
                self._answer(document.status, document.body, document.content_type, headers)

            def _start(self, status: int, length: int, content_type: str, headers: dict) -> None:
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(length))
                for name, value in headers.items():
                    self.send_header(name, value)
                self.end_headers()

            def _answer(
                self, status: int, body: bytes, content_type: str, headers: dict | None = None
            ) -> None:
                self._start(status, len(body), content_type, headers or {})
                self.wfile.write(body)

        self.httpd = ThreadingHTTPServer((host, 0), Handler)
        self.httpd.daemon_threads = True
        self.host = host
        self.port = self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def __enter__(self) -> FeedServer:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        for document in self.documents.values():
            if document.hold is not None:
                document.hold.set()
        self.httpd.shutdown()
        self.httpd.server_close()

    def url(self, path: str) -> str:
        return f"http://{self.host}:{self.port}{path}"

    def serve(self, path: str, body: bytes | str, **fields: object) -> Document:
        if isinstance(body, str):
            body = body.encode()
        document = Document(body=body, **fields)  # type: ignore[arg-type]
        self.documents[path] = document
        return document

    def redirect(self, path: str, location: str, status: int = 302) -> None:
        self.documents[path] = Document(body=b"", status=status, location=location)

    def asked(self, path: str) -> list[Request]:
        return [request for request in self.requests if request.path == path]


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes
    at: float


class _QuietServer(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address) -> None:
        # A sender that gave up (a timeout under test) resets the connection.
        pass


class WebhookReceiver:
    """A real HTTP server taking webhook POSTs: it keeps each request (headers
    and raw body) and answers ``status`` (a redirect to ``location`` when set),
    after ``hold`` is set when one is given. It can be stopped and started again
    on the same port, as a receiver that is down for a while."""

    def __init__(self, host: str = "127.0.0.1", port: int | None = None) -> None:
        self.host = host
        self.port = port or free_port()
        self.received: list[Received] = []
        self.arrived = threading.Event()
        self.status = 200
        self.location = ""
        self.hold: threading.Event | None = None
        self.httpd: _QuietServer | None = None
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: object) -> None:  # noqa: A002
                pass

            def do_POST(self) -> None:  # noqa: N802 - the http.server hook's name
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length)
                receiver.received.append(
                    Received(self.path, dict(self.headers.items()), body, time.monotonic())
                )
                receiver.arrived.set()
                if receiver.hold is not None:
                    receiver.hold.wait(120)
                self.send_response(receiver.status)
                if receiver.location:
                    self.send_header("Location", receiver.location)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

        self._handler = Handler

    def start(self) -> WebhookReceiver:
        self.httpd = _QuietServer((self.host, self.port), self._handler)
        self.httpd.daemon_threads = True
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self.hold is not None:
            self.hold.set()
        if self.httpd is not None:
            self.httpd.shutdown()
            self.httpd.server_close()
            self.httpd = None

    def __enter__(self) -> WebhookReceiver:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def url(self, path: str = "/hook") -> str:
        return f"http://{self.host}:{self.port}{path}"
