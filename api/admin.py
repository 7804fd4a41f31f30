"""/admin: piccolo_admin for managers (the shop's settings and opening hours, QC checklist templates,
staff), behind Bayline's own sign-in.

piccolo_admin normally signs people in itself, with its own users and sessions (piccolo's BaseUser
and SessionsBase tables) and a password. Bayline already knows who is at the tablet:
`auth.SessionMiddleware` puts the signed-in StaffUser in the scope. So instead of a second account:

1. `admin` (the mounted ASGI handler) lets through only an active manager's session: anybody else
   is sent to the PWA's sign-in (a page) or gets 401/403 (anything else) before the admin sees it;
2. the authentication backend piccolo_admin puts in front of its JSON API is replaced by one that
   reads that same StaffUser (`_ManagerBackend`), a second check at the door of the data.

No piccolo users, sessions, passwords or migrations exist: signing out of Bayline, or being
deactivated or made a non-manager, ends admin access at the next request.

Staff are shown through `StaffAdmin`, a view of the `staff` table without `pin_hash` (PINs are set
with the CLI or the API, which check their strength): the admin can neither read nor write it.

piccolo_admin writes tables directly and checks only types, so every table gets the API's input
guards as hooks (NUL, numbers the column holds, sane dates; row numbers in the path are checked at
the mount), and refusals answer with a code like the API's. The shop's settings are saved through
the command path (api/shop.py), so a change of opening hours reaches open screens as shop.updated.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from enum import StrEnum
from html import escape
from typing import Annotated, Any
from urllib.parse import unquote

from fastapi import FastAPI
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from litestar import asgi
from litestar.exceptions import (
    ClientException,
    NotAuthorizedException,
    PermissionDeniedException,
    ServiceUnavailableException,
)
from litestar.types import Message, Receive, Scope, Send
from piccolo.columns import (
    BigInt,
    BigSerial,
    Boolean,
    Column,
    ForeignKey,
    Integer,
    Serial,
    SmallInt,
    Timestamptz,
    Varchar,
)
from piccolo.table import Table
from piccolo_admin.endpoints import AdminRouter, TableConfig, create_admin
from piccolo_admin.translations.data import ENGLISH, SIMPLIFIED_CHINESE
from piccolo_api.crud.endpoints import OrderBy, PiccoloCRUD
from piccolo_api.crud.hooks import Hook, HookType
from piccolo_api.crud.validators import Validators
from piccolo_api.csrf.middleware import CSRFMiddleware as PiccoloCSRFMiddleware
from pydantic import StringConstraints, TypeAdapter, ValidationError
from starlette.authentication import AuthCredentials, AuthenticationBackend, AuthenticationError, BaseUser
from starlette.exceptions import HTTPException
from starlette.middleware.authentication import AuthenticationMiddleware
from starlette.requests import HTTPConnection, Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse
from starlette.routing import Mount

from api import errors, inputs, schemas, shop, workshop
from api.auth import StaffUser
from api.tables import QcTemplate, QcTemplateItem, Shop, Staff

log = logging.getLogger("bayline")

PREFIX = "/admin"
MANAGER = "manager"
_STAFF = "bayline.staff"  # scope key: the StaffUser handed to the admin app

# The admin is a Vue app whose icon library injects <style> elements: without 'unsafe-inline' for
# styles here, Chromium refuses five of them. Scripts stay 'self' only (its one eval, a core-js probe
# for the global object inside try/catch, is refused harmlessly). The rest matches the app's CSP.
ADMIN_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data: blob:; "
    "font-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; "
    "form-action 'self'; object-src 'none'"
)

# piccolo_admin's own password sign-in and password change: there are no piccolo users to use them.
_REFUSED = ("/public/login", "/api/change-password", "/api/mfa-setup")


# --- staff as the admin sees them -------------------------------------------------------------


class Role(StrEnum):
    """The roles of api.policy.ROLES, as choices: the admin shows a drop-down."""

    advisor = "advisor"
    technician = "technician"
    foreman = "foreman"
    manager = "manager"
    customer_care = "customer_care"


class StaffAdmin(Table, tablename="staff"):
    """The `staff` table as the admin sees it: every column but `pin_hash` (a list of what may be
    shown, so a secret column added to Staff later stays hidden until someone adds it here).
    Not in api.tables, so migrations never see it."""

    username = Varchar(length=40, unique=True, help_text="Lower case letters, digits, . _ -")
    name = Varchar(length=80, help_text="Display name; customers see the first word only")
    role = Varchar(length=16, choices=Role)
    active = Boolean(default=True, help_text="Untick to stop someone signing in (instead of deleting)")
    created_at = Timestamptz()


# --- refusals ---------------------------------------------------------------------------------


class Refusal(HTTPException):
    """An admin request refused, answered like the API's refusals: the English `detail` beside a
    stable `code` and its `params` (api/errors.py). About one field, `detail` is the list
    piccolo_admin's forms show next to that field."""

    def __init__(
        self,
        status_code: int,
        message: str,
        code: str,
        params: dict[str, Any] | None = None,
        field: str | None = None,
    ) -> None:
        super().__init__(status_code=status_code, detail=message)
        self.code = code
        self.params = params or {}
        self.field = field

    def body(self) -> dict[str, Any]:
        detail: Any = self.detail
        if self.field:
            detail = [{"loc": ["body", self.field], "msg": self.detail, "type": self.code}]
        return {"status_code": self.status_code, "detail": detail, "code": self.code, "params": self.params}


def _from_domain(exc: workshop.DomainError) -> Refusal:
    extra = exc.extra
    params = extra.get("params")
    field = extra.get("field")
    return Refusal(
        errors.domain_status(exc),
        exc.message,
        code=str(extra.get("code")),
        params=params if isinstance(params, dict) else None,
        field=field if isinstance(field, str) else None,
    )


def _from_validation(field: str, exc: ValidationError) -> Refusal:
    one = errors.coded(field, exc.errors()[0])
    return Refusal(422, f"{field}: {one['message']}", code=one["code"], params=one["params"], field=field)


async def _refused(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, Refusal)
    return JSONResponse(exc.body(), status_code=exc.status_code)


async def _unreadable(request: Request, exc: Exception) -> JSONResponse:
    """piccolo_admin's own check of a body against the table (a word for a number …): its answer,
    with the code of the first failure added."""
    assert isinstance(exc, RequestValidationError)
    failures = exc.errors()
    first = failures[0] if failures else {}
    one = errors.coded(str((first.get("loc") or ["body"])[-1]), first)
    body = {"detail": jsonable_encoder(failures), "code": one["code"], "params": one["params"]}
    return JSONResponse(body, status_code=422)


def _refuse(message: str, code: str) -> Any:
    def validator(piccolo_crud: PiccoloCRUD, request: Request) -> None:
        raise Refusal(405, message, code=code)

    return validator


# --- what every table's writes must hold ---------------------------------------------------------

# PostgreSQL INTEGER (Serial ids, foreign keys to them, Integer columns) is 32-bit, SMALLINT 16-bit.
_INT_LIMITS: tuple[tuple[tuple[type[Column], ...], int], ...] = (
    ((BigInt, BigSerial), inputs.MAX_BIGINT),
    ((SmallInt,), 2**15 - 1),
    ((Integer, Serial), 2**31 - 1),
)


def _int_limit(column: Column) -> int | None:
    """The largest number `column` holds on both databases (None: not a number column)."""
    if isinstance(column, ForeignKey):
        column = column._foreign_key_meta.resolved_references._meta.primary_key
    return next((limit for kinds, limit in _INT_LIMITS if isinstance(column, kinds)), None)


def _check_storable(values: Mapping[Column, Any]) -> None:
    """What the API's request models refuse (api/inputs.py), by column: NUL characters, numbers
    past what the column holds, times without an offset or outside 1970-2099. piccolo_admin checks
    only types, so these reached the database: a 500 on PostgreSQL, NUL stored as is on SQLite."""
    for column, value in values.items():
        name = column._meta.name
        limit = _int_limit(column)
        number = isinstance(value, int) and not isinstance(value, bool)
        if limit is not None and number and not -limit - 1 <= value <= limit:
            params = {"field": name, "min": -limit - 1, "max": limit}
            text = f"{name}: is out of range (at most {limit})"
            raise Refusal(422, text, code="request.number_out_of_range", params=params, field=name)
        problem = inputs.problem(value)
        if problem:
            raise Refusal(422, f"{name}: {problem}", **inputs.refusal(problem, name), field=name)


async def _guard_patch(row_id: Any, values: dict[Any, Any]) -> dict[Any, Any]:
    _check_storable(values)
    return values


async def _guard_new(row: Table) -> Table:
    _check_storable({c: getattr(row, c._meta.name) for c in row._meta.columns if not c._meta.primary_key})
    return row


_PAGING = ("__page", "__page_size")


def _guard_query(piccolo_crud: PiccoloCRUD, request: Request) -> None:
    """A list's filters and pages reach the database too: no NUL, numbers the column holds."""
    columns = {c._meta.name: c for c in piccolo_crud.table._meta.columns}
    for key, value in request.query_params.multi_items():
        if "\x00" in key or "\x00" in value:
            message = f"{key}: {inputs.NUL_MESSAGE}"
            raise Refusal(400, message, code="request.nul_character", params={"field": key})
        column = columns.get(key)
        limit = _int_limit(column) if column is not None else 2**31 - 1 if key in _PAGING else None
        if limit is None or value in ("", "null"):  # no filter, or piccolo_api's IS NULL
            continue
        try:
            number = int(value)
        except ValueError:
            message = f"{key}: {value!r} is not a whole number."
            raise Refusal(400, message, code="field.whole_number", params={"field": key}) from None
        if not -limit - 1 <= number <= limit:
            params = {"field": key, "min": -limit - 1, "max": limit}
            message = f"{key}: is out of range (at most {limit})"
            raise Refusal(400, message, code="request.number_out_of_range", params=params)


def _hooks(patch: Any = None, new: Any = None) -> list[Hook]:
    """Every table's: the guards, then the table's own check of a change (`patch`) or a new row
    (`new`). Grouped by type: piccolo_api keeps only the last run of one type's hooks in a row."""
    patches = [_guard_patch, *([patch] if patch else [])]
    news = [_guard_new, *([new] if new else [])]
    return [
        *(Hook(hook_type=HookType.pre_patch, callable=c) for c in patches),
        *(Hook(hook_type=HookType.pre_save, callable=c) for c in news),
    ]


def _validators(**refusals: Any) -> Validators:
    return Validators(every=[_guard_query], **refusals)


def _row_limit(table_name: str) -> int | None:
    """The largest row number of a table /admin serves (None: not one of its tables)."""
    config = ADMIN.table_config_map.get(table_name) if ADMIN is not None else None
    return _int_limit(config.table_class._meta.primary_key) if config is not None else None


def _by(request: Request) -> int:
    staff = request.scope.get(_STAFF)
    assert isinstance(staff, StaffUser)
    return staff.id


# --- tables -------------------------------------------------------------------------------------


_NO_ADD = _refuse(
    "Add staff in the app (Staff, #/staff), `python -m api staff add …` or POST /api/staff.",
    code="admin.staff_add_elsewhere",
)
_NO_DELETE = _refuse(
    "Staff are never deleted (their work stays theirs): untick “active” instead.",
    code="admin.staff_never_deleted",
)

_username = TypeAdapter(schemas.Username)
_name = TypeAdapter(schemas.Text80)
_role = TypeAdapter(schemas.Role)


async def _check_staff_patch(row_id: Any, values: dict[Any, Any]) -> dict[Any, Any]:
    """The same rules as the API's (username, name, role), and a shop never loses its last manager."""
    staff_id = int(row_id)
    row = await Staff.select(Staff.role, Staff.active, Staff.created_at).where(Staff.id == staff_id).first()
    if row is None:
        raise Refusal(404, "No such person.", code="staff.not_found", params={"id": staff_id})
    checked: dict[Any, Any] = {}
    for column, value in values.items():
        field = column._meta.name
        if field == "created_at":
            value = row["created_at"]  # when someone was added is a record, not a setting
        try:
            if field == "username":
                value = _username.validate_python(value)
            elif field == "name":
                value = _name.validate_python(value)
            elif field == "role":
                value = _role.validate_python(value)
        except ValidationError as exc:
            raise _from_validation(field, exc) from None
        checked[column] = value
    new = {column._meta.name: value for column, value in checked.items()}
    taken = new.get("username")
    if taken and await Staff.exists().where((Staff.username == taken) & (Staff.id != staff_id)):
        raise Refusal(
            409,
            f"The username “{taken}” is taken: choose another.",
            code="staff.username_taken",
            params={"username": taken},
            field="username",
        )
    if row["role"] == MANAGER and row["active"]:
        stays = new.get("role", row["role"]) == MANAGER and new.get("active", row["active"])
        others = (
            await Staff.count()
            .where(Staff.role == MANAGER)
            .where(Staff.active.eq(True))
            .where(Staff.id != staff_id)
        )
        if not stays and others == 0:
            raise Refusal(
                409,
                "This is the last active manager: make someone else manager first.",
                code="staff.last_manager",
            )
    return checked


STAFF = TableConfig(
    StaffAdmin,
    menu_group="People",
    order_by=[OrderBy(StaffAdmin.name)],
    # PUT skips the hooks that check a change: only PATCH (what the admin's form sends) is allowed.
    validators=_validators(
        post_single=[_NO_ADD],
        put_single=[_refuse("Change staff one field at a time (PATCH).", code="admin.patch_only")],
        delete_single=[_NO_DELETE],
        delete_all=[_NO_DELETE],
    ),
    hooks=_hooks(patch=_check_staff_patch),
)

_shop_name = TypeAdapter(
    Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=120)]
)
_language = TypeAdapter(schemas.Language)


def _shop_fields(values: Mapping[str, Any]) -> dict[str, Any]:
    """The shop's name and language by the setup's rules (api/shop.py checks the rest)."""
    cleaned = dict(values)
    for field, adapter in (("name", _shop_name), ("language", _language)):
        if field in values:
            try:
                cleaned[field] = adapter.validate_python(values[field])
            except ValidationError as exc:
                raise _from_validation(field, exc) from None
    cleaned.pop("created_at", None)  # when the shop was set up is a record, not a setting
    return cleaned


async def _save_shop_patch(row_id: Any, values: dict[Any, Any], request: Request) -> dict[Any, Any]:
    """The manager's change goes through the command path (api/shop.py: checked, saved, announced
    as shop.updated so open screens take the new hours)."""
    fields = _shop_fields({column._meta.name: value for column, value in values.items()})
    try:
        await shop.change_settings(int(row_id), fields, _by(request))
    except workshop.DomainError as exc:
        raise _from_domain(exc) from None
    # Saved by the command above. piccolo_api then writes what this returns and needs one value:
    # the id alone, so its write can never undo what a second manager saved meanwhile.
    return {Shop.id: int(row_id)}


async def _save_new_shop(row: Shop, request: Request) -> Shop:
    names = [c._meta.name for c in Shop._meta.columns if not c._meta.primary_key]
    fields = _shop_fields({name: getattr(row, name) for name in names})
    try:
        shop_id = await shop.add_settings(fields, _by(request))
    except workshop.DomainError as exc:
        raise _from_domain(exc) from None
    # Saved by the command above: handed back as the row it now is, piccolo_api's save() rewrites
    # the same values instead of inserting a second shop.
    saved = await Shop.objects().where(Shop.id == shop_id).first()
    assert saved is not None
    return saved


async def _one_shop(piccolo_crud: PiccoloCRUD, request: Request) -> None:
    if await Shop.exists():
        raise Refusal(405, "There is one shop: change its settings instead.", code="shop.exists")


_KEEP_SHOP = _refuse(
    "The shop's settings cannot be deleted: change them instead.", code="admin.shop_never_deleted"
)

# The shop's name, language and opening hours (the promise quick choices on the tablets keep inside
# them); its time zone stays as set up (api/shop.py SETTINGS says why). Normally one row, from the
# first-run setup; an installation set up with the CLI has none until a manager adds it here.
SHOP = TableConfig(
    Shop,
    menu_group="Shop",
    validators=_validators(
        post_single=[_one_shop],
        put_single=[_refuse("Change the shop one field at a time (PATCH).", code="admin.patch_only")],
        delete_single=[_KEEP_SHOP],
        delete_all=[_KEEP_SHOP],
    ),
    hooks=_hooks(patch=_save_shop_patch, new=_save_new_shop),
)

QC_TEMPLATES = TableConfig(
    QcTemplate,
    menu_group="QC checklists",
    order_by=[OrderBy(QcTemplate.name)],
    validators=_validators(),
    hooks=_hooks(),
)
QC_TEMPLATE_ITEMS = TableConfig(
    QcTemplateItem,
    menu_group="QC checklists",
    order_by=[OrderBy(QcTemplateItem.template), OrderBy(QcTemplateItem.position)],
    validators=_validators(),
    hooks=_hooks(),
)


# --- authentication ---------------------------------------------------------------------------


class _Manager(BaseUser):
    """What piccolo_admin's endpoints read from request.user: who is signed in (the top bar)."""

    user = None  # piccolo's BaseUser row: none exists (the endpoints that need one are refused)

    def __init__(self, staff: StaffUser) -> None:
        self.staff = staff

    @property
    def is_authenticated(self) -> bool:
        return True

    @property
    def display_name(self) -> str:
        return self.staff.name

    @property
    def identity(self) -> str:
        return str(self.staff.id)

    @property
    def user_id(self) -> int:
        return self.staff.id

    @property
    def username(self) -> str:
        return self.staff.username


class _ManagerBackend(AuthenticationBackend):
    """Replaces piccolo_admin's SessionsAuthBackend: the person is the one Bayline signed in."""

    async def authenticate(self, conn: HTTPConnection) -> tuple[AuthCredentials, BaseUser]:
        staff = conn.scope.get(_STAFF)
        if not isinstance(staff, StaffUser) or staff.role != MANAGER:
            raise AuthenticationError("Sign in to Bayline as a manager.")
        return AuthCredentials(["authenticated"]), _Manager(staff)


def _build() -> AdminRouter:
    app = create_admin(
        tables=[STAFF, SHOP, QC_TEMPLATES, QC_TEMPLATE_ITEMS],
        site_name="Bayline administration",
        # Back to the staff app, where the team and the shop's settings are managed day to day.
        sidebar_links={"Bayline": "/#/today", "Staff / 员工": "/#/staff", "Settings / 设置": "/#/settings"},
        translations=[ENGLISH, SIMPLIFIED_CHINESE],
        page_size=50,
    )
    # create_admin takes no auth backend: swap the one on its /api mount. Loud if its layout changes.
    guarded = [
        route.app
        for route in app.routes
        if isinstance(route, Mount)
        and route.path == "/api"
        and isinstance(route.app, AuthenticationMiddleware)
    ]
    if len(guarded) != 1:
        raise RuntimeError("piccolo_admin: its /api authentication was not found; check the version pin")
    guarded[0].backend = _ManagerBackend()
    # Refusals answer like the API's (a code beside the detail); the tables' endpoints live in the
    # app behind that authentication, whose own handlers would drop the code.
    private = guarded[0].app
    if not isinstance(private, FastAPI):
        raise RuntimeError("piccolo_admin: its /api app was not found; check the version pin")
    private.add_exception_handler(Refusal, _refused)
    private.add_exception_handler(RequestValidationError, _unreadable)
    # Its CSRF check is Litestar's (same cookie and header names): one issuer of the csrftoken cookie,
    # signed tokens. Every /admin request carries the session cookie, so SessionCSRFMiddleware checks
    # it; piccolo's own would also refuse every save over HTTPS unless host names were configured.
    kept = [m for m in app.user_middleware if m.cls is not PiccoloCSRFMiddleware]
    if len(kept) != len(app.user_middleware) - 1:
        raise RuntimeError("piccolo_admin: its CSRF middleware was not found; check the version pin")
    app.user_middleware = kept
    # A table with a foreign key to Staff would pull the real one (with pin_hash) in: refuse.
    for config in app.table_configs:
        if any(c._meta.name == "pin_hash" for c in config.table_class._meta.columns):
            raise RuntimeError(f"/admin must not expose {config.table_class.__name__}.pin_hash")
    return app


def _build_or_off() -> AdminRouter | None:
    try:
        return _build()
    except RuntimeError as exc:
        # The workshop must keep running: only /admin is switched off (503), and the log says why.
        log.error("/admin is switched off: %s", exc)
        return None


ADMIN = _build_or_off()


# --- the mount --------------------------------------------------------------------------------


def _wants_html(scope: Scope) -> bool:
    if scope.get("method") not in ("GET", "HEAD"):
        return False
    accept = next((v for k, v in scope.get("headers", []) if k == b"accept"), b"")
    return b"text/html" in accept


def _request_path(scope: Scope) -> str:
    """The path as sent. Litestar hands a mount only the rest, with a '/' added at the end, which
    would change piccolo_admin's answers (its asset files, its trailing-slash redirects)."""
    raw = scope.get("raw_path")
    if raw:
        path = unquote(raw.decode("latin-1").partition("?")[0])
        if path == PREFIX or path.startswith(PREFIX + "/"):
            return path
    return PREFIX + scope["path"]


def _page(status: int, text: str) -> HTMLResponse:
    page = f'<!doctype html><meta charset="utf-8"><title>Bayline</title><p>{escape(text)}</p>'
    return HTMLResponse(page + '<p><a href="/">Bayline</a></p>', status_code=status)


_ROW = re.compile(r"^/api/tables/([a-z0-9_]+)/(-?[0-9]+)/?$")


def _check_row_number(rest: str) -> None:
    """A row number no table can hold is refused here: piccolo_api looks it up before any check
    of its own runs (a 500 on both databases)."""
    match = _ROW.match(rest)
    limit = _row_limit(match[1]) if match else None
    if match is None or limit is None or 1 <= int(match[2]) <= limit:
        return
    raise ClientException(
        f"row_id: {match[2]} is not a record number (1 to {limit}).",
        extra={"code": "request.id_out_of_range", "params": {"field": "row_id"}},
    )


@asgi(PREFIX, is_mount=True, copy_scope=True)
async def admin(scope: Scope, receive: Receive, send: Send) -> None:
    """Everything under /admin: checks the person, then hands the request to piccolo_admin."""
    staff = scope.get("user")
    if not isinstance(staff, StaffUser):
        if _wants_html(scope):
            await RedirectResponse("/", status_code=303)(scope, receive, send)  # type: ignore[arg-type]
            return
        raise NotAuthorizedException("Sign in to Bayline as a manager first.")
    if staff.role != MANAGER:
        message = f"A {staff.role} cannot use the administration: ask a manager."
        if _wants_html(scope):
            await _page(403, message)(scope, receive, send)  # type: ignore[arg-type]
            return
        raise PermissionDeniedException(message)

    if ADMIN is None:
        raise ServiceUnavailableException("The administration is switched off: see the server's log.")
    path = _request_path(scope)
    rest = path.removeprefix(PREFIX)
    if not rest:  # the admin's pages use relative addresses: they need the slash
        await RedirectResponse(PREFIX + "/", status_code=308)(scope, receive, send)  # type: ignore[arg-type]
        return
    if rest.startswith("/public/logout"):
        # The admin's "Logout" signs out of Bayline (307 keeps the POST and its CSRF header).
        await RedirectResponse("/api/auth/logout", status_code=307)(scope, receive, send)  # type: ignore[arg-type]
        return
    if rest.startswith(_REFUSED):
        raise PermissionDeniedException("Sign in and PINs are Bayline's: there is no admin password.")
    _check_row_number(rest)

    async def send_with_headers(message: Message) -> None:
        if message["type"] == "http.response.start":
            headers = [
                (k, v)
                for k, v in message.get("headers", [])
                if k.lower() not in (b"content-security-policy", b"cache-control")
            ]
            headers.append((b"content-security-policy", ADMIN_CSP.encode()))
            if not rest.startswith("/assets/"):  # assets have content hashes in their names
                headers.append((b"cache-control", b"no-store"))
            message = {**message, "headers": headers}
        await send(message)

    child = {**scope, "path": path, "root_path": PREFIX, _STAFF: staff}
    await ADMIN(child, receive, send_with_headers)  # type: ignore[arg-type]
