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
"""

from __future__ import annotations

import logging
from enum import StrEnum
from html import escape
from typing import Annotated, Any
from urllib.parse import unquote
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from litestar import asgi
from litestar.exceptions import (
    NotAuthorizedException,
    PermissionDeniedException,
    ServiceUnavailableException,
)
from litestar.types import Message, Receive, Scope, Send
from piccolo.columns import Boolean, Timestamptz, Varchar
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
from starlette.responses import HTMLResponse, RedirectResponse
from starlette.routing import Mount

from api import schemas, shop, workshop
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


# --- tables -----------------------------------------------------------------------------------


class Role(StrEnum):
    """The roles of api.policy.ROLES, as choices: the admin shows a drop-down."""

    advisor = "advisor"
    technician = "technician"
    foreman = "foreman"
    manager = "manager"


class StaffAdmin(Table, tablename="staff"):
    """The `staff` table as the admin sees it: every column but `pin_hash` (a list of what may be
    shown, so a secret column added to Staff later stays hidden until someone adds it here).
    Not in api.tables, so migrations never see it."""

    username = Varchar(length=40, unique=True, help_text="Lower case letters, digits, . _ -")
    name = Varchar(length=80, help_text="Display name; customers see the first word only")
    role = Varchar(length=16, choices=Role)
    active = Boolean(default=True, help_text="Untick to stop someone signing in (instead of deleting)")
    created_at = Timestamptz()


def _refuse(message: str) -> Any:
    def validator(piccolo_crud: PiccoloCRUD, request: Request) -> None:
        raise HTTPException(status_code=405, detail=message)

    return validator


_NO_ADD = _refuse("Add staff with a PIN: `python -m api staff add …` or POST /api/staff.")
_NO_DELETE = _refuse("Staff are never deleted (their work stays theirs): untick “active” instead.")

_username = TypeAdapter(schemas.Username)
_name = TypeAdapter(schemas.Text80)
_role = TypeAdapter(schemas.Role)


async def _check_staff_patch(row_id: Any, values: dict[Any, Any]) -> dict[Any, Any]:
    """The same rules as the API's (username, name, role), and a shop never loses its last manager."""
    row = (
        await Staff.select(Staff.role, Staff.active, Staff.created_at).where(Staff.id == int(row_id)).first()
    )
    if row is None:
        raise HTTPException(status_code=404, detail="No such person.")
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
            raise HTTPException(status_code=422, detail=f"{field}: {exc.errors()[0]['msg']}") from None
        checked[column] = value
    new = {column._meta.name: value for column, value in checked.items()}
    if row["role"] == MANAGER and row["active"]:
        stays = new.get("role", row["role"]) == MANAGER and new.get("active", row["active"])
        others = (
            await Staff.count()
            .where(Staff.role == MANAGER)
            .where(Staff.active.eq(True))
            .where(Staff.id != int(row_id))
        )
        if not stays and others == 0:
            raise HTTPException(
                status_code=409, detail="This is the last active manager: make someone else manager first."
            )
    return checked


STAFF = TableConfig(
    StaffAdmin,
    menu_group="People",
    order_by=[OrderBy(StaffAdmin.name)],
    # PUT skips the hooks that check a change: only PATCH (what the admin's form sends) is allowed.
    validators=Validators(
        post_single=[_NO_ADD],
        put_single=[_refuse("Change staff one field at a time (PATCH).")],
        delete_single=[_NO_DELETE],
        delete_all=[_NO_DELETE],
    ),
    hooks=[Hook(hook_type=HookType.pre_patch, callable=_check_staff_patch)],
)

_shop_name = TypeAdapter(
    Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=120)]
)
_language = TypeAdapter(schemas.Language)


def _checked_shop(values: dict[str, Any]) -> dict[str, Any]:
    """The shop's settings by the setup's rules (name, zone, language) and valid opening hours."""
    cleaned = dict(values)
    for field, adapter in (("name", _shop_name), ("language", _language)):
        try:
            cleaned[field] = adapter.validate_python(values[field])
        except ValidationError as exc:
            raise HTTPException(status_code=422, detail=f"{field}: {exc.errors()[0]['msg']}") from None
    try:
        ZoneInfo(values["timezone"])
    except (ZoneInfoNotFoundError, ValueError, TypeError):
        raise HTTPException(
            status_code=422,
            detail=f"Unknown time zone {values['timezone']!r}: use an IANA name like Asia/Shanghai.",
        ) from None
    try:
        shop.check_hours(values["opens"], values["closes"], values["open_days"])
    except workshop.Invalid as exc:
        raise HTTPException(status_code=422, detail=str(exc)) from None
    return cleaned


async def _check_shop_patch(row_id: Any, values: dict[Any, Any]) -> dict[Any, Any]:
    row = await Shop.select().where(Shop.id == int(row_id)).first()
    if row is None:
        raise HTTPException(status_code=404, detail="No such shop.")
    fields = {column._meta.name: value for column, value in values.items()}
    fields.pop("created_at", None)  # when the shop was set up is a record, not a setting
    cleaned = _checked_shop({**row, **fields})
    return {column: cleaned[column._meta.name] for column in values if column._meta.name in fields}


async def _check_new_shop(row: Shop) -> Shop:
    cleaned = _checked_shop({c._meta.name: getattr(row, c._meta.name) for c in Shop._meta.columns})
    row.name, row.language = cleaned["name"], cleaned["language"]
    return row


async def _one_shop(piccolo_crud: PiccoloCRUD, request: Request) -> None:
    if await Shop.exists():
        raise HTTPException(status_code=405, detail="There is one shop: change its settings instead.")


# The shop's settings, opening hours included (the promise quick choices on the tablets keep inside
# them). Normally one row, from the first-run setup; an installation set up with the CLI has none
# until a manager adds it here.
SHOP = TableConfig(
    Shop,
    menu_group="Shop",
    validators=Validators(
        post_single=[_one_shop],
        put_single=[_refuse("Change the shop one field at a time (PATCH).")],
        delete_single=[_refuse("The shop's settings cannot be deleted: change them instead.")],
        delete_all=[_refuse("The shop's settings cannot be deleted: change them instead.")],
    ),
    hooks=[
        Hook(hook_type=HookType.pre_patch, callable=_check_shop_patch),
        Hook(hook_type=HookType.pre_save, callable=_check_new_shop),
    ],
)

QC_TEMPLATES = TableConfig(QcTemplate, menu_group="QC checklists", order_by=[OrderBy(QcTemplate.name)])
QC_TEMPLATE_ITEMS = TableConfig(
    QcTemplateItem,
    menu_group="QC checklists",
    order_by=[OrderBy(QcTemplateItem.template), OrderBy(QcTemplateItem.position)],
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
