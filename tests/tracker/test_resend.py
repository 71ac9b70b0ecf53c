"""Jobs the broker could not take are marked, and claimed once to be sent again."""

from datetime import timedelta

import pytest
from django.db.models import Q
from django.utils import timezone
from kombu.exceptions import OperationalError as BrokerError

from letters.models import SyncRun
from tests.factories import make_letter, make_source
from tracker import resend

pytestmark = pytest.mark.django_db


def _queued_run():
    source = make_source(make_letter(), url="https://example.org/list.csv", format="csv")
    return SyncRun.objects.create(
        source=source, trigger="manual", outcome="queued", requested_at=timezone.now()
    )


def test_a_job_the_broker_refuses_marks_its_run_as_unsent():
    run = _queued_run()

    def refuse():
        raise BrokerError("connection refused")

    assert resend.send(refuse, run=SyncRun.objects.filter(pk=run.pk), what="a run") is False
    run.refresh_from_db()
    assert run.error == resend.UNSENT


def test_a_sent_job_leaves_its_run_alone():
    run = _queued_run()
    assert resend.send(lambda: None, run=SyncRun.objects.filter(pk=run.pk), what="a run")
    run.refresh_from_db()
    assert run.error == ""


def test_an_unsent_or_stale_run_is_claimed_once():
    unsent, stale, fresh = _queued_run(), _queued_run(), _queued_run()
    SyncRun.objects.filter(pk=unsent.pk).update(error=resend.UNSENT)
    SyncRun.objects.filter(pk=stale.pk).update(requested_at=timezone.now() - timedelta(hours=1))
    cutoff = Q(requested_at__lt=timezone.now() - timedelta(minutes=15))
    queued = SyncRun.objects.filter(outcome="queued")

    assert resend.claim(queued, stale=cutoff, requested_at=timezone.now()) == [unsent.pk, stale.pk]
    assert resend.claim(queued, stale=cutoff, requested_at=timezone.now()) == []
    assert fresh.pk not in resend.claim(queued, stale=cutoff)
