"""The customer's status page, rendered on the server: readable without JavaScript, small, bilingual.

The page's CSS and script are inlined (one round trip on a phone) and allowed by their SHA-256 in
the Content-Security-Policy, so no inline code an attacker might inject could run. The live script
only re-fetches this same page when an event arrives: one renderer, no client-side templates.
"""

from __future__ import annotations

import base64
import hashlib
import json
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote
from zoneinfo import ZoneInfo

import jinja2

from api import messages
from api.money import yuan_text

PAGE_DIR = Path(__file__).resolve().parents[1] / "web" / "status"
STAGES = ("checked_in", "in_progress", "quality_check", "ready", "delivered")
LANGUAGES = ("zh-CN", "en")

_env = jinja2.Environment(
    loader=jinja2.FileSystemLoader(PAGE_DIR),
    autoescape=True,
    trim_blocks=True,
    lstrip_blocks=True,
    undefined=jinja2.StrictUndefined,
)
CSS = (PAGE_DIR / "page.css").read_text(encoding="utf-8")
SCRIPT = (PAGE_DIR / "page.js").read_text(encoding="utf-8")


def _sha256(text: str) -> str:
    return "'sha256-" + base64.b64encode(hashlib.sha256(text.encode()).digest()).decode() + "'"


CSP = (
    f"default-src 'none'; style-src {_sha256(CSS)}; script-src {_sha256(SCRIPT)}; "
    "img-src 'self' data:; connect-src 'self'; form-action 'self'; base-uri 'none'; "
    "frame-ancestors 'none'; manifest-src 'self'"
)

TEXT: dict[str, dict[str, str]] = {
    "en": {
        "title": "Your car",
        "repair_order": "Repair order",
        "promised": "Ready by",
        "ready_now": "Your car is ready for collection",
        "ready_since": "Since {at}",
        "delivered_on": "Handed back",
        "changed_from": "Changed from {old}",
        "changed_at": "changed {at}",
        "earlier_changes": "Earlier changes",
        "progress": "Progress",
        "work": "Work on your car",
        "no_work": "The service advisor is still writing up the work.",
        "recommended": "Recommended by our technician",
        "recommended_intro": "Nothing is done without your approval.",
        "approve": "Approve",
        "decline": "Decline",
        "approved": "Approved",
        "declined": "Declined",
        "price": "Price",
        "price_on_request": "Price on request",
        "labour": "Labour",
        "survey": "How was your visit?",
        "survey_intro": "1 = very unhappy, 10 = excellent.",
        "comment": "Anything we should know? (optional)",
        "send": "Send",
        "thanks": "Thank you — you rated this visit {score}/10.",
        "photos": "Photos",
        "offline": "You are offline. This page will update when the connection returns.",
        "reconnecting": "Reconnecting…",
        "retrying": "This page could not update. Trying again…",
        "live": "Updates live",
        "switch": "中文",
        "notice.approved": "Thank you — the work is approved. We will start on it.",
        "notice.declined": "Noted — we will not do this work.",
        "notice.rated": "Thank you for your rating.",
        "busy_auto": "This page tries again by itself in {seconds} s.",
        "try_again": "Try again",
        "call": "Questions? Call the service desk.",
        "stage.checked_in": "Checked in",
        "stage.in_progress": "In progress",
        "stage.quality_check": "Quality check",
        "stage.ready": "Ready",
        "stage.delivered": "Delivered",
        "job.recommended": "Waiting for your decision",
        "job.declined": "Declined",
        "job.pending": "Waiting to start",
        "job.assigned": "Waiting to start",
        "job.in_progress": "Being worked on",
        "job.paused": "Paused",
        "job.finished": "Being checked",
        "job.rework": "Being worked on",
        "job.qc_passed": "Done",
        "today": "Today",
        "tomorrow": "Tomorrow",
        "yesterday": "Yesterday",
    },
    "zh-CN": {
        "title": "您的爱车",
        "repair_order": "工单",
        "promised": "预计交车",
        "ready_now": "您的车已可取车",
        "ready_since": "{at} 起",
        "delivered_on": "已交车",
        "changed_from": "原定 {old}",
        "changed_at": "更新于 {at}",
        "earlier_changes": "更早的变更",
        "progress": "维修进度",
        "work": "维修项目",
        "no_work": "服务顾问正在登记维修项目。",
        "recommended": "技师建议的项目",
        "recommended_intro": "未经您同意，我们不会施工。",
        "approve": "同意",
        "decline": "不需要",
        "approved": "已同意",
        "declined": "已拒绝",
        "price": "价格",
        "price_on_request": "价格请咨询",
        "labour": "工时费",
        "survey": "您对本次服务满意吗？",
        "survey_intro": "1 = 非常不满意，10 = 非常满意。",
        "comment": "还有什么想告诉我们的？（选填）",
        "send": "提交",
        "thanks": "谢谢！您给本次服务打了 {score}/10 分。",
        "photos": "照片",
        "offline": "网络已断开。恢复连接后本页会自动更新。",
        "reconnecting": "正在重新连接…",
        "retrying": "本页未能更新，正在重试…",
        "live": "实时更新",
        "switch": "English",
        "notice.approved": "谢谢！您已同意该项目，我们会尽快施工。",
        "notice.declined": "已记录，我们不会做该项目。",
        "notice.rated": "感谢您的评价。",
        "busy_auto": "本页将在 {seconds} 秒后自动重试。",
        "try_again": "重试",
        "call": "有疑问？请致电服务台。",
        "stage.checked_in": "已接车",
        "stage.in_progress": "维修中",
        "stage.quality_check": "质检中",
        "stage.ready": "待交车",
        "stage.delivered": "已交车",
        "job.recommended": "等待您确认",
        "job.declined": "已拒绝",
        "job.pending": "等待施工",
        "job.assigned": "等待施工",
        "job.in_progress": "施工中",
        "job.paused": "暂停",
        "job.finished": "质检中",
        "job.rework": "施工中",
        "job.qc_passed": "已完成",
        "today": "今天",
        "tomorrow": "明天",
        "yesterday": "昨天",
    },
}
NOTICES = ("approved", "declined", "rated", "stale", "invalid", "failed")
# The page's error texts are the error codes' own, from the one catalogue (web/js/i18n.js, read
# by api.messages): what an answer's code says on a tablet, the customer reads here in the same words.
NOTICE_CODES = {"stale": "status.answered", "invalid": "survey.score", "failed": "status.failed"}
EXPIRED_CODE = "status.link_unknown"  # also the code of the JSON 404 for such a link
BUSY_CODE = "status.rate_limited"  # also the code of the JSON 429


def error_text(code: str, lang: str, params: dict[str, Any] | None = None) -> str:
    found = messages.text(code, params, lang)
    if found is None:  # tests/test_error_codes.py keeps this from happening
        raise messages.CatalogueError(f"web/js/i18n.js has no error.code.{code} in {lang}")
    return found


for _lang in LANGUAGES:
    TEXT[_lang] |= {f"notice.{kind}": error_text(code, _lang) for kind, code in NOTICE_CODES.items()}
    TEXT[_lang]["expired"] = error_text(EXPIRED_CODE, _lang)
_WEEK = {"en": ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"), "zh-CN": "一二三四五六日"}
_MONTH = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def language(override: str | None, customer: str | None, accept: str | None) -> str:
    """?lang= first (the switch link), then the customer's language, then the browser's."""
    for choice in (override, customer):
        if choice in LANGUAGES:
            return str(choice)
    for part in (accept or "").split(","):
        tag = part.split(";")[0].strip().lower()
        if tag.startswith("zh"):
            return "zh-CN"
        if tag.startswith("en"):
            return "en"
    return "zh-CN"


def when(moment: datetime, lang: str, zone: ZoneInfo, now: datetime) -> str:
    """ "Today, 17:30" / "今天 17:30"; other days by date. Always in the shop's time zone."""
    local = moment.astimezone(zone)
    days = (local.date() - now.astimezone(zone).date()).days
    text = TEXT[lang]
    clock = local.strftime("%H:%M")
    named = {0: text["today"], 1: text["tomorrow"], -1: text["yesterday"]}.get(days)
    if lang == "zh-CN":
        day = named or f"{local.month}月{local.day}日 周{_WEEK['zh-CN'][local.weekday()]}"
        return f"{day} {clock}"
    day = named or f"{_WEEK['en'][local.weekday()]} {local.day} {_MONTH[local.month - 1]}"
    return f"{day}, {clock}"


def money(amount: float | None) -> str | None:
    return None if amount is None else f"¥{amount:,.2f}"


def bill_text(lang: str) -> dict[str, str]:
    """The hand-over summary's words (web/js/strings/handover.js: the tablet's own)."""
    words = messages.dictionaries()[lang]
    return {k: v for k, v in words.items() if k.startswith(("handover.status.", "handover.method."))}


def render(
    view: dict[str, Any],
    *,
    token: str,
    lang: str,
    zone: ZoneInfo,
    now: datetime,
    shop_name: str,
    notice: str | None = None,
    form_key: str,
) -> str:
    """The whole page for one repair order's status view (see statuslink.show)."""
    text = TEXT[lang]

    def fmt(moment: datetime | None) -> str:
        return when(moment, lang, zone, now) if moment else "—"

    stage = view["stage"]
    reached = STAGES.index(stage) if stage in STAGES else 0
    # A promise and why it moved ("waiting for parts") matter until the car is ready; after that
    # the headline is since when it is ready, and the old reasons no longer apply.
    waiting = stage not in ("ready", "delivered")
    history = view["promise_history"] if waiting else []
    latest = history[-1] if history else None
    ready_at = view.get("ready_at") if stage == "ready" else None
    recommended = [j for j in view["jobs"] if j.get("approval") == "pending" and j["state"] == "recommended"]
    work = [j for j in view["jobs"] if j not in recommended]
    return _env.get_template("page.html").render(
        t=text,
        lang=lang,
        other_lang="en" if lang == "zh-CN" else "zh-CN",
        token=token,
        view=view,
        shop_name=shop_name,
        stages=[(s, text[f"stage.{s}"], i < reached, i == reached) for i, s in enumerate(STAGES)],
        promised=fmt(view["promised_at"]),
        promised_iso=view["promised_at"].isoformat() if view["promised_at"] else "",
        ready_since=text["ready_since"].format(at=fmt(ready_at)) if ready_at else None,
        ready_iso=ready_at.isoformat() if ready_at else "",
        latest=latest
        and {
            "old": fmt(latest["previous_at"]) if latest.get("previous_at") else None,
            "reason": latest["reason"],
            "at": fmt(latest["at"]),
        },
        earlier=[
            {"to": fmt(p["promised_at"]), "reason": p["reason"], "at": fmt(p["at"])} for p in history[:-1]
        ],
        delivered=fmt(view["delivered_at"]) if view["delivered_at"] else None,
        recommended=recommended,
        work=work,
        money=money,
        yuan=yuan_text,
        bill_t=bill_text(lang),
        notice=text.get(f"notice.{notice}") if notice in NOTICES else None,
        notice_kind="bad" if notice in ("stale", "invalid", "failed") else "ok",
        form_key=form_key,
        css=CSS,
        script=SCRIPT,
        labels=json.dumps({k: text[k] for k in ("offline", "reconnecting", "retrying")}, ensure_ascii=False),
    )


def busy(*, token: str, lang: str, retry_after: int) -> str:
    """The 429 page: both languages (the customer's is not looked up for a refused request),
    the asked-for one first, and it tries the status page again by itself."""
    again = f"/s/{quote(token, safe='')}?lang={lang}"
    texts = [
        (code, {**TEXT[code], "busy": error_text(BUSY_CODE, code)})
        for code in (lang, *(x for x in LANGUAGES if x != lang))
    ]
    return _env.get_template("busy.html").render(
        lang=lang, texts=texts, retry_after=retry_after, again=again, css=CSS
    )


def manifest(view: dict[str, Any], token: str, lang: str) -> dict[str, Any]:
    """Lets a customer add the page to the home screen; never required."""
    label = view["vehicle"]["label"]
    return {
        "name": f"{TEXT[lang]['title']} · {label}",
        "short_name": label[:12],
        "id": f"/s/{token}",
        "start_url": f"/s/{token}",
        "scope": f"/s/{token}",
        "display": "standalone",
        "lang": lang,
        "background_color": "#f3f5f8",
        "theme_color": "#17324f",
        "icons": [{"src": "/web/icons/icon.svg", "sizes": "any", "type": "image/svg+xml", "purpose": "any"}],
    }
