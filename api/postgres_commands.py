"""PostgreSQL commands committed in groups: the same model as SQLite's writer (api/sqlite_engine.py).

Commands must run one at a time (every use case reads, asks the rules, then writes; event `seq`
values must become visible in order), so on PostgreSQL each took a transaction-scoped advisory lock
and committed alone, with the lock held through its COMMIT: one WAL flush per command, in turn.
Measured on this machine, a clock tap's transaction spent about half its locked time in that flush.

Here each process has one writer connection per event loop. Commands queue for it in arrival order
and run one at a time, each inside a SAVEPOINT of a shared transaction that begins with the command
lock (`BEGIN; SELECT pg_advisory_xact_lock(…)`: other processes' groups wait for it) and commits when
no command is waiting (or the group is full or old): one flush makes the whole group durable. A
command whose handler raises is rolled back to its savepoint alone. Savepoints are not released:
each command's SAVEPOINT (of the same name) nests in the previous one, so ROLLBACK TO undoes only
the latest command, and no round trip is spent on RELEASE (a group nests at most GROUP_MAX deep,
well within the subtransactions PostgreSQL keeps in memory). The first command's SAVEPOINT goes in
the group's BEGIN message: a command alone in its group costs the round trips of a plain
transaction. No command leaves `command()`
before its group's COMMIT returned, so a reply, a replay or a refusal is never based on a change
that could still be lost; when the group is lost, every command of it fails with it.

When the writer connection is in doubt (a control statement failed, or was cancelled half-way) it is
terminated, not reused: the server then rolls its transaction back and frees the lock, and the group
is lost. The next command opens a new connection.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import weakref
from collections.abc import AsyncIterator
from typing import Any

from piccolo.engine.postgres import PostgresEngine

from api.command_groups import Group, GroupLost, settle

GROUP_MAX = 16  # commands per COMMIT at most
GROUP_MAX_AGE = 0.02  # seconds: a group stops taking new commands and commits after this
SAVEPOINT = "bayline_command"
# One lock id for every command: groups of all processes commit in the order they take `seq`.
COMMAND_LOCK_ID = 0x0BA71E
# BEGIN and the lock in one message: the lock is how a group's transaction begins here, as BEGIN
# IMMEDIATE is SQLite's (tests/sqlcount.py counts neither).
_BEGIN_LOCKED = f"BEGIN; SELECT pg_advisory_xact_lock({COMMAND_LOCK_ID})"


class _InGroup:
    """The writer's connection as a command's statements see it: each first checks that the group's
    transaction is still open. A statement that ended it (a stray COMMIT or ROLLBACK) would leave
    the rest of the command to run on its own, each statement committed at once, outside any group."""

    __slots__ = ("_connection",)

    def __init__(self, connection: Any) -> None:
        self._connection = connection

    def _check(self) -> None:
        if not self._connection.is_in_transaction():
            raise GroupLost("The database dropped the transaction; retry.")

    async def fetch(self, query: str, *args: Any) -> Any:
        self._check()
        return await self._connection.fetch(query, *args)

    async def execute(self, query: str, *args: Any) -> Any:
        self._check()
        return await self._connection.execute(query, *args)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._connection, name)


class CommandTransaction:
    """What Piccolo sees as the current transaction during a command: its statements go to the
    writer's connection, and a nested `engine.transaction()` joins it (Piccolo reads `.connection`)."""

    __slots__ = ("connection",)

    def __init__(self, connection: Any) -> None:
        self.connection = _InGroup(connection)


class _Writer:
    """This event loop's writer: its connection, the queue of commands, the open group."""

    def __init__(self, engine: PostgresEngine) -> None:
        self.engine = engine
        self.connection: Any = None
        self.lock = asyncio.Lock()  # fair: commands run in arrival order
        self.waiting = 0
        self.group: Group | None = None
        self.committing: asyncio.Task[None] | None = None

    def drop(self) -> None:
        """The connection's state is unknown: terminate it. The server rolls its transaction back
        (and frees the lock), so the open group, if any, is lost."""
        if self.connection is not None:
            self.connection.terminate()
            self.connection = None
        if self.group is not None:
            group, self.group = self.group, None
            settle(group.done, None, GroupLost("The database dropped the transaction; retry."))

    async def begin(self) -> Group:
        if self.committing is not None and not self.committing.done():
            # The previous group's COMMIT is on this connection: the new group begins after it
            # (its outcome is its own group's; waiting neither raises it nor cancels it).
            await asyncio.wait({self.committing})
        try:
            if self.connection is None or self.connection.is_closed():
                self.connection = await self.engine.get_new_connection()
            # The first command's savepoint in the same message: one round trip.
            await self.connection.execute(f"{_BEGIN_LOCKED}; SAVEPOINT {SAVEPOINT}")
        except BaseException:
            self.drop()  # e.g. cancelled while another process's group held the lock
            raise
        self.group = Group(asyncio.get_running_loop())
        return self.group

    async def control(self, sql: str) -> None:
        """SAVEPOINT, RELEASE, ROLLBACK TO: when one fails, the connection is dropped with the group."""
        try:
            await self.connection.execute(sql)
        except Exception as exc:
            self.drop()
            raise GroupLost("The database dropped the transaction; retry.") from exc
        except BaseException:
            self.drop()
            raise

    def full(self, group: Group) -> bool:
        """Commit now when nobody waits to join, or the group has grown big or old enough."""
        return (
            self.waiting == 0 or group.size >= GROUP_MAX or time.monotonic() - group.opened >= GROUP_MAX_AGE
        )

    def commit_soon(self, group: Group) -> None:
        """COMMIT in a task of its own: no command's cancellation may cancel the others' outcome."""
        self.group = None
        self.committing = asyncio.get_running_loop().create_task(self._commit(group))

    async def _commit(self, group: Group) -> None:
        try:
            await self.connection.execute("COMMIT")
        except BaseException as exc:
            # Whether it committed is unknown: the commands fail, a retry with its key replays it
            # if it did.
            self.drop()
            lost = exc if isinstance(exc, Exception) else GroupLost("The COMMIT was cut short.")
            settle(group.done, None, lost)
            if not isinstance(exc, Exception):
                raise
        else:
            settle(group.done, None, None)


_writers: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _Writer] = weakref.WeakKeyDictionary()


def _writer(engine: PostgresEngine) -> _Writer:
    loop = asyncio.get_running_loop()
    writer = _writers.get(loop)
    if writer is None or writer.engine is not engine:
        # One per event loop: its lock and futures belong to that loop.
        writer = _writers[loop] = _Writer(engine)
    return writer


@contextlib.asynccontextmanager
async def command(engine: PostgresEngine) -> AsyncIterator[None]:
    """Run the block as one command of a group (see the module's docstring)."""
    if engine.current_transaction.get() is not None:
        yield  # already inside one (a command calling a command): part of it
        return
    writer = _writer(engine)
    writer.waiting += 1
    try:
        await writer.lock.acquire()
    except BaseException:
        writer.waiting -= 1
        # The command the group was kept open for gave up waiting: commit it without that one.
        if writer.group is not None and writer.waiting == 0 and not writer.lock.locked():
            writer.commit_soon(writer.group)
        raise
    writer.waiting -= 1
    group: Group | None = None
    failure: BaseException | None = None
    try:
        group = writer.group
        if group is None:
            group = await writer.begin()  # with this command's savepoint
        else:
            await writer.control(f"SAVEPOINT {SAVEPOINT}")
        group.size += 1
        # Piccolo types this as its own class; it only reads `.connection` (a nested transaction() joins it).
        token = engine.current_transaction.set(CommandTransaction(writer.connection))  # type: ignore[arg-type]
        try:
            yield
        except BaseException as exc:
            failure = exc
            # Also after a cancelled statement: asyncpg waits for the server to have cancelled it.
            await writer.control(f"ROLLBACK TO SAVEPOINT {SAVEPOINT}")
        finally:
            engine.current_transaction.reset(token)
    finally:
        if group is not None and writer.group is group and writer.full(group):
            writer.commit_soon(group)
        writer.lock.release()
    assert group is not None
    if isinstance(failure, asyncio.CancelledError):
        raise failure  # nobody waits for this one's answer: it need not wait for the COMMIT
    try:
        # Shielded: a cancelled command must not cancel the group's outcome for the others. When the
        # group is lost, every command of it fails with it, a refused one too: its refusal may rest
        # on work of an earlier command of the group that is gone now.
        await asyncio.shield(group.done)
    except Exception as lost:
        if failure is not None:
            raise lost from failure
        raise
    if failure is not None:
        raise failure


async def close(engine: PostgresEngine) -> None:
    """Commit this loop's open group and close its writer connection (a later command opens one)."""
    writer = _writers.pop(asyncio.get_running_loop(), None)
    if writer is None or writer.engine is not engine:
        return
    async with writer.lock:  # after the commands already queued
        if writer.group is not None:
            writer.commit_soon(writer.group)
        if writer.committing is not None and not writer.committing.done():
            await asyncio.wait({writer.committing})
        if writer.connection is not None:
            with contextlib.suppress(Exception):
                await writer.connection.close()
