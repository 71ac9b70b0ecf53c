"""Keeping secrets out of the logs.

Tokens and passwords travel in the Authorization header, cookies and request
bodies, none of which are logged. What can still carry one is a query string
(a client that puts its token in ``?token=``, a password-reset link) and a
Referer holding such an address: Django's request log lines attach the request,
whose text is its full path, and the access log prints the query. Both go
through ``redact_url`` here, which keeps the parameter but not its value.
"""

from __future__ import annotations

import logging
import re
from typing import Any
from urllib.parse import unquote_plus, urlsplit, urlunsplit

from gunicorn import glogging

REDACTED = "[redacted]"
# Parameter names that may hold a credential: anything with token, password,
# secret or credential in it, and names that are or end in key, sig, code...
# (``api_key``, ``X-Amz-Signature``), but not ``signed_after`` or ``keyword``.
_SENSITIVE = re.compile(
    r"token|passw|secret|credential|apikey"
    r"|(?:^|[_.\-])(?:key|pwd|sig|signature|session|sessionid|auth|code|otp)\d*$",
    re.IGNORECASE,
)
_SENSITIVE_HEADERS = frozenset({"authorization", "proxy-authorization", "cookie", "set-cookie"})


def redact_query(query: str) -> str:
    """``a=1&token=abc`` -> ``a=1&token=[redacted]``; other parameters unchanged."""
    if not query:
        return query
    parts = []
    for pair in query.split("&"):
        name, equals, value = pair.partition("=")
        if equals and value and _SENSITIVE.search(unquote_plus(name)):
            pair = f"{name}={REDACTED}"
        parts.append(pair)
    return "&".join(parts)


def redact_url(url: str) -> str:
    """A path or address with the values of its sensitive query parameters hidden."""
    if "?" not in url:
        return url
    parts = urlsplit(url)
    return urlunsplit(parts._replace(query=redact_query(parts.query)))


class RedactingFilter(logging.Filter):
    """Replaces the request Django attaches to its log records (shown by the JSON
    formatter as its full path, query included) with its method and redacted path."""

    def filter(self, record: logging.LogRecord) -> bool:
        request = getattr(record, "request", None)
        if request is not None and not isinstance(request, str):
            try:
                path = request.get_full_path()
            except Exception:  # a request too broken to say its path
                path = getattr(request, "path", "")
            record.request = f"{getattr(request, 'method', '')} {redact_url(path)}".strip()
        return True


class GunicornLogger(glogging.Logger):
    """gunicorn's logger with queries, referers and credential headers redacted in
    the access log (``logger_class`` in deploy/gunicorn.conf.py)."""

    def atoms(self, resp: Any, req: Any, environ: dict, request_time: Any) -> dict:
        atoms = super().atoms(resp, req, environ, request_time)
        atoms["q"] = redact_query(atoms.get("q") or "")
        atoms["f"] = redact_url(atoms.get("f") or "-")
        method, _, rest = (atoms.get("r") or "").partition(" ")
        uri, _, protocol = rest.rpartition(" ")
        if uri:
            atoms["r"] = f"{method} {redact_url(uri)} {protocol}"
        for name in list(atoms):
            if name[:1] == "{" and name[-2:] in ("}i", "}o") and name[1:-2] in _SENSITIVE_HEADERS:
                atoms[name] = REDACTED
        environ_atoms = {
            "{query_string}e": atoms["q"],
            "{raw_uri}e": redact_url(environ.get("RAW_URI", "")),
            "{http_referer}e": atoms["f"],
            "{http_authorization}e": REDACTED,
            "{http_proxy_authorization}e": REDACTED,
            "{http_cookie}e": REDACTED,
        }
        atoms.update({name: value for name, value in environ_atoms.items() if name in atoms})
        return atoms
