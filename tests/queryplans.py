"""The query plans of the statements a piece of work sends: does any of them read a table that grows
with the shop's history from end to end? (tests/api/test_query_plans.py and tests/bench/bench_history.py)

`capturing()` records each statement as the engine receives it, SQL with its placeholders and the
values bound to them, so the plan asked for is the one the app's own statement gets, whoever
changes the queries. Only statements made in the context that opened the block (and the tasks it
starts) are recorded, like tests/sqlcount.py.

What counts as reading a table in full:
- SQLite (`EXPLAIN QUERY PLAN`): a `SCAN <table>` step, with or without `USING [COVERING] INDEX`,
  unless that index is a partial one (its WHERE keeps only rows still open, e.g. undelivered orders).
- PostgreSQL (`EXPLAIN (FORMAT JSON)`): a `Seq Scan`, or an index scan without an `Index Cond` (the
  whole index read in order) on an index that is not partial.
"""

from __future__ import annotations

import contextlib
import json
import re
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from piccolo.engine.base import Engine

from tests import sqlcount

# Tables whose rows accumulate with every day of work (the others hold the shop's set-up).
HISTORY_TABLES = frozenset(
    {
        "repair_order",
        "job",
        "customer",
        "vehicle",
        "clock_entry",
        "clock_event",
        "clock_correction",
        "attendance",
        "event",
        "idempotency_record",
        "staff_session",
        "promise_change",
        "finding",
        "photo",
        "qc_record",
        "survey",
        "walkaround",
    }
)


@dataclass(frozen=True)
class Statement:
    sql: str
    args: tuple[Any, ...]

    @property
    def explainable(self) -> bool:
        """Statements with a plan that reads tables (not PRAGMA, SAVEPOINT, advisory locks…)."""
        head = self.sql.lstrip("( \n\t").split(None, 1)[0].upper() if self.sql.strip() else ""
        return head in ("SELECT", "WITH", "UPDATE", "DELETE", "INSERT") and "pg_advisory" not in self.sql

    def short(self, width: int = 160) -> str:
        text = " ".join(self.sql.split())
        return text if len(text) <= width else text[: width - 1] + "…"


install = sqlcount.install  # one hook on the engine for both: tests/sqlcount.py


@contextlib.contextmanager
def capturing() -> Iterator[list[Statement]]:
    """The statements run inside the block, in order, with their values (the list fills as they run)."""
    seen: list[Statement] = []

    def record(engine: Engine, statement: Any) -> None:
        if isinstance(statement, str):  # DDL text: nothing bound
            seen.append(Statement(statement, ()))
        else:
            sql, values = statement.compile_string(engine_type=engine.engine_type)
            seen.append(Statement(sql, tuple(values)))

    with sqlcount.listening(record):
        yield seen


_FROM = re.compile(r'(?:FROM|JOIN|UPDATE|INTO)\s+"?(\w+)"?(?:\s+(?:AS\s+)?"([^"]+)")?', re.IGNORECASE)


def aliases(sql: str) -> dict[str, str]:
    """Alias → table for the tables a statement names (Piccolo joins as `"job" "job$repair_order"`)."""
    found: dict[str, str] = {}
    for table, alias in _FROM.findall(sql):
        found[table] = table
        if alias:
            found[alias] = table
    return found


# --- SQLite -----------------------------------------------------------------------------------------

_SCAN = re.compile(r"^SCAN (\S+)(?: USING (?:COVERING )?INDEX (\S+))?")


class SqlitePlans:
    """EXPLAIN QUERY PLAN on a read-only connection of its own to the app's file."""

    def __init__(self, path: str) -> None:
        self.connection = sqlite3.connect(f"file:{path}?mode=ro", uri=True, check_same_thread=False)
        self.partial = {
            name
            for name, sql in self.connection.execute(
                "SELECT name, sql FROM sqlite_master WHERE type = 'index'"
            )
            if sql and " WHERE " in sql.upper()
        }

    def close(self) -> None:
        self.connection.close()

    def plan(self, statement: Statement) -> list[str]:
        rows = self.connection.execute(f"EXPLAIN QUERY PLAN {statement.sql}", statement.args).fetchall()
        depth: dict[int, int] = {0: -1}
        lines = []
        for node, parent, _, detail in rows:
            depth[node] = depth.get(parent, -1) + 1
            lines.append("  " * depth[node] + detail)
        return lines

    def full_scans(self, statement: Statement, plan: list[str]) -> list[str]:
        names = aliases(statement.sql)
        scans = []
        for line in plan:
            match = _SCAN.match(line.strip())
            if not match:
                continue
            table = names.get(match.group(1), match.group(1))
            if table in HISTORY_TABLES and match.group(2) not in self.partial:
                scans.append(line.strip())
        return scans


# --- PostgreSQL -------------------------------------------------------------------------------------


class PostgresPlans:
    """EXPLAIN on an asyncpg connection of its own.

    `generic=True` asks for the plan PostgreSQL reuses for a prepared statement whatever the values
    (asyncpg prepares every statement; after five runs the server may switch to that plan), with
    sequential scans discouraged: "could an index serve this for any value?", the question a test
    on tiny tables can ask. Otherwise the plan for these values on the data as it is (the bench).
    """

    def __init__(self, connection: Any, generic: bool) -> None:
        self.connection = connection
        self.generic = generic
        self.partial: set[str] = set()

    @classmethod
    async def open(cls, url: str, generic: bool) -> PostgresPlans:
        import asyncpg

        plans = cls(await asyncpg.connect(url), generic)
        rows = await plans.connection.fetch(
            "SELECT indexname FROM pg_indexes WHERE schemaname = current_schema() AND indexdef LIKE '% WHERE %'"
        )
        plans.partial = {r["indexname"] for r in rows}
        if generic:
            await plans.connection.execute("SET enable_seqscan = off")
            await plans.connection.execute("SET plan_cache_mode = force_generic_plan")
        return plans

    async def close(self) -> None:
        await self.connection.close()

    async def plan(self, statement: Statement) -> dict[str, Any]:
        raw = None
        if self.generic and statement.args:
            import asyncpg

            # A generic plan does not depend on the values: NULLs stand in for them. A statement whose
            # parameter types the server cannot infer alone falls back to the plan for its values.
            nulls = ", ".join("NULL" for _ in statement.args)
            try:
                await self.connection.execute(f"PREPARE bayline_plan AS {statement.sql}")
            except asyncpg.PostgresError:
                pass
            else:
                try:
                    raw = await self.connection.fetchval(
                        f"EXPLAIN (FORMAT JSON) EXECUTE bayline_plan({nulls})"
                    )
                finally:  # a prepared statement outlives even a rolled-back transaction
                    await self.connection.execute("DEALLOCATE bayline_plan")
        if raw is None:
            raw = await self.connection.fetchval(f"EXPLAIN (FORMAT JSON) {statement.sql}", *statement.args)
        found: dict[str, Any] = (json.loads(raw) if isinstance(raw, str) else raw)[0]["Plan"]
        return found

    async def analysed(self, statement: Statement) -> dict[str, Any]:
        """The plan of a read for its values, run (EXPLAIN ANALYZE): what each step actually read."""
        assert self.reads(statement), "EXPLAIN ANALYZE runs the statement: reads only"
        raw = await self.connection.fetchval(
            f"EXPLAIN (ANALYZE, FORMAT JSON) {statement.sql}", *statement.args
        )
        found: dict[str, Any] = (json.loads(raw) if isinstance(raw, str) else raw)[0]["Plan"]
        return found

    @staticmethod
    def reads(statement: Statement) -> bool:
        """A statement that only reads (safe to run again for EXPLAIN ANALYZE)."""
        text = statement.sql.upper()
        return statement.explainable and not any(w in text for w in ("INSERT ", "UPDATE ", "DELETE "))

    def full_scans(self, plan: dict[str, Any]) -> list[str]:
        scans = []
        for node in nodes(plan):
            relation = node.get("Relation Name")
            kind = node["Node Type"]
            index = node.get("Index Name")
            if kind == "Seq Scan" and relation in HISTORY_TABLES:
                scans.append(f"Seq Scan on {relation}")
            elif (
                kind in ("Index Scan", "Index Only Scan")
                and relation in HISTORY_TABLES
                and "Index Cond" not in node
                and index not in self.partial
            ):
                scans.append(f"{kind} using {index} on {relation} (no Index Cond: the whole index)")
        return scans


def rows_read(plan: dict[str, Any]) -> dict[str, int]:
    """Rows of history tables an analysed plan (PostgresPlans.analysed) read, by table: every row a
    scan step returned or filtered out, in all its loops."""
    read: dict[str, int] = {}
    for node in nodes(plan):
        table = node.get("Relation Name")
        if table in HISTORY_TABLES and "Actual Rows" in node:
            seen = node["Actual Rows"] + node.get("Rows Removed by Filter", 0)
            seen += node.get("Rows Removed by Index Recheck", 0)
            read[table] = read.get(table, 0) + seen * node.get("Actual Loops", 1)
    return read


def nodes(plan: dict[str, Any]) -> Iterator[dict[str, Any]]:
    yield plan
    for child in plan.get("Plans", []):
        yield from nodes(child)


def lines(plan: dict[str, Any], depth: int = 0) -> list[str]:
    """A JSON plan as indented text (node, relation, index, condition, filter)."""
    text = plan["Node Type"]
    if plan.get("Index Name"):
        text += f" using {plan['Index Name']}"
    if plan.get("Relation Name"):
        text += f" on {plan['Relation Name']}"
        if plan.get("Alias") and plan["Alias"] != plan["Relation Name"]:
            text += f" {plan['Alias']}"
    for key in ("Index Cond", "Recheck Cond", "Filter", "Sort Key"):
        if key in plan:
            text += f"  [{key}: {plan[key]}]"
    out = ["  " * depth + text]
    for child in plan.get("Plans", []):
        out += lines(child, depth + 1)
    return out
