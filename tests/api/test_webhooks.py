"""The webhook subscriptions on the API: staff only, the secret shown once, the
deliveries' log, resume, and the lists' query budgets."""

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
    assert WebhookSubscription.objects.count() == 1


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
