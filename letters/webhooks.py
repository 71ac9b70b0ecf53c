"""Webhooks: the change feed pushed to subscribers, in signed batches.

Beat looks every ``WEBHOOK_BATCH_SECONDS`` for active subscriptions with events
past their cursor and queues one delivery each. A delivery holds the
subscription's lock, reads the events after the cursor (``change_page``, in
change-feed order, at most ``WEBHOOK_MAX_EVENTS``), POSTs them in one request
and moves the cursor only after a 2xx answer, so that every event is sent at
least once and in order; a receiver drops repeats by the events' ids.

A subscription gets at most one request per batch period. A failed request is
tried again with backoff (``WEBHOOK_RETRY_BASE_SECONDS``, doubling up to
``WEBHOOK_RETRY_MAX_SECONDS``), carrying every event since the last delivery;
when none succeeded for ``WEBHOOK_RETRY_FOR_SECONDS`` (a day) after the first
attempt, the subscription is paused with the reason, and a resume sends what
it missed.

Requests follow the address rules of ``tracker.addresses`` (public addresses
only, checked where the connection is made), with timeouts and a cap on what is
read of the answer. Redirects are never followed: a 3xx answer is a failed
delivery, logged with its ``Location``.

Signing: ``X-Tracker-Signature: sha256=<hex HMAC-SHA256 of the raw body with the
secret>``; ``X-Tracker-Timestamp`` (Unix seconds) is also inside the signed body
as ``timestamp``, so that a replayed body shows its age.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import time
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from urllib.parse import urljoin, urlsplit

import httpx
from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from letters import changes
from letters.models import Letter, WebhookDelivery, WebhookSubscription
from tracker.addresses import (
    AddressRefused,
    AddressUnresolved,
    public_client,
    resolve_public,
    url_check,
    url_validate,
)
from tracker.errors import Conflict, DomainError
from tracker.fields import iso_datetime
from tracker.locks import webhook_lock

SIGNATURE_HEADER = "X-Tracker-Signature"
TIMESTAMP_HEADER = "X-Tracker-Timestamp"
DELIVERY_HEADER = "X-Tracker-Delivery"
USER_AGENT = "signatory-tracker/0.1 (open-letter signatory tracker; webhooks)"
# What is read of a receiver's answer: its status is all that counts.
ANSWER_MAX_BYTES = 64 * 1024


# --- Subscriptions -------------------------------------------------------------


def _check_url(url: str) -> str:
    try:
        url_validate(url)
    except AddressRefused as exc:
        raise DomainError(exc.message, field="url") from None
    return url


def _check_kinds(events: Iterable[str]) -> list[str]:
    kinds = sorted(set(events))
    unknown = [kind for kind in kinds if kind not in changes.KINDS]
    if unknown:
        raise DomainError(
            f"{', '.join(unknown)} is not a change-feed kind; the kinds are "
            f"{', '.join(changes.KINDS)}.",
            field="events",
        )
    return kinds


def webhook_subscription_create(
    *, url: str, events: Iterable[str] = (), letters: Iterable[Letter] = (), by=None
) -> tuple[WebhookSubscription, str]:
    """A subscription receiving the events from now on, and its secret (which is
    stored to sign, and shown to the caller this once)."""
    url = _check_url(url)
    kinds = _check_kinds(events)
    secret = secrets.token_hex(32)
    with transaction.atomic():
        subscription = WebhookSubscription.objects.create(
            url=url, events=kinds, secret=secret, created_by=by, cursor_at=timezone.now()
        )
        subscription.letters.set(list(letters))
    return subscription, secret


def _by(user) -> str:
    """ " by <username>" for a reason written by an account, "" otherwise."""
    return f" by {user.get_username()}" if getattr(user, "pk", None) else ""


def _locked(subscription: WebhookSubscription) -> WebhookSubscription:
    """The subscription under its row lock, refused once it has ended."""
    locked = WebhookSubscription.objects.select_for_update().get(pk=subscription.pk)
    if locked.ended_at is not None:
        raise Conflict(
            f"This subscription ended on {locked.ended_at:%Y-%m-%d %H:%M} UTC; "
            "subscribe again for new deliveries.",
            code="ended",
        )
    return locked


@transaction.atomic
def webhook_subscription_update(
    *,
    subscription: WebhookSubscription,
    url: str | None = None,
    events: Iterable[str] | None = None,
    letters: Iterable[Letter] | None = None,
) -> WebhookSubscription:
    """Change where a subscription's batches go, or which kinds and letters it
    follows (what is not given stays). The next batch starts where the last one
    delivered stopped, read with the new filters; the secret stays."""
    locked = _locked(subscription)
    if url is not None:
        locked.url = _check_url(url)
    if events is not None:
        locked.events = _check_kinds(events)
    locked.save(update_fields=["url", "events"])
    if letters is not None:
        locked.letters.set(list(letters))
    return locked


@transaction.atomic
def webhook_subscription_pause(
    *, subscription: WebhookSubscription, by=None
) -> WebhookSubscription:
    """Stop sending until resumed; what happens meanwhile is sent then."""
    locked = _locked(subscription)
    if locked.active:
        locked.active = False
        locked.paused_at = timezone.now()
        locked.paused_reason = f"Paused{_by(by)}."
        locked.save(update_fields=["active", "paused_at", "paused_reason"])
    return locked


@transaction.atomic
def webhook_subscription_resume(*, subscription: WebhookSubscription) -> WebhookSubscription:
    """Send again to a paused subscription: the events it missed go first."""
    locked = _locked(subscription)
    locked.active = True
    locked.paused_at = None
    locked.paused_reason = ""
    locked.next_attempt_at = None
    locked.save(update_fields=["active", "paused_at", "paused_reason", "next_attempt_at"])
    return locked


@transaction.atomic
def webhook_subscription_end(*, subscription: WebhookSubscription, by=None) -> WebhookSubscription:
    """Unsubscribe: nothing more is sent, ever. The subscription stays, with its
    deliveries, as the record of what was sent; ending it again changes nothing."""
    locked = WebhookSubscription.objects.select_for_update().get(pk=subscription.pk)
    if locked.ended_at is None:
        locked.active = False
        locked.ended_at = timezone.now()
        locked.paused_at = locked.paused_at or locked.ended_at
        locked.paused_reason = f"Ended{_by(by)}."
        locked.save(update_fields=["active", "ended_at", "paused_at", "paused_reason"])
    return locked


def _filters(subscription: WebhookSubscription, letter_ids: Iterable[int]) -> changes.Filters:
    return changes.Filters(
        kinds=frozenset(subscription.events or changes.KINDS), letter_ids=frozenset(letter_ids)
    )


def _cursor(subscription: WebhookSubscription) -> changes.Cursor:
    return changes.Cursor(subscription.cursor_at, subscription.cursor_rank, subscription.cursor_row)


def _rate_wait(subscription: WebhookSubscription, now: datetime) -> float:
    """Seconds before the subscription may be sent its next request: one per batch period."""
    if subscription.last_request_at is None:
        return 0.0
    since = (now - subscription.last_request_at).total_seconds()
    return max(0.0, settings.WEBHOOK_BATCH_SECONDS - since)


def _queued_lost_after() -> timedelta:
    """A queued delivery no worker has begun after this long was lost (the broker
    lost it, or the worker holding it died before it began): beat queues another."""
    return timedelta(seconds=max(60, 6 * settings.WEBHOOK_BATCH_SECONDS))


def webhook_subscriptions_due() -> list[int]:
    """The active subscriptions that may be sent a request now (or within the
    second), have events past their cursor and no delivery queued, by id; they
    are marked queued."""
    now = timezone.now()
    soon = now + timedelta(seconds=1)
    subscriptions = list(
        WebhookSubscription.objects.filter(active=True)
        .filter(Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=soon))
        .filter(
            Q(last_request_at__isnull=True)
            | Q(last_request_at__lte=soon - timedelta(seconds=settings.WEBHOOK_BATCH_SECONDS))
        )
        .filter(Q(queued_at__isnull=True) | Q(queued_at__lt=now - _queued_lost_after()))
        .prefetch_related("letters")
        .order_by("pk")
    )
    if not subscriptions:
        return []
    # Nothing in the whole feed past the earliest cursor: nobody is due (an idle
    # tick costs this one look, whatever the number of subscriptions).
    earliest = min(
        (_cursor(subscription) for subscription in subscriptions),
        key=lambda cursor: (cursor.at, cursor.rank, cursor.id),
    )
    if not changes.change_page(filters=changes.Filters(), cursor=earliest, size=1)[0]:
        return []
    due = []
    for subscription in subscriptions:
        letter_ids = [letter.pk for letter in subscription.letters.all()]
        events, _ = changes.change_page(
            filters=_filters(subscription, letter_ids), cursor=_cursor(subscription), size=1
        )
        if events:
            due.append(subscription.pk)
    WebhookSubscription.objects.filter(pk__in=due).update(queued_at=now)
    return due


# --- Deliveries ------------------------------------------------------------------


def webhook_signature(secret: str, body: bytes) -> str:
    """The value of ``X-Tracker-Signature`` for a body."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def _backoff(attempts: int) -> float:
    base = settings.WEBHOOK_RETRY_BASE_SECONDS
    return float(min(base * 2 ** max(attempts - 1, 0), settings.WEBHOOK_RETRY_MAX_SECONDS))


@dataclass(frozen=True)
class Answer:
    ok: bool
    status: int | None
    duration_ms: int
    error: str = ""


def _redirect_error(url: str, status: int, location: str) -> str:
    target = urljoin(url, location)
    why = ""
    try:
        url_check(target)
        parts = urlsplit(target)
        resolve_public(parts.hostname or "", parts.port or 443)
    except (AddressRefused, AddressUnresolved) as exc:
        why = f" ({exc.message})"
    return (
        f"HTTP {status}: redirects to {location[:500]}{why}; redirects are not followed, "
        "the subscription's address must answer itself."
    )


def _post(url: str, body: bytes, headers: dict[str, str]) -> Answer:
    started = time.monotonic()

    def answer(ok: bool, status: int | None, error: str = "") -> Answer:
        return Answer(ok, status, round((time.monotonic() - started) * 1000), error)

    timeout = settings.WEBHOOK_TIMEOUT_SECONDS
    try:
        url_check(url)
        with (
            public_client(
                connect=timeout, read=timeout, headers={"User-Agent": USER_AGENT}, max_connections=1
            ) as client,
            client.stream("POST", url, content=body, headers=headers) as response,
        ):
            status = response.status_code
            read = 0
            deadline = started + 3 * timeout
            for chunk in response.iter_raw():
                read += len(chunk)
                if read >= ANSWER_MAX_BYTES or time.monotonic() > deadline:
                    break
            if 200 <= status < 300:
                return answer(True, status)
            if response.has_redirect_location:
                return answer(
                    False, status, _redirect_error(url, status, response.headers["location"])
                )
            return answer(False, status, f"HTTP {status} {response.reason_phrase}".strip())
    except (AddressRefused, AddressUnresolved) as exc:
        return answer(False, None, exc.message)
    except httpx.TimeoutException as exc:
        return answer(False, None, f"Timed out sending to {url}: {exc or 'no answer'}.")
    except (httpx.HTTPError, httpx.InvalidURL) as exc:
        return answer(False, None, f"Cannot send to {url}: {exc}.")


def webhook_body(
    *, subscription_id: int, delivery_id: int, timestamp: int, events: list[changes.Event]
) -> bytes:
    """The raw body of a delivery: the events as ``/api/changes/`` shows them."""

    def absolute(path: str) -> str:
        return settings.TRACKER_PUBLIC_URL + path

    document = {
        "subscription": subscription_id,
        "delivery": delivery_id,
        "timestamp": timestamp,
        "events": [changes.event_json(event, absolute=absolute) for event in events],
    }
    return json.dumps(document, ensure_ascii=False, separators=(",", ":")).encode()


def webhook_deliver(*, subscription_id: int) -> float | None:
    """Send a subscription the events past its cursor, if it may be sent a
    request now. Returns in how many seconds to try again (a failed request, or
    one that must wait out its batch period), or None when this call has nothing
    more to do: delivered, nothing new, paused, a retry already queued, or
    another process at it."""
    with webhook_lock(subscription_id) as held:
        if not held:
            return None
        WebhookSubscription.objects.filter(pk=subscription_id).update(queued_at=None)
        subscription = WebhookSubscription.objects.filter(pk=subscription_id, active=True).first()
        if subscription is None:
            return None
        now = timezone.now()
        retry_at = subscription.next_attempt_at
        if retry_at is not None and retry_at > now + timedelta(seconds=0.5):
            # The failed attempt queued its retry for then; beat sends it again if lost.
            return None
        wait = _rate_wait(subscription, now)
        if wait > 0:
            return wait
        letter_ids = list(subscription.letters.values_list("pk", flat=True))
        events, _ = changes.change_page(
            filters=_filters(subscription, letter_ids),
            cursor=_cursor(subscription),
            size=settings.WEBHOOK_MAX_EVENTS,
        )
        if not events:
            return None
        delivery = _attempt_begin(subscription, events, now)
        timestamp = int(now.timestamp())
        body = webhook_body(
            subscription_id=subscription.pk,
            delivery_id=delivery.pk,
            timestamp=timestamp,
            events=events,
        )
        headers = {
            "Content-Type": "application/json",
            SIGNATURE_HEADER: webhook_signature(subscription.secret, body),
            TIMESTAMP_HEADER: str(timestamp),
            DELIVERY_HEADER: str(delivery.pk),
        }
        answer = _post(subscription.url, body, headers)
        return _attempt_end(subscription, delivery, events, answer)


def _attempt_begin(
    subscription: WebhookSubscription, events: list[changes.Event], now: datetime
) -> WebhookDelivery:
    """Count the attempt before it is made, and set when it may be made again if
    this process dies during it (committed: its lock goes with the process)."""
    with transaction.atomic():
        delivery = (
            WebhookDelivery.objects.select_for_update()
            .filter(subscription=subscription, outcome=WebhookDelivery.Outcome.PENDING)
            .first()
        )
        if delivery is None:
            delivery = WebhookDelivery(subscription=subscription)
        delivery.first_event_id = events[0].id
        delivery.last_event_id = events[-1].id
        delivery.event_count = len(events)
        delivery.attempts += 1
        delivery.last_attempt_at = now
        delivery.save()
        subscription.last_request_at = now
        subscription.next_attempt_at = now + timedelta(seconds=_backoff(delivery.attempts))
        subscription.save(update_fields=["last_request_at", "next_attempt_at"])
    return delivery


def _attempt_end(
    subscription: WebhookSubscription,
    delivery: WebhookDelivery,
    events: list[changes.Event],
    answer: Answer,
) -> float | None:
    now = timezone.now()
    delivery.status_code = answer.status
    delivery.duration_ms = answer.duration_ms
    delivery.error = answer.error
    retry_in: float | None = None
    if answer.ok:
        delivery.outcome = WebhookDelivery.Outcome.DELIVERED
        delivery.delivered_at = now
        last = events[-1].position
        subscription.cursor_at, subscription.cursor_rank, subscription.cursor_row = (
            last.at,
            last.rank,
            last.id,
        )
        subscription.last_event_id = events[-1].id
        subscription.next_attempt_at = None
    elif (now - delivery.created_at).total_seconds() >= settings.WEBHOOK_RETRY_FOR_SECONDS:
        delivery.outcome = WebhookDelivery.Outcome.FAILED
        subscription.active = False
        subscription.paused_at = now
        subscription.next_attempt_at = None
        hours = settings.WEBHOOK_RETRY_FOR_SECONDS / 3600
        subscription.paused_reason = (
            f"No delivery succeeded in {hours:g} h ({delivery.attempts} attempts from "
            f"{iso_datetime(delivery.created_at)}); the last: {answer.error}"
        )
    else:
        retry_in = _backoff(delivery.attempts)
        subscription.next_attempt_at = now + timedelta(seconds=retry_in)
    fields = ["cursor_at", "cursor_rank", "cursor_row", "last_event_id", "next_attempt_at"]
    if not subscription.active:
        fields += ["active", "paused_at", "paused_reason"]
    with transaction.atomic():
        delivery.save()
        subscription.save(update_fields=fields)
    return retry_in
