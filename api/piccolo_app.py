"""Registers Bayline's tables and migrations with Piccolo."""

import os

from piccolo.conf.apps import AppConfig, table_finder

APP_CONFIG = AppConfig(
    app_name="bayline",
    migrations_folder_path=os.path.join(os.path.dirname(__file__), "piccolo_migrations"),
    table_classes=table_finder(modules=["api.tables"], exclude_imported=True),
    migration_dependencies=[],
    commands=[],
)
