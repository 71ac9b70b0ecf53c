"""python manage.py link_organizations"""

from io import StringIO

import pytest
from django.core.management import call_command

from letters.models import Signature
from letters.services import Entry, signature_record
from tests.factories import make_letter, make_organization, make_source

pytestmark = pytest.mark.django_db


def link_organizations() -> str:
    out = StringIO()
    call_command("link_organizations", stdout=out)
    return out.getvalue().strip()


def test_it_links_stored_signatures_once_and_says_how_many():
    letter = make_letter()
    press = make_source(letter)
    for name, affiliation in [("Billy Ray", "WGA"), ("Tony Gilroy", "W.G.A."), ("Ron Howard", "")]:
        signature_record(
            letter=letter, source=press, entry=Entry(name=name, affiliation=affiliation)
        )
    # Made after the entries, and without the commit that would have linked them.
    wga = make_organization("Writers Guild of America", aliases=["WGA"])

    first, again = link_organizations(), link_organizations()

    assert (first, again) == (
        "Linked 2 signatures to organizations.",
        "Linked 0 signatures to organizations.",
    )
    assert sorted(
        Signature.objects.values_list(
            "person__display_name", "organization_id", "organization_source_id"
        )
    ) == [
        ("Billy Ray", wga.pk, press.pk),
        ("Ron Howard", None, None),
        ("Tony Gilroy", wga.pk, press.pk),
    ]
