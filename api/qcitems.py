"""The items of a QC record: which checklist item each one is, in both languages, and what the
technician's screen shows of the last check (the failed items, each with the checker's photos).

A record keeps the name the checker's tablet sent, and beside it the checklist item's id and both of
its labels as they were when it was signed: the technician reads the item in their own language, and
a label a manager edits later does not rewrite a signed check."""

from __future__ import annotations

import json
from collections import defaultdict
from datetime import datetime
from typing import Any

from api.tables import QcTemplateItem

PANEL_PREFIX = "qc:"  # a QC photo's panel names its checklist item: "qc:<item id>" (web/js/qc.js)


async def labelled(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """`items` with `item_id`, `name_en` and `name_zh` of their checklist item (None when unknown).

    The id wins; without one (an older tablet) or with one no checklist has, the name is looked up
    among every checklist's labels in either language."""
    ids = [i["item_id"] for i in items if i.get("item_id")]
    names = [i["name"] for i in items]
    columns = (QcTemplateItem.id, QcTemplateItem.name_en, QcTemplateItem.name_zh)
    by_id: dict[int, dict[str, Any]] = {}
    if ids:
        for row in await QcTemplateItem.select(*columns).where(QcTemplateItem.id.is_in(ids)):
            by_id[row["id"]] = row
    by_name: dict[str, dict[str, Any]] = {}
    if names:
        rows = (
            await QcTemplateItem.select(*columns)
            .where(QcTemplateItem.name_en.is_in(names) | QcTemplateItem.name_zh.is_in(names))
            .order_by(QcTemplateItem.id)
        )
        for row in rows:
            by_name.setdefault(row["name_en"], row)
            by_name.setdefault(row["name_zh"], row)
    out = []
    for item in items:
        known: dict[str, Any] | None = by_id.get(item.get("item_id") or 0) or by_name.get(item["name"])
        out.append(
            {
                **item,
                "item_id": known["id"] if known else None,
                "name_en": known["name_en"] if known else None,
                "name_zh": known["name_zh"] if known else None,
            }
        )
    return out


async def last_checks(
    records: list[dict[str, Any]], photos: list[dict[str, Any]]
) -> dict[int, dict[str, Any]]:
    """Job id → its last QC record as the technician sees it. `records` in the order they were signed;
    `photos`: the QC photos of these jobs (id, job, panel, created_at), oldest first, read by the
    caller with its other rows (api/floor.py: one statement for the whole screen)."""
    by_job: dict[int, list[dict[str, Any]]] = defaultdict(list)
    for record in records:
        by_job[record["job"]].append(record)
    out: dict[int, dict[str, Any]] = {}
    failed_jobs: dict[int, datetime | None] = {}  # job → when the check before the last was signed
    for job, rounds in by_job.items():
        last = rounds[-1]
        items = json.loads(last["items"])
        failed = [i for i in items if i.get("result") == "fail"]
        # Records signed before labels were kept: look them up now.
        if any("name_en" not in i for i in failed):
            failed = await labelled(failed)
        out[job] = {
            "passed": bool(last["passed"]),
            "failed": [
                {
                    "item_id": i.get("item_id"),
                    "name": i["name"],
                    "name_en": i.get("name_en"),
                    "name_zh": i.get("name_zh"),
                    "note": i.get("note", ""),
                    "photos": [],
                }
                for i in failed
            ],
            "signed_at": last["signed_at"].isoformat(),
        }
        if failed:
            failed_jobs[job] = rounds[-2]["signed_at"] if len(rounds) > 1 else None
    if failed_jobs:
        _add_photos(out, failed_jobs, photos)
    return out


def _add_photos(
    checks: dict[int, dict[str, Any]], since: dict[int, datetime | None], rows: list[dict[str, Any]]
) -> None:
    """Each failed item gets the QC photos of its item on its job taken since the check before: the
    photo queue may upload them after the check is signed, and an earlier round's are not this one's."""
    for row in rows:
        if row["job"] not in since:
            continue
        after = since[row["job"]]
        if after is not None and row["created_at"] <= after:
            continue
        for item in checks[row["job"]]["failed"]:
            if item["item_id"] is not None and row["panel"] == f"{PANEL_PREFIX}{item['item_id']}":
                item["photos"].append(
                    {
                        "id": row["id"],
                        "url": f"/api/photos/{row['id']}",
                        "thumb_url": f"/api/photos/{row['id']}/thumb",
                    }
                )
