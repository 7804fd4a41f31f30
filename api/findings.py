"""Findings as use cases: what a technician sees on the car beyond the job, and the advisor pricing
one into recommended work the customer approves or declines on the status page.

Runs inside a command (api.commands.execute). No web imports.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from api import events, jobs, messages, money, parts, readmodels, repair_orders, workshop
from api.commands import Outcome, now
from api.schemas import FEN_MAX, JobIn, RecommendIn
from api.tables import Finding, Job, RepairOrder, Shop

DEFAULT_LABOUR_RATE_FEN = 20_000  # the Shop column's default, before the first-run setup


def finding_out(row: dict[str, Any]) -> dict[str, Any]:
    """A finding as the technician's screen and the events show it."""
    return {
        "id": row["id"],
        "job_id": row["job"],
        "repair_order_id": row["repair_order"],
        "text": row["text"],
        "phrase": row["phrase"] or None,
        "created_at": row["created_at"].isoformat(),
        "recommended_job_id": row["recommended_job"],
    }


async def add(job_id: int, text: str, phrase: str, by: int, by_role: str) -> Outcome:
    """Record a finding on a job (a technician only on their own jobs)."""
    job = await Job.select().where(Job.id == job_id).first()
    if job is None:
        raise workshop.NotFound(f"Job {job_id} does not exist.", code="job.not_found", params={"id": job_id})
    if by_role == "technician" and job["technician"] != by:
        raise workshop.Forbidden(
            "You can report findings only on jobs assigned to you.", code="finding.not_your_job"
        )
    text = text.strip()
    if not text:
        raise workshop.Invalid("Describe what you found.", code="finding.text_required", field="text")
    workshop.can_add_work(await readmodels.current_stage(job["repair_order"]))
    row = Finding(
        job=job_id,
        repair_order=job["repair_order"],
        text=text,
        phrase=phrase,
        created_by=by,
        created_at=now(),
    )
    await row.save()
    found = await Finding.select().where(Finding.id == row.id).first()
    assert found is not None
    shown = finding_out(found)
    return Outcome(201, shown, [events.finding_added(job["repair_order"], shown, by)])


async def _customer_words(finding: dict[str, Any], data: RecommendIn) -> str:
    """What the customer reads: the advisor's words; with the first body, the title they wrote ("":
    the status page shows the title); else the finding's phrase in the customer's language (the
    phrase list of web/js/i18n.js), else what the technician wrote."""
    if data.customer_text:
        return data.customer_text
    if data.title:
        return ""
    ro = (
        await RepairOrder.select(RepairOrder.customer.language)
        .where(RepairOrder.id == finding["repair_order"])
        .first()
    )
    lang = (ro or {}).get("customer.language") or "zh-CN"
    texts = messages.dictionaries()
    phrase = finding["phrase"] and (
        texts.get(lang, {}).get(f"phrase.{finding['phrase']}")
        or texts["en"].get(f"phrase.{finding['phrase']}")
    )
    return str(phrase or finding["text"])[:300]


async def _labour_rate() -> int:
    shop = await Shop.select(Shop.labour_rate_fen).first()
    return int(shop["labour_rate_fen"]) if shop else DEFAULT_LABOUR_RATE_FEN


async def recommend(finding_id: int, data: RecommendIn, by: int | None = None) -> Outcome:
    """Price a finding in one step: the recommended job (labour) with its parts lines and the words
    the customer reads, sent for the customer's approval (they see it at once, with the total)."""
    finding = await Finding.select().where(Finding.id == finding_id).first()
    if finding is None:
        raise workshop.NotFound(
            f"Finding {finding_id} does not exist.", code="finding.not_found", params={"id": finding_id}
        )
    if finding["recommended_job"] is not None:
        raise workshop.Conflict(
            "This finding was already priced and sent to the customer.",
            code="finding.already_priced",
            params={"job_id": finding["recommended_job"]},
        )
    hours = data.labour_hours if data.labour_hours is not None else data.estimated_hours
    if hours is None:
        raise workshop.Invalid("Give the labour hours.", code="finding.hours_required", field="labour_hours")
    if data.labour_hours is None and data.labour_fen is None and data.price is None:
        # The first body (title, estimated_hours, price) always named its price; only the new one
        # (labour_hours) takes the shop's rate by itself.
        raise workshop.Invalid(
            "Give the price: the customer decides on it.", code="finding.price_required", field="price"
        )
    if data.labour_fen is not None:
        labour = data.labour_fen
    elif data.price is not None:
        labour = int(data.price * 100)
    else:
        labour = money.labour_fen(int(round(hours * 60)), await _labour_rate())
    if labour > FEN_MAX:
        raise workshop.Invalid("That price is too high.", code="price.too_high", field="labour_fen")
    words = await _customer_words(finding, data)
    job = JobIn(title=data.title or finding["text"][:200], estimated_hours=hours, price=Decimal(labour) / 100)
    body, announced = await repair_orders.add_work(finding["repair_order"], job, needs_approval=True)
    job_id = int(body["id"])
    await Job.update({Job.customer_text: words}).where(Job.id == job_id)
    await Finding.update({Finding.recommended_job: job_id}).where(Finding.id == finding_id)
    row = await Job.select().where(Job.id == job_id).first()
    assert row is not None
    lines = await parts.insert(row, data.parts, by)
    parts_total = sum(line["line_fen"] for line in lines)
    ro = finding["repair_order"]
    # The customer is asked about the whole price, in their words: the request add_work made
    # (the job's title and labour alone) is replaced by that one.
    asked = events.approval_requested(ro, job_id, words or job.title, body["price"], labour + parts_total)
    announced = [asked if e.type == events.APPROVAL_REQUESTED else e for e in announced]
    announced.append(events.finding_priced(ro, finding_id, job_id, labour, parts_total, by))
    reply = {
        **body,
        "customer_text": words,
        "labour_fen": labour,
        "parts": lines,
        "parts_fen": parts_total,
        "total_fen": labour + parts_total,
        "finding_id": finding_id,
    }
    return Outcome(201, jobs.plain(reply), announced)
