"""Signatures linked to the organization their stated affiliation names
(letters/affiliations.py): as entries are written, when an organization is
named later, and never over an editor's choice."""

import pytest

from letters.affiliations import stored_link
from letters.models import Signature
from letters.services import Entry, signature_record, signature_update_stated
from people.services import organization_update
from tests.factories import make_letter, make_organization, make_source

pytestmark = pytest.mark.django_db


def record(letter, source, name, affiliation):
    return signature_record(
        letter=letter, source=source, entry=Entry(name=name, affiliation=affiliation)
    ).signature


def link_of(signature) -> tuple[int | None, int | None, bool]:
    return Signature.objects.values_list(
        "organization_id", "organization_source_id", "organization_by_hand"
    ).get(pk=signature.pk)


@pytest.fixture
def letter():
    return make_letter()


@pytest.fixture
def press(letter):
    return make_source(letter, name="Variety")


def test_an_entry_stating_an_organizations_name_is_linked_to_it_with_its_source(letter, press):
    wga = make_organization("Writers Guild of America")

    signature = record(letter, press, "Billy Ray", "The Writers Guild of America")

    assert link_of(signature) == (wga.pk, press.pk, False)


def test_an_entry_stating_an_alias_is_linked(letter, press):
    wga = make_organization("Writers Guild of America", aliases=["WGA"])

    signature = record(letter, press, "Billy Ray", "W.G.A.")

    assert link_of(signature) == (wga.pk, press.pk, False)


def test_an_unknown_affiliation_stays_text(letter, press):
    make_organization("Writers Guild of America")

    signature = record(letter, press, "Billy Ray", "Writers Guild of Canada")

    assert link_of(signature) == (None, None, False)
    assert Signature.objects.get(pk=signature.pk).affiliation == "Writers Guild of Canada"


def test_an_affiliation_two_organizations_answer_to_is_linked_to_neither(letter, press):
    make_organization("Academy of Motion Picture Arts and Sciences", aliases=["The Academy"])
    make_organization("Academy of Country Music", aliases=["Academy"])

    signature = record(letter, press, "Billy Ray", "The Academy")

    assert link_of(signature) == (None, None, False)


def test_a_changed_affiliation_links_a_signature_with_none(letter, press):
    wga = make_organization("Writers Guild of America")
    # Stated first without an affiliation, then with one: the same entry, completed.
    signature = record(letter, press, "Billy Ray", "")

    record(letter, press, "Billy Ray", "Writers Guild of America")

    assert link_of(signature) == (wga.pk, press.pk, False)


def test_another_sources_affiliation_links_with_that_source(letter, press):
    wga = make_organization("Writers Guild of America", aliases=["WGA"])
    signature = record(letter, press, "Billy Ray", "")
    site = make_source(letter, name="The letter's site")

    record(letter, site, "Billy Ray", "WGA")

    assert link_of(signature) == (wga.pk, site.pk, False)


def test_a_linked_organization_is_not_replaced_by_another_stated_later(letter, press):
    wga = make_organization("Writers Guild of America")
    make_organization("Directors Guild of America")
    signature = record(letter, press, "Billy Ray", "Writers Guild of America")

    record(letter, make_source(letter), "Billy Ray", "Directors Guild of America")

    assert link_of(signature)[0] == wga.pk


def test_signatures_are_linked_when_an_alias_is_added_later(
    letter, press, django_capture_on_commit_callbacks
):
    wga = make_organization("Writers Guild of America")
    signature = record(letter, press, "Billy Ray", "WGA")
    assert link_of(signature) == (None, None, False)

    with django_capture_on_commit_callbacks(execute=True):
        organization_update(organization=wga, aliases=["WGA"])

    assert link_of(signature) == (wga.pk, press.pk, False)


def test_signatures_are_linked_when_their_organization_is_created_later(
    letter, press, django_capture_on_commit_callbacks
):
    signature = record(letter, press, "Billy Ray", "Writers Guild of America")

    with django_capture_on_commit_callbacks(execute=True):
        wga = make_organization("Writers Guild of America")

    assert link_of(signature) == (wga.pk, press.pk, False)


def test_an_organization_named_later_links_no_signature_stating_another(
    letter, press, django_capture_on_commit_callbacks
):
    signature = record(letter, press, "Billy Ray", "Writers Guild of America")

    with django_capture_on_commit_callbacks(execute=True):
        make_organization("Directors Guild of America")

    assert link_of(signature) == (None, None, False)


def test_an_editors_organization_has_no_source_and_is_never_replaced(
    letter, press, django_capture_on_commit_callbacks
):
    signature = record(letter, press, "Billy Ray", "Writers Guild of America")
    dga = make_organization("Directors Guild of America")
    signature_update_stated(signature=signature, organization=dga)

    with django_capture_on_commit_callbacks(execute=True):
        make_organization("Writers Guild of America")
    record(letter, make_source(letter), "Billy Ray", "Writers Guild of America")

    assert link_of(signature) == (dga.pk, None, True)


def test_an_organization_an_editor_cleared_stays_empty(letter, press):
    make_organization("Writers Guild of America")
    signature = record(letter, press, "Billy Ray", "Writers Guild of America")

    signature_update_stated(signature=signature, organization=None)
    stored_link()

    assert link_of(signature) == (None, None, True)


def test_an_affiliation_an_editor_corrects_is_linked_with_no_source(letter, press):
    wga = make_organization("Writers Guild of America", aliases=["WGA"])
    signature = record(letter, press, "Billy Ray", "Freelance")

    signature_update_stated(signature=signature, affiliation="WGA")

    assert link_of(signature) == (wga.pk, None, False)


def test_stored_signatures_stating_an_organization_are_linked_once():
    letter = make_letter()
    press = make_source(letter)
    signatures = [record(letter, press, name, "WGA") for name in ("Billy Ray", "Tony Gilroy")]
    wga = make_organization("Writers Guild of America", aliases=["WGA"])  # not told: no commit

    assert stored_link() == 2
    assert stored_link() == 0
    assert [link_of(signature) for signature in signatures] == [(wga.pk, press.pk, False)] * 2


def test_a_signatures_own_affiliation_decides_over_its_sightings(letter, press):
    site = make_source(letter, name="The letter's site")
    signature = record(letter, press, "Billy Ray", "WGA")
    record(letter, site, "Billy Ray", "DGA")
    wga = make_organization("Writers Guild of America", aliases=["WGA"])
    make_organization("Directors Guild of America", aliases=["DGA"])

    stored_link()

    assert link_of(signature) == (wga.pk, press.pk, False)


def test_sightings_naming_two_organizations_link_neither(letter, press):
    def screenwriter(source, affiliation):
        # The shared field keeps the three entries one person (identity rules).
        return signature_record(
            letter=letter,
            source=source,
            entry=Entry(name="Billy Ray", title="Screenwriter", affiliation=affiliation),
        ).signature

    signature = screenwriter(press, "Freelance")
    screenwriter(make_source(letter), "WGA")
    screenwriter(make_source(letter), "DGA")
    make_organization("Writers Guild of America", aliases=["WGA"])
    make_organization("Directors Guild of America", aliases=["DGA"])

    assert stored_link() == 0
    assert link_of(signature) == (None, None, False)
