"""The name a person is shown by."""

import pytest

from people.merging.names import best_spelling
from tests.factories import make_letter, make_source

pytestmark = pytest.mark.django_db


def test_a_letter_s_own_list_beats_the_press_and_the_press_beats_an_editor():
    letter = make_letter()
    site = make_source(letter, name="Site", kind="letter_site")
    press = make_source(letter, name="Paper", kind="press")
    names = [("Ava Du Vernay", None), ("Ava Duvernay", press.pk), ("Ava DuVernay", site.pk)]
    assert best_spelling("Ava Du Vernay", names) == "Ava DuVernay"
    assert best_spelling("Ava Du Vernay", names[:2]) == "Ava Duvernay"


def test_the_shown_name_stays_when_nothing_is_more_trusted():
    letter = make_letter()
    press = make_source(letter, name="Paper", kind="press")
    feed = make_source(letter, name="Feed", kind="feed")
    names = [("Ava Duvernay", press.pk), ("AVA DUVERNAY", feed.pk)]
    assert best_spelling("Ava Duvernay", names) is None
