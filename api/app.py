"""create_app(): routes, middleware, error handlers, lifespan."""

from __future__ import annotations

import contextlib
import gc
from collections.abc import AsyncIterator
from typing import Any

from litestar import Litestar
from litestar.config.compression import CompressionConfig
from litestar.config.csrf import CSRFConfig
from litestar.datastructures import MutableScopeHeaders
from litestar.middleware import DefineMiddleware
from litestar.openapi import OpenAPIConfig
from litestar.openapi.plugins import YamlRenderPlugin
from litestar.types import Message, Scope
from piccolo.engine import engine_finder

from api import __version__, admin, apidocs, autostop, commands, db, errors, inputs, ratelimit, settings
from api.auth import SessionMiddleware
from api.csrf import SessionCSRFMiddleware
from api.realtime import hints, streams
from api.realtime import hub as realtime_hub
from api.routes import web
from api.routes.attendance import AttendanceController
from api.routes.auth import AuthController
from api.routes.clock_entries import ClockEntryController
from api.routes.dispatch import DispatchController
from api.routes.findings import FindingController
from api.routes.followups import FollowUpController
from api.routes.handover import HandoverController, print_settlement
from api.routes.health import health, health_head
from api.routes.jobs import JobController
from api.routes.me import my_jobs
from api.routes.parts import PartController
from api.routes.photos import PhotoController
from api.routes.qc import default_template, qc_queue
from api.routes.repair_orders import RepairOrderController
from api.routes.search import SearchController
from api.routes.setup import SetupController
from api.routes.staff import StaffController
from api.routes.status import StatusController
from api.routes.walkaround import WalkaroundController

MAX_JSON_BODY = 1024 * 1024  # a repair order is a few KB; photos have their own, larger cap

CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; "
    "connect-src 'self' ws: wss:; frame-ancestors 'none'; base-uri 'none'; form-action 'self'; "
    "manifest-src 'self'; worker-src 'self'; object-src 'none'"
)


async def security_headers(message: Message, scope: Scope) -> None:
    """Security headers on every response (404s included); API answers are never cached."""
    if message["type"] != "http.response.start":
        return
    path: str = scope["path"]
    headers = MutableScopeHeaders.from_message(message)
    if "content-security-policy" not in headers:  # the status page brings its own (hashes)
        headers["Content-Security-Policy"] = CSP
    headers["X-Content-Type-Options"] = "nosniff"
    headers["Referrer-Policy"] = "no-referrer" if path.startswith("/s/") else "same-origin"
    headers["X-Frame-Options"] = "DENY"
    headers["Permissions-Policy"] = "camera=(self), geolocation=(), microphone=()"
    headers["Cross-Origin-Opener-Policy"] = "same-origin"
    if path.startswith("/api/"):
        # The tablet's outbox removes an action only on an answer that carries this: a proxy or a
        # captive portal answering 200 (even with JSON) must never count as "the server has it".
        headers["X-Bayline-Api"] = "1"
    if path.startswith(("/api/", "/s/")) and "cache-control" not in headers:
        headers["Cache-Control"] = "no-store"  # photos set their own (content-hash, private)
    if settings.get().secure_cookies:
        headers["Strict-Transport-Security"] = "max-age=31536000"


@contextlib.asynccontextmanager
async def lifespan(app: Litestar) -> AsyncIterator[None]:
    engine = engine_finder()
    assert engine is not None
    await db.prepare(engine)
    await commands.forget_old_keys()
    hub = realtime_hub.get()
    await hub.start(hints.make_bus(settings.get().redis_url))
    guard = autostop.start()
    # Fan-out to thousands of sockets keeps many small objects alive: a full GC pass in the middle
    # of an event was the p99 tail (research/performance-notes.md 2.3). Collect less often.
    gc.freeze()
    gc.set_threshold(50_000, 50, 100)
    try:
        yield
    finally:
        await autostop.stop(guard)
        await hub.stop()
        realtime_hub.reset()
        await ratelimit.aclose()
        await db.close(engine)


def create_app(**overrides: Any) -> Litestar:
    """Build the ASGI app. Settings are read (and checked) here, once."""
    config = settings.get()
    csrf = CSRFConfig(
        secret=config.secret,
        cookie_secure=config.secure_cookies,
        cookie_samesite="strict",
        # The status link never reads the staff session: its token is the credential. A staff member
        # opening a customer's link in the app's browser must still be able to use its forms.
        exclude=["^/s/", "^/api/status/"],
    )
    return Litestar(
        route_handlers=[
            health,
            health_head,
            AuthController,
            SetupController,
            StaffController,
            RepairOrderController,
            SearchController,
            StatusController,
            PhotoController,
            JobController,
            AttendanceController,
            ClockEntryController,
            DispatchController,
            FindingController,
            PartController,
            my_jobs,
            qc_queue,
            default_template,
            WalkaroundController,
            HandoverController,
            FollowUpController,
            print_settlement,
            streams.shop_stream,
            streams.status_stream,
            *web.ROUTES,
            admin.admin,
        ],
        middleware=[
            SessionMiddleware,
            DefineMiddleware(SessionCSRFMiddleware, config=csrf),
            inputs.JsonBodyMiddleware(),
        ],
        before_send=[security_headers],
        exception_handlers=errors.HANDLERS,
        lifespan=[lifespan],
        # /schema is plain server-rendered HTML (api/apidocs.py): the CDN-loaded UIs are blocked by the CSP.
        openapi_config=OpenAPIConfig(
            title="Bayline",
            version=__version__,
            path="/schema",
            use_handler_docstrings=True,
            render_plugins=[apidocs.PlainHtmlDocs(), YamlRenderPlugin()],
        ),
        request_max_body_size=MAX_JSON_BODY,
        multipart_form_part_limit=16,  # a photo form has five fields; thousands of parts are an attack
        # The status page must fit one TCP initial window (14 KB) on a phone: gzip everything textual.
        compression_config=CompressionConfig(backend="gzip", minimum_size=1024, gzip_compress_level=6),
        **overrides,
    )
