"""The customer's rating of the visit, as a use case (from the status link, after delivery).

Runs inside api.commands.execute. No web imports.
"""

from __future__ import annotations

from api import events, readmodels, workshop
from api.commands import Outcome, now
from api.tables import Survey


async def rate(ro_id: int, score: int, comment: str) -> Outcome:
    """The follow-up rating: after delivery, once."""
    current = await readmodels.require_repair_order(ro_id)
    if current["delivered_at"] is None:
        raise workshop.Conflict(
            "You can rate the visit once the car has been handed back to you.", code="survey.not_delivered"
        )
    if await Survey.exists().where(Survey.repair_order == ro_id):
        raise workshop.Conflict("Thank you — this visit has already been rated.", code="survey.rated")
    comment = comment.strip()
    await Survey(repair_order=ro_id, score=score, comment=comment, submitted_at=now()).save()
    return Outcome(
        201, {"score": score, "comment": comment}, [events.survey_submitted(ro_id, score, comment)]
    )
