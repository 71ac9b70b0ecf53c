"""The key of an organization's name, by which affiliations resolve
(people/matching/organizations.py)."""

import pytest

from people.matching.organizations import organization_key


@pytest.mark.parametrize(
    ("first", "second"),
    [
        ("Université de Montréal", "UNIVERSITE DE MONTREAL"),
        ("Writers Guild of America", "writers guild of america"),
        ("Writers Guild of America", "The Writers Guild of America"),
        ("Writers Guild of America", "Writers' Guild of America."),
        ("Writers Guild of America", "Writers-Guild-of-America"),
    ],
)
def test_accents_case_punctuation_and_a_leading_the_do_not_change_the_key(first, second):
    assert organization_key(first) == organization_key(second)


@pytest.mark.parametrize(
    ("short", "long"),
    [
        ("Univ. of California", "University of California"),
        ("Univ of California", "University of California"),
        ("Pompidou Ctr.", "Pompidou Center"),
        ("Pompidou Centre", "Pompidou Center"),
        ("Santa Fe Inst.", "Santa Fe Institute"),
        ("Natl. Rifle Assn.", "National Rifle Association"),
        ("Amnesty Intl.", "Amnesty International"),
        (
            "Int'l Alliance of Theatrical Stage Employees",
            "International Alliance of Theatrical Stage Employees",
        ),
        ("Warner Bros.", "Warner Brothers"),
    ],
)
def test_common_abbreviations_are_written_out(short, long):
    assert organization_key(short) == organization_key(long)


def test_an_ampersand_is_and():
    assert organization_key("Arts & Sciences") == organization_key("Arts and Sciences")


def test_initials_written_with_stops_are_the_acronym():
    assert organization_key("W.G.A.") == organization_key("WGA") == "wga"


@pytest.mark.parametrize(
    ("inverted", "in_order"),
    [
        ("Beatles, The", "The Beatles"),
        ("California, University of", "University of California"),
        ("Technology, Massachusetts Institute of", "Massachusetts Institute of Technology"),
    ],
)
def test_a_catalogues_inverted_name_is_put_back_in_order(inverted, in_order):
    assert organization_key(inverted) == organization_key(in_order)


def test_word_order_otherwise_tells_organizations_apart():
    assert organization_key("University of California") != organization_key("California University")


def test_a_campus_after_a_comma_is_another_organization():
    assert organization_key("University of California, Los Angeles") != organization_key(
        "University of California"
    )


def test_a_name_made_only_of_little_words_keeps_them():
    assert organization_key("The The") == "the the"


def test_a_text_with_no_letter_or_digit_has_no_key():
    assert organization_key("") == organization_key(" - ") == ""
