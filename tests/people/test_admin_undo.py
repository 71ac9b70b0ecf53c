"""The admin's pages for taking people apart again: undoing a merge, whole or
for some of its records, splitting a person's entries off to a new person,
undoing a split; refusals, permissions, and the queries the pages cost."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.contrib.messages import get_messages
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from letters.models import Sighting, Signature
from letters.services import Entry, signature_record
from people.merging.merge import person_merge
from people.merging.split import person_split
from people.merging.undo import merge_people
from people.models import MatchJudgement, Merge, Person, Split
from people.services import person_create, person_survivor
from tests.factories import make_letter, make_source

pytestmark = pytest.mark.django_db


def sign(
    source, name: str, *, person: Person | None = None, title: str = "", affiliation: str = ""
):
    """One entry of a source; its own new person unless ``person`` is given."""
    person = person or person_create(name=name, source=source)
    return signature_record(
        letter=source.letter,
        source=source,
        entry=Entry(name=name, title=title, affiliation=affiliation),
        person=person,
    ).sighting


def fresh(obj):
    return type(obj).objects.get(pk=obj.pk)


def entries_of(person: Person) -> list[int]:
    return sorted(Sighting.objects.filter(signature__person=person).values_list("pk", flat=True))


def survivor_of(person: Person) -> Person:
    return person_survivor(fresh(person))


def shown_messages(response) -> list[tuple[str, str]]:
    return [(m.level_tag, str(m)) for m in get_messages(response.wsgi_request)]


def merge_url(merge: Merge, action: str = "change") -> str:
    return reverse(f"admin:people_merge_{action}", args=[merge.pk])


def person_url(person: Person, action: str = "change") -> str:
    return reverse(f"admin:people_person_{action}", args=[person.pk])


@pytest.fixture
def merged():
    """Maggie Gyllenhaal in three records: "Margaret Gyllenhaal" was merged into
    "Maggie Gylenhall", which was then merged into "Maggie Gyllenhaal"."""
    site = make_source(make_letter(), name="Letter site", kind="letter_site")
    press = make_source(make_letter(), name="Newspaper", kind="press")
    feed = make_source(make_letter(), name="Feed", kind="feed")
    kept = sign(site, "Maggie Gyllenhaal").signature.person
    misspelt = sign(press, "Maggie Gylenhall").signature.person
    initial = sign(feed, "Margaret Gyllenhaal").signature.person
    first = person_merge(survivor=misspelt, merged=initial, reason="One actor.")
    merge = person_merge(survivor=kept, merged=misspelt, reason="One actor, misspelt.")
    assert merge_people(merge) == sorted([misspelt.pk, initial.pk])
    return type(
        "Merged",
        (),
        {"kept": kept, "misspelt": misspelt, "initial": initial, "first": first, "merge": merge},
    )


@pytest.fixture
def many_entries():
    """Ava DuVernay listed by four entries: two sources of one letter, and two
    other letters."""
    letter = make_letter(title="Letter on film archives")
    site = make_source(letter, name="Letter site", kind="letter_site")
    press = make_source(letter, name="Newspaper", kind="press")
    other = make_source(make_letter(title="Letter on studios"), name="Studios' site")
    third = make_source(make_letter(title="Letter on unions"), name="Union site")
    first = sign(site, "Ava DuVernay", title="Director")
    person = first.signature.person
    entries = [
        first,
        sign(press, "A. DuVernay", person=person, affiliation="ARRAY"),
        sign(other, "Ava DuVernay", person=person),
        sign(third, "Ava Duvernay", person=person, title="Nurse"),
    ]
    assert Sighting.objects.filter(signature__person=person).count() == 4
    return person, entries


# --- Undoing a merge -----------------------------------------------------------------


def test_the_merge_page_offers_every_record_that_came_in_ticked(admin_client_staff, merged):
    response = admin_client_staff.get(merge_url(merged.merge))
    assert response.status_code == 200
    content = response.content.decode()
    assert f'action="{merge_url(merged.merge, "undo")}"' in content
    for person in (merged.misspelt, merged.initial):
        assert f'name="people" value="{person.pk}" id="undo-person-{person.pk}" checked' in content
        assert f'href="{person_url(person)}"' in content
    assert f'href="{merge_url(merged.first)}">merge #{merged.first.pk}</a>' in content


def test_undoing_a_whole_merge_takes_every_record_back_out(admin_client_staff, merged, staff_user):
    response = admin_client_staff.post(
        merge_url(merged.merge, "undo"),
        {"reason": "Two actors.", "people": [merged.misspelt.pk, merged.initial.pk]},
    )
    assert response.status_code == 302
    assert response["Location"] == merge_url(merged.merge)
    merge = fresh(merged.merge)
    assert merge.undone_at is not None
    assert (merge.undone_by, merge.undo_reason) == (staff_user, "Two actors.")
    assert fresh(merged.misspelt).merged_into_id is None
    assert survivor_of(merged.initial) == merged.misspelt  # it left with the one it was in
    assert (
        MatchJudgement.objects.get(
            person_a=min(merged.kept.pk, merged.misspelt.pk),
            person_b=max(merged.kept.pk, merged.misspelt.pk),
        ).decision
        == "different"
    )
    [(level, text)] = shown_messages(response)
    assert level == "success"
    assert f"Merge #{merge.pk} undone" in text
    assert f">Maggie Gylenhall</a> (#{merged.misspelt.pk})" in text
    assert f">Margaret Gyllenhaal</a> (#{merged.initial.pk})" in text
    assert "stays" not in text


def test_an_undone_merge_shows_when_by_whom_and_why_instead_of_the_form(admin_client_staff, merged):
    admin_client_staff.post(
        merge_url(merged.merge, "undo"),
        {"reason": "Two actors.", "people": [merged.misspelt.pk, merged.initial.pk]},
    )
    content = admin_client_staff.get(merge_url(merged.merge)).content.decode()
    assert "Undone on" in content
    assert "by staff: “Two actors.”" in content
    assert merge_url(merged.merge, "undo") not in content


def test_an_unticked_record_stays_with_the_survivor(admin_client_staff, merged):
    response = admin_client_staff.post(
        merge_url(merged.merge, "undo"),
        {"reason": "Only the misspelling is someone else.", "people": [merged.misspelt.pk]},
        follow=True,
    )
    assert response.status_code == 200
    merge = fresh(merged.merge)
    assert merge.undone_at is not None
    assert merge.undo_detail["people"] == [merged.misspelt.pk]
    assert fresh(merged.misspelt).merged_into_id is None
    assert survivor_of(merged.initial) == merged.kept
    [kept_in] = merge.undo_detail["kept_in"]
    assert Merge.objects.get(pk=kept_in).merged_id == merged.initial.pk
    [(level, text)] = shown_messages(response)
    assert level == "success"
    assert "Maggie Gylenhall</a>" in text.split(" is no longer part of ")[0]
    assert f">Margaret Gyllenhaal</a> (#{merged.initial.pk}) stays with Maggie Gyllenhaal." in text
    # The page now says what was taken out and links the merge that kept the other in.
    content = response.content.decode()
    assert "Only these records were taken back out" in content
    assert f'href="{reverse("admin:people_merge_change", args=[kept_in])}"' in content


@pytest.mark.parametrize(
    "data, error",
    [
        ({"reason": "", "people": "all"}, "Say why this merge is undone."),
        ({"reason": "   ", "people": "all"}, "Say why this merge is undone."),
        ({"reason": "Two actors."}, "Choose at least one record to take back out."),
        ({"reason": "Two actors.", "people": ["x"]}, "is not the id of a record"),
    ],
)
def test_an_undo_without_a_reason_or_a_record_is_refused_and_changes_nothing(
    admin_client_staff, merged, data, error
):
    if data.get("people") == "all":
        data["people"] = [merged.misspelt.pk, merged.initial.pk]
    response = admin_client_staff.post(merge_url(merged.merge, "undo"), data)
    assert response.status_code == 302
    [(level, text)] = shown_messages(response)
    assert level == "error"
    assert error in text
    assert fresh(merged.merge).undone_at is None
    assert survivor_of(merged.misspelt) == merged.kept
    assert survivor_of(merged.initial) == merged.kept


def test_a_record_that_did_not_come_in_with_the_merge_is_refused(admin_client_staff, merged):
    response = admin_client_staff.post(
        merge_url(merged.merge, "undo"), {"reason": "Two actors.", "people": [merged.kept.pk]}
    )
    [(level, text)] = shown_messages(response)
    assert level == "error"
    assert f"#{merged.kept.pk} did not come in with <a href" in text
    assert fresh(merged.merge).undone_at is None


def test_undoing_twice_is_refused(admin_client_staff, merged):
    data = {"reason": "Two actors.", "people": [merged.misspelt.pk, merged.initial.pk]}
    admin_client_staff.post(merge_url(merged.merge, "undo"), data, follow=True)
    response = admin_client_staff.post(merge_url(merged.merge, "undo"), data)
    [(level, text)] = shown_messages(response)
    assert level == "error"
    assert "was already undone" in text


def test_a_merge_whose_survivor_was_merged_since_points_at_the_later_merge(
    admin_client_staff, merged
):
    again = person_merge(survivor=person_create(name="Maggie G."), merged=merged.kept)
    content = admin_client_staff.get(merge_url(merged.merge)).content.decode()
    assert f'href="{merge_url(again)}">merge #{again.pk}</a>: undo that merge first' in content
    assert merge_url(merged.merge, "undo") not in content
    # A request made all the same is refused with the same link, and changes nothing.
    response = admin_client_staff.post(
        merge_url(merged.merge, "undo"),
        {"reason": "Two actors.", "people": [merged.misspelt.pk, merged.initial.pk]},
    )
    [(level, text)] = shown_messages(response)
    assert level == "error"
    assert f'<a href="{merge_url(again)}">merge #{again.pk}</a>' in text
    assert fresh(merged.merge).undone_at is None


def test_the_undo_address_takes_only_a_post(admin_client_staff, merged):
    assert admin_client_staff.get(merge_url(merged.merge, "undo")).status_code == 405


def test_the_undo_needs_a_valid_csrf_token(staff_user, merged):
    from django.test import Client

    client = Client(enforce_csrf_checks=True)
    client.force_login(staff_user)
    response = client.post(
        merge_url(merged.merge, "undo"), {"reason": "Two actors.", "people": [merged.misspelt.pk]}
    )
    assert response.status_code == 403
    assert fresh(merged.merge).undone_at is None


@pytest.fixture
def viewer(db):
    """Staff who may view and edit people, but not undo merges or split anyone."""
    user = get_user_model().objects.create_user(
        username="viewer", password="viewer-password-123", is_staff=True
    )
    user.user_permissions.set(
        Permission.objects.filter(content_type__app_label__in=["letters", "people"]).exclude(
            codename__in=["change_merge", "add_split", "change_split"]
        )
    )
    return user


def test_without_the_permission_the_undo_is_refused(client, viewer, merged):
    client.force_login(viewer)
    page = client.get(merge_url(merged.merge))
    assert page.status_code == 200
    assert merge_url(merged.merge, "undo") not in page.content.decode()
    response = client.post(
        merge_url(merged.merge, "undo"),
        {"reason": "Two actors.", "people": [merged.misspelt.pk, merged.initial.pk]},
    )
    assert response.status_code == 403
    assert fresh(merged.merge).undone_at is None


def test_the_merges_list_shows_the_names_at_merge_time_and_what_is_undone(
    admin_client_staff, merged
):
    person_merge(survivor=merged.kept, merged=person_create(name="Maggie G"))
    Person.objects.filter(pk=merged.kept.pk).update(display_name="Renamed Since")
    admin_client_staff.post(
        merge_url(merged.merge, "undo"),
        {"reason": "Two actors.", "people": [merged.misspelt.pk, merged.initial.pk]},
        follow=True,
    )
    url = reverse("admin:people_merge_changelist")
    content = admin_client_staff.get(url).content.decode()
    assert "Renamed Since" not in content
    assert f">Maggie Gyllenhaal</a> (#{merged.kept.pk})" in content
    assert f">Maggie Gylenhall</a> (#{merged.misspelt.pk})" in content
    undone = admin_client_staff.get(url, {"undone": "yes"}).context["cl"].result_list
    in_force = admin_client_staff.get(url, {"undone": "no"}).context["cl"].result_list
    assert [m.pk for m in undone] == [merged.merge.pk]
    assert merged.merge.pk not in {m.pk for m in in_force}
    assert len(in_force) == 2


def test_the_merge_page_costs_the_same_queries_for_one_record_or_many(
    admin_client_staff, django_assert_num_queries
):
    def merge_of(records: int) -> Merge:
        letter = make_letter()
        survivor = person_create(name="Alfonso Cuarón")
        merged = person_create(name="Alfonso Cuaron")
        for number in range(records):
            person_merge(survivor=merged, merged=person_create(name=f"A. Cuaron {number}"))
        return person_merge(survivor=survivor, merged=merged, reason=letter.title)

    small, large = merge_of(1), merge_of(15)
    assert len(merge_people(large)) == 16
    with CaptureQueriesContext(connection) as captured:
        assert admin_client_staff.get(merge_url(small)).status_code == 200
    with django_assert_num_queries(len(captured)):
        response = admin_client_staff.get(merge_url(large))
    assert response.content.decode().count('name="people"') == 16


# --- Messages that point at undoing ------------------------------------------------------


def test_judging_merged_records_different_links_to_the_merge_to_undo(admin_client_staff, merged):
    a, b = sorted([merged.kept, merged.misspelt], key=lambda p: p.pk)
    judgement = MatchJudgement.objects.create(person_a=a, person_b=b, score=0.7)
    change_url = reverse("admin:people_matchjudgement_change", args=[judgement.pk])
    response = admin_client_staff.post(
        change_url, {"decision": "different", "reason": "Two actors."}
    )
    assert response.status_code == 200
    content = response.content.decode()
    link = f'<a href="{merge_url(merged.merge)}">merge #{merged.merge.pk}</a>'
    assert f"undo the {link} to separate them" in content
    assert fresh(judgement).decision == "pending"


def test_a_merged_person_links_to_the_merge_that_can_be_undone(admin_client_staff, merged):
    content = admin_client_staff.get(person_url(merged.misspelt)).content.decode()
    assert f'href="{merge_url(merged.merge)}">Merge #{merged.merge.pk}</a>' in content


# --- Splitting a person -----------------------------------------------------------------


def test_the_person_page_lists_the_entries_to_split(admin_client_staff, many_entries):
    person, entries = many_entries
    Sighting.objects.filter(pk=entries[3].pk).update(present=False)
    content = admin_client_staff.get(person_url(person)).content.decode()
    assert f'action="{person_url(person, "split")}"' in content
    for entry in entries:
        assert f'name="sightings" value="{entry.pk}"' in content
    for text in ["A. DuVernay", "Newspaper", "Letter on unions", "Nurse", "ARRAY", "gone"]:
        assert text in content
    assert "Move the chosen entries to a new person" in content


def test_a_split_moves_exactly_the_chosen_entries_to_a_new_person(
    admin_client_staff, many_entries, staff_user
):
    person, entries = many_entries
    chosen = [entries[1].pk, entries[3].pk]  # one of two on the first letter, and a letter's only
    response = admin_client_staff.post(
        person_url(person, "split"), {"reason": "A namesake, a nurse.", "sightings": chosen}
    )
    split = Split.objects.get()
    assert response.status_code == 302
    assert response["Location"] == person_url(split.new_person)
    assert (split.person, split.reason, split.by) == (person, "A namesake, a nurse.", staff_user)
    new = split.new_person
    assert entries_of(new) == sorted(chosen)
    assert entries_of(person) == sorted([entries[0].pk, entries[2].pk])
    assert Signature.objects.filter(person=new, merged_into__isnull=True).count() == 2
    assert fresh(person).merged_into_id is None
    [(level, text)] = shown_messages(response)
    assert level == "success"
    assert "2 entries moved from" in text
    assert f'href="{reverse("admin:people_split_change", args=[split.pk])}"' in text


@pytest.mark.parametrize(
    "reason, chosen, error",
    [
        ("", [1], "Say why these entries are another person."),
        ("A namesake.", [], "Choose the entries that belong to the other person."),
        ("A namesake.", "all", "Every entry of this person would move"),
        ("A namesake.", "stranger", "is not one of this person"),
    ],
)
def test_a_split_refused_changes_nothing(admin_client_staff, many_entries, reason, chosen, error):
    person, entries = many_entries
    stranger = sign(make_source(make_letter()), "Someone Else")
    if chosen == "all":
        chosen = [entry.pk for entry in entries]
    elif chosen == "stranger":
        chosen = [entries[1].pk, stranger.pk]
    else:
        chosen = [entries[i].pk for i in chosen]
    before = dict(Sighting.objects.values_list("pk", "signature_id"))
    people = Person.objects.count()
    response = admin_client_staff.post(
        person_url(person, "split"), {"reason": reason, "sightings": chosen}
    )
    assert response["Location"] == person_url(person) + "#split"
    [(level, text)] = shown_messages(response)
    assert level == "error"
    assert error in text
    assert not Split.objects.exists()
    assert dict(Sighting.objects.values_list("pk", "signature_id")) == before
    assert Person.objects.count() == people


def test_without_the_permission_a_split_is_refused(client, viewer, many_entries):
    person, entries = many_entries
    client.force_login(viewer)
    content = client.get(person_url(person)).content.decode()
    assert 'name="sightings"' not in content
    assert "A. DuVernay" in content  # the entries are still listed
    response = client.post(
        person_url(person, "split"), {"reason": "A namesake.", "sightings": [entries[1].pk]}
    )
    assert response.status_code == 403
    assert not Split.objects.exists()


def test_the_split_address_takes_only_a_post(admin_client_staff, many_entries):
    person, _entries = many_entries
    assert admin_client_staff.get(person_url(person, "split")).status_code == 405


def test_the_person_page_costs_the_same_queries_for_few_entries_or_many(
    admin_client_staff, django_assert_num_queries
):
    def listed(entries: int) -> Person:
        letter = make_letter()
        sources = [make_source(letter) for _ in range(entries)]
        person = sign(sources[0], "Cate Blanchett").signature.person
        for number, source in enumerate(sources[1:]):
            sign(make_source(make_letter()), f"C. Blanchett {number}", person=person)
            sign(source, "Cate Blanchett", person=person)
        return person

    few, many = listed(2), listed(25)
    assert Sighting.objects.filter(signature__person=many).count() == 49
    with CaptureQueriesContext(connection) as captured:
        assert admin_client_staff.get(person_url(few)).status_code == 200
    with django_assert_num_queries(len(captured)):
        response = admin_client_staff.get(person_url(many))
    assert response.content.decode().count('name="sightings"') == 49


# --- Splits: the list, the page, undo -----------------------------------------------------


@pytest.fixture
def split(many_entries, staff_user):
    person, entries = many_entries
    return person_split(
        person=person, sightings=[entries[3].pk], reason="A namesake, a nurse.", by=staff_user
    )


def split_url(split: Split, action: str = "change") -> str:
    return reverse(f"admin:people_split_{action}", args=[split.pk])


def test_the_splits_list_and_page_are_only_viewed(admin_client_staff, split):
    listed = admin_client_staff.get(reverse("admin:people_split_changelist"))
    assert [s.pk for s in listed.context["cl"].result_list] == [split.pk]
    assert admin_client_staff.get(reverse("admin:people_split_add")).status_code == 403
    page = admin_client_staff.get(split_url(split))
    assert page.context["has_change_permission"] is False
    assert admin_client_staff.post(split_url(split), {}).status_code == 403
    assert f'action="{split_url(split, "undo")}"' in page.content.decode()
    person_page = admin_client_staff.get(person_url(split.person)).content.decode()
    assert f'href="{split_url(split)}">split #{split.pk}</a>' in person_page


def test_undoing_a_split_puts_the_entries_back(admin_client_staff, split, many_entries):
    person, entries = many_entries
    response = admin_client_staff.post(split_url(split, "undo"), {"reason": "Same woman."})
    assert response.status_code == 302
    split = fresh(split)
    assert split.undone_at is not None
    assert split.undo_reason == "Same woman."
    assert survivor_of(split.new_person) == person
    assert split.undo_merge.merged_id == split.new_person_id
    assert Sighting.objects.filter(signature__person=person).count() == 4
    [(level, text)] = shown_messages(response)
    assert level == "success"
    assert f"Split #{split.pk} undone" in text
    content = admin_client_staff.get(split_url(split)).content.decode()
    assert "Undone on" in content
    assert f'href="{merge_url(split.undo_merge)}">merge #{split.undo_merge_id}</a>' in content


def test_a_split_undo_without_a_reason_is_refused(admin_client_staff, split):
    response = admin_client_staff.post(split_url(split, "undo"), {"reason": ""})
    [(level, text)] = shown_messages(response)
    assert level == "error"
    assert "Say why this split is undone." in text
    assert fresh(split).undone_at is None


def test_a_split_whose_side_was_merged_since_points_at_that_merge(admin_client_staff, split):
    later = person_merge(survivor=person_create(name="Ava D."), merged=split.new_person)
    content = admin_client_staff.get(split_url(split)).content.decode()
    assert f'href="{merge_url(later)}">merge #{later.pk}</a>: undo that merge first' in content
    response = admin_client_staff.post(split_url(split, "undo"), {"reason": "Same woman."})
    [(level, text)] = shown_messages(response)
    assert level == "error"
    assert f'<a href="{merge_url(later)}">merge #{later.pk}</a>' in text
    assert fresh(split).undone_at is None


def test_without_the_permission_a_split_undo_is_refused(client, viewer, split):
    client.force_login(viewer)
    assert split_url(split, "undo") not in client.get(split_url(split)).content.decode()
    assert client.post(split_url(split, "undo"), {"reason": "Same woman."}).status_code == 403
    assert fresh(split).undone_at is None


def test_the_review_queue_links_a_refusal_to_the_merge_to_undo(admin_client_staff, merged):
    a, b = sorted([merged.kept, merged.misspelt], key=lambda p: p.pk)
    judgement = MatchJudgement.objects.create(person_a=a, person_b=b, score=0.7)
    response = admin_client_staff.post(
        reverse("admin:people_matchjudgement_review"),
        {"judgement": judgement.pk, "decision": "different", "reason": "Two actors."},
        follow=True,
    )
    [(level, text)] = shown_messages(response)
    assert level == "error"
    assert f'undo the <a href="{merge_url(merged.merge)}">merge #{merged.merge.pk}</a>' in text
    assert f'<a href="{merge_url(merged.merge)}">merge #{merged.merge.pk}</a>' in (
        response.content.decode()
    )
    assert fresh(judgement).decision == "pending"


@pytest.mark.parametrize("model_name", ["merge", "split"])
def test_the_lists_cost_the_same_queries_for_one_row_or_many(
    admin_client_staff, django_assert_num_queries, staff_user, model_name
):
    def add(count: int) -> None:
        for number in range(count):
            a, b = person_create(name=f"Ann Lee {number}"), person_create(name=f"Anne Lee {number}")
            if model_name == "merge":
                person_merge(survivor=a, merged=b, by=staff_user)
            else:
                Split.objects.create(person=a, new_person=b, reason="Two.", by=staff_user)

    url = reverse(f"admin:people_{model_name}_changelist")
    add(1)
    with CaptureQueriesContext(connection) as captured:
        assert admin_client_staff.get(url).status_code == 200
    add(12)
    with django_assert_num_queries(len(captured)):
        assert len(admin_client_staff.get(url).context["cl"].result_list) == 13
