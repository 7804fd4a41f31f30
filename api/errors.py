"""Domain errors and framework errors → JSON answers a person can act on.

Shape (Litestar's): {"status_code": N, "detail": "...", "code": "...", "params": {...}, ...}.
`detail` is English; `code` (dotted, stable) and its `params` are what the screens translate
(`error.code.<code>` in web/js/i18n.js, the one catalogue; tests/test_error_codes.py checks that
every code below and every code= in api/ has words in both languages). Validation failures, and
domain errors about one field, also list {"field", "message", "code", "params"} under "errors" so
a form can put each in the person's language by the right field.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from litestar import Request, Response
from litestar.exceptions import HTTPException, ValidationException
from litestar.status_codes import HTTP_500_INTERNAL_SERVER_ERROR

import photos
from api import inputs, workshop
from api.command_groups import GroupLost
from api.commands import IdempotencyInFlight, IdempotencyMismatch

log = logging.getLogger("bayline")

_DOMAIN_STATUS = {
    workshop.NotFound: 404,
    workshop.Conflict: 409,
    workshop.Forbidden: 403,
    workshop.Invalid: 422,
}


# pydantic's error `type` → our code; its `ctx` (min_length, ge, expected …) becomes the params.
VALIDATION_CODES = {
    "missing": "field.required",
    "string_too_short": "field.too_short",
    "string_too_long": "field.too_long",
    "too_short": "field.too_few",
    "too_long": "field.too_many",
    "greater_than": "field.greater_than",
    "greater_than_equal": "field.at_least",
    "less_than": "field.less_than",
    "less_than_equal": "field.at_most",
    "string_pattern_mismatch": "field.pattern",
    "literal_error": "field.choice",
    "enum": "field.choice",
    "extra_forbidden": "field.unknown",
    "string_type": "field.text",
    "int_type": "field.whole_number",
    "int_parsing": "field.whole_number",
    "int_from_float": "field.whole_number",
    "float_type": "field.number",
    "float_parsing": "field.number",
    "decimal_type": "field.number",
    "decimal_parsing": "field.number",
    "finite_number": "field.number",
    "decimal_max_places": "field.decimal_places",
    "decimal_max_digits": "field.number",
    "decimal_whole_digits": "field.number",
    "bool_type": "field.yes_no",
    "bool_parsing": "field.yes_no",
    "datetime_type": "field.datetime",
    "datetime_parsing": "field.datetime",
    "datetime_from_date_parsing": "field.datetime",
    "datetime_object_invalid": "field.datetime",
    "timezone_aware": "request.naive_time",
    "date_type": "field.date",
    "date_parsing": "field.date",
    "date_from_datetime_parsing": "field.date",
    "date_from_datetime_inexact": "field.date",
    "list_type": "field.list",
    "dict_type": "field.object",
    "model_type": "field.object",
    "model_attributes_type": "field.object",
    "json_invalid": "request.json_invalid",
    "json_type": "request.json_invalid",
}
FALLBACK_CODE = "field.invalid"  # a rule with no words of its own (a value error without a code …)
# A length or pattern rule on these fields has a meaning a person knows: say that, not the rule.
FIELD_CODES = {
    "phone": "phone.invalid",
    "plate": "plate.invalid",
    "username": "username.invalid",
    "score": "survey.score",
}
_RULES = {
    "string_pattern_mismatch",
    "string_too_short",
    "string_too_long",
    "greater_than",
    "greater_than_equal",
    "less_than",
    "less_than_equal",
}
# Framework answers without a code of their own, by status.
STATUS_CODES = {
    400: "request.invalid",
    401: "auth.required",
    403: "auth.forbidden",
    404: "request.not_found",
    405: "request.method_not_allowed",
    409: "request.conflict",
    413: "request.too_large",
    415: "request.unsupported_type",
    422: "request.invalid",
    429: "request.rate_limited",
    500: "server.error",
    503: "server.unavailable",
}
PHOTO_CODES: dict[type[photos.PhotoError], str] = {
    photos.TooLarge: "photo.too_large",
    photos.NotAnImage: "photo.not_an_image",
    photos.Unsupported: "photo.unsupported",
    photos.TooManyPixels: "photo.too_many_pixels",
    photos.Corrupt: "photo.damaged",
}


def _json(status: int, detail: str, **extra: Any) -> Response[dict[str, Any]]:
    return Response({"status_code": status, "detail": detail, **extra}, status_code=status)


def _params(ctx: Mapping[str, Any] | None) -> dict[str, Any]:
    """A rule's context as JSON parameters (numbers stay numbers; an exception object is dropped)."""
    params: dict[str, Any] = {}
    for name, value in (ctx or {}).items():
        if isinstance(value, bool | int | float | str):
            params[name] = value
        elif isinstance(value, Decimal):
            params[name] = int(value) if value == value.to_integral_value() else float(value)
        elif isinstance(value, list | tuple) and all(isinstance(v, str | int | float) for v in value):
            params[name] = list(value)
    return params


def domain_status(exc: workshop.DomainError) -> int:
    """The HTTP status a domain refusal is answered with."""
    return next(code for cls, code in _DOMAIN_STATUS.items() if isinstance(exc, cls))


def domain_error(_: Request, exc: workshop.DomainError) -> Response[dict[str, Any]]:
    status = domain_status(exc)
    extra = dict(exc.extra)
    field = extra.get("field")
    if isinstance(field, str) and "errors" not in extra:
        # About one field: listed like a validation failure, so a form shows it by that field.
        one = {
            "field": field,
            "message": exc.message,
            "code": extra.get("code"),
            "params": extra.get("params", {}),
        }
        extra["errors"] = [one]
    return _json(status, exc.message, **extra)


def idempotency_mismatch(_: Request, exc: IdempotencyMismatch) -> Response[dict[str, Any]]:
    return _json(422, str(exc), code="request.idempotency_reused")


def idempotency_in_flight(_: Request, exc: IdempotencyInFlight) -> Response[dict[str, Any]]:
    body = {"status_code": 409, "detail": str(exc), "code": "request.in_flight"}
    return Response(body, status_code=409, headers={"Retry-After": "1"})


def _field_message(item: dict[str, Any]) -> tuple[str, str]:
    field = str(item.get("key") or "body")
    message = str(item.get("message") or "is not valid")
    for prefix in ("Value error, ", "Assertion failed, "):
        message = message.removeprefix(prefix)
    return field, message


def _rule_errors(exc: ValidationException) -> dict[str, list[dict[str, Any]]]:
    """pydantic's own errors behind Litestar's message list (type, ctx), by field path.

    Litestar keeps only each error's message and path in `extra`; the errors themselves travel as
    the exception's cause (its pydantic plugin raises them as one ValidationError).
    """
    cause = exc.__cause__
    raw = getattr(cause, "errors", None)
    if callable(raw):  # a pydantic ValidationError raised as the cause directly
        raw = raw()
    by_field: dict[str, list[dict[str, Any]]] = {}
    for error in raw if isinstance(raw, list) else []:
        if isinstance(error, dict) and isinstance(error.get("loc"), tuple | list):
            by_field.setdefault(".".join(map(str, error["loc"])), []).append(error)
    return by_field


def _coded(field: str, message: str, item: dict[str, Any], rule: dict[str, Any] | None) -> dict[str, Any]:
    """One validation failure with its code and params (see VALIDATION_CODES, FIELD_CODES)."""
    if isinstance(item.get("code"), str):  # raised by our own code, already coded
        return {"field": field, "message": message, "code": item["code"], "params": item.get("params") or {}}
    if message in inputs.CODES:  # one of the shared input guards (api/inputs.py)
        return {"field": field, "message": message, **inputs.refusal(message, field)}
    kind = str((rule or {}).get("type") or "")
    params = _params((rule or {}).get("ctx"))
    if "." in kind:  # a PydanticCustomError raised with a domain code (VIN, PIN …)
        code = kind
    elif kind in _RULES and field.rsplit(".", 1)[-1] in FIELD_CODES:
        code = FIELD_CODES[field.rsplit(".", 1)[-1]]
    else:
        code = VALIDATION_CODES.get(kind, FALLBACK_CODE)
    if code == "request.naive_time":
        params = {"field": field}
    return {"field": field, "message": message, "code": code, "params": params}


def coded(field: str, error: Mapping[str, Any]) -> dict[str, Any]:
    """One pydantic error met outside Litestar's validation (the /admin forms' checks), with its
    code and params as a validation failure here would have them."""
    _, message = _field_message({"key": field, "message": error.get("msg")})
    return _coded(field, message, {}, dict(error))


def validation_error(request: Request, exc: ValidationException) -> Response[dict[str, Any]]:
    items = [i for i in (exc.extra if isinstance(exc.extra, list) else []) if isinstance(i, dict)]
    # The only rule on an integer path parameter is the id range (inputs.Id): say it in our words.
    items = [{**i, "message": inputs.ID_MESSAGE} if i.get("source") == "path" else i for i in items]
    rules = _rule_errors(exc)
    errors = []
    for item in items:
        field, message = _field_message(item)
        same_field = rules.get(field) or []
        errors.append(_coded(field, message, item, same_field.pop(0) if same_field else None))
    address = {*request.path_params, *request.query_params}
    from_body = any(e["field"].split(".")[0] not in address for e in errors)
    if not errors:
        return _json(400, exc.detail or "The request could not be read.", code="request.invalid")
    detail = "; ".join(f"{e['field']}: {e['message']}" for e in errors[:5])
    # The answer's own code is the first failure's; a refusal by a shared input guard comes first
    # (it says why the request could not be taken at all).
    first = next((e for e in errors if e["message"] in inputs.CODES), errors[0])
    # Body fields that break a rule → 422 (the contract's answer for a bad VIN); a bad path or
    # query parameter means the address itself is wrong → 400.
    return _json(
        422 if from_body else 400,
        detail,
        errors=errors,
        code=first["code"],
        params=first["params"],
        field=first["field"],
    )


def http_error(_: Request, exc: HTTPException) -> Response[dict[str, Any]]:
    extra = exc.extra if isinstance(exc.extra, dict) else {}
    detail = exc.detail
    if exc.status_code == 413:
        detail = f"The request is too large (at most {photos.MAX_BYTES // 1_000_000} MB for a photo)."
        extra = {"params": {"max_mb": photos.MAX_BYTES // 1_000_000}, **extra}
    if "code" not in extra:
        extra = {**extra, "code": STATUS_CODES.get(exc.status_code, "request.invalid")}
    response = _json(exc.status_code, detail, **extra)
    if exc.headers:
        response.headers.update(exc.headers)
    return response


def photo_error(_: Request, exc: photos.PhotoError) -> Response[dict[str, Any]]:
    code = next((c for cls, c in PHOTO_CODES.items() if isinstance(exc, cls)), "photo.damaged")
    return _json(exc.status, str(exc), code=code, params={"max_mb": photos.MAX_BYTES // 1_000_000})


def write_lost(request: Request, exc: GroupLost) -> Response[dict[str, Any]]:
    """The database dropped the transaction a command was grouped in (I/O error, full disk): nothing
    of it was kept, and sending it again can succeed; the outbox retries a 503 by itself."""
    log.error("write lost on %s %s: %s", request.method, request.url.path, exc)
    body = {
        "status_code": 503,
        "detail": "The server could not save this just now; nothing was changed. Try again.",
        "code": "server.unavailable",
    }
    return Response(body, status_code=503, headers={"Retry-After": "2"})


def server_error(request: Request, exc: Exception) -> Response[dict[str, Any]]:
    log.exception("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
    return _json(
        HTTP_500_INTERNAL_SERVER_ERROR,
        "Something went wrong on the server; nothing was changed. Try again.",
        code="server.error",
    )


HANDLERS: dict[type[Exception] | int, Any] = {
    workshop.DomainError: domain_error,
    IdempotencyMismatch: idempotency_mismatch,
    IdempotencyInFlight: idempotency_in_flight,
    GroupLost: write_lost,
    photos.PhotoError: photo_error,
    ValidationException: validation_error,
    HTTPException: http_error,
    Exception: server_error,
}
