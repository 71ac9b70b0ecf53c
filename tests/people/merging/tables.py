"""Whole tables as plain values, to compare before and after a merge, an undo or a split."""

from __future__ import annotations

from collections import defaultdict

from django.forms.models import model_to_dict

from letters.models import Sighting, Signature
from people.models import Affiliation, Person, PersonName


def rows(model) -> dict:
    return {
        obj.pk: {k: v for k, v in model_to_dict(obj).items() if k != "updated_at"}
        for obj in model.objects.order_by("pk")
    }


def snapshot() -> dict:
    """Every row that a merge may touch, as plain values."""
    return {
        "people": rows(Person),
        "names": rows(PersonName),
        "affiliations": rows(Affiliation),
        "signatures": rows(Signature),
        "sightings": rows(Sighting),
    }


def who_signed_what() -> dict:
    """For each active person, by display name: the letters signed and the
    entries (source, name as written) backing each signature. What readers
    see, whatever the ids of the records behind it."""
    view: dict = defaultdict(dict)
    for signature in Signature.objects.filter(
        merged_into__isnull=True, person__merged_into__isnull=True
    ).select_related("person", "letter"):
        view[signature.person.display_name][signature.letter.slug] = (
            signature.status,
            sorted(signature.sightings.values_list("source_id", "name")),
        )
    return dict(view)
