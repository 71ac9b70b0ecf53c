"""Hostile HTML sources: scripts are never run and entities never expanded or
fetched (only the names the page lists come out), and a page past the size cap
or nested absurdly deep is refused within the limits, with a message."""

from __future__ import annotations

import time

import pytest

from letters.sync import source_sync
from letters.sync.errors import ParseError
from letters.sync.parse import MAX_HTML_DEPTH, parse
from tests.factories import make_letter, make_source
from tracker.testing.servers import FeedServer

pytestmark = pytest.mark.django_db

OPTIONS = {"selectors": {"entry": "li.signatory", "name": ".name", "affiliation": ".org"}}


@pytest.fixture(autouse=True)
def loopback_feeds_allowed(settings):
    settings.TRACKER_ALLOW_PRIVATE_SOURCES = True


@pytest.fixture
def feeds():
    with FeedServer() as server:
        yield server


def hostile_page(base: str) -> str:
    return f"""<!DOCTYPE html [
  <!ENTITY xxe SYSTEM "file:///etc/passwd">
  <!ENTITY remote SYSTEM "{base}/entity">
  <!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
]>
<html><head>
  <script src="{base}/evil.js"></script>
  <link rel="stylesheet" href="{base}/style.css">
  <script>
    document.write('<li class="signatory"><span class="name">Written By Script</span></li>');
  </script>
</head><body>
<ul>
  <li class="signatory"><span class="name">Ava DuVernay</span><span class="org">&xxe;</span></li>
  <li class="signatory"><span class="name">Ron Howard<script>document.write("Injected")</script>
    </span><span class="org">&remote;&lol2;</span></li>
  <template><li class="signatory"><span class="name">From A Template</span></li></template>
  <noscript><li class="signatory"><span class="name">From Noscript</span></li></noscript>
  <iframe src="{base}/frame.html"
    srcdoc="&lt;li class=signatory&gt;&lt;span class=name&gt;From Srcdoc&lt;/span&gt;"></iframe>
  <img src="{base}/pixel.png" onerror="alert(1)">
</ul></body></html>"""


def test_scripts_and_entities_yield_only_the_listed_names():
    entries = parse(hostile_page("http://127.0.0.1:9").encode(), format="html", options=OPTIONS)

    assert [entry.name for entry in entries] == ["Ava DuVernay", "Ron Howard"]
    # Entities stay as written: nothing read from a file or an address.
    assert entries[0].affiliation == "&xxe;"
    assert entries[1].affiliation == "&remote;&lol2;"
    assert "root:" not in repr(entries)


def test_a_synced_page_fetches_nothing_it_refers_to(feeds):
    feeds.serve("/list.html", hostile_page(feeds.url("")), content_type="text/html")
    source = make_source(make_letter(), url=feeds.url("/list.html"), format="html", options=OPTIONS)

    run = source_sync(source_id=source.pk)

    assert run.outcome == "succeeded", run.error
    assert sorted(source.sightings.values_list("name", flat=True)) == ["Ava DuVernay", "Ron Howard"]
    assert [request.path for request in feeds.requests] == ["/list.html"]


def test_a_page_past_the_size_cap_is_refused_with_the_cap_named(feeds, settings):
    settings.TRACKER_SYNC_MAX_BYTES = 50_000
    rows = "".join(
        f'<li class="signatory"><span class="name">Person {n}</span></li>' for n in range(2_000)
    )
    feeds.serve("/big.html", f"<ul>{rows}</ul>", content_type="text/html")
    source = make_source(make_letter(), url=feeds.url("/big.html"), format="html", options=OPTIONS)

    run = source_sync(source_id=source.pk)

    assert run.outcome == "failed"
    assert "larger than the 50,000 byte cap (TRACKER_SYNC_MAX_BYTES)" in run.error
    assert not source.sightings.exists()


@pytest.mark.parametrize("tag", ["div", "ul", "section"])
def test_a_page_nested_absurdly_deep_is_refused_quickly(tag):
    # 100,000 levels: a 600 KB page the HTML parser would chew on for minutes.
    page = f"<{tag}>" * 100_000 + '<li class="signatory"><span class="name">A B</span></li>'
    started = time.monotonic()

    with pytest.raises(ParseError) as caught:
        parse(page.encode(), format="html", options=OPTIONS)

    assert time.monotonic() - started < 2
    assert f"nested more than {MAX_HTML_DEPTH} deep" in caught.value.message


def test_a_deeply_nested_page_is_refused_in_a_sync_with_the_reason(feeds):
    feeds.serve("/deep.html", "<div>" * 20_000, content_type="text/html")
    source = make_source(make_letter(), url=feeds.url("/deep.html"), format="html", options=OPTIONS)

    run = source_sync(source_id=source.pk)

    assert run.outcome == "failed"
    assert f"Line 1: elements are nested more than {MAX_HTML_DEPTH} deep" in run.error


def test_ordinary_nesting_and_unclosed_list_items_are_read():
    # Sloppy but common: thousands of <li> and <p> never closed, a few layers of <div>.
    items = "".join(
        f'<li class="signatory"><p><span class="name">Person Number{n}</span>' for n in range(3_000)
    )
    page = "<div>" * 100 + f"<ul>{items}</ul>" + "</div>" * 100

    entries = parse(page.encode(), format="html", options=OPTIONS)

    assert len(entries) == 3_000
