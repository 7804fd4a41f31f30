"""Domain errors and framework errors → JSON answers a person can act on.

Shape (Litestar's): {"status_code": N, "detail": "...", ...}. Validation failures also list
{"field", "message"} under "errors" so a form can mark the right field.
"""

from __future__ import annotations

import logging
from typing import Any

from litestar import Request, Response
from litestar.exceptions import HTTPException, ValidationException
from litestar.status_codes import HTTP_500_INTERNAL_SERVER_ERROR

import photos
from api import inputs, workshop
from api.commands import IdempotencyMismatch

log = logging.getLogger("bayline")

_DOMAIN_STATUS = {
    workshop.NotFound: 404,
    workshop.Conflict: 409,
    workshop.Forbidden: 403,
    workshop.Invalid: 422,
}


def _json(status: int, detail: str, **extra: Any) -> Response[dict[str, Any]]:
    return Response({"status_code": status, "detail": detail, **extra}, status_code=status)


def domain_error(_: Request, exc: workshop.DomainError) -> Response[dict[str, Any]]:
    status = next(code for cls, code in _DOMAIN_STATUS.items() if isinstance(exc, cls))
    return _json(status, exc.message, **exc.extra)


def idempotency_mismatch(_: Request, exc: IdempotencyMismatch) -> Response[dict[str, Any]]:
    return _json(422, str(exc))


def _field_message(item: dict[str, Any]) -> tuple[str, str]:
    field = str(item.get("key") or "body")
    message = str(item.get("message") or "is not valid")
    for prefix in ("Value error, ", "Assertion failed, "):
        message = message.removeprefix(prefix)
    return field, message


def validation_error(request: Request, exc: ValidationException) -> Response[dict[str, Any]]:
    items = [i for i in (exc.extra if isinstance(exc.extra, list) else []) if isinstance(i, dict)]
    # The only rule on an integer path parameter is the id range (inputs.Id): say it in our words.
    items = [{**i, "message": inputs.ID_MESSAGE} if i.get("source") == "path" else i for i in items]
    errors = [{"field": f, "message": m} for f, m in map(_field_message, items)]
    address = {*request.path_params, *request.query_params}
    from_body = any(e["field"].split(".")[0] not in address for e in errors)
    if not errors:
        return _json(400, exc.detail or "The request could not be read.")
    detail = "; ".join(f"{e['field']}: {e['message']}" for e in errors[:5])
    # A refusal by one of the shared input guards names its code (the screens translate it).
    guarded = next((e for e in errors if e["message"] in inputs.CODES), None)
    extra = inputs.refusal(guarded["message"], guarded["field"]) if guarded else {}
    # Body fields that break a rule → 422 (the contract's answer for a bad VIN); a bad path or
    # query parameter means the address itself is wrong → 400.
    return _json(422 if from_body else 400, detail, errors=errors, **extra)


def http_error(_: Request, exc: HTTPException) -> Response[dict[str, Any]]:
    extra = exc.extra if isinstance(exc.extra, dict) else {}
    detail = exc.detail
    if exc.status_code == 413:
        detail = f"The request is too large (at most {photos.MAX_BYTES // 1_000_000} MB for a photo)."
    response = _json(exc.status_code, detail, **extra)
    if exc.headers:
        response.headers.update(exc.headers)
    return response


def photo_error(_: Request, exc: photos.PhotoError) -> Response[dict[str, Any]]:
    return _json(exc.status, str(exc))


def server_error(request: Request, exc: Exception) -> Response[dict[str, Any]]:
    log.exception("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
    return _json(
        HTTP_500_INTERNAL_SERVER_ERROR,
        "Something went wrong on the server; nothing was changed. Try again.",
    )


HANDLERS: dict[type[Exception] | int, Any] = {
    workshop.DomainError: domain_error,
    IdempotencyMismatch: idempotency_mismatch,
    photos.PhotoError: photo_error,
    ValidationException: validation_error,
    HTTPException: http_error,
    Exception: server_error,
}
