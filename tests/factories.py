"""Test data built through the services, as users would build it."""

from __future__ import annotations

import itertools

from letters import services as letter_services
from letters.models import Letter, Signature, Source
from people import services as people_services
from people.models import Organization, Person

_counter = itertools.count(1)


def make_letter(**fields) -> Letter:
    number = next(_counter)
    fields.setdefault("title", f"Open letter {number}")
    fields.setdefault("slug", f"open-letter-{number}")
    return letter_services.letter_create(**fields)


def make_organization(name: str | None = None, **fields) -> Organization:
    return people_services.organization_create(
        name=name or f"Organization {next(_counter)}", **fields
    )


def make_person(name: str = "Ava DuVernay") -> Person:
    return people_services.person_create(name=name)


def make_source(letter: Letter, **fields) -> Source:
    fields.setdefault("name", f"Source {next(_counter)}")
    fields.setdefault("kind", Source.Kind.PRESS)
    return letter_services.source_create(letter=letter, **fields)


def make_signature(letter: Letter | None = None, name: str = "Ava DuVernay", by=None) -> Signature:
    return letter_services.signature_record_manual(letter=letter or make_letter(), name=name, by=by)
