from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.columns.column_types import Timestamptz
from piccolo.columns.column_types import Varchar
from piccolo.columns.indexes import IndexMethod
from piccolo.engine import engine_finder

ID = "2026-12-01T14:00:00:000001"
VERSION = "1.38.0"
DESCRIPTION = (
    "clock taps flagged for the foreman's review; who opened a working day; events for clock "
    "entries written without them (older demo data)"
)


def _params(**extra):
    return {
        "null": False,
        "primary_key": False,
        "unique": False,
        "index": False,
        "index_method": IndexMethod.btree,
        "choices": None,
        "db_column_name": None,
        "secret": False,
        **extra,
    }


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="bayline", description=DESCRIPTION)

    manager.add_column(
        table_class_name="ClockEvent",
        tablename="clock_event",
        column_name="review",
        db_column_name="review",
        column_class_name="Varchar",
        column_class=Varchar,
        params=_params(length=60, default=""),
        schema=None,
    )
    manager.add_column(
        table_class_name="ClockEntry",
        tablename="clock_entry",
        column_name="reviewed_at",
        db_column_name="reviewed_at",
        column_class_name="Timestamptz",
        column_class=Timestamptz,
        params=_params(default=None, null=True),
        schema=None,
    )
    manager.add_column(
        table_class_name="Attendance",
        tablename="attendance",
        column_name="opened_by",
        db_column_name="opened_by",
        column_class_name="Varchar",
        column_class=Varchar,
        params=_params(length=16, default="person"),
        schema=None,
    )

    async def events_for_unkeyed_entries():
        # `python -m api demo` wrote clock entries without clock events until this release; the
        # next tap re-derives entries from events and would drop them. Give them their events.
        # (Raw steps run before the columns above are added: these rows get their defaults then.)
        engine = engine_finder()
        await engine.run_ddl(
            "INSERT INTO clock_event (key, technician, job, kind, at, reason, received_at, skewed, actor) "
            "SELECT 'unkeyed-on-' || id, technician, job, 'on', started_at, NULL, started_at, false, 'system' "
            "FROM clock_entry WHERE on_key IS NULL"
        )
        await engine.run_ddl(
            "INSERT INTO clock_event (key, technician, job, kind, at, reason, received_at, skewed, actor) "
            "SELECT 'unkeyed-off-' || id, technician, job, 'off', ended_at, reason, ended_at, false, 'system' "
            "FROM clock_entry WHERE on_key IS NULL AND ended_at IS NOT NULL"
        )
        await engine.run_ddl("UPDATE clock_entry SET on_key = 'unkeyed-on-' || id WHERE on_key IS NULL")

    manager.add_raw(events_for_unkeyed_entries)
    return manager
