"""Server-side request forgery through source addresses: every spelling of a
loopback, private, link-local or otherwise non-public address, directly or
through a redirect, is refused with a message saying why, and the server behind
it is never contacted. Extends tests/letters/test_sync.py, which covers a plain
loopback address, localhost and one redirect."""

from __future__ import annotations

import pytest

from letters.models import Source
from letters.sync import source_sync
from letters.sync.errors import SyncError, TransientSyncError
from letters.sync.fetch import fetch, source_url_validate
from tests.factories import make_letter
from tracker.errors import DomainError
from tracker.testing.servers import FeedServer

pytestmark = pytest.mark.django_db

REFUSED = "only public addresses are fetched"

# Spellings of this machine, pointed at the port of a live server on 127.0.0.1:
# a request that got through would show in its log.
LOOPBACK = {
    "127.0.0.1": "127.0.0.1 is a loopback address",
    "127.0.0.2": "127.0.0.2 is a loopback address",
    "0.0.0.0": "0.0.0.0 is a private address",  # noqa: S104 - Linux connects it here
    "[::1]": "::1 is a loopback address",
    "[::ffff:127.0.0.1]": "::ffff:127.0.0.1 is a loopback address",
    "[::ffff:7f00:1]": "::ffff:7f00:1 is a loopback address",
    "2130706433": "2130706433 is 127.0.0.1, which is a loopback address",
    "0177.0.0.1": "0177.0.0.1 is 127.0.0.1, which is a loopback address",
    "017700000001": "017700000001 is 127.0.0.1, which is a loopback address",
    "0x7f.0.0.1": "0x7f.0.0.1 is 127.0.0.1, which is a loopback address",
    "0x7f000001": "0x7f000001 is 127.0.0.1, which is a loopback address",
    "127.1": "127.1 is 127.0.0.1, which is a loopback address",
    "localhost": "localhost resolves to",
    "LocalHost": "localhost resolves to",  # host names are case-insensitive
}

# Addresses elsewhere that are not public: refused before any connection.
NOT_PUBLIC = {
    "http://10.0.0.1/list.csv": "10.0.0.1 is a private address",
    "http://172.16.5.4/list.csv": "172.16.5.4 is a private address",
    "http://192.168.1.1/list.csv": "192.168.1.1 is a private address",
    "http://169.254.169.254/latest/meta-data/": "169.254.169.254 is a private address",
    "http://100.64.0.1/list.csv": "100.64.0.1 is a non-public address",
    "http://0/list.csv": "0 is 0.0.0.0, which is a private address",
    "http://[fc00::1]/list.csv": "fc00::1 is a private address",
    "http://[fd12:3456::1]/list.csv": "fd12:3456::1 is a private address",
    "http://[fe80::1]/list.csv": "fe80::1 is a private address",
    "http://[fe80::1%25eth0]/list.csv": "fe80::1%eth0 is a private address",
    "http://[::]/list.csv": ":: is a private address",
    "http://[::ffff:169.254.169.254]/": "::ffff:169.254.169.254 is a private address",
    "http://[2002:a9fe:a9fe::]/": "2002:a9fe:a9fe:: is a private address",  # 6to4
    "http://[64:ff9b::a9fe:a9fe]/": "64:ff9b::a9fe:a9fe is a reserved address",  # NAT64
    "http://user:pass@10.0.0.1/list.csv": "10.0.0.1 is a private address",
    "http://example.org@10.0.0.1/list.csv": "10.0.0.1 is a private address",
}


@pytest.fixture(autouse=True)
def public_sources_only(settings):
    settings.TRACKER_ALLOW_PRIVATE_SOURCES = False
    settings.TRACKER_SOURCE_ALLOWED_NETWORKS = []


@pytest.fixture(scope="module")
def _servers():
    # 127.0.0.3 stands for a public host in the redirect tests.
    with FeedServer("127.0.0.1") as inside, FeedServer("127.0.0.3") as outside:
        inside.serve("/list.csv", b"name\nRon Howard\n")
        outside.serve("/x", b"name\nRon Howard\n")
        yield inside, outside


@pytest.fixture
def private(_servers):
    _servers[0].requests.clear()
    return _servers[0]


@pytest.fixture
def public(_servers, settings):
    settings.TRACKER_SOURCE_ALLOWED_NETWORKS = ["127.0.0.3/32"]
    _servers[1].requests.clear()
    return _servers[1]


def refusal(url: str) -> str:
    with pytest.raises(SyncError) as caught:
        fetch(url)
    assert not isinstance(caught.value, TransientSyncError), caught.value.message
    return caught.value.message


@pytest.mark.parametrize("host", LOOPBACK)
def test_every_spelling_of_this_machine_is_refused_without_a_connection(private, host):
    message = refusal(f"http://{host}:{private.port}/list.csv")

    assert LOOPBACK[host] in message and REFUSED in message
    assert private.requests == []


@pytest.mark.parametrize("url", NOT_PUBLIC)
def test_private_link_local_and_reserved_addresses_are_refused(url):
    message = refusal(url)

    assert NOT_PUBLIC[url] in message and REFUSED in message


@pytest.mark.parametrize("host", LOOPBACK)
def test_a_redirect_to_any_spelling_of_this_machine_is_refused(private, public, host):
    public.redirect("/list.csv", f"http://{host}:{private.port}/list.csv")

    message = refusal(public.url("/list.csv"))

    # httpx itself refuses octal in a Location header, before we can.
    expected = "redirects to an address that is not valid" if host == "0177.0.0.1" else ""
    assert (expected or LOOPBACK[host]) in message
    assert len(public.requests) == 1
    assert private.requests == []


@pytest.mark.parametrize(
    "target", ["http://169.254.169.254/latest/meta-data/", "http://[fe80::1%25eth0]/x", "/x"]
)
def test_a_redirect_to_a_non_public_address_is_refused(public, target):
    # A relative redirect stays on the public host and is followed.
    public.redirect("/list.csv", target)

    if target == "/x":
        assert fetch(public.url("/list.csv")).content == b"name\nRon Howard\n"
    else:
        assert REFUSED in refusal(public.url("/list.csv"))


@pytest.mark.parametrize(
    "url",
    [
        "http://169.254.169.254/latest/meta-data/",
        "http://0177.0.0.1/list.csv",
        "http://[::ffff:127.0.0.1]/list.csv",
        "http://[fe80::1%25eth0]/list.csv",
        "http://localhost/list.csv",
    ],
)
def test_a_source_on_a_non_public_address_cannot_be_created(staff_user, url):
    from rest_framework.test import APIClient

    client = APIClient()
    client.force_authenticate(staff_user)
    letter = make_letter(slug="ssrf")

    response = client.post(
        "/api/sources/",
        {"letter": letter.slug, "name": "Feed", "kind": "feed", "format": "csv", "url": url},
        format="json",
    )

    assert response.status_code == 400
    body = response.json()
    assert body["field"] == "url"
    # Django's URL validator already refuses some spellings as malformed.
    malformed = "0177" in url or "%25" in url
    assert (REFUSED if not malformed else "Enter a valid URL") in body["message"]
    assert not Source.objects.filter(name="Feed").exists()
    with pytest.raises(DomainError):
        source_url_validate(url=url)


def test_a_sync_of_a_source_that_points_inside_fails_with_the_reason(private):
    # Stored straight: the service already refuses it (the test above).
    source = Source.objects.create(
        letter=make_letter(slug="inside"),
        name="Inside",
        kind="feed",
        url=f"http://0x7f000001:{private.port}/list.csv",
        format="csv",
    )

    run = source_sync(source_id=source.pk)

    assert run.outcome == "failed"
    assert "0x7f000001 is 127.0.0.1, which is a loopback address" in run.error
    assert private.requests == []
