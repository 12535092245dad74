"""Request guards of the host: security headers, the request body limit, sign-in throttling
and the revocation of signed-out sessions.
"""

from __future__ import annotations

import collections
import logging
import time
from typing import Any, Callable, Iterable

from starlette.applications import Starlette
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ..exceptions import RequestValidationError

logger = logging.getLogger(__name__)

CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'self'",
        # The email preview is an <iframe srcdoc>, which inherits this policy, and emails
        # style their elements in attributes. Inline scripts, event handler attributes and
        # <style> elements stay blocked.
        "style-src-attr 'unsafe-inline'",
        "frame-ancestors 'none'",
        "base-uri 'none'",
        "form-action 'self'",
        "object-src 'none'",
    ]
)
STRICT_TRANSPORT_SECURITY = "max-age=31536000"
SECURITY_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "X-Frame-Options": "DENY",
}


class SecurityHeaders:
    """ASGI middleware that adds the security headers to every HTTP response.

    A header the route set itself is kept, so a page can send a stricter policy (the
    candidate pages send ``Referrer-Policy: no-referrer``). ``Strict-Transport-Security``
    is sent only when ``hsts`` is true, because browsers ignore it over plain HTTP and a
    site reached over HTTP must not ask for HTTPS.

    Starlette calls ``errors.server_error`` from ``ServerErrorMiddleware``, which wraps every
    user middleware, so that handler adds ``SECURITY_HEADERS`` to the 500 page itself.
    """

    def __init__(self, app: ASGIApp, *, hsts: bool = False) -> None:
        self.app = app
        self.headers = dict(SECURITY_HEADERS)
        if hsts:
            self.headers["Strict-Transport-Security"] = STRICT_TRANSPORT_SECURITY
        # Encoded once, because this runs on every response.
        self.raw_headers = [(name.lower().encode("latin-1"), value.encode("latin-1")) for name, value in self.headers.items()]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", ()))
                present = {name.lower() for name, _ in headers}
                headers.extend(pair for pair in self.raw_headers if pair[0] not in present)
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, send_with_headers)


class RejectNulInUrl:
    """ASGI middleware that responds with 400 when the path or query string contains a NUL character.

    Path and query values reach database queries, and PostgreSQL cannot compare text that
    contains NUL. The reply is JSON, with ``field`` set to ``url``, like the other errors
    of the JSON APIs.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and ("\x00" in scope["path"] or b"%00" in scope["query_string"]):
            logger.info("rejected %s %r: NUL character in the URL", scope["method"], scope["path"])
            response = JSONResponse(
                {"error": "The address contains a NUL character (%00), which Langos cannot use. "
                          "Remove it and send the request again.", "field": "url"},
                status_code=400,
            )
            await response(scope, receive, send)
            return
        await self.app(scope, receive, send)


class SkipUnderPrefixes:
    """ASGI middleware that runs ``middleware`` on every request except those under ``prefixes``.

    The host wraps ``SessionMiddleware`` in it so that calls to connector mounts skip the
    session cookie, because an ATS authenticates with its API key. A connector route that
    reads ``request.session`` fails. A path is under a prefix when it starts with the prefix
    and a slash, as for a ``Mount``.
    """

    def __init__(self, app: ASGIApp, *, middleware: Callable[..., ASGIApp], prefixes: Iterable[str], **options: Any) -> None:
        self.app = app
        self.wrapped = middleware(app, **options)
        self.prefixes = tuple(prefix.rstrip("/") + "/" for prefix in prefixes)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self.prefixes and scope["type"] == "http" and scope["path"].startswith(self.prefixes):
            await self.app(scope, receive, send)
            return
        await self.wrapped(scope, receive, send)


class RequestBodyTooLarge(RequestValidationError):
    """The request body is larger than ``LANGOS_MAX_BODY_BYTES``.

    It is a ``RequestValidationError`` with status 413, so a route that already turns
    validation errors into its own error format reports this one the same way.
    """

    def __init__(self, max_bytes: int) -> None:
        super().__init__(
            f"The request body is larger than the limit of {max_bytes} bytes; send a smaller body "
            "(a Langos admin sets the limit with LANGOS_MAX_BODY_BYTES).",
            field="body",
            status_code=413,
        )
        self.max_bytes = max_bytes


class RequestBodyLimit:
    """ASGI middleware that rejects request bodies larger than ``max_bytes``.

    Reading the body raises ``RequestBodyTooLarge``: at once when ``Content-Length`` is over
    the limit, otherwise as soon as the chunks received add up to more than the limit. Routes
    see the error where they read the body, inside their transaction, so nothing is written.
    When a route lets the error through, this middleware responds with 413 and
    ``{"error": ..., "field": "body", "max_bytes": ...}``.

    Starlette's own ``RequestBodyLimitMiddleware`` responds with "Content Too Large" through a
    private exception class, which a route cannot turn into its own error format.
    """

    def __init__(self, app: ASGIApp, *, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        declared = _content_length(scope)
        received = 0
        response_started = False

        async def receive_with_limit() -> Message:
            nonlocal received
            if declared is not None and declared > self.max_bytes:
                raise RequestBodyTooLarge(self.max_bytes)
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    raise RequestBodyTooLarge(self.max_bytes)
            return message

        async def send_with_state(message: Message) -> None:
            nonlocal response_started
            if message["type"] == "http.response.start":
                response_started = True
            await send(message)

        try:
            await self.app(scope, receive_with_limit, send_with_state)
        except RequestBodyTooLarge as exc:
            if response_started:
                raise
            logger.info("rejected a request body over %s bytes on %s %s", self.max_bytes, scope["method"], scope["path"])
            body = {"error": exc.message, "field": "body", "max_bytes": self.max_bytes}
            await JSONResponse(body, status_code=413)(scope, receive, send)


def _content_length(scope: Scope) -> int | None:
    for name, value in scope["headers"]:
        if name.lower() == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None


class SignInThrottle:
    """Counts failed sign-ins per email address and per client address in a sliding window.

    After ``max_failures`` failures for one email address, or from one client address,
    within ``window_seconds``, ``retry_after`` returns the seconds until the oldest of those
    failures leaves the window. ``clock`` returns the time in seconds, so tests can set it.

    NOTE: the counts live in the memory of one server process. Each process of a
    multi-process deployment counts on its own, and a restart clears the counts.
    """

    def __init__(
        self, *, max_failures: int = 5, window_seconds: float = 15 * 60, clock: Callable[[], float] = time.time
    ) -> None:
        self.max_failures = max_failures
        self.window_seconds = window_seconds
        self.clock = clock
        self._failures: dict[tuple[str, str], collections.deque[float]] = {}
        # A sweep of stale keys runs when the table grows past this size, so a stream of
        # distinct addresses cannot grow it without bound.
        self._sweep_at = 1024

    @staticmethod
    def _keys(email: str, client: str | None) -> list[tuple[str, str]]:
        keys = []
        if email:
            keys.append(("email", email.lower()))
        if client:
            keys.append(("client", client))
        return keys

    def _recent(self, key: tuple[str, str], now: float) -> collections.deque[float]:
        failures = self._failures.get(key, collections.deque())
        while failures and failures[0] <= now - self.window_seconds:
            failures.popleft()
        return failures

    def retry_after(self, email: str, client: str | None) -> float | None:
        """Return the seconds to wait before the next attempt, or None when it may go ahead now."""
        now = self.clock()
        waits = []
        for key in self._keys(email, client):
            failures = self._recent(key, now)
            if len(failures) >= self.max_failures:
                waits.append(failures[-self.max_failures] + self.window_seconds - now)
        return max(waits) if waits else None

    def record_failure(self, email: str, client: str | None) -> None:
        now = self.clock()
        for key in self._keys(email, client):
            failures = self._recent(key, now)
            failures.append(now)
            self._failures[key] = failures
            if len(failures) == self.max_failures:
                logger.warning(
                    "sign-ins for %s %s blocked for up to %.0f s after %s failures",
                    key[0], key[1], self.window_seconds, self.max_failures,
                )
        if len(self._failures) > self._sweep_at:
            self._sweep(now)

    def clear(self, email: str) -> None:
        """Delete the failures counted for ``email``. The client address keeps its count."""
        self._failures.pop(("email", email.lower()), None)

    def _sweep(self, now: float) -> None:
        for key in list(self._failures):
            if not self._recent(key, now):
                del self._failures[key]
        self._sweep_at = max(1024, 2 * len(self._failures))


class RevokedSessions:
    """Ids of sessions that signed out, kept until the sessions would have expired anyway.

    The session cookie is signed but stateless, so a copy of it stays valid after sign-out
    until this list rejects its id.

    NOTE: the list lives in the memory of one server process. In a multi-process
    deployment, a signed-out cookie still opens pages served by the other processes, and a
    restart clears the list. The cookie's ``max_age`` and the ``signed_in_at`` check still
    end such a session.
    """

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self.clock = clock
        self._expires: dict[str, float] = {}

    def revoke(self, session_id: str, expires_at: float) -> None:
        now = self.clock()
        for stale in [key for key, until in self._expires.items() if until <= now]:
            del self._expires[stale]
        self._expires[session_id] = expires_at

    def is_revoked(self, session_id: str) -> bool:
        return session_id in self._expires


def sign_in_throttle(app: Starlette) -> SignInThrottle:
    """Return the app's sign-in throttle, created on first use (tests may set their own first)."""
    if not hasattr(app.state, "sign_in_throttle"):
        app.state.sign_in_throttle = SignInThrottle()
    return app.state.sign_in_throttle


def revoked_sessions(app: Starlette) -> RevokedSessions:
    """Return the app's list of signed-out sessions, created on first use."""
    if not hasattr(app.state, "revoked_sessions"):
        app.state.revoked_sessions = RevokedSessions()
    return app.state.revoked_sessions
