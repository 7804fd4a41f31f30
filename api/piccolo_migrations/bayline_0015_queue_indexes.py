"""Two more reads flat with history (issue 18): the QC queue and a status view's last event.

The QC queue reads `job WHERE state = ?` (finished), which scanned every job the shop ever had;
`job (state)` finds the few waiting for QC (a partial index would not serve: the state is a bound
parameter, and SQLite uses a partial index only for a literal it can match). A status view reads the last `seq` of its order;
`event (repair_order, seq)` makes that one index probe instead of a walk of the order's events.
Plain `CREATE INDEX IF NOT EXISTS`, the same text on both databases.
"""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.engine import engine_finder

ID = "2026-12-01T18:40:00:000001"
VERSION = "1.38.0"
DESCRIPTION = "jobs by state (the QC queue); events by repair order and seq"

INDEXES = (
    "CREATE INDEX IF NOT EXISTS job_state ON job (state)",
    "CREATE INDEX IF NOT EXISTS event_repair_order_seq ON event (repair_order, seq)",
)


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="bayline", description=DESCRIPTION)

    async def queue_indexes():
        engine = engine_finder()
        assert engine is not None
        for statement in INDEXES:
            await engine.run_ddl(statement)

    manager.add_raw(queue_indexes)
    return manager
