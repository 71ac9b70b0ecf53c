"""The data steps of the letters migrations."""

from __future__ import annotations

from importlib import import_module

import pytest
from django.apps import apps
from django.db import connection

from letters.models import Signature
from tests.factories import make_letter, make_organization, make_signature

pytestmark = pytest.mark.django_db

review_cause_migration = import_module("letters.migrations.0004_signature_review_cause")


def test_the_review_cause_step_tells_the_syncs_gone_flags_from_the_editors():
    letter = make_letter()
    gone, editor, look_alike, unflagged = (
        make_signature(letter, name) for name in ("Ava DuVernay", "Ron Howard", "Cate", "Björk")
    )
    # The rows as they were before the step: flagged, with no cause yet.
    with connection.cursor() as cursor:
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")  # check the new rows' keys first
        cursor.execute("ALTER TABLE letters_signature DROP CONSTRAINT signature_review_has_cause")
    reasons = {
        gone: "No source lists it any more: Press dropped it (run 7).",
        editor: "Two people of this name.",
        look_alike: "no source lists it any more, says her agent",
    }
    for signature, reason in reasons.items():
        Signature.objects.filter(pk=signature.pk).update(needs_review=True, review_reason=reason)

    review_cause_migration.review_causes(apps, None)

    assert dict(
        Signature.objects.values_list("pk", "review_cause").filter(
            pk__in=[gone.pk, editor.pk, look_alike.pk, unflagged.pk]
        )
    ) == {gone.pk: "gone", editor.pk: "editor", look_alike.pk: "editor", unflagged.pk: ""}


organization_source_migration = import_module(
    "letters.migrations.0005_signature_organization_source"
)


def test_the_organization_source_step_makes_the_organizations_set_before_the_editors():
    letter = make_letter()
    chosen, unlinked = make_signature(letter, "Billy Ray"), make_signature(letter, "Tony Gilroy")
    # Before the step only an editor could set an organization.
    Signature.objects.filter(pk=chosen.pk).update(organization=make_organization("WGA"))

    organization_source_migration.editors_organizations(apps, None)

    assert dict(
        Signature.objects.filter(pk__in=[chosen.pk, unlinked.pk]).values_list(
            "pk", "organization_by_hand"
        )
    ) == {chosen.pk: True, unlinked.pk: False}
