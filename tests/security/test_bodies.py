"""Request bodies: every body over the cap is answered 413 whatever its content
type, before it is read; a chunked body is read."""

from __future__ import annotations

import json
import socket
import time

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from rest_framework.authtoken.models import Token

from letters.models import Letter
from tests.processes import service_env, web_server

BOUNDARY = "tracker-boundary"


def multipart(fields: dict[str, str], file_bytes: int = 0) -> bytes:
    parts = [
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'
        for name, value in fields.items()
    ]
    body = "".join(parts).encode()
    if file_bytes:
        body += (
            (
                f"--{BOUNDARY}\r\n"
                'Content-Disposition: form-data; name="file"; filename="big.bin"\r\n'
                "Content-Type: application/octet-stream\r\n\r\n"
            ).encode()
            + b"x" * file_bytes
            + b"\r\n"
        )
    return body + f"--{BOUNDARY}--\r\n".encode()


MULTIPART = f"multipart/form-data; boundary={BOUNDARY}"


@pytest.fixture
def editor_client(editor):
    from rest_framework.test import APIClient

    client = APIClient()
    client.force_authenticate(editor)
    return client


@pytest.mark.django_db
def test_a_multipart_body_over_the_cap_is_answered_413_and_stores_nothing(editor_client, settings):
    body = multipart({"title": "Big", "slug": "big"}, settings.DATA_UPLOAD_MAX_MEMORY_SIZE + 1)

    response = editor_client.generic("POST", "/api/letters/", body, content_type=MULTIPART)

    assert response.status_code == 413, response.content[:300]
    assert response.json()["code"] == "too_large"
    assert not Letter.objects.exists()


@pytest.mark.django_db
def test_a_multipart_login_over_the_cap_is_answered_413(client, settings):
    body = multipart({"username": "nobody"}, settings.DATA_UPLOAD_MAX_MEMORY_SIZE + 1)

    response = client.generic("POST", "/api/auth/token/", body, content_type=MULTIPART)

    assert response.status_code == 413
    assert response.json()["code"] == "too_large"


@pytest.mark.django_db
def test_a_form_over_the_cap_to_the_admin_is_answered_413(admin_client_staff, settings):
    body = "title=" + "x" * (settings.DATA_UPLOAD_MAX_MEMORY_SIZE + 1)

    response = admin_client_staff.generic(
        "POST", "/admin/letters/letter/add/", body, "application/x-www-form-urlencoded"
    )

    assert response.status_code == 413
    assert not Letter.objects.exists()


# --- gunicorn, reached directly ---------------------------------------------------


def exchange(base: str, head: str, body: bytes, *, wait: float = 20) -> bytes:
    """Send a request (``head`` without its blank line) and ``body`` on a raw
    socket; return what the server answered within ``wait`` seconds."""
    host, port = base.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=wait) as conn:
        conn.sendall(head.encode() + b"\r\n\r\n" + body)
        answer = b""
        deadline = time.monotonic() + wait
        while b"\r\n\r\n" not in answer and time.monotonic() < deadline:
            try:
                chunk = conn.recv(65536)
            except TimeoutError:
                break
            if not chunk:
                break
            answer += chunk
        return answer


def chunked(data: bytes, size: int = 7) -> bytes:
    pieces = [data[i : i + size] for i in range(0, len(data), size)]
    return b"".join(f"{len(p):x}\r\n".encode() + p + b"\r\n" for p in pieces) + b"0\r\n\r\n"


@pytest.fixture
def served(settings, tmp_path):
    user = get_user_model().objects.create_user(username="writer", is_staff=True)
    user.user_permissions.set(Permission.objects.filter(content_type__app_label="letters"))
    token = Token.objects.create(user=user).key
    database = settings.DATABASES["default"]
    env = service_env(
        DATABASE_URL=f"postgres://{database['USER']}@{database['HOST']}:{database['PORT']}/"
        f"{database['NAME']}",
        REDIS_URL=settings.REDIS_URL,
        TRACKER_VAR_DIR=str(tmp_path),
        DEBUG="0",
    )
    with web_server(env) as (base, _log):
        yield base, token


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_gunicorn_answers_a_60_mb_multipart_upload_413_before_reading_it(served):
    base, token = served
    declared = 60 * 1024 * 1024
    head = (
        "POST /api/letters/ HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        f"Authorization: Token {token}\r\nContent-Type: {MULTIPART}\r\n"
        f"Content-Length: {declared}"
    )
    # Only the first kilobyte is sent: an answer can come only from a server that
    # does not wait for the rest.
    answer = exchange(base, head, multipart({"title": "Big", "slug": "big"})[:1024])

    assert answer.startswith(b"HTTP/1.1 413"), answer[:300]
    assert not Letter.objects.exists()


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_gunicorn_reads_a_chunked_json_body(served):
    base, token = served
    body = json.dumps({"title": "Chunked letter", "slug": "chunked"}).encode()
    head = (
        "POST /api/letters/ HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n"
        f"Authorization: Token {token}\r\nContent-Type: application/json\r\n"
        "Transfer-Encoding: chunked"
    )

    answer = exchange(base, head, chunked(body))

    assert answer.startswith(b"HTTP/1.1 201"), answer[:500]
    assert Letter.objects.get().title == "Chunked letter"


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_gunicorn_answers_a_chunked_body_over_the_cap_413(served, settings):
    base, token = served
    body = json.dumps(
        {"title": "x" * (settings.DATA_UPLOAD_MAX_MEMORY_SIZE + 1), "slug": "big"}
    ).encode()
    head = (
        "POST /api/letters/ HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n"
        f"Authorization: Token {token}\r\nContent-Type: application/json\r\n"
        "Transfer-Encoding: chunked"
    )

    answer = exchange(base, head, chunked(body, 64 * 1024))

    assert answer.startswith(b"HTTP/1.1 413"), answer[:500]
    assert not Letter.objects.exists()


@pytest.mark.django_db
def test_a_chunked_body_a_server_cannot_hand_over_is_answered_411(editor_client):
    # Django's test server, like runserver, does not mark the input as terminated.
    response = editor_client.generic(
        "POST",
        "/api/letters/",
        json.dumps({"title": "Chunked", "slug": "chunked"}),
        content_type="application/json",
        HTTP_TRANSFER_ENCODING="chunked",
        CONTENT_LENGTH="",
    )

    assert response.status_code == 411, response.content[:300]
    assert response.json()["code"] == "length_required"
    assert not Letter.objects.exists()
