"""Reading signatory lists as their sources write them."""

from __future__ import annotations

import codecs
import json
from datetime import date

import pytest

from letters.sync.errors import ParseError
from letters.sync.parse import options_validate, parse
from tests.letters.fixtures.feeds import fixture_bytes
from tracker.errors import DomainError


def names(entries) -> list[str]:
    return [entry.name for entry in entries]


def test_it_reads_a_messy_spreadsheet_export():
    entries = parse(fixture_bytes("organisers_sheet.csv"), format="csv")

    assert names(entries) == [
        "Blanchett, Cate",
        "McCartney, Sir Paul",
        "Ava DuVernay",
        "  Maggie   Gyllenhaal ",
    ]
    paul = entries[1]
    assert paul.affiliation == "MPL Communications, Ltd."
    assert paul.title == "Musician"
    assert paul.country == "GB"
    assert paul.signed_on == date(2025, 3, 14)
    assert paul.extra == {"Notes": 'said "yes" by phone'}
    assert [entry.position for entry in entries] == [1, 2, 3, 4]


def test_it_keeps_a_date_it_cannot_read_as_an_extra_field():
    ava = parse(fixture_bytes("organisers_sheet.csv"), format="csv")[2]

    assert ava.signed_on is None
    assert ava.extra == {"signed_at": "14/03/2025"}


def test_it_reads_latin_1_with_semicolons():
    entries = parse(fixture_bytes("latin1_semicolons.csv"), format="csv")

    assert names(entries) == [
        "Alfonso Cuarón",
        "Almodóvar, Pedro",
        "Björk",
        "François Ozon",
    ]
    assert entries[0].affiliation == "Esperanto Filmoj"


def test_it_follows_the_encoding_the_source_names():
    content = "name\nΓιώργος Λάνθιμος\n".encode("iso8859_7")

    entries = parse(content, format="csv", options={"encoding": "iso8859_7"})

    assert names(entries) == ["Γιώργος Λάνθιμος"]


def test_it_reads_utf_16_with_a_byte_order_mark():
    content = codecs.BOM_UTF16_LE + "name,title\nBong Joon-ho,Director\n".encode("utf-16-le")

    assert names(parse(content, format="csv")) == ["Bong Joon-ho"]


def test_it_prefers_utf_8_over_a_latin_1_label():
    content = "name\nAlfonso Cuarón\n".encode()

    entries = parse(content, format="csv", declared_encoding="iso-8859-1")

    assert names(entries) == ["Alfonso Cuarón"]


def test_it_joins_first_and_last_names_and_keys_by_a_column_when_told():
    entries = parse(fixture_bytes("first_last.csv"), format="csv", options={"key": "id"})

    assert names(entries) == ["Lana Wachowski", "Lilly Wachowski", "Chris Evans"]
    assert [entry.key for entry in entries] == ["id:17", "id:18", "id:19"]
    assert entries[2].affiliation == "Marvel"


def test_it_renames_columns_as_the_source_says():
    content = b"Signatory name,Works at\nRon Howard,Imagine Entertainment\n"

    entries = parse(
        content,
        format="csv",
        options={"columns": {"Signatory name": "name", "Works at": "affiliation"}},
    )

    assert entries[0].name == "Ron Howard"
    assert entries[0].affiliation == "Imagine Entertainment"
    assert entries[0].extra == {}


def test_it_moves_a_url_that_is_not_http_into_the_extra_fields():
    entries = parse(b"name,url\nRon Howard,javascript:alert(1)\n", format="csv")

    assert entries[0].url == ""
    assert entries[0].extra == {"url": "javascript:alert(1)"}


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"name,affiliation\nRon Howard,Imagine\n,Nobody\n", "Line 3: no name."),
        (
            b'name,affiliation\nRon Howard,"Imagine\nCate Blanchett,x\n',
            "Line 2: a quoted field opened here is never closed.",
        ),
        (b'name,affiliation\n"Ron" Howard,Imagine\n', "Line 2: ',' expected after '\"'"),
        (b"name,affiliation\nRon Howard,Imagine,extra,cells\n", "Line 2: 4 fields where"),
        (b"title,affiliation\nActor,Imagine\n", "The header has no 'name' column"),
        (b"", "The file is empty"),
        (b"name\nRon Howard\nCate\x00 Blanchett\n", "Line 3: a NUL character"),
    ],
)
def test_it_says_where_and_why_a_csv_file_cannot_be_read(content, message):
    with pytest.raises(ParseError) as caught:
        parse(content, format="csv")

    assert message in caught.value.message


def test_it_reads_json_under_the_key_it_finds_or_is_told():
    content = fixture_bytes("signatories.json")

    found = parse(content, format="json")
    told = parse(content, format="json", options={"json_key": "signatories"})

    assert names(found) == names(told) == ["Cate Blanchett", "Ava DuVernay", "Ron Howard"]
    cate, ava, _ = found
    assert cate.signed_on == date(2025, 3, 14)
    assert cate.extra == {"profile": {"imdb": "nm0000949"}}
    assert ava.url == "https://example.org/ava"


def test_it_reads_a_json_list_of_objects():
    content = json.dumps([{"name": "Cate Blanchett", "id": 7}]).encode()

    entries = parse(content, format="json", options={"key": "id"})

    assert entries[0].key == "id:7"


@pytest.mark.parametrize(
    ("content", "options", "message"),
    [
        (b'[{"name": "Cate"}, {"name": ]', {}, "Line 1, column 29: Expecting value"),
        (b'{"a": [], "b": []}', {}, "set the source's json_key option"),
        (b'{"data": {"people": 3}}', {"json_key": "data.people"}, "is not a list"),
        (b'[{"name": "Cate"}, 42]', {}, "Item 2: a int, where an object"),
        (b'[{"name": "Cate"}, {"title": "Actor"}]', {}, "Item 2: no name."),
        (b'[{"name": {"first": "Cate"}}]', {}, "Item 1: 'name' is dict"),
    ],
)
def test_it_says_where_and_why_a_json_file_cannot_be_read(content, options, message):
    with pytest.raises(ParseError) as caught:
        parse(content, format="json", options=options)

    assert message in caught.value.message


HTML_OPTIONS = {
    "selectors": {"entry": "li.signatory", "name": ".name", "affiliation": ".org", "url": "a"}
}


def test_it_reads_an_html_page_with_selectors_and_ignores_scripts():
    entries = parse(
        fixture_bytes("signatories.html"),
        format="html",
        options=HTML_OPTIONS,
        base_url="https://letter.example.org/signed",
    )

    assert names(entries) == ["Cate Blanchett", "Ava DuVernay", "Alfonso Cuarón"]
    assert entries[0].url == "https://letter.example.org/people/cate-blanchett"
    assert entries[1].affiliation == "ARRAY & Co"


def test_it_fails_an_html_page_whose_selector_matches_nothing():
    with pytest.raises(ParseError) as caught:
        parse(
            fixture_bytes("signatories.html"),
            format="html",
            options={"selectors": {"entry": "tr.signatory"}},
        )

    assert "matched nothing" in caught.value.message


@pytest.mark.parametrize(
    ("format", "options", "message"),
    [
        ("csv", {"selectors": {}}, "Unknown options for csv: selectors"),
        ("csv", {"encoding": "klingon"}, "Unknown encoding"),
        ("html", {}, "needs selectors"),
        ("html", {"selectors": {"entry": "li[["}}, "is not valid CSS"),
        ("json", {"columns": ["name"]}, "Give column renames"),
    ],
)
def test_it_refuses_options_that_cannot_work(format, options, message):  # noqa: A002
    with pytest.raises(DomainError) as caught:
        options_validate(format=format, options=options)

    assert message in caught.value.message


def test_it_accepts_the_options_each_format_understands():
    options_validate(format="csv", options={"delimiter": ";", "key": "id", "encoding": "cp1252"})
    options_validate(format="json", options={"json_key": "data.people", "columns": {"n": "name"}})
    options_validate(format="html", options=HTML_OPTIONS)
