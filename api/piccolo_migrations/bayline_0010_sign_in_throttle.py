from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.columns.column_types import Timestamptz
from piccolo.columns.column_types import Varchar

ID = "2026-12-01T14:00:00:000002"
VERSION = "1.38.0"
DESCRIPTION = (
    "indexes for sign-in throttling: sessions by device (is this a tablet the shop knows?) and "
    "throttle counters by last use (old ones are pruned)"
)


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="bayline", description=DESCRIPTION)

    manager.alter_column(
        table_class_name="StaffSession",
        tablename="staff_session",
        column_name="device_id",
        db_column_name="device_id",
        params={"index": True},
        old_params={"index": False},
        column_class=Varchar,
        old_column_class=Varchar,
        schema=None,
    )
    manager.alter_column(
        table_class_name="LoginThrottle",
        tablename="login_throttle",
        column_name="updated_at",
        db_column_name="updated_at",
        params={"index": True},
        old_params={"index": False},
        column_class=Timestamptz,
        old_column_class=Timestamptz,
        schema=None,
    )

    return manager
