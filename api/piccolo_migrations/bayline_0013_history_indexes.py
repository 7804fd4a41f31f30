"""Indexes for today's work on a shop with years of history (issue 18, item 2).

Each index serves a query a tablet makes all day; without it that query reads every row the shop
ever wrote (issue 18, on a generated year: my jobs ×124, the board ×31, the auto-stopped check ×410):

- a technician's jobs by state (`job WHERE technician = ? AND state IN (…)`, "my jobs");
- the board: repair orders not yet delivered, soonest promise first (partial: delivered orders, the
  bulk of the table, are not in it; `delivered_at IS NULL` is written literally in the query, which
  is what lets SQLite and PostgreSQL use a partial index, even for a reused (generic) plan);
- a technician's auto-stopped entries still to confirm, oldest first (the three compared columns in
  the key, then started_at: a partial index on `auto_stopped` could not match the query's
  `auto_stopped = ?` parameter in a reused plan, and without started_at in the key SQLite prefers
  (technician, started_at) for its order and reads every entry of the person again);
- a technician's clock entries and clock taps since a time (the clock tap re-derives only the open
  working day: `technician = ?` and a lower bound on started_at / ended_at / at);
- the end of a person's last closed working day (`staff = ? AND clock_out_at IS NOT NULL ORDER BY
  clock_out_at DESC LIMIT 1`, read by every tap): one entry of the index, not every day they worked.

Plain `CREATE INDEX IF NOT EXISTS` (partial where noted), the same text on both databases; nothing in
api/tables.py names these (Piccolo cannot express a multi-column or partial index).

Dropped, because another index already serves every query they did and each only added writes:
- idempotency_record.scoped_key, staff_session.token_hash and repair_order.status_token_hash are
  `unique=True, index=True` in api/tables.py: the UNIQUE constraint has an index of its own;
- clock_entry.technician, clock_event.technician and attendance.staff (`index=True`): the first
  column of the new two-column indexes, which serve a lookup by it alone as well (a foreign-key
  check on PostgreSQL too), on every tap.
IF EXISTS: the same drop Piccolo would run once api/tables.py says `index=False` for them.
"""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.engine import engine_finder

ID = "2026-12-01T17:00:00:000002"
VERSION = "1.38.0"
DESCRIPTION = "indexes for today's work on a long history; indexes another one covers dropped"

INDEXES = (
    "CREATE INDEX IF NOT EXISTS job_technician_state ON job (technician, state)",
    "CREATE INDEX IF NOT EXISTS repair_order_open ON repair_order (promised_at) WHERE delivered_at IS NULL",
    "CREATE INDEX IF NOT EXISTS clock_entry_to_confirm "
    "ON clock_entry (technician, auto_stopped, confirmed_at, started_at)",
    "CREATE INDEX IF NOT EXISTS clock_entry_technician_started ON clock_entry (technician, started_at)",
    "CREATE INDEX IF NOT EXISTS clock_entry_technician_ended ON clock_entry (technician, ended_at)",
    "CREATE INDEX IF NOT EXISTS clock_event_technician_at ON clock_event (technician, at)",
    "CREATE INDEX IF NOT EXISTS attendance_staff_out ON attendance (staff, clock_out_at)",
)

COVERED = (  # each by the UNIQUE constraint or a new index that starts with its column
    "DROP INDEX IF EXISTS idempotency_record_scoped_key",
    "DROP INDEX IF EXISTS staff_session_token_hash",
    "DROP INDEX IF EXISTS repair_order_status_token_hash",
    "DROP INDEX IF EXISTS clock_entry_technician",
    "DROP INDEX IF EXISTS clock_event_technician",
    "DROP INDEX IF EXISTS attendance_staff",
)


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="bayline", description=DESCRIPTION)

    async def history_indexes():
        engine = engine_finder()
        assert engine is not None
        for statement in (*INDEXES, *COVERED):
            await engine.run_ddl(statement)

    manager.add_raw(history_indexes)
    return manager
