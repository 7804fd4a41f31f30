"""CSRF: a signed-in browser's token is bound to its session; before sign-in it is cookie-bound.

Litestar's check alone accepts any token the server ever signed, as long as cookie and header
agree: a token minted for anyone (a plain GET hands one out) passed with a victim's session cookie
wherever a cookie can be planted. With a session the only accepted token is HMAC(secret, session
cookie), which nobody can compute without both. Any response to a signed-in browser whose cookie
holds another token carries the right one, so web/js/api.js keeps working as it is: on a csrf 403
it primes with a GET and retries.

Of Litestar's own check, the `exclude` patterns and the `exclude_from_csrf` route option hold
here too. Its `_csrf_token` form field does not, for a signed-in browser: web/js/api.js sends every
write with the x-csrftoken header (photo uploads included), and reading the field would mean
parsing a form body before the check. The only plain HTML forms are the customer's status page
(/s/), which is excluded: its link token is its credential.
"""

from __future__ import annotations

import hashlib
import hmac
from secrets import compare_digest

from litestar.datastructures import Cookie, MutableScopeHeaders
from litestar.exceptions import PermissionDeniedException
from litestar.middleware.csrf import CSRFMiddleware, generate_csrf_hash, generate_csrf_token
from litestar.types import Message, Receive, Scope, Send

from api import settings
from api.auth import SESSION_COOKIE, StaffUser, _cookie

COOKIE = "csrftoken"  # Litestar's defaults, which the contract names
HEADER = b"x-csrftoken"


def session_token(session: str) -> str:
    """The CSRF token of the session whose cookie value is `session`.

    Shaped like Litestar's own tokens (64 hex characters and their signature), so once the session
    has ended the same cookie still works as a plain pre-sign-in token.
    """
    secret = settings.get().secret
    body = hmac.new(secret.encode(), f"csrf:{session}".encode(), hashlib.sha256).hexdigest()
    return body + generate_csrf_hash(token=body, secret=secret)


def cookie(token: str) -> Cookie:
    """The csrftoken cookie (readable by the page's script, which sends it back as x-csrftoken)."""
    return Cookie(
        key=COOKIE,
        value=token,
        path="/",
        secure=settings.get().secure_cookies,
        httponly=False,
        samesite="strict",
    )


def _header(scope: Scope) -> str | None:
    for key, value in scope.get("headers", []):
        if key == HEADER:
            return str(value.decode("latin-1"))
    return None


class SessionCSRFMiddleware(CSRFMiddleware):
    """The CSRF check, with the token bound to the staff session when the request has a live one.

    Without the session cookie a request has no ambient credential a cross-site page could ride on
    (sign-in, the customer's status link): it passes, and receives a cookie-bound token. A session
    cookie that no longer names a live session gets Litestar's plain double-submit check.
    """

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or self._excluded(scope):
            await self.app(scope, receive, send)
            return
        method = scope["method"]  # type: ignore[typeddict-item]  # an HTTP scope from here on
        session = _cookie(scope, SESSION_COOKIE)
        present = _cookie(scope, self.config.cookie_name)
        if session and isinstance(scope.get("user"), StaffUser):
            expected = session_token(session)
            if method not in self.config.safe_methods:
                sent = _header(scope)
                if sent is None or not compare_digest(sent.encode(), expected.encode()):
                    raise PermissionDeniedException(
                        "CSRF token verification failed: reload the page, or sign in again.",
                        extra={"code": "auth.csrf"},
                    )
            await self.app(scope, receive, self._issuing(send, expected, present))
            return
        if not session:
            token = present or generate_csrf_token(secret=self.config.secret)
            await self.app(scope, receive, self._issuing(send, token, present))
            return
        await super().__call__(scope, receive, send)

    def _excluded(self, scope: Scope) -> bool:
        """Litestar's two ways out of the check: the route's `exclude_from_csrf` option, or a path
        matching an `exclude` pattern."""
        handler = scope.get("route_handler")
        if handler is not None and handler.opt.get(self.config.exclude_from_csrf_key):
            return True
        if self.exclude is None:
            return False
        # As Litestar matches it: a mounted app (the admin) sees its own path, the pattern the full one.
        mounted = getattr(handler, "is_mount", False)
        return bool(self.exclude.findall(scope["raw_path"].decode() if mounted else scope["path"]))

    def _issuing(self, send: Send, token: str, present: str | None) -> Send:
        """Hand out `token` when the browser holds another, unless the answer sets one itself
        (sign-in sets the new session's)."""
        if present == token:
            return send

        async def wrapped(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableScopeHeaders.from_message(message)
                sets = headers.getall("set-cookie", [])
                if not any(value.startswith(f"{self.config.cookie_name}=") for value in sets):
                    headers.add("set-cookie", cookie(token).to_header(header=""))
            await send(message)

        return wrapped
