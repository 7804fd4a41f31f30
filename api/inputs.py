"""What every value from a request must be before any code or database sees it.

Hostile or broken clients sent integers past 64 bits, NUL characters, years 1 and 9999 and JSON
nested thousands deep: each reached the database or the parser and became a 500. The guards here
are shared by every route: the `Id` path type, the `Strict` request-model base (api/schemas.py),
the form checks and `JsonBodyMiddleware`. Each refusal carries a stable code (api/errors.py maps
the messages below to theirs).
"""

from __future__ import annotations

import dataclasses
from datetime import UTC, date, datetime
from typing import Annotated, Any

from litestar import Request
from litestar.enums import RequestEncodingType, ScopeType
from litestar.exceptions import ClientException, HTTPException, SerializationException, ValidationException
from litestar.handlers import HTTPRouteHandler
from litestar.middleware import ASGIMiddleware
from litestar.params import BodyKwarg, PathParameter
from litestar.types import ASGIApp, Receive, Scope, Send

from api import workshop

# Every id and number column is PostgreSQL INTEGER (32-bit; SQLite's are 64-bit): a number past it
# must be refused here, where it is a 4xx, not by the database, where it is a 500. Only the event
# log's seq is BIGINT, and no request carries one in a body or a path.
MAX_INT = 2**31 - 1
MAX_BIGINT = 2**63 - 1
# A wrong tablet clock is real (a dead battery resets it to 1970) and is corrected from
# device_sent_at, so 1970 must still be readable; years 1 and 9999 overflow the moment an
# offset or a day is added.
EARLIEST = datetime(1970, 1, 1, tzinfo=UTC)
LATEST = datetime(2100, 1, 1, tzinfo=UTC)

# Message → code. The framework keeps only a validation error's message, so the message is the key.
NUL_MESSAGE = "must not contain NUL characters (\\u0000)"
NUMBER_MESSAGE = f"is out of range (at most {MAX_INT})"
DATE_MESSAGE = f"must be between {EARLIEST.year} and {LATEST.year - 1}"
NAIVE_MESSAGE = "needs a timezone (UTC offset), e.g. 2026-11-22T09:30:00+08:00"
ID_MESSAGE = f"is not a record number (1 to {MAX_INT})"
CODES = {
    NUL_MESSAGE: "request.nul_character",
    NUMBER_MESSAGE: "request.number_out_of_range",
    DATE_MESSAGE: "request.date_out_of_range",
    NAIVE_MESSAGE: "request.naive_time",
    ID_MESSAGE: "request.id_out_of_range",
}


def refusal(message: str, field: str) -> dict[str, Any]:
    """The `code` and `params` of a refusal by `message` of `field`, for the JSON answer."""
    params: dict[str, Any] = {"field": field}
    if message == DATE_MESSAGE:
        params |= {"earliest": EARLIEST.year, "latest": LATEST.year - 1}
    return {"code": CODES[message], "params": params}


Id = Annotated[int, PathParameter(ge=1, le=MAX_INT)]
"""Every integer path parameter (`{ro_id:int}` …): an id the database can hold, else 400."""


def problem(value: Any) -> str | None:
    """Why `value` (a parsed request value, nested lists and dicts included) cannot be taken, or None."""
    if isinstance(value, str):
        return NUL_MESSAGE if "\x00" in value else None
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return NUMBER_MESSAGE if not -MAX_INT <= value <= MAX_INT else None
    if isinstance(value, datetime):
        if value.tzinfo is None or value.utcoffset() is None:
            return NAIVE_MESSAGE
        # The year first: comparing year 1 at +14:00 with EARLIEST is safe, converting it is not.
        if not EARLIEST.year - 1 <= value.year <= LATEST.year or not EARLIEST <= value < LATEST:
            return DATE_MESSAGE
        return None
    if isinstance(value, date):
        return DATE_MESSAGE if not EARLIEST.date() <= value < LATEST.date() else None
    if isinstance(value, dict):
        return next((p for item in value.items() for p in map(problem, item) if p), None)
    if isinstance(value, list | tuple | set | frozenset):
        return next((p for p in map(problem, value) if p), None)
    return None


def check_form(form: object) -> None:
    """A multipart form (a dataclass, which the request-model base does not cover): 422 naming the field."""
    assert dataclasses.is_dataclass(form)
    for item in dataclasses.fields(form):
        message = problem(getattr(form, item.name))
        if message:
            raise workshop.Invalid(f"{item.name}: {message}.", **refusal(message, item.name))


def check_day(name: str, value: date) -> date:
    """A date from the query string (a calendar day): 400 when outside the years we can reckon with."""
    message = problem(value)
    if message:
        raise ValidationException(
            f"{name}: {message}", extra=[{"key": name, "message": message, "source": "query"}]
        )
    return value


def check_header_time(label: str, value: datetime) -> datetime:
    """A time from a header (Device-Time …): 400 when it has no offset or is outside the range."""
    message = problem(value)
    if message:
        raise ClientException(f"{label} {message}.", extra=refusal(message, label))
    return value


JSON_TYPES = ("application/json", "application/problem+json")


def _takes_json(handler: HTTPRouteHandler) -> bool:
    field = handler.parsed_fn_signature.parameters.get("data")
    if field is None:
        return False
    kwarg = field.kwarg_definition
    media = kwarg.media_type if isinstance(kwarg, BodyKwarg) else RequestEncodingType.JSON
    return media == RequestEncodingType.JSON


def _is_json(content_type: str | None) -> bool:
    media = (content_type or "").split(";")[0].strip().lower()
    return media in JSON_TYPES or (media.startswith("application/") and media.endswith("+json"))


class JsonBodyMiddleware(ASGIMiddleware):
    """Before a handler that takes a JSON body: the body is declared as JSON, and it parses.

    Any other Content-Type is a 415: a text/plain "JSON" body is what a cross-site form sends
    without a CORS preflight. A body nested past the parser's recursion limit is a 400 here, where
    the parse happens once (the handler's arguments reuse the parsed value). A middleware, not a
    before-request hook: a controller's own hook would replace an app-wide one.
    """

    scopes = (ScopeType.HTTP,)

    async def handle(self, scope: Scope, receive: Receive, send: Send, next_app: ASGIApp) -> None:
        handler = scope.get("route_handler")
        if isinstance(handler, HTTPRouteHandler) and _takes_json(handler):
            await _check_json_body(Request(scope, receive))
        await next_app(scope, receive, send)


async def _check_json_body(request: Request) -> None:
    if not await request.body():
        return  # an optional body may be absent; a required one is named by validation
    if not _is_json(request.headers.get("content-type")):
        raise HTTPException(
            status_code=415,
            detail="Send this request as JSON (Content-Type: application/json).",
            extra={"code": "request.json_required"},
        )
    try:
        await request.json()
    except RecursionError:
        raise ClientException(
            "The JSON is nested too deeply to be read.", extra={"code": "request.json_too_deep"}
        ) from None
    except SerializationException as exc:  # what Litestar answers for it when it parses
        raise ClientException(str(exc), extra={"code": "request.json_invalid"}) from exc
