"""SQLite for a busy shop: long-lived reader connections, and one writer that commits commands in groups.

Piccolo's SQLiteEngine opens a new aiosqlite connection, with a new thread, for every query outside a
transaction, and hands each statement inside one to that thread four times (a PRAGMA, execute,
fetch, close). Profiled, that was about 78 % of the board list's CPU (research/performance-notes.md
§3 found the same for a one-row read). Here:

- Reads outside a transaction run on a few long-lived read-only connections, each owned by a thread
  that stays: one hand-off per statement, no connection set-up.
- Every write of this process goes through one writer connection. Commands queue for it in arrival
  order and run one at a time, each inside a SAVEPOINT of a shared `BEGIN IMMEDIATE` transaction,
  which commits when no command is waiting (or the group is full or old): one fsync
  (synchronous=FULL) makes the whole group durable. A command whose handler raises is rolled back
  to its savepoint alone. No command leaves `command()` before its group's COMMIT returned, so a
  reply, a replay or a refusal is never based on a change that could still be lost.
- A read the caller marks as short (`short_reads()`: by an index, a few rows, such as a request's
  session) runs on the event loop's thread, on a read-only connection of its own: the hand-off to
  a reader thread costs several times the read itself. It never waits for a lock: a busy database
  (SQLite recovering a WAL) sends it to a reader thread instead.
- Statements inside the group transaction run on the event loop's thread: this connection already
  holds the write lock, and reading in WAL mode never waits for a lock, so they never sleep in
  SQLite's busy handler. Only BEGIN IMMEDIATE (which may wait for another process) and COMMIT (the
  fsync) go to the writer's thread.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import queue
import sqlite3
import threading
import time
import weakref
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

from piccolo.engine.sqlite import SQLiteEngine, dict_factory
from piccolo.querystring import QueryString

from api.command_groups import Group, GroupLost, retrieve, settle

READERS = 3  # two cores: more threads only wait for the GIL
GROUP_MAX = 16  # commands per COMMIT at most
GROUP_MAX_AGE = 0.02  # seconds: a group stops taking new commands and commits after this
SAVEPOINT = "bayline_command"

_short_reads: contextvars.ContextVar[bool] = contextvars.ContextVar("bayline_short_reads", default=False)


@contextlib.contextmanager
def short_reads() -> Iterator[None]:
    """Reads in this block are short (by an index, a few rows): they may run on the event loop's thread."""
    token = _short_reads.set(True)
    try:
        yield
    finally:
        _short_reads.reset(token)


def _connect(kwargs: dict[str, Any], read_only: bool) -> sqlite3.Connection:
    connection = sqlite3.connect(**kwargs, check_same_thread=False)
    connection.row_factory = dict_factory
    connection.execute("PRAGMA foreign_keys = 1")
    # Per connection: WAL is persistent in the file, synchronous is not.
    connection.execute("PRAGMA synchronous = FULL")
    if read_only:
        # Writes belong to the writer: one that slipped onto a reader would fight it for the lock.
        connection.execute("PRAGMA query_only = 1")
    return connection


def _fetch(connection: sqlite3.Connection, sql: str, args: Any) -> list[dict[str, Any]]:
    cursor = connection.execute(sql, args)
    try:
        return cursor.fetchall()
    finally:
        cursor.close()


class _Threads:
    """Threads that each own one connection and take jobs from one queue (one thread: jobs in order).

    The connections are opened by the caller, up front: a few milliseconds once per process, and no
    read ever pays for opening one (nor does a burst of reads find a thread still without one)."""

    def __init__(self, name: str, connections: list[sqlite3.Connection]) -> None:
        self._jobs: queue.SimpleQueue[tuple[Any, ...] | None] = queue.SimpleQueue()
        self._closed = False
        self._threads = [
            threading.Thread(target=self._serve, args=(connection,), name=f"{name}-{n}", daemon=True)
            for n, connection in enumerate(connections)
        ]
        for thread in self._threads:
            thread.start()

    def submit(
        self, fn: Callable[..., Any], *args: Any, future: asyncio.Future[Any] | None = None
    ) -> asyncio.Future[Any]:
        """Queue `fn(connection, *args)`; its result (or error) lands in the returned future."""
        if self._closed:
            raise RuntimeError("the database connections are closed")
        loop = asyncio.get_running_loop()
        if future is None:
            future = loop.create_future()
        self._jobs.put((loop, future, fn, args))
        return future

    def _serve(self, connection: sqlite3.Connection) -> None:
        try:
            while (job := self._jobs.get()) is not None:
                loop, future, fn, args = job
                try:
                    result, error = fn(connection, *args), None
                except BaseException as exc:  # noqa: BLE001 - handed to the task that waits for it
                    result, error = None, exc
                with contextlib.suppress(RuntimeError):  # that loop is closed: nobody waits any more
                    loop.call_soon_threadsafe(settle, future, result, error)
        finally:
            connection.close()

    def close(self) -> None:
        self._closed = True
        for _ in self._threads:
            self._jobs.put(None)  # after the jobs already queued


class CommandTransaction:
    """What Piccolo sees as the current transaction while a command runs in a group.

    A nested `engine.transaction()` inside a command joins it (Piccolo returns the outer one).
    """

    def __init__(self, writer: _Writer) -> None:
        self.writer = writer


def _begin(connection: sqlite3.Connection) -> None:
    # Already open: a BEGIN whose command was cancelled while it waited went through; adopt it.
    if not connection.in_transaction:
        connection.execute("BEGIN IMMEDIATE")


def _commit_if_open(connection: sqlite3.Connection) -> None:
    if connection.in_transaction:
        _commit(connection)


def _commit(connection: sqlite3.Connection) -> None:
    try:
        connection.execute("COMMIT")
    except BaseException:
        if connection.in_transaction:  # e.g. busy: never leave it open under the next group
            connection.execute("ROLLBACK")
        raise


class _Writer:
    """This event loop's writer: its connection, the queue of commands, the open group."""

    def __init__(self, kwargs: dict[str, Any]) -> None:
        self.connection = _connect(kwargs, read_only=False)
        self.thread = _Threads("bayline-sqlite-writer", [self.connection])
        self.lock = asyncio.Lock()  # fair: commands run in arrival order
        self.waiting = 0
        self.group: Group | None = None

    def run(self, sql: str, args: Any) -> list[dict[str, Any]]:
        """A statement inside the group (on the loop's thread: see the module's docstring)."""
        if not self.connection.in_transaction:
            # SQLite dropped the group transaction under an earlier statement (an I/O error, a full
            # disk): this one would run on its own and commit at once, outside any group.
            raise GroupLost("The database dropped the transaction; retry.")
        return _fetch(self.connection, sql, args)

    def roll_back_command(self) -> bool:
        """Undo the current command only. False when that was impossible (SQLite had dropped the whole
        transaction, after an I/O error or a full disk): then all of the group is undone."""
        try:
            if self.connection.in_transaction:
                self.connection.execute(f"ROLLBACK TO {SAVEPOINT}")
                self.connection.execute(f"RELEASE {SAVEPOINT}")
                return True
        except sqlite3.Error:
            # Never commit what is left: it would include part of the command that failed.
            with contextlib.suppress(sqlite3.Error):
                self.connection.execute("ROLLBACK")
        return False

    def keep_command(self) -> bool:
        """End the current command's savepoint, keeping its work in the group. False when the group
        transaction is gone (SQLite dropped it under a statement whose error the command swallowed):
        what the command wrote after that was not part of the group, so nothing of it may be promised."""
        try:
            if self.connection.in_transaction:
                self.connection.execute(f"RELEASE {SAVEPOINT}")
                return True
        except sqlite3.Error:
            with contextlib.suppress(sqlite3.Error):
                self.connection.execute("ROLLBACK")
        return False

    def close(self) -> None:
        self.thread.close()  # the thread closes the connection after any queued COMMIT


class BaylineSQLite(SQLiteEngine):
    """SQLite with the durability we promise: WAL, synchronous=FULL, a busy timeout, IMMEDIATE writes;
    reads on long-lived connections and commands committed in groups (see the module's docstring)."""

    def __init__(self, path: str, **kwargs: Any) -> None:
        super().__init__(path=path, **kwargs)
        self._readers: _Threads | None = None
        self._writers: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _Writer] = (
            weakref.WeakKeyDictionary()
        )
        self._loop_readers: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, sqlite3.Connection] = (
            weakref.WeakKeyDictionary()
        )

    async def get_connection(self) -> Any:
        """A new aiosqlite connection (Piccolo's own transactions: migrations, tooling)."""
        connection = await super().get_connection()
        await connection.execute("PRAGMA synchronous = FULL")
        return connection

    # --- set-up -----------------------------------------------------------------------------------

    async def prepare(self) -> None:
        """WAL is a property of the file, set once, outside any transaction."""
        await super().run_ddl("PRAGMA journal_mode = WAL")

    async def aclose(self) -> None:
        """Stop the readers and this loop's writer (a later query starts them again)."""
        if self._readers is not None:
            self._readers.close()
            self._readers = None
        loop_reader = self._loop_readers.pop(asyncio.get_running_loop(), None)
        if loop_reader is not None:
            loop_reader.close()
        writer = self._writers.pop(asyncio.get_running_loop(), None)
        if writer is not None:
            async with writer.lock:  # after the commands already queued
                if writer.group is not None:
                    await self._commit_group(writer)
            writer.close()

    def _reader_threads(self) -> _Threads:
        if self._readers is None:
            connections = [_connect(self.connection_kwargs, read_only=True) for _ in range(READERS)]
            self._readers = _Threads("bayline-sqlite-reader", connections)
        return self._readers

    def _loop_reader(self) -> sqlite3.Connection:
        loop = asyncio.get_running_loop()
        connection = self._loop_readers.get(loop)
        if connection is None:
            # One per event loop (a connection is used by one thread at a time).
            connection = self._loop_readers[loop] = _connect(self.connection_kwargs, read_only=True)
            connection.execute("PRAGMA busy_timeout = 0")  # never sleep on the loop: see short_reads
        return connection

    def _writer(self) -> _Writer:
        loop = asyncio.get_running_loop()
        writer = self._writers.get(loop)
        if writer is None:
            # One per event loop: its lock and futures belong to that loop (a server and the test
            # suite run one loop; a second loop in another thread gets a connection of its own).
            writer = self._writers[loop] = _Writer(self.connection_kwargs)
        return writer

    # --- commands ---------------------------------------------------------------------------------

    @contextlib.asynccontextmanager
    async def command(self) -> AsyncIterator[None]:
        """Run the block as one command of a group (see the module's docstring)."""
        current = self.current_transaction.get()
        if isinstance(current, CommandTransaction):
            yield  # already inside a command of this loop: part of it (its lock is held)
            return
        writer = self._writer()
        writer.waiting += 1
        try:
            await writer.lock.acquire()
        except BaseException:
            writer.waiting -= 1
            # The command the group was kept open for gave up waiting: commit it without that one.
            if writer.group is not None and writer.waiting == 0 and not writer.lock.locked():
                self._submit_commit(writer, writer.group)
            raise
        writer.waiting -= 1
        group: Group | None = None
        failure: BaseException | None = None
        try:
            group = writer.group
            if group is None:
                begin = writer.thread.submit(_begin)
                try:
                    await asyncio.shield(begin)
                except asyncio.CancelledError:
                    # The BEGIN still runs: the next command adopts the transaction, or, when
                    # none comes, it is committed empty so the write lock is never left held.
                    begin.add_done_callback(lambda _: self._end_orphan(writer))
                    raise
                group = writer.group = Group(asyncio.get_running_loop())
            group.size += 1
            writer.connection.execute(f"SAVEPOINT {SAVEPOINT}")
            # Piccolo types this as its own class; it only looks for one (a nested transaction() joins it).
            token = self.current_transaction.set(CommandTransaction(writer))  # type: ignore[arg-type]
            try:
                yield
            except BaseException as exc:
                failure = exc
                if not writer.roll_back_command():
                    self._lose(writer, group)
            else:
                if not writer.keep_command():
                    self._lose(writer, group)
            finally:
                self.current_transaction.reset(token)
        finally:
            if group is not None and writer.group is group and self._group_full(writer, group):
                self._submit_commit(writer, group)
            writer.lock.release()
        assert group is not None
        if isinstance(failure, asyncio.CancelledError):
            raise failure  # nobody waits for this one's answer: it need not wait for the COMMIT
        # Shielded: a cancelled command must not cancel the group's outcome for the others. When the
        # group is lost, every command of it fails with it, a refused one too: its refusal may rest
        # on work of an earlier command of the group that is gone now (a retry is evaluated afresh).
        try:
            await asyncio.shield(group.done)
        except Exception as lost:
            if failure is not None:
                raise lost from failure  # e.g. the full disk that dropped the transaction
            raise
        if failure is not None:
            raise failure

    @staticmethod
    def _lose(writer: _Writer, group: Group) -> None:
        """Every command of the group is gone: none of them was answered yet (they wait for `done`)."""
        if writer.group is group:
            writer.group = None
        settle(group.done, None, GroupLost("The database dropped the transaction; retry."))

    @staticmethod
    def _group_full(writer: _Writer, group: Group) -> bool:
        """Commit now when nobody waits to join, or the group has grown big or old enough."""
        return (
            writer.waiting == 0 or group.size >= GROUP_MAX or time.monotonic() - group.opened >= GROUP_MAX_AGE
        )

    @staticmethod
    def _submit_commit(writer: _Writer, group: Group) -> None:
        # Queued before the lock is released: the next group's BEGIN runs after this COMMIT.
        writer.group = None
        writer.thread.submit(_commit, future=group.done)

    @staticmethod
    def _end_orphan(writer: _Writer) -> None:
        if writer.group is None and not writer.lock.locked():
            writer.thread.submit(_commit_if_open).add_done_callback(retrieve)

    async def _commit_group(self, writer: _Writer) -> None:
        group = writer.group
        assert group is not None
        self._submit_commit(writer, group)
        with contextlib.suppress(Exception):
            await group.done

    # --- statements -------------------------------------------------------------------------------

    async def run_querystring(self, querystring: QueryString, in_pool: bool = False) -> Any:
        current = self.current_transaction.get()
        if current is not None and not isinstance(current, CommandTransaction):
            return await super().run_querystring(querystring, in_pool=in_pool)  # Piccolo's own
        query, args = querystring.compile_string(engine_type=self.engine_type)
        if self.log_queries:
            self.print_query(query_id=self.get_query_id(), query=str(querystring))
        if isinstance(current, CommandTransaction):
            return current.writer.run(query, args)
        if _reads_only(query):
            if _short_reads.get():
                try:
                    return _fetch(self._loop_reader(), query, args)
                except sqlite3.OperationalError as exc:
                    if exc.sqlite_errorcode & 0xFF != sqlite3.SQLITE_BUSY:
                        raise
            return await self._reader_threads().submit(_fetch, query, args)
        # A write outside a command (a session's last-seen time, a sign-in counter): queued with
        # the commands, so it never waits in SQLite's busy handler behind a group.
        async with self.command():
            return self._writer().run(query, args)

    async def run_ddl(self, ddl: str, in_pool: bool = False) -> Any:
        current = self.current_transaction.get()
        if isinstance(current, CommandTransaction):
            return current.writer.run(ddl, [])
        # Outside a command: Piccolo's way, on a connection of its own (PRAGMA, VACUUM and the test
        # suite's wipes must not run inside a group transaction).
        return await super().run_ddl(ddl, in_pool=in_pool)


def _reads_only(sql: str) -> bool:
    return sql.lstrip("( \n\t").upper().startswith("SELECT")
