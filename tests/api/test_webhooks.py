"""The webhook subscriptions on the API: staff only, the secret shown once, the
deliveries' log, changing, pausing, resuming and ending one, and the lists' query
budgets."""

from __future__ import annotations

import pytest
from django.utils import timezone

from letters.models import WebhookDelivery, WebhookSubscription
from letters.webhooks import webhook_subscription_create
from tests.factories import make_letter

pytestmark = pytest.mark.django_db

URL = "https://newsroom.example.org/hooks/tracker"


def _subscription(**fields) -> WebhookSubscription:
    return webhook_subscription_create(url=URL, **fields)[0]


def _delivery(subscription: WebhookSubscription, number: int, **fields) -> WebhookDelivery:
    fields = {
        "outcome": "delivered",
        "attempts": 1,
        "status_code": 200,
        "duration_ms": 12,
        **fields,
    }
    return WebhookDelivery.objects.create(
        subscription=subscription,
        first_event_id=f"c{number}",
        last_event_id=f"c{number + 9}",
        event_count=10,
        **fields,
    )


def test_anonymous_callers_and_accounts_without_staff_are_refused(anon, reader):
    subscription = _subscription()

    assert anon.get("/api/webhooks/").status_code == 401
    assert anon.post("/api/webhooks/", {"url": URL}).status_code == 401
    assert reader.get("/api/webhooks/").status_code == 403
    assert reader.get(f"/api/webhooks/{subscription.pk}/deliveries/").status_code == 403
    assert reader.post("/api/webhooks/", {"url": URL}).status_code == 403
    detail = f"/api/webhooks/{subscription.pk}/"
    assert reader.patch(detail, {"url": URL + "/x"}, format="json").status_code == 403
    assert reader.delete(detail).status_code == 403
    assert reader.post(f"{detail}pause/").status_code == 403
    assert WebhookSubscription.objects.count() == 1
    subscription.refresh_from_db()
    assert (subscription.url, subscription.active, subscription.ended_at) == (URL, True, None)


def test_staff_create_a_subscription_and_are_shown_its_secret_once(staff_client):
    letter = make_letter(slug="ostp-ai-copyright-2025")

    response = staff_client.post(
        "/api/webhooks/",
        {"url": URL, "events": ["signature_added", "gone"], "letters": [letter.slug]},
        format="json",
    )

    assert response.status_code == 201
    data = response.json()
    subscription = WebhookSubscription.objects.get()
    assert data["secret"] == subscription.secret and len(data["secret"]) == 64
    assert response.headers["Location"] == data["api_url"]
    assert (data["url"], data["events"], data["letters"]) == (
        URL,
        ["gone", "signature_added"],
        [letter.slug],
    )
    assert data["created_by"] == "staff"
    assert subscription.created_by == staff_client.user
    detail = staff_client.get(data["api_url"])
    listed = staff_client.get("/api/webhooks/")
    for answer in (detail, listed):
        assert answer.status_code == 200
        assert subscription.secret not in answer.content.decode()
        assert "secret" not in answer.content.decode()


def test_a_subscription_to_a_private_address_or_an_unknown_letter_is_refused(
    staff_client, settings
):
    settings.TRACKER_ALLOW_PRIVATE_SOURCES = False
    settings.TRACKER_SOURCE_ALLOWED_NETWORKS = []

    private = staff_client.post("/api/webhooks/", {"url": "http://10.0.0.5/hook"}, format="json")
    unknown = staff_client.post(
        "/api/webhooks/", {"url": URL, "letters": ["no-such-letter"]}, format="json"
    )
    kind = staff_client.post("/api/webhooks/", {"url": URL, "events": ["signed"]}, format="json")

    assert private.status_code == 400
    assert "10.0.0.5 is a private address" in private.json()["message"]
    assert unknown.status_code == 400
    assert "no-such-letter" in str(unknown.json())
    assert kind.status_code == 400
    assert not WebhookSubscription.objects.exists()


def test_a_subscriptions_deliveries_are_listed_newest_first_with_their_attempts(staff_client):
    subscription = _subscription()
    _delivery(subscription, 1)
    _delivery(subscription, 11, outcome="pending", attempts=3, status_code=503, error="HTTP 503")
    _delivery(_subscription(), 21)

    response = staff_client.get(f"/api/webhooks/{subscription.pk}/deliveries/")

    assert response.status_code == 200
    data = response.json()
    assert data["count"] == 2
    assert [(d["first_event_id"], d["outcome"], d["attempts"]) for d in data["results"]] == [
        ("c11", "pending", 3),
        ("c1", "delivered", 1),
    ]
    assert data["results"][0]["error"] == "HTTP 503"
    assert data["results"][1]["duration_ms"] == 12


def test_a_paused_subscription_is_resumed(staff_client):
    subscription = _subscription()
    WebhookSubscription.objects.filter(pk=subscription.pk).update(
        active=False, paused_at=timezone.now(), paused_reason="No delivery succeeded in 24 h."
    )

    response = staff_client.post(f"/api/webhooks/{subscription.pk}/resume/")

    assert response.status_code == 200
    assert response.json()["active"] is True
    subscription.refresh_from_db()
    assert (subscription.active, subscription.paused_reason, subscription.paused_at) == (
        True,
        "",
        None,
    )


@pytest.mark.parametrize("page_size", [2, 5])
def test_the_subscription_list_costs_four_queries_whatever_the_page_size(
    staff_client, django_assert_num_queries, page_size
):
    letters = [make_letter() for _ in range(3)]
    for _ in range(6):
        _subscription(letters=letters)

    # 1. the token and its user, 2. count, 3. the page of subscriptions with their
    # creators, 4. their letters
    with django_assert_num_queries(4):
        response = staff_client.get("/api/webhooks/", {"page_size": page_size})

    assert len(response.json()["results"]) == page_size
    assert len(response.json()["results"][0]["letters"]) == 3


@pytest.mark.parametrize("page_size", [2, 5])
def test_the_delivery_list_costs_five_queries_whatever_the_page_size(
    staff_client, django_assert_num_queries, page_size
):
    subscription = _subscription()
    for number in range(6):
        _delivery(subscription, number * 10)

    # 1. the token and its user, 2. the subscription, 3. its letters (prefetched with
    # it), 4. the count of deliveries, 5. the page of deliveries
    with django_assert_num_queries(5):
        response = staff_client.get(
            f"/api/webhooks/{subscription.pk}/deliveries/", {"page_size": page_size}
        )

    assert len(response.json()["results"]) == page_size
    assert response.json()["next"]


def test_a_subscription_is_changed_in_place_and_keeps_its_secret_and_position(staff_client):
    first, second = make_letter(slug="first-letter"), make_letter(slug="second-letter")
    subscription = _subscription(events=["gone"], letters=[first])
    WebhookSubscription.objects.filter(pk=subscription.pk).update(last_event_id="c41")
    detail = f"/api/webhooks/{subscription.pk}/"

    moved = staff_client.patch(detail, {"url": URL + "/v2"}, format="json")
    refiltered = staff_client.patch(
        detail, {"events": ["status_changed", "gone"], "letters": [second.slug]}, format="json"
    )

    assert moved.status_code == 200 and refiltered.status_code == 200
    data = refiltered.json()
    assert (data["url"], data["events"], data["letters"]) == (
        URL + "/v2",
        ["gone", "status_changed"],
        [second.slug],
    )
    assert "secret" not in data
    changed = WebhookSubscription.objects.get(pk=subscription.pk)
    assert (changed.secret, changed.last_event_id, changed.cursor_at) == (
        subscription.secret,
        "c41",
        subscription.cursor_at,
    )


def test_a_change_the_rules_refuse_changes_nothing(staff_client, settings):
    settings.TRACKER_ALLOW_PRIVATE_SOURCES = False
    settings.TRACKER_SOURCE_ALLOWED_NETWORKS = []
    letter = make_letter(slug="kept-letter")
    subscription = _subscription(events=["gone"], letters=[letter])
    detail = f"/api/webhooks/{subscription.pk}/"

    private = staff_client.patch(detail, {"url": "http://10.0.0.5/hook"}, format="json")
    kind = staff_client.patch(detail, {"url": URL + "/v2", "events": ["signed"]}, format="json")
    unknown = staff_client.patch(detail, {"letters": ["no-such-letter"]}, format="json")

    assert (private.status_code, kind.status_code, unknown.status_code) == (400, 400, 400)
    assert "10.0.0.5 is a private address" in private.json()["message"]
    kept = WebhookSubscription.objects.get(pk=subscription.pk)
    assert (kept.url, kept.events, [letter.slug for letter in kept.letters.all()]) == (
        URL,
        ["gone"],
        ["kept-letter"],
    )


def test_a_subscription_is_paused_on_request_and_resumed(staff_client):
    subscription = _subscription()
    detail = f"/api/webhooks/{subscription.pk}/"

    paused = staff_client.post(f"{detail}pause/")

    assert paused.status_code == 200
    assert (paused.json()["active"], paused.json()["paused_reason"]) == (False, "Paused by staff.")
    assert paused.json()["paused_at"]
    assert staff_client.post(f"{detail}resume/").json()["active"] is True


def test_unsubscribing_ends_a_subscription_and_keeps_it_with_its_deliveries(staff_client):
    subscription = _subscription()
    _delivery(subscription, 1)
    detail = f"/api/webhooks/{subscription.pk}/"

    ended = staff_client.delete(detail)
    again = staff_client.delete(detail)

    assert ended.status_code == 200
    data = ended.json()
    assert (data["active"], data["paused_reason"]) == (False, "Ended by staff.")
    assert data["ended_at"] and again.json()["ended_at"] == data["ended_at"]
    assert staff_client.get(detail).json()["ended_at"] == data["ended_at"]
    assert [row["id"] for row in staff_client.get("/api/webhooks/").json()["results"]] == [
        subscription.pk
    ]
    assert staff_client.get(f"{detail}deliveries/").json()["count"] == 1
    # An ended subscription is not resumed, paused or changed: subscribe again instead.
    for refused in (
        staff_client.post(f"{detail}resume/"),
        staff_client.post(f"{detail}pause/"),
        staff_client.patch(detail, {"url": URL + "/v2"}, format="json"),
    ):
        assert refused.status_code == 409
        assert "ended" in refused.json()["message"]
    kept = WebhookSubscription.objects.get(pk=subscription.pk)
    assert (kept.active, kept.url) == (False, URL)
