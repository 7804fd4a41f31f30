"""A per-day counter of repair-order numbers (issue 18, item 2).

The next number was found by reading every number of the day (`number LIKE 'YYMMDD-%'`, a scan that
grew with the orders written); now one row per shop day holds the last number handed out and is
raised in the transaction that saves the order. Seeded here from the orders already written, after
the highest number of each day (not their count: older versions left gaps), so numbering continues
and never hands out a number that is taken.
"""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.columns.column_types import Integer, Varchar
from piccolo.columns.indexes import IndexMethod
from piccolo.engine import engine_finder
from piccolo.querystring import QueryString

ID = "2026-12-01T17:00:00:000001"
VERSION = "1.38.0"
DESCRIPTION = "repair-order numbers from a per-day counter row, seeded from the orders written"


def last_numbers(numbers: list[str]) -> dict[str, int]:
    """{day: highest number} over numbers shaped YYMMDD-NNN (anything else is left out)."""
    last: dict[str, int] = {}
    for number in numbers:
        day, _, tail = number.partition("-")
        if len(day) == 6 and day.isdigit() and tail.isdigit():
            last[day] = max(last.get(day, 0), int(tail))
    return last


async def seed() -> None:
    """One counter row per day that has orders (plain SQL: the same on SQLite and PostgreSQL)."""
    engine = engine_finder()
    assert engine is not None
    rows = await engine.run_querystring(QueryString("SELECT number FROM repair_order"))
    last = sorted(last_numbers([row["number"] for row in rows]).items())
    for start in range(0, len(last), 200):
        chunk = last[start : start + 200]
        values = ", ".join("({}, {})" for _ in chunk)
        args = [value for pair in chunk for value in pair]
        await engine.run_querystring(QueryString(f"INSERT INTO ro_counter (day, n) VALUES {values}", *args))


class _SeededManager(MigrationManager):
    """Piccolo runs a migration's raw functions before it creates its tables: the seed runs after
    them instead, in the same transaction (Piccolo's own joins this one)."""

    async def run(self, backwards: bool = False) -> None:
        engine = engine_finder()
        assert engine is not None
        async with engine.transaction():
            await super().run(backwards=backwards)
            if not backwards and not self.preview:
                await seed()


async def forwards():
    manager = _SeededManager(migration_id=ID, app_name="bayline", description=DESCRIPTION)

    manager.add_table(class_name="RoCounter", tablename="ro_counter", schema=None, columns=None)
    manager.add_column(
        table_class_name="RoCounter",
        tablename="ro_counter",
        column_name="day",
        db_column_name="day",
        column_class_name="Varchar",
        column_class=Varchar,
        params={
            "length": 6,
            "default": "",
            "null": False,
            "primary_key": True,
            "unique": False,
            "index": False,
            "index_method": IndexMethod.btree,
            "choices": None,
            "db_column_name": None,
            "secret": False,
        },
        schema=None,
    )
    manager.add_column(
        table_class_name="RoCounter",
        tablename="ro_counter",
        column_name="n",
        db_column_name="n",
        column_class_name="Integer",
        column_class=Integer,
        params={
            "default": 0,
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
