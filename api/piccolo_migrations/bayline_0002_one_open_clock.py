from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.engine import engine_finder

ID = "2026-11-22T11:40:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "at most one open clock entry per technician"


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="bayline", description=DESCRIPTION)

    async def one_open_clock_per_technician():
        # Piccolo cannot express a partial index; SQLite and PostgreSQL both accept this form.
        # It backs the domain rule: no race can leave one technician with two open clocks.
        await engine_finder().run_ddl(
            "CREATE UNIQUE INDEX IF NOT EXISTS clock_entry_one_open "
            "ON clock_entry (technician) WHERE ended_at IS NULL"
        )

    manager.add_raw(one_open_clock_per_technician)
    return manager
