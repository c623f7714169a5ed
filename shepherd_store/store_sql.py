"""Statements on one `sqlite3` connection, below the store: waiting for another process's
lock by polling, fetching all the rows of a statement (text that is not UTF-8 included),
staging the rows of a read in a temporary table (DESIGN.md, "Short reads"), and how long a
statement held the database's lock.
"""

from __future__ import annotations

import contextlib
import sqlite3
import time
from collections.abc import Callable
from typing import Any, NamedTuple, TypeVar

BUSY_TIMEOUT_S = 5.0  # seconds a statement waits for another process's lock (as the Rust store)
_BEGIN_POLL_S = 0.0005  # how often a write waiting for the lock tries again
_SQLITE_BUSY = 5

_T = TypeVar("_T")


def polling(conn: sqlite3.Connection, timeout: float, step: Callable[[], _T]) -> _T:
    """Run `step` (statements on `conn` that can be tried again: taking the write lock, a
    read), trying again every half millisecond while the database is busy, for up to
    `timeout` seconds.

    SQLite's own busy handler backs off to 100 ms between tries. A service writing flat out
    in rollback-journal mode takes the lock again right after each commit and shuts readers
    out while it commits, leaving short gaps that those sparse tries kept missing: one edit
    in twenty, and background reads now and then, failed with "locked". The connection's
    store's connections have no SQLite busy handler at all (`busy_timeout` 0), so the
    uncontended path costs nothing extra.
    """
    if timeout <= 0:
        return step()  # no waiting at all (a window's GUI thread)
    deadline = time.monotonic() + timeout
    while True:
        try:
            return step()
        except sqlite3.OperationalError as exc:
            code = getattr(exc, "sqlite_errorcode", None)
            busy = isinstance(code, int) and code & 0xFF == _SQLITE_BUSY
            if not busy or time.monotonic() >= deadline:
                raise
        time.sleep(_BEGIN_POLL_S)


def fetch(conn: sqlite3.Connection, sql: str, params: tuple[Any, ...]) -> list[Any]:
    """All rows of one statement. Text that is not UTF-8 (another tool wrote bytes) fails the
    whole fetch in `sqlite3`; then the statement is rerun decoding with U+FFFD replacements,
    so one bad row shows as such instead of hiding the rest. Call with the lock held.

    The cursor is closed on every path: a statement left unfinished would keep its read
    transaction, and with it the database's shared lock, until it is garbage-collected."""
    try:
        return _all_rows(conn, sql, params)
    except sqlite3.OperationalError as exc:
        if "Could not decode to UTF-8" not in str(exc):
            raise
    conn.text_factory = _lenient_text
    try:
        return _all_rows(conn, sql, params)
    finally:
        conn.text_factory = str


def _all_rows(conn: sqlite3.Connection, sql: str, params: tuple[Any, ...]) -> list[Any]:
    cur = conn.execute(sql, params)
    try:
        return cur.fetchall()
    finally:
        cur.close()


def timed_fetch(conn: sqlite3.Connection, sql: str,
                params: tuple[Any, ...]) -> tuple[list[Any], float]:
    """All rows of one statement read directly, and the seconds the call took: an upper
    bound of the time it held the lock. Read row by row, the thread takes the GIL back
    between two steps *holding* the lock (so `SqliteStore` stages what it can)."""
    start = time.perf_counter()
    rows = fetch(conn, sql, params)
    return rows, time.perf_counter() - start


def timed_description(conn: sqlite3.Connection, sql: str,
                      params: tuple[Any, ...]) -> tuple[list[Any], float]:
    """The result columns of `sql` (a statement returning no row), and how long it ran."""
    start = time.perf_counter()
    cur = conn.execute(sql, params)
    try:
        return list(cur.description or ()), time.perf_counter() - start
    finally:
        cur.close()


_STAGING = "_shepherd_rows"  # temporary tables: temp._shepherd_rows<number of columns>
#: The temporary tables of the ranges read ahead (`BoundedReads.read_id_ranges`).
AHEAD = "_shepherd_ahead"
#: The row a staged statement adds after the rows of its SELECT: the time, by SQLite's clock
#: (the Unix epoch in whole milliseconds), when that SELECT had returned its last row. 'now'
#: is read once per step, when first asked: this arm is the step's last work (its argument
#: comes from a table, so it is not computed ahead with the constants).
_STEP_END = ("SELECT CAST(round((julianday(value) - 2440587.5) * 86400000.0) AS INTEGER)"
             "{nulls} FROM json_each('[\"now\"]')")


class Staged(NamedTuple):
    """When `stage` began (`time.time()`) and how long the whole call took (seconds)."""

    started: float
    seconds: float


def staging_table(conn: sqlite3.Connection, columns: int, prefix: str = _STAGING) -> str:
    """This connection's empty temporary table of `columns` untyped columns (values keep
    their type and bytes), created at its first use. A temporary table lives in the
    connection's own memory: writing it takes no lock on the database and works on a
    read-only connection. (`prefix`: another table, e.g. `AHEAD`'s, for rows staged while
    this connection runs other statements.)"""
    name = f"temp.{prefix}{columns}"
    try:
        conn.execute(f"DELETE FROM {name}")
    except sqlite3.OperationalError as exc:
        if "no such table" not in str(exc):
            raise
        with contextlib.suppress(sqlite3.Error):  # (refused inside a transaction: then a file)
            conn.execute("PRAGMA temp_store = MEMORY")
        cols = ", ".join(f"c{i}" for i in range(columns))
        conn.execute(f"CREATE TEMP TABLE IF NOT EXISTS {prefix}{columns} ({cols})")
    return name


def stage(conn: sqlite3.Connection, table: str, sql: str, params: tuple[Any, ...],
          columns: int) -> Staged:
    """Copy the rows of the SELECT `sql` (of `columns` columns) into `table`, in their
    order, in one step: the only time the database is locked. Then one row more, the
    moment the SELECT was done by SQLite's clock (`unstage` takes it off; `lock_held`
    makes it seconds). Can be tried again when busy (a failed statement inserts nothing).
    """
    staged = f"INSERT INTO {table} SELECT * FROM ({sql}) UNION ALL " + \
        _STEP_END.format(nulls=", NULL" * (columns - 1))
    start = time.perf_counter()
    started = time.time()
    conn.execute(staged, params).close()
    return Staged(started, time.perf_counter() - start)


def unstage(conn: sqlite3.Connection, table: str, columns: int) -> tuple[list[Any], object]:
    """The rows `stage` copied, in order, and `table` emptied (no lock on the database);
    and the time its SELECT was done (the last row `stage` added)."""
    cols = ", ".join(f"c{i}" for i in range(columns))
    rows = fetch(conn, f"SELECT {cols} FROM {table} ORDER BY rowid", ())
    with contextlib.suppress(sqlite3.Error):  # only frees memory: the next use empties it
        conn.execute(f"DELETE FROM {table}")
    end = rows.pop()[0] if rows else None
    return rows, end


def lock_held(staged: Staged, done_ms: object) -> float:
    """An upper bound of the seconds a staged statement held the database's lock: from
    just before `stage` ran it (`Staged.started`) until SQLite's clock read `done_ms` (see
    `_STEP_END`), plus that clock's millisecond.

    The lock is taken inside the statement's step and released at its end, in the same
    step, before the thread takes the GIL back: the time `execute` then waits for the GIL
    (other threads busy in Python), and the statement's reset after it, come after the
    lock was released and are left out. (With the window's threads busy, a statement
    that held the lock 5 ms, by strace, took 427 ms to return.) A wait for the GIL before
    the step (`sqlite3` lets go of it to reset the statement first) comes before the lock
    and is counted: it can only make the bound higher. So is any time the step spends
    waiting for the processor or the disk.

    After `done_ms` the lock is held only while that one row goes into a table in memory
    and the read transaction ends: microseconds, unless the thread is preempted right
    there. Timed by the kernel's lock events in four runs of the window's Recovery scan
    beside a writer, 9 of 8,253 statements held it past this bound, by 1.0-5.2 ms (the
    three whose scheduling was traced too had been preempted just after their SELECT).

    Falls back to the whole call (`staged.seconds`, an upper bound too) when SQLite's time
    cannot be used: missing, in whole seconds (a build without a millisecond clock), or
    outside the call (the wall clock was set meanwhile)."""
    if not isinstance(done_ms, int) or done_ms % 1000 == 0:
        return staged.seconds
    bound = (done_ms + 1) / 1000 - staged.started
    return bound if 0 <= bound <= staged.seconds else staged.seconds


def _lenient_text(data: bytes) -> str:
    return data.decode("utf-8", "replace")


def rollback(conn: sqlite3.Connection) -> None:
    with contextlib.suppress(sqlite3.Error):
        conn.execute("ROLLBACK")
