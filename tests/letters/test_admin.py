"""The admin for letters, sources and signatures: pages, folded search, entries
through the services, the status action, and records that stay read-only."""

from __future__ import annotations

import gzip
import html
import re
from types import SimpleNamespace

import pytest
from django.contrib import admin
from django.contrib.messages import get_messages
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from letters import services
from letters.admin import SIGNATURES_SHOWN_ON_LETTER
from letters.models import (
    Letter,
    LetterTarget,
    ListVersion,
    Signature,
    SignatureStatusChange,
    Source,
    SyncRun,
    SyncRunContent,
    WebhookDelivery,
)
from letters.versions import record_version
from letters.webhooks import webhook_subscription_create
from people.models import Person
from tests.factories import make_letter, make_organization, make_signature, make_source
from tests.people.test_admin import autocomplete, changeform_data, results

pytestmark = pytest.mark.django_db

LETTERS_MODELS = {
    "letter",
    "lettertarget",
    "source",
    "syncrun",
    "syncruncontent",
    "signature",
    "signaturestatuschange",
    "sighting",
    "sightingevent",
    "webhooksubscription",
    "webhookdelivery",
}
ADDABLE = {"letter", "lettertarget", "source", "signature", "webhooksubscription"}
VIEW_ONLY = LETTERS_MODELS - ADDABLE


@pytest.fixture
def records(staff_user):
    letter = make_letter(title="Artists on AI and copyright", slug="ai-copyright-2025")
    openai = make_organization("OpenAI", kind="company")
    target = services.letter_target_set(letter=letter, organization=openai, role="subject")
    source = make_source(letter, name="Press list", url="https://example.org/list")
    signature = make_signature(letter, name="Alfonso Cuarón", by=staff_user)
    other = make_signature(letter, name="Ava DuVernay", by=staff_user)
    sighting = signature.sightings.get()
    run = SyncRun.objects.create(
        source=source,
        outcome="succeeded",
        seen=3,
        added=1,
        gone=2,
        diff={"added": ["Alfonso Cuarón"], "gone": [], "changed": []},
    )
    content = SyncRunContent.objects.create(
        run=run,
        data=gzip.compress("name\nAlfonso Cuarón\n".encode()),
        size=20,
        content_type="text/csv",
    )
    subscription, _ = webhook_subscription_create(url="https://example.org/hook", by=staff_user)
    delivery = WebhookDelivery.objects.create(
        subscription=subscription, first_event_id="c1", last_event_id="c2", event_count=2
    )
    return SimpleNamespace(
        webhooksubscription=subscription,
        webhookdelivery=delivery,
        letter=letter,
        lettertarget=target,
        source=source,
        signature=signature,
        other=other,
        sighting=sighting,
        sightingevent=sighting.events.get(),
        signaturestatuschange=signature.status_changes.get(),
        syncrun=run,
        syncruncontent=content,
    )


def queries_to_render(client, url) -> int:
    with CaptureQueriesContext(connection) as captured:
        assert client.get(url).status_code == 200
    return len(captured)


# --- Pages ---------------------------------------------------------------------


def test_every_letters_model_is_registered():
    registered = {
        model._meta.model_name
        for model in admin.site._registry
        if model._meta.app_label == "letters"
    }
    assert registered == LETTERS_MODELS


@pytest.mark.parametrize("model_name", sorted(LETTERS_MODELS))
def test_its_list_and_the_page_of_one_record_render(admin_client_staff, records, model_name):
    obj = getattr(records, model_name)
    changelist = admin_client_staff.get(reverse(f"admin:letters_{model_name}_changelist"))
    assert changelist.status_code == 200
    assert obj in results(changelist)
    page = admin_client_staff.get(reverse(f"admin:letters_{model_name}_change", args=[obj.pk]))
    assert page.status_code == 200


@pytest.mark.parametrize("model_name", sorted(ADDABLE))
def test_its_add_page_renders(admin_client_staff, model_name):
    assert admin_client_staff.get(reverse(f"admin:letters_{model_name}_add")).status_code == 200


@pytest.mark.parametrize("model_name", sorted(VIEW_ONLY))
def test_a_record_of_what_happened_is_only_viewed(admin_client_staff, records, model_name):
    obj = getattr(records, model_name)
    assert admin_client_staff.get(reverse(f"admin:letters_{model_name}_add")).status_code == 403
    change_url = reverse(f"admin:letters_{model_name}_change", args=[obj.pk])
    assert admin_client_staff.get(change_url).context["has_change_permission"] is False
    assert admin_client_staff.post(change_url, {}).status_code == 403


@pytest.mark.parametrize("model_name", sorted(VIEW_ONLY | {"letter", "signature"}))
def test_nothing_a_user_may_cite_is_deleted(admin_client_staff, records, model_name):
    obj = getattr(records, model_name)
    delete_url = reverse(f"admin:letters_{model_name}_delete", args=[obj.pk])
    assert admin_client_staff.post(delete_url, {"post": "yes"}).status_code == 403
    assert type(obj).objects.filter(pk=obj.pk).exists()
    changelist = admin_client_staff.get(reverse(f"admin:letters_{model_name}_changelist"))
    model_admin = changelist.context["cl"].model_admin
    assert "delete_selected" not in model_admin.get_actions(changelist.wsgi_request)


def test_the_run_shows_its_counts_and_its_diff(admin_client_staff, records):
    page = admin_client_staff.get(
        reverse("admin:letters_syncrun_change", args=[records.syncrun.pk])
    )
    content = page.content.decode()
    for label, count in [("Seen", 3), ("Added", 1), ("Gone", 2)]:
        assert re.search(rf"{label}:</label>\s*<div class=\"readonly\">{count}</div>", content)
    assert '"added": [\n    "Alfonso Cuarón"\n  ]' in html.unescape(content)


def test_the_stored_content_is_shown_decompressed(admin_client_staff, records):
    page = admin_client_staff.get(
        reverse("admin:letters_syncruncontent_change", args=[records.syncruncontent.pk])
    )
    assert "name\nAlfonso Cuarón" in page.content.decode()


@pytest.mark.parametrize(
    "model_name", ["letter", "signature", "sighting", "signaturestatuschange", "syncrun"]
)
def test_a_list_costs_the_same_queries_for_one_row_or_many(
    admin_client_staff, staff_user, model_name
):
    letter = make_letter()
    source = make_source(letter)
    make_signature(letter, name="Alfonso Cuarón", by=staff_user)
    SyncRun.objects.create(source=source, outcome="succeeded")
    url = reverse(f"admin:letters_{model_name}_changelist")
    one = queries_to_render(admin_client_staff, url)
    for number, name in enumerate(["Ava DuVernay", "Cate Blanchett", "Paul McCartney"]):
        other_letter = make_letter()
        SyncRun.objects.create(source=make_source(other_letter), outcome="failed")
        make_signature(other_letter, name=name, by=staff_user)
        make_signature(letter, name=f"{name} {number}", by=staff_user)
    assert queries_to_render(admin_client_staff, url) == one


def test_the_pages_of_a_letter_and_a_signature_cost_the_same_queries_however_long_their_history(
    admin_client_staff, records, staff_user
):
    letter_url = reverse("admin:letters_letter_change", args=[records.letter.pk])
    signature_url = reverse("admin:letters_signature_change", args=[records.signature.pk])
    # Once first, so that what Django caches per process (content types) is not counted.
    [queries_to_render(admin_client_staff, url) for url in (letter_url, signature_url)]
    before = [queries_to_render(admin_client_staff, url) for url in (letter_url, signature_url)]
    api = services.source_internal_for(letter=records.letter, kind=Source.Kind.API)
    for number, status in enumerate(["verified", "disputed", "verified"]):
        make_signature(records.letter, name=f"Signatory Number{number}")
        services.signature_change_status(
            signature=records.signature, status=status, reason="Checked.", by=staff_user
        )
        services.signature_record(
            letter=records.letter,
            source=api,
            entry=services.Entry(name="Alfonso Cuarón", key=f"api-{number}"),
        )
    after = [queries_to_render(admin_client_staff, url) for url in (letter_url, signature_url)]
    assert after == before


def test_a_letter_with_many_signatures_shows_the_first_and_links_to_all(
    admin_client_staff, records
):
    letter = records.letter
    for number in range(SIGNATURES_SHOWN_ON_LETTER):
        make_signature(letter, name=f"Signatory Number{number}")
    page = admin_client_staff.get(reverse("admin:letters_letter_change", args=[letter.pk]))
    shown = next(
        inline.formset
        for inline in page.context["inline_admin_formsets"]
        if inline.formset.model is Signature
    )
    assert len(shown.forms) == SIGNATURES_SHOWN_ON_LETTER
    total = SIGNATURES_SHOWN_ON_LETTER + 2
    assert f"{total} signature(s)" in page.content.decode()
    assert f"?letter__id__exact={letter.pk}" in page.content.decode()


def test_the_signature_list_filters_by_letter(admin_client_staff, records):
    elsewhere = make_signature(make_letter(), name="Cate Blanchett")
    listed = results(
        admin_client_staff.get(
            reverse("admin:letters_signature_changelist"),
            {"letter__id__exact": records.letter.pk},
        )
    )
    assert records.signature in listed
    assert elsewhere not in listed


# --- Search --------------------------------------------------------------------


@pytest.mark.parametrize("term", ["cuaron", "CUARÓN", "cuarón  artists"])
def test_it_finds_cuaron_without_the_accent_among_signatures(admin_client_staff, records, term):
    found = results(
        admin_client_staff.get(reverse("admin:letters_signature_changelist"), {"q": term})
    )
    assert found == [records.signature]


def test_it_finds_signatures_and_sightings_by_the_letter_title(admin_client_staff, records):
    elsewhere = make_signature(make_letter(title="Another letter"), name="Cate Blanchett")
    signatures = results(
        admin_client_staff.get(reverse("admin:letters_signature_changelist"), {"q": "COPYRIGHT"})
    )
    sightings = results(
        admin_client_staff.get(reverse("admin:letters_sighting_changelist"), {"q": "cuaron"})
    )
    assert set(signatures) == {records.signature, records.other}
    assert elsewhere not in signatures
    assert sightings == [records.sighting]


def test_the_autocomplete_finds_people_and_letters_without_accents(admin_client_staff, records):
    people = autocomplete(
        admin_client_staff,
        app_label="letters",
        model_name="signature",
        field_name="person",
        term="CUARON",
    )
    letters = autocomplete(
        admin_client_staff,
        app_label="letters",
        model_name="signature",
        field_name="letter",
        term="ártists",
    )
    assert people == ["Alfonso Cuarón"]
    assert letters == ["Artists on AI and copyright"]


def test_it_shows_markup_in_names_as_text(admin_client_staff, records):
    signature = make_signature(records.letter, name="<b>Bold</b> Person")
    for url in [
        reverse("admin:letters_signature_changelist"),
        reverse("admin:letters_sighting_changelist"),
        reverse("admin:letters_signature_change", args=[signature.pk]),
        reverse("admin:letters_letter_change", args=[records.letter.pk]),
    ]:
        content = admin_client_staff.get(url).content.decode()
        assert "<b>Bold</b>" not in content
        assert "&lt;b&gt;Bold&lt;/b&gt;" in content


# --- Letters and targets ---------------------------------------------------------


def test_adding_a_letter_goes_through_the_service(admin_client_staff):
    ostp = make_organization("Office of Science and Technology Policy", kind="government")
    add_url = reverse("admin:letters_letter_add")
    data = changeform_data(admin_client_staff.get(add_url))
    data.update(
        {
            "title": "Letter to the OSTP",
            "slug": "letter-to-ostp",
            "status": "open",
            "published_on": "2025-03-15",
            "claimed_count": "400+",
            "letter_targets-0-organization": str(ostp.pk),
            "letter_targets-0-role": "addressee",
        }
    )
    response = admin_client_staff.post(add_url, data)
    assert response.status_code == 302
    letter = Letter.objects.get(slug="letter-to-ostp")
    assert letter.search_text == "letter to the ostp letter to ostp"
    assert letter.claimed_count_min == 400
    assert list(letter.letter_targets.values_list("organization", "role")) == [
        (ostp.pk, "addressee")
    ]


def test_a_duplicate_slug_shows_a_form_error(admin_client_staff, records):
    add_url = reverse("admin:letters_letter_add")
    data = changeform_data(admin_client_staff.get(add_url))
    data.update(title="Another letter", slug=records.letter.slug, status="open")
    response = admin_client_staff.post(add_url, data)
    assert response.status_code == 200
    assert response.context["adminform"].form.errors["slug"]
    assert Letter.objects.count() == 1


def test_a_refusal_of_the_service_shows_on_its_field(admin_client_staff, records):
    change_url = reverse("admin:letters_letter_change", args=[records.letter.pk])
    data = changeform_data(admin_client_staff.get(change_url))
    data.update(title="Renamed", url="ftp://example.org/letter")
    response = admin_client_staff.post(change_url, data)
    assert response.status_code == 200
    assert response.context["adminform"].form.errors["url"] == [
        "'ftp://example.org/letter' is not an http or https address."
    ]
    records.letter.refresh_from_db()
    assert records.letter.title == "Artists on AI and copyright"


def test_changing_a_letter_refreshes_its_search_text(admin_client_staff, records):
    change_url = reverse("admin:letters_letter_change", args=[records.letter.pk])
    data = changeform_data(admin_client_staff.get(change_url))
    data["title"] = "Künstler über KI"
    assert admin_client_staff.post(change_url, data).status_code == 302
    records.letter.refresh_from_db()
    assert records.letter.search_text == "kunstler uber ki ai copyright 2025"


def test_targets_are_replaced_and_removed_inline(admin_client_staff, records):
    google = make_organization("Google", kind="company")
    change_url = reverse("admin:letters_letter_change", args=[records.letter.pk])
    data = changeform_data(admin_client_staff.get(change_url))
    assert data["letter_targets-0-id"] == str(records.lettertarget.pk)
    data.update(
        {"letter_targets-0-role": "addressee", "letter_targets-1-organization": str(google.pk)}
    )
    data["letter_targets-1-role"] = "subject"
    assert admin_client_staff.post(change_url, data).status_code == 302
    assert set(records.letter.letter_targets.values_list("organization__name", "role")) == {
        ("OpenAI", "addressee"),
        ("Google", "subject"),
    }

    data = changeform_data(admin_client_staff.get(change_url))
    row = next(
        key.removesuffix("-organization")
        for key, value in data.items()
        if key.endswith("-organization") and value == str(google.pk)
    )
    data[f"{row}-DELETE"] = "on"
    assert admin_client_staff.post(change_url, data).status_code == 302
    assert list(records.letter.letter_targets.values_list("organization__name", flat=True)) == [
        "OpenAI"
    ]


def test_a_target_is_removed_from_its_own_page(admin_client_staff, records):
    delete_url = reverse("admin:letters_lettertarget_delete", args=[records.lettertarget.pk])
    assert admin_client_staff.post(delete_url, {"post": "yes"}).status_code == 302
    assert not LetterTarget.objects.filter(pk=records.lettertarget.pk).exists()


# --- Sources ---------------------------------------------------------------------


def test_adding_a_source_takes_the_default_reliability_of_its_kind(admin_client_staff, records):
    add_url = reverse("admin:letters_source_add")
    data = changeform_data(admin_client_staff.get(add_url))
    data.update(letter=str(records.letter.pk), name="Organisers' sheet", kind="feed", format="csv")
    data.pop("reliability", None)
    assert admin_client_staff.post(add_url, data).status_code == 302
    source = Source.objects.get(letter=records.letter, name="Organisers' sheet")
    assert source.reliability == Source.DEFAULT_RELIABILITY[Source.Kind.FEED]


def test_a_source_renamed_like_another_of_its_letter_is_refused(admin_client_staff, records):
    manual = Source.objects.get(letter=records.letter, kind="manual")
    change_url = reverse("admin:letters_source_change", args=[records.source.pk])
    data = changeform_data(admin_client_staff.get(change_url))
    data["name"] = manual.name
    response = admin_client_staff.post(change_url, data)
    assert response.status_code == 200
    assert response.context["adminform"].form.errors["name"]
    records.source.refresh_from_db()
    assert records.source.name == "Press list"


def test_a_source_url_must_be_http(admin_client_staff, records):
    change_url = reverse("admin:letters_source_change", args=[records.source.pk])
    data = changeform_data(admin_client_staff.get(change_url))
    data["url"] = "ftp://example.org/list.csv"
    response = admin_client_staff.post(change_url, data)
    assert response.status_code == 200
    assert response.context["adminform"].form.errors["url"]


# --- Signatures -------------------------------------------------------------------


def test_adding_a_signature_by_name_records_a_manual_sighting(
    admin_client_staff, records, staff_user
):
    add_url = reverse("admin:letters_signature_add")
    data = changeform_data(admin_client_staff.get(add_url, {"letter": records.letter.pk}))
    assert data["letter"] == str(records.letter.pk)
    data.update(name="Guillermo del Toro", title="Director", url="https://example.org/gdt")
    response = admin_client_staff.post(add_url, data)
    assert response.status_code == 302
    person = Person.objects.get(name_key="guillermo del toro")
    signature = Signature.objects.get(letter=records.letter, person=person)
    assert signature.title == "Director"
    sighting = signature.sightings.get()
    assert sighting.source.kind == Source.Kind.MANUAL
    assert sighting.entered_by == staff_user
    change = signature.status_changes.get()
    assert (change.from_status, change.to_status) == ("", "listed")
    assert change.changed_by == staff_user


def test_adding_a_signature_for_an_existing_person_uses_that_person(admin_client_staff, records):
    letter = make_letter()
    person = records.signature.person
    add_url = reverse("admin:letters_signature_add")
    data = changeform_data(admin_client_staff.get(add_url))
    data.update(letter=str(letter.pk), person=str(person.pk))
    assert admin_client_staff.post(add_url, data).status_code == 302
    assert Signature.objects.filter(letter=letter, person=person).exists()
    assert Person.objects.filter(name_key="alfonso cuaron").count() == 1


def test_a_signature_without_a_name_or_a_person_is_refused_on_the_name(admin_client_staff, records):
    add_url = reverse("admin:letters_signature_add")
    data = changeform_data(admin_client_staff.get(add_url))
    data.update(letter=str(records.letter.pk), name="  ")
    response = admin_client_staff.post(add_url, data)
    assert response.status_code == 200
    assert response.context["adminform"].form.errors["name"] == [
        "Give the signatory's name or choose a person."
    ]
    assert Signature.objects.count() == 2


def test_correcting_what_was_stated_goes_through_the_service(admin_client_staff, records):
    union = make_organization("Directors Guild", kind="union")
    change_url = reverse("admin:letters_signature_change", args=[records.signature.pk])
    data = changeform_data(admin_client_staff.get(change_url))
    data.update(title="  Film   director ", organization=str(union.pk))
    assert admin_client_staff.post(change_url, data).status_code == 302
    records.signature.refresh_from_db()
    assert records.signature.title == "Film director"
    assert records.signature.organization == union
    assert records.signature.status == "listed"


def test_an_editor_flags_a_signature_for_review_on_its_page(admin_client_staff, records):
    change_url = reverse("admin:letters_signature_change", args=[records.signature.pk])
    data = changeform_data(admin_client_staff.get(change_url))
    data.update(needs_review="on", review_reason="Two people of this name.")

    assert admin_client_staff.post(change_url, data).status_code == 302

    assert Signature.objects.values_list("needs_review", "review_cause", "review_reason").get(
        pk=records.signature.pk
    ) == (True, "editor", "Two people of this name.")
    changelist = admin_client_staff.get(
        reverse("admin:letters_signature_changelist"), {"review_cause": "editor"}
    )
    assert results(changelist) == [records.signature]


def change_status(client, signatures, **fields):
    return client.post(
        reverse("admin:letters_signature_changelist"),
        {
            "action": "change_status",
            "_selected_action": [signature.pk for signature in signatures],
            "select_across": "0",
            **fields,
        },
    )


def test_the_status_action_asks_for_the_reason_first(admin_client_staff, records):
    response = change_status(admin_client_staff, [records.signature])
    assert response.status_code == 200
    assert response.templates[0].name == "admin/letters/signature/change_status.html"
    assert "Alfonso Cuarón on Artists on AI and copyright" in response.content.decode()
    assert records.signature.status_changes.count() == 1


def test_the_status_action_changes_the_status_and_keeps_the_history(
    admin_client_staff, records, staff_user
):
    response = change_status(
        admin_client_staff,
        [records.signature, records.other],
        apply="yes",
        status="verified",
        reason="Confirmed by email with their agents.",
        evidence_method="email",
        evidence_url="https://example.org/confirmation",
    )
    assert response.status_code == 302
    for signature in (records.signature, records.other):
        signature.refresh_from_db()
        assert signature.status == "verified"
        latest = signature.status_changes.order_by("-changed_at", "-id").first()
        assert (latest.from_status, latest.to_status) == ("listed", "verified")
        assert latest.reason == "Confirmed by email with their agents."
        assert latest.evidence_method == "email"
        assert latest.changed_by == staff_user
    assert [str(m) for m in get_messages(response.wsgi_request)] == [
        "Changed the status of 2 signature(s) to “Verified”."
    ]


def test_the_status_action_without_a_reason_changes_nothing(admin_client_staff, records):
    response = change_status(
        admin_client_staff, [records.signature], apply="yes", status="retracted", reason=""
    )
    assert response.status_code == 200
    assert response.context["form"].errors["reason"]
    records.signature.refresh_from_db()
    assert records.signature.status == "listed"
    assert SignatureStatusChange.objects.filter(signature=records.signature).count() == 1


def test_the_status_action_reports_what_it_refused(admin_client_staff, records):
    services.signature_change_status(
        signature=records.other, status="disputed", reason="Agent denies it."
    )
    response = change_status(
        admin_client_staff,
        [records.signature, records.other],
        apply="yes",
        status="disputed",
        reason="Organisers could not confirm.",
    )
    assert response.status_code == 302
    assert [str(m) for m in get_messages(response.wsgi_request)] == [
        "Changed the status of 1 signature(s) to “Disputed”.",
        "Not changed: Ava DuVernay on Artists on AI and copyright: "
        "The signature is already disputed.",
    ]
    assert records.other.status_changes.count() == 2


def test_the_sync_now_action_queues_a_run_and_a_second_one_is_skipped(client, staff_user):
    from letters.models import SyncRun
    from tests.factories import make_letter, make_source

    client.force_login(staff_user)
    source = make_source(
        make_letter(), kind="feed", url="https://example.org/signatories.csv", format="csv"
    )
    for _ in range(2):
        response = client.post(
            "/admin/letters/source/",
            {"action": "sync_now", "_selected_action": [source.pk]},
            follow=True,
        )
        assert response.status_code == 200
    outcomes = sorted(SyncRun.objects.filter(source=source).values_list("outcome", flat=True))
    assert outcomes == ["queued", "skipped"]


# --- The editor's desk: source options, sync now, runs, honest messages --------------


def messages_of(response) -> list[str]:
    return [str(message) for message in get_messages(response.wsgi_request)]


def source_data(client, url, **changes) -> dict:
    data = changeform_data(client.get(url))
    data.update(changes)
    return data


def test_a_source_s_options_are_fields_of_their_own_with_examples(admin_client_staff, records):
    url = reverse("admin:letters_source_change", args=[records.source.pk])
    content = admin_client_staff.get(url).content.decode()
    for name in ("option_key", "option_encoding", "option_delimiter", "option_json_key"):
        assert f'name="{name}"' in content
    assert 'name="selector_entry"' in content
    assert "Full name = name" in content
    assert "data.signatories" in content
    assert 'name="options"' not in content


def test_structured_options_are_saved_as_the_sync_reads_them(admin_client_staff, records):
    url = reverse("admin:letters_source_change", args=[records.source.pk])
    data = source_data(
        admin_client_staff,
        url,
        format="csv",
        option_delimiter=";",
        option_key="id",
        option_columns="Full name = name\nOrg = affiliation\n",
    )
    response = admin_client_staff.post(url, data)
    assert response.status_code == 302, response.context["adminform"].form.errors
    records.source.refresh_from_db()
    assert records.source.options == {
        "delimiter": ";",
        "key": "id",
        "columns": {"Full name": "name", "Org": "affiliation"},
    }
    shown = admin_client_staff.get(url).content.decode()
    assert "Full name = name" in shown


def test_html_selectors_are_saved_under_selectors(admin_client_staff, records):
    url = reverse("admin:letters_source_change", args=[records.source.pk])
    data = source_data(
        admin_client_staff,
        url,
        format="html",
        selector_entry="ul.signatories > li",
        selector_name=".name",
    )
    assert admin_client_staff.post(url, data).status_code == 302
    records.source.refresh_from_db()
    assert records.source.options == {
        "selectors": {"entry": "ul.signatories > li", "name": ".name"}
    }


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        ({"format": "csv", "option_delimiter": ";;"}, "option_delimiter", "one character"),
        ({"format": "csv", "option_encoding": "klingon"}, "option_encoding", "Unknown encoding"),
        ({"format": "csv", "option_json_key": "data"}, "option_json_key", "not used by CSV"),
        ({"format": "csv", "option_columns": "Full name"}, "option_columns", "heading = field"),
        ({"format": "html"}, "selector_entry", "needs selectors"),
        (
            {"format": "html", "selector_entry": "li", "selector_name": "[[["},
            "selector_name",
            "not valid CSS",
        ),
        ({"format": "json", "selector_entry": "li"}, "selector_entry", "for HTML sources"),
    ],
)
def test_bad_options_are_refused_on_their_field_and_change_nothing(
    admin_client_staff, records, changes, field, message
):
    url = reverse("admin:letters_source_change", args=[records.source.pk])
    before = Source.objects.values().get(pk=records.source.pk)
    response = admin_client_staff.post(url, source_data(admin_client_staff, url, **changes))
    assert response.status_code == 200
    errors = response.context["adminform"].form.errors
    assert message in " ".join(errors[field]), errors
    assert Source.objects.values().get(pk=records.source.pk) == before


def test_a_new_source_takes_its_options_from_the_fields(admin_client_staff, records):
    add_url = reverse("admin:letters_source_add")
    data = changeform_data(admin_client_staff.get(add_url))
    data.update(
        letter=str(records.letter.pk),
        name="Organisers' feed",
        kind="feed",
        url="https://example.org/signatories.json",
        format="json",
        option_json_key="data.signatories",
    )
    assert admin_client_staff.post(add_url, data).status_code == 302
    source = Source.objects.get(name="Organisers' feed")
    assert source.options == {"json_key": "data.signatories"}


def test_sync_now_is_a_button_on_the_source_page_and_follows_the_run(admin_client_staff, records):
    page = reverse("admin:letters_source_change", args=[records.source.pk])
    action = reverse("admin:letters_source_sync", args=[records.source.pk])
    Source.objects.filter(pk=records.source.pk).update(format="csv")
    assert f'action="{action}"' in admin_client_staff.get(page).content.decode()

    response = admin_client_staff.post(action)

    run = SyncRun.objects.filter(source=records.source, outcome="queued").get()
    run_page = reverse("admin:letters_syncrun_change", args=[run.pk])
    assert response["Location"] == run_page
    assert messages_of(response) == [
        f'{records.source}: sync queued as <a href="{run_page}">run {run.pk}</a>; '
        "its page follows it to the end."
    ]
    assert admin_client_staff.get(action).status_code == 405


def test_sync_now_on_a_source_with_nothing_to_fetch_says_why(admin_client_staff, records):
    manual = Source.objects.get(letter=records.letter, kind="manual")
    page = reverse("admin:letters_source_change", args=[manual.pk])
    assert "Sync now</button>" not in admin_client_staff.get(page).content.decode()
    response = admin_client_staff.post(reverse("admin:letters_source_sync", args=[manual.pk]))
    assert response["Location"] == page
    assert "no address to fetch" in messages_of(response)[0]
    assert not SyncRun.objects.filter(source=manual).exists()


def test_the_sync_now_action_links_each_message_to_its_run(admin_client_staff, records):
    Source.objects.filter(pk=records.source.pk).update(format="csv")
    response = admin_client_staff.post(
        reverse("admin:letters_source_changelist"),
        {"action": "sync_now", "_selected_action": [records.source.pk]},
    )
    run = SyncRun.objects.get(source=records.source, outcome="queued")
    assert (
        f'<a href="/admin/letters/syncrun/{run.pk}/change/">run {run.pk}</a>'
        in (messages_of(response)[0])
    )


def test_a_pending_sync_run_page_says_where_it_stands_and_refreshes(admin_client_staff, records):
    run = SyncRun.objects.create(source=records.source, outcome="queued")
    content = admin_client_staff.get(
        reverse("admin:letters_syncrun_change", args=[run.pk])
    ).content.decode()
    assert "waiting for a worker to take it" in content
    assert '<meta http-equiv="refresh" content="2">' in content
    SyncRun.objects.filter(pk=run.pk).update(outcome="succeeded", seen=28, added=2)
    content = admin_client_staff.get(
        reverse("admin:letters_syncrun_change", args=[run.pk])
    ).content.decode()
    assert 'http-equiv="refresh"' not in content
    assert '<span class="run-count-value">28</span> rows read' in content


def test_a_needs_review_signature_shows_a_warning_not_a_tick(admin_client_staff, records):
    Signature.objects.filter(pk=records.signature.pk).update(
        needs_review=True, review_cause="gone", review_reason="Gone from the press list."
    )
    content = admin_client_staff.get(reverse("admin:letters_signature_changelist")).content
    content = content.decode()
    assert content.count("⚠ needs review") == 1
    assert 'title="Gone from the press list."' in content
    assert "icon-yes.svg" not in content


def test_the_organisers_are_chosen_with_an_autocomplete(admin_client_staff, records):
    content = admin_client_staff.get(
        reverse("admin:letters_letter_change", args=[records.letter.pk])
    ).content.decode()
    assert re.search(r'<select name="organisers"[^>]*class="admin-autocomplete', content)


def test_history_rows_open_from_a_column_not_a_repeated_line(admin_client_staff, records):
    content = admin_client_staff.get(
        reverse("admin:letters_letter_change", args=[records.letter.pk])
    ).content.decode()
    signature_url = reverse("admin:letters_signature_change", args=[records.signature.pk])
    assert f'<a href="{signature_url}">open</a>' in content
    assert "inlineviewlink" not in content
    assert "td.original p { display: none; }" in content


def add_signature(client, letter, **fields):
    add_url = reverse("admin:letters_signature_add")
    data = changeform_data(client.get(add_url, {"letter": letter.pk}))
    data.update(fields)
    response = client.post(add_url, data)
    assert response.status_code == 302, response.context["adminform"].form.errors
    return response


def test_adding_a_signature_says_it_is_new_and_of_a_new_person(admin_client_staff, records):
    response = add_signature(admin_client_staff, records.letter, name="Guillermo del Toro")
    signature = Signature.objects.get(person__name_key="guillermo del toro")
    assert response["Location"] == reverse("admin:letters_signature_change", args=[signature.pk])
    [message] = messages_of(response)
    assert message.startswith("New signature: <a href=")
    assert "(a new person) signed “Artists on AI and copyright”" in message
    assert "added successfully" not in message


def test_adding_a_signature_of_a_known_person_says_so(admin_client_staff, records):
    letter = make_letter(title="Letter on film archives")
    person = records.signature.person
    response = add_signature(admin_client_staff, letter, person=str(person.pk))
    [message] = messages_of(response)
    assert "(already known) signed “Letter on film archives”" in message
    assert Person.objects.filter(name_key="alfonso cuaron").count() == 1


@pytest.mark.parametrize("by", ["person", "name"])
def test_adding_someone_already_listed_says_it_added_a_sighting(admin_client_staff, records, by):
    letter = make_letter(title="Letter on film archives")
    listed = services.signature_record(
        letter=letter,
        source=make_source(letter, name="Press"),
        entry=services.Entry(name="Guillermo del Toro"),
    ).signature
    fields = {"person": str(listed.person_id)} if by == "person" else {"name": "Guillermo del Toro"}

    [message] = messages_of(add_signature(admin_client_staff, letter, **fields))

    assert "had already signed “Letter on film archives”: no new signature" in message
    assert "your entry was added to the existing one as another sighting" in message
    assert Signature.objects.get(letter=letter).sightings.count() == 2


def test_entering_the_same_again_says_nothing_changed(admin_client_staff, records):
    letter = make_letter(title="Letter on film archives")
    person = records.signature.person
    add_signature(admin_client_staff, letter, person=str(person.pk), title="Director")
    response = add_signature(admin_client_staff, letter, person=str(person.pk), title="Director")
    [message] = messages_of(response)
    assert message.startswith("Nothing changed: the editors' entry already lists")
    assert Signature.objects.get(letter=letter, person=person).sightings.count() == 1


def editable_names(shown) -> set[str]:
    """The fields an admin (or inline) lets an editor fill in, on its add or change page."""

    def flat(fieldsets) -> set[str]:
        return {
            name
            for _title, options in fieldsets or []
            for entry in options["fields"]
            for name in (entry if isinstance(entry, tuple | list) else [entry])
        }

    change = (flat(shown.fieldsets) | set(shown.fields or [])) - set(shown.readonly_fields)
    add_fieldsets = getattr(shown, "add_fieldsets", None)
    add_readonly = getattr(shown, "add_readonly_fields", None)
    add = flat(add_fieldsets) if add_fieldsets else flat(shown.fieldsets) | set(shown.fields or [])
    add -= set(shown.readonly_fields if add_readonly is None else add_readonly)
    return change | add


def test_every_foreign_key_an_editor_fills_in_is_an_autocomplete():
    """A select listing every row does not scale: each foreign key and
    many-to-many field an editor fills in, in every admin and inline, searches."""
    from django.db import models

    from tracker.admin_kit import ReadOnlyAdmin, ReadOnlyInline

    plain = []
    for model, model_admin in admin.site._registry.items():
        if model._meta.app_label not in {"letters", "people"}:
            continue
        for shown in [model_admin, *(inline(model, admin.site) for inline in model_admin.inlines)]:
            if isinstance(shown, ReadOnlyAdmin | ReadOnlyInline):
                continue
            names = editable_names(shown)
            plain += [
                f"{type(shown).__name__}.{field.name}"
                for field in shown.model._meta.get_fields()
                if isinstance(field, models.ForeignKey | models.ManyToManyField)
                and field.name in names
                and field.name not in shown.autocomplete_fields
            ]
    assert plain == []


def test_a_running_sync_run_page_shows_the_step_and_the_rows_read_so_far(
    admin_client_staff, records
):
    from tracker.progress import progress_report

    run = SyncRun.objects.create(source=records.source, outcome="running", attempts=1)
    progress_report("sync", run.pk, phase="add", rows=12345)
    content = admin_client_staff.get(
        reverse("admin:letters_syncrun_change", args=[run.pk])
    ).content.decode()
    assert "recording them: adding new entries and their people; 12,345 rows read" in content
    assert "Counts" not in content  # zeros until the run ends would read as "none found"


def test_a_letter_s_page_shows_its_list_versions_read_only_newest_first(
    admin_client_staff, records, staff_user
):
    letter = records.letter
    url = reverse("admin:letters_letter_change", args=[letter.pk])
    record_version(letter, user=staff_user, reason="First published.")
    queries_to_render(admin_client_staff, url)
    one = queries_to_render(admin_client_staff, url)
    for number in range(3):
        make_signature(letter, name=f"Signatory Number{number}")
        record_version(letter)

    page = admin_client_staff.get(url)

    shown = next(
        inline
        for inline in page.context["inline_admin_formsets"]
        if inline.formset.model is ListVersion
    )
    assert [form.instance.number for form in shown.formset.forms] == [4, 3, 2, 1]
    assert shown.has_change_permission is False and shown.has_delete_permission is False
    text = page.content.decode()
    assert f"/api/letters/{letter.slug}/versions/4/list.csv" in text
    assert "First published." in text
    assert queries_to_render(admin_client_staff, url) == one


def _version_jobs(broker) -> list[list]:
    """The letter lists of the version jobs waiting on the default queue."""
    import base64
    import json

    jobs = []
    for raw in broker.lrange("celery", 0, -1):
        message = json.loads(raw)
        if message["headers"]["task"] == "letters.tasks.letter_versions_record":
            args, _, _ = json.loads(base64.b64decode(message["body"]))
            jobs.append(args[0])
    return jobs


def test_the_status_action_is_one_change_with_one_new_version_per_letter(
    admin_client_staff, records, staff_user, django_capture_on_commit_callbacks
):
    import redis
    from django.conf import settings

    third = make_signature(records.letter, name="Cate Blanchett", by=staff_user)
    elsewhere = make_signature(make_letter(title="Another letter"), name="Ron Howard")
    broker = redis.Redis.from_url(settings.REDIS_URL)
    broker.delete("celery")
    with django_capture_on_commit_callbacks(execute=True):
        response = change_status(
            admin_client_staff,
            [records.signature, records.other, third, elsewhere],
            apply="yes",
            status="verified",
            reason="Confirmed by their agents.",
        )
    jobs = _version_jobs(broker)
    broker.delete("celery")
    assert response.status_code == 302
    assert Signature.objects.filter(status="verified").count() == 4
    # One job for the whole action, naming each letter once (it was one job per signature).
    assert jobs == [sorted([records.letter.pk, elsewhere.letter_id])]


def test_a_status_action_the_database_refuses_halfway_changes_nothing(
    admin_client_staff, records, staff_user
):
    from django.db import connection

    third = make_signature(records.letter, name="Cate Blanchett", by=staff_user)
    # The third signature's history row cannot be written: the whole action is undone.
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            CREATE FUNCTION refuse_third() RETURNS trigger AS $$
            BEGIN
              IF NEW.signature_id = {third.pk} THEN RAISE EXCEPTION 'refused'; END IF;
              RETURN NEW;
            END $$ LANGUAGE plpgsql;
            CREATE TRIGGER refuse_third BEFORE INSERT ON letters_signaturestatuschange
            FOR EACH ROW EXECUTE FUNCTION refuse_third();
            """
        )
    admin_client_staff.raise_request_exception = False
    response = change_status(
        admin_client_staff,
        [records.signature, records.other, third],
        apply="yes",
        status="verified",
        reason="Confirmed by their agents.",
    )
    assert response.status_code == 500
    assert not Signature.objects.filter(status="verified").exists()
    assert not SignatureStatusChange.objects.filter(to_status="verified").exists()
