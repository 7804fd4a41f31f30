"""Piccolo's configuration: the engine follows DATABASE_URL (Piccolo's convention: this module)."""

from piccolo.conf.apps import AppRegistry

from api.db import make_engine

DB = make_engine()

APP_REGISTRY = AppRegistry(apps=["api.piccolo_app"])
