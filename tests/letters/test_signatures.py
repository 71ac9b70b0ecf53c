"""Signatures and sightings following people's merges and splits."""

import pytest

from letters.services import signature_record_manual
from letters.signatures import SPELLING_AUTHORITY, SignatureFollower, signatures_context
from people.merging import followers
from people.merging.merge import person_merge
from people.services import person_create
from tests.factories import make_letter

pytestmark = pytest.mark.django_db


def test_letters_registers_its_follower_when_the_app_is_ready():
    assert any(isinstance(f, SignatureFollower) for f in followers.followers())


def test_a_person_s_context_is_the_letters_signed_titles_and_sources():
    letter = make_letter()
    signature = signature_record_manual(
        letter=letter, name="Chris Evans", title="Broadcaster", affiliation="BBC Radio 2", by=None
    )
    context = signatures_context([signature.person_id])[signature.person_id]
    assert context.letters == {letter.pk}
    assert context.titles == {"Broadcaster"}
    assert context.orgs == {"BBC Radio 2"}
    assert len(context.listings) == 1


def test_folding_keeps_the_status_that_says_more_and_the_stated_title():
    letter = make_letter()
    kept = signature_record_manual(letter=letter, name="Paul McCartney", by=None)
    other = signature_record_manual(
        letter=letter, person=person_create(name="McCartney, Sir Paul"), title="Musician", by=None
    )
    other.status = "verified"
    other.save()

    person_merge(survivor=kept.person, merged=other.person)

    kept.refresh_from_db()
    assert (kept.status, kept.title) == ("verified", "Musician")
    other.refresh_from_db()
    assert other.merged_into_id == kept.pk


def test_every_source_kind_has_a_rank_for_spellings_with_editors_last():
    assert min(SPELLING_AUTHORITY, key=SPELLING_AUTHORITY.get) == "manual"
    assert max(SPELLING_AUTHORITY, key=SPELLING_AUTHORITY.get) == "letter_site"
