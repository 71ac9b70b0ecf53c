"""Webhook subscriptions in the admin: added through the service with the
secret shown once, never on their pages after, deliveries shown read-only under
their subscription, and subscriptions paused, resumed and ended by actions."""

from __future__ import annotations

import pytest
from django.urls import reverse
from django.utils import timezone

from letters.models import WebhookDelivery, WebhookSubscription
from letters.webhooks import webhook_subscription_create
from tests.factories import make_letter

pytestmark = pytest.mark.django_db

URL = "https://newsroom.example.org/hooks/tracker"


def test_adding_a_subscription_shows_its_secret_once(admin_client_staff, staff_user):
    letter = make_letter()

    response = admin_client_staff.post(
        reverse("admin:letters_webhooksubscription_add"),
        {"url": URL, "events": ["gone", "back"], "letters": [letter.pk]},
        follow=True,
    )

    subscription = WebhookSubscription.objects.get()
    assert (subscription.url, subscription.events, subscription.created_by) == (
        URL,
        ["back", "gone"],
        staff_user,
    )
    assert list(subscription.letters.all()) == [letter]
    assert f"shown this once (it signs every delivery): {subscription.secret}" in (
        response.content.decode()
    )
    for url in (
        reverse("admin:letters_webhooksubscription_change", args=[subscription.pk]),
        reverse("admin:letters_webhooksubscription_changelist"),
        reverse("admin:letters_webhooksubscription_change", args=[subscription.pk]),
    ):
        page = admin_client_staff.get(url)
        assert page.status_code == 200
        assert subscription.secret not in page.content.decode()


def test_a_private_address_is_refused_on_the_form(admin_client_staff, settings):
    settings.TRACKER_ALLOW_PRIVATE_SOURCES = False
    settings.TRACKER_SOURCE_ALLOWED_NETWORKS = []

    response = admin_client_staff.post(
        reverse("admin:letters_webhooksubscription_add"), {"url": "http://192.168.1.20/hook"}
    )

    assert response.status_code == 200
    assert "192.168.1.20 is a private address" in response.content.decode()
    assert not WebhookSubscription.objects.exists()


def test_a_subscription_shows_its_deliveries_read_only(admin_client_staff):
    subscription, _ = webhook_subscription_create(url=URL)
    WebhookDelivery.objects.create(
        subscription=subscription,
        outcome="pending",
        first_event_id="c41",
        last_event_id="s97",
        event_count=12,
        attempts=3,
        status_code=503,
        duration_ms=87,
        error="HTTP 503 Service Unavailable",
    )

    page = admin_client_staff.get(
        reverse("admin:letters_webhooksubscription_change", args=[subscription.pk])
    )

    content = page.content.decode()
    assert "HTTP 503 Service Unavailable" in content
    assert "s97" in content
    assert 'name="deliveries-0-error"' not in content


def test_the_resume_action_resumes_paused_subscriptions(admin_client_staff):
    subscription, _ = webhook_subscription_create(url=URL)
    WebhookSubscription.objects.filter(pk=subscription.pk).update(
        active=False, paused_at=timezone.now(), paused_reason="No delivery succeeded in 24 h."
    )

    admin_client_staff.post(
        reverse("admin:letters_webhooksubscription_changelist"),
        {"action": "resume", "_selected_action": [subscription.pk]},
    )

    subscription.refresh_from_db()
    assert subscription.active and subscription.paused_reason == ""


def test_the_actions_pause_and_end_subscriptions_and_an_ended_one_is_not_resumed(
    admin_client_staff,
):
    paused, _ = webhook_subscription_create(url=URL)
    ended, _ = webhook_subscription_create(url=URL + "/2")
    changelist = reverse("admin:letters_webhooksubscription_changelist")

    admin_client_staff.post(changelist, {"action": "pause", "_selected_action": [paused.pk]})
    admin_client_staff.post(changelist, {"action": "end", "_selected_action": [ended.pk]})
    admin_client_staff.post(
        changelist, {"action": "resume", "_selected_action": [paused.pk, ended.pk]}
    )

    paused.refresh_from_db()
    ended.refresh_from_db()
    assert (paused.active, paused.ended_at) == (True, None)
    assert (ended.active, ended.paused_reason) == (False, "Ended by staff.")
    assert ended.ended_at is not None
    page = admin_client_staff.get(
        reverse("admin:letters_webhooksubscription_change", args=[ended.pk])
    )
    assert "Ended by staff." in page.content.decode()
