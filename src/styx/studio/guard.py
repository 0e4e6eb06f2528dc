"""What keeps other machines and other sites out of a studio: one ASGI middleware that
looks at every request before any route does (see "Security" in ``docs/studio.md``).

- **The Host.** A studio without a token (one on loopback) answers only requests whose
  ``Host`` is ``localhost``, a loopback address or the address it listens on. A page of
  another site that reaches 127.0.0.1 by DNS rebinding still sends its own name there.
- **The token.** A studio with one answers only requests that carry it: ``?token=``,
  ``Authorization: Bearer`` or the cookie set when the page was opened with ``?token=``.
- **The origin.** A request that changes something (POST, PUT, PATCH, DELETE) must come
  from the studio's own page whenever the browser says where it comes from: its
  ``Origin`` must be the studio's own, its ``Sec-Fetch-Site`` ``same-origin`` (or ``none``:
  the user typed it). And no page of another site, or of another port, may read from the
  studio (``Sec-Fetch-Site: cross-site`` or ``same-site``), except by following a link to
  the page ``/`` itself.

A request that names no origin at all (curl, a script, the Python client) passes: a
program of this machine can reach a loopback studio anyway, and one elsewhere needs the
token. A pure ASGI middleware, so that the event stream goes through unbuffered. No torch.
"""

from __future__ import annotations

import ipaddress
import secrets
from urllib.parse import urlsplit

from starlette.requests import HTTPConnection
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

TOKEN_COOKIE = "styx_token"
#: Methods that change something: only the studio's own page may send them.
CHANGING = frozenset({"POST", "PUT", "PATCH", "DELETE"})
#: ``Sec-Fetch-Site`` values of a request that changes something and is not another site's.
OWN_SITE = ("same-origin", "none")
#: ``Sec-Fetch-Site`` values of a request another site (or another port) made.
OTHER_SITE = ("cross-site", "same-site")
_DEFAULT_PORTS = {"http": "80", "https": "443"}


def is_loopback(host: str) -> bool:
    """Whether the host name or address ``host`` is this machine only: ``localhost``,
    127.0.0.0/8 or ::1 (``[::1]`` too)."""
    name = host.strip().lower()
    if name == "localhost":
        return True
    try:
        return ipaddress.ip_address(name.strip("[]")).is_loopback
    except ValueError:
        return False


def host_name(host_header: str) -> str:
    """The name or address of a ``Host`` header, lower case, without its port or the
    brackets of an IPv6 address: ``[::1]:8000`` is ``::1``."""
    text = host_header.strip().lower()
    if text.startswith("["):
        end = text.find("]")
        return text[1:end] if end > 0 else text
    return text.rsplit(":", 1)[0] if text.count(":") == 1 else text


def same_origin(origin: str, scheme: str, host_header: str) -> bool:
    """Whether the ``Origin`` header ``origin`` is ``scheme://host_header`` (case and a
    default port aside). ``null``, an opaque origin, is never the studio's own."""
    parts = urlsplit(origin.strip())
    if not host_header or parts.scheme.lower() != scheme or parts.path or parts.query:
        return False
    return _netloc(scheme, parts.netloc) == _netloc(scheme, host_header)


def _netloc(scheme: str, netloc: str) -> str:
    text = netloc.strip().lower()
    default = _DEFAULT_PORTS.get(scheme)
    return text[:-len(default) - 1] if default and text.endswith(f":{default}") else text


class RequestGuard:
    """Refuses, with ``{"error": ...}``, a request from another machine without the token
    or one from a page of another site (the module docstring says which); passes the rest.

    ``token``: None for a studio that asks for none. ``host``: the address the server
    listens on (a studio without a token answers to it as well as to loopback names)."""

    def __init__(self, app: ASGIApp, token: str | None = None, host: str = "127.0.0.1") -> None:
        self.app, self.token = app, token
        self.bound_host = host_name(host)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        connection = HTTPConnection(scope)
        refusal = (self._foreign_host(connection) or self._other_site(connection)
                   or self._missing_token(connection))
        if refusal is not None:
            await _refuse(scope, receive, send, *refusal)
        elif self.token is not None and connection.query_params.get("token") is not None:
            await self.app(scope, receive, self._setting_cookie(send))
        else:
            await self.app(scope, receive, send)

    def _foreign_host(self, connection: HTTPConnection) -> tuple[int, str] | None:
        """Without a token: a Host that is not this machine (DNS rebinding)."""
        if self.token is not None:
            return None
        name = host_name(connection.headers.get("host", ""))
        if is_loopback(name) or name == self.bound_host:
            return None
        return 403, f"this studio answers only to localhost, not {name!r}"

    def _other_site(self, connection: HTTPConnection) -> tuple[int, str] | None:
        """A request a page of another site made its browser send (see the module)."""
        headers = connection.headers
        site, origin = headers.get("sec-fetch-site"), headers.get("origin")
        if _changes_something(connection.scope):
            scheme = "https" if connection.url.scheme in ("https", "wss") else "http"
            if origin is not None and not same_origin(origin, scheme, headers.get("host", "")):
                return 403, (f"a page of another site ({origin[:100]}) may not change this "
                             "studio; use the studio's own page")
            if site is not None and site.lower() not in OWN_SITE:
                return 403, ("a page of another site may not change this studio "
                             f"(Sec-Fetch-Site: {site[:40]}); use the studio's own page")
            return None
        if site is not None and site.lower() in OTHER_SITE and not _opens_the_page(connection):
            return 403, ("a page of another site may not read from this studio; open the "
                         "studio at its own address")
        return None

    def _missing_token(self, connection: HTTPConnection) -> tuple[int, str] | None:
        if self.token is None:
            return None
        header = connection.headers.get("authorization", "")
        candidates = [connection.query_params.get("token"),
                      connection.cookies.get(TOKEN_COOKIE),
                      header[7:] if header.lower().startswith("bearer ") else None]
        expected = self.token.encode()
        if any(c and secrets.compare_digest(c.encode(), expected) for c in candidates):
            return None
        return 401, ("this studio needs its token: open the URL 'styx serve' printed "
                     "(it ends in ?token=...)")

    def _setting_cookie(self, send: Send) -> Send:
        """``send``, adding the token's cookie to the response: the page opened with
        ``?token=`` then works without it (SameSite=Strict: never sent by another site)."""
        cookie = f"{TOKEN_COOKIE}={self.token}; Path=/; HttpOnly; SameSite=Strict"

        async def send_with_cookie(message: Message) -> None:
            if message["type"] == "http.response.start":
                message.setdefault("headers", []).append((b"set-cookie", cookie.encode()))
            await send(message)

        return send_with_cookie


def _changes_something(scope: Scope) -> bool:
    # A websocket is opened by a page to talk both ways: as strict as a POST.
    return scope["type"] == "websocket" or scope.get("method", "GET").upper() in CHANGING


def _opens_the_page(connection: HTTPConnection) -> bool:
    """Whether the request is a link to the studio's page followed in a tab or window (not
    in a frame): the one thing another site may lead a browser to."""
    headers = connection.headers
    return (connection.scope.get("method") == "GET" and connection.url.path == "/"
            and headers.get("sec-fetch-mode", "").lower() == "navigate"
            and headers.get("sec-fetch-dest", "document").lower() == "document")


async def _refuse(scope: Scope, receive: Receive, send: Send, status: int, message: str) -> None:
    if scope["type"] == "websocket":
        await send({"type": "websocket.close", "code": 1008})
        return
    await JSONResponse({"error": message}, status_code=status)(scope, receive, send)


__all__ = ["TOKEN_COOKIE", "RequestGuard", "host_name", "is_loopback", "same_origin"]
