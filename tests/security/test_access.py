"""Who may call what: every API endpoint and method the URL router serves, for
each kind of caller, plus the admin and the operations endpoints.

The endpoints come from the router (drf-spectacular's enumerator, which builds
the schema from it), so an endpoint added without a row in ``POLICIES`` fails
``test_every_endpoint_has_a_policy``, and a row left for a removed endpoint
fails it too.
"""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from drf_spectacular.generators import EndpointEnumerator
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from tests.security.conftest import concrete

pytestmark = pytest.mark.django_db

ROLES = ("anon", "reader", "editor", "staff")

# What each policy answers each caller. Writes are sent with an empty body, so a
# caller let through may still be refused for the body: "passes" is a 2xx, a
# 400 naming what is missing or a 409 (an earlier call of the sweep ended the
# object, such as a webhook subscription), never 401, 403, 404, 405 or a 5xx.
#
#   policy         anon   reader  editor  staff
#   public-read    2xx    2xx     2xx     2xx      letters, signatures, people, organizations
#   staff-read     401    403     2xx     2xx      sources, sync runs, duplicates, match
#                                                  runs, merges, splits
#   model-write    401    403     passes  passes   needs a token and the model permission
#   staff-write    401    403     passes  passes   staff and the model permission
#   open           passes passes  passes  passes   asking for a token
#   docs           2xx    2xx     2xx     2xx      the schema and the interactive docs
EXPECTED = {
    "public-read": ("2xx", "2xx", "2xx", "2xx"),
    "staff-read": ("401", "403", "2xx", "2xx"),
    "model-write": ("401", "403", "passes", "passes"),
    "staff-write": ("401", "403", "passes", "passes"),
    "open": ("passes", "passes", "passes", "passes"),
    "docs": ("2xx", "2xx", "2xx", "2xx"),
}

POLICIES = {
    ("/api/auth/token/", "POST"): "open",
    ("/api/schema/", "GET"): "docs",
    ("/api/docs/", "GET"): "docs",
    ("/api/redoc/", "GET"): "docs",
    ("/api/changes/", "GET"): "public-read",
    # Reconciliation: anonymous like the reads; a batch or a preview without its
    # queries or id is a 400 naming it.
    ("/api/reconcile/", "GET"): "public-read",
    ("/api/reconcile/", "POST"): "open",
    ("/api/reconcile/suggest/entity/", "GET"): "public-read",
    ("/api/reconcile/preview/", "GET"): "open",
    ("/api/letters/", "GET"): "public-read",
    ("/api/letters/", "POST"): "model-write",
    ("/api/letters/{slug}/", "GET"): "public-read",
    ("/api/letters/{slug}/", "PUT"): "model-write",
    ("/api/letters/{slug}/", "PATCH"): "model-write",
    ("/api/letters/{slug}/overlap/", "GET"): "public-read",
    ("/api/letters/{letter_slug}/signatures/", "GET"): "public-read",
    ("/api/letters/{letter_slug}/signatures/", "POST"): "model-write",
    ("/api/letters/{letter_slug}/versions/", "GET"): "public-read",
    ("/api/letters/{letter_slug}/versions/{number}/", "GET"): "public-read",
    ("/api/letters/{letter_slug}/versions/{number}/list.csv", "GET"): "public-read",
    ("/api/signatures/", "GET"): "public-read",
    ("/api/signatures/{pk}/", "GET"): "public-read",
    ("/api/signatures/{pk}/status/", "POST"): "model-write",
    ("/api/people/", "GET"): "public-read",
    ("/api/people/{pk}/", "GET"): "public-read",
    ("/api/people/{pk}/split/", "POST"): "staff-write",
    ("/api/people/{pk}/timeline/", "GET"): "public-read",
    ("/api/organizations/", "GET"): "public-read",
    ("/api/organizations/", "POST"): "model-write",
    ("/api/organizations/{id_or_slug}/", "GET"): "public-read",
    ("/api/organizations/{id_or_slug}/", "PUT"): "model-write",
    ("/api/organizations/{id_or_slug}/", "PATCH"): "model-write",
    ("/api/organizations/{id_or_slug}/signatories/", "GET"): "public-read",
    ("/api/sources/", "GET"): "staff-read",
    ("/api/sources/", "POST"): "staff-write",
    ("/api/sources/{pk}/", "GET"): "staff-read",
    ("/api/sources/{pk}/", "PUT"): "staff-write",
    ("/api/sources/{pk}/", "PATCH"): "staff-write",
    ("/api/sources/{pk}/sync/", "POST"): "staff-write",
    ("/api/sync-runs/", "GET"): "staff-read",
    ("/api/sync-runs/{pk}/", "GET"): "staff-read",
    ("/api/duplicates/", "GET"): "staff-read",
    ("/api/duplicates/{pk}/", "GET"): "staff-read",
    ("/api/duplicates/{pk}/decide/", "POST"): "staff-write",
    ("/api/match-runs/", "GET"): "staff-read",
    ("/api/match-runs/", "POST"): "staff-write",
    ("/api/match-runs/{pk}/", "GET"): "staff-read",
    ("/api/merges/", "GET"): "staff-read",
    ("/api/merges/{pk}/", "GET"): "staff-read",
    ("/api/merges/{pk}/undo/", "POST"): "staff-write",
    ("/api/splits/", "GET"): "staff-read",
    ("/api/splits/{pk}/", "GET"): "staff-read",
    ("/api/splits/{pk}/undo/", "POST"): "staff-write",
    ("/api/webhooks/", "GET"): "staff-read",
    ("/api/webhooks/", "POST"): "staff-write",
    ("/api/webhooks/{pk}/", "GET"): "staff-read",
    ("/api/webhooks/{pk}/resume/", "POST"): "staff-write",
    ("/api/webhooks/{pk}/", "PATCH"): "staff-write",
    ("/api/webhooks/{pk}/", "DELETE"): "staff-write",
    ("/api/webhooks/{pk}/pause/", "POST"): "staff-write",
    ("/api/webhooks/{pk}/deliveries/", "GET"): "staff-read",
}
METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")


def served_endpoints() -> set[tuple[str, str]]:
    return {(path, method) for path, _, method, _ in EndpointEnumerator().get_api_endpoints()}


def test_every_endpoint_has_a_policy():
    served = served_endpoints()

    assert served - set(POLICIES) == set(), "endpoints without a row in POLICIES"
    assert set(POLICIES) - served == set(), "rows in POLICIES for endpoints that are gone"


@pytest.fixture
def callers(anon, reader, editor_client, staff_client, settings) -> dict[str, APIClient]:
    # Every endpoint is called many times from one address; the throttles have
    # their own tests.
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": dict.fromkeys(("anon", "user", "token"), "100000/minute"),
    }
    return {"anon": anon, "reader": reader, "editor": editor_client, "staff": staff_client}


def answers(client: APIClient, method: str, url: str) -> int:
    return client.generic(method, url, "{}", content_type="application/json").status_code


def status_class(status: int) -> str:
    if status in (401, 403):
        return str(status)
    if 200 <= status < 300:
        return "2xx"
    if status == 400:
        return "400"
    return str(status)


def matches(expected: str, status: int) -> bool:
    if expected == "passes":
        return 200 <= status < 300 or status in (400, 409)
    return status_class(status) == expected


def test_each_caller_gets_what_the_policy_table_says(callers, objects):
    wrong = []
    for (path, method), policy in sorted(POLICIES.items()):
        url = concrete(path, objects)
        for role, expected in zip(ROLES, EXPECTED[policy], strict=True):
            status = answers(callers[role], method, url)
            if not matches(expected, status):
                wrong.append(f"{role} {method} {url}: {status}, expected {expected} ({policy})")

    assert wrong == []


def test_no_caller_can_use_a_method_an_endpoint_does_not_serve(callers, objects):
    served: dict[str, set[str]] = {}
    for path, method in POLICIES:
        served.setdefault(path, set()).add(method)
    wrong = []
    for path, methods in served.items():
        url = concrete(path, objects)
        for method in set(METHODS) - methods:
            for role in ROLES:
                status = answers(callers[role], method, url)
                # The gate may answer first (401/403) for callers who could not
                # write anyway; nobody gets further than 405.
                if status not in (401, 403, 405):
                    wrong.append(f"{role} {method} {url}: {status}")

    assert wrong == []


# --- Tokens -------------------------------------------------------------------


def test_a_deleted_token_is_refused_at_once(editor_client):
    assert editor_client.post("/api/letters/", {"title": "A", "slug": "a"}).status_code == 201

    Token.objects.filter(key=editor_client.token).delete()
    response = editor_client.get("/api/sources/")

    assert response.status_code == 401
    assert response.json()["code"] == "authentication_failed"
    assert editor_client.post("/api/letters/", {"title": "B", "slug": "b"}).status_code == 401


def test_a_deactivated_account_s_token_is_refused_at_once(editor_client):
    assert editor_client.get("/api/sources/").status_code == 200

    get_user_model().objects.filter(pk=editor_client.user.pk).update(is_active=False)
    response = editor_client.get("/api/sources/")

    assert response.status_code == 401
    assert response.json()["code"] == "authentication_failed"


def test_a_token_sent_in_the_query_string_is_not_accepted(anon, staff_client):
    response = anon.get(f"/api/sources/?token={staff_client.token}")

    assert response.status_code == 401


# --- Admin and operations -----------------------------------------------------


@pytest.fixture
def logged_in(client, staff_user, editor, reader_user):
    """Browser sessions, as the admin is used."""

    def session(role: str):
        browser = type(client)()
        user = {"reader": reader_user, "editor": editor, "staff": staff_user}.get(role)
        if user is not None:
            browser.force_login(user)
        return browser

    return session


ADMIN_PAGES = {
    # page                          anon   reader  editor  staff
    "/admin/": ("login", "login", "200", "200"),
    "/admin/letters/letter/": ("login", "login", "200", "200"),
    "/admin/people/person/": ("login", "login", "200", "200"),
    "/admin/auth/user/": ("login", "login", "403", "200"),
    "/admin/authtoken/tokenproxy/": ("login", "login", "403", "200"),
}


@pytest.mark.parametrize("page", ADMIN_PAGES)
def test_the_admin_answers_staff_with_the_permission_and_sends_others_to_log_in(logged_in, page):
    for role, expected in zip(ROLES, ADMIN_PAGES[page], strict=True):
        response = logged_in(role).get(page)
        if expected == "login":
            assert response.status_code == 302, (role, page)
            assert response["Location"].startswith("/admin/login/"), (role, page)
        else:
            assert str(response.status_code) == expected, (role, page)


def test_the_health_checks_answer_anyone_and_reveal_nothing_private(anon):
    live = anon.get("/health/live")
    ready = anon.get("/health/ready")

    assert live.status_code == 200
    assert ready.status_code in (200, 503)
    assert "password" not in ready.content.decode().lower()


def test_metrics_answer_staff_and_local_scrapers_but_not_proxied_strangers(
    anon, logged_in, settings
):
    settings.METRICS_TOKEN = "scrape-token-0123456789"
    proxied = {"HTTP_X_FORWARDED_FOR": "203.0.113.9"}

    assert anon.get("/metrics", REMOTE_ADDR="203.0.113.9").status_code == 403
    assert anon.get("/metrics", **proxied).status_code == 403
    assert logged_in("reader").get("/metrics", **proxied).status_code == 403
    assert logged_in("staff").get("/metrics", **proxied).status_code == 200
    assert anon.get("/metrics").status_code == 200  # unproxied, from 127.0.0.1
    bearer = {"HTTP_AUTHORIZATION": "Bearer scrape-token-0123456789"}
    assert anon.get("/metrics", REMOTE_ADDR="203.0.113.9", **bearer).status_code == 200
    wrong = {"HTTP_AUTHORIZATION": "Bearer scrape-token-0123456789x"}
    assert anon.get("/metrics", REMOTE_ADDR="203.0.113.9", **wrong).status_code == 403


def test_the_api_root_and_browsable_login_are_open_to_anyone(anon):
    assert anon.get("/api/").status_code == 200
    assert anon.get("/api-auth/login/").status_code == 200
