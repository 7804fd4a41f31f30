"""Findings as use cases: what a technician sees on the car beyond the job, and the advisor pricing
one into recommended work the customer approves or declines on the status page.

Runs inside a command (api.commands.execute). No web imports.
"""

from __future__ import annotations

from typing import Any

from api import events, readmodels, repair_orders, workshop
from api.commands import Outcome, now
from api.schemas import JobIn
from api.tables import Finding, Job


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


async def recommend(finding_id: int, job: JobIn) -> Outcome:
    """Price a finding: it becomes a job needing the customer's approval (they see it at once)."""
    finding = await Finding.select().where(Finding.id == finding_id).first()
    if finding is None:
        raise workshop.NotFound(
            f"Finding {finding_id} does not exist.", code="finding.not_found", params={"id": finding_id}
        )
    if finding["recommended_job"] is not None:
        raise workshop.Conflict(
            "This finding was already sent to the customer.",
            code="finding.recommended",
            job_id=finding["recommended_job"],
        )
    if job.price is None:
        raise workshop.Invalid(
            "Give the price: the customer decides on it.", code="finding.price_required", field="price"
        )
    body, announced = await repair_orders.add_work(finding["repair_order"], job, needs_approval=True)
    await Finding.update({Finding.recommended_job: body["id"]}).where(Finding.id == finding_id)
    return Outcome(201, body, announced)
