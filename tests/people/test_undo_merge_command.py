"""``manage.py undo_merge``: an operator undoes a merge, whole or for some records."""

from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from people.merging.merge import person_merge
from people.models import MatchJudgement, Merge, Person
from tests.factories import make_person

pytestmark = pytest.mark.django_db


def undo_merge(*args, **options) -> str:
    out = StringIO()
    call_command("undo_merge", *[str(arg) for arg in args], stdout=out, **options)
    return out.getvalue()


def test_it_undoes_a_merge_and_says_who_was_taken_back_out():
    survivor, other = make_person("Maggie Gyllenhaal"), make_person("Maggie Gylenhall")
    merge = person_merge(survivor=survivor, merged=other)

    printed = undo_merge(merge.pk, reason="Two actors.")

    assert printed == (
        f"Merge #{merge.pk} undone: Maggie Gylenhall (#{other.pk}) taken back out of "
        f"Maggie Gyllenhaal (#{survivor.pk}).\n"
    )
    merge.refresh_from_db()
    assert (merge.undo_reason, merge.undone_by) == ("Two actors.", None)
    assert Person.objects.get(pk=other.pk).merged_into_id is None
    assert MatchJudgement.objects.get().decision == "different"


def test_it_takes_only_the_records_named_with_person_back_out():
    survivor, middle, first = (make_person(n) for n in ["Cate Blanchett", "Blanchett", "Cate"])
    person_merge(survivor=middle, merged=first)
    merge = person_merge(survivor=survivor, merged=middle)

    printed = undo_merge(merge.pk, "--person", first.pk, reason="Another Cate.")

    kept_in = Merge.objects.get(merged=middle, undone_at__isnull=True)
    assert printed == (
        f"Merge #{merge.pk} partly undone: Cate (#{first.pk}) taken back out of "
        f"Cate Blanchett (#{survivor.pk}); Blanchett (#{middle.pk}) kept in "
        f"(merges #{kept_in.pk}).\n"
    )
    assert Person.objects.get(pk=first.pk).merged_into_id is None
    assert Person.objects.get(pk=middle.pk).merged_into_id == survivor.pk


def test_it_refuses_an_unknown_merge():
    with pytest.raises(CommandError, match="There is no merge #987654"):
        undo_merge(987654, reason="Two actors.")


def test_it_refuses_a_merge_undone_already_and_changes_nothing():
    merge = person_merge(survivor=make_person("Ava DuVernay"), merged=make_person("Ava Duvernay"))
    undo_merge(merge.pk, reason="Two directors.")

    with pytest.raises(CommandError, match="already undone"):
        undo_merge(merge.pk, reason="Again.")

    assert Merge.objects.get(pk=merge.pk).undo_reason == "Two directors."


@pytest.mark.parametrize("reason", [None, "", "   "])
def test_it_refuses_to_undo_without_a_reason(reason):
    merge = person_merge(survivor=make_person("Ava DuVernay"), merged=make_person("Ava Duvernay"))
    options = {} if reason is None else {"reason": reason}

    with pytest.raises(CommandError, match="reason"):
        undo_merge(merge.pk, **options)

    assert Merge.objects.get(pk=merge.pk).undone_at is None


def test_it_refuses_a_record_that_did_not_come_in_with_the_merge():
    merge = person_merge(survivor=make_person("Ava DuVernay"), merged=make_person("Ava Duvernay"))
    stranger = make_person("Cate Blanchett")

    with pytest.raises(CommandError, match=f"#{stranger.pk} did not come in"):
        undo_merge(merge.pk, "--person", stranger.pk, reason="Two directors.")

    assert Merge.objects.get(pk=merge.pk).undone_at is None
