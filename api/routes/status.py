"""The customer's status link: page, JSON, approvals and the survey (no login: the token is the key)."""

from __future__ import annotations

import functools
import uuid
from typing import Any, Literal
from zoneinfo import ZoneInfo

from litestar import Controller, Request, Response, get, post
from litestar.exceptions import ClientException
from litestar.params import FromPath, JSONBody
from litestar.response import File, Redirect
from pydantic import Field, ValidationError

from api import approvals, photo_uploads, ratelimit, statuslink, statuspage, surveys, workshop
from api.clientaddr import client_address
from api.commands import now
from api.httpcommand import run
from api.httpfiles import send_file
from api.inputs import Id
from api.schemas import Strict

NOT_FOUND = "This status link is unknown or has expired. Ask the service desk for a new one."


class ApprovalIn(Strict):
    job_id: int
    decision: Literal["approve", "decline"]


class SurveyIn(Strict):
    score: int = Field(ge=1, le=10, description="1 = very unsatisfied, 10 = very satisfied")
    comment: str = Field(default="", max_length=2000)


async def _resolve(request: Request, token: str) -> dict[str, Any] | None:
    """The repair order behind the token, as the budget check already looked it up."""
    if "status_ro" in request.state:
        found: dict[str, Any] | None = request.state.status_ro
        return found
    return await statuslink.resolve(token)


async def _ro(request: Request, token: str) -> dict[str, Any]:
    ro = await _resolve(request, token)
    if ro is None:
        raise workshop.NotFound(NOT_FOUND, code="status.link_unknown")
    return ro


async def decide(request: Request, token: str, data: ApprovalIn, key: str | None = None) -> Response[Any]:
    """Approve or decline recommended work once; a stale or repeated decision is a 409."""
    ro = await _ro(request, token)
    ro_id = int(ro["id"])

    handler = functools.partial(approvals.decide, ro_id, data.job_id, data.decision)
    return await run(request, handler, actor=f"status:{ro_id}", payload=data.model_dump(), key=key)


async def rate(request: Request, token: str, data: SurveyIn, key: str | None = None) -> Response[Any]:
    """The follow-up rating: after delivery, once."""
    ro = await _ro(request, token)
    ro_id = int(ro["id"])

    handler = functools.partial(surveys.rate, ro_id, data.score, data.comment)
    return await run(request, handler, actor=f"status:{ro_id}", payload=data.model_dump(), key=key)


HTML = "text/html; charset=utf-8"
PAGE_HEADERS = {"Content-Security-Policy": statuspage.CSP, "X-Robots-Tag": "noindex, nofollow"}


def _lang(request: Request, customer: str | None = None) -> str:
    return statuspage.language(
        request.query_params.get("lang"), customer, request.headers.get("accept-language")
    )


def _gone(request: Request) -> Response[str]:
    """Unknown and expired links get the same small page (and the same 404)."""
    lang = _lang(request)
    text = statuspage.TEXT[lang]["expired"]
    body = (
        f'<!doctype html><html lang="{lang}"><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f'<meta name="robots" content="noindex"><title>Bayline</title><p>{text}</p></html>'
    )
    return Response(body, status_code=404, media_type=HTML, headers=PAGE_HEADERS)


def _busy(request: Request, token: str, refused: ratelimit.Refused) -> Response[Any]:
    """429 with Retry-After: JSON with a code for scripts, the page's own bilingual page for people."""
    seconds = refused.retry_after
    headers = {"Retry-After": str(seconds)}
    if request.url.path.startswith("/api/"):
        body = {
            "status_code": 429,
            "detail": f"Too many requests for status links from your network. Try again in {seconds} s.",
            "code": "status.rate_limited",
            "params": {"retry_after": seconds},
        }
        return Response(body, status_code=429, headers=headers)
    html = statuspage.busy(token=token, lang=_lang(request), retry_after=seconds)
    return Response(html, status_code=429, media_type=HTML, headers={**PAGE_HEADERS, **headers})


# A handler with this option admits its request itself (`_shown`), with the one read that shows the link.
SHOWS_LINK = "shows_status_link"


async def within_budget(request: Request) -> Response[Any] | None:
    """Every status-link request: refuse a guessing address or a hammered link before any work.

    The lookup made here is kept for the handler (request.state.status_ro). A handler marked
    SHOWS_LINK is admitted the same way by `_shown`, whose lookup is the read it answers with.
    """
    token = request.path_params.get("token")
    if not isinstance(token, str) or request.route_handler.opt.get(SHOWS_LINK):
        return None
    address = client_address(request.scope)  # behind a proxy: the forwarded one, from trusted proxies only
    ro, refused = await ratelimit.admit(address, token)
    if refused is None:
        request.state.status_ro = ro
    return _busy(request, token, refused) if refused else None


async def _shown(request: Request, token: str) -> tuple[statuslink.Status | None, ratelimit.Refused | None]:
    """What the link shows (page, JSON, manifest), admitted as within_budget admits every use of a
    link, with the showing read as the lookup: one statement for the whole request."""
    shown: statuslink.Status | None = None

    async def lookup(token: str) -> dict[str, Any] | None:
        nonlocal shown
        shown = await statuslink.show(token)
        return shown.view if shown else None

    _, refused = await ratelimit.limiter().admit(client_address(request.scope), token, lookup)
    return shown, refused


async def render_page(request: Request, token: str) -> Response[str]:
    status, refused = await _shown(request, token)
    if refused:
        return _busy(request, token, refused)
    if status is None:
        return _gone(request)
    view = status.view
    html = statuspage.render(
        view,
        token=token,
        lang=_lang(request, view["language"]),
        zone=ZoneInfo(status.timezone),
        now=now(),
        shop_name=status.shop_name,
        notice=request.query_params.get("n"),
        form_key=uuid.uuid4().hex,
    )
    return Response(html, media_type=HTML, headers=PAGE_HEADERS)


async def _form_answer(request: Request, token: str, kind: str) -> Response[Any]:
    """The no-JavaScript path: a plain form post, answered with 303 back to the page and a notice."""
    if await _resolve(request, token) is None:
        return _gone(request)
    form = await request.form()
    fields = {k: str(v) for k, v in form.items() if isinstance(v, str)}
    key = fields.pop("key", None) or None
    lang = fields.pop("lang", None)
    try:
        if kind == "approvals":
            approval = ApprovalIn.model_validate(
                {"job_id": fields.get("job_id"), "decision": fields.get("decision")}
            )
            reply = await decide(request, token, approval, key)
            notice = "approved" if approval.decision == "approve" else "declined"
        else:
            survey = SurveyIn.model_validate(
                {"score": fields.get("score"), "comment": fields.get("comment", "")}
            )
            reply = await rate(request, token, survey, key)
            notice = "rated"
        if (reply.status_code or 200) >= 400:
            notice = "stale" if reply.status_code in (404, 409) else "failed"
    except ValidationError:
        notice = "invalid" if kind == "survey" else "failed"
    except (workshop.Conflict, workshop.NotFound):
        notice = "stale"
    except (workshop.DomainError, ClientException):
        notice = "failed"
    suffix = f"&lang={lang}" if lang in statuspage.LANGUAGES else ""
    return Redirect(f"/s/{token}?n={notice}{suffix}", status_code=303)


class StatusController(Controller):
    path = "/"
    tags = ["customer status link"]
    before_request = staticmethod(within_budget)

    @get("/s/{token:str}", include_in_schema=False, opt={SHOWS_LINK: True})
    async def page(self, request: Request, token: FromPath[str]) -> Response[str]:
        """The status page: server-rendered HTML that then updates live."""
        return await render_page(request, token)

    @get("/s/{token:str}/manifest.webmanifest", include_in_schema=False, opt={SHOWS_LINK: True})
    async def manifest(self, request: Request, token: FromPath[str]) -> Response[Any]:
        status, refused = await _shown(request, token)
        if refused:
            return _busy(request, token, refused)
        if status is None:
            return _gone(request)
        view = status.view
        body = statuspage.manifest(view, token, _lang(request, view["language"]))
        return Response(body, media_type="application/manifest+json")

    @post("/s/{token:str}/approvals", include_in_schema=False)
    async def approval_form(self, request: Request, token: FromPath[str]) -> Response[Any]:
        return await _form_answer(request, token, "approvals")

    @post("/s/{token:str}/survey", include_in_schema=False)
    async def survey_form(self, request: Request, token: FromPath[str]) -> Response[Any]:
        return await _form_answer(request, token, "survey")

    @get("/s/{token:str}/photos/{photo_id:int}", include_in_schema=False)
    async def photo(self, token: FromPath[str], photo_id: Id) -> File:
        return send_file(await photo_uploads.customer_path(token, photo_id, thumb=False))

    @get("/s/{token:str}/photos/{photo_id:int}/thumb", include_in_schema=False)
    async def photo_thumb(self, token: FromPath[str], photo_id: Id) -> File:
        return send_file(await photo_uploads.customer_path(token, photo_id, thumb=True))

    @get("/api/status/{token:str}", opt={SHOWS_LINK: True})
    async def status(self, request: Request, token: FromPath[str]) -> Response[dict[str, Any]]:
        """What the customer's page shows: stage, promise and its history, jobs, photos, last seq."""
        status, refused = await _shown(request, token)
        if refused:
            return _busy(request, token, refused)
        if status is None:
            raise workshop.NotFound(NOT_FOUND, code="status.link_unknown")
        return Response(status.view)

    @post("/api/status/{token:str}/approvals", status_code=200)
    async def approval(
        self, request: Request, token: FromPath[str], data: JSONBody[ApprovalIn]
    ) -> Response[Any]:
        """The customer approves or declines a recommended job."""
        return await decide(request, token, data)

    @post("/api/status/{token:str}/survey", status_code=201)
    async def survey(self, request: Request, token: FromPath[str], data: JSONBody[SurveyIn]) -> Response[Any]:
        """The 1–10 rating after delivery (409 before)."""
        return await rate(request, token, data)
