"""Fetching a source politely and safely.

Only the addresses ``tracker.addresses`` allows (http and https, public,
checked on every redirect and every DNS answer), connect and read timeouts, an
overall deadline, a size cap counted after decompression, a User-Agent naming
the service, and conditional requests.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from urllib.parse import urljoin

import httpx
from django.conf import settings

from letters.sync.errors import SyncError, TransientSyncError
from tracker.addresses import (
    AddressRefused,
    AddressUnresolved,
    public_client,
    url_check,
    url_validate,
)
from tracker.errors import DomainError

USER_AGENT = "signatory-tracker/0.1 (open-letter signatory tracker; source sync)"
MAX_REDIRECTS = 5
OVERALL_DEADLINE_SECONDS = 300
_TRANSIENT_STATUSES = {408, 425, 429, 500, 502, 503, 504}


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


def _client() -> httpx.Client:
    return public_client(
        connect=settings.TRACKER_SYNC_CONNECT_TIMEOUT,
        read=settings.TRACKER_SYNC_READ_TIMEOUT,
        headers={"User-Agent": USER_AGENT, "Accept": "*/*"},
    )


def source_url_validate(*, url: str) -> None:
    """Refuse, when a source is created, an address its syncs would refuse."""
    try:
        url_validate(url)
    except AddressRefused as exc:
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
                url_check(current)
                with client.stream("GET", current, headers=conditional) as response:
                    if response.has_redirect_location:
                        current = urljoin(current, response.headers["location"])
                        continue
                    return _read(response, current, max_bytes, deadline)
    except AddressRefused as exc:
        raise SyncError(exc.message) from None
    except AddressUnresolved as exc:
        raise TransientSyncError(exc.message) from None
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
