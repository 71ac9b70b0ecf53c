"""Webhook deliveries in this process, to a real HTTP receiver on loopback: what
a batch carries, how it is signed, the batch period, retries, pausing, and the
address rules. tests/reliability/test_webhooks.py runs them on real workers."""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
from datetime import timedelta

import pytest
from django.utils import timezone

from letters import webhooks
from letters.models import Signature, WebhookDelivery, WebhookSubscription
from letters.services import signature_change_status
from tests.factories import make_letter, make_signature
from tracker.errors import DomainError
from tracker.testing.servers import WebhookReceiver

pytestmark = pytest.mark.django_db


@pytest.fixture
def receiver(private_sources_allowed):
    with WebhookReceiver() as server:
        yield server


def subscribe(url: str, **fields) -> tuple[WebhookSubscription, str]:
    return webhooks.webhook_subscription_create(url=url, **fields)


def deliver(subscription: WebhookSubscription) -> float | None:
    retry_in = webhooks.webhook_deliver(subscription_id=subscription.pk)
    subscription.refresh_from_db()
    return retry_in


def next_period(subscription: WebhookSubscription) -> None:
    """As if the batch period (and any retry wait) had passed."""
    WebhookSubscription.objects.filter(pk=subscription.pk).update(
        last_request_at=timezone.now() - timedelta(days=1), next_attempt_at=None
    )


def body_of(received) -> dict:
    return json.loads(received.body)


def test_a_batch_carries_every_new_event_in_feed_order_signed_with_the_secret(receiver):
    letter = make_letter()
    subscription, secret = subscribe(receiver.url())
    first = make_signature(letter, "Ava DuVernay")
    make_signature(letter, "Cate Blanchett")
    signature_change_status(signature=first, status=Signature.Status.VERIFIED, reason="Called.")

    assert deliver(subscription) is None

    [request] = receiver.received
    expected = "sha256=" + hmac.new(secret.encode(), request.body, hashlib.sha256).hexdigest()
    assert request.headers["X-Tracker-Signature"] == expected
    body = body_of(request)
    assert body["subscription"] == subscription.pk
    assert str(body["timestamp"]) == request.headers["X-Tracker-Timestamp"]
    assert [(e["kind"], e["person"]["name"]) for e in body["events"]] == [
        ("signature_added", "Ava DuVernay"),
        ("signature_added", "Cate Blanchett"),
        ("status_changed", "Ava DuVernay"),
    ]
    assert body["events"][0]["letter"]["api_url"].endswith(f"/api/letters/{letter.slug}/")
    delivery = WebhookDelivery.objects.get(subscription=subscription)
    assert (delivery.outcome, delivery.event_count, delivery.attempts, delivery.status_code) == (
        "delivered",
        3,
        1,
        200,
    )
    assert delivery.last_event_id == body["events"][-1]["id"] == subscription.last_event_id
    assert delivery.duration_ms is not None


def test_a_batch_shows_each_event_as_the_change_feed_does(receiver, client):
    letter = make_letter()
    subscription, _ = subscribe(receiver.url())
    make_signature(letter, "Ava DuVernay")

    deliver(subscription)

    [event] = body_of(receiver.received[0])["events"]
    [fed] = client.get("/api/changes/", {"letter": letter.slug}).json()["results"]
    assert event == {
        **fed,
        "letter": {**fed["letter"], "api_url": event["letter"]["api_url"]},
        "signature": {**fed["signature"], "api_url": event["signature"]["api_url"]},
        "person": {**fed["person"], "api_url": event["person"]["api_url"]},
    }
    assert event["person"]["api_url"] == fed["person"]["api_url"].replace(
        "http://testserver", "http://127.0.0.1:8000"
    )


def test_events_from_before_the_subscription_are_not_sent(receiver):
    letter = make_letter()
    make_signature(letter, "Ava DuVernay")
    subscription, _ = subscribe(receiver.url())

    assert deliver(subscription) is None
    assert receiver.received == []
    assert not WebhookDelivery.objects.exists()


def test_a_subscription_gets_at_most_one_request_per_batch_period(receiver, settings):
    settings.WEBHOOK_BATCH_SECONDS = 60
    letter = make_letter()
    subscription, _ = subscribe(receiver.url())
    make_signature(letter, "Ava DuVernay")
    deliver(subscription)
    make_signature(letter, "Cate Blanchett")

    wait = deliver(subscription)

    assert 55 < wait <= 60
    assert len(receiver.received) == 1
    assert webhooks.webhook_subscriptions_due() == []
    next_period(subscription)
    assert webhooks.webhook_subscriptions_due() == [subscription.pk]
    deliver(subscription)
    names = [e["person"]["name"] for r in receiver.received for e in body_of(r)["events"]]
    assert names == ["Ava DuVernay", "Cate Blanchett"]


def test_a_failed_delivery_keeps_the_cursor_and_is_sent_again_with_what_came_since(
    receiver, settings
):
    settings.WEBHOOK_RETRY_BASE_SECONDS = 30
    letter = make_letter()
    subscription, _ = subscribe(receiver.url())
    make_signature(letter, "Ava DuVernay")
    receiver.status = 503

    retry_in = deliver(subscription)

    assert retry_in == 30
    delivery = WebhookDelivery.objects.get()
    assert (delivery.outcome, delivery.status_code, delivery.attempts) == ("pending", 503, 1)
    assert "503" in delivery.error
    assert subscription.last_event_id == ""
    assert subscription.next_attempt_at > timezone.now() + timedelta(seconds=25)
    # Not before its retry time, even with the batch period over.
    WebhookSubscription.objects.filter(pk=subscription.pk).update(
        last_request_at=timezone.now() - timedelta(days=1)
    )
    assert webhooks.webhook_subscriptions_due() == []
    assert deliver(subscription) is None
    assert len(receiver.received) == 1

    make_signature(letter, "Cate Blanchett")
    receiver.status = 200
    next_period(subscription)
    assert deliver(subscription) is None

    delivery.refresh_from_db()
    assert (delivery.outcome, delivery.attempts, delivery.event_count) == ("delivered", 2, 2)
    first, second = (body_of(r)["events"] for r in receiver.received)
    assert [e["id"] for e in second[:1]] == [e["id"] for e in first]
    assert subscription.last_event_id == second[-1]["id"]
    assert WebhookDelivery.objects.count() == 1


def test_the_retry_wait_doubles_up_to_its_cap(receiver, settings):
    settings.WEBHOOK_RETRY_BASE_SECONDS = 10
    settings.WEBHOOK_RETRY_MAX_SECONDS = 35
    subscription, _ = subscribe(receiver.url())
    make_signature(make_letter(), "Ava DuVernay")
    receiver.status = 500

    waits = []
    for _ in range(4):
        waits.append(deliver(subscription))
        next_period(subscription)

    assert waits == [10, 20, 35, 35]
    assert WebhookDelivery.objects.get().attempts == 4


def test_a_subscription_failing_for_a_day_is_paused_with_the_reason(receiver):
    subscription, _ = subscribe(receiver.url())
    make_signature(make_letter(), "Ava DuVernay")
    receiver.status = 500
    deliver(subscription)
    WebhookDelivery.objects.update(created_at=timezone.now() - timedelta(hours=24))
    next_period(subscription)

    assert deliver(subscription) is None

    assert not subscription.active
    assert "No delivery succeeded in 24 h (2 attempts" in subscription.paused_reason
    assert "HTTP 500" in subscription.paused_reason
    assert WebhookDelivery.objects.get().outcome == "failed"
    assert webhooks.webhook_subscriptions_due() == []
    assert deliver(subscription) is None
    assert len(receiver.received) == 2


def test_a_resumed_subscription_is_sent_what_it_missed(receiver):
    letter = make_letter()
    subscription, _ = subscribe(receiver.url())
    make_signature(letter, "Ava DuVernay")
    receiver.status = 500
    deliver(subscription)
    WebhookDelivery.objects.update(created_at=timezone.now() - timedelta(hours=25))
    next_period(subscription)
    deliver(subscription)
    make_signature(letter, "Cate Blanchett")
    receiver.status = 200

    webhooks.webhook_subscription_resume(subscription=subscription)
    next_period(subscription)
    assert webhooks.webhook_subscriptions_due() == [subscription.pk]
    deliver(subscription)

    events = body_of(receiver.received[-1])["events"]
    assert [e["person"]["name"] for e in events] == ["Ava DuVernay", "Cate Blanchett"]
    assert list(WebhookDelivery.objects.order_by("pk").values_list("outcome", flat=True)) == [
        "failed",
        "delivered",
    ]
    assert subscription.active and subscription.paused_reason == ""


def test_a_subscription_is_sent_only_its_kinds_and_letters(receiver):
    watched, other = make_letter(), make_letter()
    subscription, _ = subscribe(receiver.url(), events=["status_changed"], letters=[watched])
    mine = make_signature(watched, "Ava DuVernay")
    theirs = make_signature(other, "Cate Blanchett")
    signature_change_status(signature=mine, status=Signature.Status.VERIFIED, reason="Called.")
    signature_change_status(signature=theirs, status=Signature.Status.VERIFIED, reason="Called.")

    deliver(subscription)

    [event] = body_of(receiver.received[0])["events"]
    assert (event["kind"], event["person"]["name"]) == ("status_changed", "Ava DuVernay")


def test_a_subscription_with_nothing_new_is_not_due_and_sends_nothing(receiver):
    subscription, _ = subscribe(receiver.url())
    make_signature(make_letter(), "Ava DuVernay")
    deliver(subscription)
    next_period(subscription)

    assert webhooks.webhook_subscriptions_due() == []
    assert deliver(subscription) is None
    assert len(receiver.received) == 1


def test_a_batch_holds_at_most_the_configured_number_of_events(receiver, settings):
    settings.WEBHOOK_MAX_EVENTS = 2
    letter = make_letter()
    subscription, _ = subscribe(receiver.url())
    for name in ("Ava DuVernay", "Cate Blanchett", "Paul McCartney"):
        make_signature(letter, name)

    deliver(subscription)
    next_period(subscription)
    deliver(subscription)

    sizes = [len(body_of(r)["events"]) for r in receiver.received]
    assert sizes == [2, 1]


def test_a_subscription_on_a_private_address_is_refused(settings):
    settings.TRACKER_ALLOW_PRIVATE_SOURCES = False
    settings.TRACKER_SOURCE_ALLOWED_NETWORKS = []

    with pytest.raises(DomainError, match="127.0.0.1 is a loopback address") as refused:
        subscribe("http://127.0.0.1:9/hook")

    assert refused.value.field == "url"
    assert not WebhookSubscription.objects.exists()


def test_an_unknown_kind_is_refused(receiver):
    with pytest.raises(DomainError, match="signed is not a change-feed kind"):
        subscribe(receiver.url(), events=["signed"])


def test_a_receiver_redirecting_to_a_private_address_is_refused_logged_and_not_followed(
    settings,
):
    # The receiver's own address is let through as an allowed network; private
    # addresses are otherwise refused, as in production.
    settings.TRACKER_ALLOW_PRIVATE_SOURCES = False
    settings.TRACKER_SOURCE_ALLOWED_NETWORKS = ["127.0.0.1/32"]
    with WebhookReceiver("127.0.0.2") as inside, WebhookReceiver() as receiver:
        receiver.status = 307
        receiver.location = inside.url("/internal")
        subscription, _ = subscribe(receiver.url())
        make_signature(make_letter(), "Ava DuVernay")

        assert deliver(subscription) is not None

        assert len(receiver.received) == 1
        assert inside.received == []
    delivery = WebhookDelivery.objects.get()
    assert delivery.status_code == 307
    assert delivery.outcome == "pending"
    assert f"redirects to {inside.url('/internal')}" in delivery.error
    assert "127.0.0.2 is a loopback address" in delivery.error
    assert "redirects are not followed" in delivery.error
    assert subscription.last_event_id == ""


def test_a_subscription_whose_address_became_private_is_not_contacted(settings):
    settings.TRACKER_ALLOW_PRIVATE_SOURCES = True
    with WebhookReceiver() as receiver:
        subscription, _ = subscribe(receiver.url())
        make_signature(make_letter(), "Ava DuVernay")
        settings.TRACKER_ALLOW_PRIVATE_SOURCES = False

        deliver(subscription)

        assert receiver.received == []
    delivery = WebhookDelivery.objects.get()
    assert delivery.status_code is None
    assert "127.0.0.1 is a loopback address" in delivery.error


def test_a_receiver_that_does_not_answer_in_time_is_a_failed_delivery(receiver, settings):
    settings.WEBHOOK_TIMEOUT_SECONDS = 1
    import threading

    receiver.hold = threading.Event()
    subscription, _ = subscribe(receiver.url())
    make_signature(make_letter(), "Ava DuVernay")

    assert deliver(subscription) is not None

    receiver.hold.set()
    delivery = WebhookDelivery.objects.get()
    assert delivery.status_code is None
    assert "Timed out" in delivery.error
    assert 900 <= delivery.duration_ms < 5000


def test_the_secret_is_never_logged(receiver, caplog):
    caplog.set_level(logging.DEBUG)
    subscription, secret = subscribe(receiver.url())
    make_signature(make_letter(), "Ava DuVernay")
    receiver.status = 500
    deliver(subscription)
    receiver.status = 200
    next_period(subscription)
    deliver(subscription)

    assert len(receiver.received) == 2
    assert caplog.records
    assert secret not in caplog.text


def test_beat_queues_one_delivery_per_subscription_until_a_worker_begins_it(receiver):
    subscription, _ = subscribe(receiver.url())
    make_signature(make_letter(), "Ava DuVernay")

    assert webhooks.webhook_subscriptions_due() == [subscription.pk]
    assert webhooks.webhook_subscriptions_due() == []
    # A queued delivery nobody began within a minute was lost: queued again.
    WebhookSubscription.objects.update(queued_at=timezone.now() - timedelta(minutes=2))
    assert webhooks.webhook_subscriptions_due() == [subscription.pk]

    deliver(subscription)

    assert subscription.queued_at is None
    assert len(receiver.received) == 1


def test_a_paused_or_ended_subscription_is_not_due_and_is_sent_nothing(receiver):
    letter = make_letter()
    paused, _ = subscribe(receiver.url())
    ended, _ = subscribe(receiver.url())
    make_signature(letter, name="Ron Howard")
    assert set(webhooks.webhook_subscriptions_due()) == {paused.pk, ended.pk}
    WebhookSubscription.objects.update(queued_at=None)

    webhooks.webhook_subscription_pause(subscription=paused)
    webhooks.webhook_subscription_end(subscription=ended)

    assert webhooks.webhook_subscriptions_due() == []
    assert (deliver(paused), deliver(ended)) == (None, None)
    assert receiver.received == []
    webhooks.webhook_subscription_resume(subscription=paused)
    assert webhooks.webhook_subscriptions_due() == [paused.pk]
