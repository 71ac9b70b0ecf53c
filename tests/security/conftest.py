"""Clients for each kind of caller, as in tests/api: anonymous, an account
without permissions, an editor (staff with the letters and people permissions)
and a superuser, each sending its token."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from django.core.cache import cache
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from letters.models import SyncRun
from letters.versions import record_version
from letters.webhooks import webhook_subscription_create
from people.merging.merge import person_merge
from people.models import MatchJudgement, MatchRun, Split
from tests.factories import make_letter, make_organization, make_person, make_signature, make_source


@pytest.fixture(autouse=True)
def _fresh_throttle_counts():
    # Throttle and login-attempt counts live in this suite's own Redis database.
    cache.clear()
    yield
    cache.clear()


def client_for(user) -> APIClient:
    client = APIClient()
    token, _ = Token.objects.get_or_create(user=user)
    client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
    client.user = user
    client.token = token.key
    return client


@pytest.fixture
def anon(db) -> APIClient:
    return APIClient()


@pytest.fixture
def reader_user(db):
    return get_user_model().objects.create_user(
        username="reader", email="reader@example.org", password="reader-password-123"
    )


@pytest.fixture
def reader(reader_user) -> APIClient:
    return client_for(reader_user)


@pytest.fixture
def editor_client(editor) -> APIClient:
    return client_for(editor)


@pytest.fixture
def staff_client(staff_user) -> APIClient:
    return client_for(staff_user)


@pytest.fixture
def objects(db) -> dict[str, str]:
    """One of each resource, for the ids in the paths, by the path's first part."""
    letter = make_letter(title="Access", slug="access")
    source = make_source(letter, name="Variety", url="https://example.org/list.csv", format="csv")
    signature = make_signature(letter, "Ava DuVernay")
    record_version(letter, reason="A list to cite.")  # version 1
    pair = MatchJudgement.objects.create(
        person_a=make_person("Ava DuVernay"), person_b=make_person("Ava Duvernay")
    )
    return {
        "letters": letter.slug,
        "signatures": str(signature.pk),
        "people": str(signature.person_id),
        "organizations": str(make_organization("OpenAI").pk),
        "sources": str(source.pk),
        "sync-runs": str(SyncRun.objects.create(source=source, outcome="succeeded").pk),
        "duplicates": str(pair.pk),
        "match-runs": str(MatchRun.objects.create(mode="full", status="succeeded").pk),
        "merges": str(
            person_merge(survivor=make_person("Cate Blanchett"), merged=make_person("Blanchett")).pk
        ),
        "splits": str(
            Split.objects.create(
                person=make_person("Chris Evans"),
                new_person=make_person("Chris Evans"),
                reason="Two.",
            ).pk
        ),
        "webhooks": str(webhook_subscription_create(url="https://example.org/hook")[0].pk),
    }


def concrete(path: str, objects: dict[str, str]) -> str:
    """/api/letters/{slug}/ -> /api/letters/access/."""
    resource = path.split("/")[2]
    for name in ("{letter_slug}", "{slug}"):
        path = path.replace(name, objects["letters"])
    path = path.replace("{number}", "1")
    for name in ("{pk}", "{id}", "{id_or_slug}"):
        path = path.replace(name, objects.get(resource, "0"))
    return path
