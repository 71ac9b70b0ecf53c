"""Which addresses the service may connect to, for any outgoing request (source
syncs, webhook deliveries): only http and https, only public addresses, checked
where the connection is made, so that every redirect and every DNS answer is
checked and a name cannot resolve to one address when checked and another when
connected. ``TRACKER_ALLOW_PRIVATE_SOURCES`` lifts the rule (tests, local use);
``TRACKER_SOURCE_ALLOWED_NETWORKS`` lists networks allowed although not public.
"""

from __future__ import annotations

import ipaddress
import re
import socket
from collections.abc import Iterable
from functools import lru_cache
from urllib.parse import unquote, urlsplit

import httpcore
import httpx
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


class AddressRefused(Exception):
    """An address the rules refuse: not http(s), no host, or not public."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class AddressUnresolved(Exception):
    """A host name that does not resolve now (it may later)."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


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
    """Why this address may not be connected to, or None when it may."""
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
        raise AddressUnresolved(f"Cannot resolve {host}: {exc.strerror}.") from None
    addresses = list(dict.fromkeys(info[4][0] for info in infos))
    for address in addresses:
        ip = ipaddress.ip_address(address.split("%", 1)[0])
        refusal = address_refusal(ip)
        if refusal:
            shown = host if host == address else f"{host} resolves to {address}, which"
            raise AddressRefused(f"{shown} is {refusal}; only public addresses are fetched.")
    if not addresses:
        raise AddressUnresolved(f"Cannot resolve {host}: no address.")
    return addresses[0]


def _legacy_ipv4(host: str) -> ipaddress.IPv4Address | None:
    """The IPv4 address of a spelling resolvers accept besides dotted decimal:
    2130706433, 0177.0.0.1, 0x7f.1, 127.1."""
    if not re.fullmatch(r"[0-9a-fA-FxX.]+", host):
        return None
    try:
        return ipaddress.IPv4Address(socket.inet_aton(host))
    except OSError:
        return None


def url_check(url: str) -> None:
    """Refuse a URL that is not http(s), names no host, or names a refused address
    literal (judged before any lookup, so that one a resolver cannot use, such as
    fe80::1%eth0, is refused rather than retried)."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https"):
        raise AddressRefused(f"Only http and https addresses are fetched, not {url!r}.")
    if not parts.hostname:
        raise AddressRefused(f"The address {url!r} names no host.")
    host = unquote(parts.hostname)
    try:
        literal, shown = ipaddress.ip_address(host), host
    except ValueError:
        literal = _legacy_ipv4(host)
        shown = f"{host} is {literal}, which"
    refusal = address_refusal(literal) if literal is not None else None
    if refusal:
        raise AddressRefused(f"{shown} is {refusal}; only public addresses are fetched.")


def url_validate(url: str) -> None:
    """Refuse, when an address is stored, one its requests would refuse; a name
    that does not resolve now is let through (it may later; each request checks)."""
    url_check(url)
    parts = urlsplit(url)
    try:
        resolve_public(parts.hostname or "", parts.port or 443)
    except AddressUnresolved:
        return


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


def public_client(
    *, connect: float, read: float, headers: dict[str, str], max_connections: int = 2
) -> httpx.Client:
    """An HTTP client that connects only to addresses the rules allow (raising
    AddressRefused or AddressUnresolved from the request otherwise), follows no
    redirect by itself and reads no proxy or certificate settings from the
    environment."""
    transport = httpx.HTTPTransport(trust_env=False)
    # httpx builds its pool in __init__ with no way to choose how it connects.
    transport._pool = httpcore.ConnectionPool(
        ssl_context=httpx.create_ssl_context(trust_env=False),
        network_backend=_PublicOnlyBackend(),
        max_connections=max_connections,
    )
    return httpx.Client(
        transport=transport,
        trust_env=False,
        follow_redirects=False,
        timeout=httpx.Timeout(connect=connect, read=read, write=read, pool=connect),
        headers=headers,
    )
