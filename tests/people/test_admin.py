"""The admin for people and organizations: pages, folded search, writes through
the services, refusals shown on the form, and records that stay read-only."""

from __future__ import annotations

import json
from types import SimpleNamespace

import pytest
from django.contrib import admin
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from people import services
from people.models import (
    Affiliation,
    MatchJudgement,
    MatchRun,
    Merge,
    Organization,
    Person,
    PersonName,
    PersonRename,
    Split,
)
from tests.factories import make_letter, make_organization, make_person, make_signature

pytestmark = pytest.mark.django_db

PEOPLE_MODELS = {
    "organization",
    "person",
    "personname",
    "affiliation",
    "matchrun",
    "matchjudgement",
    "merge",
    "split",
}
ADDABLE = {"organization", "person", "personname", "affiliation"}


def changeform_data(response) -> dict:
    """What a browser would post back from a rendered add or change page,
    inline management forms included."""
    data: dict = {}
    forms = [response.context["adminform"].form]
    for inline in response.context["inline_admin_formsets"]:
        formset = inline.formset
        for name in formset.management_form.fields:
            data[formset.management_form.add_prefix(name)] = formset.management_form[name].value()
        forms.extend(formset.forms)
    for form in forms:
        for name in form.fields:
            value = form[name].value()
            if isinstance(value, bool):
                if value:
                    data[form.add_prefix(name)] = "on"
            elif value is not None:
                data[form.add_prefix(name)] = (
                    value if isinstance(value, list | tuple) else str(value)
                )
    return data


def results(response) -> list:
    return list(response.context["cl"].result_list)


def autocomplete(client, *, app_label, model_name, field_name, term) -> list[str]:
    response = client.get(
        reverse("admin:autocomplete"),
        {"app_label": app_label, "model_name": model_name, "field_name": field_name, "term": term},
    )
    assert response.status_code == 200
    return [row["text"] for row in json.loads(response.content)["results"]]


@pytest.fixture
def records():
    organization = make_organization(
        "Office of Science and Technology Policy", kind="government", aliases=["OSTP"]
    )
    person = make_person("Alfonso Cuarón")
    other = make_person("Ava DuVernay")
    person_name = person.names.get()
    affiliation = services.affiliation_create(
        person=person, organization=organization, role="Adviser"
    )
    run = MatchRun.objects.create(mode="full", status="succeeded", pairs_scored=1, queued=1)
    first, second = sorted([person, other], key=lambda p: p.pk)
    judgement = MatchJudgement.objects.create(
        person_a=first,
        person_b=second,
        score=0.61,
        explanation={"agreed": ["letter"], "disagreed": ["family name"]},
        run=run,
    )
    folded = make_person("Alfonso Cuaron")
    Person.objects.filter(pk=folded.pk).update(merged_into=person)
    merge = Merge.objects.create(survivor=person, merged=folded, moved={"names": []})
    split = Split.objects.create(person=person, new_person=other, reason="Two people.", moved={})
    return SimpleNamespace(
        organization=organization,
        person=person,
        other=other,
        personname=person_name,
        affiliation=affiliation,
        matchrun=run,
        matchjudgement=judgement,
        merge=merge,
        split=split,
    )


# --- Pages ---------------------------------------------------------------------


def test_every_people_model_is_registered():
    registered = {
        model._meta.model_name
        for model in admin.site._registry
        if model._meta.app_label == "people"
    }
    assert registered == PEOPLE_MODELS


@pytest.mark.parametrize("model_name", sorted(PEOPLE_MODELS))
def test_its_list_and_the_page_of_one_record_render(admin_client_staff, records, model_name):
    obj = getattr(records, model_name)
    changelist = admin_client_staff.get(reverse(f"admin:people_{model_name}_changelist"))
    assert changelist.status_code == 200
    assert obj in results(changelist)
    page = admin_client_staff.get(reverse(f"admin:people_{model_name}_change", args=[obj.pk]))
    assert page.status_code == 200


@pytest.mark.parametrize("model_name", sorted(ADDABLE))
def test_its_add_page_renders(admin_client_staff, model_name):
    assert admin_client_staff.get(reverse(f"admin:people_{model_name}_add")).status_code == 200


@pytest.mark.parametrize("model_name", ["matchrun", "merge", "split"])
def test_a_record_of_the_matcher_is_only_viewed(admin_client_staff, records, model_name):
    obj = getattr(records, model_name)
    assert admin_client_staff.get(reverse(f"admin:people_{model_name}_add")).status_code == 403
    change_url = reverse(f"admin:people_{model_name}_change", args=[obj.pk])
    assert admin_client_staff.get(change_url).context["has_change_permission"] is False
    assert admin_client_staff.post(change_url, {}).status_code == 403


@pytest.mark.parametrize("model_name", ["person", "matchjudgement", "merge", "split"])
def test_nothing_a_user_may_cite_is_deleted(admin_client_staff, records, model_name):
    obj = getattr(records, model_name)
    delete_url = reverse(f"admin:people_{model_name}_delete", args=[obj.pk])
    assert admin_client_staff.post(delete_url, {"post": "yes"}).status_code == 403
    assert type(obj).objects.filter(pk=obj.pk).exists()


def test_judgements_are_not_added_by_hand(admin_client_staff):
    assert admin_client_staff.get(reverse("admin:people_matchjudgement_add")).status_code == 403


def test_the_people_list_costs_the_same_queries_for_one_row_or_many(admin_client_staff):
    url = reverse("admin:people_person_changelist")
    make_signature(name="Alfonso Cuarón")

    def queries() -> int:
        with CaptureQueriesContext(connection) as captured:
            assert admin_client_staff.get(url).status_code == 200
        return len(captured)

    one = queries()
    for name in ["Ava DuVernay", "Cate Blanchett", "Paul McCartney", "Maggie Gyllenhaal"]:
        make_signature(name=name)
    assert queries() == one


# --- Search --------------------------------------------------------------------


@pytest.mark.parametrize("term", ["cuaron", "CUARÓN", "Cuarón", "alfonso  cuaron"])
def test_it_finds_cuaron_whatever_the_case_and_accents(admin_client_staff, records, term):
    response = admin_client_staff.get(reverse("admin:people_person_changelist"), {"q": term})
    found = results(response)
    assert records.person in found
    assert records.other not in found


def test_it_finds_an_organization_by_an_alias_in_any_case(admin_client_staff, records):
    societe = make_organization("Société des Auteurs", kind="union")
    url = reverse("admin:people_organization_changelist")
    assert results(admin_client_staff.get(url, {"q": "ostp"})) == [records.organization]
    assert results(admin_client_staff.get(url, {"q": "SOCIETE"})) == [societe]


def test_the_autocomplete_finds_people_and_organizations_without_accents(
    admin_client_staff, records
):
    make_organization("Société des Auteurs", kind="union")
    people = autocomplete(
        admin_client_staff,
        app_label="people",
        model_name="affiliation",
        field_name="person",
        term="CUARON",
    )
    organizations = autocomplete(
        admin_client_staff,
        app_label="people",
        model_name="affiliation",
        field_name="organization",
        term="societe",
    )
    assert people == ["Alfonso Cuarón"]
    assert organizations == ["Société des Auteurs"]


def test_the_autocomplete_leaves_out_people_merged_into_another(admin_client_staff, records):
    listed = results(
        admin_client_staff.get(reverse("admin:people_person_changelist"), {"q": "cuaron"})
    )
    assert {person.pk for person in listed} == {records.person.pk, records.merge.merged_id}
    names = autocomplete(
        admin_client_staff,
        app_label="people",
        model_name="affiliation",
        field_name="person",
        term="cuaron",
    )
    assert names == ["Alfonso Cuarón"]


def test_it_shows_markup_in_names_as_text(admin_client_staff, records):
    person = make_person("<b>Bold</b> Person")
    first, second = sorted([person, records.other], key=lambda p: p.pk)
    MatchJudgement.objects.create(person_a=first, person_b=second, score=0.5)
    for url in [
        reverse("admin:people_person_changelist"),
        reverse("admin:people_matchjudgement_changelist"),
        reverse("admin:people_person_change", args=[person.pk]),
    ]:
        content = admin_client_staff.get(url).content.decode()
        assert "<b>Bold</b>" not in content
        assert "&lt;b&gt;Bold&lt;/b&gt;" in content


# --- Writes through the services -------------------------------------------------


def test_adding_an_organization_makes_its_slug_and_search_text(admin_client_staff):
    add_url = reverse("admin:people_organization_add")
    data = changeform_data(admin_client_staff.get(add_url))
    data.update(name="Écurie des Auteurs", kind="union", aliases='["EDA"]', country="fr")
    response = admin_client_staff.post(add_url, data)
    assert response.status_code == 302
    organization = Organization.objects.get(name="Écurie des Auteurs")
    assert organization.slug == "ecurie-des-auteurs"
    assert organization.country == "FR"
    assert organization.search_text == "ecurie des auteurs | eda"


def test_a_refused_country_shows_on_its_field(admin_client_staff, records):
    change_url = reverse("admin:people_organization_change", args=[records.organization.pk])
    data = changeform_data(admin_client_staff.get(change_url))
    data.update(country="U1", name="Renamed office")
    response = admin_client_staff.post(change_url, data)
    assert response.status_code == 200
    assert response.context["adminform"].form.errors["country"] == [
        "Give the country as a two-letter ISO code, such as US."
    ]
    records.organization.refresh_from_db()
    assert records.organization.name == "Office of Science and Technology Policy"


def test_adding_a_person_parses_the_name_and_records_it(admin_client_staff):
    add_url = reverse("admin:people_person_add")
    data = changeform_data(admin_client_staff.get(add_url))
    data["name"] = "McCartney, Sir Paul"
    response = admin_client_staff.post(add_url, data)
    assert response.status_code == 302
    person = Person.objects.get(family_name="McCartney")
    assert (person.display_name, person.honorific) == ("Paul McCartney", "Sir")
    assert list(person.names.values_list("name", flat=True)) == ["McCartney, Sir Paul"]
    assert "paul mccartney" in person.search_text


def test_changing_a_person_refreshes_the_search_text(admin_client_staff, records):
    change_url = reverse("admin:people_person_change", args=[records.person.pk])
    data = changeform_data(admin_client_staff.get(change_url))
    data["display_name"] = "Alfonso Cuarón Orozco"
    assert admin_client_staff.post(change_url, data).status_code == 302
    records.person.refresh_from_db()
    assert records.person.search_text.startswith("alfonso cuaron orozco")


def test_renaming_a_person_in_the_admin_is_kept_with_who_did_it(
    admin_client_staff, staff_user, records
):
    change_url = reverse("admin:people_person_change", args=[records.person.pk])
    data = changeform_data(admin_client_staff.get(change_url))
    data["display_name"] = "Alfonso Cuarón Orozco"
    assert admin_client_staff.post(change_url, data).status_code == 302
    # Saving again with only the notes changed is no rename.
    data = changeform_data(admin_client_staff.get(change_url))
    data["notes"] = "Director."
    assert admin_client_staff.post(change_url, data).status_code == 302

    [rename] = PersonRename.objects.filter(person=records.person)
    assert (rename.before, rename.after) == ("Alfonso Cuarón", "Alfonso Cuarón Orozco")
    assert (rename.cause, rename.by) == ("edit", staff_user)


def test_names_and_affiliations_added_inline_go_through_the_services(admin_client_staff, records):
    studio = make_organization("Esperanto Filmoj", kind="studio")
    change_url = reverse("admin:people_person_change", args=[records.person.pk])
    data = changeform_data(admin_client_staff.get(change_url))
    names_total = int(data["names-TOTAL_FORMS"])
    affiliations_total = int(data["affiliations-TOTAL_FORMS"])
    data.update(
        {
            "names-TOTAL_FORMS": str(names_total + 1),
            f"names-{names_total}-name": "Cuarón, Alfonso",
            "affiliations-TOTAL_FORMS": str(affiliations_total + 1),
            f"affiliations-{affiliations_total}-organization": str(studio.pk),
            f"affiliations-{affiliations_total}-role": "Founder",
        }
    )
    assert admin_client_staff.post(change_url, data).status_code == 302
    added = PersonName.objects.get(person=records.person, name="Cuarón, Alfonso")
    assert added.name_key == "alfonso cuaron"
    assert Affiliation.objects.filter(
        person=records.person, organization=studio, role="Founder"
    ).exists()


def test_a_refused_inline_name_shows_on_its_row_and_saves_nothing(admin_client_staff, records):
    change_url = reverse("admin:people_person_change", args=[records.person.pk])
    data = changeform_data(admin_client_staff.get(change_url))
    row = int(data["names-TOTAL_FORMS"])
    data.update(
        {
            "display_name": "Someone Else",
            "names-TOTAL_FORMS": str(row + 1),
            f"names-{row}-name": "!!!",
        }
    )
    response = admin_client_staff.post(change_url, data)
    assert response.status_code == 200
    names_formset = next(
        inline.formset
        for inline in response.context["inline_admin_formsets"]
        if inline.formset.prefix == "names"
    )
    assert names_formset.forms[row].errors["name"] == ["A name needs at least one letter or digit."]
    records.person.refresh_from_db()
    assert records.person.display_name == "Alfonso Cuarón"
    assert not PersonRename.objects.exists()


def test_a_merged_person_is_only_viewed(admin_client_staff, records):
    merged = Person.objects.get(pk=records.merge.merged_id)
    change_url = reverse("admin:people_person_change", args=[merged.pk])
    assert admin_client_staff.get(change_url).context["has_change_permission"] is False
    assert admin_client_staff.post(change_url, {"display_name": "X"}).status_code == 403


def test_adding_a_name_by_itself_goes_through_the_service(admin_client_staff, records):
    response = admin_client_staff.post(
        reverse("admin:people_personname_add"),
        {"person": records.person.pk, "name": "A. Cuarón"},
    )
    assert response.status_code == 302
    records.person.refresh_from_db()
    assert "a cuaron" in records.person.search_text.split(" | ")


def test_an_affiliation_ending_before_it_starts_is_refused(admin_client_staff, records):
    change_url = reverse("admin:people_affiliation_change", args=[records.affiliation.pk])
    data = changeform_data(admin_client_staff.get(change_url))
    data.update(start_date="2024-01-01", end_date="2020-01-01")
    response = admin_client_staff.post(change_url, data)
    assert response.status_code == 200
    assert response.context["adminform"].form.errors
    records.affiliation.refresh_from_db()
    assert records.affiliation.end_date is None


# --- Judgements ------------------------------------------------------------------


def test_an_editor_decides_a_pair_and_is_recorded(admin_client_staff, records, staff_user):
    change_url = reverse("admin:people_matchjudgement_change", args=[records.matchjudgement.pk])
    data = changeform_data(admin_client_staff.get(change_url))
    assert data["decision"] == ""
    data.update(decision="different", reason="Different films, different decades.")
    assert admin_client_staff.post(change_url, data).status_code == 302
    judgement = MatchJudgement.objects.get(pk=records.matchjudgement.pk)
    assert judgement.decision == "different"
    assert judgement.decided_by == staff_user
    assert judgement.decided_at is not None
    assert judgement.automatic is False


def test_a_decision_without_a_reason_is_refused(admin_client_staff, records):
    change_url = reverse("admin:people_matchjudgement_change", args=[records.matchjudgement.pk])
    data = changeform_data(admin_client_staff.get(change_url))
    data.update(decision="different", reason="")
    response = admin_client_staff.post(change_url, data)
    assert response.status_code == 200
    assert response.context["adminform"].form.errors["reason"] == ["Say why you decide so."]
    assert MatchJudgement.objects.get(pk=records.matchjudgement.pk).decision == "pending"


def test_saving_a_pending_pair_without_choosing_decides_nothing(admin_client_staff, records):
    change_url = reverse("admin:people_matchjudgement_change", args=[records.matchjudgement.pk])
    data = changeform_data(admin_client_staff.get(change_url))
    data["reason"] = "Looked at it."
    response = admin_client_staff.post(change_url, data)
    assert response.status_code == 200
    assert MatchJudgement.objects.get(pk=records.matchjudgement.pk).decision == "pending"


def test_deciding_same_merges_the_pair(admin_client_staff):
    letter = make_letter()
    first = make_signature(letter, name="Ava DuVernay").person
    second = make_signature(make_letter(), name="Ava Du Vernay").person
    a, b = sorted([first, second], key=lambda p: p.pk)
    judgement = MatchJudgement.objects.create(person_a=a, person_b=b, score=0.8)
    change_url = reverse("admin:people_matchjudgement_change", args=[judgement.pk])
    data = changeform_data(admin_client_staff.get(change_url))
    data.update(decision="same", reason="Same director, one spelling dropped the suffix.")
    assert admin_client_staff.post(change_url, data).status_code == 302
    assert Merge.objects.filter(judgement=judgement, undone_at__isnull=True).exists()
    b.refresh_from_db()
    assert b.merged_into_id == a.pk


# --- The editor's desk: typo-tolerant search, runs, the duplicate finder on one person ---


@pytest.mark.parametrize(
    ("term", "name"),
    [
        ("gyllenhaal", "Maggie Gylenhall"),
        ("stiler", "Ben Stiller"),
        ("duvernay", "Ava DuVernay"),
    ],
)
def test_the_people_search_forgives_typos_as_the_api_does(admin_client_staff, term, name):
    found = make_person(name)
    make_person("Cate Blanchett")
    response = admin_client_staff.get(reverse("admin:people_person_changelist"), {"q": term})
    assert results(response) == [found]


def test_the_people_search_shows_the_best_match_first(admin_client_staff):
    close = make_person("Ben Stiler")
    exact = make_person("Ben Stiller")
    response = admin_client_staff.get(reverse("admin:people_person_changelist"), {"q": "stiller"})
    assert results(response)[:2] == [exact, close]


def test_the_autocomplete_forgives_typos_too(admin_client_staff):
    make_person("Maggie Gyllenhaal")
    make_organization("Office of Science and Technology Policy", kind="government")
    people = autocomplete(
        admin_client_staff,
        app_label="people",
        model_name="affiliation",
        field_name="person",
        term="gylenhall",
    )
    organizations = autocomplete(
        admin_client_staff,
        app_label="people",
        model_name="affiliation",
        field_name="organization",
        term="tecnology policy",
    )
    assert people == ["Maggie Gyllenhaal"]
    assert organizations == ["Office of Science and Technology Policy"]


def test_the_organization_search_forgives_typos(admin_client_staff):
    ostp = make_organization("Office of Science and Technology Policy", kind="government")
    response = admin_client_staff.get(
        reverse("admin:people_organization_changelist"), {"q": "sceince and technolgy"}
    )
    assert results(response) == [ostp]


def test_a_running_match_run_page_shows_its_blocks_and_refreshes_itself(admin_client_staff):
    run = MatchRun.objects.create(
        mode="full", status="running", blocks=8, blocks_done=3, people_considered=28
    )
    content = admin_client_staff.get(
        reverse("admin:people_matchrun_change", args=[run.pk])
    ).content.decode()
    assert "3 of 8 blocks done" in content
    assert '<progress value="3" max="8">' in content
    assert "Scoring the pairs, block by block" in content
    assert '<meta http-equiv="refresh" content="2">' in content


def test_a_finished_match_run_page_stops_refreshing_and_reads_its_duration(admin_client_staff):
    from datetime import timedelta

    from django.utils import timezone

    run = MatchRun.objects.create(mode="full", status="succeeded", blocks=2, blocks_done=2)
    MatchRun.objects.filter(pk=run.pk).update(
        finished_at=run.started_at + timedelta(seconds=3.027467)
    )
    assert timezone.now() >= run.started_at
    content = admin_client_staff.get(
        reverse("admin:people_matchrun_change", args=[run.pk])
    ).content.decode()
    assert 'http-equiv="refresh"' not in content
    assert "3.0 s" in content
    assert "0:00:03.027467" not in content


def test_the_runs_list_refreshes_only_while_a_run_goes_on(admin_client_staff):
    url = reverse("admin:people_matchrun_changelist")
    run = MatchRun.objects.create(mode="full", status="running", blocks=4, blocks_done=1)
    assert 'http-equiv="refresh"' in admin_client_staff.get(url).content.decode()
    assert "1 of 4 blocks" in admin_client_staff.get(url).content.decode()
    MatchRun.objects.filter(pk=run.pk).update(status="succeeded")
    assert 'http-equiv="refresh"' not in admin_client_staff.get(url).content.decode()


def test_the_duplicate_finder_runs_on_one_person_from_their_page(admin_client_staff, staff_user):
    person = make_person("Maggie Gylenhall")
    page = admin_client_staff.get(reverse("admin:people_person_change", args=[person.pk]))
    action = reverse("admin:people_person_find_duplicates", args=[person.pk])
    assert f'action="{action}"' in page.content.decode()

    response = admin_client_staff.post(action)

    run = MatchRun.objects.get()
    assert (run.mode, run.focus, run.requested_by) == ("incremental", [person.pk], staff_user)
    assert response["Location"] == reverse("admin:people_matchrun_change", args=[run.pk])


def test_the_duplicate_finder_on_a_person_needs_a_post_and_the_permission(client, editor):
    person = make_person("Maggie Gylenhall")
    client.force_login(editor)
    action = reverse("admin:people_person_find_duplicates", args=[person.pk])
    assert client.get(action).status_code == 405
    editor.user_permissions.remove(*editor.user_permissions.filter(codename="add_matchrun"))
    assert client.post(action).status_code == 403
    assert not MatchRun.objects.exists()


def test_adding_a_person_spelled_like_someone_there_warns_with_links(admin_client_staff):
    from django.contrib.messages import get_messages

    there = make_person("Maggie Gyllenhaal")
    make_person("Cate Blanchett")
    add_url = reverse("admin:people_person_add")
    data = changeform_data(admin_client_staff.get(add_url))
    data["name"] = "Maggie Gylenhall"
    response = admin_client_staff.post(add_url, data)
    texts = [str(message) for message in get_messages(response.wsgi_request)]
    assert texts[-1].startswith("Already here under a close spelling, perhaps the same person: ")
    assert f'/admin/people/person/{there.pk}/change/">Maggie Gyllenhaal</a>' in texts[-1]
    assert "Cate Blanchett" not in texts[-1]
    assert Person.objects.filter(display_name="Maggie Gylenhall").count() == 1


@pytest.mark.parametrize("model_name", ["matchrun", "matchjudgement"])
def test_the_runs_and_pairs_lists_cost_the_same_queries_for_one_row_or_many(
    admin_client_staff, model_name
):
    url = reverse(f"admin:people_{model_name}_changelist")

    def queries() -> int:
        with CaptureQueriesContext(connection) as captured:
            assert admin_client_staff.get(url).status_code == 200
        return len(captured)

    def add_rows(number: int) -> None:
        first, second = make_person(f"Person Alpha{number}"), make_person(f"Person Beta{number}")
        run = MatchRun.objects.create(mode="full", status="succeeded", blocks=2, blocks_done=2)
        MatchJudgement.objects.create(
            person_a=first, person_b=second, score=0.9, run=run, explanation={"bits": 9.1}
        )

    add_rows(0)
    queries()
    one = queries()
    for number in range(1, 5):
        add_rows(number)
    assert queries() == one
