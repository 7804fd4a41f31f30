"""The cookies a browser gets when a staff session opens (sign-in, and the first manager at setup)."""

from __future__ import annotations

from litestar.datastructures import Cookie

from api import auth, csrf, settings

DEVICE_COOKIE_AGE = 5 * 365 * 24 * 3600  # a tablet keeps its device id: its sign-in history counts


def session_cookie(value: str, max_age: int | None = None) -> Cookie:
    return Cookie(
        key=auth.SESSION_COOKIE,
        value=value,
        httponly=True,
        samesite="strict",
        secure=settings.get().secure_cookies,
        path="/",
        max_age=max_age,
    )


def device_cookie(value: str) -> Cookie:
    return Cookie(
        key=auth.DEVICE_COOKIE,
        value=value,
        httponly=True,
        samesite="strict",
        secure=settings.get().secure_cookies,
        path="/",
        max_age=DEVICE_COOKIE_AGE,
    )


def session_cookies(token: str, device: str) -> list[Cookie]:
    """What a browser gets when a session opens: the session, its device id and the session's own
    CSRF token (api/csrf.py), which replaces whatever token the browser had."""
    return [session_cookie(token), device_cookie(device), csrf.cookie(csrf.session_token(token))]
