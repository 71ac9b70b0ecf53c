"""The review queue in the admin: pending pairs side by side, decided with one
button; and the buttons that ask for a run of the duplicate finder."""

from __future__ import annotations

import base64
import json
from datetime import timedelta

import pytest
import redis
from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.contrib.messages import get_messages
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from people import services
from people.merging import runs
from people.merging.decisions import judgement_decide
from people.models import MatchJudgement, MatchRun, Merge, Person
from tests.factories import make_letter, make_organization, make_person, make_source
from tests.letters.fixtures.broker import broker_purge
from tests.people.merging.test_runs import one, ostp_letter, sign

pytestmark = pytest.mark.django_db

REVIEW = "admin:people_matchjudgement_review"
REQUEST_RUN = "admin:people_matchrun_request"


def pair(first: Person, second: Person, score: float = 0.8, **fields) -> MatchJudgement:
    a, b = sorted([first, second], key=lambda p: p.pk)
    return MatchJudgement.objects.create(person_a=a, person_b=b, score=score, **fields)


def signed(name: str, letters: int) -> Person:
    """A person who signed ``letters`` letters, each listed by a press source."""
    person = make_person(name)
    for _ in range(letters):
        source = make_source(make_letter())
        sign(source, name, person=person)
    return person


def shown(response) -> list[int]:
    return [item["judgement"].pk for item in response.context["pairs"]]


def texts(response) -> list[str]:
    return [str(message) for message in get_messages(response.wsgi_request)]


def staff_with(*codenames: str, username: str = "reviewer"):
    user = get_user_model().objects.create_user(
        username=username, password="reviewer-password-123", is_staff=True
    )
    user.user_permissions.set(Permission.objects.filter(codename__in=codenames))
    return user


def client_for(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def decide(client, judgement: MatchJudgement, decision: str, reason: str = "", **extra):
    data = {"judgement": judgement.pk, "decision": decision, "reason": reason, **extra}
    return client.post(reverse(REVIEW), data)


# --- The queue ---------------------------------------------------------------------


def test_it_lists_pending_pairs_best_score_first_then_the_most_signatures(admin_client_staff):
    best = pair(make_person("Maggie Gyllenhaal"), make_person("Maggie Gylenhall"), 0.95)
    carrying_three = pair(signed("Ava DuVernay", 2), signed("Ava Duvernay", 1), 0.7)
    carrying_one = pair(signed("Cate Blanchett", 1), make_person("Blanchett, Cate"), 0.7)
    carrying_none = pair(make_person("Paul McCartney"), make_person("Sir Paul McCartney"), 0.7)
    decided = pair(make_person("Lana Wachowski"), make_person("Lilly Wachowski"), 0.99)
    judgement_decide(judgement=decided, decision="different", reason="Sisters.")

    response = admin_client_staff.get(reverse(REVIEW))

    assert response.status_code == 200
    assert shown(response) == [best.pk, carrying_three.pk, carrying_one.pk, carrying_none.pk]
    assert [item["judgement"].impact for item in response.context["pairs"]] == [0, 3, 1, 0]


def test_it_pages_the_queue(admin_client_staff):
    pairs = [
        pair(make_person(f"Person Alpha{n}"), make_person(f"Person Beta{n}"), 0.9 - n / 100)
        for n in range(12)
    ]

    first = admin_client_staff.get(reverse(REVIEW))
    second = admin_client_staff.get(reverse(REVIEW), {"page": 2})

    assert shown(first) == [p.pk for p in pairs[:10]]
    assert shown(second) == [p.pk for p in pairs[10:]]
    assert "12 pairs pending" in first.content.decode()


def test_it_shows_only_the_pairs_of_one_person_when_asked(admin_client_staff):
    ava = make_person("Ava DuVernay")
    hers = pair(ava, make_person("Ava Duvernay"))
    pair(make_person("Cate Blanchett"), make_person("Blanchett, Cate"))

    response = admin_client_staff.get(reverse(REVIEW), {"person": ava.pk})

    assert shown(response) == [hers.pk]


@pytest.fixture
def namesakes():
    """Two Chris Evans on the letter to the OSTP, queued for review by a real run,
    so the explanation is the matcher's own."""
    letter, site, _press, feed = ostp_letter()
    actor = sign(site, "Chris Evans", title="Actor", affiliation="Marvel Studios")
    host = sign(feed, "Chris Evans", title="Radio host", affiliation="Virgin Radio")
    services.affiliation_create(
        person=host, organization=make_organization("Virgin Radio"), role="Host", source=feed
    )
    runs.run_now(full=True)
    judgement = MatchJudgement.objects.get(decision="pending")
    return letter, actor, host, judgement


def test_each_pair_shows_both_records_with_their_sources_and_why_they_were_paired(
    admin_client_staff, namesakes
):
    letter, actor, host, judgement = namesakes

    response = admin_client_staff.get(reverse(REVIEW))
    content = response.content.decode()

    assert shown(response) == [judgement.pk]
    sides = response.context["pairs"][0]["sides"]
    assert [side["person"].pk for side in sides] == sorted([actor.pk, host.pk])
    # Every name with the source that wrote it, and each letter with its sightings.
    assert f"“Chris Evans”: Letter site ({letter.slug})" in content
    assert f"“Chris Evans”: Feed ({letter.slug})" in content
    assert letter.title in content
    assert "Letter site: “Chris Evans” (Actor, Marvel Studios)" in content
    assert "Feed: “Chris Evans” (Radio host, Virgin Radio)" in content
    assert f"Virgin Radio, Host: Feed ({letter.slug})" in content
    # The explanation read out: each feature, what was found, its weight, the total.
    explanation = judgement.explanation
    rows = response.context["pairs"][0]["explanation"]["rows"]
    assert {key: rows[0][key] for key in ("feature", "finding", "agreed")} == {
        "feature": "family name",
        "finding": "the same",
        "agreed": True,
    }
    assert any(row["feature"] == "organisation" and not row["agreed"] for row in rows)
    assert "different organisations" in content
    assert "against: disagrees" in content
    assert f"{explanation['bits']:.2f}" in content
    assert "&quot;agreed&quot;" not in content  # the stored JSON is not what is shown
    # What each side stated when signing, beside the scorer's "different organisations".
    assert [side["stated"] for side in sides] == [
        [
            {
                "title": title,
                "affiliation": affiliation,
                "letters": [letter.title],
                "sources": [source],
            }
        ]
        for title, affiliation, source in sorted(
            [("Actor", "Marvel Studios", "Letter site"), ("Radio host", "Virgin Radio", "Feed")],
            key=lambda fact: actor.pk if fact[0] == "Actor" else host.pk,
        )
    ]
    assert "<strong>Radio host</strong>, <strong>Virgin Radio</strong>" in content
    # The score as a percentage with the bits beside it, not 0.9843320487698093.
    assert f"{judgement.score * 100:.1f}% ({explanation['bits']:.1f} bits)" in content


def test_the_page_of_one_pair_shows_the_same_comparison(admin_client_staff, namesakes):
    letter, _actor, _host, judgement = namesakes

    response = admin_client_staff.get(
        reverse("admin:people_matchjudgement_change", args=[judgement.pk])
    )
    content = response.content.decode()

    assert f"“Chris Evans”: Feed ({letter.slug})" in content
    assert "different organisations" in content


def test_names_are_shown_as_text_not_markup(admin_client_staff):
    script = make_person("<script>alert('x')</script> Smith")
    judgement = pair(script, make_person("John Smith"))

    for url in [
        reverse(REVIEW),
        reverse("admin:people_matchjudgement_change", args=[judgement.pk]),
    ]:
        content = admin_client_staff.get(url).content.decode()
        assert "<script>alert" not in content
        assert "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt; Smith" in content


@pytest.mark.parametrize("size", [1, 10])
def test_the_queue_costs_the_same_queries_for_one_pair_or_a_full_page(
    client, django_assert_max_num_queries, size
):
    editor = staff_with("change_matchjudgement", username="queue-reader")
    client.force_login(editor)
    studio = make_organization("Esperanto Filmoj")
    for n in range(size):
        first, second = signed(f"Person Alpha{n}", 2), signed(f"Person Alpha{n}e", 1)
        services.affiliation_create(person=first, organization=studio, role="Director")
        services.person_add_name(person=second, name=f"Alpha{n}e, Person")
        pair(first, second, 0.9)

    # 1. session, 2. user, 3-4. the user's and groups' permissions, 5. count of
    # pending pairs, 6. the page of pairs with both people and their impact,
    # 7. names with sources, 8. affiliations with organizations and sources,
    # 9. signatures with letters, 10. their sightings with sources.
    with django_assert_max_num_queries(10):
        response = client.get(reverse(REVIEW))

    assert len(shown(response)) == size


# --- Deciding ------------------------------------------------------------------------


def test_same_person_merges_the_two_and_moves_to_the_next_pair(admin_client_staff, staff_user):
    first = pair(signed("Ava DuVernay", 1), signed("Ava Duvernay", 1), 0.9)
    following = pair(make_person("Cate Blanchett"), make_person("Blanchett, Cate"), 0.8)

    response = decide(
        admin_client_staff,
        first,
        "same",
        "One director, two spellings.",
        following=following.pk,
        page=1,
    )

    assert response.status_code == 302
    assert response["Location"] == f"{reverse(REVIEW)}?page=1#pair-{following.pk}"
    first.refresh_from_db()
    assert (first.decision, first.decided_by, first.automatic) == ("same", staff_user, False)
    assert Person.objects.get(pk=first.person_b_id).merged_into_id == first.person_a_id
    assert Merge.objects.filter(judgement=first, undone_at__isnull=True).exists()
    merge = Merge.objects.get(judgement=first)
    assert texts(response) == [
        "Ava DuVernay and Ava Duvernay are one person now: merged. "
        f'<a href="/admin/people/merge/{merge.pk}/change/#undo">Undo merge #{merge.pk}</a> · '
        f'<a href="/admin/people/person/{merge.survivor_id}/change/#split">split entries off '
        "Ava DuVernay</a>"
    ]
    assert shown(admin_client_staff.get(reverse(REVIEW))) == [following.pk]


def test_different_people_is_recorded_and_a_later_run_does_not_merge_them(admin_client_staff):
    _letter, site, press, _feed = ostp_letter()
    # The matcher merges these two on its own (see merging/test_runs.py), unless told otherwise.
    maggie_press = sign(press, "Maggie Gylenhall", title="Actor")
    maggie_site = sign(site, "Maggie Gyllenhaal", title="Actor")
    judgement = pair(maggie_press, maggie_site, 0.97)

    response = decide(admin_client_staff, judgement, "different", "Checked: two actors.")
    run = runs.run_now(full=True)

    assert response.status_code == 302
    assert texts(response) == [
        f"{judgement.person_a} and {judgement.person_b} are kept apart for good."
    ]
    judgement.refresh_from_db()
    assert (judgement.decision, judgement.reason) == ("different", "Checked: two actors.")
    assert run.status == "succeeded"
    assert not one(maggie_press, maggie_site)
    assert not Merge.objects.exists()


def test_unsure_keeps_the_note_and_leaves_the_queue(admin_client_staff):
    judgement = pair(make_person("Chris Evans"), make_person("Chris Evans"))

    response = decide(admin_client_staff, judgement, "unsure", "Actor or radio host?")

    assert texts(response) == ["Chris Evans and Chris Evans are marked unsure."]
    judgement.refresh_from_db()
    assert (judgement.decision, judgement.reason) == ("unsure", "Actor or radio host?")
    assert not Merge.objects.exists()
    assert shown(admin_client_staff.get(reverse(REVIEW))) == []


def test_a_decision_the_service_refuses_is_shown_and_changes_nothing(admin_client_staff):
    judgement = pair(make_person("Ava DuVernay"), make_person("Ava Duvernay"))

    response = decide(admin_client_staff, judgement, "same", "   ")

    assert response.status_code == 302
    assert response["Location"].endswith(f"#pair-{judgement.pk}")
    assert texts(response) == ["Ava DuVernay / Ava Duvernay not decided: Say why you decide so."]
    judgement.refresh_from_db()
    assert judgement.decision == "pending"
    assert not Merge.objects.exists()


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"decision": "probably", "reason": "Hm."}, "decision: Select a valid choice."),
        ({"decision": "same", "reason": "x" * 5001}, "reason: Ensure this value has at most"),
        ({"judgement": "", "decision": "same", "reason": "Hm."}, "judgement: This field"),
    ],
)
def test_bad_input_is_refused_with_a_message_and_changes_nothing(admin_client_staff, data, message):
    judgement = pair(make_person("Ava DuVernay"), make_person("Ava Duvernay"))

    response = admin_client_staff.post(reverse(REVIEW), {"judgement": judgement.pk, **data})

    assert response.status_code == 302
    assert texts(response)[0].startswith(message)
    judgement.refresh_from_db()
    assert judgement.decision == "pending"


def test_a_pair_decided_meanwhile_is_not_decided_again(admin_client_staff, editor):
    judgement = pair(make_person("Lana Wachowski"), make_person("Lilly Wachowski"))
    judgement_decide(judgement=judgement, decision="different", reason="Sisters.", by=editor)

    response = decide(admin_client_staff, judgement, "same", "Looks alike.")

    assert "was decided meanwhile (Different people, by editor)" in texts(response)[0]
    judgement.refresh_from_db()
    assert (judgement.decision, judgement.decided_by) == ("different", editor)
    assert not Merge.objects.exists()


def test_an_unknown_pair_is_reported(admin_client_staff):
    response = admin_client_staff.post(
        reverse(REVIEW), {"judgement": 987654, "decision": "same", "reason": "Hm."}
    )
    assert texts(response) == ["There is no pair #987654."]


# --- Who may review ---------------------------------------------------------------------


def test_someone_not_staff_is_sent_to_log_in_and_decides_nothing(client):
    user = get_user_model().objects.create_user(username="visitor", password="visitor-pw-123")
    user.user_permissions.set(Permission.objects.filter(codename="change_matchjudgement"))
    client.force_login(user)
    judgement = pair(make_person("Ava DuVernay"), make_person("Ava Duvernay"))

    page = client.get(reverse(REVIEW))
    post = decide(client, judgement, "same", "Same.")

    assert page.status_code == post.status_code == 302
    assert page["Location"].startswith(reverse("admin:login"))
    judgement.refresh_from_db()
    assert judgement.decision == "pending"


def test_staff_without_the_permission_to_change_judgements_is_refused():
    viewer = client_for(staff_with("view_matchjudgement"))
    judgement = pair(make_person("Ava DuVernay"), make_person("Ava Duvernay"))

    assert viewer.get(reverse(REVIEW)).status_code == 403
    assert decide(viewer, judgement, "same", "Same.").status_code == 403
    judgement.refresh_from_db()
    assert judgement.decision == "pending"


def test_staff_with_the_permission_reviews():
    reviewer = client_for(staff_with("change_matchjudgement"))
    judgement = pair(make_person("Ava DuVernay"), make_person("Ava Duvernay"))

    assert reviewer.get(reverse(REVIEW)).status_code == 200
    decide(reviewer, judgement, "unsure", "Check the credits.")
    judgement.refresh_from_db()
    assert judgement.decision == "unsure"


def test_a_decision_without_the_form_s_csrf_token_is_refused(staff_user):
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(staff_user)
    judgement = pair(make_person("Ava DuVernay"), make_person("Ava Duvernay"))

    assert decide(browser, judgement, "same", "Same.").status_code == 403
    judgement.refresh_from_db()
    assert judgement.decision == "pending"


def test_the_queue_is_linked_from_the_judgements_and_from_a_person(admin_client_staff):
    ava = make_person("Ava DuVernay")
    pair(ava, make_person("Ava Duvernay"))

    judgements = admin_client_staff.get(reverse("admin:people_matchjudgement_changelist"))
    person = admin_client_staff.get(reverse("admin:people_person_change", args=[ava.pk]))

    assert f'href="{reverse(REVIEW)}"' in judgements.content.decode()
    assert f'href="{reverse(REVIEW)}?person={ava.pk}">1 pair(s) to review' in (
        person.content.decode()
    )


# --- Asking for a run ---------------------------------------------------------------------


@pytest.fixture
def matching_queue():
    broker_purge()
    yield redis.Redis.from_url(settings.REDIS_URL)
    broker_purge()


def queued_plans(broker) -> list[tuple[str, list]]:
    """The tasks waiting in the matching queue, as (task name, arguments)."""
    plans = []
    for raw in broker.lrange("matching", 0, -1):
        message = json.loads(raw)
        args, _kwargs, _embed = json.loads(base64.b64decode(message["body"]))
        plans.append((message["headers"]["task"], args))
    return plans


def test_a_full_run_is_queued_from_the_run_list(
    admin_client_staff, staff_user, matching_queue, django_capture_on_commit_callbacks
):
    page = admin_client_staff.get(reverse("admin:people_matchrun_changelist"))
    assert f'action="{reverse(REQUEST_RUN)}"' in page.content.decode()

    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client_staff.post(reverse(REQUEST_RUN), {"mode": "full"})

    run = MatchRun.objects.get()
    assert response.status_code == 302
    # The run's page follows it; the message links there too.
    assert response["Location"] == reverse("admin:people_matchrun_change", args=[run.pk])
    assert (run.mode, run.status, run.requested_by) == ("full", "running", staff_user)
    assert texts(response) == [
        f"Queued run {run.pk} of the duplicate finder, on everyone. "
        f'<a href="/admin/people/matchrun/{run.pk}/change/">See run {run.pk}</a>.'
    ]
    assert queued_plans(matching_queue) == [("people.merging.tasks.match_plan", [run.pk])]


def test_an_incremental_run_looks_at_the_people_changed_since_the_last_run(admin_client_staff):
    make_person("Ava DuVernay")
    MatchRun.objects.create(
        mode="full", status="succeeded", finished_at=timezone.now() + timedelta(microseconds=1)
    )
    newcomer = make_person("Cate Blanchett")

    response = admin_client_staff.post(reverse(REQUEST_RUN), {"mode": "incremental"})

    run = MatchRun.objects.get(status="running")
    assert (run.mode, run.focus) == ("incremental", [newcomer.pk])
    assert texts(response) == [
        f"Queued run {run.pk} of the duplicate finder, on the 1 person(s) added or changed "
        f'since the last run. <a href="/admin/people/matchrun/{run.pk}/change/">See run '
        f"{run.pk}</a>."
    ]


def test_a_run_asked_for_while_one_is_going_is_recorded_as_skipped(admin_client_staff):
    going = MatchRun.objects.create(mode="full", status="running")

    response = admin_client_staff.post(reverse(REQUEST_RUN), {"mode": "full"})

    skipped = MatchRun.objects.exclude(pk=going.pk).get()
    assert skipped.status == "skipped"
    assert texts(response) == [
        f"Not started: run {going.pk} is still going on. "
        f"The request is kept as skipped run {skipped.pk}. "
        f'<a href="/admin/people/matchrun/{going.pk}/change/">See run {going.pk}</a>.'
    ]


def test_an_unknown_kind_of_run_is_refused(admin_client_staff):
    response = admin_client_staff.post(reverse(REQUEST_RUN), {"mode": "everything"})
    assert texts(response) == ["Choose a full or an incremental run."]
    assert not MatchRun.objects.exists()


def test_asking_for_a_run_needs_a_post_and_the_permission_to_add_runs(client):
    reviewer = client_for(staff_with("change_matchjudgement", "view_matchrun"))
    runner = client_for(staff_with("add_matchrun", "view_matchrun", username="runner"))
    visitor = get_user_model().objects.create_user(username="visitor", password="visitor-pw-123")
    client.force_login(visitor)

    assert runner.get(reverse(REQUEST_RUN)).status_code == 405
    assert reviewer.post(reverse(REQUEST_RUN), {"mode": "full"}).status_code == 403
    assert client.post(reverse(REQUEST_RUN), {"mode": "full"}).status_code == 302
    assert not MatchRun.objects.exists()
    assert (
        reverse(REQUEST_RUN)
        not in reviewer.get(reverse("admin:people_matchrun_changelist")).content.decode()
    )
    assert runner.post(reverse(REQUEST_RUN), {"mode": "full"}).status_code == 302
    assert MatchRun.objects.get().status == "running"
