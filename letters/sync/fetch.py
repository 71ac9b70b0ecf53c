"""Fetching a source politely and safely.

Only http and https, only public addresses (checked where the connection is
made, so every redirect and every DNS answer is checked, and a name cannot
resolve to one address when checked and another when connected), connect and
read timeouts, an overall deadline, a size cap counted after decompression,
a User-Agent naming the service, and conditional requests.
"""

from __future__ import annotations

import ipaddress
import re
import socket
import time
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache
from urllib.parse import unquote, urljoin, urlsplit

import httpcore
import httpx
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from letters.sync.errors import SyncError, TransientSyncError
from tracker.errors import DomainError

USER_AGENT = "signatory-tracker/0.1 (open-letter signatory tracker; source sync)"
MAX_REDIRECTS = 5
OVERALL_DEADLINE_SECONDS = 300
_TRANSIENT_STATUSES = {408, 425, 429, 500, 502, 503, 504}

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


@dataclass(frozen=True)
class Fetched:
    url: str
    status: int
    not_modified: bool
    content: bytes = b""
    etag: str = ""
    last_modified: str = ""
    content_type: str = ""
    encoding: str | None = None


@lru_cache(maxsize=8)
def _networks(values: tuple[str, ...]) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
    networks = []
    for value in values:
        try:
            networks.append(ipaddress.ip_network(value, strict=False))
        except ValueError:
            raise ImproperlyConfigured(
                f"TRACKER_SOURCE_ALLOWED_NETWORKS has {value!r}, which is not a network "
                "such as 10.1.2.0/24."
            ) from None
    return tuple(networks)


def _kind_of(ip: IPAddress) -> str | None:
    """What makes an address not public, or None when it is public."""
    if isinstance(ip, ipaddress.IPv6Address):
        # IPv4 inside IPv6 (mapped, 6to4, Teredo) is judged by the IPv4 address.
        embedded = ip.ipv4_mapped or ip.sixtofour or (ip.teredo[1] if ip.teredo else None)
        if embedded is not None:
            return _kind_of(embedded)
    for kind, flag in (
        ("loopback", ip.is_loopback),
        ("private", ip.is_private),
        ("link-local", ip.is_link_local),
        ("multicast", ip.is_multicast),
        ("unspecified", ip.is_unspecified),
        ("reserved", ip.is_reserved),
    ):
        if flag:
            return kind
    return None if ip.is_global else "non-public"


def address_refusal(ip: IPAddress) -> str | None:
    """Why this address may not be fetched, or None when it may."""
    if settings.TRACKER_ALLOW_PRIVATE_SOURCES:
        return None
    if any(ip in network for network in _networks(tuple(settings.TRACKER_SOURCE_ALLOWED_NETWORKS))):
        return None
    kind = _kind_of(ip)
    return f"a {kind} address" if kind else None


def resolve_public(host: str, port: int) -> str:
    """The address to connect to for host: every address it resolves to must be
    public (a name that answers with one private address among public ones is
    refused too)."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as exc:
        raise TransientSyncError(f"Cannot resolve {host}: {exc.strerror}.") from None
    addresses = list(dict.fromkeys(info[4][0] for info in infos))
    for address in addresses:
        ip = ipaddress.ip_address(address.split("%", 1)[0])
        refusal = address_refusal(ip)
        if refusal:
            shown = host if host == address else f"{host} resolves to {address}, which"
            raise SyncError(f"{shown} is {refusal}; only public addresses are fetched.")
    if not addresses:
        raise TransientSyncError(f"Cannot resolve {host}: no address.")
    return addresses[0]


class _PublicOnlyBackend(httpcore.SyncBackend):
    """Connects only to checked addresses; TLS still verifies the host name."""

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[tuple] | None = None,
    ) -> httpcore.NetworkStream:
        address = resolve_public(host, port)
        return super().connect_tcp(address, port, timeout, local_address, socket_options)


def _client() -> httpx.Client:
    transport = httpx.HTTPTransport(trust_env=False)
    # httpx builds its pool in __init__ with no way to choose how it connects.
    transport._pool = httpcore.ConnectionPool(
        ssl_context=httpx.create_ssl_context(trust_env=False),
        network_backend=_PublicOnlyBackend(),
        max_connections=2,
    )
    return httpx.Client(
        transport=transport,
        trust_env=False,
        follow_redirects=False,
        timeout=httpx.Timeout(
            connect=settings.TRACKER_SYNC_CONNECT_TIMEOUT,
            read=settings.TRACKER_SYNC_READ_TIMEOUT,
            write=settings.TRACKER_SYNC_READ_TIMEOUT,
            pool=settings.TRACKER_SYNC_CONNECT_TIMEOUT,
        ),
        headers={"User-Agent": USER_AGENT, "Accept": "*/*"},
    )


# Media types that are never a signatory list of the given format: a page where a
# file was expected is typically an error or sign-in page.
_NEVER_A_LIST = ("image/", "audio/", "video/", "font/", "application/pdf")
_NOT_A_FILE = ("text/html", "application/xhtml+xml")


def content_type_refusal(content_type: str, format: str) -> str | None:  # noqa: A002
    """Why content of ``content_type`` cannot be the source's list in ``format``,
    or None when it may be (an absent or generic type is given the benefit of
    the doubt: many servers send CSV as text/plain or application/octet-stream)."""
    media = content_type.split(";", 1)[0].strip().lower()
    refused = media.startswith(_NEVER_A_LIST) or (
        format in ("csv", "json") and media in _NOT_A_FILE
    )
    if not refused:
        return None
    return (
        f"The server answered with {media}, not the {format.upper()} this source is set "
        "to read; it may be an error or sign-in page. Check the source's address and format."
    )


def _check_url(url: str) -> None:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https"):
        raise SyncError(f"Only http and https addresses are fetched, not {url!r}.")
    if not parts.hostname:
        raise SyncError(f"The address {url!r} names no host.")
    # An address literal is judged before any lookup, so that one a resolver cannot
    # use (such as fe80::1%eth0) is refused rather than retried.
    host = unquote(parts.hostname)
    try:
        literal, shown = ipaddress.ip_address(host), host
    except ValueError:
        literal = _legacy_ipv4(host)
        shown = f"{host} is {literal}, which"
    refusal = address_refusal(literal) if literal is not None else None
    if refusal:
        raise SyncError(f"{shown} is {refusal}; only public addresses are fetched.")


def _legacy_ipv4(host: str) -> ipaddress.IPv4Address | None:
    """The IPv4 address of a spelling resolvers accept besides dotted decimal:
    2130706433, 0177.0.0.1, 0x7f.1, 127.1."""
    if not re.fullmatch(r"[0-9a-fA-FxX.]+", host):
        return None
    try:
        return ipaddress.IPv4Address(socket.inet_aton(host))
    except OSError:
        return None


def source_url_validate(*, url: str) -> None:
    """Refuse, when a source is created, an address its syncs would refuse."""
    try:
        _check_url(url)
        parts = urlsplit(url)
        resolve_public(parts.hostname or "", parts.port or 443)
    except TransientSyncError:
        return  # it may resolve later; the sync will check again
    except SyncError as exc:
        raise DomainError(exc.message, field="url") from None


def fetch(
    url: str,
    *,
    etag: str = "",
    last_modified: str = "",
    max_bytes: int | None = None,
) -> Fetched:
    """GET url, following up to five redirects. Raises SyncError (or
    TransientSyncError for what may pass) with a message for the run record."""
    max_bytes = max_bytes or settings.TRACKER_SYNC_MAX_BYTES
    conditional = {}
    if etag:
        conditional["If-None-Match"] = etag
    if last_modified:
        conditional["If-Modified-Since"] = last_modified
    deadline = time.monotonic() + OVERALL_DEADLINE_SECONDS
    current = url
    try:
        with _client() as client:
            for _ in range(MAX_REDIRECTS + 1):
                _check_url(current)
                with client.stream("GET", current, headers=conditional) as response:
                    if response.has_redirect_location:
                        current = urljoin(current, response.headers["location"])
                        continue
                    return _read(response, current, max_bytes, deadline)
    except httpx.TimeoutException as exc:
        raise TransientSyncError(f"Timed out fetching {current}: {exc}.") from None
    except (httpx.ConnectError, httpx.ReadError, httpx.WriteError) as exc:
        raise TransientSyncError(f"Cannot reach {current}: {exc}.") from None
    except httpx.RemoteProtocolError as exc:
        if "location header" in str(exc):
            raise SyncError(
                f"{current} redirects to an address that is not valid: {exc}."
            ) from None
        raise TransientSyncError(f"The server at {current} broke the protocol: {exc}.") from None
    except httpx.DecodingError as exc:
        raise SyncError(f"Cannot decompress the answer from {current}: {exc}.") from None
    except httpx.HTTPError as exc:
        raise SyncError(f"Cannot fetch {current}: {exc}.") from None
    except httpx.InvalidURL as exc:
        raise SyncError(f"The address {current!r} is not valid: {exc}.") from None
    raise SyncError(f"More than {MAX_REDIRECTS} redirects from {url}.")


def _read(response: httpx.Response, url: str, max_bytes: int, deadline: float) -> Fetched:
    status = response.status_code
    if status == 304:
        return Fetched(url=url, status=status, not_modified=True)
    reason = f"HTTP {status} {response.reason_phrase}".strip()
    if status in _TRANSIENT_STATUSES:
        raise TransientSyncError(f"{reason} from {url}.", http_status=status)
    if status != 200:
        raise SyncError(f"{reason} from {url}.", http_status=status)
    too_large = (
        f"The file at {url} is larger than the {max_bytes:,} byte cap (TRACKER_SYNC_MAX_BYTES)."
    )
    declared = response.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > max_bytes:
        raise SyncError(too_large, http_status=status)
    chunks: list[bytes] = []
    size = 0
    for chunk in response.iter_bytes():
        size += len(chunk)
        if size > max_bytes:
            raise SyncError(too_large, http_status=status)
        if time.monotonic() > deadline:
            raise TransientSyncError(
                f"Fetching {url} took longer than {OVERALL_DEADLINE_SECONDS} s.",
                http_status=status,
            )
        chunks.append(chunk)
    return Fetched(
        url=url,
        status=status,
        not_modified=False,
        content=b"".join(chunks),
        etag=response.headers.get("etag", "")[:500],
        last_modified=response.headers.get("last-modified", "")[:100],
        content_type=response.headers.get("content-type", "")[:200],
        encoding=response.charset_encoding,
    )
