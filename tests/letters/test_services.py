"""Letters, sources and signatures written through the services."""

import pytest

from letters.models import Signature, SignatureStatusChange, Source
from letters.services import (
    Entry,
    letter_create,
    letter_target_set,
    letter_update,
    parse_claimed_count,
    signature_change_status,
    signature_record,
    signature_record_manual,
    signature_update_stated,
)
from tests.factories import make_letter, make_organization, make_source
from tracker.errors import DomainError

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    ("text", "number"),
    [("400+", 400), ("more than 1,200", 1200), ("", None), ("hundreds", None)],
)
def test_it_reads_the_claimed_count_as_a_number(text, number):
    assert parse_claimed_count(text) == number


def test_it_creates_a_letter_from_a_title_and_slug_only():
    letter = letter_create(title="Protect human creativity", slug="protect-creativity")
    assert letter.status == "open"
    assert letter.search_text == "protect human creativity protect creativity"


def test_it_refuses_a_taken_slug_or_a_malformed_one():
    make_letter(slug="taken")
    with pytest.raises(DomainError) as error:
        letter_create(title="Another", slug="taken")
    assert error.value.field == "slug"
    with pytest.raises(DomainError):
        letter_create(title="Another", slug="Not A Slug")


def test_it_updates_the_claimed_count():
    letter = make_letter()
    letter_update(letter=letter, claimed_count="400+")
    letter.refresh_from_db()
    assert letter.claimed_count_min == 400


def test_it_records_targets_with_their_role_once():
    letter = make_letter()
    openai = make_organization("OpenAI", kind="company")
    letter_target_set(letter=letter, organization=openai, role="subject")
    letter_target_set(letter=letter, organization=openai, role="subject")
    assert letter.letter_targets.count() == 1
    with pytest.raises(DomainError):
        letter_target_set(letter=letter, organization=openai, role="recipient")


def test_an_editors_entry_is_a_sighting_of_the_letters_manual_source(staff_user):
    letter = make_letter()
    signature = signature_record_manual(
        letter=letter, name="Cate Blanchett", title="Actor", by=staff_user
    )
    sighting = signature.sightings.get()
    assert sighting.source.kind == Source.Kind.MANUAL
    assert sighting.entered_by == staff_user
    assert sighting.name == "Cate Blanchett"
    history = list(signature.status_changes.values_list("from_status", "to_status"))
    assert history == [("", "listed")]


def test_recording_the_same_entry_twice_changes_nothing():
    letter = make_letter()
    source = make_source(letter)
    first = signature_record(letter=letter, source=source, entry=Entry(name="Ben Stiller"))
    second = signature_record(letter=letter, source=source, entry=Entry(name="Ben Stiller"))
    assert first.signature == second.signature
    assert not second.sighting_created and not second.sighting_changed
    assert first.sighting.events.count() == 1


def test_a_changed_affiliation_keeps_the_previous_value_in_the_history():
    letter = make_letter()
    source = make_source(letter)
    signature_record(letter=letter, source=source, entry=Entry(name="Ron Howard"))
    result = signature_record(
        letter=letter, source=source, entry=Entry(name="Ron Howard", affiliation="Imagine")
    )
    assert result.sighting_changed
    change = result.sighting.events.get(kind="changed")
    assert change.before == {"affiliation": ""}
    assert change.after == {"affiliation": "Imagine"}


def test_two_sources_naming_one_person_support_one_signature():
    letter = make_letter()
    press, site = make_source(letter), make_source(letter, kind="letter_site")
    first = signature_record(letter=letter, source=press, entry=Entry(name="Ava DuVernay"))
    second = signature_record(letter=letter, source=site, entry=Entry(name="AVA DUVERNAY"))
    assert first.signature == second.signature
    assert first.signature.sightings.count() == 2


def test_each_status_change_leaves_a_history_row(staff_user):
    signature = signature_record_manual(letter=make_letter(), name="Chris Rock", by=staff_user)
    signature_change_status(
        signature=signature,
        status="verified",
        reason="Confirmed by his agent.",
        by=staff_user,
        evidence_method="email",
        evidence_url="https://example.org/confirmation",
    )
    signature_change_status(
        signature=signature, status="retracted", reason="Withdrew publicly.", by=staff_user
    )
    signature.refresh_from_db()
    assert signature.status == "retracted"
    rows = list(
        SignatureStatusChange.objects.filter(signature=signature).values_list(
            "from_status", "to_status", "changed_by", "evidence_method"
        )
    )
    assert rows == [
        ("", "listed", staff_user.pk, "source"),
        ("listed", "verified", staff_user.pk, "email"),
        ("verified", "retracted", staff_user.pk, ""),
    ]


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"status": "forged", "reason": "x"}, "status"),
        ({"status": "verified", "reason": ""}, "reason"),
        (
            {"status": "verified", "reason": "x", "evidence_url": "javascript:alert(1)"},
            "evidence_url",
        ),
        ({"status": "verified", "reason": "x", "evidence_method": "rumour"}, "evidence_method"),
        ({"status": "listed", "reason": "x"}, "status"),
    ],
)
def test_a_refused_status_change_changes_nothing(fields, field):
    signature = signature_record_manual(letter=make_letter(), name="Chris Rock", by=None)
    with pytest.raises(DomainError) as error:
        signature_change_status(signature=signature, **fields)
    assert error.value.field == field
    signature.refresh_from_db()
    assert signature.status == "listed"
    assert signature.status_changes.count() == 1


def test_it_records_organisers_and_clears_them():
    union = make_organization("Human Artistry Campaign", kind="ngo")
    letter = letter_create(title="A letter", slug="a-letter", organisers=[union])
    assert list(letter.organisers.all()) == [union]
    letter_update(letter=letter, organisers=[])
    assert letter.organisers.count() == 0


def test_it_updates_a_source_with_the_same_checks_as_creating_one():
    from datetime import timedelta

    from letters.services import source_update

    letter = make_letter()
    first, second = make_source(letter, name="First"), make_source(letter, name="Second")
    source_update(source=first, url="https://example.org/list.json", format="json")
    first.refresh_from_db()
    assert (first.url, first.format) == ("https://example.org/list.json", "json")
    for fields, field in [
        ({"name": "Second"}, "name"),
        ({"url": "ftp://example.org/list"}, "url"),
        ({"reliability": 101}, "reliability"),
        ({"sync_interval": timedelta(seconds=5)}, "sync_interval"),
    ]:
        with pytest.raises(DomainError) as error:
            source_update(source=first, **fields)
        assert error.value.field == field
    with pytest.raises(DomainError):
        source_update(source=second, kind="manual")


def test_a_signature_keeps_what_is_not_corrected_and_clears_what_is_set_to_none():
    import datetime

    from letters.services import signature_update_stated

    signature = signature_record_manual(
        letter=make_letter(),
        name="Olivia Wilde",
        title="Director",
        by=None,
        signed_on=datetime.date(2025, 3, 14),
    )
    signature_update_stated(signature=signature, affiliation="Independent")
    signature.refresh_from_db()
    assert (signature.title, signature.affiliation) == ("Director", "Independent")
    assert signature.signed_on == datetime.date(2025, 3, 14)
    signature_update_stated(signature=signature, signed_on=None)
    signature.refresh_from_db()
    assert signature.signed_on is None and signature.title == "Director"


def review_of(signature) -> tuple[bool, str, str]:
    return Signature.objects.values_list("needs_review", "review_cause", "review_reason").get(
        pk=signature.pk
    )


def test_an_editor_flags_a_signature_for_review_and_clears_the_flag():
    signature = signature_record_manual(letter=make_letter(), name="Olivia Wilde", by=None)

    signature_update_stated(
        signature=signature, needs_review=True, review_reason="  Two  people of this name. "
    )
    assert review_of(signature) == (True, "editor", "Two people of this name.")

    signature_update_stated(signature=signature, needs_review=False)
    assert review_of(signature) == (False, "", "")


def test_an_editor_who_rewords_a_syncs_flag_makes_it_theirs():
    signature = signature_record_manual(letter=make_letter(), name="Olivia Wilde", by=None)
    Signature.objects.filter(pk=signature.pk).update(
        needs_review=True, review_cause="gone", review_reason="No source lists it any more: x."
    )

    signature_update_stated(signature=signature, review_reason="Ask her agent.")

    assert review_of(signature) == (True, "editor", "Ask her agent.")


def test_a_reason_without_the_flag_is_refused_and_changes_nothing():
    signature = signature_record_manual(letter=make_letter(), name="Olivia Wilde", by=None)

    with pytest.raises(DomainError) as error:
        signature_update_stated(signature=signature, review_reason="Looks odd.")

    assert error.value.field == "review_reason"
    assert review_of(signature) == (False, "", "")


@pytest.mark.parametrize("cause", ["gone", "editor"])
def test_a_status_change_clears_the_review_flag_whatever_its_cause(cause):
    signature = signature_record_manual(letter=make_letter(), name="Olivia Wilde", by=None)
    Signature.objects.filter(pk=signature.pk).update(
        needs_review=True, review_cause=cause, review_reason="Check it."
    )

    signature_change_status(signature=signature, status="verified", reason="Her agent confirmed.")

    assert review_of(signature) == (False, "", "")


def test_an_editor_who_saves_a_syncs_flag_unchanged_leaves_it_the_syncs():
    signature = signature_record_manual(letter=make_letter(), name="Olivia Wilde", by=None)
    reason = "No source lists it any more: Press dropped it (run 3)."
    Signature.objects.filter(pk=signature.pk).update(
        needs_review=True, review_cause="gone", review_reason=reason
    )

    signature_update_stated(signature=signature, needs_review=True, review_reason=reason)

    assert review_of(signature) == (True, "gone", reason)
