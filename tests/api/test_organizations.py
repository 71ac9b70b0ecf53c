"""/api/organizations/: kinds, search, targets and affiliated people; create and update."""

from __future__ import annotations

import pytest

from letters import services as letter_services
from people import services as people_services
from people.models import Organization
from tests.factories import make_letter, make_organization, make_person

pytestmark = pytest.mark.django_db


def test_it_lists_organizations_with_the_letters_that_target_them(anon):
    ostp = make_organization("Office of Science and Technology Policy", kind="government")
    letter = make_letter(title="Letter to OSTP")
    letter_services.letter_target_set(letter=letter, organization=ostp, role="addressee")

    [item] = anon.get("/api/organizations/").json()["results"]

    assert item["name"] == "Office of Science and Technology Policy"
    assert item["targeted_by"] == [
        {
            "letter": {"slug": letter.slug, "title": "Letter to OSTP"},
            "role": "addressee",
            "note": "",
        }
    ]


def test_it_filters_organizations_by_kind_and_finds_them_by_alias(anon):
    make_organization("OpenAI", kind="company")
    make_organization(
        "Office of Science and Technology Policy", kind="government", aliases=["OSTP"]
    )

    by_kind = anon.get("/api/organizations/", {"kind": "company"}).json()["results"]
    by_alias = anon.get("/api/organizations/", {"search": "ostp"}).json()["results"]

    assert [item["name"] for item in by_kind] == ["OpenAI"]
    assert [item["name"] for item in by_alias] == ["Office of Science and Technology Policy"]


def test_it_shows_who_is_affiliated_with_an_organization(anon):
    studio = make_organization("A24", kind="studio")
    people_services.affiliation_create(
        person=make_person("Cate Blanchett"), organization=studio, role="Producer"
    )

    body = anon.get(f"/api/organizations/{studio.pk}/").json()

    assert body["affiliated_count"] == 1
    assert [(a["person"]["name"], a["role"]) for a in body["affiliated"]] == [
        ("Cate Blanchett", "Producer")
    ]


def test_it_creates_an_organization_with_aliases_and_a_parent(editor_client):
    eop = make_organization("Executive Office of the President", kind="government")

    response = editor_client.post(
        "/api/organizations/",
        {
            "name": "Office of Science and Technology Policy",
            "kind": "government",
            "country": "us",
            "parent": eop.pk,
            "aliases": ["OSTP"],
            "external_ids": {"wikidata": "Q1501185"},
        },
        format="json",
    )

    assert response.status_code == 201
    body = response.json()
    assert (body["country"], body["parent"]["id"], body["aliases"]) == ("US", eop.pk, ["OSTP"])
    assert Organization.objects.get(pk=body["id"]).search_text.endswith("ostp")


def test_it_refuses_a_parent_that_would_make_a_loop(editor_client):
    parent = make_organization("Parent Org")
    child = make_organization("Child Org", parent=parent)

    response = editor_client.patch(
        f"/api/organizations/{parent.pk}/", {"parent": child.pk}, format="json"
    )

    assert response.status_code == 400
    assert response.json()["field"] == "parent"


def test_it_refuses_a_country_that_is_not_a_two_letter_code(editor_client):
    response = editor_client.post(
        "/api/organizations/", {"name": "Somewhere", "country": "1x"}, format="json"
    )

    assert response.status_code == 400
    assert response.json()["field"] == "country"


def test_it_updates_an_organizations_aliases_for_search(editor_client, anon):
    organization = make_organization("Office of Science and Technology Policy")

    editor_client.patch(
        f"/api/organizations/{organization.pk}/", {"aliases": ["OSTP"]}, format="json"
    )

    found = anon.get("/api/organizations/", {"search": "ostp"}).json()["results"]
    assert [item["id"] for item in found] == [organization.pk]


@pytest.mark.parametrize("page_size", [2, 6])
def test_the_organization_list_costs_three_queries_whatever_the_page_size(
    anon, django_assert_num_queries, page_size
):
    parent = make_organization("Parent")
    letter = make_letter()
    for n in range(5):
        organization = make_organization(f"Org {n}", parent=parent)
        letter_services.letter_target_set(letter=letter, organization=organization, role="subject")

    # 1. count, 2. the page with parents, 3. the letters targeting them
    with django_assert_num_queries(3):
        response = anon.get("/api/organizations/", {"page_size": page_size})

    assert len(response.json()["results"]) == page_size


# --- Two changes of parents at once, on a real server ----------------------------------


def _parents_loop() -> bool:
    parents = dict(Organization.objects.values_list("pk", "parent_id"))
    for start in parents:
        seen, pk = set(), start
        while pk is not None:
            if pk in seen:
                return True
            seen.add(pk)
            pk = parents.get(pk)
    return False


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_two_patches_that_would_make_a_loop_together_cannot_both_succeed(tmp_path):
    import threading

    import httpx
    import psycopg
    from django.conf import settings
    from django.contrib.auth import get_user_model
    from django.contrib.auth.models import Permission
    from rest_framework.authtoken.models import Token

    from tests.processes import service_env, web_server
    from tests.reliability.conftest import (
        a_session_waits_on_a_lock,
        current_database_url,
        serving,
        wait_until,
    )

    user = get_user_model().objects.create_user(username="tree-editor", is_staff=True)
    user.user_permissions.set(Permission.objects.filter(codename="change_organization"))
    token = Token.objects.create(user=user).key
    three, four = make_organization("Three"), make_organization("Four")
    env = service_env(
        DATABASE_URL=current_database_url(),
        REDIS_URL=settings.REDIS_URL,
        TRACKER_VAR_DIR=str(tmp_path),
        LOG_FORMAT="plain",
    )
    answers: dict[str, httpx.Response] = {}
    with web_server(env) as (base, _log):
        serving(base)
        client = httpx.Client(
            base_url=base, headers={"Authorization": f"Token {token}"}, timeout=60
        )

        def patch(name: str, organization: Organization, parent: Organization) -> None:
            answers[name] = client.patch(
                f"/api/organizations/{organization.pk}/", json={"parent": parent.pk}
            )

        # Hold organization 3's row: the first PATCH (3 under 4) checks the tree,
        # then waits to write, while the second (4 under 3) is made.
        blocker = psycopg.connect(current_database_url())
        try:
            blocker.execute(
                "SELECT 1 FROM people_organization WHERE id = %s FOR NO KEY UPDATE", [three.pk]
            )
            first = threading.Thread(target=patch, args=("3 under 4", three, four))
            first.start()
            wait_until(a_session_waits_on_a_lock, 30, "the first PATCH did not wait")
            second = threading.Thread(target=patch, args=("4 under 3", four, three))
            second.start()
            # The second either finishes (it did not see the first) or waits for it.
            wait_until(lambda: "4 under 3" in answers or _waiters() >= 2, 30, "second PATCH")
        finally:
            blocker.rollback()
            blocker.close()
        first.join(60)
        second.join(60)
        client.close()

    codes = {name: answer.status_code for name, answer in answers.items()}
    assert codes == {"3 under 4": 200, "4 under 3": 400}, {n: a.text for n, a in answers.items()}
    assert answers["4 under 3"].json()["field"] == "parent"
    assert not _parents_loop()
    assert Organization.objects.get(pk=three.pk).parent_id == four.pk
    assert Organization.objects.get(pk=four.pk).parent_id is None


def _waiters() -> int:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_stat_clear_snapshot()")
        cursor.execute(
            "SELECT count(*) FROM pg_stat_activity "
            "WHERE datname = current_database() AND wait_event_type = 'Lock'"
        )
        return cursor.fetchone()[0]
