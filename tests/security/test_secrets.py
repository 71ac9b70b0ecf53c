"""Passwords and tokens never reach the logs, the error pages or the answers:
everything the root logger and gunicorn's access log write is captured and
searched for them, with DEBUG off."""

from __future__ import annotations

import io
import logging
import re

import httpx
import pytest
from django.contrib.auth import get_user_model
from django.test import Client
from rest_framework.authtoken.models import Token

from tests.processes import get, service_env, web_server
from tracker.redact import redact_query

PASSWORD = "correct-horse-battery-staple-71"
WRONG_PASSWORD = "wrong-horse-battery-staple-93"
BAD_TOKEN = "0123456789abcdef0123456789abcdef01234567"


@pytest.fixture
def log_output(settings):
    """What the configured console handler writes, in the production (JSON) format."""
    settings.DEBUG = False
    root = logging.getLogger()
    # The LOGGING setting's handler, not the ones pytest adds to capture logs.
    consoles = [h for h in root.handlers if type(h) is logging.StreamHandler]
    assert consoles, "the LOGGING setting configures a console handler on the root logger"
    stream = io.StringIO()
    previous = [handler.setStream(stream) for handler in consoles]
    yield stream
    for handler, old in zip(consoles, previous, strict=True):
        handler.setStream(old)


@pytest.fixture
def account(db):
    user = get_user_model().objects.create_user(
        username="writer", password=PASSWORD, is_staff=True, is_superuser=True
    )
    return user, Token.objects.create(user=user).key


def secrets_in(text: str, *secrets: str) -> list[str]:
    return [secret for secret in secrets if secret in text]


def test_a_failed_api_login_shows_the_password_nowhere(log_output, account):
    response = Client().post(
        "/api/auth/token/",
        {"username": "writer", "password": WRONG_PASSWORD},
        content_type="application/json",
    )

    assert response.status_code == 400
    assert secrets_in(response.content.decode() + log_output.getvalue(), WRONG_PASSWORD) == []


def test_a_failed_admin_login_shows_the_password_nowhere(log_output, account):
    response = Client().post(
        "/admin/login/?next=/admin/", {"username": "writer", "password": WRONG_PASSWORD}
    )

    assert response.status_code == 200  # the form again, with the error
    assert b"Please enter the correct username and password" in response.content
    assert secrets_in(response.content.decode() + log_output.getvalue(), WRONG_PASSWORD) == []


def test_a_bad_token_and_a_good_one_show_in_no_log(log_output, account):
    _, token = account
    bad = Client().get("/api/sources/", HTTP_AUTHORIZATION=f"Token {BAD_TOKEN}")
    good = Client().get("/api/sources/", HTTP_AUTHORIZATION=f"Token {token}")

    assert (bad.status_code, good.status_code) == (401, 200)
    output = bad.content.decode() + log_output.getvalue()
    assert secrets_in(output, BAD_TOKEN, token) == []


def test_a_token_put_in_the_query_string_is_refused_and_kept_out_of_the_log(log_output, account):
    _, token = account

    response = Client().get(f"/api/sources/?token={token}&password={PASSWORD}&page=1")

    assert response.status_code == 401
    logged = log_output.getvalue()
    assert "Unauthorized" in logged
    assert "/api/sources/?token=[redacted]&password=[redacted]&page=1" in logged
    assert secrets_in(response.content.decode() + logged, token, PASSWORD) == []


def test_a_server_error_shows_neither_the_password_nor_the_token(log_output, account, settings):
    settings.ROOT_URLCONF = "tests.security.failing_urls"
    _, token = account
    client = Client(raise_request_exception=False)

    response = client.post(
        f"/api/failing/?access_token={token}",
        {"username": "writer", "password": PASSWORD},
        HTTP_AUTHORIZATION=f"Token {token}",
    )

    assert response.status_code == 500
    body = response.json()
    assert body["code"] == "server_error" and body["status"] == 500
    assert response["X-Request-ID"] in body["message"]
    logged = log_output.getvalue()
    assert "Internal Server Error: /api/failing/" in logged
    assert "RuntimeError" in logged  # the traceback is there, for whoever fixes it
    assert secrets_in(response.content.decode() + logged, PASSWORD, token) == []


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("page=2&ordering=name", "page=2&ordering=name"),
        ("token=abc&page=2", "token=[redacted]&page=2"),
        ("api_key=abc&keyword=x", "api_key=[redacted]&keyword=x"),
        ("access%5Ftoken=abc", "access%5Ftoken=[redacted]"),
        (
            "X-Amz-Signature=abc&signed_after=2025-01-01",
            "X-Amz-Signature=[redacted]&signed_after=2025-01-01",
        ),
        ("password=", "password="),
    ],
)
def test_it_redacts_the_values_of_credential_parameters_only(query, expected):
    assert redact_query(query) == expected


# --- gunicorn, as deployed ------------------------------------------------------


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_gunicorn_logs_show_no_password_or_token(settings, tmp_path):
    user = get_user_model().objects.create_user(username="writer", password=PASSWORD, is_staff=True)
    token = Token.objects.create(user=user).key
    database = settings.DATABASES["default"]
    env = service_env(
        DATABASE_URL=f"postgres://{database['USER']}@{database['HOST']}:{database['PORT']}/"
        f"{database['NAME']}",
        REDIS_URL=settings.REDIS_URL,
        TRACKER_VAR_DIR=str(tmp_path),
        DEBUG="0",
    )
    with web_server(env) as (base, log):
        login = httpx.post(
            f"{base}/api/auth/token/",
            json={"username": "writer", "password": WRONG_PASSWORD},
            # The first request loads the application and hashes a password.
            timeout=120,
        )
        assert login.status_code == 400
        assert get(f"{base}/api/letters/", {"Authorization": f"Token {BAD_TOKEN}"})[0] == 401
        assert get(f"{base}/api/letters/", {"Authorization": f"Token {token}"})[0] == 200
        status, _, _ = get(
            f"{base}/api/sources/?token={token}&page=1",
            {"Referer": f"https://example.org/?password={PASSWORD}", "Cookie": f"s={token}"},
        )
        assert status == 401
    logged = log.read_text()

    access = [line for line in logged.splitlines() if '"logger": "access"' in line]
    assert len(access) >= 4
    assert any('"query": "token=[redacted]&page=1"' in line for line in access), access
    assert re.search(r"Unauthorized: /api/sources/", logged)
    assert secrets_in(logged, WRONG_PASSWORD, PASSWORD, BAD_TOKEN, token) == []
