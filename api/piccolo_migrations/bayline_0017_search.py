"""Search keys for Find and the write-up (issue 13, items 2 and 3), and a vehicle's visits by index.

A plate is found by any part of it ("A12" finds 沪A12345), a phone by any run of four or more of its
digits, a name by any part, a VIN by its last four or more characters. A B-tree finds a prefix, not
a middle, so every suffix of those values is kept as a key: a part of the value is then the prefix of
one of its suffixes, one index range (`term >= q AND term < q || U+10FFFF`). The VIN's tails are
matched whole (`term = q`), so "1234" finds a VIN that ends with 1234 and not one that only holds it.

    vehicle_key (term, vehicle)    p:<plate suffix>, v:<VIN tail of 4+>
    customer_key (term, customer)  t:<phone digits suffix of 4+>, n:<name suffix, lower case, no spaces>

Triggers keep the keys on every insert, update and delete of a vehicle or customer, whoever writes
it (the write-up, the order detail's edits, the demo, a bench's generator, a test's clean-up), so no
code path can forget them and a write-up sends no extra statement for them. `search_pos` holds the
numbers 1–80 (a name is at most 80 characters) to cut the suffixes with: SQLite allows no WITH in a
trigger. On PostgreSQL `term` is collated "C" so that the range is a prefix in code-point order, as
SQLite compares text.

repair_order (vehicle, created_at) and (customer, created_at) read a vehicle's or customer's orders
newest first: the history, the last visit at write-up, the orders Find shows.
"""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.engine import engine_finder

ID = "2026-12-01T20:20:17:000017"
VERSION = "1.38.0"
DESCRIPTION = "search keys of vehicles and customers kept by triggers; orders by vehicle and by customer"

_DIGITS = (
    "replace(replace(replace(replace(replace({r}.phone, ' ', ''), '-', ''), '(', ''), ')', ''), '+', '')"
)
_NAME = "lower(replace({r}.name, ' ', ''))"


def vehicle_terms(r: str) -> str:
    """The keys of vehicle row `r` (NEW, OLD or a table alias), one per row of the SELECT."""
    return (
        f"SELECT 'p:' || substr({r}.plate, n) AS term FROM search_pos WHERE n <= length({r}.plate)"
        f" UNION ALL SELECT 'v:' || substr({r}.vin, n) FROM search_pos"
        f" WHERE {r}.vin IS NOT NULL AND n <= length({r}.vin) - 3"
    )


def customer_terms(r: str) -> str:
    digits, name = _DIGITS.format(r=r), _NAME.format(r=r)
    return (
        f"SELECT 't:' || substr({digits}, n) AS term FROM search_pos WHERE n <= length({digits}) - 3"
        f" UNION ALL SELECT 'n:' || substr({name}, n) FROM search_pos WHERE n <= length({name})"
    )


_TERMS = {"vehicle": vehicle_terms, "customer": customer_terms}
_WATCHED = {"vehicle": "plate, vin", "customer": "name, phone"}


def _add(table: str, r: str) -> str:
    return f"INSERT INTO {table}_key (term, {table}) SELECT term, {r}.id FROM ({_TERMS[table](r)}) k"


def _drop(table: str, r: str) -> str:
    return f"DELETE FROM {table}_key WHERE {table} = {r}.id AND term IN ({_TERMS[table](r)})"


def sqlite_statements() -> list[str]:
    out = []
    for table in ("vehicle", "customer"):
        out += [
            f"CREATE TRIGGER IF NOT EXISTS {table}_key_insert AFTER INSERT ON {table}"
            f" BEGIN {_add(table, 'NEW')}; END",
            f"CREATE TRIGGER IF NOT EXISTS {table}_key_update AFTER UPDATE OF {_WATCHED[table]} ON {table}"
            f" BEGIN {_drop(table, 'OLD')}; {_add(table, 'NEW')}; END",
            f"CREATE TRIGGER IF NOT EXISTS {table}_key_delete AFTER DELETE ON {table}"
            f" BEGIN {_drop(table, 'OLD')}; END",
        ]
    return out


def postgres_statements() -> list[str]:
    out = []
    for table in ("vehicle", "customer"):
        out += [
            f"CREATE OR REPLACE FUNCTION {table}_key_sync() RETURNS trigger LANGUAGE plpgsql AS $$"
            f" BEGIN"
            f" IF TG_OP <> 'INSERT' THEN {_drop(table, 'OLD')}; END IF;"
            f" IF TG_OP <> 'DELETE' THEN {_add(table, 'NEW')}; END IF;"
            f" RETURN NULL;"
            f" END $$",
            f"DROP TRIGGER IF EXISTS {table}_key_sync ON {table}",
            f"CREATE TRIGGER {table}_key_sync AFTER INSERT OR DELETE OR UPDATE OF {_WATCHED[table]}"
            f" ON {table} FOR EACH ROW EXECUTE FUNCTION {table}_key_sync()",
        ]
    return out


def _backfill(table: str) -> str:
    """The keys of the rows already there (the triggers see only what is written from now on)."""
    if table == "vehicle":
        return (
            "INSERT INTO vehicle_key (term, vehicle)"
            " SELECT 'p:' || substr(t.plate, n), t.id FROM vehicle t JOIN search_pos ON n <= length(t.plate)"
            " UNION ALL SELECT 'v:' || substr(t.vin, n), t.id FROM vehicle t"
            " JOIN search_pos ON t.vin IS NOT NULL AND n <= length(t.vin) - 3"
        )
    digits, name = _DIGITS.format(r="t"), _NAME.format(r="t")
    return (
        "INSERT INTO customer_key (term, customer)"
        f" SELECT 't:' || substr({digits}, n), t.id FROM customer t JOIN search_pos ON n <= length({digits}) - 3"
        f" UNION ALL SELECT 'n:' || substr({name}, n), t.id FROM customer t JOIN search_pos ON n <= length({name})"
    )


INDEXES = (
    "CREATE INDEX IF NOT EXISTS repair_order_vehicle_created ON repair_order (vehicle, created_at)",
    "CREATE INDEX IF NOT EXISTS repair_order_customer_created ON repair_order (customer, created_at)",
)


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="bayline", description=DESCRIPTION)

    async def search_keys():
        engine = engine_finder()
        assert engine is not None
        postgres = engine.engine_type == "postgres"
        collate = ' COLLATE "C"' if postgres else ""
        numbers = ", ".join(f"({n})" for n in range(1, 81))
        statements = [
            "CREATE TABLE IF NOT EXISTS search_pos (n INTEGER PRIMARY KEY)",
            "DELETE FROM search_pos",
            f"INSERT INTO search_pos (n) VALUES {numbers}",
        ]
        for table in ("vehicle", "customer"):
            statements.append(
                f"CREATE TABLE IF NOT EXISTS {table}_key (term VARCHAR(120){collate} NOT NULL,"
                f" {table} INTEGER NOT NULL, PRIMARY KEY (term, {table}))"
            )
        statements += postgres_statements() if postgres else sqlite_statements()
        for table in ("vehicle", "customer"):
            statements += [f"DELETE FROM {table}_key", _backfill(table)]
        statements += INDEXES
        for statement in statements:
            await engine.run_ddl(statement)

    manager.add_raw(search_keys)
    return manager
