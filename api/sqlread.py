"""Hand-written reads for the screens' busiest requests: rows as dicts, the same on SQLite and PostgreSQL.

Piccolo builds a query's SQL anew on every call; for the board, one order, my jobs and the status
link that building was most of a request's CPU (a profile of the board: 0.84 s of 1.3 s), and each
of its queries is one statement. These reads are written once as SQL with `{}` placeholders, sent
through the engine like any query (so transactions, the SQLite readers and the statement counting in
tests/sqlcount.py see them), and several narrow queries become one statement with `union`.

Values come back as Piccolo gives them: on SQLite the column's declared type picks the conversion
(TIMESTAMPTZ → aware datetime, BOOLEAN → bool), on PostgreSQL asyncpg does it. A column of a
UNION ALL takes its declared type from the first SELECT only, so `union` converts its slots itself.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import Enum
from typing import Any

from piccolo.columns import BigInt, BigSerial, ForeignKey, Integer, Serial
from piccolo.querystring import QueryString
from piccolo.table import Table

from api import db
from api.tables import Shop


async def rows(sql: str, *args: Any) -> list[dict[str, Any]]:
    """The rows of one statement (`{}` marks each value in `sql`), as dicts."""
    found = await _fetch(sql, args)
    if found and not isinstance(found[0], dict):
        return [dict(r.items()) for r in found]  # asyncpg's Records
    return found


async def _fetch(sql: str, args: Sequence[Any]) -> list[Any]:
    """The rows as the engine gives them: dicts on SQLite, asyncpg Records (read by key) on PostgreSQL."""
    # On SQLite these run on the event loop's thread (db.short_reads): each reads today's work by an
    # index, a few dozen rows at most, and the hand-off to a reader thread cost about 45 µs of CPU
    # per statement, more than most of these reads themselves.
    with db.short_reads():
        return list(await _engine().run_querystring(_Statement(sql, args)) or [])


def _engine() -> Any:
    return Shop._meta.db  # the engine every table uses (piccolo_conf's DB), found once


class _Statement(QueryString):
    """A statement whose SQL is compiled once per text: Piccolo parses a QueryString's template on
    every call (55 µs for "my jobs"' UNION ALL). Logged and counted like any (its str() is Piccolo's)."""

    def __init__(self, template: str, args: Sequence[Any]) -> None:
        super().__init__(template)
        self.args = list(args)

    def compile_string(self, engine_type: str = "postgres") -> tuple[str, list[Any]]:
        return _compiled(self.template, engine_type), list(self.args)


@functools.lru_cache(maxsize=512)
def _compiled(template: str, engine_type: str) -> str:
    placeholders = [None] * template.count("{}")
    return QueryString(template, *placeholders).compile_string(engine_type=engine_type)[0]


def marks(values: Sequence[Any]) -> str:
    """`{}, {}, …`: one placeholder per value, for `IN (…)` (never empty: the caller skips that)."""
    return ", ".join("{}" for _ in values)


_INTEGERS = (Integer, BigInt, Serial, BigSerial, ForeignKey)


def column(table: type[Table], alias: str, name: str, as_name: str | None = None) -> str:
    """One column of `table` for a select list, named `as_name` (default: its own name).

    An integer column is read as `+col`: SQLite then returns the stored int as it is. By the
    column's declared type it would go through Piccolo's converter (int → text → Decimal → int),
    which was a third of the board's CPU. `+` is a no-op on integers on both databases.
    """
    found = table._meta.get_column_by_name(name)
    expression = f'{alias}."{found._meta.db_column_name}"'
    if isinstance(found, _INTEGERS):
        expression = f"+{expression}"
    return f'{expression} AS "{as_name or found._meta.name}"'


def columns(table: type[Table], alias: str, names: Sequence[str] | None = None) -> str:
    """Columns of `table` (default: all), named as Piccolo's `select()` names them."""
    return ", ".join(
        column(table, alias, name) for name in names or [c._meta.name for c in table._meta.columns]
    )


class Kind(Enum):
    """What a union slot holds: the same kind in every SELECT, so both databases accept the union.
    The value names the slots (i0, t0, …); `null` fills a slot a SELECT does not use."""

    INT = "i"
    TIME = "t"
    TEXT = "s"
    BOOL = "b"

    @property
    def null(self) -> str:
        # Typed: PostgreSQL resolves `a UNION ALL b UNION ALL c` pair by pair, and a slot that is a
        # bare NULL in both a and b would become text before c's integers arrive.
        return f"CAST(NULL AS {_SQL_TYPES[self]})"


_SQL_TYPES = {Kind.INT: "INTEGER", Kind.TIME: "TIMESTAMPTZ", Kind.TEXT: "TEXT", Kind.BOOL: "BOOLEAN"}


@dataclass(frozen=True)
class Branch:
    """One SELECT of a `union`: `fields` are (name, kind, SQL expression), the first ("id", INT, …);
    `source` is the FROM … WHERE … part, with `args` for its placeholders. Keep `fields` a module
    constant: it is part of the key the statement is built and cached under."""

    tag: str
    fields: tuple[tuple[str, Kind, str], ...]
    source: str
    args: tuple[Any, ...] = ()


def _time(value: Any) -> datetime | None:
    # As Piccolo's own SQLite converter: stored in UTC as text (str() of an aware datetime).
    if value is None or isinstance(value, datetime):
        return value
    text = value.decode() if isinstance(value, bytes) else str(value)
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def _bool(value: Any) -> bool | None:
    # SQLite keeps 0/1 (Piccolo's converter, when it applied, gave a bool already).
    return None if value is None else bool(value)


# Integers (read as `+col`) and text come back as they are on both databases.
_CONVERT = {Kind.INT: None, Kind.TIME: _time, Kind.TEXT: None, Kind.BOOL: _bool}


def _slot(expression: str | None, kind: Kind) -> str:
    if expression is None:
        return kind.null
    return f"+{expression}" if kind is Kind.INT else expression  # as in `column`: no converter


Layout = tuple[tuple[str, tuple[tuple[str, Kind, str], ...], str], ...]  # (tag, fields, source) each


@functools.lru_cache(maxsize=256)
def _layout(branches: Layout) -> tuple[str, dict[str, list[tuple[str, Any, str]]]]:
    """The UNION ALL for these branches, and per tag how to read a row back: (name, convert, slot).

    The n-th field of a kind goes to slot kind+n (i0, i1, …, t0, …); a branch without it there
    selects a typed NULL. Built once per shape of query (IN lists make a few)."""
    laid: dict[str, list[tuple[str, Kind, str, str]]] = {}
    width: dict[str, Kind] = {}
    for tag, fields, _ in branches:
        if fields[0][:2] != ("id", Kind.INT):
            raise ValueError(f"{tag}: a branch's first field is its id (the rows are ordered by it)")
        seen: dict[Kind, int] = {}
        laid[tag] = []
        for name, kind, expression in fields:
            n = seen[kind] = seen.get(kind, -1) + 1
            laid[tag].append((name, kind, expression, f"{kind.value}{n}"))
            width[f"{kind.value}{n}"] = kind
    order = sorted(width, key=lambda slot: (slot[0], int(slot[1:])))
    selects = []
    for tag, _, source in branches:
        given = {slot: expression for _, _, expression, slot in laid[tag]}
        parts = [f"'{tag}' AS tag"] + [f"{_slot(given.get(slot), width[slot])} AS {slot}" for slot in order]
        selects.append(f"SELECT {', '.join(parts)} {source}")
    # The id of every branch is its first INT field, slot i0: tag then id orders each branch's rows.
    sql = " UNION ALL ".join(selects) + " ORDER BY tag, i0"
    readers = {
        tag: [(name, _CONVERT[kind], slot) for name, kind, _, slot in fields] for tag, fields in laid.items()
    }
    return sql, readers


async def union(*branches: Branch) -> dict[str, list[dict[str, Any]]]:
    """Several narrow SELECTs as one statement (UNION ALL): each branch's rows by tag, in id order.

    Each row is a dict with that branch's field names, in their order."""
    out: dict[str, list[dict[str, Any]]] = {b.tag: [] for b in branches}
    if not branches:
        return out
    sql, readers = _layout(tuple((b.tag, b.fields, b.source) for b in branches))
    found = await _fetch(sql, [a for b in branches for a in b.args])
    for row in found:
        tag = row["tag"]
        out[tag].append(
            {name: convert(row[slot]) if convert else row[slot] for name, convert, slot in readers[tag]}
        )
    return out
