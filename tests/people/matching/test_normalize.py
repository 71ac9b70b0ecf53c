"""Each rule of name normalisation, as the matcher reads names."""

import pytest

from people.matching.context import org_key, title_fields
from people.matching.nicknames import are_nicknames, blocking_names
from people.matching.normalize import fold, name_form, name_form_from_parts, parse_name


def parts(written: str) -> tuple[str, str, str]:
    form = name_form(written)
    return form.given, form.middle, form.family_full


def test_it_folds_case():
    assert name_form("MAGGIE GYLLENHAAL").key == name_form("maggie gyllenhaal").key
    assert name_form("MAGGIE GYLLENHAAL").key == "maggie gyllenhaal"


def test_it_transliterates_accents_and_other_scripts():
    assert name_form("Alfonso Cuarón").key == name_form("Alfonso Cuaron").key
    assert parts("Łukasz Żak") == ("lukasz", "", "zak")
    assert fold("Søren Kierkegaard") == "soren kierkegaard"


def test_it_ignores_punctuation_and_spacing():
    assert name_form("  Ava   DuVernay ").key == "ava duvernay"
    assert parts("Conan O'Brien") == parts("Conan O’Brien") == ("conan", "", "obrien")


def test_it_puts_last_first_in_order():
    assert parts("Gyllenhaal, Maggie") == parts("Maggie Gyllenhaal")
    assert parts("Del Toro, Guillermo") == parts("Guillermo del Toro")


def test_it_keeps_honorifics_aside():
    form = name_form("Sir Paul McCartney")
    assert (form.honorific, form.key) == ("Sir", "paul mccartney")
    assert name_form("McCartney, Sir Paul").honorific == "Sir"
    assert name_form("Dame Judi Dench").key == "judi dench"
    assert name_form("Prof. Brian Cox").key == "brian cox"
    assert name_form("M. Jean Dupont").key == "jean dupont"
    assert name_form("Mme Catherine Deneuve").key == "catherine deneuve"


def test_it_keeps_a_two_word_name_that_starts_like_a_title():
    assert name_form("King Princess").key == "king princess"
    assert name_form("Kelly Bishop").key == "kelly bishop"


def test_it_keeps_post_nominals_aside():
    assert (
        name_form("Sir Paul McCartney CBE").suffix,
        name_form("Sir Paul McCartney CBE").key,
    ) == (
        "CBE",
        "paul mccartney",
    )
    assert name_form("Jane Doe PhD").key == "jane doe"
    assert name_form("JANE DOE PHD").key == "jane doe"
    assert name_form("Smith, John, CBE").key == "john smith"
    assert name_form("Martin Luther King Jr.").suffix == "Jr."


@pytest.mark.parametrize(
    "written", ["Gabrielle Buro FRS", "Dr Gabrielle Buro FRS FBA", "Buro, Gabrielle FRS"]
)
def test_it_keeps_the_post_nominals_of_learned_societies_aside(written):
    assert name_form(written).key == "gabrielle buro"
    assert parse_name(written).key == "gabrielle buro"
    assert parse_name(written).family == "Buro"


def test_it_reads_a_french_honorific_only_before_a_given_name():
    assert parse_name("M. Jean Dupont").honorific == "M."
    assert parse_name("M. Jean Dupont").key == "jean dupont"
    # "M. Gyllenhaal" is an initial and a family name, as the matcher reads it.
    assert (parse_name("M. Gyllenhaal").given, parse_name("M. Gyllenhaal").family) == (
        "M.",
        "Gyllenhaal",
    )
    assert parse_name("M. Gyllenhaal").key == name_form("M. Gyllenhaal").key


def test_it_does_not_mistake_a_short_family_name_for_a_post_nominal():
    assert parts("Yo-Yo Ma") == ("yoyo", "", "ma")
    assert parts("Kim Ma") == ("kim", "", "ma")


def test_it_compares_family_names_with_and_without_their_particles():
    form = name_form("Guillermo del Toro")
    assert (form.family, form.family_full) == ("toro", "deltoro")
    assert name_form("Ludwig van Beethoven").family == "beethoven"
    assert name_form("van der Berg, Jan").family == "berg"


def test_it_treats_a_hyphen_like_a_space():
    hyphen, space = name_form("Mary Lillie-Hinrichs"), name_form("Mary Lillie Hinrichs")
    assert hyphen.family_full == space.tail == "lilliehinrichs"
    assert hyphen.family_parts == "lillie hinrichs"
    assert name_form("Jean-Luc Godard").given == "jeanluc"
    assert name_form("Anne-Marie Duff").given == "annemarie"


def test_it_reads_initials():
    form = name_form("J.R.R. Tolkien")
    assert (form.given, form.middle, form.initials) == ("j", "r r", "jrr")
    assert name_form("M. L. Gyllenhaal").given_is_initial


def test_it_knows_nicknames_both_ways():
    assert are_nicknames("bob", "robert") and are_nicknames("robert", "bob")
    assert are_nicknames("kate", "katherine")
    assert are_nicknames("beppe", "giuseppe") and are_nicknames("giuseppe", "beppe")
    assert not are_nicknames("lana", "lilly")
    assert not are_nicknames("eva", "sam")
    assert "robert" in blocking_names("bob")


def test_it_reads_names_given_in_separate_columns():
    assert name_form_from_parts("Maggie", "Gyllenhaal").key == "maggie gyllenhaal"
    assert name_form_from_parts("", "Cuarón").family == "cuaron"


def test_it_reads_names_as_the_display_parser_does():
    for written in [
        "McCartney, Sir Paul",
        "MAGGIE GYLLENHAAL",
        "Alfonso Cuarón",
        "Ava DuVernay",
        "Gabrielle Buro FRS",
    ]:
        assert name_form(written).key == parse_name(written).key


@pytest.mark.parametrize(
    ("first", "second"),
    [
        ("University of Oxford", "Oxford University"),
        ("The Oxford University", "Univ. of Oxford"),
        ("SAG-AFTRA", "sag aftra"),
    ],
)
def test_it_compares_organisations_without_filler_words_or_order(first, second):
    assert org_key(first) == org_key(second)


def test_it_reads_the_field_of_a_stated_title():
    assert title_fields("Actor and director") == {"acting", "film"}
    assert title_fields("Radio host") == {"broadcasting"}
    assert title_fields("Chair of the board") == frozenset()
