"""Webhooks on real processes: Celery beat queues the batches and a real worker
POSTs them to a receiver on loopback, while the receiver is down for a while,
while the worker is killed in the middle of a request, and when the receiver
redirects to a private address. The test reads what the receiver got and the
deliveries' log; it checks every signature by computing the HMAC itself."""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import signal
import threading
import time

import pytest

from letters.models import WebhookDelivery, WebhookSubscription
from letters.webhooks import webhook_subscription_create
from tests.factories import make_letter, make_signature
from tests.reliability.conftest import (
    Process,
    current_database_url,
    process_env,
    start_worker,
    wait_until,
)
from tests.reliability.test_faults import start_beat
from tracker.testing.servers import WebhookReceiver

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

# Beat looks every second; a failed request is tried again after 1 s, then 2 s.
FAST = {
    "WEBHOOK_BATCH_SECONDS": "1",
    "WEBHOOK_RETRY_BASE_SECONDS": "1",
    "WEBHOOK_RETRY_MAX_SECONDS": "2",
    "WEBHOOK_TIMEOUT_SECONDS": "5",
}


@pytest.fixture
def processes(redis_server, settings):
    """Start workers and beat on the test database and the module's Redis; all
    are stopped at the end."""
    settings.TRACKER_ALLOW_PRIVATE_SOURCES = True
    started: list[Process] = []

    def start(kind: str, **overrides: str) -> Process:
        env = {**process_env(current_database_url(), redis_server.url, **FAST), **overrides}
        if kind == "beat":
            process = start_beat(env, "webhook-beat")
        else:
            process = start_worker(env, "celery", f"webhook-worker-{len(started)}")
        started.append(process)
        return process

    yield start
    for process in started:
        process.stop()


def kill_whole_worker(worker: Process) -> None:
    os.killpg(worker.process.pid, signal.SIGKILL)
    worker.process.wait(30)


def verified_events(receiver: WebhookReceiver, secret: str) -> list[str]:
    """The ids of the events received, request after request, each request's
    signature checked against its raw body."""
    ids = []
    for request in receiver.received:
        expected = hmac.new(secret.encode(), request.body, hashlib.sha256).hexdigest()
        assert request.headers["X-Tracker-Signature"] == f"sha256={expected}"
        body = json.loads(request.body)
        assert str(body["timestamp"]) == request.headers["X-Tracker-Timestamp"]
        ids.extend(event["id"] for event in body["events"])
    return ids


def feed_ids(count: int) -> list[str]:
    """The ids of the first ``count`` events of the change feed, in its order."""
    from letters.changes import Filters, change_page

    events, _ = change_page(filters=Filters(), cursor=None, size=count)
    return [event.id for event in events]


def test_events_sent_while_the_receiver_is_down_arrive_once_in_order_when_it_is_back(
    processes,
):
    receiver = WebhookReceiver()  # not started: nothing listens on its port yet
    subscription, secret = webhook_subscription_create(url=receiver.url())
    letter = make_letter()
    processes("beat")
    processes("worker")
    for number in range(10):
        make_signature(letter, f"Signatory Down{number}")

    # Refused connections, tried again with backoff on the worker.
    wait_until(
        lambda: WebhookDelivery.objects.filter(attempts__gte=3).exists(),
        60,
        lambda: f"no retries: {list(WebhookDelivery.objects.values())}",
    )
    delivery = WebhookDelivery.objects.get()
    assert delivery.outcome == "pending" and delivery.status_code is None
    assert "Cannot send to" in delivery.error
    assert receiver.received == []

    receiver.start()
    try:
        for number in range(10, 20):
            make_signature(letter, f"Signatory Down{number}")
        expected = feed_ids(20)
        wait_until(
            lambda: len(set(verified_events(receiver, secret))) == 20,
            60,
            lambda: f"received {verified_events(receiver, secret)}",
        )
        received = verified_events(receiver, secret)
    finally:
        receiver.stop()

    assert received == expected  # nothing lost, nothing twice, in feed order
    deliveries = list(WebhookDelivery.objects.order_by("pk"))
    assert deliveries[0].pk == delivery.pk and deliveries[0].attempts >= 3
    assert {(d.outcome, d.status_code, d.error) for d in deliveries} == {("delivered", 200, "")}
    assert sum(d.event_count for d in deliveries) == 20
    subscription.refresh_from_db()
    assert subscription.last_event_id == expected[-1]
    assert subscription.active
    # At most one request a batch period (1 s), counted where they arrive.
    arrivals = [request.at for request in receiver.received]
    assert all(b - a > 0.8 for a, b in zip(arrivals, arrivals[1:], strict=False))


def test_a_delivery_whose_worker_is_killed_mid_request_is_completed_by_a_new_worker(
    processes,
):
    with WebhookReceiver() as receiver:
        receiver.hold = threading.Event()  # the first request waits for the kill
        subscription, secret = webhook_subscription_create(url=receiver.url())
        letter = make_letter()
        for number in range(15):
            make_signature(letter, f"Signatory Killed{number}")
        expected = feed_ids(15)
        processes("beat")
        worker = processes("worker")

        assert receiver.arrived.wait(60), "no request reached the receiver"
        kill_whole_worker(worker)
        held, receiver.hold = receiver.hold, None
        held.set()
        delivery = WebhookDelivery.objects.get()
        assert (delivery.outcome, delivery.attempts) == ("pending", 1)

        processes("worker")
        wait_until(
            lambda: WebhookDelivery.objects.filter(outcome="delivered").exists(),
            90,
            lambda: f"not delivered: {list(WebhookDelivery.objects.values())}",
        )
        time.sleep(2)  # a request sent twice would have arrived by now
        received = verified_events(receiver, secret)

    # The killed request and the one that succeeded: the same batch, twice at most.
    assert len(receiver.received) == 2
    assert received == expected + expected
    delivery.refresh_from_db()
    assert (delivery.outcome, delivery.attempts, delivery.event_count) == ("delivered", 2, 15)
    subscription.refresh_from_db()
    assert subscription.last_event_id == expected[-1]


def test_a_redirect_to_a_private_address_is_refused_logged_and_not_followed(processes):
    # Private addresses are refused as in production; the receiver's own address
    # is let through as an allowed network.
    with WebhookReceiver("127.0.0.2") as inside, WebhookReceiver() as receiver:
        receiver.status = 302
        receiver.location = inside.url("/admin-only")
        subscription, _ = webhook_subscription_create(url=receiver.url())
        make_signature(make_letter(), "Signatory Redirected")
        processes("beat", TRACKER_ALLOW_PRIVATE_SOURCES="0")
        processes(
            "worker",
            TRACKER_ALLOW_PRIVATE_SOURCES="0",
            TRACKER_SOURCE_ALLOWED_NETWORKS="127.0.0.1/32",
        )

        # Tried again, each time answered by the redirect, which is never followed.
        wait_until(
            lambda: (
                len(receiver.received) >= 2
                and WebhookDelivery.objects.filter(attempts__gte=2, status_code=302).exists()
            ),
            60,
            lambda: f"no retries: {list(WebhookDelivery.objects.values())}",
        )

        assert inside.received == []
    delivery = WebhookDelivery.objects.get()
    assert delivery.outcome == "pending" and delivery.status_code == 302
    assert f"redirects to {inside.url('/admin-only')}" in delivery.error
    assert "127.0.0.2 is a loopback address" in delivery.error
    subscription = WebhookSubscription.objects.get(pk=subscription.pk)
    assert subscription.last_event_id == "" and subscription.active
