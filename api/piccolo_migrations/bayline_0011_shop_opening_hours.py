from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.columns.column_types import Varchar
from piccolo.columns.indexes import IndexMethod

ID = "2026-12-01T14:00:00:000003"
VERSION = "1.38.0"
DESCRIPTION = "the shop's opening hours: promise quick choices land inside them"


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="bayline", description=DESCRIPTION)

    for column_name, length, default in (
        ("opens", 5, "08:30"),
        ("closes", 5, "18:00"),
        ("open_days", 7, "1234567"),
    ):
        manager.add_column(
            table_class_name="Shop",
            tablename="shop",
            column_name=column_name,
            db_column_name=column_name,
            column_class_name="Varchar",
            column_class=Varchar,
            params={
                "length": length,
                "default": default,
                "null": False,
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
