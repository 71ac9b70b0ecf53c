"""Password guessing is slowed at every login, counted in the suite's own Redis:
after LOGIN_FAILURE_LIMIT failures for one account from one address the next
attempt is refused (even with the right password) for a while, and nobody else
is locked out by it."""

from __future__ import annotations

import time

import pytest
from django.test import Client
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

pytestmark = pytest.mark.django_db

HERE, ELSEWHERE = "203.0.113.10", "198.51.100.20"
EDITOR = {"username": "editor", "password": "editor-password-123"}
STAFF = {"username": "staff", "password": "staff-password-123"}


@pytest.fixture(autouse=True)
def limits(settings):
    settings.LOGIN_FAILURE_LIMIT = 3
    settings.LOGIN_ADDRESS_FAILURE_LIMIT = 5
    settings.LOGIN_LOCKOUT_SECONDS = 900
    # The per-address request throttle has its own test (tests/api/test_plumbing.py).
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {
            **settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"],
            "token": "1000/minute",
        },
    }


def ask_token(address: str, credentials: dict, **headers: str):
    return APIClient(REMOTE_ADDR=address).post(
        "/api/auth/token/", credentials, format="json", **headers
    )


def guess(address: str, username: str = "editor", times: int = 3) -> list[int]:
    wrong = {"username": username, "password": "not-the-password"}
    return [ask_token(address, wrong).status_code for _ in range(times)]


def test_after_the_limit_even_the_right_password_is_refused_for_a_while(editor):
    assert guess(HERE) == [400, 400, 400]

    response = ask_token(HERE, EDITOR)

    assert response.status_code == 429
    body = response.json()
    assert body["code"] == "login_locked"
    assert body["message"] == "Too many failed logins from this address; try again in 15 minutes."
    assert 890 < int(response["Retry-After"]) <= 900
    assert not Token.objects.filter(user=editor).exists()


def test_a_locked_account_and_address_lock_out_nobody_else(editor, staff_user):
    guess(HERE)

    assert ask_token(HERE, STAFF).status_code == 200  # another account, same address
    assert ask_token(ELSEWHERE, EDITOR).status_code == 200  # same account, elsewhere
    assert ask_token(HERE, EDITOR).status_code == 429


def test_a_success_clears_the_account_s_failures(editor):
    assert guess(HERE, times=2) == [400, 400]
    assert ask_token(HERE, EDITOR).status_code == 200

    assert guess(HERE, times=2) == [400, 400]
    assert ask_token(HERE, EDITOR).status_code == 200


def test_one_address_guessing_many_accounts_is_stopped(editor, staff_user):
    for username in ("ana", "bob", "cy", "dee", "eve"):
        guess(HERE, username, times=1)

    assert ask_token(HERE, STAFF).status_code == 429
    assert ask_token(ELSEWHERE, STAFF).status_code == 200


def test_a_forged_forwarded_for_header_does_not_escape_the_lock(editor):
    guess(HERE)

    response = ask_token(HERE, EDITOR, HTTP_X_FORWARDED_FOR="192.0.2.77")

    assert response.status_code == 429


def test_the_lock_ends_when_its_time_is_up(editor, settings):
    settings.LOGIN_LOCKOUT_SECONDS = 1
    guess(HERE)
    assert ask_token(HERE, EDITOR).status_code == 429

    time.sleep(1.2)

    assert ask_token(HERE, EDITOR).status_code == 200


# --- The admin and the browsable API's login ----------------------------------


def admin_login(address: str, credentials: dict):
    browser = Client(REMOTE_ADDR=address)
    response = browser.post("/admin/login/?next=/admin/", credentials)
    return browser, response


def test_the_admin_login_is_limited_the_same_way(editor, staff_user):
    for _ in range(3):
        _, response = admin_login(HERE, {"username": "editor", "password": "guess"})
        assert response.status_code == 200  # the form again

    browser, refused = admin_login(HERE, EDITOR)
    _, other = admin_login(HERE, STAFF)
    _, elsewhere = admin_login(ELSEWHERE, EDITOR)

    assert refused.status_code == 429
    assert b"Too many failed logins" in refused.content
    assert browser.get("/admin/").status_code == 302  # not logged in
    assert other.status_code == 302 and other["Location"] == "/admin/"
    assert elsewhere.status_code == 302


def test_failures_at_the_admin_count_for_the_token_endpoint_too(editor):
    for _ in range(3):
        admin_login(HERE, {"username": "editor", "password": "guess"})

    assert ask_token(HERE, EDITOR).status_code == 429


def test_the_browsable_api_login_checks_no_password_while_locked(editor):
    guess(HERE)
    browser = Client(REMOTE_ADDR=HERE)

    response = browser.post("/api-auth/login/", EDITOR)

    assert response.status_code == 200  # the form again, not the redirect of a success
    assert "_auth_user_id" not in browser.session
