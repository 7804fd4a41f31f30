"""The server-rendered status page: readable without JavaScript, small, private, and its no-JS forms."""

from __future__ import annotations

import base64
import contextlib
import gzip
import hashlib
import json
import re
import secrets
from datetime import UTC, datetime, timedelta
from html import unescape
from typing import Any

import httpx

from api.tables import Customer, Event, Job, RepairOrder
from tests.realtime.test_status_link import PERSONAL, _recommend, _setup

BUDGET = 14 * 1024  # one TCP initial window (10 × 1460 B ≈ 14 KB)


def _sha(text: str) -> str:
    return "'sha256-" + base64.b64encode(hashlib.sha256(text.encode()).digest()).decode() + "'"


async def test_page_is_readable_small_and_private(live: str, clean: None) -> None:
    client, ro, token = await _setup(live)
    async with contextlib.aclosing(client), httpx.AsyncClient(base_url=f"http://{live}") as phone:
        await _recommend(client, ro, "Wiper blades")
        r = await phone.get(f"/s/{token}", headers={"Accept-Encoding": "gzip", "Accept-Language": "en"})
        assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
        assert r.headers["content-encoding"] == "gzip"
        assert r.num_bytes_downloaded <= BUDGET, f"{r.num_bytes_downloaded} bytes compressed"
        html = r.text
        # What a customer needs, without running any script.
        assert ro["number"] in html and ro["jobs"][0]["title"] in html
        assert 'aria-current="step" data-stage="checked_in"' in html
        assert "Wiper blades" in html and "¥95.00" in html and 'value="approve"' in html
        # Nothing that identifies the person or the car beyond what is shown.
        for secret in (PERSONAL["phone"], ro["vehicle"]["vin"], ro["vehicle"]["plate"], "王小明"):
            assert secret not in html
        # Headers: not cached, not indexed, no referrer, only our own inline code may run.
        assert r.headers["cache-control"] == "no-store"
        assert r.headers["referrer-policy"] == "no-referrer"
        assert "noindex" in r.headers["x-robots-tag"] and 'name="robots" content="noindex' in html
        csp = r.headers["content-security-policy"]
        script = re.search(r"<script>(.*?)</script>", html, re.S)
        style = re.search(r"<style>(.*?)</style>", html, re.S)
        assert script and style
        assert f"script-src {_sha(script.group(1))}" in csp and f"style-src {_sha(style.group(1))}" in csp
        assert "'unsafe-inline'" not in csp and html.count("<script") == 1
        # Installable, never required.
        m = await phone.get(f"/s/{token}/manifest.webmanifest")
        assert m.status_code == 200 and m.json()["start_url"] == f"/s/{token}"


async def test_unknown_short_and_expired_links_answer_alike(live: str, clean: None) -> None:
    client, ro, token = await _setup(live)
    async with contextlib.aclosing(client), httpx.AsyncClient(base_url=f"http://{live}") as phone:
        pages = [await phone.get(f"/s/{t}") for t in (secrets.token_urlsafe(32), "abc", token + "x")]
        await RepairOrder.update({RepairOrder.delivered_at: datetime(2020, 1, 1, tzinfo=UTC)}).where(
            RepairOrder.id == ro["id"]
        )
        pages.append(await phone.get(f"/s/{token}"))
        assert {p.status_code for p in pages} == {404}
        assert len({p.text for p in pages}) == 1
        assert (await phone.get(f"/s/{token}/manifest.webmanifest")).status_code == 404
        r = await phone.post(f"/s/{token}/survey", data={"score": "9", "key": "k1"})
        assert r.status_code == 404


async def test_language_follows_choice_then_customer_then_browser(live: str, clean: None) -> None:
    client, ro, token = await _setup(live)
    async with contextlib.aclosing(client), httpx.AsyncClient(base_url=f"http://{live}") as phone:
        zh = await phone.get(f"/s/{token}", headers={"Accept-Language": "en-GB,en;q=0.9"})
        assert '<html lang="zh-CN"' in zh.text and "预计交车" in zh.text  # the customer's stored language
        en = await phone.get(f"/s/{token}?lang=en")
        assert '<html lang="en"' in en.text and "Ready by" in en.text
        row = await RepairOrder.select(RepairOrder.customer).where(RepairOrder.id == ro["id"]).first()
        assert row is not None
        await Customer.update({Customer.language: ""}).where(Customer.id == row["customer"])
        browser = await phone.get(f"/s/{token}", headers={"Accept-Language": "en-US,en;q=0.8"})
        assert '<html lang="en"' in browser.text


async def test_promise_change_shows_new_time_reason_and_old_time(live: str, clean: None) -> None:
    client, ro, token = await _setup(live)
    async with contextlib.aclosing(client), httpx.AsyncClient(base_url=f"http://{live}") as phone:
        before = await phone.get(f"/s/{token}?lang=en")
        assert 'data-testid="promise-change"' not in before.text
        day = datetime.now(UTC).date() + timedelta(days=3)
        moment = datetime(day.year, day.month, day.day, 9, 30, tzinfo=UTC)
        r = await client.post(
            f"/api/repair-orders/{ro['id']}/promise",
            json={"promised_at": moment.isoformat(), "reason": "Waiting for the brake disc"},
        )
        assert r.status_code == 200, r.text
        html = (await phone.get(f"/s/{token}?lang=en")).text
        assert "Waiting for the brake disc" in html and "Changed from" in html
        # 09:30 UTC is 17:30 in the shop's zone (Asia/Shanghai in the tests).
        weekday = moment.weekday()
        en_day = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")[weekday]
        assert f"{en_day} {day.day} {moment.strftime('%b')}, 17:30" in html
        zh = (await phone.get(f"/s/{token}?lang=zh-CN")).text
        assert f"{day.month}月{day.day}日 周{'一二三四五六日'[weekday]} 17:30" in zh and "原定" in zh


async def test_no_js_approval_form_applies_once(live: str, clean: None) -> None:
    client, ro, token = await _setup(live)
    async with contextlib.aclosing(client), httpx.AsyncClient(base_url=f"http://{live}") as phone:
        job_id = await _recommend(client, ro)
        page = (await phone.get(f"/s/{token}?lang=en")).text
        key = re.search(rf'name="key" value="([^"]+-a{job_id})"', page)
        assert key
        form = {"job_id": str(job_id), "decision": "approve", "key": key.group(1), "lang": "en"}
        first = await phone.post(f"/s/{token}/approvals", data=form)
        again = await phone.post(f"/s/{token}/approvals", data=form)  # the back button + resubmit
        assert first.status_code == again.status_code == 303
        assert first.headers["location"] == again.headers["location"] == f"/s/{token}?n=approved&lang=en"
        stale = await phone.post(
            f"/s/{token}/approvals", data={**form, "decision": "decline", "key": "other"}
        )
        assert stale.headers["location"] == f"/s/{token}?n=stale&lang=en"
        assert await Event.count().where(Event.type == "approval.decided") == 1
        job: dict[str, Any] | None = await Job.select().where(Job.id == job_id).first()
        assert job is not None and job["approval"] == "approved"
        shown = (await phone.get(first.headers["location"])).text
        assert "the work is approved" in shown and f'data-testid="approval-{job_id}"' not in shown
        tampered = await phone.post(f"/s/{token}/approvals", data={"job_id": "x", "decision": "yes"})
        assert tampered.status_code == 303 and "n=failed" in tampered.headers["location"]


async def test_no_js_survey_form(live: str, clean: None) -> None:
    client, ro, token = await _setup(live)
    async with contextlib.aclosing(client), httpx.AsyncClient(base_url=f"http://{live}") as phone:
        early = await phone.post(f"/s/{token}/survey", data={"score": "9", "key": "s1"})
        assert early.status_code == 303 and "n=stale" in early.headers["location"]
        await Job.update({Job.state: "qc_passed"}).where(Job.repair_order == ro["id"])
        assert (await client.post(f"/api/repair-orders/{ro['id']}/ready")).status_code == 200
        assert (await client.post(f"/api/repair-orders/{ro['id']}/deliver")).status_code == 200
        page = (await phone.get(f"/s/{token}?lang=en")).text
        assert 'data-testid="survey"' in page and 'name="score" value="10"' in page
        bad = await phone.post(f"/s/{token}/survey", data={"score": "0", "key": "s2"})
        assert "n=invalid" in bad.headers["location"]
        ok = await phone.post(f"/s/{token}/survey", data={"score": "8", "comment": "很好", "key": "s3"})
        assert "n=rated" in ok.headers["location"]
        after = (await phone.get(f"/s/{token}?lang=en")).text
        assert "you rated this visit 8/10" in after and 'name="score"' not in after


async def test_page_is_gzip_and_decodes_to_the_same(live: str, clean: None) -> None:
    """The size check above measures the bytes on the wire; make sure they are the page."""
    client, _, token = await _setup(live)
    async with contextlib.aclosing(client):
        async with httpx.AsyncClient(base_url=f"http://{live}") as raw:
            req = raw.build_request("GET", f"/s/{token}?lang=en", headers={"Accept-Encoding": "gzip"})
            resp = await raw.send(req, stream=True)
            wire = b"".join([chunk async for chunk in resp.aiter_raw()])
            await resp.aclose()
        text = gzip.decompress(wire).decode()
        assert len(wire) <= BUDGET and '<main id="page"' in text


async def test_ready_headline_says_since_when_and_drops_the_old_delay_notice(live: str, clean: None) -> None:
    """A car that is ready says since when (shop time), not the promise; "waiting for parts" is over."""
    from zoneinfo import ZoneInfo

    shop = ZoneInfo("Asia/Shanghai")  # the tests' shop zone
    client, ro, token = await _setup(live)
    async with contextlib.aclosing(client), httpx.AsyncClient(base_url=f"http://{live}") as phone:
        later = datetime.now(UTC) + timedelta(days=2)
        r = await client.post(
            f"/api/repair-orders/{ro['id']}/promise",
            json={"promised_at": later.isoformat(), "reason": "Waiting for parts"},
        )
        assert r.status_code == 200, r.text
        waiting = (await phone.get(f"/s/{token}?lang=en")).text
        assert "Waiting for parts" in waiting and 'data-testid="promised-at"' in waiting
        await Job.update({Job.state: "qc_passed"}).where(Job.repair_order == ro["id"])
        assert (await client.post(f"/api/repair-orders/{ro['id']}/ready")).status_code == 200
        # Ready three days ago at 10:05 shop time: a date the page must name, whatever the hour now.
        day = datetime.now(shop).date() - timedelta(days=3)
        since = datetime(day.year, day.month, day.day, 10, 5, tzinfo=shop)
        await RepairOrder.update({RepairOrder.ready_at: since}).where(RepairOrder.id == ro["id"])
        en = (await phone.get(f"/s/{token}?lang=en")).text
        headline = re.search(r'data-testid="promise">(.*?)</section>', en, re.S)
        assert headline, en
        en_day = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")[since.weekday()]
        assert "ready for collection" in headline.group(1)
        assert f"Since {en_day} {day.day} {since.strftime('%b')}, 10:05" in headline.group(1)
        assert 'data-testid="ready-since"' in headline.group(1)
        assert 'data-testid="promised-at"' not in en and "Waiting for parts" not in en
        zh = (await phone.get(f"/s/{token}?lang=zh-CN")).text
        assert f"{day.month}月{day.day}日 周{'一二三四五六日'[since.weekday()]} 10:05 起" in zh
        assert "Waiting for parts" not in zh and "原定" not in zh


async def test_live_banner_labels_in_both_languages(live: str, clean: None) -> None:
    client, _, token = await _setup(live)
    async with contextlib.aclosing(client), httpx.AsyncClient(base_url=f"http://{live}") as phone:
        labels = {}
        for lang in ("en", "zh-CN"):
            html = (await phone.get(f"/s/{token}?lang={lang}")).text
            found = re.search(r'data-labels="([^"]*)"', html)
            assert found
            labels[lang] = json.loads(unescape(found.group(1)))
        assert set(labels["en"]) == set(labels["zh-CN"]) >= {"offline", "reconnecting", "retrying"}
        assert labels["en"]["retrying"] == "This page could not update. Trying again…"
        assert labels["zh-CN"]["retrying"] == "本页未能更新，正在重试…"
