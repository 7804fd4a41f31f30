"""The follow-up call after delivery (回访, issue 14 item 1): one follow-up per delivered order with
its window, every call made for it, and the shop's settings for the window, the tries and the score
that calls for a complaint. Plain DDL, written once for each database.
"""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.engine import engine_finder

ID = "2026-12-01T21:50:00:000001"
VERSION = "1.38.0"
DESCRIPTION = "follow-ups after delivery, their calls, and the shop's follow-up settings"


def statements(postgres: bool) -> list[str]:
    key = "SERIAL PRIMARY KEY" if postgres else "INTEGER PRIMARY KEY AUTOINCREMENT"
    return [
        "ALTER TABLE shop ADD COLUMN followup_from_days INTEGER NOT NULL DEFAULT 2",
        "ALTER TABLE shop ADD COLUMN followup_to_days INTEGER NOT NULL DEFAULT 5",
        "ALTER TABLE shop ADD COLUMN followup_max_tries INTEGER NOT NULL DEFAULT 3",
        "ALTER TABLE shop ADD COLUMN followup_low_score INTEGER NOT NULL DEFAULT 6",
        f"CREATE TABLE follow_up (id {key},"
        " repair_order INTEGER NOT NULL UNIQUE REFERENCES repair_order (id) ON DELETE CASCADE,"
        " delivered_at TIMESTAMPTZ NOT NULL, due_from TIMESTAMPTZ NOT NULL, due_until TIMESTAMPTZ NOT NULL,"
        " call_back_at TIMESTAMPTZ NULL, tries INTEGER NOT NULL DEFAULT 0,"
        " state VARCHAR(12) NOT NULL DEFAULT 'open', complaint_suggested BOOLEAN NOT NULL DEFAULT FALSE,"
        " closed_at TIMESTAMPTZ NULL, created_at TIMESTAMPTZ NOT NULL)",
        f"CREATE TABLE follow_up_call (id {key},"
        " follow_up INTEGER NOT NULL REFERENCES follow_up (id) ON DELETE CASCADE,"
        " reached BOOLEAN NOT NULL, answers TEXT NOT NULL DEFAULT '{}', call_back_at TIMESTAMPTZ NULL,"
        " called_by INTEGER NULL REFERENCES staff (id) ON DELETE RESTRICT, called_at TIMESTAMPTZ NOT NULL)",
        "CREATE INDEX IF NOT EXISTS follow_up_state ON follow_up (state, due_from)",
        "CREATE INDEX IF NOT EXISTS follow_up_call_follow_up ON follow_up_call (follow_up)",
    ]


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="bayline", description=DESCRIPTION)

    async def followups():
        engine = engine_finder()
        assert engine is not None
        for statement in statements(engine.engine_type == "postgres"):
            await engine.run_ddl(statement)

    manager.add_raw(followups)
    return manager
