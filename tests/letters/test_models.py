"""Integrity that lives in the database, whoever writes."""

import pytest
from django.db import IntegrityError, transaction
from django.utils import timezone

from letters.models import LetterTarget, Sighting, Signature, SignatureStatusChange, Source, SyncRun
from tests.factories import make_letter, make_organization, make_person, make_signature, make_source

pytestmark = pytest.mark.django_db


def test_it_refuses_a_second_signature_for_the_same_letter_and_person():
    signature = make_signature()
    now = timezone.now()
    with pytest.raises(IntegrityError), transaction.atomic():
        Signature.objects.create(
            letter=signature.letter, person=signature.person, first_seen_at=now, last_seen_at=now
        )


def test_it_refuses_an_unknown_signature_status():
    signature = make_signature()
    with pytest.raises(IntegrityError), transaction.atomic():
        Signature.objects.filter(pk=signature.pk).update(status="forged")


def test_it_refuses_an_unknown_status_in_the_history():
    signature = make_signature()
    with pytest.raises(IntegrityError), transaction.atomic():
        SignatureStatusChange.objects.create(
            signature=signature, from_status="listed", to_status="maybe", changed_at=timezone.now()
        )


def test_it_refuses_two_sightings_with_one_key_in_a_source():
    signature = make_signature()
    sighting = signature.sightings.get()
    with pytest.raises(IntegrityError), transaction.atomic():
        Sighting.objects.create(
            source=sighting.source,
            key=sighting.key,
            signature=signature,
            name="Someone else",
            first_seen_at=timezone.now(),
            last_seen_at=timezone.now(),
        )


@pytest.mark.parametrize(
    ("needs_review", "review_cause"),
    [(True, ""), (False, "gone"), (False, "editor"), (True, "rumour")],
)
def test_it_refuses_a_review_flag_without_its_cause_or_a_cause_without_the_flag(
    needs_review, review_cause
):
    signature = make_signature()
    with pytest.raises(IntegrityError), transaction.atomic():
        Signature.objects.filter(pk=signature.pk).update(
            needs_review=needs_review, review_cause=review_cause
        )
    Signature.objects.filter(pk=signature.pk).update(needs_review=True, review_cause="editor")


def test_it_refuses_an_unknown_target_role():
    letter = make_letter()
    organization = make_organization("OpenAI", kind="company")
    with pytest.raises(IntegrityError), transaction.atomic():
        LetterTarget.objects.create(letter=letter, organization=organization, role="recipient")


def test_it_refuses_an_unknown_letter_status():
    letter = make_letter()
    with pytest.raises(IntegrityError), transaction.atomic():
        type(letter).objects.filter(pk=letter.pk).update(status="published")


def test_it_refuses_two_runs_of_one_source_at_once():
    source = make_source(make_letter(), url="https://example.org/list.csv", format="csv")
    SyncRun.objects.create(source=source)
    with pytest.raises(IntegrityError), transaction.atomic():
        SyncRun.objects.create(source=source)


def test_it_allows_a_new_run_once_the_previous_one_finished():
    source = make_source(make_letter(), url="https://example.org/list.csv", format="csv")
    SyncRun.objects.create(source=source, outcome=SyncRun.Outcome.SUCCEEDED)
    SyncRun.objects.create(source=source)
    assert source.runs.count() == 2


def test_it_refuses_a_second_manual_source_for_a_letter():
    letter = make_letter()
    make_signature(letter)
    with pytest.raises(IntegrityError), transaction.atomic():
        Source.objects.create(letter=letter, name="More editors", kind=Source.Kind.MANUAL)


def test_it_refuses_a_person_merged_into_itself():
    person = make_person()
    with pytest.raises(IntegrityError), transaction.atomic():
        type(person).objects.filter(pk=person.pk).update(merged_into=person.pk)


def test_it_refuses_a_judgement_pair_out_of_order():
    from people.models import MatchJudgement

    first, second = make_person("Lana Wachowski"), make_person("Lilly Wachowski")
    with pytest.raises(IntegrityError), transaction.atomic():
        MatchJudgement.objects.create(person_a=second, person_b=first)
    MatchJudgement.objects.create(person_a=first, person_b=second)
    with pytest.raises(IntegrityError), transaction.atomic():
        MatchJudgement.objects.create(person_a=first, person_b=second)


def test_it_refuses_an_unknown_judgement_decision():
    from people.models import MatchJudgement

    first, second = make_person("Lana Wachowski"), make_person("Lilly Wachowski")
    with pytest.raises(IntegrityError), transaction.atomic():
        MatchJudgement.objects.create(person_a=first, person_b=second, decision="probably")
