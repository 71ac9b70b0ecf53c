"""Text that must say something is refused when it folds to nothing: blank,
spaces, punctuation, or invisible characters such as the zero-width space, as
names already are. Each refusal is a 400 naming the field, and changes nothing."""

from __future__ import annotations

import pytest

from letters.models import Letter, Signature, SignatureStatusChange, Source
from people.models import MatchJudgement, Organization, Person
from tests.api.conftest import _client_for
from tests.factories import make_letter, make_person, make_signature

pytestmark = pytest.mark.django_db

INVISIBLE = ["\u200b", "\u200b\u200b\u200b", "\u200b \u2060\ufeff", "\u00ad", "...", " \t "]
IDS = ["zero-width-space", "zero-width-spaces", "joiners-and-bom", "soft-hyphen", "dots", "spaces"]


@pytest.fixture
def editor_client(editor):
    return _client_for(editor)


@pytest.fixture
def staff_client(staff_user):
    return _client_for(staff_user)


def assert_refused(response, field: str) -> None:
    assert response.status_code == 400, response.content[:300]
    assert response.json()["field"] == field


@pytest.mark.parametrize("text", INVISIBLE, ids=IDS)
def test_a_letter_title_of_invisible_text_is_refused(editor_client, text):
    response = editor_client.post(
        "/api/letters/", {"title": text, "slug": "invisible"}, format="json"
    )

    assert_refused(response, "title")
    assert not Letter.objects.exists()


@pytest.mark.parametrize("text", INVISIBLE, ids=IDS)
def test_a_letter_cannot_be_retitled_with_invisible_text(editor_client, text):
    letter = make_letter(title="A real title", slug="real")

    response = editor_client.patch(f"/api/letters/{letter.slug}/", {"title": text}, format="json")

    assert_refused(response, "title")
    letter.refresh_from_db()
    assert letter.title == "A real title"


@pytest.mark.parametrize("text", INVISIBLE, ids=IDS)
def test_a_status_change_whose_reason_is_invisible_is_refused(editor_client, text):
    signature = make_signature()
    changes = SignatureStatusChange.objects.count()

    response = editor_client.post(
        f"/api/signatures/{signature.pk}/status/",
        {"status": "retracted", "reason": text},
        format="json",
    )

    assert_refused(response, "reason")
    assert Signature.objects.get(pk=signature.pk).status == "listed"
    assert SignatureStatusChange.objects.count() == changes


@pytest.mark.parametrize("text", INVISIBLE[:3], ids=IDS[:3])
def test_an_organization_named_with_invisible_text_is_refused(editor_client, text):
    response = editor_client.post(
        "/api/organizations/", {"name": text, "kind": "company"}, format="json"
    )

    assert_refused(response, "name")
    assert not Organization.objects.exists()


@pytest.mark.parametrize("text", INVISIBLE[:3], ids=IDS[:3])
def test_a_decision_whose_reason_is_invisible_is_refused(editor_client, text):
    a, b = sorted([make_person("Ava DuVernay"), make_person("Ava Duvernay")], key=lambda p: p.pk)
    pair = MatchJudgement.objects.create(person_a=a, person_b=b, score=0.8, explanation={})

    response = editor_client.post(
        f"/api/duplicates/{pair.pk}/decide/", {"decision": "same", "reason": text}, format="json"
    )

    assert_refused(response, "reason")
    pair.refresh_from_db()
    assert pair.decision == "pending"
    assert Person.objects.filter(merged_into__isnull=False).count() == 0


def test_a_source_named_with_invisible_text_is_refused():
    from letters import services
    from tracker.errors import DomainError

    letter = make_letter()
    before = Source.objects.count()
    with pytest.raises(DomainError) as refused:
        services.source_create(letter=letter, name="\u200b\u200b", kind="press")
    assert refused.value.field == "name"
    assert Source.objects.count() == before


def test_a_title_in_another_script_is_kept(editor_client):
    response = editor_client.post(
        "/api/letters/", {"title": "Открытое письмо", "slug": "pismo"}, format="json"
    )

    assert response.status_code == 201, response.content[:300]
    assert Letter.objects.get().title == "Открытое письмо"
