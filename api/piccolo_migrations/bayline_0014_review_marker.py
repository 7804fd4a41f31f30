"""Entries waiting for the foreman's review, marked (issue 18: flat with history).

The foreman's review list read every clock entry nobody reviewed (`reviewed_at IS NULL`: almost all
of them, since only flagged entries are ever reviewed) and tested its flags with LIKE, oldest first:
a walk that grew with every entry the shop wrote. Now `review_queued` holds an entry's start while
it waits on that list and is NULL otherwise (api.clockstore writes it with the entry, a review or a
correction by a foreman clears it), and a partial index holds only the waiting entries in the list's
order: `review_queued IS NOT NULL` is written literally in the query, so both databases use it.

Backfilled from the flags as they stand: an entry waits when a review reason is among its flags
(clockbook.REVIEW_FLAGS, matched as whole comma-separated words) and nobody reviewed it.
"""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.columns.column_types import Timestamptz
from piccolo.columns.indexes import IndexMethod
from piccolo.engine import engine_finder

ID = "2026-12-01T18:10:00:000001"
VERSION = "1.38.0"
DESCRIPTION = (
    "clock entries waiting for the foreman's review marked, with a partial index in the list's order"
)

# clockbook.REVIEW_FLAGS when this was written (a migration keeps its own copy: it must not change).
REVIEW_FLAGS = ("late_tap", "before_job", "before_day")

INDEX = (
    "CREATE INDEX IF NOT EXISTS clock_entry_review_queue ON clock_entry (review_queued, id) "
    "WHERE review_queued IS NOT NULL"
)


def backfill_sql() -> str:
    flagged = " OR ".join(f"(',' || flags || ',') LIKE '%,{flag},%'" for flag in REVIEW_FLAGS)
    return (
        "UPDATE clock_entry SET review_queued = started_at "
        f"WHERE reviewed_at IS NULL AND ({flagged})"  # noqa: S608 - constants only
    )


class _BackfilledManager(MigrationManager):
    """Piccolo runs a migration's raw functions before it adds its columns: the backfill and the
    index run after them instead, in the same transaction (Piccolo's own joins this one)."""

    async def run(self, backwards: bool = False) -> None:
        engine = engine_finder()
        assert engine is not None
        async with engine.transaction():
            if backwards and not self.preview:
                await engine.run_ddl("DROP INDEX IF EXISTS clock_entry_review_queue")
            await super().run(backwards=backwards)
            if not backwards and not self.preview:
                await engine.run_ddl(backfill_sql())
                await engine.run_ddl(INDEX)


async def forwards():
    manager = _BackfilledManager(migration_id=ID, app_name="bayline", description=DESCRIPTION)

    manager.add_column(
        table_class_name="ClockEntry",
        tablename="clock_entry",
        column_name="review_queued",
        db_column_name="review_queued",
        column_class_name="Timestamptz",
        column_class=Timestamptz,
        params={
            "default": None,
            "null": True,
            "primary_key": False,
            "unique": False,
            "index": False,
            "index_method": IndexMethod.btree,
            "choices": None,
            "db_column_name": None,
            "secret": False,
        },
        schema=None,
    )
    return manager
