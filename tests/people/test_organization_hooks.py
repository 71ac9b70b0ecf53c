"""Other apps told when an organization's names change
(people/organization_hooks.py, called by people/services.py)."""

import pytest

from people import organization_hooks
from people.services import organization_create, organization_update

pytestmark = pytest.mark.django_db


@pytest.fixture
def told(monkeypatch):
    calls: list[int] = []
    monkeypatch.setattr(organization_hooks, "_CALLBACKS", [calls.append])
    return calls


def test_a_new_organization_is_told_once_committed(told, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=False) as pending:
        organization = organization_create(name="Writers Guild of America")
        assert told == []

    for callback in pending:
        callback()
    assert told == [organization.pk]


def test_a_new_alias_or_name_is_told(told, django_capture_on_commit_callbacks):
    organization = organization_create(name="Writers Guild of America")
    told.clear()

    with django_capture_on_commit_callbacks(execute=True):
        organization_update(organization=organization, aliases=["WGA"])
        organization_update(organization=organization, name="Writers Guild of America West")

    assert told == [organization.pk, organization.pk]


def test_a_change_of_other_fields_is_not_told(told, django_capture_on_commit_callbacks):
    organization = organization_create(name="Writers Guild of America")
    told.clear()

    with django_capture_on_commit_callbacks(execute=True):
        organization_update(organization=organization, country="US", url="https://www.wga.org")

    assert told == []


def test_a_callback_registers_once():
    before = organization_hooks.callbacks()

    organization_hooks.register(before[0])

    assert organization_hooks.callbacks() == before


@pytest.mark.django_db(transaction=True)
def test_a_failing_callback_is_logged_and_the_others_still_run(monkeypatch, caplog):
    calls: list[int] = []

    def broken(organization_id: int) -> None:
        raise RuntimeError("the linker is down")

    monkeypatch.setattr(organization_hooks, "_CALLBACKS", [broken, calls.append])

    organization = organization_create(name="Writers Guild of America")  # commits

    assert calls == [organization.pk]
    assert "the linker is down" in caplog.text
